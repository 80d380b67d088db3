/*
 * The store → MongoDB: every level and ended reservation a script marked in
 * "galley:stock:dirty" (key → changes since) is written to MongoDB, once
 * per tick however often it changed, by one process at a time.  A mark is
 * cleared only if nothing changed it since it was read, so a change made
 * meanwhile is written at the next tick.
 */
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "db.h"
#include "doc.h"
#include "log.h"
#include "redis.h"
#include "stock.h"
#include "stop.h"

#define PROJECT_BATCH   500
#define PROJECT_LOCK_MS "10000"

static const char clear_lua[] = "for i = 1, #ARGV, 2 do"
                                " if redis.call('HGET', KEYS[1], ARGV[i]) == ARGV[i + 1] then"
                                "  redis.call('HDEL', KEYS[1], ARGV[i]) end "
                                "end return 1";

/* Level key "galley:stock:level:<item>" → MongoDB "levels" {_id: item, on_hand, reserved}. */
static enum gl_err
project_level(const char *key, const char *item)
{
	bson_t filter = BSON_INITIALIZER, update = BSON_INITIALIZER, set;
	redisReply *r;
	bson_oid_t oid;
	enum gl_err err;

	if (!gl_oid_parse(item, &oid))
		return GL_OK; /* not a key a script writes: the mark goes */
	const char *argv[] = { "HMGET", key, "on_hand", "reserved" };
	if ((r = gl_redis_strv(GL_REDIS_STORE, 4, argv)) == NULL)
		return GL_E_UPSTREAM_DOWN;
	BSON_APPEND_OID(&filter, "_id", &oid);
	BSON_APPEND_DOCUMENT_BEGIN(&update, "$set", &set);
	BSON_APPEND_INT64(&set, "on_hand", stock_reply_int(r, 0, 0));
	BSON_APPEND_INT64(&set, "reserved", stock_reply_int(r, 1, 0));
	BSON_APPEND_DATE_TIME(&set, "at", (int64_t)time(NULL) * 1000);
	bson_append_document_end(&update, &set);
	freeReplyObject(r);
	err = gl_db_upsert("levels", &filter, &update);
	bson_destroy(&filter);
	bson_destroy(&update);
	return err;
}

/* The fields of each reservation named in KEYS, in one round trip for a batch. */
static const char res_read_lua[] = "local out = {} for i = 1, #KEYS do"
                                   " out[i] = redis.call('HMGET', KEYS[i], 'order_id', 'lines',"
                                   " 'state', 'expires', 'version') "
                                   "end return out";

/* An ended reservation id, its fields r (borrowed, res_read_lua's), → its MongoDB
 * "reservations" document in *doc (initialised when *made); nothing when it is gone or still
 * holding. */
static void
project_res(const char *id, const redisReply *r, bson_t *doc, bool *made)
{
	bson_t lines;
	bson_oid_t oid, order;
	bson_error_t error;

	*made = false;
	if (!gl_oid_parse(id, &oid) || r == NULL || r->type != REDIS_REPLY_ARRAY ||
	    r->elements != 5 || r->element[0]->type != REDIS_REPLY_STRING ||
	    r->element[1]->type != REDIS_REPLY_STRING ||
	    r->element[2]->type != REDIS_REPLY_STRING ||
	    strcmp(r->element[2]->str, "holding") == 0 || !gl_oid_parse(r->element[0]->str, &order))
		return; /* gone (kept long enough), or still holding: nothing to write */
	if (!bson_init_from_json(&lines, r->element[1]->str, -1, &error))
		return;
	bson_init(doc);
	BSON_APPEND_OID(doc, "_id", &oid);
	BSON_APPEND_OID(doc, "order_id", &order);
	BSON_APPEND_ARRAY(doc, "lines", &lines);
	BSON_APPEND_UTF8(doc, "state", r->element[2]->str);
	BSON_APPEND_DATE_TIME(doc, "expires_at", stock_reply_int(r, 3, 0) * 1000);
	BSON_APPEND_INT64(doc, "version", stock_reply_int(r, 4, 1));
	bson_destroy(&lines);
	*made = true;
}

/* The fields of the reservations among the marked keys kv ([key, count, ...]), in one round
 * trip: *fields res_read_lua's reply (new), an array in the order of the reservation keys of
 * kv, or NULL when there is none (no round trip then); false when the store did not answer. */
static bool
project_res_read(const redisReply *kv, redisReply **fields)
{
	const char *keys[PROJECT_BATCH];
	size_t n = 0;

	*fields = NULL;
	for (size_t i = 0; i + 1 < kv->elements && n < PROJECT_BATCH; i += 2)
		if (kv->element[i]->type == REDIS_REPLY_STRING &&
		    strncmp(kv->element[i]->str, "galley:stock:res:", 17) == 0)
			keys[n++] = kv->element[i]->str;
	if (n == 0)
		return true;
	if ((*fields = gl_redis_eval(GL_REDIS_STORE, res_read_lua, (int)n, keys, 0, NULL)) !=
	            NULL &&
	    ((*fields)->type != REDIS_REPLY_ARRAY || (*fields)->elements != n)) {
		freeReplyObject(*fields);
		*fields = NULL;
	}
	return *fields != NULL;
}

/* Write up to PROJECT_BATCH marked documents (the ended reservations in one round trip);
 * clear the marks of those written. */
static void
project_batch(void)
{
	const char *argv[] = { "HSCAN", "galley:stock:dirty", "0", "COUNT", "500" };
	const char *done[2 * PROJECT_BATCH];
	bson_t res[PROJECT_BATCH]; /* 64 KB of the tick thread's stack */
	const bson_t *docs[PROJECT_BATCH];
	redisReply *r, *c, *fields = NULL;
	size_t n = 0, nres = 0;
	enum gl_err err = GL_OK;

	if ((r = gl_redis_strv(GL_REDIS_STORE, 5, argv)) == NULL)
		return;
	if (r->type == REDIS_REPLY_ARRAY && r->elements == 2 &&
	    r->element[1]->type == REDIS_REPLY_ARRAY && project_res_read(r->element[1], &fields)) {
		const redisReply *kv = r->element[1];
		size_t at = 0; /* the next reservation's fields in fields */
		for (size_t i = 0; i + 1 < kv->elements && n < PROJECT_BATCH; i += 2) {
			const char *key = kv->element[i]->str, *count = kv->element[i + 1]->str;
			bool made = false;
			if (gl_stop_requested() || kv->element[i]->type != REDIS_REPLY_STRING ||
			    kv->element[i + 1]->type != REDIS_REPLY_STRING)
				break;
			if (strncmp(key, "galley:stock:level:", 19) == 0)
				err = project_level(key, key + 19);
			else if (strncmp(key, "galley:stock:res:", 17) == 0 && fields != NULL &&
			         at < fields->elements) {
				project_res(key + 17, fields->element[at++], &res[nres], &made);
				if (made) {
					docs[nres] = &res[nres];
					nres++;
				}
			}
			if (err != GL_OK)
				break; /* MongoDB away: the rest stays marked */
			done[2 * n] = key;
			done[2 * n + 1] = count;
			n++;
		}
	}
	/* Inserted; replaced whole when one is there already (a tick wrote it but died before it
	 * could clear its mark). */
	if (nres > 0 && (err = gl_db_insert_docs("reservations", docs, nres)) == GL_E_CONFLICT)
		err = gl_db_put_docs("reservations", docs, nres);
	if (nres > 0 && err != GL_OK)
		n = 0; /* MongoDB away: every mark stays for the next tick */
	for (size_t i = 0; i < nres; i++)
		bson_destroy(&res[i]);
	if (n > 0) {
		const char *keys[] = { "galley:stock:dirty" };
		if ((c = gl_redis_eval(GL_REDIS_STORE, clear_lua, 1, keys, (int)(2 * n), done)) !=
		    NULL)
			freeReplyObject(c);
	}
	if (fields != NULL)
		freeReplyObject(fields);
	freeReplyObject(r);
}

void
stock_project(void)
{
	const char *lock[] = { "SET", "galley:stock:projecting", "1", "NX", "PX", PROJECT_LOCK_MS };
	const char *unlock[] = { "DEL", "galley:stock:projecting" };
	redisReply *r;

	/* One process at a time: two would write the same documents for nothing. */
	if ((r = gl_redis_strv(GL_REDIS_STORE, 6, lock)) == NULL)
		return;
	bool mine = r->type == REDIS_REPLY_STATUS;
	freeReplyObject(r);
	if (!mine)
		return;
	project_batch();
	if ((r = gl_redis_strv(GL_REDIS_STORE, 2, unlock)) != NULL)
		freeReplyObject(r);
}
