/*
 * now: the monotonic clock, for durations, deadlines and ages.
 *
 * A module of its own so that what sits below the request layer (redis,
 * near, cache, http) reads the clock without including req.h.
 */
#ifndef GL_NOW_H
#define GL_NOW_H

/* Monotonic microseconds (CLOCK_MONOTONIC: never steps back with the wall clock). */
long long gl_now_us(void);

#endif
