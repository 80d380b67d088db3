/*
 * Unit tests of lib/idem.c: which Idempotency-Keys are taken, and the record a key makes in
 * a Redis of the test's own (../redis_server.h): claimed, in progress, replayed, refused for
 * another body, the caller's own, released (unless done), taken over when abandoned, and
 * Redis away.
 */
#include <stdlib.h>
#include <time.h>

#include "../fake.h"
#include "../redis_server.h"
#include "../tap.h"
#include "idem.h"
#include "log.h"

#define ALICE "HTTP_X_USER_ID=0123456789abcdef01234567"
#define BOB   "HTTP_X_USER_ID=0123456789abcdef0123456f"
#define KEY   "galley:idem:unit:orders:0123456789abcdef01234567:k-1"

static void
test_key_ok(void)
{
	char key[66];

	memset(key, 'k', sizeof(key) - 1);
	key[65] = '\0';
	ok(!gl_idem_key_ok(key), "65 characters: refused");
	key[64] = '\0';
	ok(gl_idem_key_ok(key), "64: taken");
	ok(gl_idem_key_ok("a") && gl_idem_key_ok("!~\"'{}:/"), "1, and any printable ASCII");
	ok(!gl_idem_key_ok(""), "empty: refused");
	ok(!gl_idem_key_ok("a b") && !gl_idem_key_ok("a\tb") && !gl_idem_key_ok("a\nb"),
	   "a space, a tab, a newline: refused");
	ok(!gl_idem_key_ok("a\x7f") && !gl_idem_key_ok("caf\xc3\xa9"),
	   "DEL and bytes past ASCII: refused");
}

/* What one claim came to. */
struct call {
	enum gl_err err;
	bool replayed, active;
	char id[160];
	int status;    /* a replay's */
	char raw[256]; /* a replay's body */
	char code[32]; /* a refusal's */
	char msg[256]; /* its message */
};

/*
 * A POST by user with key (an "HTTP_IDEMPOTENCY_KEY=..." param, or "X=1" for none) and body
 * claims the key; a body with "store" then stores that as its 201, one with "fail" releases.
 */
static struct call
claim(const char *user, const char *key, const char *body)
{
	struct fuzz_fcgi f;
	struct gl_req req;
	struct gl_idem idem;
	struct call c;

	memset(&c, 0, sizeof(c));
	fake_begin(&f, &req, NULL, "REQUEST_METHOD=POST", user, "HTTP_X_USER_ROLE=customer", key,
	           NULL);
	req.body = json_loads(body, 0, NULL);
	c.err = gl_idem_begin(&req, "orders", &idem, &c.replayed);
	c.active = idem.active;
	snprintf(c.id, sizeof(c.id), "%s", idem.id);
	if (c.replayed) {
		c.status = req.status;
		snprintf(c.raw, sizeof(c.raw), "%.*s", (int)req.raw_len, req.raw);
	}
	snprintf(c.code, sizeof(c.code), "%s", gl_err_info(c.err)->code);
	snprintf(c.msg, sizeof(c.msg), "%s", req.err == c.err ? req.err_message : "");
	if (c.active && strstr(body, "\"store\"") != NULL)
		gl_idem_store(&idem, 201, json_object_get(req.body, "store"));
	else if (c.active && strstr(body, "\"fail\"") != NULL)
		gl_idem_release(&idem);
	json_decref(req.body);
	free(req.raw);
	fuzz_fcgi_free(&f);
	return c;
}

static void
hash_field(const char *key, const char *field, char *val, size_t size)
{
	const char *argv[] = { "HGET", key, field };

	unit_redis(val, size, 3, argv);
}

static void
test_records(void)
{
	const char *k = "HTTP_IDEMPOTENCY_KEY=k-1";
	const char *body = "{\"store\":{\"id\":\"o1\",\"total\":5},\"a\":1,\"b\":[1,2]}";
	const char *same = "{\"b\":[1,2],\"a\":1,\"store\":{\"total\":5,\"id\":\"o1\"}}";
	char val[128];
	struct call c;

	c = claim(ALICE, "X=1", "{}");
	ok(c.err == GL_OK && !c.replayed && !c.active, "no key: go on, nothing owned");
	c = claim(ALICE, "HTTP_IDEMPOTENCY_KEY=a b", "{}");
	ok(c.err == GL_E_VALIDATION && !c.active, "a malformed key: 400");
	is_str(c.msg, "Idempotency-Key must be 1..64 printable characters", "saying why");

	/* Claimed by a first request that is still going: "pending", with the body's hash. */
	c = claim(ALICE, k, "{\"a\":1}");
	ok(c.err == GL_OK && !c.replayed && c.active, "a new key: claimed");
	is_str(c.id, "orders:0123456789abcdef01234567:k-1", "its record id: scope, user, key");
	hash_field(KEY, "state", val, sizeof(val));
	is_str(val, "pending", "the record says pending");
	hash_field(KEY, "hash", val, sizeof(val));
	ok(strlen(val) == 64 && strspn(val, "0123456789abcdef") == 64,
	   "with the body's 64-hex digest");
	const char *ttl[] = { "TTL", KEY };
	long long t = unit_redis(NULL, 0, 2, ttl);
	ok(t > GL_IDEM_KEEP_S - 10 && t <= GL_IDEM_KEEP_S, "kept for a day (TTL %lld)", t);
	c = claim(ALICE, k, "{\"a\":1}");
	ok(c.err == GL_E_CONFLICT && !c.active, "the same key again meanwhile: 409");
	is_str(c.msg, "a request with this Idempotency-Key is still in progress", "in progress");
	c = claim(ALICE, k, "{\"a\":2}");
	ok(c.err == GL_E_CONFLICT, "another body: 409");
	is_str(c.msg, "this Idempotency-Key was used with another body", "another body");

	/* Abandoned: a pending record older than GL_IDEM_PENDING_S is taken over. */
	char old[24];
	snprintf(old, sizeof(old), "%lld", (long long)time(NULL) - GL_IDEM_PENDING_S - 2);
	const char *age[] = { "HSET", KEY, "at", old };
	unit_redis(NULL, 0, 4, age);
	c = claim(ALICE, k, body);
	ok(c.err == GL_OK && c.active && !c.replayed, "a pending record past %d s: taken over",
	   GL_IDEM_PENDING_S);
	hash_field(KEY, "state", val, sizeof(val));
	is_str(val, "done", "the new owner stored its answer");
	hash_field(KEY, "status", val, sizeof(val));
	is_str(val, "201", "its status");
	hash_field(KEY, "response", val, sizeof(val));
	is_str(val, "{\"id\":\"o1\",\"total\":5}", "its body");

	c = claim(ALICE, k, same);
	ok(c.err == GL_OK && c.replayed && !c.active, "a repeat, keys in another order: replayed");
	ok(c.status == 201, "with the first status (%d)", c.status);
	is_str(c.raw, "{\"id\":\"o1\",\"total\":5}", "and the first body, byte for byte");
	c = claim(ALICE, k, "{\"a\":1}");
	ok(c.err == GL_E_CONFLICT, "after it is done, another body: still 409");
	c = claim(BOB, k, body);
	ok(c.err == GL_OK && c.active && !c.replayed,
	   "another user, the same key: a request of its own");
	is_str(c.id, "orders:0123456789abcdef0123456f:k-1", "in a record of its own");

	/* A failure gives the key up: a retry goes through. */
	c = claim(ALICE, "HTTP_IDEMPOTENCY_KEY=k-2", "{\"fail\":1}");
	ok(c.err == GL_OK && c.active, "a key claimed by a request that then fails");
	const char *gone[] = { "EXISTS", "galley:idem:unit:orders:0123456789abcdef01234567:k-2" };
	ok(unit_redis(NULL, 0, 2, gone) == 0, "released: the record is gone");
	c = claim(ALICE, "HTTP_IDEMPOTENCY_KEY=k-2", "{\"a\":1}");
	ok(c.err == GL_OK && c.active, "so a retry claims it again");
}

/* A release after the answer was stored (it rode on a write whose reply was lost, kept.h)
 * keeps the record: a retry gets the answer, and nothing is made twice. */
static void
test_release_done(void)
{
	struct fuzz_fcgi f;
	struct gl_req req;
	struct gl_idem idem;
	bool replayed;
	char val[64];
	const char *rec = "galley:idem:unit:orders:0123456789abcdef01234567:k-4";
	const char *done[] = { "HSET", rec, "state", "done", "status", "201", "response", "{}" };

	fake_begin(&f, &req, NULL, "REQUEST_METHOD=POST", ALICE, "HTTP_X_USER_ROLE=customer",
	           "HTTP_IDEMPOTENCY_KEY=k-4", NULL);
	req.body = json_loads("{\"a\":1}", 0, NULL);
	ok(gl_idem_begin(&req, "orders", &idem, &replayed) == GL_OK && idem.active, "k-4 claimed");
	gl_idem_ride(&idem, 201, req.body);
	ok(gl_idem_riding() != NULL, "its answer riding on the next kept write");
	unit_redis(NULL, 0, 8, done); /* that write's script ran; its reply was lost */
	gl_idem_rode(false);
	ok(idem.active && gl_idem_riding() == NULL, "not known to be written: still owned");
	gl_idem_release(&idem);
	hash_field(rec, "state", val, sizeof(val));
	is_str(val, "done", "released: a done record stays");
	ok(!idem.active, "and the request owns it no more");
	json_decref(req.body);
	free(req.raw);
	fuzz_fcgi_free(&f);
}

static void
test_away(void)
{
	struct call c;

	unit_redis_stop();
	c = claim(ALICE, "HTTP_IDEMPOTENCY_KEY=k-3", "{\"a\":1}");
	ok(c.err == GL_E_UPSTREAM_DOWN && !c.active, "Redis away: 503, nothing owned");
	c = claim(ALICE, "X=1", "{}");
	ok(c.err == GL_OK, "without a key Redis is not needed");
}

int
main(void)
{
	unit_redis_start();

	test_key_ok();
	test_records();
	test_release_done();
	test_away();
	gl_redis_close();
	return done_testing();
}
