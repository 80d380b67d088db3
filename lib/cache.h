/*
 * cache: cache-aside in Redis in front of MongoDB.
 *
 * A cached value is the JSON body of a response, stored under a key with a
 * TTL (gl_conf.cache_ttl).  Only one loader per key runs at a time: it
 * holds "<key>:lock" and stores its result only while it still holds the
 * lock, and a writer deletes the key and its lock after changing MongoDB,
 * so a loader that read the old document can never store it afterwards.
 * Others wait briefly for the loader, then read through; a loader whose
 * load failed (an unknown id) frees the lock, and the next waiter loads.
 * Redis being away is a miss, never an error: MongoDB remains the truth.
 */
#ifndef GL_CACHE_H
#define GL_CACHE_H

#include <jansson.h>
#include <stddef.h>

#include "err.h"
#include "req.h"

#define GL_CACHE_KEY_MAX 128

/* Loads the value on a miss: *out is new on GL_OK. */
typedef enum gl_err (*gl_cache_loader)(void *arg, json_t **out);

/*
 * Answer req with status 200 and the value of key: from Redis when warm
 * (X-Cache: hit), else from load (X-Cache: miss), storing it for the next
 * caller.  Errors of load are returned as they are and not cached.
 */
enum gl_err gl_cache_reply(struct gl_req *req, const char *key, gl_cache_loader load, void *arg)
        __attribute__((warn_unused_result));

/* The most keys gl_cache_del() drops in one call. */
#define GL_CACHE_DEL_MAX 8

/*
 * Drop keys (and their loader locks) after a write, before the response is
 * sent.  Returns -1 when Redis could not be told, or when more than
 * GL_CACHE_DEL_MAX keys were given (the first GL_CACHE_DEL_MAX are dropped;
 * both logged): the entries left then expire by TTL.
 */
int gl_cache_del(const char *const *keys, int nkeys);

/* Write "galley:<service>:<what>[:<id>]" into buf; -1 if it does not fit. */
int gl_cache_key(char *buf, size_t size, const char *what, const char *id);

/*
 * The same for another service's key, to read what it caches (gl_cache_peek_json), never
 * to write it: only the owner loads and drops its keys, so what a reader finds is the
 * answer the owner would give now, or nothing.
 */
int gl_cache_key_of(char *buf, size_t size, const char *service, const char *what, const char *id);

/* The value of key as a new string in *val (free() it): 1 found, 0 absent, -1 Redis away. */
int gl_cache_peek(const char *key, char **val);

/* The value of key parsed as JSON, new in *out: 1 found, 0 absent or not JSON (*out NULL),
 * -1 Redis away.  A hot key is answered from this thread's near copy (near.h). */
int gl_cache_peek_json(const char *key, json_t **out);

/* Store val under key for ttl seconds; -1 when Redis could not be told. */
int gl_cache_put(const char *key, const char *val, long ttl);

/*
 * Count one event under key in a fixed window: the window starts with the
 * first event and lasts window_s seconds.  *n is the count so far, this one
 * included.  -1 when Redis is away (*n is then 0).
 */
int gl_cache_count(const char *key, long window_s, long long *n);

#endif
