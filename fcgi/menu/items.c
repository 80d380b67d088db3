#include <stdio.h>

#include "cache.h"
#include "conf.h"
#include "crud.h"
#include "db.h"
#include "http.h"
#include "items.h"

const struct gl_field item_fields[] = {
	{ "name", GL_T_STRING, GL_REQUIRED, 1, 120 },
	{ "description", GL_T_STRING, 0, 0, 1000 },
	{ "price_cents", GL_T_INT, GL_REQUIRED, 0, 10000000 },
	{ "currency", GL_T_STRING, 0, 3, 3, .check = gl_valid_currency },
	{ "supplier_id", GL_T_OID, GL_REQUIRED },
	{ "available", GL_T_BOOL },
	{ "tags", GL_T_STRINGS, 0, 0, 20, .item_max = 32 },
	{ 0 },
};

/* Any item change makes the whole menu stale. */
static const char *const menu_keys[] = { "galley:menu:available", NULL };
static const struct gl_crud items = { "items", "item", item_fields, menu_keys };

static enum gl_err
menu_load(void *arg, json_t **out)
{
	bson_t filter = BSON_INITIALIZER;
	json_t *list;
	enum gl_err err;

	(void)arg;
	BSON_APPEND_BOOL(&filter, "available", true);
	err = gl_db_find_all("items", &filter, MENU_MAX_ITEMS, &list);
	bson_destroy(&filter);
	if (err != GL_OK)
		return err;
	*out = json_pack("{s:o}", "items", list);
	return *out != NULL ? GL_OK : GL_E_INTERNAL;
}

enum gl_err
menu_list(struct gl_req *req)
{
	return gl_cache_reply(req, menu_keys[0], menu_load, NULL);
}

enum gl_err
item_get(struct gl_req *req)
{
	return gl_crud_get(req, &items);
}

/* supplier_id must name a supplier: ask the suppliers service, which owns them. */
static enum gl_err
supplier_check(struct gl_req *req)
{
	json_t *id = json_object_get(req->body, "supplier_id");
	char path[64];
	long status;
	enum gl_err err;

	if (id == NULL)
		return GL_OK;
	snprintf(path, sizeof(path), "/api/suppliers/%s", json_string_value(id));
	if ((err = gl_http_get(req, path, &status, NULL)) != GL_OK)
		return gl_fail(req, err, NULL,
		               "the suppliers service could not be asked about supplier_id");
	if (status == 404)
		return gl_fail(req, GL_E_VALIDATION, "supplier_id",
		               "supplier_id names no supplier");
	if (status != 200)
		return gl_fail(req, GL_E_UPSTREAM_BAD, NULL,
		               "the suppliers service answered %ld about supplier_id", status);
	return GL_OK;
}

static void
item_defaults(json_t *body)
{
	if (json_object_get(body, "description") == NULL)
		json_object_set_new(body, "description", json_string(""));
	if (json_object_get(body, "currency") == NULL)
		json_object_set_new(body, "currency", json_string("EUR"));
	if (json_object_get(body, "available") == NULL)
		json_object_set_new(body, "available", json_true());
	if (json_object_get(body, "tags") == NULL)
		json_object_set_new(body, "tags", json_array());
}

enum gl_err
item_create(struct gl_req *req)
{
	enum gl_err err;

	if ((err = supplier_check(req)) != GL_OK)
		return err;
	item_defaults(req->body);
	return gl_crud_create(req, &items);
}

enum gl_err
item_update(struct gl_req *req)
{
	enum gl_err err;

	if ((err = supplier_check(req)) != GL_OK)
		return err;
	return gl_crud_update(req, &items);
}

enum gl_err
item_delete(struct gl_req *req)
{
	return gl_crud_delete(req, &items);
}
