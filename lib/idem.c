#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "conf.h"
#include "idem.h"
#include "json.h"
#include "log.h"
#include "redis.h"

/* A fingerprint of the body: BLAKE2b of its canonical (sorted, compact) form. */
static int
idem_hash(const json_t *body, char hex[65])
{
	unsigned char h[32];
	char *text = json_dumps(body, JSON_COMPACT | JSON_SORT_KEYS);

	if (text == NULL)
		return -1;
	crypto_generichash(h, sizeof(h), (const unsigned char *)text, strlen(text), NULL, 0);
	free(text);
	sodium_bin2hex(hex, 65, h, sizeof(h));
	return 0;
}

static void
idem_key(char *buf, size_t size, const char *id)
{
	snprintf(buf, size, "galley:idem:%s:%s", gl_conf.service, id);
}

/*
 * Claim the key: a new record {state: pending, hash, at} kept for
 * GL_IDEM_KEEP_S, or the record there (a pending one older than
 * GL_IDEM_PENDING_S, its owner dead, is taken over).  Answers {"new"}, or
 * {"have", state, hash, status, response}.
 */
static const char idem_claim_lua[] =
        "local h = redis.call('HMGET', KEYS[1], 'state', 'hash', 'at', 'status', 'response') "
        "if h[1] and not (h[1] == 'pending' and tonumber(h[3]) < tonumber(ARGV[2]) - "
        "tonumber(ARGV[3])) then"
        " return {'have', h[1], h[2] or '', h[4] or '0', h[5] or ''} end "
        "redis.call('DEL', KEYS[1]) "
        "redis.call('HSET', KEYS[1], 'state', 'pending', 'hash', ARGV[1], 'at', ARGV[2]) "
        "redis.call('EXPIRE', KEYS[1], ARGV[4]) "
        "if h[1] then return {'new', 'took'} end "
        "return {'new'}";

static const char *
idem_str(const redisReply *r, size_t i)
{
	return r->type == REDIS_REPLY_ARRAY && i < r->elements &&
	                       r->element[i]->type == REDIS_REPLY_STRING
	               ? r->element[i]->str
	               : NULL;
}

/* The key is there already: replay, or say why not. */
static enum gl_err
idem_existing(struct gl_req *req, const redisReply *r, const char *hash, bool *replayed)
{
	const char *state = idem_str(r, 1), *their = idem_str(r, 2), *status = idem_str(r, 3),
	           *resp = idem_str(r, 4);
	enum gl_err err;

	if (their == NULL || strcmp(their, hash) != 0)
		return gl_fail(req, GL_E_CONFLICT, "Idempotency-Key",
		               "this Idempotency-Key was used with another body");
	if (state == NULL || strcmp(state, "done") != 0 || resp == NULL || status == NULL)
		return gl_fail(req, GL_E_CONFLICT, "Idempotency-Key",
		               "a request with this Idempotency-Key is still in progress");
	err = gl_reply_raw(req, atoi(status), strdup(resp), strlen(resp));
	if (req->raw == NULL)
		return GL_E_INTERNAL;
	*replayed = true;
	return err;
}

bool
gl_idem_key_ok(const char *key)
{
	size_t n = strlen(key);

	if (n < 1 || n > 64)
		return false;
	for (size_t i = 0; i < n; i++)
		if ((unsigned char)key[i] < 0x21 || (unsigned char)key[i] > 0x7e)
			return false;
	return true;
}

enum gl_err
gl_idem_begin(struct gl_req *req, const char *scope, struct gl_idem *idem, bool *replayed)
{
	const char *key = gl_req_param(req, "HTTP_IDEMPOTENCY_KEY"), *what;
	char hash[65], key_name[224], now[24], pending[16], keep[16];
	enum gl_err err = GL_OK;
	redisReply *r;
	bool fresh;

	memset(idem, 0, sizeof(*idem));
	*replayed = false;
	if (key == NULL)
		return GL_OK;
	if (!gl_idem_key_ok(key))
		return gl_fail(req, GL_E_VALIDATION, "Idempotency-Key",
		               "Idempotency-Key must be 1..64 printable characters");
	/* Keys are the caller's own: another user's same key is another request. */
	snprintf(idem->id, sizeof(idem->id), "%s:%s:%s", scope, req->user_id, key);
	if (idem_hash(req->body, hash) < 0)
		return GL_E_INTERNAL;
	idem_key(key_name, sizeof(key_name), idem->id);
	snprintf(now, sizeof(now), "%lld", (long long)time(NULL));
	snprintf(pending, sizeof(pending), "%d", GL_IDEM_PENDING_S);
	snprintf(keep, sizeof(keep), "%d", GL_IDEM_KEEP_S);
	const char *keys[] = { key_name }, *args[] = { hash, now, pending, keep };
	if ((r = gl_redis_eval(GL_REDIS_STORE, idem_claim_lua, 1, keys, 4, args)) == NULL)
		return GL_E_UPSTREAM_DOWN;
	what = idem_str(r, 0);
	fresh = what != NULL && strcmp(what, "new") == 0;
	if (what != NULL && strcmp(what, "have") == 0)
		err = idem_existing(req, r, hash, replayed);
	else if (what == NULL || strcmp(what, "new") != 0) {
		gl_log(GL_LOG_ERROR, req->request_id, "idempotency: %s",
		       r->type == REDIS_REPLY_ERROR ? r->str : "an unexpected reply");
		err = GL_E_INTERNAL;
	} else if (idem_str(r, 1) != NULL)
		gl_log(GL_LOG_WARN, req->request_id, "idempotency: took over an abandoned key");
	freeReplyObject(r);
	if (err != GL_OK || !fresh)
		return err;
	idem->active = true;
	return GL_OK;
}

/* The answer riding on this thread's next kept write (gl_idem_ride). */
static __thread struct {
	struct gl_idem *idem; /* NULL: none */
	char key[224], status[16], keep[16];
	char *text; /* owned */
	struct gl_idem_answer answer;
} riding;

static void
idem_unride(void)
{
	free(riding.text);
	riding.text = NULL;
	riding.idem = NULL;
}

void
gl_idem_ride(struct gl_idem *idem, int status, const json_t *body)
{
	idem_unride();
	if (!idem->active || (riding.text = gl_json_dump_new(body)) == NULL)
		return; /* gl_idem_store() stores it */
	riding.idem = idem;
	idem_key(riding.key, sizeof(riding.key), idem->id);
	snprintf(riding.status, sizeof(riding.status), "%d", status);
	snprintf(riding.keep, sizeof(riding.keep), "%d", GL_IDEM_KEEP_S);
	riding.answer =
	        (struct gl_idem_answer){ riding.key, riding.status, riding.text, riding.keep };
}

const struct gl_idem_answer *
gl_idem_riding(void)
{
	return riding.idem != NULL ? &riding.answer : NULL;
}

void
gl_idem_rode(bool written)
{
	if (written && riding.idem != NULL)
		riding.idem->active = false; /* stored: gl_idem_store() has nothing left to do */
	idem_unride();
}

void
gl_idem_store(struct gl_idem *idem, int status, const json_t *body)
{
	char key[224], code[16], keep[16], *text;
	redisReply *r;

	if (riding.idem == idem)
		idem_unride(); /* no write carried it */
	if (!idem->active)
		return;
	text = gl_json_dump_new(body);
	idem_key(key, sizeof(key), idem->id);
	snprintf(code, sizeof(code), "%d", status);
	snprintf(keep, sizeof(keep), "%d", GL_IDEM_KEEP_S);
	/* If this fails the record stays pending: repeats get 409, never a second thing. */
	const char *keys[] = { key }, *args[] = { code, text != NULL ? text : "null", keep };
	r = gl_redis_eval(GL_REDIS_STORE,
	                  "redis.call('HSET', KEYS[1], 'state', 'done', 'status', ARGV[1],"
	                  " 'response', ARGV[2]) redis.call('EXPIRE', KEYS[1], ARGV[3]) return 1",
	                  1, keys, 3, args);
	if (r == NULL || r->type != REDIS_REPLY_INTEGER)
		gl_log(GL_LOG_WARN, NULL, "idempotency: the answer could not be stored");
	if (r != NULL)
		freeReplyObject(r);
	free(text);
	idem->active = false;
}

void
gl_idem_release(struct gl_idem *idem)
{
	char key[224];
	redisReply *r;

	if (riding.idem == idem)
		idem_unride();
	if (!idem->active)
		return;
	idem_key(key, sizeof(key), idem->id);
	/* Only while pending: a record done holds the answer for a thing that was made after
	 * all (it rode on a write whose reply was lost), which a retry must get, not remake. */
	const char *keys[] = { key };
	if ((r = gl_redis_eval(GL_REDIS_STORE,
	                       "if redis.call('HGET', KEYS[1], 'state') == 'pending' then"
	                       " return redis.call('DEL', KEYS[1]) end return 0",
	                       1, keys, 0, NULL)) == NULL)
		gl_log(GL_LOG_WARN, NULL,
		       "idempotency: a failed request's key could not be released");
	else
		freeReplyObject(r);
	idem->active = false;
}
