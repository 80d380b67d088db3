#include <string.h>

#include "cache.h"
#include "crud.h"
#include "customers.h"
#include "db.h"
#include "doc.h"

const struct gl_field customer_fields[] = {
	{ "name", GL_T_STRING, GL_REQUIRED, 1, 120 },
	{ "email", GL_T_STRING, GL_REQUIRED, 3, 254, .check = gl_valid_email },
	{ "phone", GL_T_STRING, 0, 0, 32, .check = gl_valid_phone },
	{ "address", GL_T_STRING, 0, 0, 300 },
	{ 0 },
};

/* What the auth service sends when a user registers. */
const struct gl_field link_fields[] = {
	{ "user_id", GL_T_OID, GL_REQUIRED },
	{ "name", GL_T_STRING, GL_REQUIRED, 1, 120 },
	{ "email", GL_T_STRING, GL_REQUIRED, 3, 254, .check = gl_valid_email },
	{ 0 },
};

static const struct gl_crud customers = { "customers", "customer", customer_fields, NULL,
	                                  "a customer with this email exists already" };

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
 * Link a registered user to its customer record: the record with the
 * user's email, made now if there is none.  Idempotent, so the auth service
 * may call it again (at sign-in) when an earlier call did not get through.
 */
static enum gl_err customer_link_apply(struct gl_req *req);

enum gl_err
customer_link(struct gl_req *req)
{
	enum gl_err err = customer_link_apply(req);

	if (err == GL_OK) /* the user's list was empty, cached maybe: now it has a record */
		customer_forget_user(json_string_value(json_object_get(req->body, "user_id")));
	return err;
}

static enum gl_err
customer_link_apply(struct gl_req *req)
{
	bson_t filter = BSON_INITIALIZER, set = BSON_INITIALIZER;
	bson_oid_t uid, cid;
	json_t *doc = NULL, *out;
	enum gl_err err;

	gl_valid_lower(req->body, "email");
	gl_oid_parse(json_string_value(json_object_get(req->body, "user_id")), &uid);
	BSON_APPEND_UTF8(&filter, "email", json_string_value(json_object_get(req->body, "email")));
	for (int attempt = 0; attempt < 2; attempt++) {
		err = gl_db_find_one("customers", &filter, &doc);
		if (err != GL_E_NOT_FOUND)
			break;
		bson_t ins = BSON_INITIALIZER;
		bson_oid_init(&cid, NULL);
		BSON_APPEND_OID(&ins, "_id", &cid);
		gl_doc_append_fields(&ins, customer_fields, req->body);
		BSON_APPEND_OID(&ins, "user_id", &uid);
		BSON_APPEND_INT64(&ins, "version", 1);
		err = gl_db_insert("customers", &ins);
		bson_destroy(&ins);
		if (err != GL_E_CONFLICT) /* a racing link made it first: read theirs */
			break;
	}
	bson_destroy(&filter);
	if (err == GL_OK && doc == NULL) {
		err = gl_db_get("customers", &cid, &out);
		return err == GL_OK ? gl_reply(req, 201, out) : err;
	}
	if (err != GL_OK)
		return err;
	const char *linked = json_string_value(json_object_get(doc, "user_id"));
	if (linked != NULL &&
	    strcmp(linked, json_string_value(json_object_get(req->body, "user_id"))) != 0) {
		json_decref(doc);
		return gl_fail(req, GL_E_CONFLICT, "email",
		               "this customer belongs to another user");
	}
	if (linked == NULL) {
		gl_oid_parse(json_string_value(json_object_get(doc, "id")), &cid);
		json_decref(doc);
		BSON_APPEND_OID(&set, "user_id", &uid);
		err = gl_db_update("customers", &cid, -1, &set, &doc);
		gl_crud_drop_cache(&customers, json_string_value(json_object_get(doc, "id")));
	}
	bson_destroy(&set);
	return err == GL_OK ? gl_reply(req, 200, doc) : err;
}
