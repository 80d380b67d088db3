/* The kitchen's routes: the tickets, and handing a ready order over (API.md, kitchen). */
#include <string.h>
#include <time.h>

#include "db.h"
#include "doc.h"
#include "kept.h"
#include "kitchen.h"
#include "log.h"

static const char *const ticket_statuses[] = { "paid",      "preparing", "ready",
	                                       "completed", "cancelled", NULL };

const struct gl_field ticket_query[] = {
	{ "limit", GL_T_INT, 0, 1, GL_PAGE_LIMIT_MAX },
	{ "after", GL_T_OID },
	{ "status", GL_T_ENUM, .values = ticket_statuses },
	{ 0 },
};

enum gl_err
ticket_list(struct gl_req *req)
{
	const char *status = json_string_value(json_object_get(req->query, "status"));
	bson_t filter = BSON_INITIALIZER;
	struct gl_page page;
	json_t *out;
	enum gl_err err;

	gl_req_page(req, &page);
	/* From the store's sets once built (kept.h): the board asks for three statuses every
	 * few seconds, and a query by status reads every ticket in FerretDB. */
	if (gl_kept_listed("tickets")) {
		if ((err = gl_kept_list("tickets", status, NULL, &page, &out)) != GL_OK)
			return err;
		return gl_reply(req, 200, out);
	}
	if (status != NULL)
		BSON_APPEND_UTF8(&filter, "status", status);
	err = gl_db_list("tickets", &filter, &page, &out);
	bson_destroy(&filter);
	if (err != GL_OK)
		return err;
	return gl_reply(req, 200, out);
}

/* The ticket named in the path into *doc (new), or 404. */
static enum gl_err
ticket_load(struct gl_req *req, bson_oid_t *oid, json_t **doc)
{
	enum gl_err err;

	if (!gl_oid_parse(gl_req_capture(req, "id"), oid))
		return GL_E_INTERNAL; /* the route matcher checked it */
	err = gl_db_get("tickets", oid, doc);
	if (err == GL_E_NOT_FOUND)
		return gl_fail(req, err, NULL, "no ticket has this id");
	return err;
}

enum gl_err
ticket_get(struct gl_req *req)
{
	bson_oid_t oid;
	json_t *doc;
	enum gl_err err;

	if ((err = ticket_load(req, &oid, &doc)) != GL_OK)
		return err;
	return gl_reply(req, 200, doc);
}

/* Why a ticket in this status cannot be handed over (422). */
static enum gl_err
ticket_not_ready(struct gl_req *req, const json_t *doc)
{
	const char *status = json_string_value(json_object_get(doc, "status"));

	if (status == NULL)
		return GL_E_INTERNAL;
	if (strcmp(status, "cancelled") == 0)
		return gl_fail(req, GL_E_INVALID_STATE, NULL,
		               "a cancelled ticket cannot be handed over");
	if (strcmp(status, "paid") == 0)
		return gl_fail(req, GL_E_INVALID_STATE, NULL,
		               "a paid ticket waits for a cook: it cannot be handed over yet");
	return gl_fail(req, GL_E_INVALID_STATE, NULL, "a %s ticket cannot be handed over yet",
	               status);
}

/*
 * ready → completed, announced as order.completed.  Completing a completed
 * ticket answers it as it is, so a retried or doubled click is harmless.
 */
enum gl_err
ticket_complete(struct gl_req *req)
{
	bson_oid_t oid;
	json_t *doc, *out = NULL;
	long long version;
	bson_t extra;
	enum gl_err err;

	if ((err = gl_req_if_match(req, &version)) != GL_OK)
		return err;
	if ((err = ticket_load(req, &oid, &doc)) != GL_OK)
		return err;
	if (version >= 0 && json_integer_value(json_object_get(doc, "version")) != version) {
		json_decref(doc);
		return gl_fail(req, GL_E_CONFLICT, "If-Match",
		               "the ticket has changed since version %lld", version);
	}
	if (ticket_status_is(doc, "completed"))
		return gl_reply(req, 200, doc);
	if (!ticket_status_is(doc, "ready")) {
		err = ticket_not_ready(req, doc);
		json_decref(doc);
		return err;
	}
	bson_init(&extra);
	BSON_APPEND_DATE_TIME(&extra, "completed_at", (int64_t)time(NULL) * 1000);
	err = ticket_move(req, doc, "completed", &extra, "order.completed", &out);
	json_decref(doc);
	bson_destroy(&extra);
	if (err == GL_E_CONFLICT && version < 0 && gl_db_get("tickets", &oid, &doc) == GL_OK) {
		/* Changed meanwhile: by someone who completed it first, that is done. */
		if (ticket_status_is(doc, "completed"))
			return gl_reply(req, 200, doc);
		json_decref(doc);
	}
	if (err == GL_E_CONFLICT)
		return gl_fail(req, err, NULL, "the ticket changed while it was being completed");
	if (err != GL_OK)
		return err;
	gl_log(GL_LOG_INFO, req->request_id, "ticket %s completed", gl_req_capture(req, "id"));
	return gl_reply(req, 200, out);
}
