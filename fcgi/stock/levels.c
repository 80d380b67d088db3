/* An item's level in the store: loaded from MongoDB when missing, read, set. */
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "db.h"
#include "doc.h"
#include "log.h"
#include "redis.h"
#include "stock.h"

void
stock_level_key(char *buf, size_t size, const char *item)
{
	snprintf(buf, size, "galley:stock:level:%s", item);
}

long long
stock_reply_int(const redisReply *r, size_t i, long long def)
{
	const redisReply *e;

	if (r == NULL || r->type != REDIS_REPLY_ARRAY || i >= r->elements)
		return def;
	e = r->element[i];
	if (e->type == REDIS_REPLY_INTEGER)
		return e->integer;
	if (e->type == REDIS_REPLY_STRING)
		return strtoll(e->str, NULL, 10);
	return def;
}

/*
 * What MongoDB knows of item's on_hand: its "levels" document (what the
 * tick wrote), else the latest entry of the ledger an older galley kept
 * ("heads", then the entries after it), else 0.
 */
static enum gl_err
level_recorded(const char *item, long long *on_hand)
{
	bson_oid_t oid;
	json_t *doc = NULL;
	enum gl_err err;
	long long seq;

	*on_hand = 0;
	if (!gl_oid_parse(item, &oid))
		return GL_E_INTERNAL;
	if ((err = gl_db_get("levels", &oid, &doc)) == GL_OK) {
		*on_hand = json_integer_value(json_object_get(doc, "on_hand"));
		json_decref(doc);
		return GL_OK;
	}
	if (err != GL_E_NOT_FOUND)
		return err;
	if ((err = gl_db_get("heads", &oid, &doc)) == GL_E_NOT_FOUND)
		return GL_OK; /* never counted */
	if (err != GL_OK)
		return err;
	seq = json_integer_value(json_object_get(doc, "seq"));
	*on_hand = json_integer_value(json_object_get(doc, "on_hand"));
	json_decref(doc);
	for (;;) { /* the head is a hint, at worst behind its ledger */
		bson_t filter = BSON_INITIALIZER;
		char id[48];
		snprintf(id, sizeof(id), "%s:%lld", item, ++seq);
		BSON_APPEND_UTF8(&filter, "_id", id);
		err = gl_db_find_one("ledger", &filter, &doc);
		bson_destroy(&filter);
		if (err == GL_E_NOT_FOUND)
			return GL_OK;
		if (err != GL_OK)
			return err;
		*on_hand = json_integer_value(json_object_get(doc, "on_hand"));
		json_decref(doc);
	}
}

/* Set the level only if the store has none: a live one is never overwritten. */
static const char level_load_lua[] =
        "if redis.call('EXISTS', KEYS[1]) == 0 then"
        " redis.call('HSET', KEYS[1], 'on_hand', ARGV[1], 'reserved', 0) end "
        "return 1";

enum gl_err
stock_level_load(const char *item)
{
	char key[64], n[24];
	long long on_hand;
	redisReply *r;
	enum gl_err err;

	if ((err = level_recorded(item, &on_hand)) != GL_OK)
		return err;
	stock_level_key(key, sizeof(key), item);
	snprintf(n, sizeof(n), "%lld", on_hand);
	const char *keys[] = { key }, *args[] = { n };
	if ((r = gl_redis_eval(GL_REDIS_STORE, level_load_lua, 1, keys, 1, args)) == NULL)
		return GL_E_UPSTREAM_DOWN;
	err = r->type == REDIS_REPLY_INTEGER ? GL_OK : GL_E_INTERNAL;
	if (err != GL_OK)
		gl_log(GL_LOG_ERROR, NULL, "stock: loading the level of %s: %s", item,
		       r->type == REDIS_REPLY_ERROR ? r->str : "an unexpected reply");
	freeReplyObject(r);
	return err;
}

enum gl_err
stock_level_get(const char *item, struct stock_level *level)
{
	char key[64];
	redisReply *r;
	enum gl_err err;

	stock_level_key(key, sizeof(key), item);
	for (int tries = 0; tries < 2; tries++) {
		const char *argv[] = { "HMGET", key, "on_hand", "reserved" };
		if ((r = gl_redis_strv(GL_REDIS_STORE, 4, argv)) == NULL)
			return GL_E_UPSTREAM_DOWN;
		bool have = r->type == REDIS_REPLY_ARRAY && r->elements == 2 &&
		            r->element[0]->type == REDIS_REPLY_STRING;
		level->on_hand = stock_reply_int(r, 0, 0);
		level->reserved = stock_reply_int(r, 1, 0);
		freeReplyObject(r);
		if (have)
			return GL_OK;
		if ((err = stock_level_load(item)) != GL_OK)
			return err;
	}
	return GL_E_INTERNAL;
}

/*
 * on_hand := ARGV[1] unless fewer than reserved; marks the level for
 * MongoDB.  {1, on_hand, reserved}, {0, on_hand, reserved} when refused,
 * or {-1} when the store has no level (load it first).
 */
static const char level_set_lua[] =
        "if redis.call('EXISTS', KEYS[1]) == 0 then return {-1} end "
        "local h = redis.call('HMGET', KEYS[1], 'on_hand', 'reserved') "
        "local reserved = tonumber(h[2]) or 0 "
        "if tonumber(ARGV[1]) < reserved then return {0, tonumber(h[1]) or 0, reserved} end "
        "redis.call('HSET', KEYS[1], 'on_hand', ARGV[1]) "
        "redis.call('HINCRBY', KEYS[2], KEYS[1], 1) "
        "return {1, tonumber(ARGV[1]), reserved}";

enum gl_err
stock_level_set(const char *item, long long n, struct stock_level *level)
{
	char key[64], qty[24];
	redisReply *r;
	enum gl_err err;
	long long rc;

	stock_level_key(key, sizeof(key), item);
	snprintf(qty, sizeof(qty), "%lld", n);
	const char *keys[] = { key, "galley:stock:dirty" }, *args[] = { qty };
	for (int tries = 0; tries < 2; tries++) {
		if ((r = gl_redis_eval(GL_REDIS_STORE, level_set_lua, 2, keys, 1, args)) == NULL)
			return GL_E_UPSTREAM_DOWN;
		rc = stock_reply_int(r, 0, -2);
		level->on_hand = stock_reply_int(r, 1, 0);
		level->reserved = stock_reply_int(r, 2, 0);
		if (rc == -2)
			gl_log(GL_LOG_ERROR, NULL, "stock: setting the level of %s: %s", item,
			       r->type == REDIS_REPLY_ERROR ? r->str : "an unexpected reply");
		freeReplyObject(r);
		if (rc == 1)
			return GL_OK;
		if (rc == 0)
			return GL_E_CONFLICT;
		if (rc == -2)
			return GL_E_INTERNAL;
		if ((err = stock_level_load(item)) != GL_OK)
			return err;
	}
	return GL_E_INTERNAL;
}
