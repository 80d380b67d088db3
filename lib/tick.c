#include <pthread.h>
#include <stdbool.h>
#include <stdio.h>
#include <time.h>

#include "app.h"
#include "consumer.h"
#include "kept.h"
#include "metrics.h"
#include "redis.h"
#include "stop.h"
#include "tick.h"
#include "trace.h"

/* The tick thread sleeps on a condition so a stop wakes it at once. */
static pthread_mutex_t tick_lock = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t tick_wake = PTHREAD_COND_INITIALIZER;
static bool tick_stop;
static void (*tick_fn)(void);
static char tick_key[96];
static pthread_t tick_thread, tick_consumer;
static bool tick_consuming;

/*
 * One process of the service runs each second's tick: the one whose SET NX
 * wins.  Ticks are safe to race (app.h), so when Redis cannot be asked,
 * every process runs it; the claim only spares the database the same
 * expiry scan from every worker of every pool.
 */
static bool
tick_claim(void)
{
	const char *argv[] = { "SET", tick_key, "1", "NX", "PX", "900" };
	redisReply *r = gl_redis_strv(GL_REDIS_CACHE, 6, argv);
	bool mine = r == NULL || r->type != REDIS_REPLY_NIL;

	if (r != NULL)
		freeReplyObject(r);
	return mine;
}

static void *
tick_loop(void *arg)
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
		gl_kept_list_build();
		if (tick_fn != NULL && !gl_stop_requested() && tick_claim()) {
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

/* The consumer thread: it blocks on the service's streams until a stop. */
static void *
tick_consume_loop(void *arg)
{
	gl_consumer_run(arg);
	gl_app_thread_end();
	return NULL;
}

/* Wake the tick thread and join it. */
static void
tick_thread_stop(void)
{
	pthread_mutex_lock(&tick_lock);
	tick_stop = true;
	pthread_cond_signal(&tick_wake);
	pthread_mutex_unlock(&tick_lock);
	pthread_join(tick_thread, NULL);
}

int
gl_tick_start(const struct gl_service *svc)
{
	tick_fn = svc->tick;
	snprintf(tick_key, sizeof(tick_key), "galley:%s:tick", svc->name);
	if (pthread_create(&tick_thread, NULL, tick_loop, NULL) != 0)
		return -1;
	if (svc->events != NULL) {
		if (pthread_create(&tick_consumer, NULL, tick_consume_loop, (void *)svc->events) !=
		    0) {
			tick_thread_stop();
			return -1;
		}
		tick_consuming = true;
	}
	return 0;
}

void
gl_tick_stop(void)
{
	tick_thread_stop();
	if (tick_consuming)
		pthread_join(tick_consumer, NULL);
	tick_consuming = false;
}
