#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "cache.h"
#include "db.h"
#include "doc.h"
#include "due.h"
#include "kept.h"
#include "log.h"
#include "redis.h"
#include "stop.h"

static int
due_key(char *buf, size_t size, const char *coll)
{
	return gl_cache_key(buf, size, "due", coll);
}

/* One command to the store whose reply is an integer: GL_OK, or why not. */
static enum gl_err
due_run(int argc, const char **argv)
{
	redisReply *r = gl_redis_strv(GL_REDIS_STORE, argc, argv);
	enum gl_err err = r == NULL                        ? GL_E_UPSTREAM_DOWN
	                  : r->type == REDIS_REPLY_INTEGER ? GL_OK
	                                                   : GL_E_INTERNAL;

	if (r != NULL && err != GL_OK)
		gl_log(GL_LOG_ERROR, NULL, "due: %s refused: %s", argv[0],
		       r->type == REDIS_REPLY_ERROR ? r->str : "an unexpected reply");
	if (r != NULL)
		freeReplyObject(r);
	return err;
}

static enum gl_err
due_set(const char *coll, const bson_oid_t *id, int64_t expires, const char *how)
{
	char key[GL_CACHE_KEY_MAX], score[24], member[25];

	if (due_key(key, sizeof(key), coll) < 0)
		return GL_E_INTERNAL;
	snprintf(score, sizeof(score), "%lld", (long long)expires);
	bson_oid_to_string(id, member);
	if (how == NULL) {
		const char *argv[] = { "ZADD", key, score, member };
		return due_run(4, argv);
	}
	const char *argv[] = { "ZADD", key, how, score, member };
	return due_run(5, argv);
}

enum gl_err
gl_due_add(const char *coll, const bson_oid_t *id, int64_t expires)
{
	return due_set(coll, id, expires, NULL);
}

int
gl_due_index(struct gl_kept_index *e, const char *coll, const bson_oid_t *id, int64_t expires)
{
	if (due_key(e->key, sizeof(e->key), coll) < 0)
		return -1;
	snprintf(e->score, sizeof(e->score), "%lld", (long long)expires);
	bson_oid_to_string(id, e->member);
	return 0;
}

enum gl_err
gl_due_move(const char *coll, const bson_oid_t *id, int64_t expires)
{
	return due_set(coll, id, expires, "XX"); /* only an entry still there: a drop wins */
}

/* -1: no entry; 0: taken (put off to ARGV[3]); else the time it is held until. */
static const char due_claim_lua[] = "local s = redis.call('ZSCORE', KEYS[1], ARGV[1])\n"
                                    "if not s then return -1 end\n"
                                    "s = tonumber(s)\n"
                                    "if s > tonumber(ARGV[2]) then return math.max(s, 1) end\n"
                                    "redis.call('ZADD', KEYS[1], ARGV[3], ARGV[1])\n"
                                    "return 0\n";

enum gl_err
gl_due_claim(const char *coll, const bson_oid_t *id, int64_t until, enum gl_due_claim *got,
             int64_t *held_until)
{
	char key[GL_CACHE_KEY_MAX], member[25], now_s[24], until_s[24];
	redisReply *r;
	enum gl_err err = GL_OK;

	*got = GL_DUE_ABSENT;
	if (due_key(key, sizeof(key), coll) < 0)
		return GL_E_INTERNAL;
	bson_oid_to_string(id, member);
	snprintf(now_s, sizeof(now_s), "%lld", (long long)time(NULL));
	snprintf(until_s, sizeof(until_s), "%lld", (long long)until);
	const char *keys[] = { key }, *args[] = { member, now_s, until_s };
	if ((r = gl_redis_eval(GL_REDIS_STORE, due_claim_lua, 1, keys, 3, args)) == NULL)
		return GL_E_UPSTREAM_DOWN;
	if (r->type != REDIS_REPLY_INTEGER) {
		gl_log(GL_LOG_ERROR, NULL, "due: a claim in %s refused: %s", coll,
		       r->type == REDIS_REPLY_ERROR ? r->str : "an unexpected reply");
		err = GL_E_INTERNAL;
	} else if (r->integer == 0) {
		*got = GL_DUE_CLAIMED;
	} else if (r->integer > 0) {
		*got = GL_DUE_HELD;
		if (held_until != NULL)
			*held_until = r->integer;
	}
	freeReplyObject(r);
	return err;
}

void
gl_due_drop(const char *coll, const bson_oid_t *id)
{
	char key[GL_CACHE_KEY_MAX], member[25];

	if (due_key(key, sizeof(key), coll) < 0)
		return;
	bson_oid_to_string(id, member);
	const char *argv[] = { "ZREM", key, member };
	if (due_run(3, argv) != GL_OK)
		gl_log(GL_LOG_WARN, NULL, "an entry stays in %s until its tick drops it", coll);
}

/* This thread's riding change (due.h): an index entry for kept.c's write script. */
static __thread struct {
	bool on, rode;
	const char *coll; /* borrowed until gl_due_riding_end() */
	bson_oid_t id;
	int64_t expires; /* -1: a drop */
	struct gl_kept_index e;
} due_rider;

static void
due_ride(const char *coll, const bson_oid_t *id, int64_t expires)
{
	due_rider.coll = coll;
	bson_oid_copy(id, &due_rider.id);
	due_rider.expires = expires;
	due_rider.rode = false;
	/* No key: nothing rides, and gl_due_riding_end() changes it the usual way. */
	due_rider.on = due_key(due_rider.e.key, sizeof(due_rider.e.key), coll) >= 0;
	if (expires < 0)
		due_rider.e.score[0] = '\0';
	else
		snprintf(due_rider.e.score, sizeof(due_rider.e.score), "%lld", (long long)expires);
	bson_oid_to_string(id, due_rider.e.member);
}

void
gl_due_drop_riding(const char *coll, const bson_oid_t *id)
{
	due_ride(coll, id, -1);
}

void
gl_due_move_riding(const char *coll, const bson_oid_t *id, int64_t expires)
{
	due_ride(coll, id, expires < 0 ? 0 : expires);
}

const struct gl_kept_index *
gl_due_riding_for(const char *hex)
{
	return due_rider.on && !due_rider.rode && strcmp(due_rider.e.member, hex) == 0
	               ? &due_rider.e
	               : NULL;
}

void
gl_due_rode(void)
{
	due_rider.rode = true;
}

void
gl_due_riding_end(bool apply)
{
	bool rode = due_rider.on && due_rider.rode;
	const char *coll = due_rider.coll;

	due_rider.on = false;
	due_rider.coll = NULL;
	if (!apply || rode || coll == NULL)
		return;
	if (due_rider.expires < 0)
		gl_due_drop(coll, &due_rider.id);
	else if (gl_due_move(coll, &due_rider.id, due_rider.expires) != GL_OK)
		gl_log(GL_LOG_WARN, NULL, "an entry of %s was not moved: it comes up early", coll);
}

/*
 * Before the store held them, due lists were MongoDB collections of {_id,
 * expires}.  Once per list, whatever such a collection still holds moves
 * into the store (ZADD NX: a newer entry wins), so an upgrade misses no
 * expiry; a marker in the store says it is done.
 */
static void
due_import(const char *coll, const char *key)
{
	static _Thread_local char done[4][48];
	char marker[GL_CACHE_KEY_MAX + 16];
	json_t *all, *e;
	size_t i, slot;
	redisReply *r;
	int have;

	for (slot = 0; slot < 4 && done[slot][0] != '\0'; slot++)
		if (strcmp(done[slot], coll) == 0)
			return;
	snprintf(marker, sizeof(marker), "%s:imported", key);
	have = gl_redis_exists(GL_REDIS_STORE, marker);
	if (have < 0)
		return;
	if (have == 0) {
		if (gl_db_find_all(coll, NULL, 100000, &all) != GL_OK)
			return; /* MongoDB away: the next tick tries again */
		json_array_foreach(all, i, e) {
			bson_oid_t oid;
			if (gl_oid_parse(json_string_value(json_object_get(e, "id")), &oid) &&
			    due_set(coll, &oid, json_integer_value(json_object_get(e, "expires")),
			            "NX") != GL_OK) {
				json_decref(all);
				return;
			}
		}
		if (json_array_size(all) > 0)
			gl_log(GL_LOG_INFO, NULL, "due: %zu entries of %s moved into the store",
			       json_array_size(all), coll);
		json_decref(all);
		const char *set[] = { "SET", marker, "1" };
		if ((r = gl_redis_strv(GL_REDIS_STORE, 3, set)) == NULL)
			return;
		freeReplyObject(r);
		bson_t everything = BSON_INITIALIZER;
		if (gl_db_delete_where(coll, &everything, NULL) != GL_OK)
			gl_log(GL_LOG_DEBUG, NULL, "due: the old %s collection stays", coll);
		bson_destroy(&everything);
	}
	if (slot < 4)
		snprintf(done[slot], sizeof(done[slot]), "%s", coll);
}

enum gl_err
gl_due_find(const char *coll, bson_oid_t *ids, size_t max, size_t *n)
{
	char key[GL_CACHE_KEY_MAX], now_s[24], count[24];
	redisReply *r;

	*n = 0;
	if (max > GL_DUE_MAX)
		max = GL_DUE_MAX;

	if (due_key(key, sizeof(key), coll) < 0)
		return GL_E_INTERNAL;
	due_import(coll, key);
	snprintf(now_s, sizeof(now_s), "%lld", (long long)time(NULL));
	snprintf(count, sizeof(count), "%zu", max);
	const char *argv[] = { "ZRANGEBYSCORE", key, "-inf", now_s, "LIMIT", "0", count };
	r = gl_redis_strv(GL_REDIS_STORE, 7, argv);
	if (r == NULL || r->type != REDIS_REPLY_ARRAY) {
		if (r != NULL)
			freeReplyObject(r);
		return GL_E_UPSTREAM_DOWN; /* the store is away: the next tick asks again */
	}
	for (size_t i = 0; i < r->elements && *n < max; i++) {
		const redisReply *e = r->element[i];
		if (e->type != REDIS_REPLY_STRING)
			continue;
		if (gl_oid_parse(e->str, &ids[*n])) {
			(*n)++;
			continue;
		}
		/* Not an id (nothing galley adds): dropped, or once the oldest it would take a
		 * place of every find for good. */
		const char *zrem[] = { "ZREM", key, e->str };
		if (due_run(3, zrem) == GL_OK)
			gl_log(GL_LOG_WARN, NULL, "due: %s held a member that is no id; dropped",
			       coll);
	}
	freeReplyObject(r);
	return GL_OK;
}

enum gl_err
gl_due_pick(const char *coll, const char *kept_coll, size_t max, int hold_s, bool *listed,
            bson_oid_t *id, json_t **doc)
{
	char key[GL_CACHE_KEY_MAX];
	int64_t now = (int64_t)time(NULL);

	*listed = false;
	*doc = NULL;
	if (due_key(key, sizeof(key), coll) < 0)
		return GL_E_INTERNAL;
	due_import(coll, key);
	return gl_kept_get_listed(kept_coll, key, now, max > GL_DUE_MAX ? GL_DUE_MAX : max,
	                          (unsigned)random(), hold_s > 0 ? now + hold_s : 0, listed, id,
	                          doc);
}

void
gl_due_each(const char *coll, size_t max, void (*settle)(const bson_oid_t *id))
{
	bson_oid_t ids[GL_DUE_MAX];
	size_t i, n;

	if (gl_due_find(coll, ids, max, &n) != GL_OK)
		return;
	for (i = 0; i < n && !gl_stop_requested(); i++)
		settle(&ids[i]);
}
