/*
 * The cooks of one process: gl_conf.kitchen_staff threads started by the
 * service's init hook.  Each loops: take a ticket and prepare it, or, with
 * nothing to take, wait KITCHEN_IDLE_MS (less when this process has just
 * added a ticket).  They use db, cache, redis through lib/, whose
 * connections are per thread (MongoDB's is a pool shared by threads).
 *
 * Stopping.  lib/app stops the process on SIGTERM/SIGUSR1 and then calls
 * the service's stop hook (kitchen_staff_stop) before it closes MongoDB's
 * pool, so the cooks are out of lib/ by then.
 * The cooks are started with the stop signals blocked (gl_app_thread_start).
 */
#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <time.h>
#include <unistd.h>

#include "conf.h"
#include "app.h"
#include "kitchen.h"
#include "log.h"

#define STAFF_MAX 32 /* gl_conf.kitchen_staff is 1..32 (lib/conf.c) */

struct staff_cook {
	pthread_t thread;
	int n;
	char name[KITCHEN_COOK_MAX];
};

static pthread_mutex_t staff_lock = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t staff_idle_cond; /* idle cooks: wakes, opening, stop */
static pthread_cond_t staff_nap_cond;  /* cooking cooks: stop only */
static bool staff_stop;
static unsigned staff_wakes;

static pthread_mutex_t staff_join_lock = PTHREAD_MUTEX_INITIALIZER;
static struct staff_cook staff_cooks[STAFF_MAX];
static int staff_started;

/* The deadline ms from now on the monotonic clock (the condition variables use it). */
static void
staff_deadline(struct timespec *at, int ms)
{
	clock_gettime(CLOCK_MONOTONIC, at);
	at->tv_sec += ms / 1000;
	at->tv_nsec += (long)(ms % 1000) * 1000000L;
	if (at->tv_nsec >= 1000000000L) {
		at->tv_sec++;
		at->tv_nsec -= 1000000000L;
	}
}

bool
kitchen_stopping(void)
{
	bool stop;

	pthread_mutex_lock(&staff_lock);
	stop = staff_stop;
	pthread_mutex_unlock(&staff_lock);
	return stop;
}

bool
kitchen_nap(int ms)
{
	struct timespec at;
	bool stop;

	staff_deadline(&at, ms);
	pthread_mutex_lock(&staff_lock);
	while (!staff_stop &&
	       pthread_cond_timedwait(&staff_nap_cond, &staff_lock, &at) != ETIMEDOUT)
		;
	stop = staff_stop;
	pthread_mutex_unlock(&staff_lock);
	return stop;
}

/* Wait up to ms for a wake-up, or the stop. */
static void
staff_idle(int ms)
{
	struct timespec at;
	unsigned seen;

	staff_deadline(&at, ms);
	pthread_mutex_lock(&staff_lock);
	seen = staff_wakes;
	while (!staff_stop && staff_wakes == seen)
		if (pthread_cond_timedwait(&staff_idle_cond, &staff_lock, &at) == ETIMEDOUT)
			break;
	pthread_mutex_unlock(&staff_lock);
}

void
kitchen_staff_wake(void)
{
	pthread_mutex_lock(&staff_lock);
	staff_wakes++;
	pthread_cond_signal(&staff_idle_cond);
	pthread_mutex_unlock(&staff_lock);
}

static void *
staff_cook_loop(void *arg)
{
	struct staff_cook *c = arg;
	unsigned seed = (unsigned)getpid() * 31u + (unsigned)c->n;

	while (!kitchen_stopping()) {
		if (cook_work(c->name))
			continue; /* there may be more: look again at once */
		/* ±25 %, so the cooks of many processes do not read the queue in step. */
		staff_idle(KITCHEN_IDLE_MS * 3 / 4 + rand_r(&seed) % (KITCHEN_IDLE_MS / 2 + 1));
	}
	gl_app_thread_end();
	return NULL;
}

void
kitchen_staff_stop(void)
{
	pthread_mutex_lock(&staff_lock);
	staff_stop = true;
	pthread_cond_broadcast(&staff_idle_cond);
	pthread_cond_broadcast(&staff_nap_cond);
	pthread_mutex_unlock(&staff_lock);
	pthread_mutex_lock(&staff_join_lock);
	for (int i = 0; i < staff_started; i++)
		pthread_join(staff_cooks[i].thread, NULL);
	if (staff_started > 0)
		gl_log(GL_LOG_INFO, NULL, "kitchen: %d cooks stopped", staff_started);
	staff_started = 0;
	pthread_mutex_unlock(&staff_join_lock);
}

int
kitchen_staff_start(void)
{
	pthread_condattr_t attr;
	char host[64] = "";
	int rc = 0;

	if (pthread_condattr_init(&attr) != 0 ||
	    pthread_condattr_setclock(&attr, CLOCK_MONOTONIC) != 0 ||
	    pthread_cond_init(&staff_idle_cond, &attr) != 0 ||
	    pthread_cond_init(&staff_nap_cond, &attr) != 0) {
		gl_log(GL_LOG_ERROR, NULL, "kitchen: cannot set up the cooks");
		return -1;
	}
	pthread_condattr_destroy(&attr);
	gethostname(host, sizeof(host) - 1);
	pthread_mutex_lock(&staff_join_lock);
	for (int i = 0; i < gl_conf.kitchen_staff && i < STAFF_MAX; i++) {
		struct staff_cook *c = &staff_cooks[i];

		c->n = i + 1;
		snprintf(c->name, sizeof(c->name), "%s:%d:%d", host, (int)getpid(), c->n);
		if (gl_app_thread_start(&c->thread, staff_cook_loop, c) != 0) {
			rc = -1;
			break;
		}
		staff_started++;
	}
	pthread_mutex_unlock(&staff_join_lock);
	if (rc < 0) {
		gl_log(GL_LOG_ERROR, NULL, "kitchen: cannot start a cook thread");
		kitchen_staff_stop();
		return -1;
	}
	gl_log(GL_LOG_INFO, NULL, "kitchen: %d cooks, %ld s per item", staff_started,
	       gl_conf.kitchen_seconds_per_item);
	return 0;
}
