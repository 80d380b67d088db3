/*
 * redis: the one Redis connection of a thread (lib-internal: services use
 * cache.h and, later, events.h, and never include hiredis).
 *
 * The connection is opened lazily with timeouts from gl_conf.  hiredis has
 * two error channels: a NULL reply means the context is dead, and a dead
 * context stays dead, so it is dropped here and reopened on a later call,
 * at most once per second while Redis is away; a REDIS_REPLY_ERROR reply
 * means Redis said no.  Debian ships hiredis 0.14: version differences stay
 * in this file and redis.c.
 */
#ifndef GL_REDIS_H
#define GL_REDIS_H

#include <hiredis/hiredis.h>
#include <stddef.h>

/*
 * Run one command given as argv with lengths (never a formatted string, so
 * no client text is ever parsed as a command).  Returns a new reply to free
 * with freeReplyObject(), or NULL when Redis is unreachable.
 */
redisReply *gl_redis_argv(int argc, const char **argv, const size_t *lens);

/* A command that Redis holds up to block_ms before it answers (XREADGROUP ... BLOCK):
 * this one reply is waited for that much longer than GALLEY_REDIS_TIMEOUT_MS. */
redisReply *gl_redis_block(long block_ms, int argc, const char **argv, const size_t *lens);

/* The same for a command whose arguments are all NUL-terminated text. */
redisReply *gl_redis_strv(int argc, const char **argv);

/* Run an all-text command; its reply's type, or -1 when Redis is unreachable. */
int gl_redis_type(int argc, const char **argv);

/* Is Redis answering?  0 or -1. */
int gl_redis_ping(void);

/* A new connection to GALLEY_REDIS_URL with the configured timeouts and db, apart from the
 * thread's own (near.c's subscription); NULL when Redis is unreachable.  The caller frees it. */
redisContext *gl_redis_open(void);

/* Close the connection (at exit, and after fork). */
void gl_redis_close(void);

#endif
