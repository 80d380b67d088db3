/* GET /api/reports/summary: the Reports view's numbers for a range of hours (reports.h). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "cache.h"
#include "doc.h"
#include "http.h"
#include "json.h"
#include "log.h"
#include "redis.h"
#include "reports.h"

/* RFC 3339 UTC to the second, a real date ("2026-02-30T..." is not). */
static const char *
summary_time_check(const char *s)
{
	char back[32];
	int64_t secs;

	if (!gl_doc_time_parse(s, &secs))
		return "must be a time like 2026-12-03T17:00:00Z (UTC)";
	gl_doc_time(back, sizeof(back), secs * 1000);
	return strcmp(back, s) == 0 ? NULL : "must be a real date and time";
}

const struct gl_field summary_query[] = {
	{ "from", GL_T_STRING, 0, 20, 20, .check = summary_time_check },
	{ "to", GL_T_STRING, 0, 20, 20, .check = summary_time_check },
	{ 0 },
};

/* The hours asked for: those that start in [from, to). */
struct summary_range {
	long long first, last; /* hours since the epoch, inclusive */
};

/* Every hour's hash from the store: one script, one round trip; a flat array of
 * HGETALL answers, one per key. */
static const char read_script[] = "local out = {}\n"
                                  "for i, k in ipairs(KEYS) do\n"
                                  "  out[i] = redis.call('HGETALL', k)\n"
                                  "end\n"
                                  "return out\n";

/* Add n to obj's integer member key (a new member when there is none). */
static void
add_int(json_t *obj, const char *key, long long n)
{
	json_t *v = json_object_get(obj, key);

	json_object_set_new(obj, key, json_integer(json_integer_value(v) + n));
}

/* One bucket's numbers: {orders, paid, revenue_cents: {cur: n}} */
static json_t *
bucket_new(const char *label_key, const char *label)
{
	return json_pack("{s:s, s:i, s:i, s:{}}", label_key, label, "orders", 0, "paid", 0,
	                 "revenue_cents");
}

/* Add one hour's field to the hour's bucket, its day's bucket and the totals. */
static void
summary_field(json_t *all, json_t *hour, json_t *day, const char *f, long long n)
{
	const char *colon = strchr(f, ':');
	char name[64];

	if (colon == NULL) {
		if (strcmp(f, "orders") == 0 || strcmp(f, "paid") == 0) {
			add_int(hour, f, n);
			add_int(day, f, n);
		}
		add_int(json_object_get(all, "totals"), f, n);
		return;
	}
	snprintf(name, sizeof(name), "%.*s", (int)(colon - f), f);
	if (strcmp(name, "revenue") == 0) {
		add_int(json_object_get(hour, "revenue_cents"), colon + 1, n);
		add_int(json_object_get(day, "revenue_cents"), colon + 1, n);
		add_int(json_object_get(json_object_get(all, "totals"), "revenue_cents"), colon + 1,
		        n);
	} else if (strcmp(name, "refunded") == 0)
		add_int(json_object_get(json_object_get(all, "totals"), "refunded_cents"),
		        colon + 1, n);
	else if (strcmp(name, "status") == 0)
		add_int(json_object_get(all, "by_status"), colon + 1, n);
	else if (strcmp(name, "cancelled") == 0)
		add_int(json_object_get(all, "cancellations"), colon + 1, n);
	else if (strcmp(name, "item") == 0)
		add_int(json_object_get(all, "items"), colon + 1, n);
}

/* The counted numbers of every hour of rg into all (see summary_new). */
static enum gl_err
summary_counts(const struct summary_range *rg, json_t *all)
{
	static _Thread_local char keys[REPORTS_HOURS_MAX][48];
	const char *kp[REPORTS_HOURS_MAX];
	int n = (int)(rg->last - rg->first + 1);
	json_t *hours = json_object_get(all, "hours"), *days = json_object_get(all, "days");
	json_t *day = NULL;
	char label[32], date[16];
	redisReply *r;

	for (int i = 0; i < n; i++) {
		snprintf(keys[i], sizeof(keys[i]), "galley:reports:hour:%lld", rg->first + i);
		kp[i] = keys[i];
	}
	if ((r = gl_redis_eval(GL_REDIS_STORE, read_script, n, kp, 0, NULL)) == NULL)
		return GL_E_UPSTREAM_DOWN;
	if (r->type != REDIS_REPLY_ARRAY || r->elements != (size_t)n) {
		gl_log(GL_LOG_ERROR, NULL, "reports: reading the hours failed: %s",
		       r->type == REDIS_REPLY_ERROR ? r->str : "an odd reply");
		freeReplyObject(r);
		return GL_E_INTERNAL;
	}
	for (int i = 0; i < n; i++) {
		const redisReply *h = r->element[i];
		json_t *hour;

		gl_doc_time(label, sizeof(label), (rg->first + i) * 3600 * 1000);
		snprintf(date, sizeof(date), "%.10s", label);
		if (day == NULL ||
		    strcmp(json_string_value(json_object_get(day, "date")), date) != 0) {
			day = bucket_new("date", date);
			json_array_append_new(days, day);
		}
		hour = bucket_new("at", label);
		json_array_append_new(hours, hour);
		for (size_t j = 0; h->type == REDIS_REPLY_ARRAY && j + 1 < h->elements; j += 2)
			if (h->element[j]->type == REDIS_REPLY_STRING &&
			    h->element[j + 1]->type == REDIS_REPLY_STRING)
				summary_field(all, hour, day, h->element[j]->str,
				              strtoll(h->element[j + 1]->str, NULL, 10));
	}
	freeReplyObject(r);
	return GL_OK;
}

static int
by_qty_desc(const void *a, const void *b)
{
	long long x = json_integer_value(json_object_get(*(json_t *const *)a, "qty"));
	long long y = json_integer_value(json_object_get(*(json_t *const *)b, "qty"));

	return x < y ? 1 : x > y ? -1 : 0;
}

/* all's "items" ({item_id: units}) becomes "top_items": the REPORTS_TOP_ITEMS with the most
 * units, each with its name (from what order.paid last called it). */
static void
summary_top_items(json_t *all)
{
	json_t *items = json_object_get(all, "items"), *top = json_array(), *v, *e;
	json_t **sorted = calloc(json_object_size(items) + 1, sizeof(*sorted));
	const char *argv[2 + REPORTS_TOP_ITEMS], *id;
	size_t n = 0, i;
	int argc = 0;
	redisReply *r;

	json_object_foreach(items, id, v) {
		if (sorted != NULL)
			sorted[n++] = json_pack("{s:s, s:s, s:I}", "item_id", id, "name", "", "qty",
			                        (json_int_t)json_integer_value(v));
	}
	if (n > 1)
		qsort(sorted, n, sizeof(*sorted), by_qty_desc);
	for (i = 0; i < n; i++)
		if (i < REPORTS_TOP_ITEMS && sorted[i] != NULL)
			json_array_append_new(top, sorted[i]);
		else
			json_decref(sorted[i]);
	free(sorted);
	argv[argc++] = "HMGET";
	argv[argc++] = "galley:reports:items";
	json_array_foreach(top, i, e) {
		argv[argc++] = json_string_value(json_object_get(e, "item_id"));
	}
	if (argc > 2 && (r = gl_redis_strv(GL_REDIS_STORE, argc, argv)) != NULL) {
		json_array_foreach(top, i, e) {
			if (r->type == REDIS_REPLY_ARRAY && i < r->elements &&
			    r->element[i]->type == REDIS_REPLY_STRING)
				json_object_set_new(e, "name", json_string(r->element[i]->str));
		}
		freeReplyObject(r);
	}
	json_object_del(all, "items");
	json_object_set_new(all, "top_items", top);
}

/*
 * The items on the menu with at most REPORTS_LOW_STOCK available, fewest first, asked of
 * the menu and stock services as the caller (staff).  A service that does not answer
 * leaves the list out (null) rather than the whole report.
 */
static json_t *
summary_low_stock_new(const struct gl_req *req)
{
	json_t *menu = NULL, *items, *it, *level, *low = json_array();
	char path[64];
	long status;
	size_t i;

	if (gl_http_get(req, "/api/menu", &status, &menu) != GL_OK || status != 200 ||
	    !json_is_array(items = json_object_get(menu, "items"))) {
		json_decref(menu);
		json_decref(low);
		return json_null();
	}
	json_array_foreach(items, i, it) {
		const char *id = json_string_value(json_object_get(it, "id"));
		bson_oid_t oid;

		if (i >= REPORTS_STOCK_ITEMS_MAX || !gl_oid_parse(id, &oid))
			break;
		snprintf(path, sizeof(path), "/api/stock/%s", id);
		level = NULL;
		if (gl_http_get(req, path, &status, &level) == GL_OK && status == 200 &&
		    json_is_integer(json_object_get(level, "available")) &&
		    json_integer_value(json_object_get(level, "available")) <= REPORTS_LOW_STOCK)
			json_array_append_new(low,
			                      json_pack("{s:s, s:O?, s:O}", "item_id", id, "name",
			                                json_object_get(it, "name"), "available",
			                                json_object_get(level, "available")));
		json_decref(level);
	}
	json_decref(menu);
	return low;
}

static int
by_available(const void *a, const void *b)
{
	long long x = json_integer_value(json_object_get(*(json_t *const *)a, "available"));
	long long y = json_integer_value(json_object_get(*(json_t *const *)b, "available"));

	return x < y ? -1 : x > y ? 1 : 0;
}

/* The whole answer for rg (new), or NULL with *err. */
static json_t *
summary_new(const struct gl_req *req, const struct summary_range *rg, enum gl_err *err)
{
	char from[32], to[32];
	json_t *all, *totals, *low, *sorted;
	long long ready, ready_ms;

	gl_doc_time(from, sizeof(from), rg->first * 3600 * 1000);
	gl_doc_time(to, sizeof(to), (rg->last + 1) * 3600 * 1000);
	all = json_pack("{s:s, s:s, s:{s:i, s:i, s:{}, s:{}, s:i, s:i}, s:[], s:[], s:{}, s:{}, "
	                "s:{}}",
	                "from", from, "to", to, "totals", "orders", 0, "paid", 0, "revenue_cents",
	                "refunded_cents", "ready", 0, "ready_ms", 0, "hours", "days", "by_status",
	                "cancellations", "items");
	if (all == NULL) {
		*err = GL_E_INTERNAL;
		return NULL;
	}
	if ((*err = summary_counts(rg, all)) != GL_OK) {
		json_decref(all);
		return NULL;
	}
	summary_top_items(all);
	totals = json_object_get(all, "totals");
	ready = json_integer_value(json_object_get(totals, "ready"));
	ready_ms = json_integer_value(json_object_get(totals, "ready_ms"));
	json_object_set_new(
	        all, "paid_to_ready",
	        json_pack("{s:I, s:o}", "orders", (json_int_t)ready, "average_seconds",
	                  ready > 0 ? json_real((double)ready_ms / ready / 1000.0) : json_null()));
	json_object_del(totals, "ready");
	json_object_del(totals, "ready_ms");
	low = summary_low_stock_new(req);
	if (json_is_array(low)) {
		size_t n = json_array_size(low);
		json_t **v = calloc(n + 1, sizeof(*v));

		sorted = json_array();
		for (size_t i = 0; v != NULL && i < n; i++)
			v[i] = json_array_get(low, i);
		if (v != NULL) {
			if (n > 1)
				qsort(v, n, sizeof(*v), by_available);
			for (size_t i = 0; i < n; i++)
				json_array_append(sorted, v[i]);
		}
		free(v);
		json_decref(low);
		low = sorted;
	}
	json_object_set_new(all, "low_stock", low);
	json_object_set_new(all, "low_stock_at_most", json_integer(REPORTS_LOW_STOCK));
	return all;
}

/* ?from and ?to (both optional: to now, from a day before to) as whole hours; 400s. */
static enum gl_err
summary_range(struct gl_req *req, struct summary_range *rg)
{
	const char *from = json_string_value(json_object_get(req->query, "from"));
	const char *to = json_string_value(json_object_get(req->query, "to"));
	int64_t f, t;

	if (to == NULL || !gl_doc_time_parse(to, &t))
		t = (int64_t)time(NULL);
	if (from == NULL || !gl_doc_time_parse(from, &f))
		f = t - 86400;
	if (f >= t)
		return gl_fail(req, GL_E_VALIDATION, "from", "from must be before to");
	rg->first = f / 3600;
	rg->last = (t + 3599) / 3600 - 1;
	if (rg->last - rg->first + 1 > REPORTS_HOURS_MAX)
		return gl_fail(req, GL_E_VALIDATION, "to",
		               "a report covers at most %d days: to is too long after from",
		               REPORTS_HOURS_MAX / 24);
	return GL_OK;
}

enum gl_err
summary_get(struct gl_req *req)
{
	struct summary_range rg;
	char key[GL_CACHE_KEY_MAX], span[48], *text = NULL;
	json_t *out;
	enum gl_err err;

	if ((err = summary_range(req, &rg)) != GL_OK)
		return err;
	snprintf(span, sizeof(span), "%lld-%lld", rg.first, rg.last);
	if (gl_cache_key(key, sizeof(key), "summary", span) == 0 &&
	    gl_cache_peek(key, &text) == 1) {
		req->cache = "hit";
		return gl_reply_raw(req, 200, text, strlen(text));
	}
	if ((out = summary_new(req, &rg, &err)) == NULL)
		return gl_fail(req, err, NULL, "the counters could not be read");
	if ((text = gl_json_dump_new(out)) != NULL) {
		(void)gl_cache_put(key, text, REPORTS_CACHE_S);
		free(text);
	}
	req->cache = "miss";
	return gl_reply(req, 200, out);
}
