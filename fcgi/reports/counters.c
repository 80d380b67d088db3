/* Counting the order events into the store's hourly numbers (reports.h). */
#include <stdio.h>
#include <string.h>

#include "doc.h"
#include "log.h"
#include "redis.h"
#include "reports.h"

#define LINES_MAX 100 /* an order's lines, at most (fcgi/orders/orders.h) */

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

/* Add order.paid's total, currency and lines (borrowed) to args from *n; false if they are
 * not what orders and payments write. */
static bool
count_paid_args(const json_t *data, const char **args, int *n, char (*qty)[24], char *total,
                size_t total_size)
{
	const json_t *lines = json_object_get(data, "lines"), *l;
	const char *currency = json_string_value(json_object_get(data, "currency"));
	const json_t *t = json_object_get(data, "total_cents");
	bson_oid_t oid;
	size_t i;

	if (!json_is_integer(t) || json_integer_value(t) < 0 || currency == NULL ||
	    gl_valid_currency(currency) != NULL || !json_is_array(lines) ||
	    json_array_size(lines) > LINES_MAX)
		return false;
	snprintf(total, total_size, "%lld", (long long)json_integer_value(t));
	args[(*n)++] = total;
	args[(*n)++] = currency;
	json_array_foreach(lines, i, l)
	{
		const char *item = json_string_value(json_object_get(l, "item_id"));
		const char *name = json_string_value(json_object_get(l, "name"));
		const json_t *q = json_object_get(l, "qty");

		if (!gl_oid_parse(item, &oid) || name == NULL || !json_is_integer(q) ||
		    json_integer_value(q) < 1)
			return false;
		snprintf(qty[i], sizeof(qty[i]), "%lld", (long long)json_integer_value(q));
		args[(*n)++] = item;
		args[(*n)++] = name;
		args[(*n)++] = qty[i];
	}
	return true;
}

/* Count event (borrowed) as its order moving to status `to`. */
static enum gl_err
count_event(const json_t *event, const char *to)
{
	const json_t *data = json_object_get(event, "data");
	const char *id = json_string_value(json_object_get(event, "id"));
	const char *order = json_string_value(json_object_get(data, "order_id"));
	char seen[96], rec[64], placed[48], hour[48], at[24], keep[24], keep_seen[24];
	char total[24], qty[LINES_MAX][24];
	const char *keys[5], *args[8 + 3 * LINES_MAX];
	bool created = strcmp(to, "pending_payment") == 0;
	bson_oid_t oid;
	int64_t secs;
	int n = 0;
	redisReply *r;
	enum gl_err err;

	if (created && order == NULL)
		order = json_string_value(json_object_get(data, "id")); /* the order itself */
	if (id == NULL || strlen(id) > 64 || !gl_oid_parse(order, &oid) ||
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
	if (strcmp(to, "paid") == 0 && !count_paid_args(data, args, &n, qty, total, sizeof(total)))
		return GL_E_VALIDATION;
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
	{ "order.created", on_created, .unrecorded = true },
	{ "order.paid", on_paid, .unrecorded = true },
	{ "order.preparing", on_preparing, .unrecorded = true },
	{ "order.ready", on_ready, .unrecorded = true },
	{ "order.completed", on_completed, .unrecorded = true },
	{ "order.cancelled", on_cancelled, .unrecorded = true },
	{ 0 },
};

const struct gl_event_source reports_events[] = {
	{ "orders", order_handlers },
	{ 0 },
};
