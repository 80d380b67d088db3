/*
 * Unit tests of lib/due.c in a Redis of the test's own (../redis_server.h): the due list's
 * key and scores, what comes up and in which order, a move that loses to a drop, a claim
 * that only one of many racing gets, the walk and its stop, and Redis away.  Not here: the one-time
 * import of an old MongoDB due collection (it needs MongoDB; without it the import waits, which is
 * checked).
 */
#include <pthread.h>
#include <stdlib.h>
#include <time.h>

#include "../redis_server.h"
#include "../tap.h"
#include "due.h"
#include "log.h"
#include "stop.h"

#define KEY "galley:unit:due:things"
#define A   "5f1e2d3c4b5a69788796a5b1"
#define B   "5f1e2d3c4b5a69788796a5b2"
#define C   "5f1e2d3c4b5a69788796a5b3"

static bson_oid_t a, b, c;

/* The ids gl_due_find() gives, as "id,id,..." (or why not). */
static const char *
found(size_t max)
{
	static char ids[256];
	bson_oid_t due[GL_DUE_MAX];
	char hex[25];
	size_t i, n;

	ids[0] = '\0';
	if (gl_due_find("things", due, max, &n) != GL_OK)
		return "(failed)";
	for (i = 0; i < n; i++) {
		size_t len = strlen(ids);
		bson_oid_to_string(&due[i], hex);
		snprintf(ids + len, sizeof(ids) - len, "%s%s", len ? "," : "", hex);
	}
	return ids;
}

static long long
score(const char *member)
{
	const char *argv[] = { "ZSCORE", KEY, member };
	char s[32];

	unit_redis(s, sizeof(s), 3, argv);
	return s[0] ? atoll(s) : -1;
}

static char settled[256];

static void
settle(const bson_oid_t *id)
{
	char hex[25];
	size_t n = strlen(settled);

	bson_oid_to_string(id, hex);
	snprintf(settled + n, sizeof(settled) - n, "%s%s", n ? "," : "", hex);
	gl_due_drop("things", id);
}

static void
settle_then_stop(const bson_oid_t *id)
{
	settle(id);
	gl_stop_request();
}

static void
test_import_waits(void)
{
	const char *marker[] = { "EXISTS", KEY ":imported" };

	is_str(found(10), "", "without MongoDB, a list not imported yet is still read (empty)");
	ok(unit_redis(NULL, 0, 2, marker) == 0, "and the import is left for a later tick");
}

static void
test_list(void)
{
	int64_t now = (int64_t)time(NULL);
	char soon[24];
	const char *junk[] = { "ZADD", KEY, soon, "not-an-id" };
	const char *marker[] = { "SET", KEY ":imported", "1" };

	unit_redis(NULL, 0, 3, marker); /* as after the import (due.c's due_import) */
	/* Not an id (nothing galley adds): dropped when found, or it would take a slot of every
	 * find once it is the oldest. */
	snprintf(soon, sizeof(soon), "%lld", (long long)now - 1);
	ok(gl_due_add("things", &b, now - 5) == GL_OK, "add: GL_OK");
	ok(gl_due_add("things", &a, now - 10) == GL_OK &&
	           gl_due_add("things", &c, now + 100) == GL_OK,
	   "two more");
	ok(score(A) == now - 10 && score(B) == now - 5 && score(C) == now + 100,
	   "in " KEY ", scored by when they are due (epoch seconds)");
	unit_redis(NULL, 0, 4, junk);
	is_str(found(10), A "," B, "what is due, oldest first; not what is not yet, nor junk");
	ok(score("not-an-id") == -1, "the junk is dropped from the list");
	is_str(found(1), A, "at most max");

	ok(gl_due_move("things", &a, now + 50) == GL_OK, "move: GL_OK");
	ok(score(A) == now + 50, "the entry is put off");
	is_str(found(10), B, "and no longer due");
	ok(gl_due_add("things", &b, now - 1) == GL_OK && score(B) == now - 1,
	   "add again: the new time wins");

	gl_due_drop("things", &b);
	ok(score(B) == -1, "drop: gone");
	ok(gl_due_move("things", &b, now - 1) == GL_OK && score(B) == -1,
	   "a move after a drop does not bring it back (a drop wins)");
	is_str(found(10), "", "nothing due");
}

static void
test_each(void)
{
	int64_t now = (int64_t)time(NULL);

	ok(gl_due_move("things", &a, now - 3) == GL_OK &&
	           gl_due_add("things", &b, now - 2) == GL_OK &&
	           gl_due_move("things", &c, now - 1) == GL_OK,
	   "three due");
	gl_due_each("things", 2, settle);
	is_str(settled, A "," B, "each: settle() for up to max, oldest first");
	is_str(found(10), C, "what they dropped is gone, the rest waits");
	ok(gl_due_add("things", &a, now - 9) == GL_OK, "one more due");
	settled[0] = '\0';
	gl_due_each("things", 10, settle_then_stop);
	is_str(settled, A, "a stop asked during the walk: not one entry more");
	is_str(found(10), C, "the rest is left for the next process");
}

/* Racers: each claims A from its own thread (its own connection to Redis). */
#define RACERS 8
static int claimed_by[RACERS];

static void *
racer(void *arg)
{
	int *mine = arg;
	enum gl_due_claim got;

	if (gl_due_claim("things", &a, (int64_t)time(NULL) + 60, &got, NULL) == GL_OK)
		*mine = got == GL_DUE_CLAIMED ? 1 : got == GL_DUE_HELD ? 2 : 3;
	gl_redis_close();
	return NULL;
}

static void
test_claim(void)
{
	int64_t now = (int64_t)time(NULL), until = 0;
	enum gl_due_claim got = GL_DUE_ABSENT;
	pthread_t t[RACERS];
	int i, won = 0, held = 0;

	gl_due_drop("things", &c);
	ok(gl_due_add("things", &a, now - 1) == GL_OK, "an entry due");
	ok(gl_due_claim("things", &a, now + 30, &got, &until) == GL_OK && got == GL_DUE_CLAIMED,
	   "claim: taken");
	ok(score(A) == now + 30, "its time put off to the claim's end");
	is_str(found(10), "", "so it is no longer due");
	ok(gl_due_claim("things", &a, now + 90, &got, &until) == GL_OK && got == GL_DUE_HELD &&
	           until == now + 30,
	   "a second claim: held, until the first one's end");
	ok(score(A) == now + 30, "and its time is left alone");
	ok(gl_due_claim("things", &b, now + 30, &got, &until) == GL_OK && got == GL_DUE_ABSENT,
	   "an entry not listed (settled): absent");
	ok(score(B) == -1, "and not added");

	ok(gl_due_move("things", &a, now) == GL_OK, "due again now (a holder lets it go)");
	for (i = 0; i < RACERS; i++)
		ok(pthread_create(&t[i], NULL, racer, &claimed_by[i]) == 0, "racer %d starts", i);
	for (i = 0; i < RACERS; i++) {
		pthread_join(t[i], NULL);
		won += claimed_by[i] == 1;
		held += claimed_by[i] == 2;
	}
	ok(won == 1 && held == RACERS - 1, "%d racing claims: one taken, the rest held (%d, %d)",
	   RACERS, won, held);
	gl_due_drop("things", &a);
}

static void
test_away(void)
{
	bson_oid_t due[4];
	size_t n = 99;

	unit_redis_stop();
	ok(gl_due_add("things", &a, 1) == GL_E_UPSTREAM_DOWN, "Redis away: add says so");
	ok(gl_due_move("things", &a, 1) == GL_E_UPSTREAM_DOWN, "move too");
	enum gl_due_claim got = GL_DUE_CLAIMED;
	ok(gl_due_claim("things", &a, 1, &got, NULL) == GL_E_UPSTREAM_DOWN && got != GL_DUE_CLAIMED,
	   "claim too, and takes nothing");
	ok(gl_due_find("things", due, 4, &n) == GL_E_UPSTREAM_DOWN && n == 0,
	   "find too, and gives nothing");
	settled[0] = '\0';
	gl_due_each("things", 10, settle);
	ok(settled[0] == '\0', "each settles nothing");
}

int
main(void)
{
	bson_oid_init_from_string(&a, A);
	bson_oid_init_from_string(&b, B);
	bson_oid_init_from_string(&c, C);
	unit_redis_start();

	test_import_waits();
	test_list();
	test_each();
	test_claim();
	test_away();
	gl_redis_close();
	return done_testing();
}
