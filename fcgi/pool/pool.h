/*
 * galley-pool: one FastCGI pool of a service, galley's own small pool manager.
 *
 * It binds the pool's socket (unix:/path or HOST:PORT), forks N workers of the service with
 * that socket on fd 0 (libfcgi accepts there, as under spawn-fcgi), and keeps N alive.  A
 * scoreboard in shared memory (lib/board.h) tells it what each worker is doing; every
 * 100 ms it logs requests slower than GALLEY_SLOW_MS once, kills a worker still on one
 * request after GALLEY_REQUEST_TIMEOUT_S, and counts what php-fpm's status page counts.  It
 * answers GET / on its status socket with that as JSON (status.c).  pool.c: the command
 * line, the workers and the loop; status.c: the status server and its JSON; queue.c: the
 * listen queue's length.
 */
#ifndef GL_POOL_H
#define GL_POOL_H

#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>

#include "board.h"

#define POOL_ADDR_MAX 108 /* sun_path's size: the longest address accepted */

struct pool_worker {
	pid_t pid;          /* 0: none on the slot now */
	int64_t born_ms;    /* wall clock, ms: when it was forked */
	int64_t born_mono;  /* CLOCK_MONOTONIC ms, for the crash-loop backoff */
	int64_t start_at;   /* CLOCK_MONOTONIC ms before which no new worker is forked here */
	int64_t backoff_ms; /* the wait before the next start after a quick death */
	uint64_t slow_seen; /* the request number (slot's requests) already logged as slow */
	bool killed;        /* the manager killed it (request timeout) */
};

struct pool {
	/* From the command line and the environment. */
	char service[64];
	int number; /* the pool's number, from --name SVC-N; 0 when none */
	char listen[POOL_ADDR_MAX + 8];
	char status_addr[POOL_ADDR_MAX + 8];
	const char *binary;
	char *const *argv; /* the worker's argv: binary first */
	int workers;
	int backlog;
	long slow_ms, timeout_s, max_requests, stop_timeout_s;

	/* Sockets and the board. */
	int listen_fd, status_fd, board_fd;
	bool listen_unix, status_unix;
	char listen_path[POOL_ADDR_MAX], status_path[POOL_ADDR_MAX];
	struct gl_board_slot *board;
	struct pool_worker w[GL_BOARD_MAX];

	/* What the status reports. */
	pid_t pid;
	int64_t started_ms; /* wall clock */
	uint64_t retired;   /* requests begun by workers that have since exited */
	uint64_t max_active, max_children_reached, slow_requests, timed_out, recycled, respawned;
	bool all_busy; /* at the last sample: counts max_children_reached once per stretch */
	long listen_queue, max_listen_queue, listen_queue_len; /* -1: not known */
};

/* Wall-clock and monotonic milliseconds. */
int64_t pool_wall_ms(void);
int64_t pool_mono_ms(void);

/* One log line as lib/log.c writes them (JSON on stderr); fields may be NULL. */
struct json_t;
void pool_log(const struct pool *p, const char *level, const char *request_id, const char *msg,
              struct json_t *fields);

/* status.c: the status socket and its clients, polled with the rest: fill fds (at most
 * POOL_STATUS_FDS) and return how many; then handle what poll found in them.  A client has
 * 2 s to send its request and read the answer, one request per connection. */
#define POOL_STATUS_FDS 17
struct pollfd;
int pool_status_fds(const struct pool *p, struct pollfd *fds);
void pool_status_ready(struct pool *p, const struct pollfd *fds, int n);
void pool_status_close(void);
/* The status as JSON text (malloc'd), or NULL. */
char *pool_status_json(struct pool *p);

/* queue.c: connections waiting in the listen socket's queue now (and its backlog), -1 each
 * when the kernel does not say. */
void pool_queue(const struct pool *p, long *now, long *backlog);

#endif
