#include <stdio.h>
#include <string.h>

#include "cache.h"
#include "crud.h"
#include "db.h"
#include "doc.h"
#include "idem.h"

void
gl_crud_drop_cache(const struct gl_crud *c, const char *id)
{
	char key[GL_CACHE_KEY_MAX];
	const char *keys[GL_CACHE_DEL_MAX + 1];
	int n = 0;

	if (id != NULL && gl_cache_key(key, sizeof(key), c->what, id) == 0)
		keys[n++] = key;
	/* One more than gl_cache_del() takes, so that too many also_drop keys are logged. */
	for (int i = 0; c->also_drop != NULL && c->also_drop[i] != NULL && n <= GL_CACHE_DEL_MAX;
	     i++)
		keys[n++] = c->also_drop[i];
	if (n > 0)
		(void)gl_cache_del(keys, n);
}

enum gl_err
gl_crud_create(struct gl_req *req, const struct gl_crud *c)
{
	bson_t doc = BSON_INITIALIZER;
	struct gl_idem idem;
	bson_oid_t oid;
	bool replayed;
	enum gl_err err;
	json_t *out = NULL;

	if ((err = gl_idem_begin(req, c->coll, &idem, &replayed)) != GL_OK || replayed) {
		bson_destroy(&doc);
		return err;
	}
	bson_oid_init(&oid, NULL);
	BSON_APPEND_OID(&doc, "_id", &oid);
	if (!gl_doc_append_fields(&doc, c->fields, req->body) ||
	    (c->create_null != NULL && !BSON_APPEND_NULL(&doc, c->create_null)) ||
	    !BSON_APPEND_INT64(&doc, "version", 1))
		err = GL_E_INTERNAL;
	else
		err = gl_db_insert(c->coll, &doc);
	if (err == GL_OK && (out = gl_doc_to_json_new(&doc)) == NULL)
		err = GL_E_INTERNAL;
	bson_destroy(&doc);
	if (err != GL_OK) {
		gl_idem_release(&idem);
		if (err == GL_E_CONFLICT)
			return gl_fail(req, err, NULL, "%s",
			               c->conflict ? c->conflict : "this exists already");
		return err;
	}
	gl_idem_store(&idem, 201, out);
	gl_crud_drop_cache(c, NULL);
	snprintf(req->location, sizeof(req->location), "%s/%s", req->path,
	         json_string_value(json_object_get(out, "id")));
	return gl_reply(req, 201, out);
}

struct crud_load {
	const struct gl_crud *c;
	bson_oid_t oid;
};

static enum gl_err
crud_load(void *arg, json_t **out)
{
	struct crud_load *l = arg;

	return gl_db_get(l->c->coll, &l->oid, out);
}

enum gl_err
gl_crud_get(struct gl_req *req, const struct gl_crud *c)
{
	char key[GL_CACHE_KEY_MAX];
	struct crud_load l = { .c = c };
	const char *id = gl_req_capture(req, "id");
	enum gl_err err;

	if (!gl_oid_parse(id, &l.oid) || gl_cache_key(key, sizeof(key), c->what, id) < 0)
		return GL_E_INTERNAL; /* the router let through a malformed id */
	err = gl_cache_reply(req, key, crud_load, &l);
	if (err == GL_E_NOT_FOUND)
		return gl_fail(req, err, NULL, "no %s has this id", c->what);
	return err;
}

enum gl_err
gl_crud_list(struct gl_req *req, const struct gl_crud *c, const bson_t *filter)
{
	struct gl_page page;
	json_t *out;
	enum gl_err err;

	gl_req_page(req, &page);
	if ((err = gl_db_list(c->coll, filter, &page, &out)) != GL_OK)
		return err;
	return gl_reply(req, 200, out);
}

enum gl_err
gl_crud_update(struct gl_req *req, const struct gl_crud *c)
{
	const char *id = gl_req_capture(req, "id");
	bson_t set = BSON_INITIALIZER;
	long long version;
	bson_oid_t oid;
	json_t *out;
	enum gl_err err;

	if (!gl_oid_parse(id, &oid))
		return GL_E_INTERNAL;
	if ((err = gl_req_if_match(req, &version)) != GL_OK)
		return err;
	if (!gl_doc_append_fields(&set, c->fields, req->body)) {
		bson_destroy(&set);
		return GL_E_INTERNAL;
	}
	err = gl_db_update(c->coll, &oid, version, &set, &out);
	bson_destroy(&set);
	/* Drop the cache even on failure: a conflict may mean our copy is the stale one. */
	gl_crud_drop_cache(c, id);
	if (err == GL_E_NOT_FOUND)
		return gl_fail(req, err, NULL, "no %s has this id", c->what);
	if (err == GL_E_CONFLICT && version >= 0)
		return gl_fail(req, err, "If-Match", "the %s has changed since version %lld",
		               c->what, version);
	if (err == GL_E_CONFLICT)
		return gl_fail(req, err, NULL, "%s",
		               c->conflict ? c->conflict : "this exists already");
	if (err != GL_OK)
		return err;
	return gl_reply(req, 200, out);
}

enum gl_err
gl_crud_delete(struct gl_req *req, const struct gl_crud *c)
{
	const char *id = gl_req_capture(req, "id");
	bson_oid_t oid;
	enum gl_err err;

	if (!gl_oid_parse(id, &oid))
		return GL_E_INTERNAL;
	err = gl_db_delete(c->coll, &oid);
	gl_crud_drop_cache(c, id);
	if (err == GL_E_NOT_FOUND)
		return gl_fail(req, err, NULL, "no %s has this id", c->what);
	if (err != GL_OK)
		return err;
	return gl_reply(req, 204, NULL);
}
