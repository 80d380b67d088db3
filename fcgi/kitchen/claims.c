/*
 * The unique keys that keep one cook per ticket and one end per ticket
 * (kitchen.h): documents of "claims" whose _id is "<ticket>:<n>" or
 * "<ticket>:end".  Only their inserts decide anything; a read tells who won.
 */
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "db.h"
#include "doc.h"
#include "kitchen.h"
#include "log.h"

#define CLAIMS "claims"

/* "<ticket>:<what>": 24 hex, a colon, and at most 20 digits or "end". */
#define CLAIM_KEY_MAX 48

static void
claim_key_n(char *buf, const char *ticket, long long n)
{
	snprintf(buf, CLAIM_KEY_MAX, "%.24s:%lld", ticket, n);
}

/* The claim document _id key (borrowed) as JSON in *out (new); GL_E_NOT_FOUND. */
static enum gl_err
claim_read(const char *key, json_t **out)
{
	bson_t filter = BSON_INITIALIZER;
	enum gl_err err;

	BSON_APPEND_UTF8(&filter, "_id", key);
	err = gl_db_find_one(CLAIMS, &filter, out);
	bson_destroy(&filter);
	return err;
}

enum gl_err
claim_take(const char *ticket, long long n, const char *cook, int64_t until)
{
	bson_t doc = BSON_INITIALIZER;
	char key[CLAIM_KEY_MAX];
	enum gl_err err;

	claim_key_n(key, ticket, n);
	if (!BSON_APPEND_UTF8(&doc, "_id", key) || !gl_doc_append_oid(&doc, "ticket", ticket) ||
	    !BSON_APPEND_INT64(&doc, "attempt", n) || !BSON_APPEND_UTF8(&doc, "cook", cook) ||
	    !BSON_APPEND_INT64(&doc, "until", until) ||
	    !BSON_APPEND_DATE_TIME(&doc, "at", (int64_t)time(NULL) * 1000)) {
		bson_destroy(&doc);
		return GL_E_INTERNAL;
	}
	err = gl_db_insert(CLAIMS, &doc);
	bson_destroy(&doc);
	return err;
}

enum gl_err
claim_until(const char *ticket, long long n, int64_t *until)
{
	char key[CLAIM_KEY_MAX];
	json_t *doc;
	enum gl_err err;

	claim_key_n(key, ticket, n);
	if ((err = claim_read(key, &doc)) != GL_OK)
		return err;
	*until = json_integer_value(json_object_get(doc, "until"));
	json_decref(doc);
	return GL_OK;
}

void
claim_release(const char *ticket, long long n)
{
	bson_t filter = BSON_INITIALIZER, update = BSON_INITIALIZER, set;
	char key[CLAIM_KEY_MAX];

	/* Only the claim's owner writes it after the insert, so a plain update is safe. */
	claim_key_n(key, ticket, n);
	BSON_APPEND_UTF8(&filter, "_id", key);
	BSON_APPEND_DOCUMENT_BEGIN(&update, "$set", &set);
	BSON_APPEND_INT64(&set, "until", (int64_t)time(NULL));
	bson_append_document_end(&update, &set);
	if (gl_db_update_where(CLAIMS, &filter, &update) != GL_OK)
		gl_log(GL_LOG_WARN, NULL,
		       "ticket %.24s: attempt %lld stays claimed until its lease ends", ticket, n);
	bson_destroy(&filter);
	bson_destroy(&update);
}

enum gl_err
claim_end(const char *ticket, const char *how, bool *ready)
{
	bson_t doc = BSON_INITIALIZER;
	char key[CLAIM_KEY_MAX];
	const char *won;
	json_t *end;
	enum gl_err err;

	snprintf(key, sizeof(key), "%.24s:end", ticket);
	if (!BSON_APPEND_UTF8(&doc, "_id", key) || !gl_doc_append_oid(&doc, "ticket", ticket) ||
	    !BSON_APPEND_UTF8(&doc, "how", how) ||
	    !BSON_APPEND_DATE_TIME(&doc, "at", (int64_t)time(NULL) * 1000)) {
		bson_destroy(&doc);
		return GL_E_INTERNAL;
	}
	err = gl_db_insert(CLAIMS, &doc);
	bson_destroy(&doc);
	if (err == GL_OK) {
		*ready = strcmp(how, "ready") == 0;
		return GL_OK;
	}
	if (err != GL_E_CONFLICT)
		return err;
	/* Settled before: by the other side, or by us in an earlier try. */
	if ((err = claim_read(key, &end)) != GL_OK)
		return err == GL_E_NOT_FOUND ? GL_E_CONFLICT : err;
	won = json_string_value(json_object_get(end, "how"));
	*ready = won != NULL && strcmp(won, "ready") == 0;
	json_decref(end);
	return GL_OK;
}
