/* Counting the order events into the store's hourly numbers (reports.h). */
#include <limits.h>
#include <stdio.h>
#include <string.h>

#include "doc.h"
#include "lines.h"
#include "log.h"
#include "redis.h"
#include "reports.h"

/*
 * KEYS: the event's mark, the order's record, the hour it was placed in, the
 * hour of the event, the item names.  ARGV: the status it moves to, the
 * event's time (ms), the mark's keep, the numbers' keep, 1 for order.created,
 * the reason of a cancel, then for order.paid its total, currency and lines
 * as (item_id, name, qty) triples.  1: counted; 0: counted before; -1: not yet
 * (order.ready before its order.paid: asked again).
 *
 * An order's status only moves on (pending_payment < paid < preparing < ready
 * < completed), or to cancelled from before ready, never out of cancelled or
 * completed: events of one order handled in parallel or late count once.
 */
static const char count_script[] =
        "if redis.call('EXISTS', KEYS[1]) == 1 then return 0 end\n"
        "local o, placed, hour = KEYS[2], KEYS[3], KEYS[4]\n"
        "local to, at = ARGV[1], tonumber(ARGV[2])\n"
        "local rec = redis.call('HMGET', o, 's', 'p', 't', 'c', 'r')\n"
        "local now = rec[1]\n"
        "if to == 'ready' and not rec[2] then return -1 end\n"
        "local rank = {pending_payment = 1, paid = 2, preparing = 3, ready = 4, completed = 5}\n"
        "local moved = not now or (now ~= 'cancelled' and now ~= 'completed' and\n"
        "  ((to == 'cancelled' and rank[now] < 4) or (to ~= 'cancelled' and rank[to] > "
        "rank[now])))\n"
        "if moved then\n"
        "  if now then redis.call('HINCRBY', placed, 'status:' .. now, -1) end\n"
        "  redis.call('HINCRBY', placed, 'status:' .. to, 1)\n"
        "  redis.call('HSET', o, 's', to)\n"
        "end\n"
        "if ARGV[5] == '1' then redis.call('HINCRBY', placed, 'orders', 1) end\n"
        "if to == 'paid' and not rec[2] then\n"
        "  redis.call('HSET', o, 'p', ARGV[2], 't', ARGV[7], 'c', ARGV[8])\n"
        "  redis.call('HINCRBY', hour, 'paid', 1)\n"
        "  redis.call('HINCRBY', hour, 'revenue:' .. ARGV[8], ARGV[7])\n"
        "  for i = 9, #ARGV - 2, 3 do\n"
        "    redis.call('HINCRBY', hour, 'item:' .. ARGV[i], ARGV[i + 2])\n"
        "    redis.call('HSET', KEYS[5], ARGV[i], ARGV[i + 1])\n"
        "  end\n"
        "end\n"
        "if to == 'ready' and not rec[5] then\n"
        "  redis.call('HSET', o, 'r', ARGV[2])\n"
        "  redis.call('HINCRBY', hour, 'ready', 1)\n"
        "  redis.call('HINCRBY', hour, 'ready_ms', math.max(0, at - tonumber(rec[2])))\n"
        "end\n"
        "if to == 'cancelled' and moved then\n"
        "  redis.call('HINCRBY', hour, 'cancelled:' .. ARGV[6], 1)\n"
        "  if rec[2] then redis.call('HINCRBY', hour, 'refunded:' .. rec[4], rec[3]) end\n"
        "end\n"
        "redis.call('EXPIRE', o, ARGV[4])\n"
        "redis.call('EXPIRE', placed, ARGV[4])\n"
        "redis.call('EXPIRE', hour, ARGV[4])\n"
        "redis.call('SET', KEYS[1], '1', 'EX', ARGV[3])\n"
        "return 1\n";

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

/* Add order.paid's total, currency and lines (borrowed, checked: paid_data) to args from
 * *n. */
static void
count_paid_args(const json_t *data, const char **args, int *n, char (*qty)[24], char *total,
                size_t total_size)
{
	const json_t *l;
	size_t i;

	snprintf(total, total_size, "%lld",
	         (long long)json_integer_value(json_object_get(data, "total_cents")));
	args[(*n)++] = total;
	args[(*n)++] = json_string_value(json_object_get(data, "currency"));
	json_array_foreach(json_object_get(data, "lines"), i, l) {
		snprintf(qty[i], sizeof(qty[i]), "%lld",
		         (long long)json_integer_value(json_object_get(l, "qty")));
		args[(*n)++] = json_string_value(json_object_get(l, "item_id"));
		args[(*n)++] = json_string_value(json_object_get(l, "name"));
		args[(*n)++] = qty[i];
	}
}

/* Count event (borrowed) as its order moving to status `to`. */
static enum gl_err
count_event(const json_t *event, const char *to)
{
	const json_t *data = json_object_get(event, "data");
	const char *id = json_string_value(json_object_get(event, "id"));
	bool created = strcmp(to, "pending_payment") == 0;
	/* order.created's data is the order itself */
	const char *order = json_string_value(json_object_get(data, created ? "id" : "order_id"));
	char seen[96], rec[64], placed[48], hour[48], at[24], keep[24], keep_seen[24];
	char total[24], qty[GL_LINES_MAX][24];
	const char *keys[5], *args[8 + 3 * GL_LINES_MAX];
	bson_oid_t oid;
	int64_t secs;
	int n = 0;
	redisReply *r;
	enum gl_err err;

	if (!gl_oid_parse(order, &oid) ||
	    !gl_doc_time_parse(json_string_value(json_object_get(event, "occurred_at")), &secs))
		return GL_E_VALIDATION; /* no such event can ever be counted */
	snprintf(seen, sizeof(seen), "galley:reports:seen:%s", id);
	snprintf(rec, sizeof(rec), "galley:reports:order:%s", order);
	snprintf(placed, sizeof(placed), "galley:reports:hour:%lld",
	         (long long)bson_oid_get_time_t(&oid) / 3600);
	snprintf(hour, sizeof(hour), "galley:reports:hour:%lld", (long long)secs / 3600);
	snprintf(at, sizeof(at), "%lld", (long long)secs * 1000);
	snprintf(keep, sizeof(keep), "%ld", REPORTS_KEEP_S);
	snprintf(keep_seen, sizeof(keep_seen), "%d", GL_CONSUMER_HANDLED_KEEP_S);
	keys[0] = seen;
	keys[1] = rec;
	keys[2] = placed;
	keys[3] = hour;
	keys[4] = "galley:reports:items";
	args[n++] = to;
	args[n++] = at;
	args[n++] = keep_seen;
	args[n++] = keep;
	args[n++] = created ? "1" : "0";
	args[n++] = count_reason(json_string_value(json_object_get(data, "reason")));
	if (strcmp(to, "paid") == 0)
		count_paid_args(data, args, &n, qty, total, sizeof(total));
	if ((r = gl_redis_eval(GL_REDIS_STORE, count_script, 5, keys, n, args)) == NULL)
		return GL_E_UPSTREAM_DOWN; /* tried again */
	if (r->type == REDIS_REPLY_INTEGER && r->integer >= 0)
		err = GL_OK;
	else if (r->type == REDIS_REPLY_INTEGER)
		err = GL_E_NOT_FOUND; /* ready before paid: asked again in a second */
	else {
		gl_log(GL_LOG_ERROR, NULL, "reports: counting %s failed: %s", id,
		       r->type == REDIS_REPLY_ERROR ? r->str : "an odd reply");
		err = GL_E_INTERNAL;
	}
	freeReplyObject(r);
	return err;
}

static enum gl_err
on_created(const json_t *event)
{
	return count_event(event, "pending_payment");
}

static enum gl_err
on_paid(const json_t *event)
{
	return count_event(event, "paid");
}

static enum gl_err
on_preparing(const json_t *event)
{
	return count_event(event, "preparing");
}

static enum gl_err
on_ready(const json_t *event)
{
	return count_event(event, "ready");
}

static enum gl_err
on_completed(const json_t *event)
{
	return count_event(event, "completed");
}

static enum gl_err
on_cancelled(const json_t *event)
{
	return count_event(event, "cancelled");
}

/* The script marks each event counted itself: no handled record of lib's is needed. */
static const struct gl_event_handler order_handlers[] = {
	{ "order.created", on_created, created_data, .unrecorded = true },
	{ "order.paid", on_paid, paid_data, .unrecorded = true },
	{ "order.preparing", on_preparing, order_data, .unrecorded = true },
	{ "order.ready", on_ready, order_data, .unrecorded = true },
	{ "order.completed", on_completed, order_data, .unrecorded = true },
	{ "order.cancelled", on_cancelled, cancelled_data, .unrecorded = true },
	{ 0 },
};

const struct gl_event_source reports_events[] = {
	/* Hourly numbers: an order event counted 50 ms later changes nothing a reader sees
	 * but for those 50 ms, and its reads come in batches (consumer.h). */
	{ "orders", order_handlers, .gather_ms = 50 },
	{ 0 },
};
