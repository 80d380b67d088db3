/*
 * redis: a thread's connections to galley's two Redis servers.  Services use
 * cache.h, events.h and consumer.h; only a service whose state lives in the
 * store (stock's levels and reservations, the kitchen's claims) runs its own
 * commands and scripts there.
 *
 *  - the cache (GALLEY_REDIS_URL) persists nothing and may restart empty:
 *    cached copies, near-copy tracking, rate counters, locks, metrics;
 *  - the store (GALLEY_STORE_URL) has its AOF on (appendfsync always), so
 *    what it acknowledged survives its death: the event streams, the staged
 *    events (the outbox), the ids of handled events, the due lists.
 *
 * The connection is opened lazily with timeouts from gl_conf.  hiredis has
 * two error channels: a NULL reply means the context is dead, and a dead
 * context stays dead, so it is dropped here and reopened on a later call,
 * at most ten times a second while Redis is away; a REDIS_REPLY_ERROR reply
 * means Redis said no (but LOADING, a Redis still reading its AOF after a
 * restart, which is NULL as if it were away).  Debian ships hiredis 0.14: version differences stay
 * in this file and redis.c.
 */
#ifndef GL_REDIS_H
#define GL_REDIS_H

#include <hiredis/hiredis.h>
#include <stddef.h>

enum gl_redis {
	GL_REDIS_CACHE,
	GL_REDIS_STORE,
	GL_REDIS__MAX,
};

/*
 * Run one command given as argv with lengths (never a formatted string, so
 * no client text is ever parsed as a command).  Returns a new reply to free
 * with freeReplyObject(), or NULL when Redis is unreachable.
 */
redisReply *gl_redis_argv(enum gl_redis which, int argc, const char **argv, const size_t *lens);

/*
 * EVAL a Lua script with nkeys keys and nargs arguments (all text, at most
 * 1,000 in all): atomic by Redis's rule that nothing runs beside a script.
 * A new reply, or NULL when that Redis is unreachable.
 */
redisReply *gl_redis_eval(enum gl_redis which, const char *script, int nkeys,
                          const char *const *keys, int nargs, const char *const *args);

/* A command that Redis holds up to block_ms before it answers (XREADGROUP ... BLOCK):
 * this one reply is waited for that much longer than GALLEY_REDIS_TIMEOUT_MS. */
redisReply *gl_redis_block(enum gl_redis which, long block_ms, int argc, const char **argv,
                           const size_t *lens);

/* The most arguments gl_redis_strv() takes. */
#define GL_REDIS_ARGS_MAX 1024

/* The same for a command whose arguments are all NUL-terminated text, at most
 * GL_REDIS_ARGS_MAX of them (more: NULL, as if Redis were away). */
redisReply *gl_redis_strv(enum gl_redis which, int argc, const char **argv);

/* Run an all-text command; its reply's type, or -1 when Redis is unreachable. */
int gl_redis_type(enum gl_redis which, int argc, const char **argv);

/* Does key exist?  1 yes, 0 no, -1 cannot tell (Redis away, or an error reply). */
int gl_redis_exists(enum gl_redis which, const char *key);

/*
 * With Sentinels (sentinel.h) and GALLEY_STORE_WAIT_MS > 0: wait until a replica has every
 * store write, and every cache deletion, this thread made since the last call (WAIT 1).  0
 * when it has, when there was none, or when no replica is attached (nothing a failover could
 * promote); -1 when an attached replica did not take them in time or the connection they
 * went on was lost: the request must not be acknowledged (app.c answers 503).  Without
 * Sentinels, always 0.
 */
int gl_redis_sync(void);

/* Is Redis answering?  0 or -1. */
int gl_redis_ping(enum gl_redis which);

/* A new connection to that Redis with the configured timeouts and db, apart from the
 * thread's own (near.c's subscription); NULL when Redis is unreachable.  The caller frees it. */
redisContext *gl_redis_open(enum gl_redis which);

/* Close the thread's connection to that Redis; the next command opens it again. */
void gl_redis_drop(enum gl_redis which);

/* Close both (at exit, and after fork). */
void gl_redis_close(void);

#endif
