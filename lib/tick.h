/*
 * tick: a process's two background threads (app.h).
 *
 * The tick thread wakes about once a second: it adds the process's metrics to Redis
 * (metrics.h), writes the kept collections' batches to MongoDB (kept.h) and, in one process
 * of the service at a time (a Redis SET NX; every process when Redis is away), runs the
 * service's own tick. The consumer thread, for a service that follows events, blocks on its
 * streams and handles each event as it is added (consumer.h). A stop (stop.h) ends both
 * between items.
 */
#ifndef GL_TICK_H
#define GL_TICK_H

struct gl_service;

/* Start the tick thread, and the consumer thread when svc follows events; 0, or -1 with
 * none left running. Call it with the stop signals blocked: threads inherit the mask. */
int gl_tick_start(const struct gl_service *svc);

/* Wake the tick thread and wait for both to end; after gl_stop_request(). */
void gl_tick_stop(void);

#endif
