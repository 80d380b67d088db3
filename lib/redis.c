#include <errno.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/time.h>

#include "board.h"
#include "conf.h"
#include "log.h"
#include "metrics.h"
#include "near.h"
#include "redis.h"
#include "req.h"
#include "sentinel.h"

/* Per thread and per Redis: hiredis contexts may not be shared (see the tick thread in app.h). */
static _Thread_local redisContext *redis_ctx[GL_REDIS__MAX];
static _Thread_local long long redis_retry_at[GL_REDIS__MAX]; /* monotonic us before we reconnect */

static const char *
redis_url(enum gl_redis which)
{
	return which == GL_REDIS_STORE ? gl_conf.store_url : gl_conf.redis_url;
}

static const char *
redis_var(enum gl_redis which)
{
	return which == GL_REDIS_STORE ? "GALLEY_STORE_URL" : "GALLEY_REDIS_URL";
}

/* Its name at the Sentinels (sentinel.h). */
static const char *
redis_master(enum gl_redis which)
{
	return which == GL_REDIS_STORE ? gl_conf.store_master : gl_conf.redis_master;
}

struct redis_addr {
	char host[256];
	int port;
	int db;
	char path[256]; /* a Unix socket, when set */
};

/* redis://host[:port][/db] or unix:///path/to.sock */
static int
redis_parse_url(const char *url, struct redis_addr *a)
{
	const char *p, *slash, *colon;
	char *end;
	size_t n;

	memset(a, 0, sizeof(*a));
	a->port = 6379;
	if (strncmp(url, "unix://", 7) == 0) {
		if (strlen(url + 7) == 0 || strlen(url + 7) >= sizeof(a->path))
			return -1;
		strcpy(a->path, url + 7);
		return 0;
	}
	if (strncmp(url, "redis://", 8) != 0)
		return -1;
	p = url + 8;
	slash = strchr(p, '/');
	colon = strchr(p, ':');
	if (colon != NULL && slash != NULL && colon > slash)
		colon = NULL;
	n = colon != NULL ? (size_t)(colon - p) : slash != NULL ? (size_t)(slash - p) : strlen(p);
	if (n == 0 || n >= sizeof(a->host) || memchr(p, '@', n) != NULL)
		return -1;
	memcpy(a->host, p, n);
	if (colon != NULL) {
		a->port = (int)strtol(colon + 1, &end, 10);
		if (end == colon + 1 || (*end != '\0' && *end != '/') || a->port < 1 ||
		    a->port > 65535)
			return -1;
	}
	if (slash != NULL && slash[1] != '\0') {
		a->db = (int)strtol(slash + 1, &end, 10);
		if (*end != '\0' || a->db < 0 || a->db > 15)
			return -1;
	}
	return 0;
}

static struct timeval
redis_tv(long ms)
{
	struct timeval tv = { .tv_sec = ms / 1000, .tv_usec = (ms % 1000) * 1000 };

	return tv;
}

/* ROLE says "master": 0, else -1. */
static int
redis_is_primary(redisContext *c)
{
	redisReply *r = redisCommand(c, "ROLE");
	int rc = r != NULL && r->type == REDIS_REPLY_ARRAY && r->elements > 0 &&
	                         r->element[0]->type == REDIS_REPLY_STRING &&
	                         strcmp(r->element[0]->str, "master") == 0
	                 ? 0
	                 : -1;

	if (r != NULL)
		freeReplyObject(r);
	return rc;
}

/* How many replicas the primary on c has attached now (ROLE's third element); -1 unknown. */
static int
redis_replicas(redisContext *c)
{
	redisReply *r = redisCommand(c, "ROLE");
	int n = r != NULL && r->type == REDIS_REPLY_ARRAY && r->elements == 3 &&
	                        r->element[2]->type == REDIS_REPLY_ARRAY
	                ? (int)r->element[2]->elements
	                : -1;

	if (r != NULL)
		freeReplyObject(r);
	return n;
}

redisContext *
gl_redis_open(enum gl_redis which)
{
	struct redis_addr a;
	struct timeval tv;
	redisContext *c;

	if (redis_parse_url(redis_url(which), &a) < 0) {
		gl_log(GL_LOG_ERROR, NULL, "%s must be redis://host:port/db or unix:///path",
		       redis_var(which));
		return NULL;
	}
	if (gl_sentinel_on()) {
		a.path[0] = '\0';
		if (gl_sentinel_primary(redis_master(which), a.host, sizeof(a.host), &a.port) < 0)
			return NULL;
	}
	tv = redis_tv(gl_conf.redis_timeout_ms);
	c = a.path[0] ? redisConnectUnixWithTimeout(a.path, tv)
	              : redisConnectWithTimeout(a.host, a.port, tv);
	if (c == NULL || c->err) {
		gl_log(GL_LOG_WARN, NULL, "redis connect (%s): %s", redis_var(which),
		       c ? c->errstr : "out of memory");
		if (c != NULL)
			redisFree(c);
		return NULL;
	}
	redisSetTimeout(c, tv);
	if (a.db != 0) {
		redisReply *r = redisCommand(c, "SELECT %d", a.db);
		int bad = r == NULL || r->type == REDIS_REPLY_ERROR;
		if (r != NULL)
			freeReplyObject(r);
		if (bad) {
			redisFree(c);
			return NULL;
		}
	}
	if (gl_sentinel_on() && redis_is_primary(c) < 0) {
		/* A Sentinel's answer from just before a failover, or an old primary back and
		 * not yet turned into a replica: writes there would be refused or lost. */
		gl_log(GL_LOG_WARN, NULL, "redis (%s): %s:%d is not the primary (yet)",
		       redis_var(which), a.host, a.port);
		redisFree(c);
		return NULL;
	}
	return c;
}

static redisContext *
redis_connect(enum gl_redis which)
{
	long long now = gl_now_us();

	if (redis_ctx[which] != NULL)
		return redis_ctx[which];
	if (now < redis_retry_at[which])
		return NULL;
	redis_retry_at[which] =
	        now + 100000; /* a connect refused costs little; a Redis back is used at once */
	if ((redis_ctx[which] = gl_redis_open(which)) != NULL && which == GL_REDIS_CACHE)
		gl_near_connected(
		        redis_ctx[which]); /* tracking, when this thread keeps near copies */
	return redis_ctx[which];
}

void
gl_redis_drop(enum gl_redis which)
{
	if (redis_ctx[which] != NULL)
		redisFree(redis_ctx[which]);
	redis_ctx[which] = NULL;
	if (which == GL_REDIS_CACHE)
		gl_near_disconnected();
}

void
gl_redis_close(void)
{
	for (int i = 0; i < GL_REDIS__MAX; i++)
		gl_redis_drop((enum gl_redis)i);
}

/*
 * One command on c.  With Sentinels, a store command goes with a WAIT 1 <ms> in the same
 * write: its reply is not taken as done until a replica has it too, since an asynchronous
 * replica promoted in a failover would not have it.  A write no replica took in time is
 * "not done" for the caller (NULL, *unsure set; the context is fine), like a timeout: it
 * may still be there, which every store write's caller already allows for (a retry with
 * the same key or version).  With no replica attached there is nothing a failover could
 * promote, so the primary's AOF is what keeps it: acknowledged.
 */
static redisReply *
redis_command(redisContext *c, enum gl_redis which, int argc, const char **argv, const size_t *lens,
              bool *unsure)
{
	redisReply *r = NULL, *w = NULL;
	bool kept;

	*unsure = false;
	if (which != GL_REDIS_STORE || gl_conf.store_wait_ms == 0 || !gl_sentinel_on())
		return redisCommandArgv(c, argc, argv, lens);
	if (redisAppendCommandArgv(c, argc, argv, lens) != REDIS_OK ||
	    redisAppendCommand(c, "WAIT 1 %ld", gl_conf.store_wait_ms) != REDIS_OK ||
	    redisGetReply(c, (void **)&r) != REDIS_OK)
		return NULL;
	if (gl_conf.store_wait_ms >= gl_conf.redis_timeout_ms)
		redisSetTimeout(c, redis_tv(gl_conf.store_wait_ms + gl_conf.redis_timeout_ms));
	if (redisGetReply(c, (void **)&w) != REDIS_OK) {
		freeReplyObject(r);
		return NULL;
	}
	if (gl_conf.store_wait_ms >= gl_conf.redis_timeout_ms)
		redisSetTimeout(c, redis_tv(gl_conf.redis_timeout_ms));
	kept = w->type == REDIS_REPLY_INTEGER && w->integer >= 1;
	freeReplyObject(w);
	if (kept || r->type == REDIS_REPLY_ERROR || redis_replicas(c) == 0)
		return r;
	gl_log(GL_LOG_WARN, NULL,
	       "store: no replica took a write within %ld ms (GALLEY_STORE_WAIT_MS)",
	       gl_conf.store_wait_ms);
	freeReplyObject(r);
	*unsure = true;
	return NULL;
}

/* An error reply that means "not the primary (any more)": a failover happened. */
static bool
redis_demoted(const redisReply *r)
{
	return r->type == REDIS_REPLY_ERROR &&
	       (strncmp(r->str, "READONLY", 8) == 0 || strncmp(r->str, "MASTERDOWN", 10) == 0);
}

redisReply *
gl_redis_argv(enum gl_redis which, int argc, const char **argv, const size_t *lens)
{
	redisContext *c = redis_connect(which);
	redisReply *r;
	bool unsure;

	if (c == NULL)
		return NULL;
	errno = 0;
	gl_metrics_redis_op();
	/* The pool's status (board.h): the command's name only (never its keys or values). */
	gl_board_wait("redis", argv[0]);
	r = redis_command(c, which, argc, argv, lens, &unsure);
	if (r == NULL && !unsure &&
	    (c->err == REDIS_ERR_EOF ||
	     (c->err == REDIS_ERR_IO && (errno == ECONNRESET || errno == EPIPE)))) {
		/* Redis closed a connection it had (it restarted): one fresh try, at once, rather
		 * than a failure on every process's first command after a restart.  Not after a
		 * timeout, when the command may be running still. */
		gl_redis_drop(which);
		redis_retry_at[which] = 0;
		if ((c = redis_connect(which)) == NULL) {
			gl_board_wait(NULL, NULL);
			return NULL;
		}
		gl_metrics_redis_op();
		r = redis_command(c, which, argc, argv, lens, &unsure);
	}
	gl_board_wait(NULL, NULL);
	if (r == NULL && !unsure) {
		/* The context is dead for good: drop it, reconnect later. */
		gl_log(GL_LOG_WARN, NULL, "redis (%s): %s", redis_var(which), c->errstr);
		gl_redis_drop(which);
		redis_retry_at[which] = 0;
	} else if (r != NULL && r->type == REDIS_REPLY_ERROR &&
	           strncmp(r->str, "LOADING", 7) == 0) {
		/* A Redis that restarted answers every command so while it reads its AOF: not
		 * there yet, as if it did not answer (a 503 or a later try), never a "no" to the
		 * command (a store restarting under load made stock answer 500). */
		freeReplyObject(r);
		r = NULL;
	} else if (r != NULL && redis_demoted(r)) {
		/* A primary that became a replica refuses writes: as if it were away, and the
		 * next connect asks the Sentinels where the primary is now. */
		gl_log(GL_LOG_WARN, NULL, "redis (%s): %s", redis_var(which), r->str);
		freeReplyObject(r);
		r = NULL;
		gl_redis_drop(which);
		redis_retry_at[which] = 0;
	}
	return r;
}

redisReply *
gl_redis_strv(enum gl_redis which, int argc, const char **argv)
{
	size_t small[16], *lens = small;
	redisReply *r;

	/* More than 16 (events.c acknowledges up to 50 entries in one XACK) on the heap. */
	if (argc < 1 || argc > GL_REDIS_ARGS_MAX)
		return NULL;
	if (argc > 16 && (lens = calloc((size_t)argc, sizeof(*lens))) == NULL)
		return NULL;
	for (int i = 0; i < argc; i++)
		lens[i] = strlen(argv[i]);
	r = gl_redis_argv(which, argc, argv, lens);
	if (lens != small)
		free(lens);
	return r;
}

int
gl_redis_type(enum gl_redis which, int argc, const char **argv)
{
	redisReply *r = gl_redis_strv(which, argc, argv);
	int type = r != NULL ? r->type : -1;

	if (r != NULL)
		freeReplyObject(r);
	return type;
}

int
gl_redis_ping(enum gl_redis which)
{
	const char *argv[] = { "PING" };

	return gl_redis_type(which, 1, argv) == REDIS_REPLY_STATUS ? 0 : -1;
}

redisReply *
gl_redis_block(enum gl_redis which, long block_ms, int argc, const char **argv, const size_t *lens)
{
	redisContext *c = redis_connect(which);
	redisReply *r;

	if (c == NULL)
		return NULL;
	redisSetTimeout(c, redis_tv(block_ms + gl_conf.redis_timeout_ms));
	r = gl_redis_argv(which, argc, argv, lens);
	if (redis_ctx[which] != NULL) /* still open (a failure drops it): back to the usual wait */
		redisSetTimeout(redis_ctx[which], redis_tv(gl_conf.redis_timeout_ms));
	return r;
}

redisReply *
gl_redis_eval(enum gl_redis which, const char *script, int nkeys, const char *const *keys,
              int nargs, const char *const *args)
{
	const char **argv;
	size_t *lens;
	char n[16];
	int argc = 3 + nkeys + nargs;
	redisReply *r;

	if (nkeys < 0 || nargs < 0 || argc > 1024)
		return NULL;
	argv = calloc((size_t)argc, sizeof(*argv));
	lens = calloc((size_t)argc, sizeof(*lens));
	if (argv == NULL || lens == NULL) {
		free(argv);
		free(lens);
		return NULL;
	}
	snprintf(n, sizeof(n), "%d", nkeys);
	argv[0] = "EVAL";
	argv[1] = script;
	argv[2] = n;
	for (int i = 0; i < nkeys; i++)
		argv[3 + i] = keys[i];
	for (int i = 0; i < nargs; i++)
		argv[3 + nkeys + i] = args[i];
	for (int i = 0; i < argc; i++)
		lens[i] = strlen(argv[i]);
	r = gl_redis_argv(which, argc, argv, lens);
	free(argv);
	free(lens);
	return r;
}
