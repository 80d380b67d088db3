/* Unit tests for lib/consumer.c: decoding a stream entry, checking an event's data; a
 * failure's count and a batch handler's read in a Redis of the test's own
 * (../redis_server.h). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include "../redis_server.h"
#include "../tap.h"
#include "consumer.h"
#include "lines.h"
#include "redis.h"
#include "stop.h"

#define OID  "5f1e2d3c4b5a69788796a5b4"
#define LINE "{\"item_id\":\"" OID "\",\"name\":\"Soup\",\"qty\":2}"

/* One entry as XREADGROUP gives it, [sid, [field, value, ...]], read from RESP: new. */
static redisReply *
entry_new(const char *sid, const char *field, const char *value)
{
	char resp[1024];
	redisReader *rd = redisReaderCreate();
	void *reply = NULL;

	snprintf(resp, sizeof(resp), "*2\r\n$%zu\r\n%s\r\n*2\r\n$%zu\r\n%s\r\n$%zu\r\n%s\r\n",
	         strlen(sid), sid, strlen(field), field, strlen(value), value);
	if (rd == NULL || redisReaderFeed(rd, resp, strlen(resp)) != REDIS_OK ||
	    redisReaderGetReply(rd, &reply) != REDIS_OK)
		reply = NULL;
	redisReaderFree(rd);
	return reply;
}

static void
test_decode(void)
{
	static const struct {
		const char *field, *value;
		int want;
	} cases[] = {
		{ "event", "{\"id\":\"e1\",\"type\":\"order.paid\",\"data\":{}}", 1 },
		{ "event", "{\"id\":\"e1\"}", 0 },                    /* no type */
		{ "event", "{\"id\":1,\"type\":\"order.paid\"}", 0 }, /* id not a string */
		{ "event", "not json", 0 },
		{ "other", "{\"id\":\"e1\",\"type\":\"order.paid\"}", 0 }, /* no event field */
		{ "event",
		  "{\"id\":\"0123456789012345678901234567890123456789012345678901234567890123"
		  "4\",\"type\":\"t.x\"}",
		  0 }, /* an id of 65 bytes */
	};
	const char *sid, *text;
	char one[] = "1-0";
	json_t *ev;

	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		redisReply *e = entry_new("1-0", cases[i].field, cases[i].value);

		ev = NULL;
		int got = e != NULL ? gl_consumer_decode(e, &sid, &text, &ev) : -2;

		ok(got == cases[i].want, "entry %zu (%s %s): %d, want %d", i, cases[i].field,
		   cases[i].value, got, cases[i].want);
		ok(got < 0 || strcmp(sid, "1-0") == 0, "entry %zu: its stream id", i);
		ok((got == 1) == (ev != NULL), "entry %zu: an event only when it holds one", i);
		json_decref(ev);
		if (e != NULL)
			freeReplyObject(e);
	}
	redisReply s = { .type = REDIS_REPLY_STRING, .str = one, .len = 3 };
	ok(gl_consumer_decode(&s, &sid, &text, &ev) == -1 && sid == NULL && ev == NULL,
	   "a reply that is no entry: -1, nothing set");
}

static const struct gl_field paid_data[] = {
	{ "order_id", GL_T_OID, GL_REQUIRED },
	{ "user_id", GL_T_OID, GL_NULLABLE },
	{ "customer_id", GL_T_OID },
	GL_LINES_FIELD,
	{ .flags = GL_OPEN },
};

static const struct gl_field closed_data[] = {
	{ "order_id", GL_T_OID, GL_REQUIRED },
	{ 0 },
};

/* Only checked, never handled here: no handle functions. */
static const struct gl_event_handler paid = { "order.paid", NULL, paid_data };
static const struct gl_event_handler closed = { "order.paid", NULL, closed_data };
static const struct gl_event_handler any = { "order.created", NULL, NULL };

static void
test_check(void)
{
	static const struct {
		const struct gl_event_handler *h;
		const char *data;
		const char *field; /* NULL: GL_OK */
	} cases[] = {
		/* what payments sends, and more: fields and line fields nobody declared */
		{ &paid, "{\"order_id\":\"" OID "\",\"lines\":[" LINE "]}", NULL },
		{ &paid,
		  "{\"order_id\":\"" OID "\",\"status\":\"paid\",\"total_cents\":5,\"lines\":["
		  "{\"item_id\":\"" OID "\",\"name\":\"Soup\",\"qty\":2,\"note\":\"hot\"}]}",
		  NULL },
		{ &paid, "{\"order_id\":\"" OID "\",\"user_id\":\"" OID "\",\"lines\":[" LINE "]}",
		  NULL },
		/* what the handler reads must be there, of its type and range */
		{ &paid, "{\"lines\":[" LINE "]}", "order_id" },
		{ &paid, "{\"order_id\":\"12\",\"lines\":[" LINE "]}", "order_id" },
		{ &paid, "{\"order_id\":\"" OID "\",\"user_id\":null,\"lines\":[" LINE "]}", NULL },
		{ &paid, "{\"order_id\":\"" OID "\",\"customer_id\":null,\"lines\":[" LINE "]}",
		  "customer_id" },
		{ &paid, "{\"order_id\":\"" OID "\",\"user_id\":\"x\",\"lines\":[" LINE "]}",
		  "user_id" },
		{ &paid, "{\"order_id\":\"" OID "\",\"lines\":[]}", "lines" },
		{ &paid,
		  "{\"order_id\":\"" OID "\",\"lines\":[{\"item_id\":\"" OID
		  "\",\"name\":\"Soup\",\"qty\":1001}]}",
		  "lines[0].qty" },
		{ &paid,
		  "{\"order_id\":\"" OID "\",\"lines\":[{\"item_id\":\"" OID "\",\"qty\":1}]}",
		  "lines[0].name" },
		/* open or not, keys that could steer a query are not let be */
		{ &paid, "{\"order_id\":\"" OID "\",\"$where\":1,\"lines\":[" LINE "]}", "$where" },
		/* a table without GL_OPEN refuses what it does not declare */
		{ &closed, "{\"order_id\":\"" OID "\"}", NULL },
		{ &closed, "{\"order_id\":\"" OID "\",\"more\":1}", "more" },
		/* no table: the handler reads no data */
		{ &any, "[1,2]", NULL },
	};

	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		json_t *ev = json_pack("{s:s, s:s, s:o}", "id", "e1", "type", cases[i].h->type,
		                       "data", json_loads(cases[i].data, 0, NULL));
		struct gl_valid_fail fail;
		enum gl_err err = gl_consumer_check(cases[i].h, ev, &fail);

		ok(err == (cases[i].field == NULL ? GL_OK : GL_E_VALIDATION), "data %zu: %s", i,
		   cases[i].data);
		if (cases[i].field != NULL)
			is_str(fail.field, cases[i].field, "data %zu fails at %s (%s)", i,
			       cases[i].field, fail.message);
		json_decref(ev);
	}
	json_t *ev = json_pack("{s:s, s:s}", "id", "e1", "type", "order.paid");
	struct gl_valid_fail fail;
	ok(gl_consumer_check(&paid, ev, &fail) == GL_E_VALIDATION,
	   "an event without data, for a handler that reads some: GL_E_VALIDATION");
	json_decref(ev);
}

/*
 * A failure is counted while its entry is pending and never after its acknowledgement: a
 * handler whose write carried the acknowledgement may see that write fail (its reply lost)
 * after the entry was acknowledged, and a count made then would stay forever.
 */
static void
test_failure_count(void)
{
	const char *add[] = { "XADD", "s", "*", "event", "{}" };
	const char *group[] = { "XGROUP", "CREATE", "s", "g", "0" };
	const char *read[] = { "XREADGROUP", "GROUP", "g", "c", "COUNT", "1", "STREAMS", "s", ">" };
	const char *field[] = { "HEXISTS", "s:g:tries", NULL };
	const char *ack[] = { "XACK", "s", "g", NULL };
	char sid[64];
	redisReply *r;

	unit_redis_start();
	unit_redis(sid, sizeof(sid), 5, add);
	unit_redis(NULL, 0, 5, group);
	r = gl_redis_strv(GL_REDIS_STORE, 9, read);
	ok(r != NULL && r->type == REDIS_REPLY_ARRAY, "the entry is read, so pending");
	freeReplyObject(r);
	field[2] = ack[3] = sid;
	ok(gl_consumer_failure_count("s", "g", sid) == 1, "a pending entry's first failure: 1");
	ok(gl_consumer_failure_count("s", "g", sid) == 2, "its second: 2");
	unit_redis(NULL, 0, 4, ack);
	ok(gl_consumer_failure_count("s", "g", sid) == 0,
	   "once acknowledged, a failure is not counted (0)");
	ok(unit_redis(NULL, 0, 3, field) == 0, "and its count is gone");
	ok(gl_consumer_failure_count("s", "nogroup", sid) == -1,
	   "a group the store does not know: -1, as a store away");
	unit_redis_stop();
	ok(gl_consumer_failure_count("s", "g", sid) == -1, "the store away: -1");
}

/* What test_batch's batch handler was given. */
static struct {
	int calls;
	size_t n;
	char ids[4][16];
} batch_got;

/* Counts the first event and asks the second again (as reports' ready before its paid), then
 * stops the consumer: gl_consumer_run returns after this read, its outcomes recorded. */
static void
batch_handle(const json_t *const *events, size_t n, enum gl_err *errs)
{
	batch_got.calls++;
	batch_got.n = n;
	for (size_t i = 0; i < n && i < 4; i++) {
		snprintf(batch_got.ids[i], sizeof(batch_got.ids[i]), "%s",
		         json_string_value(json_object_get(events[i], "id")));
		errs[i] = i == 0 ? GL_OK : GL_E_NOT_FOUND;
	}
	gl_stop_request();
}

static const struct gl_event_handler batch_rows[] = {
	{ "order.paid", NULL, closed_data, .unrecorded = true },
	{ "order.ready", NULL, NULL, .unrecorded = true },
	{ 0 },
};

static const struct gl_event_source batch_sources[] = {
	{ "orders", batch_rows, .handle_batch = batch_handle },
	{ 0 },
};

/*
 * A source with handle_batch: one call for what a read brings of its types, in the stream's
 * order, each checked first; what it says of each is what a handler's answer would be.
 */
static void
test_batch(void)
{
	static const char *const events[] = {
		"{\"id\":\"e1\",\"type\":\"order.created\",\"data\":{}}",
		"{\"id\":\"e2\",\"type\":\"order.paid\",\"data\":{\"order_id\":\"" OID "\"}}",
		"{\"id\":\"e3\",\"type\":\"order.paid\",\"data\":{\"order_id\":\"nope\"}}",
		"{\"id\":\"e4\",\"type\":\"order.ready\",\"data\":{}}",
		"not an event",
	};
	const char *add[] = { "XADD", "galley:events:orders", "*", "event", NULL };
	const char *pending[] = { "XPENDING", "galley:events:orders", "unit" };
	const char *dead[] = { "XLEN", "galley:events:orders:dead" };
	const char *tries[] = { "HVALS", "galley:events:orders:unit:tries" };
	redisReply *r;

	unit_redis_start();
	/* The test before stopped its server: this thread's connection is refused for up to
	 * 100 ms after (lib/redis.c). */
	for (int i = 0; i < 500 && gl_redis_ping(GL_REDIS_STORE) != 0; i++)
		usleep(10000);
	for (size_t i = 0; i < sizeof(events) / sizeof(events[0]); i++) {
		add[4] = events[i];
		unit_redis(NULL, 0, 5, add);
	}
	alarm(60); /* a handler never called would leave the consumer running: fail, not hang */
	gl_consumer_run(batch_sources);
	alarm(0);
	ok(batch_got.calls == 1, "one call for the read (%d)", batch_got.calls);
	ok(batch_got.n == 2 && strcmp(batch_got.ids[0], "e2") == 0 &&
	           strcmp(batch_got.ids[1], "e4") == 0,
	   "with the two events of its types whose data fit, in order (%zu)", batch_got.n);
	r = gl_redis_strv(GL_REDIS_STORE, 3, pending);
	ok(r != NULL && r->type == REDIS_REPLY_ARRAY && r->elements == 4 &&
	           r->element[0]->type == REDIS_REPLY_INTEGER && r->element[0]->integer == 1,
	   "only the one it asked again is pending: the one it handled and the one of a type "
	   "not its own are acknowledged");
	if (r != NULL)
		freeReplyObject(r);
	r = gl_redis_strv(GL_REDIS_STORE, 2, tries);
	ok(r != NULL && r->type == REDIS_REPLY_ARRAY && r->elements == 1 &&
	           strcmp(r->element[0]->str, "1") == 0,
	   "its failure is counted once");
	if (r != NULL)
		freeReplyObject(r);
	ok(unit_redis(NULL, 0, 2, dead) == 2,
	   "the event whose data does not fit and the entry with no event are dead letters at "
	   "once");
	unit_redis_stop();
}

/* How many times race_handle ran, counted in the store (the consumer runs in a child). */
static long long
race_calls(void)
{
	const char *get[] = { "GET", "galley:unit:race:calls" };
	char n[32];

	unit_redis(n, sizeof(n), 2, get);
	return atoll(n);
}

/* Counts its calls; the first takes longer than the consumer's upkeep period, so the upkeep
 * is due the moment it returns, while the entry's acknowledgement still waits (consumer.c
 * batches it with the skipped entries for up to 200 ms). */
static enum gl_err
race_handle(const json_t *event)
{
	const char *incr[] = { "INCR", "galley:unit:race:calls" };
	redisReply *r = gl_redis_strv(GL_REDIS_STORE, 2, incr);
	bool first = r != NULL && r->type == REDIS_REPLY_INTEGER && r->integer == 1;

	(void)event;
	if (r != NULL)
		freeReplyObject(r);
	if (first)
		usleep(1200 * 1000);
	return GL_OK;
}

static const struct gl_event_handler race_rows[] = {
	{ "order.created", race_handle, NULL, .unrecorded = true },
	{ 0 },
};

static const struct gl_event_source race_sources[] = {
	{ "orders", race_rows },
	{ 0 },
};

static void
race_stop(int sig)
{
	(void)sig;
	gl_stop_request();
}

/*
 * The upkeep reads back this consumer's own pending entries (failures, tried again).  An
 * unrecorded handler's entry is done but acknowledged later, in a batch: read back in that
 * window it was handled a second time (orders' live post of order.created twice, seen by
 * tests/e2e/95-live.sh).  The upkeep acknowledges what waits first.  In a child process:
 * a consumer stops by stopping its process.
 */
static void
test_upkeep_acks_first(void)
{
	const char *add[] = { "XADD", "galley:events:orders", "*", "event",
		              "{\"id\":\"r1\",\"type\":\"order.created\",\"data\":{}}" };
	int status = -1;
	pid_t pid;

	unit_redis_start();
	/* test_failure_count stopped its server: this thread's connection is refused for up to
	 * 100 ms after (lib/redis.c). */
	for (int i = 0; i < 500 && gl_redis_ping(GL_REDIS_STORE) != 0; i++)
		usleep(10000);
	unit_redis(NULL, 0, 5, add);
	fflush(stdout);
	if ((pid = fork()) == 0) {
		gl_redis_close(); /* the parent's connection is the parent's */
		signal(SIGALRM, race_stop);
		alarm(4); /* the upkeep after the first call, and a read after it */
		gl_consumer_run(race_sources);
		gl_redis_close();
		_exit(0); /* not exit: the parent's atexit would stop the test's Redis */
	}
	ok(pid > 0 && waitpid(pid, &status, 0) == pid && WIFEXITED(status) &&
	           WEXITSTATUS(status) == 0,
	   "a consumer ran, past an upkeep, and stopped");
	ok(race_calls() == 1, "an unrecorded handler ran once for its entry (%lld)", race_calls());
	unit_redis_stop();
}

int
main(void)
{
	test_decode();
	test_check();
	test_failure_count();
	test_upkeep_acks_first();
	test_batch(); /* last: it stops the consumer, as a process asked to stop */
	return done_testing();
}
