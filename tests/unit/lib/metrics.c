/*
 * Unit tests of lib/metrics.c and lib/metrics_text.c (one module, metrics.h) in a Redis of the
 * test's own (../redis_server.h): what a process counts, flushed, and the Prometheus text GET
 * /metrics writes from it, whole: names, labels, HELP and TYPE, bucket order, seconds,
 * gauges summed over live processes, consumer lag, kept collections; then promtool's verdict
 * on it (when installed), Redis away, counts kept until it is back, and a full table.
 *
 * Label values are not escaped: metrics.h has them come from the code, never a client.
 */
#include <stdlib.h>
#include <time.h>

#include "../redis_server.h"
#include "../tap.h"
#include "log.h"
#include "metrics.h"
#include "req.h"

#define HIST(family, help) "# HELP " family " " help "\n# TYPE " family " histogram\n"
#define THINGS             "service=\"unit\",route=\"/api/unit/things/{id}\""
#define UNMATCHED          "service=\"unit\",route=\"unmatched\""
#define STOCK              "service=\"unit\",target=\"stock\""
#define DUR                "galley_http_request_duration_seconds_bucket{"
#define OUT                "galley_outbound_request_duration_seconds_bucket{"

/* What another process and the other services left in Redis, and the streams. */
static int
setup(long long now)
{
	char soon[24], recent[24], stale[24], dirty[24];
	int n = 0;

	snprintf(soon, sizeof(soon), "%lld", now + 60);
	snprintf(recent, sizeof(recent), "%lld", now);
	snprintf(stale, sizeof(stale), "%lld", now - 20);
	snprintf(dirty, sizeof(dirty), "%lld", (now - 30) * 1000);
	const char *cmds[][6] = {
		{ "XADD", "galley:events:orders", "*", "n", "1" },
		{ "XADD", "galley:events:orders", "*", "n", "2" },
		{ "XADD", "galley:events:orders", "*", "n", "3" },
		{ "XGROUP", "CREATE", "galley:events:orders", "kitchen", "0" },
		{ "XREADGROUP", "GROUP", "kitchen", "c1", "COUNT", "1" }, /* + STREAMS, below */
		{ "XADD", "galley:events:orders:dead", "*", "n", "1" },
		{ "XGROUP", "CREATE", "galley:events:orders:dead", "kitchen", "0" },
		/* What consumers name (consumer.h); a dead-letter stream or anything else is not
		 * read, and a stream that is there but not named is not either. */
		{ "SADD", "galley:consumer:streams", "galley:events:orders",
		  "galley:events:orders:dead", "galley:events:", "evil" },
		{ "XGROUP", "CREATE", "galley:events:unnamed", "kitchen", "0", "MKSTREAM" },
		{ "SADD", "galley:kept:index", "stock:levels" },
		{ "ZADD", "galley:kept:stock:levels:dirty", dirty, "5f1e2d3c4b5a69788796a5b4" },
		{ "HSET", "galley:metrics:unit:proc:other:1", "galley_breaker_open{" STOCK "}",
		  soon },
		{ "ZADD", "galley:metrics:unit:procs", recent, "galley:metrics:unit:proc:other:1" },
		{ "HSET", "galley:metrics:unit:proc:dead:2", "galley_breaker_open{" STOCK "}",
		  soon },
		{ "ZADD", "galley:metrics:unit:procs", stale, "galley:metrics:unit:proc:dead:2" },
		{ "HINCRBY", "galley:metrics:other",
		  "galley_http_requests_total{service=\"other\",route=\"/api/"
		  "other\",method=\"GET\","
		  "status=\"200\"}",
		  "7" },
		{ "SADD", "galley:metrics:services", "galley:metrics:other", "evil" },
		{ "HINCRBY", "galley:metrics:unit", "galley_custom_total{service=\"unit\"}", "4" },
	};
	for (size_t i = 0; i < sizeof(cmds) / sizeof(cmds[0]); i++) {
		const char *argv[9];
		int argc = 0;
		for (; argc < 6 && cmds[i][argc] != NULL; argc++)
			argv[argc] = cmds[i][argc];
		if (strcmp(argv[0], "XREADGROUP") == 0) {
			argv[argc++] = "STREAMS";
			argv[argc++] = "galley:events:orders";
			argv[argc++] = ">";
		}
		unit_redis(NULL, 0, argc, argv);
		n++;
	}
	return n;
}

/* What this process counts. */
static void
count(void)
{
	gl_metrics_request("/api/unit/things/{id}", "GET", 200, 1500);
	gl_metrics_request("/api/unit/things/{id}", "GET", 200, 30000);
	gl_metrics_request("unmatched", "POST", 404, 20);
	gl_metrics_cache(true);
	gl_metrics_cache(false);
	gl_metrics_cache(false);
	gl_metrics_event(GL_METRICS_PUBLISHED, "orders", "order.created");
	gl_metrics_event(GL_METRICS_RETRIED, "orders", NULL);
	gl_metrics_outbound("stock", "ok", 3000);
	gl_metrics_outbound("stock", "open", 0);
	gl_metrics_breaker("stock", 5000000);
	gl_metrics_breaker("provider", 0);
	gl_metrics_db_op("find");
	gl_metrics_db_op("find");
	gl_metrics_db_op("listCollections");
}

/* The text gl_metrics_reply() answers (new), or NULL with its error in *err. */
static char *
metrics_text(enum gl_err *err)
{
	struct gl_req req;

	memset(&req, 0, sizeof(req));
	*err = gl_metrics_reply(&req);
	if (*err != GL_OK)
		return NULL;
	ok(req.status == 200, "200");
	is_str(req.content_type, "text/plain; version=0.0.4; charset=utf-8",
	       "Prometheus's text format, version 0.0.4");
	return req.raw;
}

static void
test_text(void)
{
	static const char *const les[] = { "0.001", "0.0025", "0.005", "0.01", "0.025",
		                           "0.05",  "0.1",    "0.25",  "0.5",  "1",
		                           "2.5",   "5",      "10",    "+Inf" };
	char want[16384], *text = NULL;
	long long now = time(NULL), t0 = 0, t1 = 0;
	enum gl_err err;
	size_t o = 0;
	int ops;

	ops = setup(now);
	count();
	gl_metrics_flush();
	for (int tries = 0; tries < 3; tries++) {
		t0 = time(NULL);
		free(text);
		text = metrics_text(&err);
		t1 = time(NULL);
		if (t0 == t1)
			break;
	}

#define ADD(...) (o += (size_t)snprintf(want + o, sizeof(want) - o, __VA_ARGS__))
	ADD("# HELP galley_breaker_open Processes whose circuit to the target is open.\n"
	    "# TYPE galley_breaker_open gauge\n"
	    "galley_breaker_open{service=\"unit\",target=\"provider\"} 0\n"
	    "galley_breaker_open{" STOCK "} 2\n"
	    "# HELP galley_cache_hits_total Cached reads answered from Redis.\n"
	    "# TYPE galley_cache_hits_total counter\n"
	    "galley_cache_hits_total{service=\"unit\"} 1\n"
	    "# HELP galley_cache_misses_total Cached reads loaded from MongoDB.\n"
	    "# TYPE galley_cache_misses_total counter\n"
	    "galley_cache_misses_total{service=\"unit\"} 2\n"
	    "galley_custom_total{service=\"unit\"} 4\n"
	    "# HELP galley_db_ops_total Round trips to MongoDB, by the command the driver sent.\n"
	    "# TYPE galley_db_ops_total counter\n"
	    "galley_db_ops_total{service=\"unit\",op=\"find\"} 2\n"
	    "galley_db_ops_total{service=\"unit\",op=\"other\"} 1\n"
	    "# HELP galley_events_consumer_lag Entries of the stream the group has not read yet.\n"
	    "# TYPE galley_events_consumer_lag gauge\n"
	    "galley_events_consumer_lag{service=\"kitchen\",stream=\"orders\"} 2\n"
	    "# HELP galley_events_pending Entries read by the group and not yet acknowledged.\n"
	    "# TYPE galley_events_pending gauge\n"
	    "galley_events_pending{service=\"kitchen\",stream=\"orders\"} 1\n"
	    "# HELP galley_events_published_total Events added to their stream.\n"
	    "# TYPE galley_events_published_total counter\n"
	    "galley_events_published_total{service=\"unit\",stream=\"orders\","
	    "type=\"order.created\"} 1\n"
	    "# HELP galley_events_retried_total Event handlings that failed and will be retried.\n"
	    "# TYPE galley_events_retried_total counter\n"
	    "galley_events_retried_total{service=\"unit\",stream=\"orders\"} 1\n");
	ADD(HIST("galley_http_request_duration_seconds",
	         "Time from the request's arrival at the worker to its answer."));
	for (int i = 1; i < 14; i++) /* 1.5 ms and 30 ms: none at 1 ms, one to 25 ms */
		ADD(DUR THINGS ",le=\"%s\"} %d\n", les[i], i < 5 ? 1 : 2);
	for (int i = 0; i < 14; i++) /* 20 us: every bucket */
		ADD(DUR UNMATCHED ",le=\"%s\"} 1\n", les[i]);
	ADD("galley_http_request_duration_seconds_count{" THINGS "} 2\n"
	    "galley_http_request_duration_seconds_count{" UNMATCHED "} 1\n"
	    "galley_http_request_duration_seconds_sum{" THINGS "} 0.031500\n"
	    "galley_http_request_duration_seconds_sum{" UNMATCHED "} 0.000020\n"
	    "# HELP galley_http_requests_total Requests answered, by route, method and status.\n"
	    "# TYPE galley_http_requests_total counter\n"
	    "galley_http_requests_total{service=\"other\",route=\"/api/other\",method=\"GET\","
	    "status=\"200\"} 7\n"
	    "galley_http_requests_total{" THINGS ",method=\"GET\",status=\"200\"} 2\n"
	    "galley_http_requests_total{" UNMATCHED ",method=\"POST\",status=\"404\"} 1\n"
	    "# HELP galley_kept_dirty_oldest_seconds How long the oldest of them has differed "
	    "from MongoDB.\n"
	    "# TYPE galley_kept_dirty_oldest_seconds gauge\n"
	    "galley_kept_dirty_oldest_seconds{service=\"stock\",collection=\"levels\"} %lld\n"
	    "# HELP galley_kept_dirty Documents of a kept collection not yet written to "
	    "MongoDB.\n"
	    "# TYPE galley_kept_dirty gauge\n"
	    "galley_kept_dirty{service=\"stock\",collection=\"levels\"} 1\n"
	    "# HELP galley_kept_held Documents of a kept collection held back from MongoDB until "
	    "they change (unpaid orders).\n"
	    "# TYPE galley_kept_held gauge\n"
	    "galley_kept_held{service=\"stock\",collection=\"levels\"} 0\n",
	    t0 - (now - 30));
	ADD(HIST("galley_outbound_request_duration_seconds", "Outbound call attempts' time."));
	for (int i = 2; i < 14; i++) /* 3 ms */
		ADD(OUT STOCK ",le=\"%s\"} 1\n", les[i]);
	ADD("galley_outbound_request_duration_seconds_count{" STOCK "} 1\n"
	    "galley_outbound_request_duration_seconds_sum{" STOCK "} 0.003000\n"
	    "# HELP galley_outbound_requests_total Outbound call attempts, by outcome.\n"
	    "# TYPE galley_outbound_requests_total counter\n"
	    "galley_outbound_requests_total{" STOCK ",outcome=\"ok\"} 1\n"
	    "galley_outbound_requests_total{" STOCK ",outcome=\"open\"} 1\n"
	    "# HELP galley_processes Processes of the service reporting in the last 10 s.\n"
	    "# TYPE galley_processes gauge\n"
	    "galley_processes{service=\"other\"} 0\n"
	    "galley_processes{service=\"unit\"} 2\n"
	    "# HELP galley_redis_ops_total Round trips to Redis (every command).\n"
	    "# TYPE galley_redis_ops_total counter\n"
	    "galley_redis_ops_total{service=\"unit\"} %d\n",
	    ops);
#undef ADD
	is_str(text, want, "the whole text");
	if (text != NULL && strcmp(text, want) != 0)
		printf("# got:\n%s", text);
	free(text);
}

/* promtool's own reading of the text (its lint: a series with no HELP is one complaint). */
static void
test_promtool(void)
{
	enum gl_err err;
	char *text;
	FILE *p;

	if (system("promtool --version >/dev/null 2>&1") != 0) {
		ok(1, "# SKIP promtool is not installed");
		return;
	}
	const char *del[] = { "HDEL", "galley:metrics:unit",
		              "galley_custom_total{service=\"unit\"}" };
	unit_redis(NULL, 0, 3, del);
	text = metrics_text(&err);
	p = popen("promtool check metrics", "w");
	if (p != NULL && text != NULL)
		fputs(text, p);
	ok(p != NULL && pclose(p) == 0, "promtool check metrics: no complaint");
	free(text);
}

/* Redis away: /metrics says so; the counts wait in memory and reach the next Redis. */
static void
test_away(void)
{
	const char *name =
	        "galley_http_requests_total{" UNMATCHED ",method=\"POST\",status=\"404\"}";
	const char *hget[] = { "HGET", "galley:metrics:unit", name };
	enum gl_err err;
	char val[32];

	unit_redis_stop();
	ok(metrics_text(&err) == NULL && err == GL_E_UPSTREAM_DOWN, "Redis away: 503");
	gl_metrics_request("unmatched", "POST", 404, 20);
	gl_metrics_flush();
	unit_redis_start();
	usleep(150000); /* past redis.c's pause between two connects */
	gl_metrics_request("unmatched", "POST", 404, 20);
	gl_metrics_flush();
	unit_redis(val, sizeof(val), 3, hget);
	is_str(val, "2", "what was counted while it was away reaches the next Redis");
}

/* GL_METRICS_SERIES per process: a series past them is counted as dropped. */
static void
test_full(void)
{
	const char *hget[] = { "HGET", "galley:metrics:unit",
		               "galley_metrics_dropped_total{service=\"unit\"}" };
	char route[32], val[32];

	/* 16 series so far: 248 routes of two series each fill the table; 52 routes more. */
	for (int i = 0; i < 300; i++) {
		snprintf(route, sizeof(route), "/r/%d", i);
		gl_metrics_request(route, "GET", 200, 1);
	}
	gl_metrics_flush();
	unit_redis(val, sizeof(val), 3, hget);
	is_str(val, "104", "the series past the table are counted in galley_metrics_dropped_total");
}

int
main(void)
{
	unit_redis_start();

	test_text();
	test_promtool();
	test_away();
	test_full();
	gl_redis_close();
	return done_testing();
}
