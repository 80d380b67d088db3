/* What the kitchen does on the events of other services (API.md, events). */
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "db.h"
#include "doc.h"
#include "events.h"
#include "kept.h"
#include "kitchen.h"
#include "lines.h"
#include "log.h"
#include "trace.h"

/* What the kitchen reads of order.paid: only these are kept, what else payments adds is not. */
static const struct gl_field paid_data[] = {
	{ "order_id", GL_T_OID, GL_REQUIRED },
	{ "customer_id", GL_T_OID, GL_REQUIRED },
	{ "user_id", GL_T_OID, GL_NULLABLE },
	GL_LINES_FIELD,
	{ .flags = GL_OPEN },
};

/*
 * The ticket of the order of data (borrowed, checked: order.paid's, or
 * order.cancelled's with its lines) into doc, in status; false when doc
 * could not take it.
 */
static bool
ticket_build(bson_t *doc, const json_t *data, const bson_oid_t *oid, const char *status)
{
	const json_t *lines = json_object_get(data, "lines"), *l;
	const char *user = json_string_value(json_object_get(data, "user_id")); /* or null */
	int64_t now = (int64_t)time(NULL) * 1000;
	long long items = 0;
	char tp[GL_TRACE_PARENT_SIZE] = "";
	size_t i;

	json_array_foreach(lines, i, l) {
		items += json_integer_value(json_object_get(l, "qty"));
	}
	/* The cook's work joins this trace (cook.c): the order's, through order.paid. */
	if (gl_trace_current() != NULL)
		gl_trace_header(gl_trace_current(), tp, sizeof(tp));
	return BSON_APPEND_OID(doc, "_id", oid) && BSON_APPEND_OID(doc, "order_id", oid) &&
	       gl_doc_append_oid(doc, "customer_id",
	                         json_string_value(json_object_get(data, "customer_id"))) &&
	       (user == NULL || gl_doc_append_oid(doc, "user_id", user)) &&
	       gl_lines_append(doc, lines, false) && BSON_APPEND_INT64(doc, "items", items) &&
	       BSON_APPEND_UTF8(doc, "status", status) &&
	       (tp[0] == '\0' || BSON_APPEND_UTF8(doc, "traceparent", tp)) &&
	       BSON_APPEND_INT64(doc, "attempt", 0) &&
	       BSON_APPEND_DATE_TIME(doc, "created_at", now) &&
	       (strcmp(status, "cancelled") != 0 ||
	        BSON_APPEND_DATE_TIME(doc, "cancelled_at", now)) &&
	       BSON_APPEND_DATE_TIME(doc, "updated_at", now) &&
	       BSON_APPEND_INT64(doc, "version", 1);
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
	struct gl_kept_index entry;
	bson_t doc = BSON_INITIALIZER;
	bson_oid_t oid;
	enum gl_err err;

	if (!gl_oid_parse(id, &oid) || !ticket_build(&doc, data, &oid, "paid") ||
	    queue_index(&entry, &oid, (int64_t)time(NULL)) < 0) {
		bson_destroy(&doc);
		return GL_E_INTERNAL; /* paid_data checked it: out of memory */
	}
	/* The ticket and its queue entry (due now) in one write, which also acknowledges the
	 * event (ack_rides below). */
	err = gl_db_insert_indexed("tickets", &doc, &entry, 1);
	bson_destroy(&doc);
	if (err != GL_OK && err != GL_E_CONFLICT)
		return err;
	if (err == GL_OK)
		gl_log(GL_LOG_INFO, NULL, "ticket %s: paid, waits for a cook", id);
	/* There already (order.paid again): listed if it lost its entry, as the rules of the
	 * queue allow (an entry is a hint). */
	else if ((err = queue_add(&oid, (int64_t)time(NULL))) != GL_OK)
		return err;
	kitchen_staff_wake();
	return GL_OK;
}

/*
 * What the kitchen reads of order.cancelled: the order, its status before
 * ("was") and, for a paid one, its lines.
 */
static const struct gl_field cancelled_data[] = {
	{ "order_id", GL_T_OID, GL_REQUIRED },
	{ "customer_id", GL_T_OID, 0 },
	{ "user_id", GL_T_OID, GL_NULLABLE },
	{ "was", GL_T_STRING, 0, 0, 32 },
	{ "lines", GL_T_OBJECTS, 0, 1, GL_LINES_MAX, .fields = gl_lines_fields },
	{ .flags = GL_OPEN },
};

/*
 * No ticket: never paid, or paid and the order.paid not handled yet (a retry
 * after a failure).  A paid one gets its ticket now, cancelled: the
 * order.paid that comes later then finds it there and inserts nothing, so
 * no cook ever prepares it.  GL_E_CONFLICT when the ticket was inserted
 * meanwhile (read it again).
 */
static enum gl_err
cancel_before_ticket(const json_t *event, const bson_oid_t *oid, const char *id)
{
	const json_t *data = json_object_get(event, "data");
	const char *was = json_string_value(json_object_get(data, "was"));
	bson_t doc = BSON_INITIALIZER;
	enum gl_err err;

	if (was == NULL || (strcmp(was, "paid") != 0 && strcmp(was, "preparing") != 0))
		return GL_OK; /* never paid: nothing to stop */
	if (json_object_get(data, "lines") == NULL ||
	    json_object_get(data, "customer_id") == NULL) {
		/* From an orders service before lines were sent: wait for the order.paid. */
		gl_log(GL_LOG_WARN, NULL, "ticket %s: cancelled before it came, without its lines",
		       id);
		bson_destroy(&doc);
		return GL_E_UPSTREAM_BAD;
	}
	if (!ticket_build(&doc, data, oid, "cancelled")) {
		bson_destroy(&doc);
		return GL_E_INTERNAL;
	}
	if ((err = gl_db_insert("tickets", &doc)) == GL_OK)
		gl_log(GL_LOG_INFO, NULL, "ticket %s: cancelled before it came to the kitchen", id);
	bson_destroy(&doc);
	return err;
}

/*
 * An order was cancelled: a ticket not yet ready is cancelled, and its cook
 * stops at its next look.  The write is guarded by the version read, as
 * the cook's ready is: whichever writes first wins, the other reads the
 * ticket again and finds it settled.
 */
static enum gl_err
on_order_cancelled(const json_t *event)
{
	const char *id =
	        json_string_value(json_object_get(json_object_get(event, "data"), "order_id"));
	bson_t extra = BSON_INITIALIZER;
	bson_oid_t oid;
	json_t *doc = NULL;
	bool cancelled = false;
	enum gl_err err = GL_E_CONFLICT;

	if (!gl_oid_parse(id, &oid)) {
		bson_destroy(&extra);
		return GL_E_INTERNAL; /* cancelled_data checked it */
	}
	BSON_APPEND_DATE_TIME(&extra, "cancelled_at", (int64_t)time(NULL) * 1000);
	for (int i = 0; i < 3 && err == GL_E_CONFLICT; i++) {
		json_decref(doc);
		if ((err = gl_db_get("tickets", &oid, &doc)) != GL_OK) {
			if (err == GL_E_NOT_FOUND)
				err = cancel_before_ticket(event, &oid, id);
			continue; /* a conflict: inserted meanwhile; read it */
		}
		if ((cancelled = ticket_status_is(doc, "cancelled")))
			break;
		if (!ticket_status_is(doc, "paid") && !ticket_status_is(doc, "preparing")) {
			gl_log(GL_LOG_INFO, NULL, "ticket %s: %s before the cancel: left as it is",
			       id, json_string_value(json_object_get(doc, "status")));
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
	{ "order.paid", on_order_paid, paid_data, .ack_rides = true },
	{ "order.cancelled", on_order_cancelled, cancelled_data },
	{ 0 },
};

/* Most of the orders' entries are not the kitchen's (order.created, and its own
 * order.preparing and order.ready): a read that brought only those makes it wait 5 ms, so
 * they come in one read, and an order.paid then waits that long at most (consumer.h). */
const struct gl_event_source kitchen_events[] = {
	{ "orders", order_handlers, .skip_gather_ms = 5 },
	{ 0 },
};

void
kitchen_tick(void)
{
	gl_events_relay(); /* events whose cook could not send them */
}
