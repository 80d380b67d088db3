/*
 * admit: a public request that has waited too long for a worker is refused, not served late.
 *
 * nginx's bounded queue (limit_conn, nginx.conf.in) caps how many requests wait for a
 * service's workers, not how long: at twice the rate the workers can serve, each waits for
 * all those ahead of it (64 placements in flight at 95/s: 670 ms). So nginx passes, with
 * each public request, when it handed the request to the pools (GALLEY_QUEUED_AT, $msec)
 * and how long it had held it by then (GALLEY_EDGE_TIME, $request_time: reading it and the
 * token check), and the worker that takes the request up decides by how long it has waited:
 *
 *   - a request that came to a free worker (one asleep in accept, or about to be: it found
 *     the pool's socket empty) did not wait for it, whatever its stamp says: the time went
 *     elsewhere (the token check, a connect to a pool on a host that is down, then this one).
 *     Asleep, not merely slow: a worker preempted in accept, or its pool out of CPU quota,
 *     takes up a request that did wait (lib/app.c counts the worker's sleeps);
 *   - within burst_ms of a moment this worker found no queue, a request may have waited up
 *     to burst_ms: a burst at an idle service is served, not refused, and so is what piled
 *     up behind a stall of the host (a moment's pause of everything, a batch of the store's
 *     writes) while the service runs well within its capacity. The moment counts when the
 *     worker sat idle GL_ADMIT_IDLE_MS or longer, or, for any pause, when this worker has
 *     refused nothing for burst_ms: at half the peak, where a worker rarely idles 10 ms,
 *     stalls of 26-36 ms had their requests refused (docs/performance.md, "Served after a
 *     stall");
 *   - otherwise up to wait_ms only: a standing queue is cut to that, and what is refused
 *     costs a 503 answered in microseconds.
 *
 * The rule of "adaptive CoDel" (Maurer, "Fail at scale", ACM Queue 13(8), 2015), with "the
 * queue was empty" seen by one worker: before it waits for the next request it asks whether
 * one is already there (lib/app.c), and times how long it waits. A worker that has been
 * refusing needs a real pause to open a burst's window: under overload the workers' quick
 * refusals empty the queue for a moment now and then, and a window opened by each of those
 * let 100 ms waits through (p99 of the placements accepted at twice the peak 107-122 ms
 * instead of 83-88).
 *
 * lib/app.c refuses writes only by this; a read is served however long it waited (a cached
 * read costs about what refusing it would).
 *
 * Times are the wall clock's, in ms; on one host nginx's and the workers' are the same
 * clock. Pools on other hosts need their clocks in step (NTP); a request stamped in the
 * future counts as not having waited. Service-to-service calls carry no stamp and are
 * always admitted: they are part of work already let in.
 */
#ifndef GL_ADMIT_H
#define GL_ADMIT_H

#include <stdbool.h>
#include <stdint.h>

/* A worker idle this long (ms) saw no standing queue: a burst's window opens. */
#define GL_ADMIT_IDLE_MS 10

/* One worker's view of its pool's queue. Zeroed, then the limits set: nothing seen yet. */
struct gl_admit {
	long wait_ms;       /* GALLEY_QUEUE_WAIT_MS: the bound on a standing queue; 0 = off */
	long burst_ms;      /* GALLEY_QUEUE_BURST_MS: a burst's bound, and how long it lasts */
	int64_t idle_at;    /* when this worker last found no queue, as above (ms) */
	int64_t refused_at; /* when it last refused a request (ms) */
	int64_t waited_ms;  /* the last request's wait, for the refusal's message */
};

/* The wall clock, in ms. */
int64_t gl_admit_now(void);

/*
 * May this worker serve, at now, the request nginx stamped queued_at and edge_time (the
 * fastcgi params' text: "1733299200.123" and "0.004"; NULL or malformed = not stamped,
 * always admitted)? idle_ms: how long the worker waited for this request, or -1 when it
 * was already queued. Records what it learns about the queue; a->waited_ms says how long
 * the request had waited.
 */
bool gl_admit_take(struct gl_admit *a, const char *queued_at, const char *edge_time, long idle_ms,
                   int64_t now);

#endif
