/*
 * GET /metrics (metrics.h): the Prometheus text exposition of every
 * service's totals in Redis and the consumer groups' lag read from the streams
 * themselves. nginx's own counters are not here: each nginx answers them itself
 * (nginx/metrics.js, GET /metrics/nginx), so that any pool may answer this for any replica.
 */
#include <math.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "consumer.h"
#include "kept.h"
#include "metrics.h"
#include "redis.h"
#include "req.h"

#define TEXT_MAX      (8 * 1024 * 1024) /* far above GL_METRICS_SERIES × services */
#define PROCS_ALIVE_S 10                /* a process that has not flushed for this long is gone */

static const struct {
	const char *name, *type, *help;
} text_families[] = {
	{ "galley_http_requests_total", "counter",
	  "Requests answered, by route, method and status." },
	{ "galley_http_request_duration_seconds", "histogram",
	  "Time from the request's arrival at the worker to its answer." },
	{ "galley_cache_hits_total", "counter", "Cached reads answered from Redis." },
	{ "galley_cache_misses_total", "counter", "Cached reads loaded from MongoDB." },
	{ "galley_events_published_total", "counter", "Events added to their stream." },
	{ "galley_events_consumed_total", "counter", "Events handled by the service." },
	{ "galley_events_retried_total", "counter",
	  "Event handlings that failed and will be retried." },
	{ "galley_events_dead_lettered_total", "counter", "Events moved to a dead-letter stream." },
	{ "galley_events_consumer_lag", "gauge",
	  "Entries of the stream the group has not read yet." },
	{ "galley_events_pending", "gauge", "Entries read by the group and not yet acknowledged." },
	{ "galley_breaker_open", "gauge", "Processes whose circuit to the target is open." },
	{ "galley_kept_dirty", "gauge",
	  "Documents of a kept collection not yet written to MongoDB." },
	{ "galley_kept_dirty_oldest_seconds", "gauge",
	  "How long the oldest of them has differed from MongoDB." },
	{ "galley_kept_held", "gauge",
	  "Documents of a kept collection held back from MongoDB until they change (unpaid "
	  "orders)." },
	{ "galley_outbound_requests_total", "counter", "Outbound call attempts, by outcome." },
	{ "galley_outbound_request_duration_seconds", "histogram",
	  "Outbound call attempts' time." },
	{ "galley_db_ops_total", "counter",
	  "Round trips to MongoDB, by the command the driver sent." },
	{ "galley_redis_ops_total", "counter", "Round trips to Redis (every command)." },
	{ "galley_processes", "gauge", "Processes of the service reporting in the last 10 s." },
	{ "galley_metrics_dropped_total", "counter",
	  "Series a process could not keep (table full)." },
};

/* The text, growing up to TEXT_MAX. */
struct text {
	char *p;
	size_t len, cap;
	bool failed;
};

static void text_add(struct text *t, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

static void
text_add(struct text *t, const char *fmt, ...)
{
	va_list ap;
	int n;

	for (;;) {
		if (t->failed)
			return;
		va_start(ap, fmt);
		n = vsnprintf(t->p + t->len, t->cap - t->len, fmt, ap);
		va_end(ap);
		if (n >= 0 && (size_t)n < t->cap - t->len) {
			t->len += (size_t)n;
			return;
		}
		char *p = t->cap * 2 <= TEXT_MAX ? realloc(t->p, t->cap * 2) : NULL;
		if (n < 0 || p == NULL) {
			t->failed = true;
			return;
		}
		t->p = p;
		t->cap *= 2;
	}
}

/* One series line: its name with labels, and its value (microseconds for a _sum). */
struct line {
	char *name;
	long long value;
};

struct lines {
	struct line *v;
	size_t n, cap;
	bool failed;
};

static void
lines_add(struct lines *l, const char *name, size_t len, long long value)
{
	if (l->n == l->cap) {
		size_t cap = l->cap ? l->cap * 2 : 256;
		struct line *v = cap <= 1u << 20 ? realloc(l->v, cap * sizeof(*v)) : NULL;
		if (v == NULL) {
			l->failed = true;
			return;
		}
		l->v = v;
		l->cap = cap;
	}
	if ((l->v[l->n].name = strndup(name, len)) == NULL) {
		l->failed = true;
		return;
	}
	l->v[l->n++].value = value;
}

static void
lines_free(struct lines *l)
{
	for (size_t i = 0; i < l->n; i++)
		free(l->v[i].name);
	free(l->v);
}

/* A histogram bucket's le, or NAN; *prefix_len is where its ",le=" starts. */
static double
line_le(const char *name, size_t *prefix_len)
{
	const char *le = strstr(name, ",le=\"");

	if (le == NULL)
		return NAN;
	*prefix_len = (size_t)(le - name);
	return strncmp(le + 5, "+Inf", 4) == 0 ? INFINITY : strtod(le + 5, NULL);
}

/* By name, except that a histogram's buckets go in the order of their bounds. */
static int
line_cmp(const void *a, const void *b)
{
	const char *x = ((const struct line *)a)->name, *y = ((const struct line *)b)->name;
	size_t xn, yn;
	double xle = line_le(x, &xn), yle = line_le(y, &yn);
	int c;

	if (isnan(xle) || isnan(yle) || xn != yn || (c = strncmp(x, y, xn)) != 0)
		return strcmp(x, y);
	return xle < yle ? -1 : xle > yle;
}

/* A process's gauge as it stands now: a circuit counts while its open time lasts. */
static long long
text_gauge(const char *name, long long v)
{
	if (strncmp(name, "galley_breaker_open{", 20) == 0)
		return v > (long long)time(NULL) ? 1 : 0;
	return v;
}

/* HGETALL key into l (gauges: a process's, as they stand now). */
static void
text_hash(struct lines *l, const char *key, bool gauges)
{
	const char *argv[] = { "HGETALL", key };
	redisReply *r = gl_redis_strv(GL_REDIS_CACHE, 2, argv);

	if (r != NULL && r->type == REDIS_REPLY_ARRAY)
		for (size_t i = 0; i + 1 < r->elements; i += 2)
			if (r->element[i]->type == REDIS_REPLY_STRING &&
			    r->element[i + 1]->type == REDIS_REPLY_STRING) {
				const char *name = r->element[i]->str;
				long long v = strtoll(r->element[i + 1]->str, NULL, 10);
				lines_add(l, name, r->element[i]->len,
				          gauges ? text_gauge(name, v) : v);
			}
	if (r != NULL)
		freeReplyObject(r);
}

/* A service's live processes: how many, and their gauges (summed later, by name). */
static void
text_processes(struct lines *l, const char *svc_key)
{
	char procs[160], old[24], name[160];
	const char *svc = svc_key + strlen(GL_METRICS_KEY);
	redisReply *r;
	int n;

	snprintf(procs, sizeof(procs), "%s:procs", svc_key);
	snprintf(old, sizeof(old), "%lld", (long long)time(NULL) - PROCS_ALIVE_S);
	const char *trim[] = { "ZREMRANGEBYSCORE", procs, "-inf", old };
	const char *range[] = { "ZRANGE", procs, "0", "-1" };
	if ((r = gl_redis_strv(GL_REDIS_CACHE, 4, trim)) != NULL)
		freeReplyObject(r);
	if ((r = gl_redis_strv(GL_REDIS_CACHE, 4, range)) == NULL)
		return;
	if (r->type == REDIS_REPLY_ARRAY)
		for (size_t i = 0; i < r->elements; i++)
			if (r->element[i]->type == REDIS_REPLY_STRING)
				text_hash(l, r->element[i]->str, true);
	n = r->type == REDIS_REPLY_ARRAY ? (int)r->elements : 0;
	freeReplyObject(r);
	snprintf(name, sizeof(name), "galley_processes{service=\"%s\"}", svc);
	lines_add(l, name, strlen(name), n);
}

/* The value of field in a flat [field, value, ...] reply, or NULL. */
static const redisReply *
reply_field(const redisReply *r, const char *field)
{
	for (size_t i = 0; r->type == REDIS_REPLY_ARRAY && i + 1 < r->elements; i += 2)
		if (r->element[i]->type == REDIS_REPLY_STRING &&
		    strcmp(r->element[i]->str, field) == 0)
			return r->element[i + 1];
	return NULL;
}

/* Each consumer group of stream: how far behind it is, and what it holds unacknowledged. */
static void
text_groups(struct lines *l, const char *stream)
{
	const char *family = stream + strlen("galley:events:");
	const char *argv[] = { "XINFO", "GROUPS", stream };
	redisReply *r = gl_redis_strv(GL_REDIS_STORE, 3, argv);
	char name[192];

	for (size_t i = 0; r != NULL && r->type == REDIS_REPLY_ARRAY && i < r->elements; i++) {
		const redisReply *g = r->element[i], *group = reply_field(g, "name"),
		                 *lag = reply_field(g, "lag"), *pending = reply_field(g, "pending");
		if (group == NULL || group->type != REDIS_REPLY_STRING || strlen(group->str) > 48)
			continue;
		if (lag != NULL && lag->type == REDIS_REPLY_INTEGER) {
			snprintf(name, sizeof(name),
			         "galley_events_consumer_lag{service=\"%s\",stream=\"%s\"}",
			         group->str, family);
			lines_add(l, name, strlen(name), lag->integer);
		}
		if (pending != NULL && pending->type == REDIS_REPLY_INTEGER) {
			snprintf(name, sizeof(name),
			         "galley_events_pending{service=\"%s\",stream=\"%s\"}", group->str,
			         family);
			lines_add(l, name, strlen(name), pending->integer);
		}
	}
	if (r != NULL)
		freeReplyObject(r);
}

/* A kept collection ("<service>:<coll>", kept.h): how many of its documents MongoDB has not
 * seen yet, for how long the oldest has waited (0 and 0 when none), and how many it holds
 * back. */
static void
text_kept_one(struct lines *l, const char *which)
{
	char service[32], coll[32], key[128], name[160];
	redisReply *r, *n;

	if (sscanf(which, "%31[^:]:%31s", service, coll) != 2)
		return;
	snprintf(key, sizeof(key), "galley:kept:%s:%s:held", service, coll);
	const char *held[] = { "ZCARD", key };
	if ((n = gl_redis_strv(GL_REDIS_STORE, 2, held)) == NULL)
		return;
	snprintf(name, sizeof(name), "galley_kept_held{service=\"%s\",collection=\"%s\"}", service,
	         coll);
	lines_add(l, name, strlen(name), n->type == REDIS_REPLY_INTEGER ? n->integer : 0);
	freeReplyObject(n);
	snprintf(key, sizeof(key), "galley:kept:%s:%s:dirty", service, coll);
	const char *argv[] = { "ZRANGE", key, "0", "0", "WITHSCORES" };
	const char *card[] = { "ZCARD", key };
	if ((n = gl_redis_strv(GL_REDIS_STORE, 2, card)) == NULL)
		return;
	if ((r = gl_redis_strv(GL_REDIS_STORE, 5, argv)) == NULL) {
		freeReplyObject(n);
		return;
	}
	snprintf(name, sizeof(name), "galley_kept_dirty{service=\"%s\",collection=\"%s\"}", service,
	         coll);
	lines_add(l, name, strlen(name), n->type == REDIS_REPLY_INTEGER ? n->integer : 0);
	long long age = 0;
	if (r->type == REDIS_REPLY_ARRAY && r->elements == 2 &&
	    r->element[1]->type == REDIS_REPLY_STRING)
		age = (long long)time(NULL) - atoll(r->element[1]->str) / 1000;
	snprintf(name, sizeof(name),
	         "galley_kept_dirty_oldest_seconds{service=\"%s\",collection=\"%s\"}", service,
	         coll);
	lines_add(l, name, strlen(name), age > 0 ? age : 0);
	freeReplyObject(n);
	freeReplyObject(r);
}

/* Every kept collection a process has named (GL_KEPT_INDEX). */
static void
text_kept(struct lines *l)
{
	const char *argv[] = { "SMEMBERS", GL_KEPT_INDEX };
	redisReply *r = gl_redis_strv(GL_REDIS_STORE, 2, argv);

	if (r != NULL && r->type == REDIS_REPLY_ARRAY)
		for (size_t i = 0; i < r->elements && i < 64; i++)
			if (r->element[i]->type == REDIS_REPLY_STRING)
				text_kept_one(l, r->element[i]->str);
	if (r != NULL)
		freeReplyObject(r);
}

/* Each stream a consumer group follows (GL_CONSUMER_STREAMS; not the dead letters' streams,
 * which have none): its groups.  The set is read, not the store's keys scanned: a scan's cost
 * grows with all the store holds, and a scrape comes every few seconds. */
static void
text_streams(struct lines *l)
{
	const char *argv[] = { "SMEMBERS", GL_CONSUMER_STREAMS };
	const size_t prefix = strlen("galley:events:");
	redisReply *r = gl_redis_strv(GL_REDIS_STORE, 2, argv);

	for (size_t i = 0; r != NULL && r->type == REDIS_REPLY_ARRAY && i < r->elements && i < 64;
	     i++) {
		const char *key = r->element[i]->str;
		if (r->element[i]->type == REDIS_REPLY_STRING && strlen(key) < 64 &&
		    strncmp(key, "galley:events:", prefix) == 0 && key[prefix] != '\0' &&
		    strchr(key + prefix, ':') == NULL)
			text_groups(l, key);
	}
	if (r != NULL)
		freeReplyObject(r);
}

/* The family of a series named name (up to its '{'): its row in text_families, or -1;
 * family gets its name (a histogram's, without _bucket, _count or _sum). */
static int
family_of(const char *name, char *family, size_t size)
{
	static const char *const parts[] = { "", "_bucket", "_count", "_sum" };
	size_t n = strcspn(name, "{");

	for (int p = 0; p < 4; p++) {
		size_t pl = strlen(parts[p]);
		if (n <= pl || strncmp(name + n - pl, parts[p], pl) != 0)
			continue;
		snprintf(family, size, "%.*s", (int)(n - pl), name);
		for (size_t i = 0; i < sizeof(text_families) / sizeof(text_families[0]); i++)
			if (strcmp(text_families[i].name, family) == 0 &&
			    (p == 0 || strcmp(text_families[i].type, "histogram") == 0))
				return (int)i;
	}
	snprintf(family, size, "%.*s", (int)n, name);
	return -1;
}

/* The lines, sorted, the same names summed (gauges of several processes), by family. */
static void
text_lines(struct text *t, struct lines *l)
{
	char family[128], last[128] = "";

	qsort(l->v, l->n, sizeof(l->v[0]), line_cmp);
	for (size_t i = 0; i < l->n; i++) {
		long long v = l->v[i].value;
		while (i + 1 < l->n && strcmp(l->v[i].name, l->v[i + 1].name) == 0)
			v += l->v[++i].value;
		int f = family_of(l->v[i].name, family, sizeof(family));
		if (strcmp(family, last) != 0) {
			if (f >= 0)
				text_add(t, "# HELP %s %s\n# TYPE %s %s\n", family,
				         text_families[f].help, family, text_families[f].type);
			snprintf(last, sizeof(last), "%s", family);
		}
		size_t n = strcspn(l->v[i].name, "{");
		if (n > 4 && strncmp(l->v[i].name + n - 4, "_sum", 4) == 0)
			text_add(t, "%s %lld.%06lld\n", l->v[i].name, v / 1000000, v % 1000000);
		else
			text_add(t, "%s %lld\n", l->v[i].name, v);
	}
}

enum gl_err
gl_metrics_reply(struct gl_req *req)
{
	const char *argv[] = { "SMEMBERS", GL_METRICS_KEY "services" };
	struct lines l = { NULL, 0, 0, false };
	struct text t = { malloc(65536), 0, 65536, false };
	redisReply *r;

	if (t.p == NULL)
		return GL_E_INTERNAL;
	if ((r = gl_redis_strv(GL_REDIS_CACHE, 2, argv)) == NULL || r->type != REDIS_REPLY_ARRAY) {
		if (r != NULL)
			freeReplyObject(r);
		free(t.p);
		return gl_fail(req, GL_E_UPSTREAM_DOWN, NULL,
		               "redis is not answering: the totals live there");
	}
	for (size_t i = 0; i < r->elements; i++) {
		const char *key = r->element[i]->str;
		if (r->element[i]->type != REDIS_REPLY_STRING || strlen(key) > 96 ||
		    strncmp(key, GL_METRICS_KEY, strlen(GL_METRICS_KEY)) != 0)
			continue;
		text_hash(&l, key, false);
		text_processes(&l, key);
	}
	freeReplyObject(r);
	text_streams(&l);
	text_kept(&l);
	text_lines(&t, &l);
	lines_free(&l);
	if (t.failed || l.failed) {
		free(t.p);
		return gl_fail(req, GL_E_INTERNAL, NULL, "the metrics did not fit in memory");
	}
	return gl_reply_text(req, 200, "text/plain; version=0.0.4; charset=utf-8", t.p, t.len);
}
