/*
 * Unit tests of lib/kept.c's insert in a Redis of the test's own (../redis_server.h): a
 * new document and its index entries land in the store together, a second insert of the
 * same _id is refused and adds none of its entries, and a store away says so.  Ids are
 * made now, after the collection was first kept, so nothing here asks MongoDB (the rest of
 * kept.c, the projection to MongoDB, is tested end to end: tests/e2e/76-kept.sh).
 */
#include <stdlib.h>
#include <time.h>

#include "../redis_server.h"
#include "../tap.h"
#include "db.h"
#include "due.h"
#include "kept.h"

#define DUE   "galley:unit:due:things"
#define INDEX "galley:unit:things-by-user:u1"

static const char *const colls[] = { "things", NULL };

static long long
score(const char *key, const char *member)
{
	const char *argv[] = { "ZSCORE", key, member };
	char s[32];

	unit_redis(s, sizeof(s), 3, argv);
	return s[0] ? atoll(s) : -1;
}

static void
index_entry(struct gl_kept_index *e, const char *key, const char *score, const char *member)
{
	snprintf(e->key, sizeof(e->key), "%s", key);
	snprintf(e->score, sizeof(e->score), "%s", score);
	snprintf(e->member, sizeof(e->member), "%s", member);
}

static void
test_insert(void)
{
	struct gl_kept_index idx[2];
	bson_oid_t id;
	bson_t doc = BSON_INITIALIZER;
	char hex[25], key[160];
	int64_t due = (int64_t)time(NULL) + 60;
	const char *version[] = { "HGET", key, "v" };

	bson_oid_init(&id, NULL);
	bson_oid_to_string(&id, hex);
	snprintf(key, sizeof(key), "galley:kept:unit:things:%s", hex);
	BSON_APPEND_OID(&doc, "_id", &id);
	BSON_APPEND_INT64(&doc, "version", 1);
	ok(gl_due_index(&idx[0], "things", &id, due) == 0, "a due list's entry for the insert");
	is_str(idx[0].key, DUE, "in the service's due list");
	index_entry(&idx[1], INDEX, "0", hex);

	ok(gl_db_insert_indexed("things", &doc, idx, 2) == GL_OK, "insert with two entries: GL_OK");
	char v[8];
	unit_redis(v, sizeof(v), 3, version);
	is_str(v, "1", "the document is in the store");
	ok(score(DUE, hex) == due, "its due entry too, scored as asked");
	ok(score(INDEX, hex) == 0, "and its index entry");

	/* The same _id again, with an entry in another set: refused, and that entry not added. */
	index_entry(&idx[1], INDEX "-other", "0", hex);
	snprintf(idx[0].score, sizeof(idx[0].score), "%lld", (long long)due + 100);
	ok(gl_db_insert_indexed("things", &doc, idx, 2) == GL_E_CONFLICT,
	   "the same _id again: GL_E_CONFLICT");
	ok(score(INDEX "-other", hex) == -1, "its entries are not added");
	ok(score(DUE, hex) == due, "nor changed");
	ok(gl_db_insert_indexed("things", &doc, idx, GL_KEPT_INDEX_MAX + 1) == GL_E_INTERNAL,
	   "more entries than GL_KEPT_INDEX_MAX: refused");

	unit_redis_stop();
	bson_oid_init(&id, NULL);
	bson_reinit(&doc);
	BSON_APPEND_OID(&doc, "_id", &id);
	ok(gl_db_insert_indexed("things", &doc, idx, 1) == GL_E_UPSTREAM_DOWN,
	   "the store away: GL_E_UPSTREAM_DOWN");
	bson_destroy(&doc);
}

int
main(void)
{
	unit_redis_start();
	gl_kept_open(colls);
	test_insert();
	gl_redis_close();
	return done_testing();
}
