#include <stdio.h>
#include <string.h>
#include <time.h>

#include "cache.h"
#include "db.h"
#include "doc.h"
#include "due.h"
#include "log.h"
#include "redis.h"
#include "stop.h"

static int
due_key(char *buf, size_t size, const char *coll)
{
	return gl_cache_key(buf, size, "due", coll);
}

/* Tell Redis's index (else the periodic scan finds it). */
static void
due_index(const char *coll, const bson_oid_t *id, int64_t expires)
{
	char key[GL_CACHE_KEY_MAX], score[24], member[25];
	redisReply *r;

	if (due_key(key, sizeof(key), coll) < 0)
		return;
	snprintf(score, sizeof(score), "%lld", (long long)expires);
	bson_oid_to_string(id, member);
	const char *argv[] = { "ZADD", key, score, member };
	if ((r = gl_redis_strv(4, argv)) != NULL)
		freeReplyObject(r);
}

enum gl_err
gl_due_add(const char *coll, const bson_oid_t *id, int64_t expires)
{
	bson_t doc = BSON_INITIALIZER;
	enum gl_err err;

	BSON_APPEND_OID(&doc, "_id", id);
	BSON_APPEND_INT64(&doc, "expires", expires);
	err = gl_db_insert(coll, &doc);
	bson_destroy(&doc);
	if (err == GL_OK)
		due_index(coll, id, expires);
	return err;
}

enum gl_err
gl_due_move(const char *coll, const bson_oid_t *id, int64_t expires)
{
	bson_t filter = BSON_INITIALIZER, update = BSON_INITIALIZER, set;
	enum gl_err err;

	BSON_APPEND_OID(&filter, "_id", id);
	BSON_APPEND_DOCUMENT_BEGIN(&update, "$set", &set);
	BSON_APPEND_INT64(&set, "expires", expires);
	bson_append_document_end(&update, &set);
	err = gl_db_update_where(coll, &filter, &update);
	bson_destroy(&filter);
	bson_destroy(&update);
	if (err == GL_OK)
		due_index(coll, id, expires);
	return err;
}

void
gl_due_drop(const char *coll, const bson_oid_t *id)
{
	bson_t filter = BSON_INITIALIZER;
	char key[GL_CACHE_KEY_MAX], member[25];
	redisReply *r;

	BSON_APPEND_OID(&filter, "_id", id);
	if (gl_db_delete_where(coll, &filter, NULL) != GL_OK)
		gl_log(GL_LOG_WARN, NULL, "an entry stays in %s until its tick drops it", coll);
	bson_destroy(&filter);
	if (due_key(key, sizeof(key), coll) < 0)
		return;
	bson_oid_to_string(id, member);
	const char *argv[] = { "ZREM", key, member };
	if ((r = gl_redis_strv(3, argv)) != NULL)
		freeReplyObject(r);
}

/* The collection itself: every entry due, read whole (see due.h). */
static enum gl_err
due_scan(const char *coll, int max, json_t **out)
{
	bson_t filter = BSON_INITIALIZER, lte;
	json_t *all, *e;
	enum gl_err err;
	size_t i;

	BSON_APPEND_DOCUMENT_BEGIN(&filter, "expires", &lte);
	BSON_APPEND_INT64(&lte, "$lte", (int64_t)time(NULL));
	bson_append_document_end(&filter, &lte);
	err = gl_db_find_all(coll, &filter, max, &all);
	bson_destroy(&filter);
	if (err != GL_OK)
		return err;
	*out = json_array();
	json_array_foreach(all, i, e)
	        json_array_append_new(*out, json_pack("{s:O}", "id", json_object_get(e, "id")));
	json_decref(all);
	return GL_OK;
}

enum gl_err
gl_due_find(const char *coll, int max, json_t **out)
{
	static _Thread_local time_t scanned;
	char key[GL_CACHE_KEY_MAX], now_s[24], count[16];
	time_t now = time(NULL);
	redisReply *r;

	if (now - scanned >= GL_DUE_SCAN_S || due_key(key, sizeof(key), coll) < 0) {
		scanned = now;
		return due_scan(coll, max, out);
	}
	snprintf(now_s, sizeof(now_s), "%lld", (long long)now);
	snprintf(count, sizeof(count), "%d", max);
	const char *argv[] = { "ZRANGEBYSCORE", key, "-inf", now_s, "LIMIT", "0", count };
	r = gl_redis_strv(7, argv);
	if (r == NULL || r->type != REDIS_REPLY_ARRAY) {
		if (r != NULL)
			freeReplyObject(r);
		return due_scan(coll, max, out); /* Redis away: the truth, read whole */
	}
	*out = json_array();
	for (size_t i = 0; i < r->elements; i++) {
		bson_oid_t oid;
		if (r->element[i]->type == REDIS_REPLY_STRING &&
		    gl_oid_parse(r->element[i]->str, &oid))
			json_array_append_new(*out, json_pack("{s:s}", "id", r->element[i]->str));
	}
	freeReplyObject(r);
	return GL_OK;
}

void
gl_due_each(const char *coll, int max, void (*settle)(const bson_oid_t *id))
{
	json_t *due, *e;
	bson_oid_t oid;
	size_t i;

	if (gl_due_find(coll, max, &due) != GL_OK)
		return;
	json_array_foreach(due, i, e)
	{
		if (gl_stop_requested())
			break;
		if (gl_oid_parse(json_string_value(json_object_get(e, "id")), &oid))
			settle(&oid);
	}
	json_decref(due);
}
