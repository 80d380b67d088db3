#include <errno.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/time.h>

#include "board.h"
#include "conf.h"
#include "log.h"
#include "metrics.h"
#include "near.h"
#include "now.h"
#include "redis.h"
#include "sentinel.h"

/* Per thread and per Redis: hiredis contexts may not be shared (see the tick thread in app.h). */
static _Thread_local redisContext *redis_ctx[GL_REDIS__MAX];
static _Thread_local long long redis_retry_at[GL_REDIS__MAX]; /* monotonic us before we reconnect */
/* With Sentinels, the request thread's writes not yet known to be on a replica (gl_redis_sync). */
static _Thread_local bool redis_unsynced[GL_REDIS__MAX]; /* a write since the last sync */
static _Thread_local bool redis_lost[GL_REDIS__MAX];     /* and its connection closed since */
/* The wait beyond the usual that the connection's timeout has now (gl_redis_block's). */
static _Thread_local long redis_extra_ms[GL_REDIS__MAX];

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

/* ROLE: 0 when c is a primary, with *replicas its attached replicas (the reply's third
 * element); -1 when it is not one or did not say. */
static int
redis_role(redisContext *c, int *replicas)
{
	redisReply *r = redisCommand(c, "ROLE");
	int rc = r != NULL && r->type == REDIS_REPLY_ARRAY && r->elements == 3 &&
	                         r->element[0]->type == REDIS_REPLY_STRING &&
	                         strcmp(r->element[0]->str, "master") == 0 &&
	                         r->element[2]->type == REDIS_REPLY_ARRAY
	                 ? 0
	                 : -1;

	if (rc == 0)
		*replicas = (int)r->element[2]->elements;
	if (r != NULL)
		freeReplyObject(r);
	return rc;
}

redisContext *
gl_redis_open(enum gl_redis which)
{
	struct redis_addr a;
	struct timeval tv;
	redisContext *c;
	int replicas;

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
	if (gl_sentinel_on() && redis_role(c, &replicas) < 0) {
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
	redis_extra_ms[which] = 0; /* gl_redis_open sets the usual timeout */
	if ((redis_ctx[which] = gl_redis_open(which)) != NULL && which == GL_REDIS_CACHE)
		gl_near_connected(
		        redis_ctx[which]); /* tracking, when this thread keeps near copies */
	return redis_ctx[which];
}

/*
 * This thread's connection to which, its timeout the usual one plus extra_ms.  Set only
 * when it changes: two setsockopt calls each time, and a consumer that blocks on its
 * streams and wakes for each entry would pay four a wake.
 */
static redisContext *
redis_connect_wait(enum gl_redis which, long extra_ms)
{
	redisContext *c = redis_connect(which);

	if (c != NULL && redis_extra_ms[which] != extra_ms) {
		redisSetTimeout(c, redis_tv(gl_conf.redis_timeout_ms + extra_ms));
		redis_extra_ms[which] = extra_ms;
	}
	return c;
}

void
gl_redis_drop(enum gl_redis which)
{
	if (redis_unsynced[which])
		redis_lost[which] = true;
	if (redis_ctx[which] != NULL)
		redisFree(redis_ctx[which]);
	redis_ctx[which] = NULL;
	redis_extra_ms[which] = 0;
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
 * With Sentinels, what a request wrote to the store must be on a replica before the request
 * is acknowledged (gl_redis_sync), since an asynchronous replica promoted in a failover
 * would not have it.  Once per request, not per command: WAIT covers every earlier write of
 * the connection, and a replica applies the primary's writes in order, so whatever a
 * failover loses is a suffix that no one was told about.  Only the request thread's writes
 * are tracked: a consumer or a tick that loses a suffix does it again (its XACK or its due
 * entry was in that suffix too).  Of the cache's writes only deletions count: a lost copy
 * is read again, but a lost invalidation (a logout's session, a changed item) would bring
 * back what the request said was gone.
 */
static bool
redis_tracked(enum gl_redis which, const char *cmd)
{
	static const char *const reads[] = { "GET",       "MGET",      "HGET",   "HMGET",
		                             "HGETALL",   "EXISTS",    "TTL",    "PTTL",
		                             "ZSCORE",    "ZCARD",     "ZRANGE", "ZRANGEBYSCORE",
		                             "XRANGE",    "XREVRANGE", "XLEN",   "XPENDING",
		                             "XINFO",     "PING",      "SCARD",  "SMEMBERS",
		                             "SISMEMBER", "WAIT",      "ROLE" };

	if (gl_conf.store_wait_ms == 0 || !gl_sentinel_on())
		return false;
	if (which == GL_REDIS_CACHE)
		return strcasecmp(cmd, "DEL") == 0 || strcasecmp(cmd, "UNLINK") == 0;
	for (size_t i = 0; i < sizeof(reads) / sizeof(reads[0]); i++)
		if (strcasecmp(cmd, reads[i]) == 0)
			return false;
	return true; /* anything but those may write */
}

/* One Redis's part of gl_redis_sync. */
static int
redis_sync(enum gl_redis which)
{
	const char *argv[3];
	char ms[24];
	redisReply *r;
	bool kept;
	int replicas;

	if (!redis_unsynced[which])
		return 0;
	redis_unsynced[which] = false;
	if (redis_lost[which]) { /* the primary it went to may be gone: unknown, not acknowledged */
		redis_lost[which] = false;
		return -1;
	}
	snprintf(ms, sizeof(ms), "%ld", gl_conf.store_wait_ms);
	argv[0] = "WAIT", argv[1] = "1", argv[2] = ms;
	if ((r = gl_redis_block(which, gl_conf.store_wait_ms, 3, argv, NULL)) == NULL)
		return -1;
	kept = r->type == REDIS_REPLY_INTEGER && r->integer >= 1;
	freeReplyObject(r);
	/* With no replica attached there is nothing a failover could promote: the primary
	 * (and, for the store, its AOF) keeps the write, acknowledged alone. */
	if (kept || (redis_ctx[which] != NULL &&
	             redis_role(redis_connect_wait(which, 0), &replicas) == 0 && replicas == 0))
		return 0;
	gl_log(GL_LOG_WARN, NULL,
	       "%s: no replica took a write within %ld ms (GALLEY_STORE_WAIT_MS)",
	       which == GL_REDIS_STORE ? "store" : "cache", gl_conf.store_wait_ms);
	return -1;
}

int
gl_redis_sync(void)
{
	int store = redis_sync(GL_REDIS_STORE), cache = redis_sync(GL_REDIS_CACHE);

	return store < 0 || cache < 0 ? -1 : 0;
}

/* An error reply that means "not the primary (any more)": a failover happened. */
static bool
redis_demoted(const redisReply *r)
{
	return r->type == REDIS_REPLY_ERROR &&
	       (strncmp(r->str, "READONLY", 8) == 0 || strncmp(r->str, "MASTERDOWN", 10) == 0);
}

/* gl_redis_argv with the reply awaited for the usual timeout plus extra_ms. */
static redisReply *
redis_argv(enum gl_redis which, long extra_ms, int argc, const char **argv, const size_t *lens)
{
	redisContext *c = redis_connect_wait(which, extra_ms);
	redisReply *r;

	if (c == NULL)
		return NULL;
	errno = 0;
	gl_metrics_redis_op();
	/* The pool's status (board.h): the command's name only (never its keys or values). */
	gl_board_wait("redis", argv[0]);
	if (redis_tracked(which, argv[0]))
		redis_unsynced[which] = true;
	r = redisCommandArgv(c, argc, argv, lens);
	if (r == NULL && (c->err == REDIS_ERR_EOF ||
	                  (c->err == REDIS_ERR_IO && (errno == ECONNRESET || errno == EPIPE)))) {
		/* Redis closed a connection it had (it restarted): one fresh try, at once, rather
		 * than a failure on every process's first command after a restart.  Not after a
		 * timeout, when the command may be running still. */
		gl_redis_drop(which);
		redis_retry_at[which] = 0;
		if ((c = redis_connect_wait(which, extra_ms)) == NULL) {
			gl_board_wait(NULL, NULL);
			return NULL;
		}
		gl_metrics_redis_op();
		r = redisCommandArgv(c, argc, argv, lens);
	}
	gl_board_wait(NULL, NULL);
	if (r == NULL) {
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
gl_redis_argv(enum gl_redis which, int argc, const char **argv, const size_t *lens)
{
	return redis_argv(which, 0, argc, argv, lens);
}

redisReply *
gl_redis_strv(enum gl_redis which, int argc, const char **argv)
{
	size_t small[16], *lens = small;
	redisReply *r;

	/* More than 16 (consumer.c acknowledges up to 50 entries in one XACK) on the heap. */
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
gl_redis_exists(enum gl_redis which, const char *key)
{
	const char *argv[] = { "EXISTS", key };
	redisReply *r = gl_redis_strv(which, 2, argv);
	int have = r != NULL && r->type == REDIS_REPLY_INTEGER ? r->integer > 0 : -1;

	if (r != NULL)
		freeReplyObject(r);
	return have;
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
	/* The timeout stays until a command that waits otherwise: a consumer's next read
	 * blocks as long, and its acknowledgements set the usual one back. */
	return redis_argv(which, block_ms, argc, argv, lens);
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
