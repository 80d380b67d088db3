#include <sodium.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "cache.h"
#include "crud.h"
#include "customers.h"
#include "db.h"
#include "doc.h"
#include "log.h"

const struct gl_field customer_fields[] = {
	{ "name", GL_T_STRING, GL_REQUIRED, 1, 120 },
	{ "email", GL_T_STRING, GL_REQUIRED, 3, 254, .check = gl_valid_email, .max_bytes = 254 },
	{ "phone", GL_T_STRING, 0, 0, 32, .check = gl_valid_phone },
	{ "address", GL_T_STRING, 0, 0, 300 },
	{ 0 },
};

static const char *
invitation_check(const char *s)
{
	if (strlen(s) != INVITE_CODE_HEX || strspn(s, "0123456789abcdef") != INVITE_CODE_HEX)
		return "must be an invitation code: 40 hex digits, as staff gave it";
	return NULL;
}

/* What the auth service sends when a user registers (or signs in, unlinked). */
const struct gl_field link_fields[] = {
	{ "user_id", GL_T_OID, GL_REQUIRED },
	{ "name", GL_T_STRING, GL_REQUIRED, 1, 120 },
	{ "email", GL_T_STRING, GL_REQUIRED, 3, 254, .check = gl_valid_email, .max_bytes = 254 },
	{ "invitation", GL_T_STRING, 0, INVITE_CODE_HEX, INVITE_CODE_HEX,
	  .check = invitation_check },
	{ 0 },
};

/* Staff-made records store user_id null: the unique index is (email, user_id), so staff
 * cannot make one email twice, and a user's own record may share a staff record's email. */
static const struct gl_crud customers = {
	"customers", "customer", customer_fields, NULL, "a customer with this email exists already",
	"user_id"
};

/* A customer (the role) sees only the record linked to its own user. */
static bool
own_record(const struct gl_req *req, const json_t *doc)
{
	const char *uid = json_string_value(json_object_get(doc, "user_id"));

	return uid != NULL && strcmp(uid, req->user_id) == 0;
}

enum gl_err
customer_create(struct gl_req *req)
{
	gl_valid_lower(req->body, "email"); /* unique, compared without case */
	return gl_crud_create(req, &customers);
}

/*
 * A customer's list is its own record, found by user: a query no index
 * answers on FerretDB (it reads every customer), asked by the orders service
 * for every order.  So it is cached under "of-user:<user>", dropped whenever
 * a record linked to that user changes (customer_forget_user).
 */
static enum gl_err
own_list_load(void *arg, json_t **out)
{
	const struct gl_req *req = arg;
	struct gl_page page;
	bson_t filter = BSON_INITIALIZER;
	enum gl_err err;

	gl_req_page(req, &page);
	if (!gl_doc_append_oid(&filter, "user_id", req->user_id))
		err = GL_E_INTERNAL;
	else
		err = gl_db_list("customers", &filter, &page, out);
	bson_destroy(&filter);
	return err;
}

static void
customer_forget_user(const char *user_id)
{
	char key[GL_CACHE_KEY_MAX];
	const char *keys[] = { key };

	if (user_id != NULL && gl_cache_key(key, sizeof(key), "of-user", user_id) == 0)
		(void)gl_cache_del(keys, 1);
}

enum gl_err
customer_list(struct gl_req *req)
{
	char key[GL_CACHE_KEY_MAX];

	if (gl_req_has_role(req, GL_ROLE_STAFF))
		return gl_crud_list(req, &customers, NULL);
	/* ?after= past one's own single record is a page nobody needs cached. */
	if (json_object_get(req->query, "after") != NULL ||
	    gl_cache_key(key, sizeof(key), "of-user", req->user_id) < 0) {
		json_t *out;
		enum gl_err err = own_list_load(req, &out);
		return err == GL_OK ? gl_reply(req, 200, out) : err;
	}
	return gl_cache_reply(req, key, own_list_load, req);
}

enum gl_err
customer_get(struct gl_req *req)
{
	bson_oid_t oid;
	json_t *doc;
	enum gl_err err;

	if (gl_req_has_role(req, GL_ROLE_STAFF))
		return gl_crud_get(req, &customers);
	/* Read from the database, not the cache: ownership is checked on the document. */
	if (!gl_oid_parse(gl_req_capture(req, "id"), &oid))
		return GL_E_INTERNAL;
	err = gl_db_get("customers", &oid, &doc);
	if (err == GL_OK && !own_record(req, doc)) {
		json_decref(doc);
		err = GL_E_NOT_FOUND; /* another's record: as if it did not exist */
	}
	if (err == GL_E_NOT_FOUND)
		return gl_fail(req, err, NULL, "no customer has this id");
	return err == GL_OK ? gl_reply(req, 200, doc) : err;
}

enum gl_err
customer_update(struct gl_req *req)
{
	enum gl_err err;

	gl_valid_lower(req->body, "email");
	if ((err = gl_crud_update(req, &customers)) == GL_OK)
		customer_forget_user(json_string_value(json_object_get(req->reply, "user_id")));
	return err;
}

enum gl_err
customer_delete(struct gl_req *req)
{
	json_t *doc = NULL;
	bson_oid_t oid;
	enum gl_err err;

	/* Whose record it was, so that user's cached list goes too. */
	if (gl_oid_parse(gl_req_capture(req, "id"), &oid) &&
	    gl_db_get("customers", &oid, &doc) != GL_OK)
		doc = NULL;
	if ((err = gl_crud_delete(req, &customers)) == GL_OK && doc != NULL)
		customer_forget_user(json_string_value(json_object_get(doc, "user_id")));
	json_decref(doc);
	return err;
}

/*
 * Invitations: the proof that links an account to a record staff made.  The
 * code is 40 hex digits: a selector (16, the invitation's _id) and a secret
 * (24, 96 bits, stored only as its BLAKE2b hash).  It is shown once, to staff;
 * it links one account (a unique insert in invitation_uses decides which),
 * until it expires, and INVITE_TRIES wrong secrets for its selector end it.
 */
static void
invite_hash(const char *secret, char hex[65])
{
	unsigned char h[32];

	crypto_generichash(h, sizeof(h), (const unsigned char *)secret, strlen(secret), NULL, 0);
	sodium_bin2hex(hex, 65, h, sizeof(h));
}

enum gl_err
customer_invite(struct gl_req *req)
{
	unsigned char raw[INVITE_CODE_HEX / 2];
	char code[INVITE_CODE_HEX + 1], sel[INVITE_SELECTOR_HEX + 1], hash[65], at[32];
	bson_t doc = BSON_INITIALIZER;
	int64_t exp = (int64_t)time(NULL) + INVITE_TTL;
	bson_oid_t cid;
	json_t *rec, *out;
	enum gl_err err;

	if (!gl_oid_parse(gl_req_capture(req, "id"), &cid))
		return GL_E_INTERNAL;
	if ((err = gl_db_get("customers", &cid, &rec)) == GL_E_NOT_FOUND)
		return gl_fail(req, err, NULL, "no customer has this id");
	if (err != GL_OK)
		return err;
	bool linked = json_is_string(json_object_get(rec, "user_id"));
	json_decref(rec);
	if (linked)
		return gl_fail(req, GL_E_INVALID_STATE, NULL,
		               "this customer is linked to an account already");
	randombytes_buf(raw, sizeof(raw));
	sodium_bin2hex(code, sizeof(code), raw, sizeof(raw));
	sodium_memzero(raw, sizeof(raw));
	memcpy(sel, code, INVITE_SELECTOR_HEX);
	sel[INVITE_SELECTOR_HEX] = '\0';
	invite_hash(code + INVITE_SELECTOR_HEX, hash);
	BSON_APPEND_UTF8(&doc, "_id", sel);
	BSON_APPEND_OID(&doc, "customer_id", &cid);
	BSON_APPEND_UTF8(&doc, "secret_hash", hash);
	BSON_APPEND_INT64(&doc, "expires", exp);
	BSON_APPEND_DATE_TIME(&doc, "expires_at", exp * 1000);
	BSON_APPEND_INT64(&doc, "attempts", 0);
	gl_doc_append_oid(&doc, "created_by", req->user_id);
	err = gl_db_insert("invitations", &doc);
	bson_destroy(&doc);
	if (err != GL_OK) {
		sodium_memzero(code, sizeof(code));
		return err == GL_E_CONFLICT ? GL_E_INTERNAL : err; /* 64 random bits met */
	}
	gl_doc_time(at, sizeof(at), exp * 1000);
	out = json_pack("{s:s, s:s, s:s}", "code", code, "customer_id", gl_req_capture(req, "id"),
	                "expires_at", at);
	sodium_memzero(code, sizeof(code));
	return out != NULL ? gl_reply(req, 201, out) : GL_E_INTERNAL;
}

static enum gl_err
invite_refused(struct gl_req *req)
{
	/* One answer for unknown, wrong, expired, used and worn out: no oracle. */
	return gl_fail(req, GL_E_VALIDATION, "invitation",
	               "is not a valid invitation: it is unknown, expired or used up (staff can "
	               "make a new one)");
}

/* Redeem code for uid: *cid is the invited record.  Fails through req. */
static enum gl_err
invite_redeem(struct gl_req *req, const char *code, const bson_oid_t *uid, bson_oid_t *cid)
{
	char sel[INVITE_SELECTOR_HEX + 1], hash[65];
	bson_t filter = BSON_INITIALIZER, inc = BSON_INITIALIZER, use = BSON_INITIALIZER, child;
	const char *stored;
	json_t *inv = NULL, *used = NULL;
	enum gl_err err;
	bool match;

	memcpy(sel, code, INVITE_SELECTOR_HEX);
	sel[INVITE_SELECTOR_HEX] = '\0';
	BSON_APPEND_UTF8(&filter, "_id", sel);
	err = gl_db_find_one("invitations", &filter, &inv);
	if (err != GL_OK) {
		bson_destroy(&filter);
		return err == GL_E_NOT_FOUND ? invite_refused(req) : err;
	}
	invite_hash(code + INVITE_SELECTOR_HEX, hash);
	stored = json_string_value(json_object_get(inv, "secret_hash"));
	match = stored != NULL && strlen(stored) == 64 && sodium_memcmp(stored, hash, 64) == 0;
	if (json_integer_value(json_object_get(inv, "expires")) <= (long long)time(NULL) ||
	    json_integer_value(json_object_get(inv, "attempts")) >= INVITE_TRIES || !match ||
	    !gl_oid_parse(json_string_value(json_object_get(inv, "customer_id")), cid)) {
		if (!match) { /* counted, so a selector's secret cannot be guessed for long */
			BSON_APPEND_DOCUMENT_BEGIN(&inc, "$inc", &child);
			BSON_APPEND_INT64(&child, "attempts", 1);
			bson_append_document_end(&inc, &child);
			if (gl_db_update_where("invitations", &filter, &inc) != GL_OK)
				gl_log(GL_LOG_WARN, req->request_id,
				       "invitation: a wrong try could not be counted");
		}
		err = invite_refused(req);
		goto out;
	}
	/* One use: the first account to insert it wins; the same account again is a retry. */
	BSON_APPEND_UTF8(&use, "_id", sel);
	BSON_APPEND_OID(&use, "user_id", uid);
	err = gl_db_insert("invitation_uses", &use);
	if (err == GL_E_CONFLICT) {
		err = gl_db_find_one("invitation_uses", &filter, &used);
		if (err == GL_OK) {
			bson_oid_t by;
			if (!gl_oid_parse(json_string_value(json_object_get(used, "user_id")),
			                  &by) ||
			    !bson_oid_equal(&by, uid))
				err = invite_refused(req);
		} else if (err == GL_E_NOT_FOUND) {
			err = invite_refused(req);
		}
	}
out:
	bson_destroy(&filter);
	bson_destroy(&inc);
	bson_destroy(&use);
	json_decref(inv);
	json_decref(used);
	return err;
}

/* Link the invited record cid to uid. */
static enum gl_err
link_invited(struct gl_req *req, const bson_oid_t *uid, const bson_oid_t *cid)
{
	bson_t set = BSON_INITIALIZER;
	bson_oid_t by;
	json_t *doc;
	enum gl_err err;

	if ((err = gl_db_get("customers", cid, &doc)) == GL_E_NOT_FOUND)
		return invite_refused(req); /* deleted since */
	if (err != GL_OK)
		return err;
	const char *linked = json_string_value(json_object_get(doc, "user_id"));
	if (linked != NULL) {
		bool mine = gl_oid_parse(linked, &by) && bson_oid_equal(&by, uid);
		if (mine)
			return gl_reply(req, 200, doc);
		json_decref(doc);
		return gl_fail(req, GL_E_CONFLICT, "invitation",
		               "this customer is linked to another account already");
	}
	json_decref(doc);
	BSON_APPEND_OID(&set, "user_id", uid);
	err = gl_db_update("customers", cid, -1, &set, &doc);
	bson_destroy(&set);
	if (err == GL_E_NOT_FOUND)
		return invite_refused(req);
	if (err != GL_OK)
		return err;
	gl_crud_drop_cache(&customers, json_string_value(json_object_get(doc, "id")));
	return gl_reply(req, 200, doc);
}

/* The user's own record, made now if it has none (201). */
static enum gl_err
link_own(struct gl_req *req, const bson_oid_t *uid)
{
	bson_t filter = BSON_INITIALIZER;
	bson_oid_t cid;
	json_t *doc = NULL;
	enum gl_err err;

	BSON_APPEND_OID(&filter, "user_id", uid);
	for (int attempt = 0; attempt < 2; attempt++) {
		err = gl_db_find_one("customers", &filter, &doc);
		if (err != GL_E_NOT_FOUND)
			break;
		bson_t ins = BSON_INITIALIZER;
		bson_oid_init(&cid, NULL);
		BSON_APPEND_OID(&ins, "_id", &cid);
		gl_doc_append_fields(&ins, customer_fields, req->body);
		BSON_APPEND_OID(&ins, "user_id", uid);
		BSON_APPEND_INT64(&ins, "version", 1);
		err = gl_db_insert("customers", &ins);
		bson_destroy(&ins);
		if (err != GL_E_CONFLICT) /* a racing link made it first: read theirs */
			break;
	}
	bson_destroy(&filter);
	if (err == GL_OK && doc == NULL) {
		err = gl_db_get("customers", &cid, &doc);
		return err == GL_OK ? gl_reply(req, 201, doc) : err;
	}
	return err == GL_OK ? gl_reply(req, 200, doc) : err;
}

/*
 * Link a registered user to its customer record: the record an invitation
 * names (the proof that the record is this person's), else a record of its
 * own, made now if there is none: an email alone proves nothing (issue 15).
 * Idempotent, so the auth service may call it again (at sign-in).
 */
enum gl_err
customer_link(struct gl_req *req)
{
	const char *code = json_string_value(json_object_get(req->body, "invitation"));
	bson_oid_t uid, cid;
	enum gl_err err;

	gl_valid_lower(req->body, "email");
	if (!gl_oid_parse(json_string_value(json_object_get(req->body, "user_id")), &uid))
		return GL_E_INTERNAL;
	if (code != NULL) {
		if ((err = invite_redeem(req, code, &uid, &cid)) == GL_OK)
			err = link_invited(req, &uid, &cid);
	} else {
		err = link_own(req, &uid);
	}
	if (err == GL_OK) /* the user's list was empty, cached maybe: now it has a record */
		customer_forget_user(json_string_value(json_object_get(req->body, "user_id")));
	return err;
}
