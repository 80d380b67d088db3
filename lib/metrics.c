#include <pthread.h>
#include <stdbool.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "conf.h"
#include "log.h"
#include "metrics.h"
#include "redis.h"

#define GL_METRICS_BUCKETS 13
#define GL_METRICS_LABELS  192

/* Bucket bounds in microseconds; their labels are metrics_le[]. */
static const long long metrics_bounds[GL_METRICS_BUCKETS] = {
	1000,   2500,   5000,    10000,   25000,   50000,    100000,
	250000, 500000, 1000000, 2500000, 5000000, 10000000,
};
static const char *const metrics_le[GL_METRICS_BUCKETS] = {
	"0.001", "0.0025", "0.005", "0.01", "0.025", "0.05", "0.1",
	"0.25",  "0.5",    "1",     "2.5",  "5",     "10",
};

enum metrics_kind { METRICS_COUNTER, METRICS_GAUGE, METRICS_HISTOGRAM };

struct metrics_series {
	const char *family; /* static */
	char labels[GL_METRICS_LABELS];
	enum metrics_kind kind;
	long long n;      /* counter: since the last flush; gauge: now; histogram: observations */
	long long sum_us; /* histogram */
	long long bucket[GL_METRICS_BUCKETS]; /* histogram: observations at most that bound */
};

static pthread_mutex_t metrics_lock = PTHREAD_MUTEX_INITIALIZER;
static struct metrics_series metrics_table[GL_METRICS_SERIES];
static int metrics_used;
static long long metrics_dropped;
/* Open addressing over metrics_table: index + 1, 0 = empty. */
static int metrics_index[GL_METRICS_SERIES * 2];

static uint32_t
metrics_hash(const char *family, const char *labels)
{
	uint32_t h = 2166136261u; /* FNV-1a */

	for (const char *p = family; *p; p++)
		h = (h ^ (unsigned char)*p) * 16777619u;
	for (const char *p = labels; *p; p++)
		h = (h ^ (unsigned char)*p) * 16777619u;
	return h;
}

/* The series, made on first use; NULL when the table is full.  Call with the lock held. */
static struct metrics_series *
metrics_series(const char *family, const char *labels, enum metrics_kind kind)
{
	size_t slots = sizeof(metrics_index) / sizeof(metrics_index[0]);
	uint32_t i = metrics_hash(family, labels) % slots;
	struct metrics_series *s;

	for (; metrics_index[i] != 0; i = (i + 1) % slots) {
		s = &metrics_table[metrics_index[i] - 1];
		if (s->family == family && strcmp(s->labels, labels) == 0)
			return s;
	}
	if (metrics_used == GL_METRICS_SERIES) {
		metrics_dropped++;
		return NULL;
	}
	s = &metrics_table[metrics_used++];
	memset(s, 0, sizeof(*s));
	s->family = family;
	s->kind = kind;
	snprintf(s->labels, sizeof(s->labels), "%s", labels);
	metrics_index[i] = metrics_used;
	return s;
}

/* Add n to a counter, or set a gauge to n. */
static void
metrics_add(const char *family, const char *labels, enum metrics_kind kind, long long n)
{
	struct metrics_series *s;

	pthread_mutex_lock(&metrics_lock);
	if ((s = metrics_series(family, labels, kind)) != NULL)
		s->n = kind == METRICS_GAUGE ? n : s->n + n;
	pthread_mutex_unlock(&metrics_lock);
}

static void
metrics_observe(const char *family, const char *labels, long long us)
{
	struct metrics_series *s;

	if (us < 0)
		us = 0;
	pthread_mutex_lock(&metrics_lock);
	if ((s = metrics_series(family, labels, METRICS_HISTOGRAM)) != NULL) {
		s->n++;
		s->sum_us += us;
		for (int b = 0; b < GL_METRICS_BUCKETS; b++)
			if (us <= metrics_bounds[b])
				s->bucket[b]++;
	}
	pthread_mutex_unlock(&metrics_lock);
}

void
gl_metrics_request(const char *route, const char *method, int status, long long us)
{
	char labels[GL_METRICS_LABELS];

	snprintf(labels, sizeof(labels), "service=\"%s\",route=\"%s\",method=\"%s\",status=\"%d\"",
	         gl_conf.service, route, method, status);
	metrics_add("galley_http_requests_total", labels, METRICS_COUNTER, 1);
	snprintf(labels, sizeof(labels), "service=\"%s\",route=\"%s\"", gl_conf.service, route);
	metrics_observe("galley_http_request_duration_seconds", labels, us);
}

void
gl_metrics_cache(bool hit)
{
	char labels[GL_METRICS_LABELS];

	snprintf(labels, sizeof(labels), "service=\"%s\"", gl_conf.service);
	metrics_add(hit ? "galley_cache_hits_total" : "galley_cache_misses_total", labels,
	            METRICS_COUNTER, 1);
}

void
gl_metrics_event(enum gl_metrics_event what, const char *stream, const char *type)
{
	static const char *const family[] = {
		[GL_METRICS_PUBLISHED] = "galley_events_published_total",
		[GL_METRICS_CONSUMED] = "galley_events_consumed_total",
		[GL_METRICS_RETRIED] = "galley_events_retried_total",
		[GL_METRICS_DEAD_LETTERED] = "galley_events_dead_lettered_total",
	};
	char labels[GL_METRICS_LABELS];

	if (type != NULL)
		snprintf(labels, sizeof(labels), "service=\"%s\",stream=\"%s\",type=\"%s\"",
		         gl_conf.service, stream, type);
	else
		snprintf(labels, sizeof(labels), "service=\"%s\",stream=\"%s\"", gl_conf.service,
		         stream);
	metrics_add(family[what], labels, METRICS_COUNTER, 1);
}

void
gl_metrics_outbound(const char *target, const char *outcome, long long us)
{
	char labels[GL_METRICS_LABELS];

	snprintf(labels, sizeof(labels), "service=\"%s\",target=\"%s\",outcome=\"%s\"",
	         gl_conf.service, target, outcome);
	metrics_add("galley_outbound_requests_total", labels, METRICS_COUNTER, 1);
	if (strcmp(outcome, "open") == 0)
		return; /* no call was made: nothing to time */
	snprintf(labels, sizeof(labels), "service=\"%s\",target=\"%s\"", gl_conf.service, target);
	metrics_observe("galley_outbound_request_duration_seconds", labels, us);
}

void
gl_metrics_breaker(const char *target, long long open_us)
{
	char labels[GL_METRICS_LABELS];
	long long until = open_us > 0 ? (long long)time(NULL) + open_us / 1000000 + 1 : 0;

	snprintf(labels, sizeof(labels), "service=\"%s\",target=\"%s\"", gl_conf.service, target);
	metrics_add("galley_breaker_open", labels, METRICS_GAUGE, until);
}

/* Round trips, counted without the lock (the Redis client counts the flush's own calls). */
static const char *const metrics_db_names[] = { "find",   "getMore",       "insert",    "update",
	                                        "delete", "findAndModify", "aggregate", "count",
	                                        "ping",   "other" };
#define METRICS_DB_OPS (sizeof(metrics_db_names) / sizeof(metrics_db_names[0]))
static atomic_llong metrics_db_n[METRICS_DB_OPS];
static atomic_llong metrics_redis_n;

void
gl_metrics_db_op(const char *command)
{
	size_t i = 0;

	while (i + 1 < METRICS_DB_OPS && strcmp(command, metrics_db_names[i]) != 0)
		i++;
	atomic_fetch_add(&metrics_db_n[i], 1);
}

void
gl_metrics_redis_op(void)
{
	atomic_fetch_add(&metrics_redis_n, 1);
}

/* Move the round trips counted since the last flush into their series. */
static void
metrics_round_trips(void)
{
	char labels[GL_METRICS_LABELS];
	long long n;

	for (size_t i = 0; i < METRICS_DB_OPS; i++)
		if ((n = atomic_exchange(&metrics_db_n[i], 0)) != 0) {
			snprintf(labels, sizeof(labels), "service=\"%s\",op=\"%s\"",
			         gl_conf.service, metrics_db_names[i]);
			metrics_add("galley_db_ops_total", labels, METRICS_COUNTER, n);
		}
	if ((n = atomic_exchange(&metrics_redis_n, 0)) != 0) {
		snprintf(labels, sizeof(labels), "service=\"%s\"", gl_conf.service);
		metrics_add("galley_redis_ops_total", labels, METRICS_COUNTER, n);
	}
}

/* The flush's arguments: field, value, field, value, ... in one growing buffer. */
struct metrics_args {
	char *text;
	size_t len, cap;
	int count;
	bool short_of_memory; /* an argument is missing: send nothing */
};

static void metrics_arg(struct metrics_args *a, const char *fmt, ...)
        __attribute__((format(printf, 2, 3)));

static void
metrics_arg(struct metrics_args *a, const char *fmt, ...)
{
	va_list ap;
	int n;

	if (a->cap - a->len < 512) {
		char *p = realloc(a->text, a->cap * 2);
		if (p == NULL) {
			a->short_of_memory = true;
			return;
		}
		a->text = p;
		a->cap *= 2;
	}
	va_start(ap, fmt);
	n = vsnprintf(a->text + a->len, a->cap - a->len, fmt, ap);
	va_end(ap);
	if (n < 0 || (size_t)n >= a->cap - a->len) {
		a->short_of_memory = true;
		return;
	}
	a->len += (size_t)n + 1;
	a->count++;
}

/*
 * The counters go into the service's hash, the gauges replace the
 * process's own hash (which lives 15 s past its last flush), and the
 * process is marked alive in the service's set of processes.
 */
static const char metrics_script[] =
        "local n = tonumber(ARGV[1])\n"
        "for i = 3, 2 + 2 * n, 2 do redis.call('HINCRBY', KEYS[1], ARGV[i], ARGV[i + 1]) end\n"
        "redis.call('DEL', KEYS[2])\n"
        "for i = 3 + 2 * n, #ARGV, 2 do redis.call('HSET', KEYS[2], ARGV[i], ARGV[i + 1]) end\n"
        "redis.call('EXPIRE', KEYS[2], 15)\n"
        "redis.call('ZADD', KEYS[3], ARGV[2], KEYS[2])\n"
        "redis.call('SADD', KEYS[4], KEYS[1])\n"
        "return n\n";

/* One EVAL of the script: 0, or -1 when Redis could not be told. */
static int
metrics_send(const struct metrics_args *a, int ncounters)
{
	char svc[96], proc[160], procs[112], host[64] = "", n[16], now[24];
	int argc = 9 + a->count;
	const char **argv = calloc((size_t)argc, sizeof(*argv));
	size_t *lens = calloc((size_t)argc, sizeof(*lens));
	redisReply *r;
	size_t off = 0;
	int ok;

	if (argv == NULL || lens == NULL) {
		free(argv);
		free(lens);
		return -1;
	}
	gethostname(host, sizeof(host) - 1);
	snprintf(svc, sizeof(svc), GL_METRICS_KEY "%s", gl_conf.service);
	snprintf(proc, sizeof(proc), GL_METRICS_KEY "%s:proc:%s:%d", gl_conf.service, host,
	         (int)getpid());
	snprintf(procs, sizeof(procs), GL_METRICS_KEY "%s:procs", gl_conf.service);
	snprintf(n, sizeof(n), "%d", ncounters);
	snprintf(now, sizeof(now), "%lld", (long long)time(NULL));
	argv[0] = "EVAL";
	argv[1] = metrics_script;
	argv[2] = "4";
	argv[3] = svc;
	argv[4] = proc;
	argv[5] = procs;
	argv[6] = GL_METRICS_KEY "services";
	argv[7] = n; /* ARGV[1]: how many pairs are counters */
	argv[8] = now;
	for (int i = 0; i < a->count; i++) {
		argv[9 + i] = a->text + off;
		off += strlen(a->text + off) + 1;
	}
	for (int i = 0; i < argc; i++)
		lens[i] = strlen(argv[i]);
	r = gl_redis_argv(GL_REDIS_CACHE, argc, argv, lens);
	ok = r != NULL && r->type == REDIS_REPLY_INTEGER;
	if (r != NULL)
		freeReplyObject(r);
	free(argv);
	free(lens);
	return ok ? 0 : -1;
}

/* Copy the series into snap and zero the counts (a gauge stays); the series' number. */
static int
metrics_take(struct metrics_series *snap, long long *dropped)
{
	int used;

	pthread_mutex_lock(&metrics_lock);
	used = metrics_used;
	memcpy(snap, metrics_table, (size_t)used * sizeof(snap[0]));
	for (int i = 0; i < used; i++)
		if (metrics_table[i].kind != METRICS_GAUGE) {
			metrics_table[i].n = metrics_table[i].sum_us = 0;
			memset(metrics_table[i].bucket, 0, sizeof(metrics_table[i].bucket));
		}
	*dropped = metrics_dropped;
	metrics_dropped = 0;
	pthread_mutex_unlock(&metrics_lock);
	return used;
}

/* Add what metrics_take took back to the counts: Redis was not told. */
static void
metrics_give_back(const struct metrics_series *snap, int used, long long dropped)
{
	pthread_mutex_lock(&metrics_lock);
	for (int i = 0; i < used; i++) {
		struct metrics_series *t = &metrics_table[i];
		if (t->kind == METRICS_GAUGE)
			continue;
		t->n += snap[i].n;
		t->sum_us += snap[i].sum_us;
		for (int b = 0; b < GL_METRICS_BUCKETS; b++)
			t->bucket[b] += snap[i].bucket[b];
	}
	metrics_dropped += dropped;
	pthread_mutex_unlock(&metrics_lock);
}

/* A histogram's pairs: each bucket that counted, +Inf, count and sum; how many. */
static int
metrics_args_histogram(struct metrics_args *a, const struct metrics_series *s)
{
	int pairs = 0;

	for (int b = 0; b < GL_METRICS_BUCKETS; b++) {
		if (s->bucket[b] == 0)
			continue;
		metrics_arg(a, "%s_bucket{%s,le=\"%s\"}", s->family, s->labels, metrics_le[b]);
		metrics_arg(a, "%lld", s->bucket[b]);
		pairs++;
	}
	metrics_arg(a, "%s_bucket{%s,le=\"+Inf\"}", s->family, s->labels);
	metrics_arg(a, "%lld", s->n);
	metrics_arg(a, "%s_count{%s}", s->family, s->labels);
	metrics_arg(a, "%lld", s->n);
	/* Microseconds: whole numbers for HINCRBY; shown as seconds. */
	metrics_arg(a, "%s_sum{%s}", s->family, s->labels);
	metrics_arg(a, "%lld", s->sum_us);
	return pairs + 3;
}

void
gl_metrics_flush(void)
{
	static struct metrics_series snap[GL_METRICS_SERIES];
	struct metrics_args a = { malloc(16384), 0, 16384, 0, false };
	long long dropped;
	int used, pairs = 0;

	if (a.text == NULL)
		return;
	metrics_round_trips();
	used = metrics_take(snap, &dropped);
	/* Counters first (pairs of them), then the gauges. */
	for (int i = 0; i < used; i++) {
		const struct metrics_series *s = &snap[i];
		if (s->kind == METRICS_COUNTER && s->n != 0) {
			metrics_arg(&a, "%s{%s}", s->family, s->labels);
			metrics_arg(&a, "%lld", s->n);
			pairs++;
		} else if (s->kind == METRICS_HISTOGRAM && s->n != 0) {
			pairs += metrics_args_histogram(&a, s);
		}
	}
	if (dropped > 0) {
		metrics_arg(&a, "galley_metrics_dropped_total{service=\"%s\"}", gl_conf.service);
		metrics_arg(&a, "%lld", dropped);
		pairs++;
	}
	for (int i = 0; i < used; i++)
		if (snap[i].kind == METRICS_GAUGE) {
			metrics_arg(&a, "%s{%s}", snap[i].family, snap[i].labels);
			metrics_arg(&a, "%lld", snap[i].n);
		}
	if (a.short_of_memory || metrics_send(&a, pairs) != 0)
		metrics_give_back(snap, used, dropped); /* kept for the next flush */
	free(a.text);
}
