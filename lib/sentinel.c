#include <hiredis/hiredis.h>
#include <stdlib.h>
#include <string.h>
#include <sys/time.h>

#include "conf.h"
#include "log.h"
#include "sentinel.h"

/* The list's bounds: three or five Sentinels is the usual; more is a mistake. */
#define SENTINEL_MAX 9

struct sentinel_addr {
	char host[256];
	int port;
};

/* Which Sentinel answered last, per thread: asked first next time. */
static _Thread_local int sentinel_last;

bool
gl_sentinel_on(void)
{
	return gl_conf.redis_sentinels != NULL && gl_conf.redis_sentinels[0] != '\0';
}

/* Parse "host:port,host:port" into at most SENTINEL_MAX addresses; their count, or -1. */
static int
sentinel_parse(const char *list, struct sentinel_addr *out)
{
	const char *p = list;
	int n = 0;

	while (*p != '\0') {
		const char *comma = strchr(p, ',');
		size_t len = comma != NULL ? (size_t)(comma - p) : strlen(p);
		const char *colon = NULL;
		char *end;
		long port;

		for (size_t i = 0; i < len; i++) /* the last one: [v6]:port is not taken */
			if (p[i] == ':')
				colon = p + i;

		if (n == SENTINEL_MAX || colon == NULL || colon == p ||
		    (size_t)(colon - p) >= sizeof(out[n].host))
			return -1;
		port = strtol(colon + 1, &end, 10);
		if (end != p + len || end == colon + 1 || port < 1 || port > 65535)
			return -1;
		memcpy(out[n].host, p, (size_t)(colon - p));
		out[n].host[colon - p] = '\0';
		out[n].port = (int)port;
		n++;
		p = comma != NULL ? comma + 1 : p + len;
		if (comma != NULL && *p == '\0')
			return -1; /* "a:1," names nothing after its comma */
	}
	return n > 0 ? n : -1;
}

/* One Sentinel's answer to SENTINEL get-master-addr-by-name: 0 and the address, or -1. */
static int
sentinel_ask(const struct sentinel_addr *s, const char *name, char *host, size_t hostlen, int *port)
{
	struct timeval tv = { .tv_sec = gl_conf.redis_timeout_ms / 1000,
		              .tv_usec = (gl_conf.redis_timeout_ms % 1000) * 1000 };
	redisContext *c = redisConnectWithTimeout(s->host, s->port, tv);
	redisReply *r;
	int rc = -1;

	if (c == NULL || c->err) {
		if (c != NULL)
			redisFree(c);
		return -1;
	}
	redisSetTimeout(c, tv);
	r = redisCommand(c, "SENTINEL get-master-addr-by-name %s", name);
	if (r != NULL && r->type == REDIS_REPLY_ARRAY && r->elements == 2 &&
	    r->element[0]->type == REDIS_REPLY_STRING &&
	    r->element[1]->type == REDIS_REPLY_STRING && r->element[0]->len > 0 &&
	    r->element[0]->len < hostlen) {
		char *end;
		long p = strtol(r->element[1]->str, &end, 10);

		if (*end == '\0' && p >= 1 && p <= 65535) {
			memcpy(host, r->element[0]->str, r->element[0]->len + 1);
			*port = (int)p;
			rc = 0;
		}
	}
	if (r != NULL)
		freeReplyObject(r);
	redisFree(c);
	return rc;
}

int
gl_sentinel_primary(const char *name, char *host, size_t hostlen, int *port)
{
	struct sentinel_addr list[SENTINEL_MAX];
	int n = sentinel_parse(gl_conf.redis_sentinels, list);

	if (n < 0) {
		gl_log(GL_LOG_ERROR, NULL,
		       "GALLEY_REDIS_SENTINELS must be host:port[,host:port...] (at most %d)",
		       SENTINEL_MAX);
		return -1;
	}
	for (int i = 0; i < n; i++) {
		int k = (sentinel_last + i) % n;

		if (sentinel_ask(&list[k], name, host, hostlen, port) == 0) {
			sentinel_last = k;
			return 0;
		}
	}
	gl_log(GL_LOG_WARN, NULL, "no Sentinel of %d knows where %s is", n, name);
	return -1;
}
