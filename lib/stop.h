/*
 * stop: whether this process has been asked to stop.
 *
 * lib/app sets it from its signal handler (SIGTERM, SIGINT, SIGUSR1).  Work
 * that walks a backlog (a tick's due list, a consumer's batch, the outbox
 * relay) checks it between items and leaves the rest to the next process,
 * as after a crash: all of it is idempotent.  So a stop is honoured within
 * one item's time, however much is queued (bin/galley sends SIGKILL after
 * GALLEY_STOP_TIMEOUT).
 */
#ifndef GL_STOP_H
#define GL_STOP_H

#include <stdbool.h>

/* Async-signal-safe: called from the signal handler. */
void gl_stop_request(void);
/* Any thread may ask. */
bool gl_stop_requested(void);

#endif
