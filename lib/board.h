/*
 * board: the pool's scoreboard, shared memory between galley-pool and its workers.
 *
 * galley-pool (fcgi/pool/) creates it (a memfd, one slot per worker) and tells each worker its fd
 * and slot in GALLEY_BOARD_FD and GALLEY_BOARD_SLOT.  lib/app.c maps it at start (nothing
 * happens when those are unset: a service run by hand works as before) and writes, per
 * request, its state, the requests served, when the request began, its method, the matched
 * route's pattern (never the raw URI: no query strings or tokens reach the status or the
 * logs), the request id, and what it waits on now (gl_board_wait around blocking calls in
 * lib/db.c, lib/redis.c, lib/http.c).  The manager reads the slots every 100 ms for its
 * status page, slow log, request timeout and counters.
 *
 * Writes are plain stores inside a seqlock (an odd sequence while a write is under way), no
 * syscalls and no locks, so they cost nothing per request; a reader copies a slot and keeps
 * the copy only when the sequence was even and unchanged around it, so it never sees a torn
 * string.  Only the worker on a slot writes it, and only its request thread (the tick and
 * consumer threads' waits are not the request's): the manager writes a slot only while no
 * worker is on it (before the fork, after the reap).
 */
#ifndef GL_BOARD_H
#define GL_BOARD_H

#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

enum gl_board_state {
	GL_BOARD_EMPTY,    /* no worker on the slot */
	GL_BOARD_STARTING, /* forked, not yet serving */
	GL_BOARD_IDLE,     /* waiting for a request */
	GL_BOARD_BUSY,     /* on a request */
};

#define GL_BOARD_METHOD 8
#define GL_BOARD_ROUTE  96
#define GL_BOARD_ID     64
#define GL_BOARD_WAIT   32
#define GL_BOARD_MAX    256 /* slots: galley-pool's bound on --workers */

struct gl_board_slot {
	_Atomic uint32_t seq; /* odd while a write is under way */
	uint32_t state;       /* enum gl_board_state */
	int32_t pid;
	uint32_t recycling; /* 1: the worker ends on purpose (GALLEY_MAX_REQUESTS) */
	uint64_t requests;  /* requests begun by this worker */
	int64_t started_ns; /* the request's start, CLOCK_MONOTONIC */
	char method[GL_BOARD_METHOD];
	char route[GL_BOARD_ROUTE]; /* the matched route's pattern; "" before the match */
	char request_id[GL_BOARD_ID];
	char waiting_on[GL_BOARD_WAIT]; /* "" when not in a blocking call */
};

/* The size of a board of n slots. */
size_t gl_board_size(int n);

/* Copy slot i of a mapped board into *out; false when a writer kept it busy (try later). */
bool gl_board_read(const struct gl_board_slot *board, int i, struct gl_board_slot *out);

/* Begin and end a write of a slot (the manager's writes; the worker's go through the calls
 * below). */
void gl_board_write_begin(struct gl_board_slot *s);
void gl_board_write_end(struct gl_board_slot *s);

/* Copy src into a field of size cap, cut and NUL-terminated (never a torn UTF-8 character
 * at the cut: the manager puts the field into JSON). */
void gl_board_copy(char *dst, size_t cap, const char *src);

/* The worker's side: map the board named by GALLEY_BOARD_FD and GALLEY_BOARD_SLOT, from the
 * request thread; 0 when unset (no pool manager) or mapped, -1 when set but unusable. */
int gl_board_attach(void);
/* The request thread's calls; each is a no-op when no board is mapped. */
void gl_board_idle(void);
void gl_board_begin(const char *request_id);
void gl_board_route(const char *method, const char *pattern);
void gl_board_end(void);
/* Mark the worker as ending on purpose (recycled), before it leaves its loop. */
void gl_board_recycle(void);
/* Where the request waits now: what, then an optional detail ("redis", "GET"), copied;
 * gl_board_wait(NULL, NULL) when the call returned.  Other threads' calls are ignored. */
void gl_board_wait(const char *what, const char *detail);

#endif
