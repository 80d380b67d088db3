/* A ticket moved from status to status, and the event that announces each move. */
#include <string.h>
#include <time.h>

#include "db.h"
#include "doc.h"
#include "events.h"
#include "kitchen.h"

bool
ticket_status_is(const json_t *doc, const char *status)
{
	const char *s = json_string_value(json_object_get(doc, "status"));

	return s != NULL && strcmp(s, status) == 0;
}

/*
 * Stage type for the change that gives doc (borrowed) its next version:
 * {order_id, ticket_id, status, customer_id, user_id?}.
 */
static struct gl_event *
ticket_event(const struct gl_req *req, const char *type, const json_t *doc, const char *status,
             enum gl_err *err)
{
	const char *id = json_string_value(json_object_get(doc, "id"));
	struct gl_event_proof proof = { "tickets", id,
		                        json_integer_value(json_object_get(doc, "version")) + 1 };
	json_t *data =
	        json_pack("{s:s?, s:s?, s:s, s:O?}", "order_id", id, "ticket_id", id, "status",
	                  status, "customer_id", json_object_get(doc, "customer_id"));

	if (data == NULL || id == NULL) {
		json_decref(data);
		*err = GL_E_INTERNAL;
		return NULL;
	}
	if (json_object_get(doc, "user_id") != NULL)
		json_object_set(data, "user_id", json_object_get(doc, "user_id"));
	return gl_events_stage(req, type, data, &proof, err);
}

enum gl_err
ticket_move(const struct gl_req *req, const json_t *doc, const char *status, const bson_t *extra,
            const char *event, json_t **out)
{
	bson_t set = BSON_INITIALIZER;
	struct gl_event *ev = NULL;
	json_t *after = NULL;
	bson_oid_t oid;
	enum gl_err err = GL_OK;

	if (out != NULL)
		*out = NULL;
	if (!gl_oid_parse(json_string_value(json_object_get(doc, "id")), &oid)) {
		bson_destroy(&set);
		return GL_E_INTERNAL;
	}
	if (extra != NULL)
		bson_concat(&set, extra);
	BSON_APPEND_UTF8(&set, "status", status);
	BSON_APPEND_DATE_TIME(&set, "updated_at", (int64_t)time(NULL) * 1000);
	if (event != NULL)
		ev = ticket_event(req, event, doc, status, &err);
	if (err == GL_OK)
		err = gl_db_update("tickets", &oid,
		                   json_integer_value(json_object_get(doc, "version")), &set,
		                   &after);
	bson_destroy(&set);
	if (ev != NULL) {
		if (err == GL_OK)
			gl_events_send(ev);
		else if (err == GL_E_CONFLICT || err == GL_E_NOT_FOUND)
			gl_events_drop(ev); /* surely not written */
		else
			gl_events_leave(ev); /* the relay sends it if the write happened */
	}
	if (out != NULL)
		*out = after;
	else
		json_decref(after);
	return err;
}
