/* What the kitchen does on the events of other services (API.md, events). */
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "db.h"
#include "doc.h"
#include "events.h"
#include "kitchen.h"
#include "log.h"
#include "trace.h"

#define TICKET_MAX_LINES 100  /* as an order (fcgi/orders/orders.h) */
#define TICKET_MAX_QTY   1000 /* per line, as an order */
#define TICKET_NAME_MAX  200  /* characters of a line's name */

/* What is wrong with order.paid's lines (borrowed), or NULL (static). */
static const char *
ticket_lines_check(const json_t *lines)
{
	const json_t *l, *qty;
	const char *name;
	bson_oid_t oid;
	size_t i, len;

	if (!json_is_array(lines) || json_array_size(lines) < 1 ||
	    json_array_size(lines) > TICKET_MAX_LINES)
		return "lines must be an array of 1..100 lines";
	json_array_foreach(lines, i, l)
	{
		name = json_string_value(json_object_get(l, "name"));
		qty = json_object_get(l, "qty");
		len = name != NULL ? gl_valid_utf8_len(name) : 0;
		if (!gl_oid_parse(json_string_value(json_object_get(l, "item_id")), &oid))
			return "a line's item_id must be 24 hex digits";
		if (len < 1 || len > TICKET_NAME_MAX)
			return "a line's name must be a string of 1..200 characters";
		if (!json_is_integer(qty) || json_integer_value(qty) < 1 ||
		    json_integer_value(qty) > TICKET_MAX_QTY)
			return "a line's qty must be an integer 1..1000";
	}
	return NULL;
}

/*
 * Append order.paid's lines (borrowed, checked) to doc as the ticket's
 * lines, and their units as items.  Only what the kitchen uses is kept;
 * other keys the payments service may add are ignored.
 */
static void
ticket_append_lines(bson_t *doc, const json_t *lines)
{
	bson_t arr, el;
	const json_t *l;
	long long items = 0;
	char key[24]; /* a decimal size_t */
	size_t i;

	BSON_APPEND_ARRAY_BEGIN(doc, "lines", &arr);
	json_array_foreach(lines, i, l)
	{
		long long qty = json_integer_value(json_object_get(l, "qty"));

		snprintf(key, sizeof(key), "%zu", i);
		BSON_APPEND_DOCUMENT_BEGIN(&arr, key, &el);
		(void)gl_doc_append_oid(&el, "item_id",
		                        json_string_value(json_object_get(l, "item_id")));
		BSON_APPEND_UTF8(&el, "name", json_string_value(json_object_get(l, "name")));
		BSON_APPEND_INT64(&el, "qty", qty);
		bson_append_document_end(&arr, &el);
		items += qty;
	}
	bson_append_array_end(doc, &arr);
	BSON_APPEND_INT64(doc, "items", items);
}

/*
 * The ticket of order.paid's data (borrowed) into doc: NULL, or what is
 * wrong with the data (static).
 */
static const char *
ticket_build(bson_t *doc, const json_t *data, const bson_oid_t *oid)
{
	const json_t *user = json_object_get(data, "user_id");
	int64_t now = (int64_t)time(NULL) * 1000;
	const char *why;

	BSON_APPEND_OID(doc, "_id", oid);
	BSON_APPEND_OID(doc, "order_id", oid);
	if (!gl_doc_append_oid(doc, "customer_id",
	                       json_string_value(json_object_get(data, "customer_id"))))
		return "customer_id must be 24 hex digits";
	if (user != NULL && !json_is_null(user) &&
	    !gl_doc_append_oid(doc, "user_id", json_string_value(user)))
		return "user_id must be 24 hex digits when given";
	if ((why = ticket_lines_check(json_object_get(data, "lines"))) != NULL)
		return why;
	ticket_append_lines(doc, json_object_get(data, "lines"));
	BSON_APPEND_UTF8(doc, "status", "paid");
	if (gl_trace_current() != NULL) {
		/* The cook's work joins this trace (cook.c): the order's, through order.paid. */
		char tp[GL_TRACE_PARENT_SIZE];

		gl_trace_header(gl_trace_current(), tp, sizeof(tp));
		BSON_APPEND_UTF8(doc, "traceparent", tp);
	}
	BSON_APPEND_INT64(doc, "attempt", 0);
	BSON_APPEND_DATE_TIME(doc, "created_at", now);
	BSON_APPEND_DATE_TIME(doc, "updated_at", now);
	BSON_APPEND_INT64(doc, "version", 1);
	return NULL;
}

/*
 * An order was paid: its ticket waits for a cook.  The ticket first, then
 * its queue entry: if the process dies between them, the event is not
 * acknowledged and comes again; the ticket is there (a conflict, fine) and
 * the entry is added then.  A ticket that ended meanwhile gets an entry
 * too, which the first cook to read it drops.
 */
static enum gl_err
on_order_paid(const json_t *event)
{
	const json_t *data = json_object_get(event, "data");
	const char *id = json_string_value(json_object_get(data, "order_id"));
	bson_t doc = BSON_INITIALIZER;
	bson_oid_t oid;
	const char *why;
	enum gl_err err;

	why = gl_oid_parse(id, &oid) ? ticket_build(&doc, data, &oid)
	                             : "order_id must be 24 hex digits";
	if (why != NULL) {
		gl_log(GL_LOG_WARN, NULL, "order.paid %s: %s: no ticket",
		       json_string_value(json_object_get(event, "id")), why);
		bson_destroy(&doc);
		return GL_E_VALIDATION; /* no such event can ever be handled */
	}
	err = gl_db_insert("tickets", &doc);
	bson_destroy(&doc);
	if (err != GL_OK && err != GL_E_CONFLICT)
		return err;
	if (err == GL_OK)
		gl_log(GL_LOG_INFO, NULL, "ticket %s: paid, waits for a cook", id);
	if ((err = queue_add(&oid, (int64_t)time(NULL))) != GL_OK)
		return err;
	kitchen_staff_wake();
	return GL_OK;
}

/*
 * No ticket: never paid, or paid and the order.paid not handled yet (a retry
 * after a failure).  For a paid one ("was" in the event), the end is
 * settled as cancelled now, so the ticket that comes later is never made
 * ready (its cook loses claim_end).
 */
static enum gl_err
cancel_before_ticket(const json_t *event, const char *id)
{
	const char *was = json_string_value(json_object_get(json_object_get(event, "data"), "was"));
	bool ready;

	if (was == NULL || (strcmp(was, "paid") != 0 && strcmp(was, "preparing") != 0))
		return GL_OK; /* never paid: nothing to stop */
	return claim_end(id, "cancelled", &ready);
}

/*
 * An order was cancelled: a ticket not yet ready is cancelled, and its cook
 * stops at its next look.  claim_end() decides against a cook finishing at
 * the same moment: whichever settles the ticket first wins.
 */
static enum gl_err
on_order_cancelled(const json_t *event)
{
	const char *id =
	        json_string_value(json_object_get(json_object_get(event, "data"), "order_id"));
	bson_t extra = BSON_INITIALIZER;
	bson_oid_t oid;
	json_t *doc = NULL;
	bool ready, cancelled = false;
	enum gl_err err = GL_E_CONFLICT;

	if (!gl_oid_parse(id, &oid)) {
		bson_destroy(&extra);
		return GL_E_VALIDATION; /* no such event can ever be handled */
	}
	BSON_APPEND_DATE_TIME(&extra, "cancelled_at", (int64_t)time(NULL) * 1000);
	for (int i = 0; i < 3 && err == GL_E_CONFLICT; i++) {
		json_decref(doc);
		if ((err = gl_db_get("tickets", &oid, &doc)) != GL_OK) {
			if (err == GL_E_NOT_FOUND)
				err = cancel_before_ticket(event, id);
			break;
		}
		if ((cancelled = ticket_status_is(doc, "cancelled")))
			break;
		if (!ticket_status_is(doc, "paid") && !ticket_status_is(doc, "preparing")) {
			gl_log(GL_LOG_INFO, NULL, "ticket %s: %s before the cancel: left as it is",
			       id, json_string_value(json_object_get(doc, "status")));
			break;
		}
		if ((err = claim_end(id, "cancelled", &ready)) != GL_OK)
			break;
		if (ready) {
			gl_log(GL_LOG_INFO, NULL,
			       "ticket %s: ready before the cancel: left as it is", id);
			break;
		}
		/* A conflict: a cook wrote it meanwhile; read it again. */
		if ((err = ticket_move(NULL, doc, "cancelled", &extra, NULL, NULL)) == GL_OK) {
			cancelled = true;
			gl_log(GL_LOG_INFO, NULL, "ticket %s: cancelled", id);
		}
	}
	if (cancelled)
		queue_drop(&oid);
	json_decref(doc);
	bson_destroy(&extra);
	return err;
}

static const struct gl_event_handler order_handlers[] = {
	{ "order.paid", on_order_paid },
	{ "order.cancelled", on_order_cancelled },
	{ 0 },
};

const struct gl_event_source kitchen_events[] = {
	{ "orders", order_handlers },
	{ 0 },
};

void
kitchen_tick(void)
{
	gl_events_relay(); /* events whose cook could not send them */
}
