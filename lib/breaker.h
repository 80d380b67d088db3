/*
 * breaker: a circuit breaker per call target (another service).
 *
 * After GL_BREAKER_FAILS failures in a row (unreachable or too slow) the
 * breaker opens: calls fail at once for GL_BREAKER_OPEN_US, so a caller
 * answers 503 quickly instead of waiting on a dead dependency for every
 * request.  Then one call is let through (half-open): success closes the
 * breaker, failure opens it again.  Pure state and a clock passed in, so it
 * is tested without a network; http.c keeps one per target per process.
 */
#ifndef GL_BREAKER_H
#define GL_BREAKER_H

#include <stdbool.h>

#define GL_BREAKER_FAILS   5
#define GL_BREAKER_OPEN_US 5000000LL

enum gl_breaker_state { GL_BREAKER_CLOSED, GL_BREAKER_OPEN, GL_BREAKER_HALF_OPEN };

struct gl_breaker {
	int failures;         /* in a row */
	long long open_until; /* microseconds, when open */
	bool trial;           /* a half-open trial call is under way */
};

/* May a call go out now?  (Marks the half-open trial when it lets one through.) */
bool gl_breaker_allow(struct gl_breaker *b, long long now_us);
/* Record how the call went: ok, or a failure of the target. */
void gl_breaker_record(struct gl_breaker *b, bool ok, long long now_us);
enum gl_breaker_state gl_breaker_state(const struct gl_breaker *b, long long now_us);

#endif
