#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/time.h>

#include "conf.h"
#include "log.h"
#include "metrics.h"
#include "near.h"
#include "redis.h"
#include "req.h"

/* Per thread: hiredis contexts may not be shared (see the tick thread in app.h). */
static _Thread_local redisContext *redis_ctx;
static _Thread_local long long redis_retry_at; /* monotonic us before we reconnect */

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

redisContext *
gl_redis_open(void)
{
	struct redis_addr a;
	struct timeval tv;
	redisContext *c;

	if (redis_parse_url(gl_conf.redis_url, &a) < 0) {
		gl_log(GL_LOG_ERROR, NULL,
		       "GALLEY_REDIS_URL must be redis://host:port/db or unix:///path");
		return NULL;
	}
	tv = redis_tv(gl_conf.redis_timeout_ms);
	c = a.path[0] ? redisConnectUnixWithTimeout(a.path, tv)
	              : redisConnectWithTimeout(a.host, a.port, tv);
	if (c == NULL || c->err) {
		gl_log(GL_LOG_WARN, NULL, "redis connect: %s", c ? c->errstr : "out of memory");
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
	return c;
}

static redisContext *
redis_connect(void)
{
	long long now = gl_now_us();

	if (redis_ctx != NULL)
		return redis_ctx;
	if (now < redis_retry_at)
		return NULL;
	redis_retry_at = now + 1000000;
	if ((redis_ctx = gl_redis_open()) != NULL)
		gl_near_connected(redis_ctx); /* tracking, when this thread keeps near copies */
	return redis_ctx;
}

void
gl_redis_close(void)
{
	if (redis_ctx != NULL)
		redisFree(redis_ctx);
	redis_ctx = NULL;
	gl_near_disconnected();
}

redisReply *
gl_redis_argv(int argc, const char **argv, const size_t *lens)
{
	redisContext *c = redis_connect();
	redisReply *r;

	if (c == NULL)
		return NULL;
	errno = 0;
	gl_metrics_redis_op();
	r = redisCommandArgv(c, argc, argv, lens);
	if (r == NULL && (c->err == REDIS_ERR_EOF ||
	                  (c->err == REDIS_ERR_IO && (errno == ECONNRESET || errno == EPIPE)))) {
		/* Redis closed a connection it had (it restarted): one fresh try, at once, rather
		 * than a failure on every process's first command after a restart.  Not after a
		 * timeout, when the command may be running still. */
		gl_redis_close();
		redis_retry_at = 0;
		if ((c = redis_connect()) == NULL)
			return NULL;
		gl_metrics_redis_op();
		r = redisCommandArgv(c, argc, argv, lens);
	}
	if (r == NULL) {
		/* The context is dead for good: drop it, reconnect later. */
		gl_log(GL_LOG_WARN, NULL, "redis: %s", c->errstr);
		gl_redis_close();
		redis_retry_at = 0;
	}
	return r;
}

redisReply *
gl_redis_strv(int argc, const char **argv)
{
	size_t lens[16];

	if (argc > 16)
		return NULL;
	for (int i = 0; i < argc; i++)
		lens[i] = strlen(argv[i]);
	return gl_redis_argv(argc, argv, lens);
}

int
gl_redis_type(int argc, const char **argv)
{
	redisReply *r = gl_redis_strv(argc, argv);
	int type = r != NULL ? r->type : -1;

	if (r != NULL)
		freeReplyObject(r);
	return type;
}

int
gl_redis_ping(void)
{
	const char *argv[] = { "PING" };

	return gl_redis_type(1, argv) == REDIS_REPLY_STATUS ? 0 : -1;
}

redisReply *
gl_redis_block(long block_ms, int argc, const char **argv, const size_t *lens)
{
	redisContext *c = redis_connect();
	redisReply *r;

	if (c == NULL)
		return NULL;
	redisSetTimeout(c, redis_tv(block_ms + gl_conf.redis_timeout_ms));
	r = gl_redis_argv(argc, argv, lens);
	if (redis_ctx != NULL) /* still open (a failure drops it): back to the usual wait */
		redisSetTimeout(redis_ctx, redis_tv(gl_conf.redis_timeout_ms));
	return r;
}
