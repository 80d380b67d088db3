#include <curl/curl.h>
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <signal.h>
#include <stdbool.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>
#include <unistd.h>

#include "admit.h"
#include "app.h"
#include "board.h"
#include "conf.h"
#include "db.h"
#include "events.h"
#include "http.h"
#include "json.h"
#include "kept.h"
#include "log.h"
#include "metrics.h"
#include "near.h"
#include "redis.h"
#include "req.h"
#include "stop.h"
#include "trace.h"

static int app_null_fd = -1;

/* The tick thread (app.h): it sleeps on a condition so a stop wakes it at once. */
static pthread_mutex_t tick_lock = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t tick_wake = PTHREAD_COND_INITIALIZER;
static bool tick_stop;
static void (*tick_fn)(void);
static char tick_key[96];

/*
 * One process of the service runs each second's tick: the one whose SET NX
 * wins.  Ticks are safe to race (app.h), so when Redis cannot be asked,
 * every process runs it; the claim only spares the database the same
 * expiry scan from every worker of every pool.
 */
static bool
app_tick_claim(void)
{
	const char *argv[] = { "SET", tick_key, "1", "NX", "PX", "900" };
	redisReply *r = gl_redis_strv(GL_REDIS_CACHE, 6, argv);
	bool mine = r == NULL || r->type != REDIS_REPLY_NIL;

	if (r != NULL)
		freeReplyObject(r);
	return mine;
}

static void *
app_tick_loop(void *arg)
{
	struct timespec at;

	(void)arg;
	pthread_mutex_lock(&tick_lock);
	while (!tick_stop) {
		clock_gettime(CLOCK_REALTIME, &at);
		at.tv_sec += 1;
		pthread_cond_timedwait(&tick_wake, &tick_lock, &at);
		if (tick_stop)
			break;
		pthread_mutex_unlock(&tick_lock);
		gl_metrics_flush();
		gl_kept_project();
		if (tick_fn != NULL && !gl_stop_requested() && app_tick_claim()) {
			/* Its own trace, kept only when it called out or announced something. */
			struct gl_trace_span span;
			gl_trace_start(&span, GL_TRACE_INTERNAL, "tick");
			span.quiet = true;
			tick_fn();
			gl_trace_end(&span, false);
		}
		pthread_mutex_lock(&tick_lock);
	}
	pthread_mutex_unlock(&tick_lock);
	gl_app_thread_end();
	return NULL;
}

void
gl_app_thread_end(void)
{
	gl_http_close();
	gl_redis_close();
}

/* The consumer thread (app.h): it blocks on the service's streams until a stop. */
static void *
app_consume_loop(void *arg)
{
	gl_events_run(arg);
	gl_app_thread_end();
	return NULL;
}

static void
app_tick_stop(pthread_t t)
{
	pthread_mutex_lock(&tick_lock);
	tick_stop = true;
	pthread_cond_signal(&tick_wake);
	pthread_mutex_unlock(&tick_lock);
	pthread_join(t, NULL);
}

/*
 * A stop signal may arrive just before the loop enters accept(), where
 * the flag alone would go unseen until the next connection (and nginx may
 * be gone by then).  So the handler also puts /dev/null on fd 0: an
 * accept() entered after it fails at once.  dup2() is async-signal-safe
 * and changes only this process's fd 0, not the pool's shared socket.
 */
static void
app_on_term(int sig)
{
	(void)sig;
	gl_stop_request();
	if (app_null_fd >= 0)
		dup2(app_null_fd, 0);
}

static enum gl_err
app_healthz(struct gl_req *req)
{
	return gl_reply(req, 200, json_pack("{s:s}", "status", "ok"));
}

static enum gl_err
app_metrics(struct gl_req *req)
{
	return gl_metrics_reply(req);
}

static enum gl_err
app_readyz(struct gl_req *req)
{
	if (gl_db_ping() != GL_OK)
		return gl_fail(req, GL_E_UPSTREAM_DOWN, NULL, "mongodb is not answering");
	if (gl_redis_ping(GL_REDIS_CACHE) != 0)
		return gl_fail(req, GL_E_UPSTREAM_DOWN, NULL, "redis is not answering");
	if (gl_redis_ping(GL_REDIS_STORE) != 0)
		return gl_fail(req, GL_E_UPSTREAM_DOWN, NULL,
		               "the store (redis with the event streams) is not answering");
	return gl_reply(req, 200,
	                json_pack("{s:s, s:s, s:s, s:s}", "status", "ready", "mongodb", "ok",
	                          "redis", "ok", "store", "ok"));
}

/* Read and drop what is left of the body so the FastCGI stream stays in step. */
static void
app_drain(struct gl_req *req)
{
	char buf[8192];

	while (FCGX_GetStr(buf, sizeof(buf), req->fcgi->in) > 0)
		;
}

/* "application/json" with an optional "; charset=utf-8", any case. */
static int
content_type_ok(const char *ct)
{
	size_t n = strlen("application/json");
	const char *p;

	if (ct == NULL || strncasecmp(ct, "application/json", n) != 0)
		return 0;
	p = ct + n;
	while (*p == ' ' || *p == '\t')
		p++;
	if (*p == '\0')
		return 1;
	if (*p != ';')
		return 0;
	p++;
	while (*p == ' ' || *p == '\t')
		p++;
	return strcasecmp(p, "charset=utf-8") == 0 || strcasecmp(p, "charset=\"utf-8\"") == 0;
}

/* CONTENT_LENGTH as a number; -1 when absent or not a plain decimal. */
static long long
content_length(const struct gl_req *req)
{
	const char *s = gl_req_param(req, "CONTENT_LENGTH");
	long long n = 0;

	if (s == NULL || *s == '\0')
		return 0;
	if (strlen(s) > 12 || strspn(s, "0123456789") != strlen(s))
		return -1;
	for (; *s; s++)
		n = n * 10 + (*s - '0');
	return n;
}

static enum gl_err
app_read_body(const struct gl_route *r, struct gl_req *req)
{
	struct gl_valid_fail fail;
	size_t cap = r->body_max ? r->body_max : GL_BODY_MAX_DEFAULT;
	long long len = content_length(req);
	char msg[200], *buf;
	enum gl_err err;
	int got;

	if (len < 0)
		return gl_fail(req, GL_E_VALIDATION, NULL, "Content-Length is not a number");
	if (r->body == NULL) {
		if (len > 0)
			return gl_fail(req, GL_E_VALIDATION, NULL, "this route takes no body");
		return GL_OK;
	}
	if (!content_type_ok(gl_req_param(req, "CONTENT_TYPE")))
		return gl_fail(req, GL_E_MEDIA_TYPE, NULL,
		               "send the body as Content-Type: application/json (UTF-8)");
	/* Checked before reading a byte: a large body costs us nothing. */
	if ((unsigned long long)len > cap)
		return gl_fail(req, GL_E_TOO_LARGE, NULL, "the body is larger than %zu bytes", cap);
	if (len == 0)
		return gl_fail(req, GL_E_INVALID_JSON, NULL, "a JSON object body is required");
	buf = malloc((size_t)len);
	if (buf == NULL)
		return GL_E_INTERNAL;
	got = FCGX_GetStr(buf, (int)len, req->fcgi->in);
	if (got != (int)len) {
		free(buf);
		return gl_fail(req, GL_E_INVALID_JSON, NULL,
		               "the body is shorter than Content-Length");
	}
	err = gl_json_parse_object(buf, (size_t)len, &req->body, msg, sizeof(msg));
	free(buf);
	if (err != GL_OK)
		return gl_fail(req, err, NULL, "%s", msg);
	if (gl_valid_object(r->body, req->body, (r->flags & GL_PARTIAL) != 0, &fail) != GL_OK)
		return gl_fail(req, GL_E_VALIDATION, fail.field, "%s %s",
		               fail.field[0] ? fail.field : "the body", fail.message);
	if ((r->flags & GL_PARTIAL) && json_object_size(req->body) == 0)
		return gl_fail(req, GL_E_VALIDATION, NULL, "the body names no field to change");
	return GL_OK;
}

enum gl_err
gl_app_dispatch(const struct gl_route *routes, struct gl_req *req)
{
	struct gl_valid_fail fail;
	const struct gl_route *r;
	enum gl_err err;

	err = gl_route_match(routes, req->method, req->path, &req->match);
	if (err == GL_E_NOT_FOUND)
		return gl_fail(req, err, NULL, "no such route");
	if (err == GL_E_METHOD)
		return gl_fail(req, err, NULL, "%s is not allowed here",
		               req->method ? gl_method_name(req->method) : "this method");
	if (err == GL_E_VALIDATION)
		return gl_fail(req, err, "id", "the id in the path must be 24 hex digits");
	if (err != GL_OK)
		return err;
	r = req->match.route;
	gl_board_route(gl_method_name(req->method), r->pattern);
	if (r->roles != GL_ROLE_PUBLIC && req->role == 0)
		return gl_fail(req, GL_E_UNAUTHENTICATED, NULL,
		               "sign in first: send Authorization: Bearer <token>");
	if (r->roles != GL_ROLE_PUBLIC && !gl_req_has_role(req, r->roles))
		return gl_fail(req, GL_E_FORBIDDEN, NULL, "your role may not do this");
	err = gl_valid_query(r->query, gl_req_param(req, "QUERY_STRING"), &req->query, &fail);
	if (err == GL_E_VALIDATION)
		return gl_fail(req, err, fail.field, "%s %s",
		               fail.field[0] ? fail.field : "the query", fail.message);
	if (err != GL_OK)
		return err;
	if ((err = app_read_body(r, req)) != GL_OK)
		return err;
	return r->handler(req);
}

/* This worker's view of its pool's queue (admit.h). */
static struct gl_admit app_admit;

/*
 * Serve the request, unless it is a write that has waited too long for this worker
 * (admit.h): then a 503 at once, as nginx's bounded queue refuses (errors.conf), still naming
 * its route for the metrics. Reads are served however long they waited: a cached read costs
 * a worker about what refusing it would, so refusing reads frees nothing, and at twice the
 * peak a worker busy refusing stale reads served 0.15x of it (docs/performance.md,
 * "Overload: a bound on waiting"). nginx's bound on reads in flight still holds.
 */
static enum gl_err
app_serve(const struct gl_route *routes, struct gl_req *req)
{
	bool timely = gl_admit_take(&app_admit, gl_req_param(req, "GALLEY_QUEUED_AT"),
	                            gl_req_param(req, "GALLEY_EDGE_TIME"), gl_admit_now());

	if (timely || req->method == GL_GET)
		return gl_app_dispatch(routes, req);
	if (gl_route_match(routes, req->method, req->path, &req->match) != GL_OK)
		req->match.route = NULL; /* it is only the metrics' label */
	return gl_fail(req, GL_E_UPSTREAM_DOWN, NULL,
	               "the service is busy (this request waited %lld ms for it): try again "
	               "in a second",
	               (long long)app_admit.waited_ms);
}

/* The service's routes behind the two every service has. */
static struct gl_route *
app_routes_new(const struct gl_service *svc)
{
	static char healthz[96], readyz[96];
	size_t n = 0;
	struct gl_route *all;

	while (svc->routes[n].pattern != NULL)
		n++;
	all = calloc(n + 4, sizeof(*all));
	if (all == NULL)
		return NULL;
	snprintf(healthz, sizeof(healthz), "/api/%s/healthz", svc->name);
	snprintf(readyz, sizeof(readyz), "/api/%s/readyz", svc->name);
	all[0] = (struct gl_route){ .method = GL_GET, .pattern = healthz, .handler = app_healthz };
	all[1] = (struct gl_route){ .method = GL_GET, .pattern = readyz, .handler = app_readyz };
	/* Every service's totals (metrics.h); nginx sends it here from its internal listener. */
	all[2] = (struct gl_route){ .method = GL_GET,
		                    .pattern = "/metrics",
		                    .handler = app_metrics };
	memcpy(all + 3, svc->routes, n * sizeof(*all));
	return all;
}

int
gl_app_main(const struct gl_service *svc)
{
	struct sigaction sa;
	FCGX_Request fcgi;
	struct gl_route *routes;
	struct gl_req req;
	pthread_t ticker, consumer;
	int rc = 0;

	if (gl_conf_load(svc->name) < 0)
		return 2;
	gl_log_init();
	srandom((unsigned)(time(NULL) ^ getpid()));
	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = app_on_term;
	sigemptyset(&sa.sa_mask);
	/*
	 * No SA_RESTART: accept() must return so the loop can see the flag.
	 * SIGUSR1 is multiwatch's "graceful stop" for its children; left to
	 * libfcgi it sets an internal flag that makes every later accept fail
	 * at once, which a retrying loop would spin on.
	 */
	sigaction(SIGTERM, &sa, NULL);
	sigaction(SIGINT, &sa, NULL);
	sigaction(SIGUSR1, &sa, NULL);
	signal(SIGPIPE, SIG_IGN);

	app_null_fd = open("/dev/null", O_RDONLY | O_CLOEXEC);

	/*
	 * mongoc starts monitor threads; a stop signal delivered to one of them
	 * would never interrupt our accept().  Threads inherit the mask they are
	 * created with, so block the stop signals while gl_db_open() starts them
	 * and unblock them in this thread only.
	 */
	sigset_t stops;
	sigemptyset(&stops);
	sigaddset(&stops, SIGTERM);
	sigaddset(&stops, SIGINT);
	sigaddset(&stops, SIGUSR1);
	pthread_sigmask(SIG_BLOCK, &stops, NULL);
	int opened = gl_db_open();
	pthread_sigmask(SIG_UNBLOCK, &stops, NULL);

	if (sodium_init() < 0 || curl_global_init(CURL_GLOBAL_DEFAULT) != CURLE_OK || opened < 0 ||
	    (routes = app_routes_new(svc)) == NULL || FCGX_Init() != 0) {
		gl_log(GL_LOG_ERROR, NULL, "start-up failed");
		return 1;
	}
	if (gl_trace_init() < 0)
		return 1;
	/* The requests' thread keeps near copies of what it reads through the cache (near.h);
	 * before init, which may already open its Redis connection. */
	gl_near_enable();
	/* Before init: the kitchen's cooks, which init starts, read kept tickets at once (they
	 * read MongoDB instead when this came after, and dropped a queued ticket not yet
	 * written there). */
	gl_kept_open(svc->kept);
	if (svc->init != NULL && svc->init() != 0) {
		gl_log(GL_LOG_ERROR, NULL, "the service's start-up failed");
		return 1;
	}
	/* Every process has the tick thread: it also adds the metrics to Redis; and a consumer
	 * thread when the service follows events. Started with the stop signals blocked, as
	 * mongoc's threads are. */
	tick_fn = svc->tick;
	snprintf(tick_key, sizeof(tick_key), "galley:%s:tick", svc->name);
	pthread_sigmask(SIG_BLOCK, &stops, NULL);
	int started = pthread_create(&ticker, NULL, app_tick_loop, NULL);
	if (started == 0 && svc->events != NULL &&
	    pthread_create(&consumer, NULL, app_consume_loop, (void *)svc->events) != 0) {
		app_tick_stop(ticker);
		started = -1;
	}
	pthread_sigmask(SIG_UNBLOCK, &stops, NULL);
	if (started != 0) {
		gl_log(GL_LOG_ERROR, NULL, "the tick or consumer thread could not start");
		return 1;
	}
	if (FCGX_InitRequest(&fcgi, 0, FCGI_FAIL_ACCEPT_ON_INTR) != 0) {
		gl_log(GL_LOG_ERROR, NULL, "FCGX_InitRequest failed");
		return 1;
	}
	/* The pool's scoreboard (board.h), when galley-pool started this process. */
	if (gl_board_attach() < 0)
		gl_log(GL_LOG_WARN, NULL,
		       "GALLEY_BOARD_FD/GALLEY_BOARD_SLOT unusable: no scoreboard");
	gl_log(GL_LOG_INFO, NULL, "serving");
	app_admit.wait_ms = gl_conf.queue_wait_ms;
	app_admit.burst_ms = gl_conf.queue_burst_ms;
	long served = 0;
	while (!gl_stop_requested()) {
		int got = FCGX_Accept_r(&fcgi);
		if (got < 0) {
			/* Judge by the return value: errno may be stale from an earlier call. */
			if (gl_stop_requested() || got == -EINTR)
				continue;
			gl_log(GL_LOG_ERROR, NULL, "accept failed (%d)", got);
			rc = 1;
			break;
		}
		struct gl_trace_span span;
		gl_req_begin(&req, &fcgi);
		gl_board_begin(req.request_id);
		gl_trace_server_start(&span, &req);
		enum gl_err err = app_serve(routes, &req);
		app_drain(&req);
		/* What the request wrote to Redis is on a replica before it is acknowledged
		 * (redis.h; a no-op without Sentinels). */
		if (gl_redis_sync() < 0 && err == GL_OK && req.status < 300)
			err = gl_fail(&req, GL_E_UPSTREAM_DOWN, NULL,
			              "Redis's replica did not confirm the write in time");
		gl_req_finish(&req, err);
		gl_trace_server_end(&span, &req);
		FCGX_Finish_r(&fcgi);
		gl_admit_free(&app_admit, gl_admit_now());
		gl_board_end();
		/* Recycling (GALLEY_MAX_REQUESTS): the reply is out; the pool starts a fresh
		 * process in this one's place. */
		if (gl_conf.max_requests > 0 && ++served >= gl_conf.max_requests) {
			gl_board_recycle();
			gl_log(GL_LOG_INFO, NULL,
			       "recycled after %ld requests (GALLEY_MAX_REQUESTS)", served);
			break;
		}
	}
	gl_log(GL_LOG_INFO, NULL, "stopping");
	gl_stop_request(); /* the loop may also end on a failed accept: the threads stop too */
	app_tick_stop(ticker);
	if (svc->events != NULL)
		pthread_join(consumer, NULL);
	if (svc->stop != NULL)
		svc->stop();
	gl_metrics_flush(); /* the last requests' counts */
	gl_trace_stop();    /* the last spans: every thread that makes them has ended */
	if (app_null_fd >= 0)
		close(app_null_fd);
	FCGX_Free(&fcgi, 1);
	free(routes);
	gl_http_close();
	gl_redis_close();
	gl_db_close();
	curl_global_cleanup();
	return rc;
}
