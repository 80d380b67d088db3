#include <mongoc/mongoc.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "board.h"
#include "conf.h"
#include "db.h"
#include "doc.h"
#include "kept.h"
#include "log.h"
#include "metrics.h"
#include "redis.h"

/* The driver waits this many times GALLEY_DB_TIMEOUT_MS for an answer (a write or a find that
 * is merely slow), and a list's query may run half a timeout less in the server (page_query),
 * so that the server's answer that it stopped comes before the driver gives up. */
#define DB_SOCKET_TIMES 3

static mongoc_client_pool_t *db_pool;
static char db_name[64];

/* The driver's own messages, as JSON lines like every other. */
static void
db_log_handler(mongoc_log_level_t level, const char *domain, const char *message, void *data)
{
	enum gl_log_level l = level <= MONGOC_LOG_LEVEL_CRITICAL  ? GL_LOG_ERROR
	                      : level <= MONGOC_LOG_LEVEL_WARNING ? GL_LOG_WARN
	                      : level <= MONGOC_LOG_LEVEL_INFO    ? GL_LOG_INFO
	                                                          : GL_LOG_DEBUG;
	(void)data;
	/* FerretDB 1.x has no endSessions; the driver's complaint at exit is noise. */
	if (strstr(message, "endSessions") != NULL)
		l = GL_LOG_DEBUG;
	gl_log(l, NULL, "mongoc %s: %s", domain, message);
}

/* Every command the driver sends is a round trip: counted for /metrics by its name. */
static void
db_command_started(const mongoc_apm_command_started_t *event)
{
	const char *name = mongoc_apm_command_started_get_command_name(event);

	gl_metrics_db_op(name);
	gl_board_wait("mongo", name); /* the pool's status: where a request waits (board.h) */
}

static void
db_command_succeeded(const mongoc_apm_command_succeeded_t *event)
{
	(void)event;
	gl_board_wait(NULL, NULL);
}

static void
db_command_failed(const mongoc_apm_command_failed_t *event)
{
	(void)event;
	gl_board_wait(NULL, NULL);
}

int
gl_db_open(void)
{
	bson_error_t error;
	mongoc_uri_t *uri;

	mongoc_init();
	mongoc_log_set_handler(db_log_handler, NULL);
	uri = mongoc_uri_new_with_error(gl_conf.mongo_uri, &error);
	if (uri == NULL) {
		gl_log(GL_LOG_ERROR, NULL, "GALLEY_MONGO_URI is not a MongoDB URI: %s",
		       error.message);
		return -1;
	}
	/* Fail fast when the server is away, so the caller can answer 503 in time. */
	if (!mongoc_uri_has_option(uri, MONGOC_URI_SERVERSELECTIONTIMEOUTMS))
		mongoc_uri_set_option_as_int32(uri, MONGOC_URI_SERVERSELECTIONTIMEOUTMS,
		                               (int32_t)gl_conf.db_timeout_ms);
	if (!mongoc_uri_has_option(uri, MONGOC_URI_CONNECTTIMEOUTMS))
		mongoc_uri_set_option_as_int32(uri, MONGOC_URI_CONNECTTIMEOUTMS,
		                               (int32_t)gl_conf.db_timeout_ms);
	/* The pool's monitor looks every second (the driver's default is 10 s): a server that
	 * restarted is then seen before a request meets one of its dead connections (which
	 * failed the first write of a service after `bin/galley restart-mongo`). */
	if (!mongoc_uri_has_option(uri, MONGOC_URI_HEARTBEATFREQUENCYMS))
		mongoc_uri_set_option_as_int32(uri, MONGOC_URI_HEARTBEATFREQUENCYMS, 1000);
	if (!mongoc_uri_has_option(uri, MONGOC_URI_SOCKETTIMEOUTMS))
		mongoc_uri_set_option_as_int32(uri, MONGOC_URI_SOCKETTIMEOUTMS,
		                               (int32_t)(gl_conf.db_timeout_ms * DB_SOCKET_TIMES));
	db_pool = mongoc_client_pool_new(uri);
	mongoc_uri_destroy(uri);
	if (db_pool == NULL) {
		gl_log(GL_LOG_ERROR, NULL, "cannot create the MongoDB client pool");
		return -1;
	}
	mongoc_client_pool_set_error_api(db_pool, MONGOC_ERROR_API_VERSION_2);
	mongoc_client_pool_set_appname(db_pool, "galley");
	mongoc_apm_callbacks_t *apm = mongoc_apm_callbacks_new();
	mongoc_apm_set_command_started_cb(apm, db_command_started);
	mongoc_apm_set_command_succeeded_cb(apm, db_command_succeeded);
	mongoc_apm_set_command_failed_cb(apm, db_command_failed);
	mongoc_client_pool_set_apm_callbacks(db_pool, apm, NULL);
	mongoc_apm_callbacks_destroy(apm);
	snprintf(db_name, sizeof(db_name), "galley_%s", gl_conf.service);
	/* The first pop starts the pool's monitor threads: do it now, under the
	 * caller's signal mask (see app.c), not in the middle of a request. */
	mongoc_client_t *c = mongoc_client_pool_pop(db_pool);
	if (c != NULL)
		mongoc_client_pool_push(db_pool, c);
	return 0;
}

void
gl_db_close(void)
{
	if (db_pool != NULL)
		mongoc_client_pool_destroy(db_pool);
	db_pool = NULL;
	mongoc_cleanup();
}

/* Sort a driver error by blame. */
static enum gl_err
db_error(const char *what, const bson_error_t *error)
{
	if (error->code == 11000 || error->code == 11001)
		return GL_E_CONFLICT;
	if (error->code == 50 &&
	    (error->domain == MONGOC_ERROR_SERVER || error->domain == MONGOC_ERROR_QUERY)) {
		/* MaxTimeMSExpired: a list's time ran out (page_query) */
		gl_log(GL_LOG_WARN, NULL, "mongodb %s: %s", what, error->message);
		return GL_E_UPSTREAM_TIMEOUT;
	}
	if (error->domain == MONGOC_ERROR_SERVER_SELECTION ||
	    error->domain == MONGOC_ERROR_STREAM || error->domain == MONGOC_ERROR_CLIENT) {
		gl_log(GL_LOG_WARN, NULL, "mongodb %s: %s", what, error->message);
		if (strstr(error->message, "timed out") != NULL ||
		    strstr(error->message, "timeout") != NULL)
			return GL_E_UPSTREAM_TIMEOUT;
		return GL_E_UPSTREAM_DOWN;
	}
	gl_log(GL_LOG_ERROR, NULL, "mongodb %s: %s (domain %u, code %u)", what, error->message,
	       error->domain, error->code);
	return GL_E_INTERNAL;
}

struct db_conn {
	mongoc_client_t *client;
	mongoc_collection_t *coll;
};

static enum gl_err
db_take(struct db_conn *c, const char *coll)
{
	c->client = db_pool != NULL ? mongoc_client_pool_pop(db_pool) : NULL;
	if (c->client == NULL)
		return GL_E_UPSTREAM_DOWN;
	c->coll = coll != NULL ? mongoc_client_get_collection(c->client, db_name, coll) : NULL;
	return GL_OK;
}

static void
db_give(struct db_conn *c)
{
	if (c->coll != NULL)
		mongoc_collection_destroy(c->coll);
	if (c->client != NULL)
		mongoc_client_pool_push(db_pool, c->client);
	c->coll = NULL;
	c->client = NULL;
}

enum gl_err
gl_db_ping(void)
{
	struct db_conn c;
	bson_error_t error;
	bson_t reply;
	bson_t *cmd = BCON_NEW("ping", BCON_INT32(1));
	enum gl_err err;

	if ((err = db_take(&c, NULL)) != GL_OK) {
		bson_destroy(cmd);
		return err;
	}
	/* No read preference: the primary's.  On a replica set without one (an election
	 * under way, a majority lost) no server is selected: readyz says 503, since no
	 * write could be made either. */
	bool ok = mongoc_client_command_simple(c.client, "admin", cmd, NULL, &reply, &error);
	bson_destroy(&reply);
	bson_destroy(cmd);
	db_give(&c);
	return ok ? GL_OK : GL_E_UPSTREAM_DOWN;
}

enum gl_err
gl_db_insert(const char *coll, const bson_t *doc)
{
	struct db_conn c;
	bson_error_t error;
	enum gl_err err;

	if (gl_kept_is(coll))
		return gl_kept_insert(coll, doc, NULL, 0);
	if ((err = db_take(&c, coll)) != GL_OK)
		return err;
	if (!mongoc_collection_insert_one(c.coll, doc, NULL, NULL, &error))
		err = db_error("insert", &error);
	db_give(&c);
	return err;
}

enum gl_err
gl_db_insert_indexed(const char *coll, const bson_t *doc, const struct gl_kept_index *idx, size_t n)
{
	if (gl_kept_is(coll))
		return gl_kept_insert(coll, doc, idx, n);
	for (size_t i = 0; i < n; i++) {
		const char *argv[] = { "ZADD", idx[i].key, idx[i].score, idx[i].member };
		redisReply *r = gl_redis_strv(GL_REDIS_STORE, 4, argv);
		enum gl_err err = r == NULL                        ? GL_E_UPSTREAM_DOWN
		                  : r->type == REDIS_REPLY_INTEGER ? GL_OK
		                                                   : GL_E_INTERNAL;
		if (r != NULL)
			freeReplyObject(r);
		if (err != GL_OK)
			return err;
	}
	return gl_db_insert(coll, doc);
}

/* Call step with each document matching filter with opts, up to max (< 0: all), in one
 * cursor; a kept collection's dirty documents written to MongoDB first. Stops at step's
 * first error. */
static enum gl_err
db_each(const char *coll, const bson_t *filter, const bson_t *opts, long max, gl_db_each_fn step,
        void *ctx)
{
	struct db_conn c;
	bson_error_t error;
	mongoc_cursor_t *cur;
	const bson_t *doc;
	enum gl_err err;
	long n = 0;

	/* A query by filter reads MongoDB: what the store holds for it goes there first. */
	if (gl_kept_is(coll) && (err = gl_kept_flush(coll)) != GL_OK)
		return err;
	if ((err = db_take(&c, coll)) != GL_OK)
		return err;
	cur = mongoc_collection_find_with_opts(c.coll, filter, opts, NULL);
	while (err == GL_OK && (max < 0 || n < max) && mongoc_cursor_next(cur, &doc)) {
		err = step(doc, ctx);
		n++;
	}
	if (err == GL_OK && mongoc_cursor_error(cur, &error))
		err = db_error("find", &error);
	mongoc_cursor_destroy(cur);
	db_give(&c);
	return err;
}

/* db_find's step: the document as JSON onto the list, its _id as the last seen. */
struct db_found {
	const char *coll;
	json_t *items;
	bson_oid_t *last;
};

static enum gl_err
db_found_one(const bson_t *doc, void *ctx)
{
	struct db_found *f = ctx;
	json_t *j = gl_doc_to_json_new(doc);
	bson_iter_t it;

	if (j == NULL) {
		gl_log(GL_LOG_ERROR, NULL, "a document in %s has a type galley cannot render",
		       f->coll);
		return GL_E_INTERNAL;
	}
	json_array_append_new(f->items, j);
	if (f->last != NULL && bson_iter_init_find(&it, doc, "_id") && BSON_ITER_HOLDS_OID(&it))
		bson_oid_copy(bson_iter_oid(&it), f->last);
	return GL_OK;
}

static enum gl_err
db_find(const char *coll, const bson_t *filter, const bson_t *opts, int max, json_t *items,
        bson_oid_t *last)
{
	struct db_found f = { coll, items, last };

	return db_each(coll, filter, opts, max, db_found_one, &f);
}

enum gl_err
gl_db_get(const char *coll, const bson_oid_t *id, json_t **out)
{
	bson_t filter = BSON_INITIALIZER;
	enum gl_err err;

	if (gl_kept_is(coll))
		return gl_kept_get(coll, id, out);
	BSON_APPEND_OID(&filter, "_id", id);
	err = gl_db_find_one(coll, &filter, out);
	bson_destroy(&filter);
	return err;
}

enum gl_err
gl_db_exists(const char *coll, const bson_oid_t *id)
{
	json_t *doc;
	enum gl_err err = gl_db_get(coll, id, &doc);

	json_decref(doc);
	return err;
}

/* Build {filter..., _id: {$gt: after}} sorted by _id. */
static void
page_query(bson_t *q, bson_t *opts, const bson_t *filter, const char *after, int limit)
{
	bson_oid_t oid;
	bson_t child;

	bson_init(q);
	if (filter != NULL)
		bson_concat(q, filter);
	if (after != NULL && gl_oid_parse(after, &oid)) {
		BSON_APPEND_DOCUMENT_BEGIN(q, "_id", &child);
		BSON_APPEND_OID(&child, "$gt", &oid);
		bson_append_document_end(q, &child);
	}
	bson_init(opts);
	BSON_APPEND_DOCUMENT_BEGIN(opts, "sort", &child);
	BSON_APPEND_INT32(&child, "_id", 1);
	bson_append_document_end(opts, &child);
	BSON_APPEND_INT64(opts, "limit", limit);
	/* The server stops the query when the driver would stop waiting for it (DB_SOCKET_TIMES):
	 * FerretDB reads, decodes and sorts the whole collection for a sorted page with any
	 * filter but {_id: value}, and went on to the end after the driver gave up
	 * (docs/performance.md). */
	BSON_APPEND_INT64(opts, "maxTimeMS",
	                  gl_conf.db_timeout_ms * DB_SOCKET_TIMES - gl_conf.db_timeout_ms / 2);
}

enum gl_err
gl_db_list(const char *coll, const bson_t *filter, const struct gl_page *page, json_t **out)
{
	bson_t q, opts;
	json_t *items = json_array();
	bson_oid_t last;
	char next[25];
	enum gl_err err;

	*out = NULL;
	if (items == NULL)
		return GL_E_INTERNAL;
	/* One more than asked tells whether there is a next page. */
	page_query(&q, &opts, filter, page->after, page->limit + 1);
	err = db_find(coll, &q, &opts, page->limit + 1, items, &last);
	bson_destroy(&q);
	bson_destroy(&opts);
	if (err != GL_OK) {
		json_decref(items);
		return err;
	}
	if (json_array_size(items) > (size_t)page->limit) {
		json_array_remove(items, (size_t)page->limit);
		json_t *lastj =
		        json_object_get(json_array_get(items, (size_t)page->limit - 1), "id");
		snprintf(next, sizeof(next), "%s", json_string_value(lastj));
		*out = json_pack("{s:o, s:s}", "items", items, "next", next);
	} else {
		*out = json_pack("{s:o, s:n}", "items", items, "next");
	}
	(void)last;
	return *out != NULL ? GL_OK : GL_E_INTERNAL;
}

enum gl_err
gl_db_each(const char *coll, const bson_t *filter, const bson_t *opts, gl_db_each_fn each,
           void *ctx)
{
	bson_t all = BSON_INITIALIZER;

	return db_each(coll, filter != NULL ? filter : &all, opts, -1, each, ctx);
}

enum gl_err
gl_db_find_all(const char *coll, const bson_t *filter, int max, json_t **out)
{
	bson_t q, opts;
	enum gl_err err;

	*out = json_array();
	if (*out == NULL)
		return GL_E_INTERNAL;
	page_query(&q, &opts, filter, NULL, max);
	err = db_find(coll, &q, &opts, max, *out, NULL);
	bson_destroy(&q);
	bson_destroy(&opts);
	if (err != GL_OK) {
		json_decref(*out);
		*out = NULL;
	}
	return err;
}

/*
 * FerretDB (the MongoDB-wire server bin/galley starts when there is no mongod) runs a
 * findAndModify as a read and then a separate write, so two updates of one document
 * guarded by the same version could both succeed, the later undoing the earlier (seen at
 * 4 pools: orders followed order.ready, then another process's order.paid and
 * order.preparing, and the order was left preparing).  So an update holds a short Redis
 * lock on its document: the loser then finds the version changed and gets GL_E_CONFLICT,
 * as with MongoDB, whose findAndModify is atomic anyway.  Redis away: no lock.
 */
#define DB_LOCK_MS      2000 /* a dead holder's lock lasts no longer */
#define DB_LOCK_WAIT_US 500000

/* 1 locked, 0 Redis away (go on unlocked), -1 still held by another after the wait. */
static int
db_lock(const char *key, const char *token)
{
	const char *argv[] = { "SET", key, token, "NX", "PX", "2000" };
	struct timespec pause = { 0, 2000000 };

	_Static_assert(DB_LOCK_MS == 2000, "the PX argument above");
	for (long long waited = 0; waited < DB_LOCK_WAIT_US; waited += 2000) {
		redisReply *r = gl_redis_strv(GL_REDIS_CACHE, 6, argv);
		int type = r != NULL ? r->type : -1;
		if (r != NULL)
			freeReplyObject(r);
		if (type == -1 || type == REDIS_REPLY_ERROR)
			return 0;
		if (type == REDIS_REPLY_STATUS)
			return 1;
		nanosleep(&pause, NULL);
	}
	return -1;
}

static void
db_unlock(const char *key, const char *token)
{
	const char *argv[] = { "EVAL",
		               "if redis.call('GET', KEYS[1]) == ARGV[1] then "
		               "return redis.call('DEL', KEYS[1]) end return 0",
		               "1", key, token };
	redisReply *r = gl_redis_strv(GL_REDIS_CACHE, 5, argv);

	if (r != NULL)
		freeReplyObject(r);
}

static enum gl_err db_change_locked(const char *coll, const bson_oid_t *id, gl_db_decide decide,
                                    void *ctx, json_t **out);
static enum gl_err db_write(const char *coll, const bson_oid_t *id, const bson_t *set,
                            json_t **out);

/* gl_db_update's decision: the version must be the one given (unless < 0), then set. */
struct db_update_ctx {
	long long version;
	const bson_t *set;
};

static enum gl_err
db_update_decide(const json_t *now, bson_t *set, bool *skip, void *ctx)
{
	const struct db_update_ctx *u = ctx;

	(void)skip;
	if (json_integer_value(json_object_get(now, "version")) != u->version)
		return GL_E_CONFLICT;
	bson_concat(set, u->set);
	return GL_OK;
}

/* Under the document's lock: decide what to write from what it is (db_change_locked), or
 * with no decide write set as it is. */
static enum gl_err
db_locked(const char *coll, const bson_oid_t *id, gl_db_decide decide, void *ctx, const bson_t *set,
          json_t **out)
{
	char key[128], token[48], hex[25];
	enum gl_err err;
	int locked;

	*out = NULL;
	/* A kept document is changed by a compare-and-set script instead (kept.h). */
	if (gl_kept_is(coll))
		return gl_kept_change(coll, id, decide, ctx, set, out);
	bson_oid_to_string(id, hex);
	snprintf(key, sizeof(key), "galley:%s:lock:%s:%s", gl_conf.service, coll, hex);
	snprintf(token, sizeof(token), "%d.%lld", (int)getpid(), (long long)random());
	if ((locked = db_lock(key, token)) < 0)
		return GL_E_CONFLICT; /* busy for half a second: the caller tries again */
	err = decide != NULL ? db_change_locked(coll, id, decide, ctx, out)
	                     : db_write(coll, id, set, out);
	if (locked)
		db_unlock(key, token);
	return err;
}

enum gl_err
gl_db_update(const char *coll, const bson_oid_t *id, long long version, const bson_t *set,
             json_t **out)
{
	struct db_update_ctx u = { version, set };

	/* No version to check: no read either. */
	return db_locked(coll, id, version >= 0 ? db_update_decide : NULL, &u, set, out);
}

enum gl_err
gl_db_change(const char *coll, const bson_oid_t *id, gl_db_decide decide, void *ctx, json_t **out)
{
	return db_locked(coll, id, decide, ctx, NULL, out);
}

/* findAndModify {_id}: set (may be empty) and version + 1; *out the document after. */
static enum gl_err
db_write(const char *coll, const bson_oid_t *id, const bson_t *set, json_t **out)
{
	struct db_conn c;
	bson_error_t error;
	bson_t query = BSON_INITIALIZER, update = BSON_INITIALIZER, child, reply;
	mongoc_find_and_modify_opts_t *opts;
	bson_iter_t it;
	enum gl_err err;

	*out = NULL;
	BSON_APPEND_OID(&query, "_id", id);
	if (!bson_empty(set))
		BSON_APPEND_DOCUMENT(&update, "$set", set);
	BSON_APPEND_DOCUMENT_BEGIN(&update, "$inc", &child);
	BSON_APPEND_INT64(&child, "version", 1);
	bson_append_document_end(&update, &child);

	if ((err = db_take(&c, coll)) != GL_OK) {
		bson_destroy(&query);
		bson_destroy(&update);
		return err;
	}
	opts = mongoc_find_and_modify_opts_new();
	mongoc_find_and_modify_opts_set_update(opts, &update);
	mongoc_find_and_modify_opts_set_flags(opts, MONGOC_FIND_AND_MODIFY_RETURN_NEW);
	if (!mongoc_collection_find_and_modify_with_opts(c.coll, &query, opts, &reply, &error)) {
		err = db_error("findAndModify", &error);
	} else if (bson_iter_init_find(&it, &reply, "value") && BSON_ITER_HOLDS_DOCUMENT(&it)) {
		const uint8_t *data;
		uint32_t len;
		bson_t doc;
		bson_iter_document(&it, &len, &data);
		if (bson_init_static(&doc, data, len))
			*out = gl_doc_to_json_new(&doc);
		if (*out == NULL)
			err = GL_E_INTERNAL;
	} else {
		err = GL_E_NOT_FOUND;
	}
	bson_destroy(&reply);
	mongoc_find_and_modify_opts_destroy(opts);
	db_give(&c);
	bson_destroy(&query);
	bson_destroy(&update);
	return err;
}

/*
 * Under the document's lock: read it, let decide say what to set, write
 * that.  The update filters on _id alone: FerretDB uses an index only for a
 * filter that is exactly {_id}, and reads the whole collection for {_id,
 * version} (../shared/research/db-ceiling.md), so a guard in the filter would
 * cost more with every document stored.
 */
static enum gl_err
db_change_locked(const char *coll, const bson_oid_t *id, gl_db_decide decide, void *ctx,
                 json_t **out)
{
	bson_t set = BSON_INITIALIZER;
	json_t *now;
	bool skip = false;
	enum gl_err err;

	*out = NULL;
	if ((err = gl_db_get(coll, id, &now)) != GL_OK) {
		bson_destroy(&set);
		return err;
	}
	err = decide(now, &set, &skip, ctx);
	json_decref(now);
	if (err == GL_OK && !skip)
		err = db_write(coll, id, &set, out);
	bson_destroy(&set);
	return err;
}

enum gl_err
gl_db_delete(const char *coll, const bson_oid_t *id)
{
	return gl_kept_is(coll) ? gl_kept_delete(coll, id) : gl_db_delete_doc(coll, id);
}

enum gl_err
gl_db_delete_doc(const char *coll, const bson_oid_t *id)
{
	struct db_conn c;
	bson_error_t error;
	bson_t filter = BSON_INITIALIZER, reply;
	bson_iter_t it;
	enum gl_err err;

	BSON_APPEND_OID(&filter, "_id", id);
	if ((err = db_take(&c, coll)) != GL_OK) {
		bson_destroy(&filter);
		return err;
	}
	if (!mongoc_collection_delete_one(c.coll, &filter, NULL, &reply, &error))
		err = db_error("delete", &error);
	else if (bson_iter_init_find(&it, &reply, "deletedCount") && bson_iter_as_int64(&it) == 0)
		err = GL_E_NOT_FOUND;
	bson_destroy(&reply);
	bson_destroy(&filter);
	db_give(&c);
	return err;
}

enum gl_err
gl_db_find_one(const char *coll, const bson_t *filter, json_t **out)
{
	json_t *items = json_array();
	enum gl_err err;

	*out = NULL;
	err = items != NULL ? db_find(coll, filter, NULL, 1, items, NULL) : GL_E_INTERNAL;
	if (err == GL_OK && json_array_size(items) == 0)
		err = GL_E_NOT_FOUND;
	if (err == GL_OK)
		*out = json_incref(json_array_get(items, 0));
	json_decref(items);
	return err;
}

/* update_one with upsert, or update_many: the two ways an update by filter is made. */
static enum gl_err
db_update_by_filter(const char *coll, const bson_t *filter, const bson_t *update, bool upsert)
{
	struct db_conn c;
	bson_error_t error;
	bson_t opts = BSON_INITIALIZER;
	enum gl_err err;
	bool ok;

	if (upsert)
		BSON_APPEND_BOOL(&opts, "upsert", true);
	if ((err = db_take(&c, coll)) == GL_OK) {
		ok = upsert ? mongoc_collection_update_one(c.coll, filter, update, &opts, NULL,
		                                           &error)
		            : mongoc_collection_update_many(c.coll, filter, update, NULL, NULL,
		                                            &error);
		if (!ok)
			err = db_error("update", &error);
		db_give(&c);
	}
	bson_destroy(&opts);
	return err;
}

enum gl_err
gl_db_upsert(const char *coll, const bson_t *filter, const bson_t *update)
{
	return db_update_by_filter(coll, filter, update, true);
}

enum gl_err
gl_db_update_where(const char *coll, const bson_t *filter, const bson_t *update)
{
	return db_update_by_filter(coll, filter, update, false);
}

enum gl_err
gl_db_delete_where(const char *coll, const bson_t *filter, long long *n)
{
	struct db_conn c;
	bson_error_t error;
	bson_t reply;
	bson_iter_t it;
	enum gl_err err;

	if (n != NULL)
		*n = 0;
	if ((err = db_take(&c, coll)) != GL_OK)
		return err;
	if (!mongoc_collection_delete_many(c.coll, filter, NULL, &reply, &error))
		err = db_error("delete", &error);
	else if (n != NULL && bson_iter_init_find(&it, &reply, "deletedCount"))
		*n = bson_iter_as_int64(&it);
	bson_destroy(&reply);
	db_give(&c);
	return err;
}

enum gl_err
gl_db_find_opts(const char *coll, const bson_t *filter, const bson_t *opts, int max, json_t **out)
{
	enum gl_err err;

	if ((*out = json_array()) == NULL)
		return GL_E_INTERNAL;
	err = db_find(coll, filter, opts, max, *out, NULL);
	if (err != GL_OK) {
		json_decref(*out);
		*out = NULL;
	}
	return err;
}

enum gl_err
gl_db_find_doc(const char *coll, const bson_oid_t *id, bson_t **out)
{
	struct db_conn c;
	bson_error_t error;
	bson_t filter = BSON_INITIALIZER;
	mongoc_cursor_t *cur;
	const bson_t *doc;
	enum gl_err err;

	*out = NULL;
	if ((err = db_take(&c, coll)) != GL_OK)
		return err;
	BSON_APPEND_OID(&filter, "_id", id);
	cur = mongoc_collection_find_with_opts(c.coll, &filter, NULL, NULL);
	if (mongoc_cursor_next(cur, &doc))
		*out = bson_copy(doc);
	else if (mongoc_cursor_error(cur, &error))
		err = db_error("find", &error);
	else
		err = GL_E_NOT_FOUND;
	mongoc_cursor_destroy(cur);
	bson_destroy(&filter);
	db_give(&c);
	return err;
}

/* One unordered bulk write (each document written whatever happens to the others): docs
 * inserted, or the ones with their _ids deleted. */
static enum gl_err
db_bulk(const char *coll, const bson_t *const *docs, size_t n, bool delete)
{
	struct db_conn c;
	bson_error_t error;
	bson_t opts = BSON_INITIALIZER, reply;
	mongoc_bulk_operation_t *bulk;
	bson_iter_t it;
	enum gl_err err;
	bool ran = false;

	if ((err = db_take(&c, coll)) != GL_OK)
		return err;
	BSON_APPEND_BOOL(&opts, "ordered", false);
	bulk = mongoc_collection_create_bulk_operation_with_opts(c.coll, &opts);
	for (size_t i = 0; i < n && err == GL_OK; i++) {
		bson_t filter = BSON_INITIALIZER;
		bool ok = delete ? bson_iter_init_find(&it, docs[i], "_id") &&
		                           bson_append_iter(&filter, "_id", 3, &it) &&
		                           mongoc_bulk_operation_remove_one_with_opts(bulk, &filter,
		                                                                      NULL, &error)
		                 : mongoc_bulk_operation_insert_with_opts(bulk, docs[i], NULL,
		                                                          &error);
		if (!ok)
			err = GL_E_INTERNAL;
		bson_destroy(&filter);
	}
	if (err == GL_OK) {
		ran = true;
		if (mongoc_bulk_operation_execute(bulk, &reply, &error) == 0)
			err = db_error("bulk write", &error);
	}
	if (ran)
		bson_destroy(&reply);
	mongoc_bulk_operation_destroy(bulk);
	bson_destroy(&opts);
	db_give(&c);
	return err;
}

enum gl_err
gl_db_put_docs(const char *coll, const bson_t *const *docs, size_t n)
{
	enum gl_err err = db_bulk(coll, docs, n, true);

	return err == GL_OK ? db_bulk(coll, docs, n, false) : err;
}

enum gl_err
gl_db_insert_docs(const char *coll, const bson_t *const *docs, size_t n)
{
	return db_bulk(coll, docs, n, false);
}
