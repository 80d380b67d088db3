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

/* A worker with the defaults: 50 ms once a queue stands, 100 ms for a burst. */
static struct gl_admit
worker(void)
{
	return (struct gl_admit){ .wait_ms = 50, .burst_ms = 100 };
}

/* take: the request handed to the pools at queued, taken up at now; idle: the worker had
 * waited that long for it (ms), -1: it was queued. */
static bool
take(struct gl_admit *a, long long queued, long long now, long idle)
{
	return gl_admit_take(a, stamp(queued), "0.000", idle, T0 + now);
}

int
main(void)
{
	struct gl_admit a = worker();

	/* Not stamped (service-to-service calls, health checks): always served. */
	ok(gl_admit_take(&a, NULL, NULL, -1, T0 + 100000), "a request without a stamp is served");
	for (const char *bad[] = { "", "x", "12.", ".5", "1796342400.1x", "17963424001234567.0",
	                           "-1796342400.000", " 1796342400.000", NULL },
	                *const *b = bad;
	     *b != NULL; b++)
		ok(gl_admit_take(&a, *b, "0.000", -1, T0 + 100000) && a.waited_ms == 0,
		   "a malformed stamp '%s' counts as none", *b);
	ok(gl_admit_take(&a, stamp(0), "x", -1, T0 + 100000), "so does a malformed edge time");

	/* A request that came to a free worker waited for nothing, whatever its stamp says
	 * (the time went to a connect to a pool on a host that is down, then this one). */
	a = worker();
	ok(take(&a, 1000, 3000, 1000) && a.waited_ms == 0,
	   "a request stamped 2 s ago that came to a free worker is served");

	/* A queue that was just empty: even a long wait is a burst's. */
	a = worker();
	ok(take(&a, 1000, 1000, 1000) && take(&a, 1000, 1090, -1) && a.waited_ms == 90,
	   "90 ms after the queue was empty, a request that waited 90 ms is served (waited %lld)",
	   (long long)a.waited_ms);
	a = worker();
	ok(take(&a, 1000, 1000, 1000) && !take(&a, 1000, 1101, -1) && a.waited_ms == 101,
	   "but not one that waited longer than the burst's 100 ms");
	a = worker();
	ok(take(&a, 1000, 1000, 1000) && !take(&a, 1090, 1150, -1) && a.waited_ms == 60 &&
	           take(&a, 1110, 1150, -1),
	   "150 ms after the queue was last empty the bound is 50 ms: 60 ms refused, 40 ms served");

	/* nginx's own time counts: reading the request and the token check. */
	a = worker();
	take(&a, 1000, 1000, 1000);
	ok(!gl_admit_take(&a, stamp(1000), "0.101", -1, T0 + 1000) && a.waited_ms == 101,
	   "the edge time is part of the wait (%lld ms)", (long long)a.waited_ms);
	ok(gl_admit_take(&a, stamp(1000), "0.050", -1, T0 + 1040) && a.waited_ms == 90,
	   "edge 50 ms + 40 ms at the pool is 90 ms: a burst's");

	/* A burst of 6 at an idle worker, 25 ms each: the fourth waits 75 ms, within the
	 * burst's bound; the fifth and sixth wait 100 ms when the window is over: refused. */
	a = worker();
	int served = 0, i;
	long long now = 1000;
	for (i = 0; i < 6; i++) {
		if (take(&a, 1000, now, i == 0 ? 1000 : -1)) {
			served++;
			now += 25;
		}
	}
	ok(served == 4, "6 requests at once, 25 ms each: 4 served, the last two refused (%d)",
	   served);

	/* A standing queue: twice the rate the worker serves (one every 20 ms, 40 ms each). */
	a = worker();
	int refused = 0, late = 0;
	long long arrival = 0, worst = 0;
	now = 0;
	for (i = 0; i < 500; i++, arrival += 20) {
		long idle = now <= arrival ? (long)(arrival - now) : -1;
		if (idle >= 0)
			now = arrival; /* it waited for this one */
		if (take(&a, arrival, now, idle)) {
			if (a.waited_ms > worst)
				worst = a.waited_ms;
			if (now > 100 + 50 && a.waited_ms > 50)
				late++;
			now += 40;
		} else {
			refused++;
		}
	}
	ok(refused > 200 && refused < 300,
	   "at twice its rate a worker refuses about half (%d of 500)", refused);
	ok(late == 0, "once the queue has stood for 100 ms, no request waited more than 50 ms (%d)",
	   late);
	ok(worst <= 100, "and none ever more than the burst's 100 ms (worst %lld)", worst);

	/* After it: the queue empties, a burst is a burst again. */
	ok(take(&a, arrival + 1000, arrival + 1000, 1000),
	   "once the load is gone, the next request comes to a free worker and is served");
	ok(take(&a, arrival + 1000, arrival + 1080, -1) && a.waited_ms == 80,
	   "and one that waited 80 ms behind it is too (the queue was empty 80 ms ago)");

	/* A moment's pause in a standing queue (the workers' refusals emptied it) serves what
	 * comes then, but opens no burst's window; a real pause does. */
	a = worker();
	take(&a, 0, 0, 1000);
	ok(!take(&a, 1900, 1990, -1),
	   "a worker in a standing queue refuses a request that waited 90 ms");
	ok(take(&a, 2000, 2000, 2) && !take(&a, 1940, 2010, -1) && a.waited_ms == 70,
	   "after a 2 ms pause, a request that came to the worker is served, one queued 70 ms "
	   "behind it is not");
	ok(take(&a, 3000, 3000, 20) && take(&a, 2940, 3010, -1),
	   "after a 20 ms pause, it is: a burst's window is open");

	/* Well within capacity a worker rarely idles 10 ms; a stall of the host then piles up
	 * requests behind it. A worker that has refused nothing lately serves them. */
	a = worker();
	take(&a, 0, 0, 1000);
	ok(take(&a, 2000, 2000, 2) && take(&a, 1940, 2010, -1) && a.waited_ms == 70,
	   "a worker that refused nothing: after a 2 ms pause, a request that waited 70 ms behind "
	   "a stall is served");
	ok(!take(&a, 1900, 2110, -1) && a.waited_ms == 210,
	   "but not one that waited longer than the burst's 100 ms (%lld)", (long long)a.waited_ms);
	ok(take(&a, 2200, 2200, 2) && !take(&a, 2130, 2210, -1),
	   "and for 100 ms after that refusal a short pause opens no window again");

	/* Clocks. */
	a = worker();
	take(&a, 0, 0, 1000);
	ok(take(&a, 20, 10, -1) && a.waited_ms == 0,
	   "a stamp 10 ms in the future (another host's clock) counts as no wait");

	/* Off. */
	a = (struct gl_admit){ .wait_ms = 0, .burst_ms = 100 };
	ok(take(&a, 0, 100000, -1) && a.waited_ms == 0,
	   "GALLEY_QUEUE_WAIT_MS=0: everything is served");

	/* A burst window shorter than the standing bound never tightens it. */
	a = (struct gl_admit){ .wait_ms = 50, .burst_ms = 10 };
	take(&a, 0, 0, 1000);
	ok(take(&a, 1000, 1045, -1), "a burst bound below the standing one: 45 ms is served");
	return done_testing();
}
