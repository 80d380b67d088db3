#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "auth.h"
#include "conf.h"
#include "db.h"
#include "doc.h"
#include "http.h"
#include "idem.h"
#include "log.h"
#include "secret.h"

static const char *const roles[] = { "customer", "staff", "admin", NULL };

/* An invitation code from staff (customers service): 40 lower-case hex digits. */
static const char *
invitation_check(const char *s)
{
	if (strlen(s) != 40 || strspn(s, "0123456789abcdef") != 40)
		return "must be an invitation code: 40 hex digits, as staff gave it";
	return NULL;
}

const struct gl_field register_fields[] = {
	{ "email", GL_T_STRING, GL_REQUIRED, 3, 254, .check = gl_valid_email, .max_bytes = 254 },
	{ "password", GL_T_STRING, GL_REQUIRED, 8, 128 },
	{ "name", GL_T_STRING, GL_REQUIRED, 1, 120 },
	{ "invitation", GL_T_STRING, 0, 40, 40, .check = invitation_check },
	{ 0 },
};

const struct gl_field role_fields[] = {
	{ "role", GL_T_ENUM, GL_REQUIRED, .values = roles },
	{ 0 },
};

json_t *
user_public_new(const json_t *doc)
{
	json_t *cid = json_object_get(doc, "customer_id");

	/* Built field by field: the password hash must never reach a response. */
	return json_pack("{s:O, s:O, s:O, s:O, s:O}", "id", json_object_get(doc, "id"), "email",
	                 json_object_get(doc, "email"), "name", json_object_get(doc, "name"),
	                 "role", json_object_get(doc, "role"), "customer_id",
	                 cid != NULL ? cid : json_null());
}

/* Insert a user; *out (new) is its public form.  Nothing stays when it fails. */
static enum gl_err
user_insert(const char *email, const char *name, const char *password, const char *role,
            json_t **out)
{
	char hash[SECRET_HASH_MAX], *mail;
	bson_t doc = BSON_INITIALIZER;
	bson_oid_t oid;
	enum gl_err err;
	json_t *j;

	*out = NULL;
	/* As long as the address is: a fixed buffer cut it (issue 15). */
	if ((mail = gl_valid_lower_dup(email)) == NULL)
		return GL_E_INTERNAL;
	if (secret_password_hash(password, hash) != 0) {
		free(mail);
		return GL_E_INTERNAL;
	}
	bson_oid_init(&oid, NULL);
	BSON_APPEND_OID(&doc, "_id", &oid);
	BSON_APPEND_UTF8(&doc, "email", mail);
	BSON_APPEND_UTF8(&doc, "name", name);
	BSON_APPEND_UTF8(&doc, "role", role);
	BSON_APPEND_NULL(&doc, "customer_id");
	BSON_APPEND_UTF8(&doc, "password_hash", hash);
	BSON_APPEND_INT64(&doc, "version", 1);
	BSON_APPEND_DATE_TIME(&doc, "created_at", (int64_t)time(NULL) * 1000);
	err = gl_db_insert("users", &doc);
	sodium_memzero(hash, sizeof(hash));
	free(mail);
	if (err == GL_OK) {
		j = gl_doc_to_json_new(&doc);
		*out = j != NULL ? user_public_new(j) : NULL;
		json_decref(j);
		if (*out == NULL) {
			err = GL_E_INTERNAL;
			if (gl_db_delete("users", &oid) != GL_OK)
				gl_log(GL_LOG_ERROR, NULL, "a user half made could not be removed");
		}
	}
	bson_destroy(&doc);
	return err;
}

/*
 * Link the user (public JSON, borrowed and updated in place) to its customer
 * record in the customers service: the record an invitation names, or one of
 * its own.  Without an invitation a failure leaves customer_id null and is
 * tried again at the next sign-in (GL_OK: registering does not wait on it).
 * With one, the link is the point: a refused invitation is that error (the
 * customers service's message on req), a service away is its error.
 */
enum gl_err
user_link_customer(struct gl_req *req, json_t *user, const char *invitation)
{
	const char *role = json_string_value(json_object_get(user, "role"));
	const char *msg;
	bson_t set = BSON_INITIALIZER;
	bson_oid_t uid, cid;
	json_t *in, *out = NULL, *doc = NULL;
	long status = 0;
	enum gl_err err;

	if (!json_is_null(json_object_get(user, "customer_id")) || role == NULL ||
	    strcmp(role, "customer") != 0)
		return GL_OK;
	in = json_pack("{s:O, s:O, s:O}", "user_id", json_object_get(user, "id"), "name",
	               json_object_get(user, "name"), "email", json_object_get(user, "email"));
	if (in != NULL && invitation != NULL &&
	    json_object_set_new(in, "invitation", json_string(invitation)) != 0) {
		json_decref(in);
		in = NULL;
	}
	if (in == NULL)
		return invitation != NULL ? GL_E_INTERNAL : GL_OK;
	err = gl_http_post(req, "/internal/customers/link", in, &status, &out);
	json_decref(in);
	if (err == GL_OK && invitation != NULL && (status == 400 || status == 409)) {
		/* The customers service said why: a bad invitation, a record taken. */
		msg = json_string_value(json_object_get(json_object_get(out, "error"), "message"));
		err = gl_fail(req, status == 400 ? GL_E_VALIDATION : GL_E_CONFLICT, "invitation",
		              "%s", msg != NULL ? msg : "the invitation cannot be used");
	} else if (err == GL_OK &&
	           ((status != 200 && status != 201) ||
	            !gl_oid_parse(json_string_value(json_object_get(out, "id")), &cid) ||
	            !gl_oid_parse(json_string_value(json_object_get(user, "id")), &uid))) {
		err = GL_E_UPSTREAM_BAD;
	}
	if (err == GL_OK) {
		BSON_APPEND_OID(&set, "customer_id", &cid);
		err = gl_db_update("users", &uid, -1, &set, &doc);
		if (err == GL_OK)
			json_object_set(user, "customer_id", json_object_get(out, "id"));
		json_decref(doc);
	}
	bson_destroy(&set);
	json_decref(out);
	if (err != GL_OK && invitation == NULL) {
		gl_log(GL_LOG_WARN, req->request_id,
		       "could not link the user to a customer (status %ld)", status);
		return GL_OK;
	}
	return err;
}

static bool admin_checked;

void
admin_ensure(void)
{
	bson_t filter = BSON_INITIALIZER;
	json_t *found, *user;
	enum gl_err err;

	if (admin_checked || gl_conf.admin_email[0] == '\0' || gl_conf.admin_password[0] == '\0')
		return;
	BSON_APPEND_UTF8(&filter, "role", "admin");
	err = gl_db_find_one("users", &filter, &found);
	bson_destroy(&filter);
	json_decref(found);
	if (err == GL_E_NOT_FOUND) {
		/* Sibling workers race here; the unique email index lets exactly one win. */
		err = user_insert(gl_conf.admin_email, "Administrator", gl_conf.admin_password,
		                  "admin", &user);
		if (err == GL_OK)
			gl_log(GL_LOG_INFO, NULL,
			       "created the first admin from GALLEY_ADMIN_EMAIL");
		else if (err == GL_E_CONFLICT)
			err = GL_OK;
		json_decref(user);
	}
	/* A database that is away now is tried again on the next sign-in. */
	admin_checked = err == GL_OK;
}

int
auth_init(void)
{
	admin_ensure();
	return 0;
}

enum gl_err
user_register(struct gl_req *req)
{
	const char *email = json_string_value(json_object_get(req->body, "email"));
	const char *invitation = json_string_value(json_object_get(req->body, "invitation"));
	struct gl_idem idem;
	bson_oid_t uid;
	bool replayed;
	json_t *user;
	enum gl_err err;

	admin_ensure();
	if ((err = gl_idem_begin(req, "users", &idem, &replayed)) != GL_OK || replayed)
		return err;
	err = user_insert(email, json_string_value(json_object_get(req->body, "name")),
	                  json_string_value(json_object_get(req->body, "password")), "customer",
	                  &user);
	if (err != GL_OK) {
		gl_idem_release(&idem);
		if (err == GL_E_CONFLICT)
			return gl_fail(req, err, "email",
			               "an account with this email exists already");
		return err;
	}
	if ((err = user_link_customer(req, user, invitation)) != GL_OK) {
		/* An invitation that does not hold: no account stays behind either. */
		if (gl_oid_parse(json_string_value(json_object_get(user, "id")), &uid) &&
		    gl_db_delete("users", &uid) != GL_OK)
			gl_log(GL_LOG_ERROR, req->request_id,
			       "register: the user of a refused invitation could not be removed");
		json_decref(user);
		gl_idem_release(&idem);
		return err;
	}
	gl_idem_store(&idem, 201, user);
	return gl_reply(req, 201, user);
}

enum gl_err
user_me(struct gl_req *req)
{
	bson_oid_t oid;
	json_t *doc;
	enum gl_err err;

	if (!gl_oid_parse(req->user_id, &oid))
		return GL_E_INTERNAL;
	if ((err = gl_db_get("users", &oid, &doc)) != GL_OK)
		return err == GL_E_NOT_FOUND ? gl_fail(req, GL_E_UNAUTHENTICATED, NULL,
		                                       "this account no longer exists")
		                             : err;
	json_t *user = user_public_new(doc);
	json_decref(doc);
	return user != NULL ? gl_reply(req, 200, user) : GL_E_INTERNAL;
}

enum gl_err
user_list(struct gl_req *req)
{
	struct gl_page page;
	json_t *out, *items, *doc, *pub;
	enum gl_err err;
	size_t i;

	gl_req_page(req, &page);
	if ((err = gl_db_list("users", NULL, &page, &out)) != GL_OK)
		return err;
	items = json_object_get(out, "items");
	json_array_foreach(items, i, doc) {
		if ((pub = user_public_new(doc)) == NULL) {
			json_decref(out);
			return GL_E_INTERNAL;
		}
		json_array_set_new(items, i, pub);
	}
	return gl_reply(req, 200, out);
}

/* Is there an admin other than id? */
static enum gl_err
other_admin(const bson_oid_t *id)
{
	bson_t filter = BSON_INITIALIZER, ne;
	json_t *found;
	enum gl_err err;

	BSON_APPEND_UTF8(&filter, "role", "admin");
	BSON_APPEND_DOCUMENT_BEGIN(&filter, "_id", &ne);
	BSON_APPEND_OID(&ne, "$ne", id);
	bson_append_document_end(&filter, &ne);
	err = gl_db_find_one("users", &filter, &found);
	bson_destroy(&filter);
	json_decref(found);
	return err;
}

enum gl_err
user_set_role(struct gl_req *req)
{
	const char *id = gl_req_capture(req, "id");
	const char *role = json_string_value(json_object_get(req->body, "role"));
	bson_t set = BSON_INITIALIZER;
	long long version;
	bson_oid_t oid;
	json_t *doc, *user;
	enum gl_err err;

	if (!gl_oid_parse(id, &oid))
		return GL_E_INTERNAL;
	if ((err = gl_req_if_match(req, &version)) != GL_OK)
		return err;
	if (strcmp(role, "admin") != 0) {
		err = other_admin(&oid);
		if (err == GL_E_NOT_FOUND)
			return gl_fail(req, GL_E_INVALID_STATE, "role",
			               "galley needs an admin: make another user admin first");
		if (err != GL_OK)
			return err;
	}
	BSON_APPEND_UTF8(&set, "role", role);
	err = gl_db_update("users", &oid, version, &set, &doc);
	bson_destroy(&set);
	if (err == GL_E_NOT_FOUND)
		return gl_fail(req, err, NULL, "no user has this id");
	if (err == GL_E_CONFLICT)
		return gl_fail(req, err, "If-Match", "the user has changed since version %lld",
		               version);
	if (err != GL_OK)
		return err;
	user = user_public_new(doc);
	json_decref(doc);
	/* Signed-in sessions carry the role: they must follow it now, not at next sign-in. */
	if ((err = session_set_role(id, role)) != GL_OK) {
		json_decref(user);
		return err;
	}
	return user != NULL ? gl_reply(req, 200, user) : GL_E_INTERNAL;
}
