/*
 * Unit tests of lib/admit.c: a worker's decision to serve or refuse a request by how long it
 * waited. Times are made up (ms since an arbitrary start), as nginx would stamp them.
 */
#include <stdio.h>

#include "../tap.h"
#include "admit.h"

/* nginx's $msec for ms since T0 (a day in 2026). */
#define T0 1796342400000LL
static const char *
stamp(long long ms)
{
	static char buf[4][32];
	static int n;
	char *b = buf[n++ % 4];

	snprintf(b, sizeof(buf[0]), "%lld.%03lld", (T0 + ms) / 1000, (T0 + ms) % 1000);
	return b;
}

/* A worker with the defaults: 50 ms once a queue stands, 500 ms for a burst. */
static struct gl_admit
worker(void)
{
	return (struct gl_admit){ .wait_ms = 50, .burst_ms = 500 };
}

/* take: the request handed to the pools at queued, taken up at now, served (busy for
 * service ms) unless refused (a refusal frees the worker at once). */
static bool
take(struct gl_admit *a, long long queued, long long now, long long service)
{
	bool ok = gl_admit_take(a, stamp(queued), "0.000", T0 + now);

	gl_admit_free(a, T0 + now + (ok ? service : 0));
	return ok;
}

int
main(void)
{
	struct gl_admit a = worker();

	/* Not stamped (service-to-service calls, health checks): always served. */
	ok(gl_admit_take(&a, NULL, NULL, T0 + 100000), "a request without a stamp is served");
	for (const char *bad[] = { "", "x", "12.", ".5", "1796342400.1x", "17963424001234567.0",
	                           "-1796342400.000", " 1796342400.000", NULL },
	                *const *b = bad;
	     *b != NULL; b++)
		ok(gl_admit_take(&a, *b, "0.000", T0 + 100000) && a.waited_ms == 0,
		   "a malformed stamp '%s' counts as none", *b);
	ok(gl_admit_take(&a, stamp(0), "x", T0 + 100000), "so does a malformed edge time");

	/* An idle worker: even a long wait is a burst's. */
	a = worker();
	ok(take(&a, 1000, 1400, 10) && a.waited_ms == 400,
	   "an idle worker serves a request that waited 400 ms (waited %lld)",
	   (long long)a.waited_ms);
	a = worker();
	ok(!take(&a, 1000, 1501, 10) && a.waited_ms == 501,
	   "but not one that waited longer than the burst's 500 ms");
	a = worker();
	ok(take(&a, 1000, 1030, 10) && take(&a, 5000, 5005, 10),
	   "a worker long idle serves its next request (a quiet stack is not a standing queue)");

	/* nginx's own time counts: reading the request and the token check. */
	a = worker();
	ok(!gl_admit_take(&a, stamp(1000), "0.501", T0 + 1000) && a.waited_ms == 501,
	   "the edge time is part of the wait (%lld ms)", (long long)a.waited_ms);
	a = worker();
	ok(gl_admit_take(&a, stamp(1000), "0.450", T0 + 1040) && a.waited_ms == 490,
	   "edge 450 ms + 40 ms at the pool is 490 ms: a burst's");

	/* A burst of 10 at an idle worker, 40 ms each: the last waits 360 ms, within the
	 * burst's bound. */
	a = worker();
	int served = 0, i;
	long long now = 1000;
	for (i = 0; i < 10; i++) {
		if (take(&a, 1000, now, 40)) {
			served++;
			now += 40;
		}
	}
	ok(served == 10, "10 requests at once, 40 ms each, the last after 360 ms: all served (%d)",
	   served);

	/* A standing queue: twice the rate the worker serves (one every 20 ms, 40 ms each). */
	a = worker();
	int refused = 0, late = 0;
	long long arrival = 0, worst = 0;
	now = 0;
	for (i = 0; i < 500; i++, arrival += 20) {
		if (now < arrival)
			now = arrival; /* idle until it comes */
		if (take(&a, arrival, now, 40)) {
			if (a.waited_ms > worst)
				worst = a.waited_ms;
			if (now > 500 + 50 && a.waited_ms > 50)
				late++;
			now += 40;
		} else {
			refused++;
		}
	}
	ok(refused > 200 && refused < 300,
	   "at twice its rate a worker refuses about half (%d of 500)", refused);
	ok(late == 0, "once the queue has stood for 500 ms, no request waited more than 50 ms (%d)",
	   late);
	ok(worst <= 500, "and none ever more than the burst's 500 ms (worst %lld)", worst);

	/* After it: the queue empties, a burst is a burst again. */
	ok(take(&a, arrival + 1000, arrival + 1010, 40),
	   "once the load is gone, the next request is served");
	ok(take(&a, arrival + 1060, arrival + 1300, 40) && a.waited_ms == 240,
	   "and so is one that waited 240 ms (the queue was empty 240 ms ago)");

	/* Clocks. */
	a = worker();
	ok(take(&a, 2000, 1990, 10) && a.waited_ms == 0,
	   "a stamp 10 ms in the future (another host's clock) counts as no wait");

	/* Off. */
	a = (struct gl_admit){ .wait_ms = 0, .burst_ms = 500 };
	ok(take(&a, 0, 100000, 10) && a.waited_ms == 0,
	   "GALLEY_QUEUE_WAIT_MS=0: everything is served");

	/* A burst window shorter than the standing bound never tightens it. */
	a = (struct gl_admit){ .wait_ms = 50, .burst_ms = 10 };
	ok(take(&a, 1000, 1045, 10), "a burst bound below the standing one: 45 ms is served");
	return done_testing();
}
