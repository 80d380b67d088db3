#include <curl/curl.h>
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdbool.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/resource.h>
#include <time.h>
#include <unistd.h>

#include "admit.h"
#include "app.h"
#include "board.h"
#include "conf.h"
#include "db.h"
#include "dispatch.h"
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
#include "tick.h"
#include "trace.h"

static int app_null_fd = -1;

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
app_serve(const struct gl_route *routes, struct gl_req *req, long idle_ms)
{
	bool timely = gl_admit_take(&app_admit, gl_req_param(req, "GALLEY_QUEUED_AT"),
	                            gl_req_param(req, "GALLEY_EDGE_TIME"), idle_ms, gl_admit_now());

	if (timely || req->method == GL_GET)
		return gl_dispatch(routes, req);
	if (gl_route_match(routes, req->method, req->path, &req->match) != GL_OK)
		req->match.route = NULL; /* it is only the metrics' label */
	req->shed = true;
	return gl_fail(req, GL_E_UPSTREAM_DOWN, NULL,
	               "the service is busy (this request waited %lld ms for it): try again "
	               "in a second",
	               (long long)app_admit.waited_ms);
}

void
gl_app_thread_end(void)
{
	gl_http_close();
	gl_redis_close();
	gl_kept_thread_end();
}

/* The stop signals: SIGTERM (galley-pool's stop), SIGINT, and SIGUSR1. */
static void
app_stop_signals(sigset_t *set)
{
	sigemptyset(set);
	sigaddset(set, SIGTERM);
	sigaddset(set, SIGINT);
	sigaddset(set, SIGUSR1);
}

int
gl_app_thread_start(pthread_t *thread, void *(*run)(void *), void *arg)
{
	sigset_t stops, old;
	int rc;

	app_stop_signals(&stops);
	pthread_sigmask(SIG_BLOCK, &stops, &old);
	rc = pthread_create(thread, NULL, run, arg);
	pthread_sigmask(SIG_SETMASK, &old, NULL);
	return rc == 0 ? 0 : -1;
}

static void
app_catch_stops(void)
{
	struct sigaction sa;

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
}

/* Everything before the first request: MongoDB, Redis, libcurl, the routes, the service's
 * own start-up and the threads. *routes is new (free() it). 0, or the exit status. */
static int
app_start(const struct gl_service *svc, struct gl_route **routes, FCGX_Request *fcgi)
{
	sigset_t stops;

	if (gl_conf_load(svc->name) < 0)
		return 2;
	gl_log_init();
	srandom((unsigned)(time(NULL) ^ getpid()));
	app_catch_stops();
	/*
	 * mongoc starts monitor threads; a stop signal delivered to one of them
	 * would never interrupt our accept().  Threads inherit the mask they are
	 * created with, so block the stop signals while gl_db_open() starts them
	 * and unblock them in this thread only.
	 */
	app_stop_signals(&stops);
	pthread_sigmask(SIG_BLOCK, &stops, NULL);
	int opened = gl_db_open();
	pthread_sigmask(SIG_UNBLOCK, &stops, NULL);

	if (sodium_init() < 0 || curl_global_init(CURL_GLOBAL_DEFAULT) != CURLE_OK || opened < 0 ||
	    (*routes = gl_dispatch_routes(svc)) == NULL || FCGX_Init() != 0) {
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
	/* The tick and consumer threads (tick.h), started with the stop signals blocked, as
	 * mongoc's threads are. */
	pthread_sigmask(SIG_BLOCK, &stops, NULL);
	int started = gl_tick_start(svc);
	pthread_sigmask(SIG_UNBLOCK, &stops, NULL);
	if (started != 0) {
		gl_log(GL_LOG_ERROR, NULL, "the tick or consumer thread could not start");
		return 1;
	}
	if (FCGX_InitRequest(fcgi, 0, FCGI_FAIL_ACCEPT_ON_INTR) != 0) {
		gl_log(GL_LOG_ERROR, NULL, "FCGX_InitRequest failed");
		return 1;
	}
	/* The pool's scoreboard (board.h), when galley-pool started this process. */
	if (gl_board_attach() < 0)
		gl_log(GL_LOG_WARN, NULL,
		       "GALLEY_BOARD_FD/GALLEY_BOARD_SLOT unusable: no scoreboard");
	app_admit.wait_ms = gl_conf.queue_wait_ms;
	app_admit.burst_ms = gl_conf.queue_burst_ms;
	return 0;
}

/* One request, from accept to the reply being out; idle_ms: see admit.h. */
static void
app_answer(const struct gl_route *routes, FCGX_Request *fcgi, long idle_ms)
{
	struct gl_trace_span span;
	struct gl_req req;

	gl_req_begin(&req, fcgi);
	gl_board_begin(req.request_id);
	gl_trace_server_start(&span, &req);
	enum gl_err err = app_serve(routes, &req, idle_ms);
	gl_dispatch_drain(&req);
	/* What the request wrote to Redis is on a replica before it is acknowledged
	 * (redis.h; a no-op without Sentinels). */
	if (gl_redis_sync() < 0 && err == GL_OK && req.status < 300)
		err = gl_fail(&req, GL_E_UPSTREAM_DOWN, NULL,
		              "Redis's replica did not confirm the write in time");
	gl_req_finish(&req, err);
	gl_trace_server_end(&span, &req);
	/* All nginx sent is read (gl_dispatch_drain): close at once. libfcgi's own close
	 * shuts down our side, then waits until nginx closes its own (so that input left
	 * unread cannot reset the connection under the reply), which kept the worker from
	 * its next request for a sleep and a wake-up each time. */
	if (FCGX_HasSeenEOF(fcgi->in) == EOF)
		FCGX_Detach(fcgi);
	FCGX_Finish_r(fcgi);
	gl_board_end();
}

/*
 * Whether no request waits on the pool's socket (fd 0) now: then the next one this worker
 * takes comes while it waits for it (admit.h). One poll(2) with no wait.
 */
static bool
app_queue_empty(void)
{
	struct pollfd p = { .fd = 0, .events = POLLIN };

	return poll(&p, 1, 0) == 0;
}

/*
 * How many times this thread has slept so far (voluntary context switches). One more across
 * an accept means it waited there for a request; time alone cannot say so, as a worker
 * preempted or held by its CPU quota in accept also takes long (docs/performance.md,
 * "Admission by sleep, not by time").
 */
static long
app_sleeps(void)
{
	struct rusage ru;

	return getrusage(RUSAGE_THREAD, &ru) == 0 ? ru.ru_nvcsw : 0;
}

/* Answer requests until a stop, a failed accept or recycling; the exit status. */
static int
app_serve_loop(const struct gl_route *routes, FCGX_Request *fcgi)
{
	long served = 0;

	while (!gl_stop_requested()) {
		bool empty = app_queue_empty();
		long sleeps = empty ? 0 : app_sleeps();
		long long asked = gl_now_us();
		int got = FCGX_Accept_r(fcgi);
		if (got < 0) {
			/* Judge by the return value: errno may be stale from an earlier call. */
			if (gl_stop_requested() || got == -EINTR)
				continue;
			gl_log(GL_LOG_ERROR, NULL, "accept failed (%d)", got);
			return 1;
		}
		/* It came to a free worker when none was queued a moment ago, or when accept
		 * slept waiting for it (another worker took the one seen queued). Not when
		 * accept merely took long: a worker preempted there, or its pool out of CPU
		 * quota, took up a queued request that did wait, and letting those in as a
		 * free worker's grew the tail of what was accepted under overload. */
		long long idle_us = gl_now_us() - asked;
		bool came_free = empty || app_sleeps() > sleeps;
		app_answer(routes, fcgi, came_free ? (long)(idle_us / 1000) : -1);
		/* Recycling (GALLEY_MAX_REQUESTS): the reply is out; the pool starts a fresh
		 * process in this one's place. */
		if (gl_conf.max_requests > 0 && ++served >= gl_conf.max_requests) {
			gl_board_recycle();
			gl_log(GL_LOG_INFO, NULL,
			       "recycled after %ld requests (GALLEY_MAX_REQUESTS)", served);
			break;
		}
	}
	return 0;
}

int
gl_app_main(const struct gl_service *svc)
{
	FCGX_Request fcgi;
	struct gl_route *routes = NULL;
	int rc;

	if ((rc = app_start(svc, &routes, &fcgi)) != 0)
		return rc;
	gl_log(GL_LOG_INFO, NULL, "serving");
	rc = app_serve_loop(routes, &fcgi);
	gl_log(GL_LOG_INFO, NULL, "stopping");
	gl_stop_request(); /* the loop may also end on a failed accept: the threads stop too */
	gl_tick_stop();
	if (svc->stop != NULL)
		svc->stop();
	gl_metrics_flush(); /* the last requests' counts */
	gl_trace_stop();    /* the last spans: every thread that makes them has ended */
	if (app_null_fd >= 0)
		close(app_null_fd);
	FCGX_Free(&fcgi, 1);
	free(routes);
	gl_app_thread_end();
	gl_db_close();
	curl_global_cleanup();
	return rc;
}
