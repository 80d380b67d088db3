/*
 * app: the process skeleton every service shares.
 *
 * gl_app_main() loads the configuration, opens MongoDB, Redis and libcurl
 * in this process (after any fork), then answers FastCGI requests on fd 0
 * (the socket galley-pool bound) one at a time: a write that waited too
 * long for the worker is refused (admit.h), everything else dispatched
 * (dispatch.h: route, method, query, body, and only then the handler).
 * Every process has a tick thread, which adds its metrics to Redis about
 * once a second, and a service that follows events a consumer thread
 * (tick.h).  SIGTERM stops the process after the request in flight and the
 * item the tick or the consumer is on: they check stop.h between items and
 * leave the rest to the next process.
 */
#ifndef GL_APP_H
#define GL_APP_H

#include <pthread.h>

#include "route.h"

struct gl_kept_coll; /* kept.h */

struct gl_event_source;

struct gl_service {
	const char *name;              /* "menu": database galley_menu, paths /api/menu */
	const struct gl_route *routes; /* terminated by a zero row */
	/* Run once per process after MongoDB and Redis are set up (may be NULL);
	 * non-zero stops the process. */
	int (*init)(void);
	/* Run about once a second in a background thread of each process (may
	 * be NULL): the work no request asks for, such as expiring what is due.
	 * It may use db, cache, http and log (their connections are per thread).
	 * Each second one process of the service runs it (a Redis SET NX), but
	 * every process may when Redis is away: it must be safe to race.  A
	 * tick that walks a list stops between items once gl_stop_requested()
	 * (stop.h); gl_due_each() does. */
	void (*tick)(void);
	/* The streams the service follows (consumer.h; may be NULL): every
	 * process has a consumer thread that blocks on them and handles each
	 * event as it is added, one consumer per process. */
	const struct gl_event_source *events;
	/* Run once when the process stops, after the last request and tick and
	 * before MongoDB, Redis and libcurl are closed (may be NULL): stop and
	 * join the threads the service started in init. */
	void (*stop)(void);
	/* The collections the service keeps in the store and writes to MongoDB in
	 * batches (kept.h), ended by { NULL } (may be NULL): those it writes on
	 * every order, each with the field it is listed by. */
	const struct gl_kept_coll *kept;
};

/* Start a thread of the service's own (run(arg)) with the stop signals blocked, as lib/app
 * starts its own: a stop signal taken by such a thread would not interrupt the request
 * loop.  0, or -1 when it could not start. */
int gl_app_thread_start(pthread_t *thread, void *(*run)(void *), void *arg)
        __attribute__((warn_unused_result));

/* A thread the service started itself, which used db, cache, http or redis,
 * ends: close its own connections and free its copies of kept documents (they are
 * per thread).  Call it last. */
void gl_app_thread_end(void);

/* Run the service; returns the process exit status. */
int gl_app_main(const struct gl_service *svc);

#endif
