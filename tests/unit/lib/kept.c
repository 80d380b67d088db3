/*
 * Unit tests of lib/kept.c's insert in a Redis of the test's own (../redis_server.h): a
 * new document and its index entries land in the store together, a second insert of the
 * same _id is refused and adds none of its entries, and a store away says so; a change soon
 * after a read, an insert or a change (of the thread's last 32) uses that copy and never
 * writes over a newer version; a due entry's drop rides on the write that settles its
 * thing (due.h), and a due entry is picked with its document in one round trip
 * (gl_due_pick); a request's answer for its Idempotency-Key rides on its insert.  Ids are made now,
 * after the collection was first kept, so nothing here asks MongoDB but one read that shows a peek
 * at another service's copy never does (gl_kept_peek; the rest of kept.c, the projection to
 * MongoDB, is tested end to end: tests/e2e/76-kept.sh).
 */
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "../redis_server.h"
#include "../tap.h"
#include "conf.h"
#include "db.h"
#include "due.h"
#include "idem.h"
#include "kept.h"

#define DUE   "galley:unit:due:things"
#define INDEX "galley:unit:things-by-user:u1"

static const char *const things_held[] = { "waiting", "going coming", NULL };
static const struct gl_kept_coll colls[] = { { "things", "state", things_held }, { NULL } };

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

/* Another thread (a writer of its own, with its own connection): n of other_id set to 2. */
static bson_oid_t other_id;
static size_t other_note_size; /* > 0: and a note of that size (a document grown large) */

static void *
other_writer(void *arg)
{
	bson_t set = BSON_INITIALIZER;
	json_t *out = NULL;
	enum gl_err *err = arg;

	BSON_APPEND_INT64(&set, "n", 2);
	if (other_note_size > 0) {
		char *note = malloc(other_note_size);
		if (note != NULL) {
			memset(note, 'x', other_note_size - 1);
			note[other_note_size - 1] = '\0';
			BSON_APPEND_UTF8(&set, "note", note);
			free(note);
		}
	}
	*err = gl_db_update("things", &other_id, -1, &set, &out);
	json_decref(out);
	bson_destroy(&set);
	gl_redis_close();
	gl_kept_thread_end();
	return NULL;
}

static enum gl_err
other_writes(void)
{
	enum gl_err err = GL_E_INTERNAL;
	pthread_t t;

	if (pthread_create(&t, NULL, other_writer, &err) != 0)
		return GL_E_INTERNAL;
	pthread_join(t, NULL);
	return err;
}

/* n + 10, from the document as the change finds it. */
static enum gl_err
add_ten(const json_t *now, bson_t *set, bool *skip, void *ctx)
{
	(void)skip;
	(void)ctx;
	BSON_APPEND_INT64(set, "n", json_integer_value(json_object_get(now, "n")) + 10);
	return GL_OK;
}

/* How many times the store has run command (lowercase), in scripts too. */
static long long
calls(const char *command)
{
	const char *argv[] = { "INFO", "commandstats" };
	char info[8192], name[64];
	const char *at;

	unit_redis(info, sizeof(info), 2, argv);
	snprintf(name, sizeof(name), "cmdstat_%s:calls=", command);
	at = strstr(info, name);
	return at != NULL ? atoll(at + strlen(name)) : 0;
}

/* How many HMGETs (a document's read) the store has run. */
static long long
reads(void)
{
	return calls("hmget");
}

static long long
field(const json_t *doc, const char *name)
{
	return json_integer_value(json_object_get(doc, name));
}

static void
test_change_after_read(void)
{
	bson_t doc = BSON_INITIALIZER, set = BSON_INITIALIZER;
	json_t *got = NULL, *out = NULL;

	bson_oid_init(&other_id, NULL);
	BSON_APPEND_OID(&doc, "_id", &other_id);
	BSON_APPEND_INT64(&doc, "n", 1);
	BSON_APPEND_INT64(&doc, "version", 1);
	ok(gl_db_insert("things", &doc) == GL_OK, "a thing at version 1");

	/* Read (this thread keeps a copy), then another writer changes it. */
	ok(gl_db_get("things", &other_id, &got) == GL_OK && field(got, "version") == 1,
	   "read at version 1");
	json_decref(got);
	ok(other_writes() == GL_OK, "another thread changes it: version 2");
	BSON_APPEND_INT64(&set, "n", 3);
	ok(gl_db_update("things", &other_id, 1, &set, &out) == GL_E_CONFLICT,
	   "an update If-Match the version read: GL_E_CONFLICT, though the copy says 1");
	json_decref(out);
	out = NULL;

	ok(gl_db_get("things", &other_id, &got) == GL_OK && field(got, "version") == 2,
	   "read again: version 2");
	json_decref(got);
	long long before = reads();
	ok(gl_db_update("things", &other_id, 2, &set, &out) == GL_OK && field(out, "n") == 3 &&
	           field(out, "version") == 3,
	   "an update of what was just read: written, version 3");
	ok(reads() == before, "without reading it again (%lld reads)", reads() - before);
	json_decref(out);
	out = NULL;

	/* A change that decides by the document: a stale copy is refused by the store and the
	 * change reads again, so it decides on the other writer's n (2), not the copy's (3). */
	ok(gl_db_get("things", &other_id, &got) == GL_OK && field(got, "n") == 3, "read: n 3");
	json_decref(got);
	ok(other_writes() == GL_OK, "another thread sets n 2: version 4");
	ok(gl_db_change("things", &other_id, add_ten, NULL, &out) == GL_OK &&
	           field(out, "n") == 12 && field(out, "version") == 5,
	   "a change decided after it: n 12 (2 + 10), version 5");
	json_decref(out);
	ok(gl_db_get("things", &other_id, &got) == GL_OK && field(got, "n") == 12 &&
	           field(got, "version") == 5,
	   "and so it is stored");
	json_decref(got);

	/* Insert, then the next step: the change starts from what was inserted. */
	bson_oid_t id;
	bson_oid_init(&id, NULL);
	bson_reinit(&doc);
	BSON_APPEND_OID(&doc, "_id", &id);
	BSON_APPEND_INT64(&doc, "n", 1);
	BSON_APPEND_INT64(&doc, "version", 1);
	ok(gl_db_insert("things", &doc) == GL_OK, "a new thing inserted at version 1");
	before = reads();
	out = NULL;
	ok(gl_db_update("things", &id, 1, &set, &out) == GL_OK && field(out, "n") == 3 &&
	           field(out, "version") == 2,
	   "an update of it right after: written, version 2");
	ok(reads() == before, "without reading it first (%lld reads)", reads() - before);
	json_decref(out);

	/* A change, then the next: the second starts from what the first wrote. */
	bson_reinit(&set);
	BSON_APPEND_INT64(&set, "n", 4);
	before = reads();
	ok(gl_db_update("things", &id, 2, &set, &out) == GL_OK && field(out, "n") == 4 &&
	           field(out, "version") == 3,
	   "another update right after that one: written, version 3");
	ok(reads() == before, "without reading it either (%lld reads)", reads() - before);
	json_decref(out);
	/* Its copy gone stale (another thread wrote since): refused by the version check, the
	 * change reads again and decides on what the other wrote. */
	ok(gl_db_update("things", &id, 3, &set, &out) == GL_OK && field(out, "version") == 4,
	   "and one more: version 4");
	json_decref(out);
	bson_oid_copy(&id, &other_id);
	ok(other_writes() == GL_OK, "another thread sets n 2: version 5");
	before = reads();
	ok(gl_db_change("things", &id, add_ten, NULL, &out) == GL_OK && field(out, "n") == 12 &&
	           field(out, "version") == 6,
	   "a change decided right after: n 12 (2 + 10, not the copy's 4 + 10), version 6");
	ok(reads() - before == 1, "having read it once (%lld reads)", reads() - before);
	json_decref(out);
	/* An update that names the version stored, though this thread's copy is older: the
	 * refusal the copy would give is checked against the store. */
	ok(other_writes() == GL_OK, "another thread writes it right after: version 7");
	ok(gl_db_update("things", &id, 7, &set, &out) == GL_OK && field(out, "version") == 8,
	   "an update If-Match 7, the copy saying 6: written, version 8");
	json_decref(out);
	bson_destroy(&set);
	bson_destroy(&doc);
}

/* Another service's kept document, read where it is kept: the store alone. */
static void
test_peek(void)
{
	bson_oid_t id, never;
	bson_t doc = BSON_INITIALIZER;
	json_t *got = NULL;

	bson_oid_init(&id, NULL);
	BSON_APPEND_OID(&doc, "_id", &id);
	BSON_APPEND_INT64(&doc, "n", 7);
	BSON_APPEND_INT64(&doc, "version", 1);
	ok(gl_db_insert("things", &doc) == GL_OK, "unit keeps a thing");
	ok(gl_kept_peek("unit", "things", &id, &got) == GL_OK && field(got, "n") == 7 &&
	           field(got, "version") == 1,
	   "peeked at as unit's: the document as stored, as API JSON");
	json_decref(got);
	ok(gl_kept_peek("menu", "things", &id, &got) == GL_E_NOT_FOUND && got == NULL,
	   "as another service's: GL_E_NOT_FOUND (each service keeps its own)");
	/* An old id: a read of unit's own would look in MongoDB (there is none here: not
	 * GL_E_NOT_FOUND); a peek never does. */
	bson_oid_init_from_string(&never, "0123456789abcdef01234567");
	ok(gl_db_get("things", &never, &got) != GL_E_NOT_FOUND,
	   "an old id not in the store: a read of one's own asks MongoDB");
	json_decref(got);
	got = NULL;
	ok(gl_kept_peek("unit", "things", &never, &got) == GL_E_NOT_FOUND && got == NULL,
	   "a peek answers GL_E_NOT_FOUND without it");
	bson_destroy(&doc);
}

/*
 * A request's answer for its Idempotency-Key rides on the insert it answers for (idem.h,
 * gl_idem_ride): stored by the insert's own script, so the record is done the moment the
 * thing exists; an insert refused does not carry it, and gl_idem_store() stores it then.
 */
static void
test_insert_answer(void)
{
	struct gl_idem idem = { .active = true, .id = "things:u1:k-1" };
	json_t *answer = json_pack("{s:s}", "id", "t1");
	bson_oid_t id;
	bson_t doc = BSON_INITIALIZER;
	char rec[224], val[64];
	const char *claim[] = { "HSET", rec, "state", "pending", "hash", "h", "at", "1" };
	const char *state[] = { "HGET", rec, "state" }, *resp[] = { "HGET", rec, "response" };
	const char *status[] = { "HGET", rec, "status" }, *ttl[] = { "TTL", rec };

	gl_idem_ride(&idem, 201, answer);
	ok(gl_idem_riding() != NULL, "an answer riding");
	snprintf(rec, sizeof(rec), "%s", gl_idem_riding()->key);
	unit_redis(NULL, 0, 8, claim); /* as gl_idem_begin() leaves it */
	bson_oid_init(&id, NULL);
	BSON_APPEND_OID(&doc, "_id", &id);
	BSON_APPEND_INT64(&doc, "version", 1);
	ok(gl_db_insert_indexed("things", &doc, NULL, 0) == GL_OK, "the insert it rides on");
	unit_redis(val, sizeof(val), 3, state);
	is_str(val, "done", "the key's record is done, by the insert's script");
	unit_redis(val, sizeof(val), 3, status);
	is_str(val, "201", "with the status");
	unit_redis(val, sizeof(val), 3, resp);
	is_str(val, "{\"id\":\"t1\"}", "and the answer");
	long long t = unit_redis(NULL, 0, 2, ttl);
	ok(t > GL_IDEM_KEEP_S - 10 && t <= GL_IDEM_KEEP_S, "kept a day (TTL %lld)", t);
	ok(!idem.active && gl_idem_riding() == NULL,
	   "the request owns nothing more: its store has nothing to do");

	/* Refused: the record stays pending, the request still owns it. */
	idem.active = true;
	unit_redis(NULL, 0, 8, claim);
	gl_idem_ride(&idem, 201, answer);
	ok(gl_db_insert_indexed("things", &doc, NULL, 0) == GL_E_CONFLICT, "the same _id again");
	unit_redis(val, sizeof(val), 3, state);
	is_str(val, "pending", "the refused insert did not carry the answer");
	ok(idem.active && gl_idem_riding() == NULL, "the request still owns the key");
	gl_idem_store(&idem, 201, answer);
	unit_redis(val, sizeof(val), 3, state);
	is_str(val, "done", "and stores it itself");
	json_decref(answer);
	bson_destroy(&doc);
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
	test_insert_answer();

	unit_redis_stop();
	bson_oid_init(&id, NULL);
	bson_reinit(&doc);
	BSON_APPEND_OID(&doc, "_id", &id);
	ok(gl_db_insert_indexed("things", &doc, idx, 1) == GL_E_UPSTREAM_DOWN,
	   "the store away: GL_E_UPSTREAM_DOWN");
	json_t *got = NULL;
	ok(gl_kept_peek("unit", "things", &id, &got) == GL_E_UPSTREAM_DOWN && got == NULL,
	   "and a peek says so too");
	bson_destroy(&doc);
}

/*
 * A due entry dropped or moved with the write that settles its thing (due.h,
 * gl_due_drop_riding, gl_due_move_riding): changed exactly when that write lands, in its
 * script; kept when the write is refused; a write of another document does not carry it,
 * and the end changes it the usual way then.
 */
static void
test_drop_riding(void)
{
	struct gl_kept_index idx;
	bson_oid_t id, other;
	bson_t doc = BSON_INITIALIZER, set = BSON_INITIALIZER;
	json_t *out = NULL;
	char hex[25];
	int64_t due = (int64_t)time(NULL) + 60;
	long long zrem;

	bson_oid_init(&id, NULL);
	bson_oid_to_string(&id, hex);
	BSON_APPEND_OID(&doc, "_id", &id);
	BSON_APPEND_INT64(&doc, "version", 1);
	ok(gl_due_index(&idx, "things", &id, due) == 0 &&
	           gl_db_insert_indexed("things", &doc, &idx, 1) == GL_OK && score(DUE, hex) == due,
	   "a thing and its due entry");
	BSON_APPEND_INT64(&set, "n", 1);

	/* Refused (a stale version): the entry stays, and the end without drop keeps it. */
	zrem = calls("zrem");
	gl_due_drop_riding("things", &id);
	ok(gl_db_update("things", &id, 7, &set, &out) == GL_E_CONFLICT,
	   "a write with a stale version is refused");
	ok(score(DUE, hex) == due, "its riding drop with it: the entry stays");
	gl_due_riding_end(false);
	ok(score(DUE, hex) == due && calls("zrem") == zrem, "the end without drop leaves it");

	/* Landed: the entry goes in the write's script, no ZREM of its own. */
	gl_due_drop_riding("things", &id);
	ok(gl_db_update("things", &id, 1, &set, &out) == GL_OK && field(out, "version") == 2,
	   "the write that settles it lands");
	json_decref(out);
	out = NULL;
	ok(score(DUE, hex) == -1, "the entry went with it");
	gl_due_riding_end(true);
	ok(calls("zrem") - zrem == 1,
	   "one ZREM, the script's (scripts' commands count too): none at the end");

	/* Another document's write does not carry it; the end drops it then. */
	ok(gl_due_add("things", &id, due) == GL_OK && score(DUE, hex) == due, "listed again");
	bson_oid_init(&other, NULL);
	bson_reinit(&doc);
	BSON_APPEND_OID(&doc, "_id", &other);
	BSON_APPEND_INT64(&doc, "version", 1);
	gl_due_drop_riding("things", &id);
	ok(gl_db_insert_indexed("things", &doc, NULL, 0) == GL_OK, "another thing is written");
	ok(score(DUE, hex) == due, "the entry stays: the drop rides only on its thing's write");
	gl_due_riding_end(true);
	ok(score(DUE, hex) == -1 && calls("zrem") - zrem == 2, "the end drops it, one ZREM");

	/* Ended: nothing rides on the thing's next write. */
	ok(gl_due_add("things", &id, due) == GL_OK, "listed again");
	ok(gl_db_update("things", &id, 2, &set, &out) == GL_OK && score(DUE, hex) == due,
	   "after the end, the thing's next write leaves the entry alone");
	json_decref(out);
	out = NULL;
	gl_due_riding_end(false);

	/* A move: with the write that lands, else by the end when asked. */
	gl_due_move_riding("things", &id, due + 30);
	ok(gl_db_update("things", &id, 3, &set, &out) == GL_OK && score(DUE, hex) == due + 30,
	   "a riding move lands with its thing's write");
	json_decref(out);
	out = NULL;
	gl_due_riding_end(true);
	ok(score(DUE, hex) == due + 30, "and the end changes nothing more");
	gl_due_move_riding("things", &id, due + 60);
	ok(gl_db_update("things", &id, 9, &set, &out) == GL_E_CONFLICT &&
	           score(DUE, hex) == due + 30,
	   "a refused write moves nothing");
	gl_due_riding_end(true);
	ok(score(DUE, hex) == due + 60, "the end moves it the usual way");
	bson_destroy(&doc);
	bson_destroy(&set);
}

/*
 * This thread's copies of the documents it wrote last: a change of any of its last 32
 * starts from its copy, whatever it wrote between (one copy was kept before, and each
 * write of another document lost it); the 33rd back is read again.
 */
static void
test_copies(void)
{
	enum { N = 33 };
	bson_oid_t ids[N];
	bson_t doc = BSON_INITIALIZER, set = BSON_INITIALIZER;
	json_t *out = NULL;
	long long before;
	bool all = true;

	for (int i = 0; i < N; i++) {
		bson_oid_init(&ids[i], NULL);
		bson_reinit(&doc);
		BSON_APPEND_OID(&doc, "_id", &ids[i]);
		BSON_APPEND_INT64(&doc, "n", i);
		BSON_APPEND_INT64(&doc, "version", 1);
		all = all && gl_db_insert("things", &doc) == GL_OK;
	}
	ok(all, "%d things inserted, one after another", N);
	BSON_APPEND_INT64(&set, "n", 100);
	before = reads();
	ok(gl_db_update("things", &ids[1], 1, &set, &out) == GL_OK && field(out, "version") == 2,
	   "the second, 31 inserts back: changed");
	json_decref(out);
	ok(gl_db_update("things", &ids[N - 1], 1, &set, &out) == GL_OK &&
	           field(out, "version") == 2,
	   "then the last: changed");
	json_decref(out);
	ok(gl_db_update("things", &ids[1], 2, &set, &out) == GL_OK && field(out, "version") == 3,
	   "then the second again, from what its change left");
	json_decref(out);
	ok(reads() == before, "all three without a read (%lld reads)", reads() - before);
	ok(gl_db_update("things", &ids[0], 1, &set, &out) == GL_OK && field(out, "version") == 2,
	   "the first, %d documents back: changed", N);
	json_decref(out);
	ok(reads() - before == 1, "after a read of it: its copy had made room (%lld reads)",
	   reads() - before);

	/* A read that finds a document grown too large to copy takes its older copy with
	 * it: the next change reads and writes once, rather than deciding on that stale copy,
	 * being refused, reading and writing again. */
	long long evals;
	bson_oid_init(&other_id, NULL);
	bson_reinit(&doc);
	BSON_APPEND_OID(&doc, "_id", &other_id);
	BSON_APPEND_INT64(&doc, "n", 1);
	BSON_APPEND_INT64(&doc, "version", 1);
	ok(gl_db_insert("things", &doc) == GL_OK, "a small thing: copied as inserted");
	other_note_size = 20000; /* kept.c copies documents up to 16 KiB */
	ok(other_writes() == GL_OK, "another thread makes it larger than a copy may be");
	other_note_size = 0;
	ok(gl_db_get("things", &other_id, &out) == GL_OK && field(out, "version") == 2,
	   "read: version 2, not copied");
	json_decref(out);
	before = reads();
	evals = calls("eval");
	ok(gl_db_change("things", &other_id, add_ten, NULL, &out) == GL_OK &&
	           field(out, "n") == 12 && field(out, "version") == 3,
	   "a change decided then: n 12, version 3");
	json_decref(out);
	ok(reads() - before == 1 && calls("eval") - evals == 1,
	   "from a read, one write: the version 1 copy went (%lld reads, %lld writes)",
	   reads() - before, calls("eval") - evals);
	bson_destroy(&doc);
	bson_destroy(&set);
}

/*
 * A due entry and the document it names, in one round trip (gl_kept_get_listed, due.h's
 * gl_due_pick): only entries due, the one asked for among them, the document as a read
 * gives it (and this thread's copy of it), the entry put off as asked, nothing when none
 * is due; what is no id is dropped; an entry whose document is not stored says so.
 */
static void
test_pick(void)
{
	bson_oid_t a, b, later, got_id, nowhere;
	bson_t doc = BSON_INITIALIZER, set = BSON_INITIALIZER;
	json_t *got = NULL, *out = NULL;
	int64_t now = (int64_t)time(NULL);
	bool listed = true;
	long long evals, before;
	const char *marker[] = { "SET", DUE ":imported", "1" };

	unit_redis(NULL, 0, 3, marker); /* as after the import (due.c's due_import) */
	ok(gl_due_pick("things", "things", 8, 0, &listed, &got_id, &got) == GL_E_NOT_FOUND &&
	           !listed && got == NULL,
	   "nothing due: GL_E_NOT_FOUND, not listed");

	bson_oid_init(&a, NULL);
	bson_oid_init(&b, NULL);
	bson_oid_init(&later, NULL);
	BSON_APPEND_OID(&doc, "_id", &a);
	BSON_APPEND_INT64(&doc, "n", 1);
	BSON_APPEND_INT64(&doc, "version", 1);
	ok(gl_db_insert("things", &doc) == GL_OK && gl_due_add("things", &a, now - 20) == GL_OK,
	   "thing a, due 20 s ago");
	bson_reinit(&doc);
	BSON_APPEND_OID(&doc, "_id", &later);
	BSON_APPEND_INT64(&doc, "version", 1);
	ok(gl_db_insert("things", &doc) == GL_OK && gl_due_add("things", &later, now + 60) == GL_OK,
	   "another, due in a minute");

	evals = calls("eval");
	before = reads();
	ok(gl_due_pick("things", "things", 8, 0, &listed, &got_id, &got) == GL_OK && listed &&
	           bson_oid_equal(&got_id, &a) && field(got, "n") == 1 &&
	           field(got, "version") == 1,
	   "the one due is picked, with its document");
	ok(calls("eval") - evals == 1 && reads() - before == 1,
	   "in one script, the document's one read inside it (%lld scripts, %lld reads)",
	   calls("eval") - evals, reads() - before);
	json_decref(got);
	got = NULL;
	BSON_APPEND_INT64(&set, "n", 5);
	before = reads();
	ok(gl_db_update("things", &a, 1, &set, &out) == GL_OK && field(out, "version") == 2 &&
	           reads() == before,
	   "a change right after starts from the thread's copy: no read");
	json_decref(out);

	bson_reinit(&doc);
	BSON_APPEND_OID(&doc, "_id", &b);
	BSON_APPEND_INT64(&doc, "n", 2);
	BSON_APPEND_INT64(&doc, "version", 1);
	ok(gl_db_insert("things", &doc) == GL_OK && gl_due_add("things", &b, now - 10) == GL_OK,
	   "thing b, due 10 s ago");
	const char *key = DUE;
	ok(gl_kept_get_listed("things", key, now, 8, 0, 0, &listed, &got_id, &got) == GL_OK &&
	           bson_oid_equal(&got_id, &a) && field(got, "n") == 5,
	   "pick 0 of two due: the earlier, as written since (n 5)");
	json_decref(got);
	ok(gl_kept_get_listed("things", key, now, 8, 1, 0, &listed, &got_id, &got) == GL_OK &&
	           bson_oid_equal(&got_id, &b) && field(got, "n") == 2,
	   "pick 1: the other");
	json_decref(got);
	ok(gl_kept_get_listed("things", key, now, 8, 2, 0, &listed, &got_id, &got) == GL_OK &&
	           bson_oid_equal(&got_id, &a),
	   "pick 2: counted round, the first again");
	json_decref(got);
	ok(gl_kept_get_listed("things", key, now, 1, 1, 0, &listed, &got_id, &got) == GL_OK &&
	           bson_oid_equal(&got_id, &a),
	   "among the first 1 only: always the earliest");
	json_decref(got);
	gl_due_drop("things", &a);
	char hb[25];
	bson_oid_to_string(&b, hb);
	ok(gl_due_pick("things", "things", 8, 30, &listed, &got_id, &got) == GL_OK && listed &&
	           bson_oid_equal(&got_id, &b),
	   "a dropped entry is not picked: the one left is");
	json_decref(got);
	got = NULL;
	long long held = score(DUE, hb);
	ok(held >= now + 30 && held <= (long long)time(NULL) + 30,
	   "picked with a hold of 30 s: put off that long (%lld s)", held - now);
	ok(gl_due_pick("things", "things", 8, 30, &listed, &got_id, &got) == GL_E_NOT_FOUND &&
	           !listed,
	   "so the next pick passes it by: nothing due");
	gl_due_drop("things", &b);

	/* What is no id is dropped on the way; an id whose document is not stored says so. */
	const char *junk[] = { "ZADD", key, "0", "not-an-id" };
	unit_redis(NULL, 0, 4, junk);
	ok(gl_due_pick("things", "things", 8, 0, &listed, &got_id, &got) == GL_E_NOT_FOUND &&
	           !listed && score(DUE, "not-an-id") == -1,
	   "a member that is no id: dropped, nothing picked");
	bson_oid_init(&nowhere, NULL);
	ok(gl_due_add("things", &nowhere, now - 1) == GL_OK, "an entry for a thing never stored");
	ok(gl_due_pick("things", "things", 8, 0, &listed, &got_id, &got) == GL_E_NOT_FOUND &&
	           listed && bson_oid_equal(&got_id, &nowhere) && got == NULL,
	   "picked: listed, GL_E_NOT_FOUND, no document");
	gl_due_drop("things", &nowhere);
	bson_destroy(&doc);
	bson_destroy(&set);
}

/* A thing in state (a listed field: colls), inserted now; its id's hex into hex. */
static void
insert_in_state(bson_oid_t *id, char *hex, const char *state)
{
	bson_t doc = BSON_INITIALIZER;

	bson_oid_init(id, NULL);
	bson_oid_to_string(id, hex);
	BSON_APPEND_OID(&doc, "_id", id);
	BSON_APPEND_UTF8(&doc, "state", state);
	BSON_APPEND_INT64(&doc, "version", 1);
	ok(gl_db_insert("things", &doc) == GL_OK, "a thing in state %s", state);
	bson_destroy(&doc);
}

/* The ids of a list page's items, space-separated, and its next ("-" for null). */
static void
page_ids(const json_t *out, char *buf, size_t size)
{
	const json_t *item, *next = json_object_get(out, "next");
	size_t i, n = 0;

	buf[0] = '\0';
	json_array_foreach(json_object_get(out, "items"), i, item)
		n += (size_t)snprintf(buf + n, size - n, "%s ",
		                      json_string_value(json_object_get(item, "id")));
	snprintf(buf + n, size - n, "| %s", json_is_string(next) ? json_string_value(next) : "-");
}

/*
 * A listed collection (kept.h, kept_list.c): each write keeps its document's id in the set
 * of its value, moving it with the write that changes the value; a page reads the sets in
 * id order, one more than asked for its next, and skips an id listed under a value its
 * document no longer has.
 */
static void
test_list(void)
{
	bson_oid_t a1, b1, a2, before;
	char h1[25], hb[25], h2[25], hbefore[25], got[256], want[256], key[160];
	struct gl_page page = { 1, NULL };
	bson_t set = BSON_INITIALIZER;
	json_t *out = NULL;

	ok(!gl_kept_listed("things"), "not listed before a build marks it");
	bson_oid_init(&before, NULL); /* the other tests' things are listed before it */
	bson_oid_to_string(&before, hbefore);
	insert_in_state(&a1, h1, "open");
	insert_in_state(&b1, hb, "shut");
	insert_in_state(&a2, h2, "open");
	ok(score("galley:kept:unit:things:all", h1) == 0 &&
	           score("galley:kept:unit:things:all", hb) == 0 &&
	           score("galley:kept:unit:things:all", h2) == 0,
	   "each insert adds its id to the set of all");
	ok(score("galley:kept:unit:things:by:open", h1) == 0 &&
	           score("galley:kept:unit:things:by:open", h2) == 0 &&
	           score("galley:kept:unit:things:by:shut", h1) == -1 &&
	           score("galley:kept:unit:things:by:shut", hb) == 0,
	   "and to the set of its state only");

	ok(gl_kept_list("things", "open", NULL, &page, &out) == GL_OK, "a page of one open thing");
	page_ids(out, got, sizeof(got));
	snprintf(want, sizeof(want), "%s | %s", h1, h1);
	is_str(got, want, "the first, and next says there is more after it");
	json_decref(out);
	page.after = h1;
	ok(gl_kept_list("things", "open", NULL, &page, &out) == GL_OK, "the next page");
	page_ids(out, got, sizeof(got));
	snprintf(want, sizeof(want), "%s | -", h2);
	is_str(got, want, "the second, and no next");
	json_decref(out);

	BSON_APPEND_UTF8(&set, "state", "shut");
	ok(gl_db_update("things", &a1, -1, &set, &out) == GL_OK, "the first open one shut");
	json_decref(out);
	ok(score("galley:kept:unit:things:by:open", h1) == -1 &&
	           score("galley:kept:unit:things:by:shut", h1) == 0,
	   "the write moved its id from open's set to shut's");
	page.limit = 10;
	page.after = NULL;
	ok(gl_kept_list("things", "shut", NULL, &page, &out) == GL_OK, "the shut ones");
	page_ids(out, got, sizeof(got));
	snprintf(want, sizeof(want), "%s %s | -", h1, hb);
	is_str(got, want, "both, in id order");
	json_decref(out);
	page.after = hbefore;
	ok(gl_kept_list("things", NULL, NULL, &page, &out) == GL_OK, "all of them");
	page_ids(out, got, sizeof(got));
	snprintf(want, sizeof(want), "%s %s %s | -", h1, hb, h2);
	is_str(got, want, "the three");
	json_decref(out);

	/* A cursor in upper case (the API takes either) and a prefix of the id. */
	char upper[25];
	for (int i = 0; i < 25; i++)
		upper[i] = (char)(h1[i] >= 'a' && h1[i] <= 'f' ? h1[i] - 'a' + 'A' : h1[i]);
	page.after = upper;
	ok(gl_kept_list("things", NULL, NULL, &page, &out) == GL_OK,
	   "all, after the first in upper case");
	page_ids(out, got, sizeof(got));
	snprintf(want, sizeof(want), "%s %s | -", hb, h2);
	is_str(got, want, "the two after it, as after it in lower case");
	json_decref(out);
	page.after = NULL;
	ok(gl_kept_list("things", NULL, h2, &page, &out) == GL_OK,
	   "all with the third's id as the prefix");
	page_ids(out, got, sizeof(got));
	snprintf(want, sizeof(want), "%s | -", h2);
	is_str(got, want, "the third alone");
	json_decref(out);
	page.after = h2;
	ok(gl_kept_list("things", NULL, h2, &page, &out) == GL_OK, "and after it");
	page_ids(out, got, sizeof(got));
	is_str(got, "| -", "nothing, and no next");
	json_decref(out);
	page.after = NULL;

	/* Listed where its document says otherwise (a write by a process without lists): the
	 * page skips it, and a page of one still finds the one after it. */
	const char *stale[] = { "ZADD", "galley:kept:unit:things:by:open", "0", h1 };
	unit_redis(got, sizeof(got), 4, stale);
	page.limit = 1;
	page.after = NULL;
	ok(gl_kept_list("things", "open", NULL, &page, &out) == GL_OK, "open ones, one a page");
	page_ids(out, got, sizeof(got));
	snprintf(want, sizeof(want), "%s | -", h2);
	is_str(got, want, "the shut one listed as open is skipped");
	json_decref(out);

	/* Another set of the things' ids (a user's, say) read by state: the shut ones are
	 * skipped but stay on it, an id whose thing is nowhere is taken off. */
	bson_oid_t nowhere;
	char hn[25];
	bson_oid_init(&nowhere, NULL);
	bson_oid_to_string(&nowhere, hn);
	const char *mine[] = { "ZADD", INDEX, "0", h1, "0", hb, "0", h2, "0", hn };
	unit_redis(got, sizeof(got), 10, mine);
	page.limit = 10;
	ok(gl_kept_list_in("things", INDEX, "open", NULL, &page, &out) == GL_OK,
	   "a set of one's own, by state");
	page_ids(out, got, sizeof(got));
	snprintf(want, sizeof(want), "%s | -", h2);
	is_str(got, want, "the open one of the four");
	json_decref(out);
	ok(score(INDEX, h1) == 0 && score(INDEX, hb) == 0, "the shut ones stay on that set");
	ok(score(INDEX, hn) == -1, "the id of a thing stored nowhere is taken off it");
	ok(score("galley:kept:unit:things:by:open", h1) == -1,
	   "and the shut one listed as open is off open's set since the page before");
	page.limit = 1;

	/* The document's copy gone from the store (expired): read again to be checked. */
	snprintf(key, sizeof(key), "galley:kept:unit:things:%s", h2);
	const char *drop[] = { "DEL", key };
	unit_redis(got, sizeof(got), 2, drop);
	ok(gl_kept_list("things", "open", NULL, &page, &out) == GL_OK &&
	           json_array_size(json_object_get(out, "items")) == 0,
	   "an id whose document is nowhere (new, not in the store): skipped");
	json_decref(out);
	ok(score("galley:kept:unit:things:by:open", h2) == -1, "and taken off the set");
	bson_destroy(&set);
}

/* A thing waiting (the held value: colls) is listed as held, not dirty, until a write
 * moves it to another state; with no hold (GALLEY_KEPT_HOLD_S 0) it is dirty at once. */
static void
test_held(void)
{
	bson_oid_t id, id2;
	char hex[25], hex2[25];
	bson_t set = BSON_INITIALIZER;
	json_t *out = NULL;
	long hold = gl_conf.kept_hold_s;

	gl_conf.kept_hold_s = 1200;
	insert_in_state(&id, hex, "waiting");
	ok(score("galley:kept:unit:things:held", hex) > 0 &&
	           score("galley:kept:unit:things:dirty", hex) == -1,
	   "inserted waiting: held, not dirty");
	BSON_APPEND_UTF8(&set, "state", "going");
	ok(gl_db_update("things", &id, -1, &set, &out) == GL_OK, "then going, held in another run");
	json_decref(out);
	ok(score("galley:kept:unit:things:held", hex) == -1 &&
	           score("galley:kept:unit:things:dirty", hex) > 0,
	   "from one run to another: dirty, held no longer (an unpaid order seen preparing)");
	insert_in_state(&id2, hex2, "going");
	long long since = score("galley:kept:unit:things:held", hex2);
	bson_reinit(&set);
	BSON_APPEND_UTF8(&set, "state", "coming");
	ok(gl_db_update("things", &id2, -1, &set, &out) == GL_OK, "going, then coming: one run");
	json_decref(out);
	ok(since > 0 && score("galley:kept:unit:things:held", hex2) == since &&
	           score("galley:kept:unit:things:dirty", hex2) == -1,
	   "still held since the first held write, not dirty");
	bson_reinit(&set);
	BSON_APPEND_UTF8(&set, "state", "open");
	ok(gl_db_update("things", &id2, -1, &set, &out) == GL_OK, "then opened");
	json_decref(out);
	ok(score("galley:kept:unit:things:held", hex2) == -1 &&
	           score("galley:kept:unit:things:dirty", hex2) > 0,
	   "dirty since that write, held no longer");
	/* Dirty, then into a held value before the tick wrote it: MongoDB has never had it, so
	 * it stays dirty (the tick writes it as it is then). */
	insert_in_state(&id2, hex2, "open");
	bson_reinit(&set);
	BSON_APPEND_UTF8(&set, "state", "going");
	ok(gl_db_update("things", &id2, -1, &set, &out) == GL_OK, "an open one goes");
	json_decref(out);
	ok(score("galley:kept:unit:things:dirty", hex2) > 0, "and is still dirty");
	gl_conf.kept_hold_s = 0;
	insert_in_state(&id2, hex2, "waiting");
	ok(score("galley:kept:unit:things:held", hex2) == -1 &&
	           score("galley:kept:unit:things:dirty", hex2) > 0,
	   "with no hold, a waiting one is dirty at once");
	gl_conf.kept_hold_s = hold;
	bson_destroy(&set);
}

int
main(void)
{
	unit_redis_start();
	gl_kept_open(colls);
	test_change_after_read();
	test_peek();
	test_copies();
	test_drop_riding();
	test_pick();
	test_list();
	test_held();
	test_insert();
	gl_redis_close();
	gl_kept_thread_end();
	return done_testing();
}
