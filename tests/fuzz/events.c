/*
 * Event entries as consumers read them (lib/consumer.h: gl_consumer_decode):
 * the bytes Redis sends for XREADGROUP / XAUTOCLAIM (RESP), read by hiredis
 * into replies, every array in them decoded as a stream entry, each event
 * started as a CONSUMER span under the traceparent it carries, and its data
 * checked against a handler's field table (gl_consumer_check), one with an
 * order's lines (lines.h) as the kitchen's order.paid has.
 *
 * Input: RESP (seeds in tests/data/fuzz/events/, e.g. an XREADGROUP answer
 * *1 [stream, [[sid, [id, .., type, .., event, <JSON>]]]]).
 *
 * Invariants: no crash, leak or undefined behaviour; decoding says "not an
 * entry" (-1), "no event" (0, with its stream id) or gives an event with a
 * string id of 64 bytes at most and a string type; a span for it is well
 * formed and ends; the check says GL_OK or GL_E_VALIDATION with a message.
 */
#include <string.h>

#include "consumer.h"
#include "fuzz.h"
#include "lines.h"
#include "redis.h"
#include "trace.h"

static const struct gl_field paid_data[] = {
	{ "order_id", GL_T_OID, GL_REQUIRED },
	{ "user_id", GL_T_OID, GL_NULLABLE },
	GL_LINES_FIELD,
	{ .flags = GL_OPEN },
};

static const struct gl_field cancelled_data[] = {
	{ "order_id", GL_T_OID, GL_REQUIRED },
	{ "reason", GL_T_STRING, 0, 0, 64 },
	{ .flags = GL_OPEN },
};

/* Only checked, never handled here: no handle functions. */
static const struct gl_event_handler handlers[] = {
	{ "order.paid", NULL, paid_data },
	{ "order.cancelled", NULL, cancelled_data },
	{ "reservation.expired", NULL, NULL },
	{ 0 },
};

static void
decode(const redisReply *e)
{
	const char *sid, *text;
	json_t *ev;
	int got = gl_consumer_decode(e, &sid, &text, &ev);
	const struct gl_event_handler *h;
	const char *id, *type;
	struct gl_trace_span span;
	struct gl_valid_fail fail;
	enum gl_err err;

	FUZZ_CHECK(got >= -1 && got <= 1);
	if (got < 0) {
		FUZZ_CHECK(sid == NULL && text == NULL && ev == NULL);
		return;
	}
	FUZZ_CHECK(sid != NULL && sid == e->element[0]->str);
	if (got == 0) {
		FUZZ_CHECK(ev == NULL);
		return;
	}
	FUZZ_CHECK(text != NULL && ev != NULL);
	id = json_string_value(json_object_get(ev, "id"));
	type = json_string_value(json_object_get(ev, "type"));
	FUZZ_CHECK(id != NULL && strlen(id) <= 64 && type != NULL);
	/* What consumer_entry() does next: find the handler, start the span, check the data. */
	for (h = handlers; h->type != NULL && strcmp(h->type, type) != 0; h++)
		;
	gl_trace_consume_start(&span, ev, "galley:events:orders", "fuzz");
	FUZZ_CHECK(gl_trace_current() == &span);
	if (h->type != NULL) {
		err = gl_consumer_check(h, ev, &fail);
		FUZZ_CHECK(err == GL_OK || (err == GL_E_VALIDATION && fail.message[0] != '\0'));
	}
	gl_trace_end(&span, false);
	json_decref(ev);
}

/* Every array down to the depth of an XREADGROUP answer's fields may be an entry. */
static void
walk(const redisReply *r, int depth)
{
	if (r == NULL || depth > 4)
		return;
	decode(r);
	if (r->type == REDIS_REPLY_ARRAY)
		for (size_t i = 0; i < r->elements; i++)
			walk(r->element[i], depth + 1);
}

/*
 * hiredis allocates an array's element vector as soon as it reads its
 * length: "*100000000" is a gigabyte before a byte of it arrives.  Our own
 * Redis never sends that (we ask for 50 entries at a time), so inputs that
 * declare an array of more than 1024 elements are not ours to test.
 */
static bool
huge_array(const uint8_t *data, size_t size)
{
	for (size_t i = 0; i < size; i++) {
		unsigned long long n = 0;
		size_t j = i + 1;

		if (data[i] != '*')
			continue;
		for (; j < size && data[j] >= '0' && data[j] <= '9' && n <= 1024; j++)
			n = n * 10 + (data[j] - '0');
		if (n > 1024)
			return true;
	}
	return false;
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	redisReader *rd;
	void *reply = NULL;

	if (huge_array(data, size))
		return 0;
	rd = redisReaderCreate();
	FUZZ_CHECK(rd != NULL);
	if (redisReaderFeed(rd, (const char *)data, size) == REDIS_OK)
		while (redisReaderGetReply(rd, &reply) == REDIS_OK && reply != NULL) {
			walk(reply, 0);
			freeReplyObject(reply);
			reply = NULL;
		}
	redisReaderFree(rd);
	return 0;
}
