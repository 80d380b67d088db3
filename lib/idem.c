#include <sodium.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "db.h"
#include "idem.h"
#include "json.h"
#include "log.h"

#define IDEM_COLL "idempotency"

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

static enum gl_err
idem_insert(const char *id, const char *hash)
{
	bson_t doc = BSON_INITIALIZER;
	enum gl_err err;

	BSON_APPEND_UTF8(&doc, "_id", id);
	BSON_APPEND_UTF8(&doc, "state", "pending");
	BSON_APPEND_UTF8(&doc, "hash", hash);
	BSON_APPEND_DATE_TIME(&doc, "created_at", (int64_t)time(NULL) * 1000);
	err = gl_db_insert(IDEM_COLL, &doc);
	bson_destroy(&doc);
	return err;
}

/* Remove the record if it is a pending one whose owner has had long enough. */
static void
idem_reap(const char *id)
{
	bson_t filter = BSON_INITIALIZER, child;
	long long n;

	BSON_APPEND_UTF8(&filter, "_id", id);
	BSON_APPEND_UTF8(&filter, "state", "pending");
	BSON_APPEND_DOCUMENT_BEGIN(&filter, "created_at", &child);
	BSON_APPEND_DATE_TIME(&child, "$lt", ((int64_t)time(NULL) - GL_IDEM_PENDING_S) * 1000);
	bson_append_document_end(&filter, &child);
	if (gl_db_delete_where(IDEM_COLL, &filter, &n) == GL_OK && n > 0)
		gl_log(GL_LOG_WARN, NULL, "idempotency: took over an abandoned key");
	bson_destroy(&filter);
}

/* The key is there already: replay, or say why not. */
static enum gl_err
idem_existing(struct gl_req *req, const char *id, const char *hash, bool *replayed)
{
	bson_t filter = BSON_INITIALIZER;
	json_t *rec;
	enum gl_err err;
	const char *state, *their, *resp;

	BSON_APPEND_UTF8(&filter, "_id", id);
	err = gl_db_find_one(IDEM_COLL, &filter, &rec);
	bson_destroy(&filter);
	if (err != GL_OK)
		return err == GL_E_NOT_FOUND ? GL_E_CONFLICT : err;
	state = json_string_value(json_object_get(rec, "state"));
	their = json_string_value(json_object_get(rec, "hash"));
	resp = json_string_value(json_object_get(rec, "response"));
	if (their == NULL || strcmp(their, hash) != 0) {
		json_decref(rec);
		return gl_fail(req, GL_E_CONFLICT, "Idempotency-Key",
		               "this Idempotency-Key was used with another body");
	}
	if (state == NULL || strcmp(state, "done") != 0 || resp == NULL) {
		json_decref(rec);
		return gl_fail(req, GL_E_CONFLICT, "Idempotency-Key",
		               "a request with this Idempotency-Key is still in progress");
	}
	err = gl_reply_raw(req, (int)json_integer_value(json_object_get(rec, "status")),
	                   strdup(resp), strlen(resp));
	json_decref(rec);
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
	const char *key = gl_req_param(req, "HTTP_IDEMPOTENCY_KEY");
	char hash[65];
	enum gl_err err;

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
	err = idem_insert(idem->id, hash);
	if (err == GL_E_CONFLICT) {
		idem_reap(idem->id);
		err = idem_insert(idem->id, hash);
	}
	if (err == GL_E_CONFLICT)
		return idem_existing(req, idem->id, hash, replayed);
	if (err != GL_OK)
		return err;
	idem->active = true;
	return GL_OK;
}

void
gl_idem_store(struct gl_idem *idem, int status, const json_t *body)
{
	bson_t filter = BSON_INITIALIZER, update = BSON_INITIALIZER, set;
	char *text;

	if (!idem->active)
		return;
	text = gl_json_dump_new(body);
	BSON_APPEND_UTF8(&filter, "_id", idem->id);
	BSON_APPEND_DOCUMENT_BEGIN(&update, "$set", &set);
	BSON_APPEND_UTF8(&set, "state", "done");
	BSON_APPEND_INT32(&set, "status", status);
	BSON_APPEND_UTF8(&set, "response", text != NULL ? text : "null");
	bson_append_document_end(&update, &set);
	/* If this fails the record stays pending: repeats get 409, never a second thing. */
	if (gl_db_update_where(IDEM_COLL, &filter, &update) != GL_OK)
		gl_log(GL_LOG_WARN, NULL, "idempotency: the answer could not be stored");
	free(text);
	bson_destroy(&filter);
	bson_destroy(&update);
	idem->active = false;
}

void
gl_idem_release(struct gl_idem *idem)
{
	bson_t filter = BSON_INITIALIZER;

	if (!idem->active)
		return;
	BSON_APPEND_UTF8(&filter, "_id", idem->id);
	if (gl_db_delete_where(IDEM_COLL, &filter, NULL) != GL_OK)
		gl_log(GL_LOG_WARN, NULL,
		       "idempotency: a failed request's key could not be released");
	bson_destroy(&filter);
	idem->active = false;
}
