#include <poll.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "conf.h"
#include "log.h"
#include "near.h"
#include "now.h"
#include "redis.h"

struct near_entry {
	char *key; /* NULL: free slot */
	char *val;
	size_t len;
	long long born_us;
};

/* All per thread, like the Redis connection it follows. */
static _Thread_local bool near_wanted;            /* gl_near_enable was called */
static _Thread_local bool near_on;                /* tracking is on for the data connection */
static _Thread_local redisContext *near_inval;    /* subscribed to __redis__:invalidate */
static _Thread_local struct near_entry *near_tab; /* NEAR_SLOTS, allocated on first use */
static _Thread_local size_t near_bytes;

/* FNV-1a: keys are short; a slot holds one entry, a collision replaces it. */
static size_t
near_slot(const char *key, size_t len)
{
	uint64_t h = 1469598103934665603ULL;

	for (size_t i = 0; i < len; i++)
		h = (h ^ (unsigned char)key[i]) * 1099511628211ULL;
	return (size_t)(h % NEAR_SLOTS);
}

static void
near_drop(struct near_entry *e)
{
	if (e->key == NULL)
		return;
	near_bytes -= e->len;
	free(e->key);
	free(e->val);
	memset(e, 0, sizeof(*e));
}

static void
near_flush(void)
{
	if (near_tab == NULL)
		return;
	for (size_t i = 0; i < NEAR_SLOTS; i++)
		near_drop(&near_tab[i]);
}

static void
near_forget_len(const char *key, size_t len)
{
	struct near_entry *e;

	if (near_tab == NULL)
		return;
	e = &near_tab[near_slot(key, len)];
	if (e->key != NULL && strlen(e->key) == len && memcmp(e->key, key, len) == 0)
		near_drop(e);
}

/* Tracking is lost: no copy can be trusted, and the data connection must start over. */
static void
near_fail(const char *why)
{
	bool was_on = near_on;

	near_on = false;
	near_flush();
	if (near_inval != NULL)
		redisFree(near_inval);
	near_inval = NULL;
	if (was_on) {
		gl_log(GL_LOG_WARN, NULL, "near cache off until Redis is reconnected: %s", why);
		/* The next command reconnects and turns tracking on again. */
		gl_redis_drop(GL_REDIS_CACHE);
	}
}

/* One message of the subscription: ["message", channel, [key...]] or [.., nil] (a flush). */
static void
near_message(const redisReply *r)
{
	const redisReply *keys;

	if (r->type != REDIS_REPLY_ARRAY || r->elements != 3 ||
	    r->element[0]->type != REDIS_REPLY_STRING || strcmp(r->element[0]->str, "message") != 0)
		return; /* the subscribe confirmation, or nothing we know */
	keys = r->element[2];
	if (keys->type != REDIS_REPLY_ARRAY) {
		near_flush(); /* FLUSHALL / FLUSHDB: everything */
		return;
	}
	for (size_t i = 0; i < keys->elements; i++)
		if (keys->element[i]->type == REDIS_REPLY_STRING)
			near_forget_len(keys->element[i]->str, keys->element[i]->len);
}

/* Read every invalidation Redis has sent so far, without waiting for more. */
static void
near_drain(void)
{
	struct pollfd p;
	void *reply;

	while (near_on) {
		p.fd = near_inval->fd;
		p.events = POLLIN;
		p.revents = 0;
		if (poll(&p, 1, 0) <= 0)
			return; /* nothing more has arrived */
		if ((p.revents & (POLLERR | POLLNVAL)) != 0 ||
		    redisBufferRead(near_inval) != REDIS_OK) {
			char why[sizeof(near_inval->errstr)]; /* near_fail frees the context */
			snprintf(why, sizeof(why), "%s",
			         near_inval->errstr[0] ? near_inval->errstr : "connection lost");
			near_fail(why);
			return;
		}
		for (;;) {
			reply = NULL;
			if (redisGetReplyFromReader(near_inval, &reply) != REDIS_OK) {
				near_fail("bad reply");
				return;
			}
			if (reply == NULL)
				break;
			near_message(reply);
			freeReplyObject(reply);
		}
	}
}

void
gl_near_enable(void)
{
	const char *off = getenv("GALLEY_NEAR_CACHE");

	near_wanted = off == NULL || strcmp(off, "0") != 0;
}

void
gl_near_connected(redisContext *c)
{
	redisReply *r;
	long long id;

	if (!near_wanted)
		return;
	gl_near_disconnected(); /* whatever was before belonged to the old connection */
	if ((near_inval = gl_redis_open(GL_REDIS_CACHE)) == NULL)
		return;
	r = redisCommand(near_inval, "CLIENT ID");
	id = r != NULL && r->type == REDIS_REPLY_INTEGER ? r->integer : -1;
	if (r != NULL)
		freeReplyObject(r);
	r = id < 0 ? NULL : redisCommand(near_inval, "SUBSCRIBE __redis__:invalidate");
	if (r == NULL || r->type != REDIS_REPLY_ARRAY) {
		if (r != NULL)
			freeReplyObject(r);
		near_fail("could not subscribe to invalidations");
		return;
	}
	freeReplyObject(r);
	r = redisCommand(c, "CLIENT TRACKING on REDIRECT %lld", id);
	if (r == NULL || r->type != REDIS_REPLY_STATUS) {
		gl_log(GL_LOG_WARN, NULL, "near cache off: CLIENT TRACKING refused (%s)",
		       r != NULL && r->type == REDIS_REPLY_ERROR ? r->str : "no answer");
		if (r != NULL)
			freeReplyObject(r);
		near_fail("no tracking");
		return;
	}
	freeReplyObject(r);
	if (near_tab == NULL && (near_tab = calloc(NEAR_SLOTS, sizeof(*near_tab))) == NULL) {
		near_fail("out of memory");
		return;
	}
	near_on = true;
}

void
gl_near_disconnected(void)
{
	/* Not near_fail: the data connection is already closing. */
	near_on = false;
	near_flush();
	if (near_inval != NULL)
		redisFree(near_inval);
	near_inval = NULL;
}

int
gl_near_get(const char *key, char **val, size_t *len)
{
	struct near_entry *e;
	size_t klen = strlen(key);

	*val = NULL;
	near_drain();
	if (!near_on)
		return 0;
	e = &near_tab[near_slot(key, klen)];
	if (e->key == NULL || strcmp(e->key, key) != 0)
		return 0;
	if (gl_now_us() - e->born_us > NEAR_MAX_AGE_MS * 1000LL) {
		near_drop(e);
		return 0;
	}
	if ((*val = malloc(e->len + 1)) == NULL)
		return 0;
	memcpy(*val, e->val, e->len + 1);
	*len = e->len;
	return 1;
}

void
gl_near_put(const char *key, const char *val, size_t len)
{
	struct near_entry *e;
	size_t klen = strlen(key);

	/* A message about key may have come in while Redis answered: read it first, so the
	 * copy is not made after its own invalidation. */
	near_drain();
	if (!near_on || len > NEAR_MAX_VALUE)
		return;
	e = &near_tab[near_slot(key, klen)];
	near_drop(e);
	if (near_bytes + len > NEAR_MAX_BYTES)
		return;
	if ((e->key = strdup(key)) == NULL || (e->val = malloc(len + 1)) == NULL) {
		free(e->key);
		e->key = NULL;
		return;
	}
	memcpy(e->val, val, len);
	e->val[len] = '\0';
	e->len = len;
	e->born_us = gl_now_us();
	near_bytes += len;
}

void
gl_near_forget(const char *key)
{
	near_forget_len(key, strlen(key));
}
