/*
 * The keys that keep one cook per ticket and one end per ticket
 * (kitchen.h), in the store (lib/redis.h: the Redis whose AOF is on):
 * "galley:kitchen:claim:<ticket>:<n>" {cook, until} and
 * "galley:kitchen:claim:<ticket>:end" (how).  Each is taken by one atomic
 * command or script, so of two cooks (or a cook and a cancellation) exactly
 * one wins; a read tells who.  They are kept CLAIM_KEEP_S, long after any
 * ticket is settled.
 */
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "kitchen.h"
#include "log.h"
#include "redis.h"

#define CLAIM_KEY_MAX 96
#define CLAIM_KEEP_S  "604800" /* a week */

static void
claim_key_n(char *buf, const char *ticket, long long n)
{
	snprintf(buf, CLAIM_KEY_MAX, "galley:kitchen:claim:%.24s:%lld", ticket, n);
}

/* An integer or status reply's outcome; NULL means the store is away. */
static enum gl_err
claim_reply_err(const redisReply *r)
{
	if (r == NULL)
		return GL_E_UPSTREAM_DOWN;
	if (r->type == REDIS_REPLY_ERROR) {
		gl_log(GL_LOG_ERROR, NULL, "kitchen: a claim: %s", r->str);
		return GL_E_INTERNAL;
	}
	return GL_OK;
}

enum gl_err
claim_take(const char *ticket, long long n, const char *cook, int64_t until)
{
	char key[CLAIM_KEY_MAX], u[24];
	redisReply *r;
	enum gl_err err;

	claim_key_n(key, ticket, n);
	snprintf(u, sizeof(u), "%lld", (long long)until);
	const char *keys[] = { key }, *args[] = { cook, u, CLAIM_KEEP_S };
	r = gl_redis_eval(GL_REDIS_STORE,
	                  "if redis.call('EXISTS', KEYS[1]) == 1 then return 0 end "
	                  "redis.call('HSET', KEYS[1], 'cook', ARGV[1], 'until', ARGV[2]) "
	                  "redis.call('EXPIRE', KEYS[1], ARGV[3]) return 1",
	                  1, keys, 3, args);
	if ((err = claim_reply_err(r)) == GL_OK)
		err = r->type == REDIS_REPLY_INTEGER && r->integer == 1 ? GL_OK : GL_E_CONFLICT;
	if (r != NULL)
		freeReplyObject(r);
	return err;
}

enum gl_err
claim_until(const char *ticket, long long n, int64_t *until)
{
	char key[CLAIM_KEY_MAX];
	redisReply *r;
	enum gl_err err;

	claim_key_n(key, ticket, n);
	const char *argv[] = { "HGET", key, "until" };
	r = gl_redis_strv(GL_REDIS_STORE, 3, argv);
	if ((err = claim_reply_err(r)) == GL_OK) {
		if (r->type == REDIS_REPLY_STRING)
			*until = strtoll(r->str, NULL, 10);
		else
			err = GL_E_NOT_FOUND;
	}
	if (r != NULL)
		freeReplyObject(r);
	return err;
}

void
claim_release(const char *ticket, long long n)
{
	char key[CLAIM_KEY_MAX], now[24];
	redisReply *r;

	/* Only the claim's owner writes it after it took it. */
	claim_key_n(key, ticket, n);
	snprintf(now, sizeof(now), "%lld", (long long)time(NULL));
	const char *keys[] = { key }, *args[] = { now };
	r = gl_redis_eval(GL_REDIS_STORE,
	                  "if redis.call('EXISTS', KEYS[1]) == 1 then"
	                  " redis.call('HSET', KEYS[1], 'until', ARGV[1]) end return 1",
	                  1, keys, 1, args);
	if (claim_reply_err(r) != GL_OK)
		gl_log(GL_LOG_WARN, NULL,
		       "ticket %.24s: attempt %lld stays claimed until its lease ends", ticket, n);
	if (r != NULL)
		freeReplyObject(r);
}

enum gl_err
claim_end(const char *ticket, const char *how, bool *ready)
{
	char key[CLAIM_KEY_MAX];
	redisReply *r;
	enum gl_err err;

	snprintf(key, sizeof(key), "galley:kitchen:claim:%.24s:end", ticket);
	/* SET NX then GET in one script: the answer is whoever won, us or the other side. */
	const char *keys[] = { key }, *args[] = { how, CLAIM_KEEP_S };
	r = gl_redis_eval(GL_REDIS_STORE,
	                  "redis.call('SET', KEYS[1], ARGV[1], 'NX', 'EX', ARGV[2]) "
	                  "return redis.call('GET', KEYS[1])",
	                  1, keys, 2, args);
	if ((err = claim_reply_err(r)) == GL_OK) {
		if (r->type == REDIS_REPLY_STRING)
			*ready = strcmp(r->str, "ready") == 0;
		else
			err = GL_E_INTERNAL;
	}
	if (r != NULL)
		freeReplyObject(r);
	return err;
}
