/*
 * near: a thread's own copies of the Redis values it reads through the
 * cache (cache.h), kept coherent by Redis itself (client-side caching,
 * CLIENT TRACKING): a hot read answers from memory, with no round trip.
 *
 * Why it is safe: the thread's Redis connection (redis.c) has tracking on,
 * redirected to a second connection of the thread subscribed to
 * __redis__:invalidate.  Redis remembers every key that connection read and,
 * when any client changes, deletes or expires one, sends its name on that
 * subscription before it answers the client that changed it.  Every lookup
 * first reads what has arrived (a poll with no wait) and drops those copies,
 * so a copy is never older than the last message Redis sent.  The writer's
 * own thread drops its copy at once (gl_near_forget), whatever the message
 * timing.  A copy also lives at most NEAR_MAX_AGE_MS, in case a message is
 * ever missed.  When either connection fails, every copy is dropped and the
 * data connection is closed, so tracking starts afresh with the next command
 * (a Redis restart forgets who read what).
 *
 * Off unless the thread asked for it (gl_near_enable: the main loop of each
 * worker) and GALLEY_NEAR_CACHE is not 0.  Bounded: NEAR_SLOTS entries,
 * values up to NEAR_MAX_VALUE bytes, NEAR_MAX_BYTES in all per thread.
 * Strings given are copied; what gl_near_get returns is new (free() it).
 */
#ifndef GL_NEAR_H
#define GL_NEAR_H

#include <hiredis/hiredis.h>
#include <stddef.h>

#define NEAR_SLOTS      1024
#define NEAR_MAX_VALUE  (64 * 1024)
#define NEAR_MAX_BYTES  (8 * 1024 * 1024)
#define NEAR_MAX_AGE_MS 5000

/* This thread keeps near copies from its next Redis connection on. */
void gl_near_enable(void);

/* 1 and a new copy of key's value in *val (*len bytes, NUL-terminated), or 0. */
int gl_near_get(const char *key, char **val, size_t *len);

/* Keep a copy of what Redis answered for key just now (a GET on this thread). */
void gl_near_put(const char *key, const char *val, size_t len);

/* Drop the copy of key: this thread changed it. */
void gl_near_forget(const char *key);

/* For redis.c only: its connection c is new (turn tracking on), or gone. */
void gl_near_connected(redisContext *c);
void gl_near_disconnected(void);

#endif
