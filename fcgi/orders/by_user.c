/*
 * A customer's orders by user, in the store: "galley:orders:by-user:<user id>", a sorted
 * set of order ids, all scored 0 so that they sort by id, as lists do.
 *
 * A customer's GET /api/orders (with no filter but ?status= and ?id_prefix=) reads a page of it and
 * each order (lib/kept_list.c: one script, and MongoDB by _id for what the store no longer
 * holds), skipping those of another status: a query by user_id makes FerretDB read and
 * decode every stored order (131 ms at 1,000 orders, 0.9 s at 7,000; docs/performance.md),
 * and the list grew with everyone's orders.
 *
 * An order's id is added by the order's own insert (place.c, gl_db_insert_indexed: the
 * script that stores the order), so the set holds every order of its user and no other;
 * a page still skips an id with no order (one deleted from MongoDB by hand, say), and takes
 * it off.
 * Orders stored before the set existed, or every order after the store lost it, are
 * added by the tick from one cursor over the collection; "galley:orders:by-user-built"
 * says that is done, and until it is, lists query MongoDB as before.
 */
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "cache.h"
#include "db.h"
#include "doc.h"
#include "kept.h"
#include "log.h"
#include "redis.h"
#include "stop.h"
#include "orders.h"

/* A build holds this long at most: a process that dies in one lets another start over. */
#define BY_USER_BUILD_LOCK_S "600"

static int
by_user_key(char *buf, size_t size, const char *user)
{
	return gl_cache_key(buf, size, "by-user", user);
}

/* One command to the store: its reply's type, or -1 when the store is away. */
static int
by_user_run(int argc, const char **argv)
{
	redisReply *r = gl_redis_strv(GL_REDIS_STORE, argc, argv);
	int type = r != NULL ? r->type : -1;

	if (r != NULL && r->type == REDIS_REPLY_ERROR)
		gl_log(GL_LOG_ERROR, NULL, "orders by user: %s refused: %s", argv[0], r->str);
	if (r != NULL)
		freeReplyObject(r);
	return type;
}

int
order_by_user_index(struct gl_kept_index *e, const char *user, const char *order)
{
	if (by_user_key(e->key, sizeof(e->key), user) < 0)
		return -1;
	snprintf(e->score, sizeof(e->score), "0");
	snprintf(e->member, sizeof(e->member), "%s", order);
	return 0;
}

/* Add order to user's set (the tick's build). */
static enum gl_err
by_user_add(const char *user, const char *order)
{
	char key[GL_CACHE_KEY_MAX];

	if (by_user_key(key, sizeof(key), user) < 0)
		return GL_E_INTERNAL;
	const char *argv[] = { "ZADD", key, "0", order };
	int type = by_user_run(4, argv);
	return type == REDIS_REPLY_INTEGER ? GL_OK : type < 0 ? GL_E_UPSTREAM_DOWN : GL_E_INTERNAL;
}

bool
order_by_user_built(void)
{
	char key[GL_CACHE_KEY_MAX];

	if (gl_cache_key(key, sizeof(key), "by-user-built", NULL) < 0)
		return false;
	return gl_redis_exists(GL_REDIS_STORE, key) == 1;
}

/* gl_db_each's step: add one stored order ({_id, user_id}) to its user's set. */
static enum gl_err
by_user_one(const bson_t *doc, void *ctx)
{
	long long *n = ctx;
	bson_iter_t it;
	char order[25], user[25];

	if (gl_stop_requested())
		return GL_E_UPSTREAM_DOWN; /* the next process builds it again */
	if (!bson_iter_init_find(&it, doc, "_id") || !BSON_ITER_HOLDS_OID(&it))
		return GL_OK;
	bson_oid_to_string(bson_iter_oid(&it), order);
	if (!bson_iter_init_find(&it, doc, "user_id") || !BSON_ITER_HOLDS_OID(&it))
		return GL_OK; /* an order of a customer without a user: no one's list */
	bson_oid_to_string(bson_iter_oid(&it), user);
	(*n)++;
	return by_user_add(user, order);
}

void
orders_by_user_build(void)
{
	char built[GL_CACHE_KEY_MAX], lock[GL_CACHE_KEY_MAX], pid[24];
	bson_t opts = BSON_INITIALIZER, fields;
	long long n = 0;
	enum gl_err err;

	if (order_by_user_built() ||
	    gl_cache_key(built, sizeof(built), "by-user-built", NULL) < 0 ||
	    gl_cache_key(lock, sizeof(lock), "by-user-building", NULL) < 0)
		return;
	snprintf(pid, sizeof(pid), "%ld", (long)getpid());
	const char *take[] = { "SET", lock, pid, "NX", "EX", BY_USER_BUILD_LOCK_S };
	if (by_user_run(6, take) != REDIS_REPLY_STATUS)
		return; /* another process builds it, or the store is away */
	BSON_APPEND_DOCUMENT_BEGIN(&opts, "projection", &fields);
	BSON_APPEND_INT32(&fields, "user_id", 1);
	bson_append_document_end(&opts, &fields);
	err = gl_db_each("orders", NULL, &opts, by_user_one, &n);
	bson_destroy(&opts);
	if (err == GL_OK) {
		const char *done[] = { "SET", built, "1" };
		if (by_user_run(3, done) == REDIS_REPLY_STATUS)
			gl_log(GL_LOG_INFO, NULL, "orders by user: %lld orders indexed", n);
	} else {
		gl_log(GL_LOG_WARN, NULL, "orders by user: not built (%s), tried again",
		       gl_err_info(err)->code);
	}
	const char *give[] = { "DEL", lock };
	by_user_run(2, give);
}

enum gl_err
order_by_user_list(const char *user, const char *status, const char *id_prefix,
                   const struct gl_page *page, json_t **out)
{
	char key[GL_CACHE_KEY_MAX];

	*out = NULL;
	if (by_user_key(key, sizeof(key), user) < 0)
		return GL_E_INTERNAL;
	return gl_kept_list_in("orders", key, status, id_prefix, page, out);
}
