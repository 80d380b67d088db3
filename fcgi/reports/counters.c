/* Counting the order events into the store's hourly numbers (reports.h). */
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "doc.h"
#include "lines.h"
#include "log.h"
#include "redis.h"
#include "reports.h"

/*
 * Counts a read's order events in one script (each would otherwise be a round trip of its
 * own).  KEYS: the item names, then four an event: its old mark (below), its order's
 * record, the hour the order was placed in, the hour of the event.  ARGV: a finished
 * order's record's keep, the numbers' keep, then for each event the count of its own
 * arguments and those: the status it moves to, the event's time (ms), 1 for order.created,
 * the reason of a cancel, then for order.paid its total, currency and lines as (item_id,
 * name, qty) triples.  An array, each event's answer: 1 counted (or counted before); -1 not
 * yet (order.ready before its order.paid: asked again).
 *
 * Each event counts once by its order's record, with no mark of its own: the status only
 * moves on (pending_payment < paid < preparing < ready < completed), or to cancelled from
 * before ready, never out of cancelled or completed; paid (p), ready (r) and placed (o) are
 * noted once each.  So events of one order handled in parallel, late or twice count once.
 * Events of one order in one batch count in the stream's order, as one at a time would.
 * Until 2026-12-07 each event left a mark "galley:reports:seen:<event id>" for a day (88
 * bytes an event); a record from then has no o, and its order.created counts only if it
 * left no mark.
 */
static const char count_script[] =
        "local rank = {pending_payment = 1, paid = 2, preparing = 3, ready = 4, completed = 5}\n"
        "local function count(seen, o, placed, hour, a)\n"
        "  local to, at = ARGV[a], tonumber(ARGV[a + 1])\n"
        "  local rec = redis.call('HMGET', o, 's', 'p', 't', 'c', 'r', 'o')\n"
        "  local now = rec[1]\n"
        "  if to == 'ready' and not rec[2] then return -1 end\n"
        "  local moved = not now or (now ~= 'cancelled' and now ~= 'completed' and\n"
        "    ((to == 'cancelled' and rank[now] < 4) or (to ~= 'cancelled' and rank[to] > "
        "rank[now])))\n"
        "  if moved then\n"
        "    if now then redis.call('HINCRBY', placed, 'status:' .. now, -1) end\n"
        "    redis.call('HINCRBY', placed, 'status:' .. to, 1)\n"
        "    redis.call('HSET', o, 's', to)\n"
        "  end\n"
        "  if ARGV[a + 2] == '1' and not rec[6] and (not now or\n"
        "      redis.call('EXISTS', seen) == 0) then\n"
        "    redis.call('HINCRBY', placed, 'orders', 1)\n"
        "    redis.call('HSET', o, 'o', 1)\n"
        "  end\n"
        "  if to == 'paid' and not rec[2] then\n"
        "    redis.call('HSET', o, 'p', ARGV[a + 1], 't', ARGV[a + 4], 'c', ARGV[a + 5])\n"
        "    redis.call('HINCRBY', hour, 'paid', 1)\n"
        "    redis.call('HINCRBY', hour, 'revenue:' .. ARGV[a + 5], ARGV[a + 4])\n"
        "    for i = a + 6, a + tonumber(ARGV[a - 1]) - 3, 3 do\n"
        "      redis.call('HINCRBY', hour, 'item:' .. ARGV[i], ARGV[i + 2])\n"
        "      redis.call('HSET', KEYS[1], ARGV[i], ARGV[i + 1])\n"
        "    end\n"
        "  end\n"
        "  if to == 'ready' and not rec[5] then\n"
        "    redis.call('HSET', o, 'r', ARGV[a + 1])\n"
        "    redis.call('HINCRBY', hour, 'ready', 1)\n"
        "    redis.call('HINCRBY', hour, 'ready_ms', math.max(0, at - tonumber(rec[2])))\n"
        "  end\n"
        "  if to == 'cancelled' and moved then\n"
        "    redis.call('HINCRBY', hour, 'cancelled:' .. ARGV[a + 3], 1)\n"
        "    if rec[2] then redis.call('HINCRBY', hour, 'refunded:' .. rec[4], rec[3]) end\n"
        "  end\n"
        "  local s = moved and to or now\n"
        "  redis.call('EXPIRE', o, (s == 'completed' or s == 'cancelled') and ARGV[1] or ARGV[2])\n"
        "  redis.call('EXPIRE', placed, ARGV[2])\n"
        "  redis.call('EXPIRE', hour, ARGV[2])\n"
        "  return 1\n"
        "end\n"
        "local out, a = {}, 3\n"
        "for k = 2, #KEYS, 4 do\n"
        "  out[#out + 1] = count(KEYS[k], KEYS[k + 1], KEYS[k + 2], KEYS[k + 3], a + 1)\n"
        "  a = a + 1 + tonumber(ARGV[a])\n"
        "end\n"
        "return out\n";

/* A cancel's reason as the report names it (API.md's four, else other). */
static const char *
count_reason(const char *reason)
{
	static const char *const known[] = { "customer", "staff", "payment_failed", "expired",
		                             NULL };

	for (int i = 0; reason != NULL && known[i] != NULL; i++)
		if (strcmp(reason, known[i]) == 0)
			return known[i];
	return "other";
}

/* What reports reads of each order event: the order (order.created's data is the order). */
static const struct gl_field created_data[] = {
	{ "id", GL_T_OID, GL_REQUIRED },
	{ .flags = GL_OPEN },
};

static const struct gl_field order_data[] = {
	{ "order_id", GL_T_OID, GL_REQUIRED },
	{ .flags = GL_OPEN },
};

static const struct gl_field paid_data[] = {
	{ "order_id", GL_T_OID, GL_REQUIRED },
	{ "total_cents", GL_T_INT, GL_REQUIRED, 0, LLONG_MAX },
	{ "currency", GL_T_STRING, GL_REQUIRED, 3, 3, .check = gl_valid_currency },
	GL_LINES_FIELD,
	{ .flags = GL_OPEN },
};

static const struct gl_field cancelled_data[] = {
	{ "order_id", GL_T_OID, GL_REQUIRED },
	{ "reason", GL_T_STRING, 0, 0, 64 }, /* one it does not know is "other" */
	{ .flags = GL_OPEN },
};

/* What the script is given of one event: the strings its keys and arguments point to. */
struct count_strs {
	char seen[96], rec[64], placed[48], hour[48], at[24], argc[12], total[24];
	char qty[GL_LINES_MAX][24];
};

/* One script call: its keys and arguments (borrowed: a batch's count_strs and events). */
#define COUNT_ARGS_MAX 1000 /* keys and arguments in all, as gl_redis_eval takes */
struct count_call {
	const char *keys[COUNT_ARGS_MAX], *args[COUNT_ARGS_MAX];
	int nkeys, nargs;
	size_t first, n; /* the batch's events [first, first + n) */
};

/* The status each order event moves its order to. */
static const struct {
	const char *type, *to;
} count_types[] = {
	{ "order.created", "pending_payment" }, { "order.paid", "paid" },
	{ "order.preparing", "preparing" },     { "order.ready", "ready" },
	{ "order.completed", "completed" },     { "order.cancelled", "cancelled" },
};

static const char *
count_to(const json_t *event)
{
	const char *type = json_string_value(json_object_get(event, "type"));

	for (size_t i = 0; type != NULL && i < sizeof(count_types) / sizeof(count_types[0]); i++)
		if (strcmp(type, count_types[i].type) == 0)
			return count_types[i].to;
	return NULL;
}

/* Add event (borrowed, checked by its row's table) to c, its strings in *st: false when it
 * can never be counted (no such order id or time), or when it does not fit c (c unchanged). */
static bool
count_add(struct count_call *c, const json_t *event, struct count_strs *st, bool *hopeless)
{
	const json_t *data = json_object_get(event, "data"), *l;
	const char *to = count_to(event);
	bool created = to != NULL && strcmp(to, "pending_payment") == 0;
	/* order.created's data is the order itself */
	const char *order = json_string_value(json_object_get(data, created ? "id" : "order_id"));
	bool paid = to != NULL && strcmp(to, "paid") == 0;
	size_t lines = paid ? json_array_size(json_object_get(data, "lines")) : 0, i;
	int own = 4 + (paid ? 2 + 3 * (int)lines : 0);
	bson_oid_t oid;
	int64_t secs;

	*hopeless = false;
	if (to == NULL || !gl_oid_parse(order, &oid) || lines > GL_LINES_MAX ||
	    !gl_doc_time_parse(json_string_value(json_object_get(event, "occurred_at")), &secs)) {
		*hopeless = true;
		return false;
	}
	if (c->nkeys + 4 + c->nargs + 1 + own > COUNT_ARGS_MAX)
		return false;
	snprintf(st->seen, sizeof(st->seen), "galley:reports:seen:%s",
	         json_string_value(json_object_get(event, "id")));
	snprintf(st->rec, sizeof(st->rec), "galley:reports:order:%s", order);
	snprintf(st->placed, sizeof(st->placed), "galley:reports:hour:%lld",
	         (long long)bson_oid_get_time_t(&oid) / 3600);
	snprintf(st->hour, sizeof(st->hour), "galley:reports:hour:%lld", (long long)secs / 3600);
	snprintf(st->at, sizeof(st->at), "%lld", (long long)secs * 1000);
	snprintf(st->argc, sizeof(st->argc), "%d", own);
	c->keys[c->nkeys++] = st->seen;
	c->keys[c->nkeys++] = st->rec;
	c->keys[c->nkeys++] = st->placed;
	c->keys[c->nkeys++] = st->hour;
	c->args[c->nargs++] = st->argc;
	c->args[c->nargs++] = to;
	c->args[c->nargs++] = st->at;
	c->args[c->nargs++] = created ? "1" : "0";
	c->args[c->nargs++] = count_reason(json_string_value(json_object_get(data, "reason")));
	if (paid) {
		snprintf(st->total, sizeof(st->total), "%lld",
		         (long long)json_integer_value(json_object_get(data, "total_cents")));
		c->args[c->nargs++] = st->total;
		c->args[c->nargs++] = json_string_value(json_object_get(data, "currency"));
		json_array_foreach(json_object_get(data, "lines"), i, l) {
			snprintf(st->qty[i], sizeof(st->qty[i]), "%lld",
			         (long long)json_integer_value(json_object_get(l, "qty")));
			c->args[c->nargs++] = json_string_value(json_object_get(l, "item_id"));
			c->args[c->nargs++] = json_string_value(json_object_get(l, "name"));
			c->args[c->nargs++] = st->qty[i];
		}
	}
	c->n++;
	return true;
}

/* Run c's script: each of its events' outcome in errs[first ...]; c emptied for the next. */
static void
count_run(struct count_call *c, enum gl_err *errs, const size_t *at)
{
	redisReply *r;

	if (c->n == 0)
		return;
	r = gl_redis_eval(GL_REDIS_STORE, count_script, c->nkeys, c->keys, c->nargs, c->args);
	for (size_t i = 0; i < c->n; i++) {
		enum gl_err *err = &errs[at[c->first + i]];
		const redisReply *e = r != NULL && r->type == REDIS_REPLY_ARRAY && i < r->elements
		                              ? r->element[i]
		                              : NULL;
		if (r == NULL)
			*err = GL_E_UPSTREAM_DOWN; /* tried again */
		else if (e != NULL && e->type == REDIS_REPLY_INTEGER)
			*err = e->integer >= 0
			               ? GL_OK
			               : GL_E_NOT_FOUND; /* ready before paid: asked again */
		else
			*err = GL_E_INTERNAL;
	}
	if (r != NULL && (r->type != REDIS_REPLY_ARRAY || r->elements != c->n))
		gl_log(GL_LOG_ERROR, NULL, "reports: counting %zu events failed: %s", c->n,
		       r->type == REDIS_REPLY_ERROR ? r->str : "an odd reply");
	if (r != NULL)
		freeReplyObject(r);
	c->first += c->n;
	c->n = 0;
	c->nkeys = 1; /* the item names stay first */
	c->nargs = 2; /* and the keeps */
}

/* Count a read's order events (consumer.h, handle_batch): as few scripts as their
 * arguments fit in, one for most reads. */
static void
count_batch(const json_t *const *events, size_t n, enum gl_err *errs)
{
	struct count_strs *st = calloc(n, sizeof(*st));
	struct count_call *c = malloc(sizeof(*c));
	size_t at[GL_CONSUMER_BATCH_MAX], counted = 0;
	char keep[24], keep_done[24];
	bool hopeless;

	if (st == NULL || c == NULL || n > GL_CONSUMER_BATCH_MAX) {
		for (size_t i = 0; i < n; i++)
			errs[i] = GL_E_INTERNAL;
		goto out;
	}
	snprintf(keep, sizeof(keep), "%ld", REPORTS_KEEP_S);
	snprintf(keep_done, sizeof(keep_done), "%d", GL_CONSUMER_HANDLED_KEEP_S);
	c->keys[0] = "galley:reports:items";
	c->args[0] = keep_done;
	c->args[1] = keep;
	c->nkeys = 1;
	c->nargs = 2;
	c->first = c->n = 0;
	for (size_t i = 0; i < n; i++) {
		if (count_add(c, events[i], &st[i], &hopeless)) {
			at[counted++] = i;
			continue;
		}
		if (hopeless) {
			errs[i] = GL_E_VALIDATION; /* no such event can ever be counted */
			continue;
		}
		count_run(c, errs, at); /* full: this one starts the next */
		if (count_add(c, events[i], &st[i], &hopeless))
			at[counted++] = i;
		else
			errs[i] = GL_E_INTERNAL;
	}
	count_run(c, errs, at);
out:
	free(st);
	free(c);
}

/* The script marks each event counted itself: no handled record of lib's is needed.  The
 * rows name the types and their data; count_batch counts them. */
static const struct gl_event_handler order_handlers[] = {
	{ "order.created", NULL, created_data, .unrecorded = true },
	{ "order.paid", NULL, paid_data, .unrecorded = true },
	{ "order.preparing", NULL, order_data, .unrecorded = true },
	{ "order.ready", NULL, order_data, .unrecorded = true },
	{ "order.completed", NULL, order_data, .unrecorded = true },
	{ "order.cancelled", NULL, cancelled_data, .unrecorded = true },
	{ 0 },
};

const struct gl_event_source reports_events[] = {
	/* Hourly numbers: an order event counted 50 ms later changes nothing a reader sees
	 * but for those 50 ms, and its reads come in batches (consumer.h), each counted in
	 * one script. */
	{ "orders", order_handlers, .gather_ms = 50, .handle_batch = count_batch },
	{ 0 },
};
