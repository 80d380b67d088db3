/*
 * metrics: what a service counts, summed over all its pools and processes,
 * and GET /metrics, the Prometheus text of every service at once.
 *
 * A process counts into a small table in its own memory, under a mutex (the
 * request loop, the tick thread and a service's own threads all count).
 * About once a second the tick thread adds what was counted since the last
 * time to one Redis hash per service, "galley:metrics:<service>", in one
 * script call (HINCRBY per series), and writes its gauges (its own state,
 * such as an open circuit) to a hash of its own that expires when the
 * process stops reporting.  So any worker of any service can answer
 * /metrics for all of them, and a restarted worker adds to the totals
 * instead of starting them again.  While Redis is away the counts wait in
 * memory and are added when it returns; a SIGKILLed process loses at most
 * its last second.
 *
 * Series are bounded: GL_METRICS_SERIES per process; a series past that is
 * not kept and is counted in galley_metrics_dropped_total.  Label values
 * come from the code (route patterns, service, target and stream names,
 * statuses), never from a client.  Every string passed in is borrowed.
 */
#ifndef GL_METRICS_H
#define GL_METRICS_H

#include <stdbool.h>

#include "err.h"

#define GL_METRICS_SERIES 512
/* Every Redis key of this module starts so. */
#define GL_METRICS_KEY "galley:metrics:"

struct gl_req;

/* One answered request: route is its pattern ("unmatched" when none). */
void gl_metrics_request(const char *route, const char *method, int status, long long us);

/* One cached read: served from Redis, or loaded. */
void gl_metrics_cache(bool hit);

enum gl_metrics_event {
	GL_METRICS_PUBLISHED,    /* added to its stream */
	GL_METRICS_CONSUMED,     /* handled by this service */
	GL_METRICS_RETRIED,      /* a handler failed; it will be tried again */
	GL_METRICS_DEAD_LETTERED /* moved to the stream's dead letters */
};
/* One event of family stream ("orders"); type ("order.created") for published and
 * consumed ones, else NULL. */
void gl_metrics_event(enum gl_metrics_event what, const char *stream, const char *type);

/* One outbound call attempt to target ("stock", "provider"): outcome is "ok" (any answer
 * below 500), "down", "timeout", "bad" (5xx, too big) or "open" (the circuit refused it). */
void gl_metrics_outbound(const char *target, const char *outcome, long long us);

/* This process's circuit to target refuses calls for open_us more microseconds (0: it is
 * closed, or lets a trial through).  Kept as the time it ends, so /metrics counts the
 * process as open only until then, even when no call comes to change it. */
void gl_metrics_breaker(const char *target, long long open_us);

/* One round trip to MongoDB: a command the driver sent, by its name ("find", "getMore",
 * "insert", "findAndModify", ...; any other is "other").  Lock-free: called from the
 * driver's command callback in whichever thread ran it; added to the series at the flush. */
void gl_metrics_db_op(const char *command);

/* One round trip to Redis (any command, the flush's own too), lock-free as above. */
void gl_metrics_redis_op(void);

/* Add what was counted to Redis (the tick thread, about once a second, and at stop). */
void gl_metrics_flush(void);

/* GET /metrics: every service's series, consumer lag, and nginx's own counters. */
enum gl_err gl_metrics_reply(struct gl_req *req) __attribute__((warn_unused_result));

#endif
