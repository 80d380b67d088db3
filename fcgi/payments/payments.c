/* Reading payments, the tick, and refunds (payments.h). */
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "db.h"
#include "doc.h"
#include "events.h"
#include "log.h"
#include "payments.h"
#include "provider.h"

enum gl_err
payment_get(struct gl_req *req)
{
	bson_oid_t oid;
	json_t *doc;
	enum gl_err err;

	if (!gl_oid_parse(gl_req_capture(req, "id"), &oid))
		return GL_E_INTERNAL;
	err = gl_db_get("payments", &oid, &doc);
	if (err == GL_OK && !gl_req_may_see(req, doc)) {
		json_decref(doc);
		err = GL_E_NOT_FOUND;
	}
	if (err == GL_E_NOT_FOUND)
		return gl_fail(req, err, NULL, "no payment has this id");
	if (err != GL_OK)
		return err;
	return gl_reply(req, 200, doc);
}

void
payments_tick(void)
{
	payments_resume();
	gl_events_relay();
}

/* What payments reads of order.cancelled. */
static const struct gl_field order_data[] = {
	{ "order_id", GL_T_OID, GL_REQUIRED },
	{ .flags = GL_OPEN },
};

/*
 * A paid order was cancelled (orders lets that happen before it is ready):
 * its money goes back.  The refund's Idempotency-Key makes a second
 * delivery, or a retry after a crash, refund nothing twice.
 */
static enum gl_err
on_order_cancelled(const json_t *event)
{
	const char *order =
	        json_string_value(json_object_get(json_object_get(event, "data"), "order_id"));
	struct provider_result r;
	bson_t set = BSON_INITIALIZER;
	bson_oid_t oid;
	json_t *pay, *out;
	const char *status, *intent;
	enum gl_err err;

	if (!gl_oid_parse(order, &oid)) {
		bson_destroy(&set);
		return GL_E_INTERNAL; /* order_data checked it */
	}
	if ((err = gl_db_get("payments", &oid, &pay)) != GL_OK) {
		bson_destroy(&set);
		return err == GL_E_NOT_FOUND ? GL_OK : err; /* never paid: nothing to give back */
	}
	status = json_string_value(json_object_get(pay, "status"));
	intent = json_string_value(json_object_get(pay, "provider_id"));
	if (status == NULL || strcmp(status, "succeeded") != 0 || intent == NULL) {
		json_decref(pay);
		bson_destroy(&set);
		return GL_OK;
	}
	err = provider_refund(NULL, order, intent, &r);
	if (err == GL_OK && r.outcome != PROVIDER_REFUNDED)
		err = GL_E_UPSTREAM_BAD;
	if (err == GL_OK) {
		BSON_APPEND_UTF8(&set, "status", "refunded");
		BSON_APPEND_UTF8(&set, "refund_id", r.id);
		BSON_APPEND_DATE_TIME(&set, "refunded_at", (int64_t)time(NULL) * 1000);
		BSON_APPEND_DATE_TIME(&set, "updated_at", (int64_t)time(NULL) * 1000);
		err = gl_db_update("payments", &oid,
		                   json_integer_value(json_object_get(pay, "version")), &set, &out);
	}
	json_decref(pay);
	bson_destroy(&set);
	if (err != GL_OK)
		return err; /* tried again at the next pass (dead-lettered after a few) */
	json_decref(out);
	gl_log(GL_LOG_INFO, NULL, "payment %s refunded (%s): its order was cancelled", order, r.id);
	return GL_OK;
}

static const struct gl_event_handler order_handlers[] = {
	{ "order.cancelled", on_order_cancelled, order_data },
	{ 0 },
};

const struct gl_event_source payments_events[] = {
	/* Of the orders' events it handles only order.cancelled, and its refund can wait
	 * 50 ms: its reads come in batches (consumer.h). */
	{ "orders", order_handlers, .gather_ms = 50 },
	{ 0 },
};
