#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "cache.h"
#include "conf.h"
#include "json.h"
#include "log.h"
#include "metrics.h"
#include "near.h"
#include "redis.h"

/* How long a loader may hold a key's lock, and how long others wait for it. */
#define CACHE_LOCK_MS 3000
#define CACHE_WAIT_MS 200

/* Store the value only if we still hold the lock (a writer may have taken it). */
static const char cache_store_lua[] = "if redis.call('get', KEYS[2]) == ARGV[1] then "
                                      "redis.call('set', KEYS[1], ARGV[2], 'EX', ARGV[3]) "
                                      "redis.call('del', KEYS[2]) return 1 end return 0";

/* Free the lock if we still hold it: a load that failed stores nothing. */
static const char cache_unlock_lua[] = "if redis.call('get', KEYS[1]) == ARGV[1] then "
                                       "return redis.call('del', KEYS[1]) end return 0";

int
gl_cache_key_of(char *buf, size_t size, const char *service, const char *what, const char *id)
{
	int n;

	if (id != NULL)
		n = snprintf(buf, size, "galley:%s:%s:%s", service, what, id);
	else
		n = snprintf(buf, size, "galley:%s:%s", service, what);
	return n < 0 || (size_t)n >= size ? -1 : 0;
}

int
gl_cache_key(char *buf, size_t size, const char *what, const char *id)
{
	return gl_cache_key_of(buf, size, gl_conf.service, what, id);
}

/* GET key: a new copy of the value in *val, 1 hit, 0 miss, -1 Redis away. */
static int
cache_get(const char *key, char **val, size_t *len)
{
	const char *argv[] = { "GET", key };
	size_t lens[] = { 3, strlen(key) };
	redisReply *r;
	int hit = -1;

	if (gl_near_get(key, val, len) == 1)
		return 1;
	if ((r = gl_redis_argv(GL_REDIS_CACHE, 2, argv, lens)) == NULL)
		return -1;
	if (r->type == REDIS_REPLY_STRING) {
		*val = malloc(r->len + 1);
		if (*val != NULL) {
			memcpy(*val, r->str, r->len);
			(*val)[r->len] = '\0';
			*len = r->len;
			hit = 1;
			gl_near_put(key, r->str, r->len);
		}
	} else if (r->type == REDIS_REPLY_NIL) {
		hit = 0;
	}
	freeReplyObject(r);
	return hit;
}

/* SET lock token NX PX: 1 when we hold it now. */
static int
cache_lock(const char *lock, const char *token)
{
	char ms[16];
	const char *argv[] = { "SET", lock, token, "NX", "PX", ms };

	snprintf(ms, sizeof(ms), "%d", CACHE_LOCK_MS);
	return gl_redis_type(GL_REDIS_CACHE, 6, argv) == REDIS_REPLY_STATUS;
}

static void
cache_store(const char *key, const char *lock, const char *token, const char *val, size_t len)
{
	char ttl[24];
	const char *argv[] = { "EVAL", cache_store_lua, "2", key, lock, token, val, ttl };
	size_t lens[8];
	redisReply *r;

	snprintf(ttl, sizeof(ttl), "%ld", gl_conf.cache_ttl);
	for (int i = 0; i < 8; i++)
		lens[i] = strlen(argv[i]);
	lens[6] = len;
	r = gl_redis_argv(GL_REDIS_CACHE, 8, argv, lens);
	if (r != NULL && r->type == REDIS_REPLY_ERROR)
		gl_log(GL_LOG_WARN, NULL, "cache store: %s", r->str);
	if (r != NULL)
		freeReplyObject(r);
}

/*
 * A load that failed (the id is unknown, MongoDB is away) leaves nothing to store, and its
 * lock would otherwise stand for CACHE_LOCK_MS: every read of the key meanwhile waited
 * CACHE_WAIT_MS for a result that never came, then read through anyway (a GET of an unknown
 * item answered 19 times a second to 8 connections; docs/performance.md).
 */
static void
cache_unlock(const char *lock, const char *token)
{
	const char *argv[] = { "EVAL", cache_unlock_lua, "1", lock, token };

	if (gl_redis_type(GL_REDIS_CACHE, 5, argv) == REDIS_REPLY_ERROR)
		gl_log(GL_LOG_WARN, NULL, "cache unlock of %s failed", lock);
}

static void
sleep_ms(long ms)
{
	struct timespec ts = { ms / 1000, (ms % 1000) * 1000000L };
	nanosleep(&ts, NULL);
}

enum gl_err
gl_cache_reply(struct gl_req *req, const char *key, gl_cache_loader load, void *arg)
{
	char lock[GL_CACHE_KEY_MAX + 8], token[32];
	char *val, *dump;
	size_t len = 0;
	json_t *j;
	enum gl_err err;
	int hit, locked = 0;

	hit = cache_get(key, &val, &len);
	if (hit == 1) {
		req->cache = "hit";
		gl_metrics_cache(true);
		return gl_reply_raw(req, 200, val, len);
	}
	snprintf(lock, sizeof(lock), "%s:lock", key);
	snprintf(token, sizeof(token), "%d.%lld", (int)getpid(), gl_now_us());
	if (hit == 0) {
		locked = cache_lock(lock, token);
		/* Someone else is loading: wait a little for their result, then read through.
		 * A loader that stored nothing (its load failed: an unknown id) has freed the
		 * lock, so the next waiter takes it and loads, rather than all of them waiting
		 * CACHE_WAIT_MS for a result that is not coming. */
		for (long waited = 0; !locked && waited < CACHE_WAIT_MS; waited += 10) {
			sleep_ms(10);
			if ((hit = cache_get(key, &val, &len)) == 1) {
				req->cache = "hit";
				gl_metrics_cache(true);
				return gl_reply_raw(req, 200, val, len);
			}
			if (hit < 0)
				break;
			locked = cache_lock(lock, token);
		}
	}
	if ((err = load(arg, &j)) != GL_OK) {
		if (locked)
			cache_unlock(lock, token);
		return err;
	}
	dump = gl_json_dump_new(j);
	json_decref(j);
	if (dump == NULL) {
		if (locked)
			cache_unlock(lock, token);
		return GL_E_INTERNAL;
	}
	len = strlen(dump);
	if (locked)
		cache_store(key, lock, token, dump, len);
	req->cache = "miss";
	gl_metrics_cache(false);
	return gl_reply_raw(req, 200, dump, len);
}

int
gl_cache_del(const char *const *keys, int nkeys)
{
	const char *argv[1 + 2 * GL_CACHE_DEL_MAX];
	size_t lens[1 + 2 * GL_CACHE_DEL_MAX];
	char locks[GL_CACHE_DEL_MAX][GL_CACHE_KEY_MAX + 8];
	redisReply *r;
	int argc = 1, ok, given = nkeys;

	if (nkeys > GL_CACHE_DEL_MAX) {
		gl_log(GL_LOG_ERROR, NULL,
		       "cache: %d keys to drop, at most %d a call; the rest expire by TTL", nkeys,
		       GL_CACHE_DEL_MAX);
		nkeys = GL_CACHE_DEL_MAX;
	}
	argv[0] = "DEL";
	lens[0] = 3;
	for (int i = 0; i < nkeys; i++) {
		gl_near_forget(keys[i]); /* our own write: at once, whatever Redis says later */
		snprintf(locks[i], sizeof(locks[i]), "%s:lock", keys[i]);
		argv[argc] = keys[i];
		lens[argc++] = strlen(keys[i]);
		argv[argc] = locks[i];
		lens[argc++] = strlen(locks[i]);
	}
	r = gl_redis_argv(GL_REDIS_CACHE, argc, argv, lens);
	ok = r != NULL && r->type == REDIS_REPLY_INTEGER;
	if (r != NULL)
		freeReplyObject(r);
	if (!ok)
		gl_log(GL_LOG_WARN, NULL, "cache: could not delete %d key(s); they expire by TTL",
		       nkeys);
	return ok && given == nkeys ? 0 : -1;
}

int
gl_cache_peek(const char *key, char **val)
{
	size_t len;

	return cache_get(key, val, &len);
}

int
gl_cache_peek_json(const char *key, json_t **out)
{
	char *val;
	size_t len;
	int hit;

	*out = NULL;
	if ((hit = cache_get(key, &val, &len)) != 1)
		return hit;
	*out = json_loadb(val, len, 0, NULL);
	free(val);
	return *out != NULL ? 1 : 0;
}

int
gl_cache_put(const char *key, const char *val, long ttl)
{
	char t[24];
	const char *argv[] = { "SET", key, val, "EX", t };

	snprintf(t, sizeof(t), "%ld", ttl);
	gl_near_forget(key);
	return gl_redis_type(GL_REDIS_CACHE, 5, argv) == REDIS_REPLY_STATUS ? 0 : -1;
}

/* INCR, and start the window's clock on the first event only. */
static const char cache_count_lua[] =
        "local n = redis.call('incr', KEYS[1]) "
        "if n == 1 then redis.call('expire', KEYS[1], ARGV[1]) end return n";

int
gl_cache_count(const char *key, long window_s, long long *n)
{
	char w[24];
	const char *argv[] = { "EVAL", cache_count_lua, "1", key, w };
	redisReply *r;
	int ok;

	snprintf(w, sizeof(w), "%ld", window_s);
	r = gl_redis_strv(GL_REDIS_CACHE, 5, argv);
	ok = r != NULL && r->type == REDIS_REPLY_INTEGER;
	*n = ok ? r->integer : 0;
	if (r != NULL)
		freeReplyObject(r);
	return ok ? 0 : -1;
}
