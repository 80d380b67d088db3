/* Reading, cancelling and expiring orders (API.md, orders). */
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "db.h"
#include "doc.h"
#include "due.h"
#include "events.h"
#include "http.h"
#include "log.h"
#include "orders.h"

static bool
order_status_is(const json_t *doc, const char *status)
{
	const char *s = json_string_value(json_object_get(doc, "status"));

	return s != NULL && strcmp(s, status) == 0;
}

/* The order named in the path, if the caller may see it (else 404, as if there were none). */
static enum gl_err
order_load(struct gl_req *req, bson_oid_t *oid, json_t **doc)
{
	enum gl_err err;

	if (!gl_oid_parse(gl_req_capture(req, "id"), oid))
		return GL_E_INTERNAL;
	err = gl_db_get("orders", oid, doc);
	if (err == GL_OK && !gl_req_may_see(req, *doc)) { /* a customer's own orders */
		json_decref(*doc);
		err = GL_E_NOT_FOUND;
	}
	if (err == GL_E_NOT_FOUND)
		return gl_fail(req, err, NULL, "no order has this id");
	return err;
}

enum gl_err
order_get(struct gl_req *req)
{
	bson_oid_t oid;
	json_t *doc;
	enum gl_err err;

	if ((err = order_load(req, &oid, &doc)) != GL_OK)
		return err;
	return gl_reply(req, 200, doc);
}

enum gl_err
order_release_stock(const struct gl_req *req, const char *reservation)
{
	char path[96];
	long status;
	enum gl_err err;

	snprintf(path, sizeof(path), "/internal/stock/reservations/%s/release", reservation);
	if ((err = gl_http_post(req, path, NULL, &status, NULL)) != GL_OK)
		return err;
	/* 404: the reservation was never completed, so it holds nothing; 422: it is sold or
	 * being sold (a payment got to it first). */
	if (status == 422)
		return GL_E_INVALID_STATE;
	return status == 200 || status == 404 ? GL_OK : GL_E_UPSTREAM_BAD;
}

/*
 * pending_payment → cancelled, the reservation released first: if stock
 * cannot be asked, nothing changes and the caller may try again.  The
 * change is guarded by the version read, so a concurrent change wins.
 */
/*
 * Stage the event of a change to doc that will give it the next version:
 * {order_id, status, reason, reservation_id, customer_id, user_id?, was,
 * lines?}.
 */
static struct gl_event *
order_event(const struct gl_req *req, const char *type, const json_t *doc, const char *reason,
            enum gl_err *err)
{
	const char *id = json_string_value(json_object_get(doc, "id"));
	struct gl_event_proof proof = { "orders", id,
		                        json_integer_value(json_object_get(doc, "version")) + 1 };
	json_t *data = json_pack("{s:s, s:s, s:O, s:O}", "order_id", id, "reason", reason,
	                         "reservation_id", json_object_get(doc, "reservation_id"),
	                         "customer_id", json_object_get(doc, "customer_id"));

	if (data == NULL || id == NULL) {
		json_decref(data);
		*err = GL_E_INTERNAL;
		return NULL;
	}
	if (json_object_get(doc, "user_id") != NULL)
		json_object_set(data, "user_id", json_object_get(doc, "user_id"));
	json_object_set_new(data, "status", json_string(strchr(type, '.') + 1));
	/* What it was before, and a paid one's lines: a kitchen that has no ticket yet must
	 * know a paid one is off, and files it cancelled (fcgi/kitchen/events.c). */
	json_object_set(data, "was", json_object_get(doc, "status"));
	if (order_status_is(doc, "paid") || order_status_is(doc, "preparing"))
		json_object_set(data, "lines", json_object_get(doc, "lines"));
	return gl_events_stage(req, type, data, &proof, err);
}

static enum gl_err
order_set_cancelled(const struct gl_req *req, const bson_oid_t *oid, const json_t *doc,
                    const char *reason, json_t **out)
{
	long long version = json_integer_value(json_object_get(doc, "version"));
	bson_t set = BSON_INITIALIZER;
	struct gl_event *ev;
	enum gl_err err;

	/* A paid order's units are sold (and may be in the pan): only an unpaid one gives its
	 * reservation back.  A paid one is refunded by payments on order.cancelled. */
	if (order_status_is(doc, "pending_payment") &&
	    (err = order_release_stock(
	             req, json_string_value(json_object_get(doc, "reservation_id")))) != GL_OK) {
		bson_destroy(&set);
		return err;
	}
	BSON_APPEND_UTF8(&set, "status", "cancelled");
	BSON_APPEND_UTF8(&set, "cancel_reason", reason);
	BSON_APPEND_DATE_TIME(&set, "updated_at", (int64_t)time(NULL) * 1000);
	if (req != NULL)
		(void)gl_doc_append_oid(&set, "cancelled_by", req->user_id);
	ev = order_event(req, "order.cancelled", doc, reason, &err);
	if (ev != NULL)
		err = gl_db_update("orders", oid, version, &set, out);
	bson_destroy(&set);
	if (err == GL_OK)
		gl_events_send(ev);
	else if (err == GL_E_CONFLICT || err == GL_E_NOT_FOUND)
		gl_events_drop(ev); /* surely not written */
	else
		gl_events_leave(ev);
	return err;
}

enum gl_err
order_cancel(struct gl_req *req)
{
	bson_oid_t oid;
	json_t *doc, *out;
	long long version;
	const char *status;
	enum gl_err err;

	if ((err = gl_req_if_match(req, &version)) != GL_OK)
		return err;
	/* Without If-Match the caller cancels the order as it is now: a step that payments or
	 * the kitchen made at the same moment (a conflict) is read again, not answered 409. */
	for (int attempt = 1;; attempt++) {
		if ((err = order_load(req, &oid, &doc)) != GL_OK)
			return err;
		status = json_string_value(json_object_get(doc, "status"));
		if (version >= 0 &&
		    json_integer_value(json_object_get(doc, "version")) != version) {
			json_decref(doc);
			return gl_fail(req, GL_E_CONFLICT, "If-Match",
			               "the order has changed since version %lld", version);
		}
		if (order_status_is(doc, "cancelled"))
			return gl_reply(req, 200, doc); /* already: nothing more to do */
		if (!order_status_is(doc, "pending_payment") && !order_status_is(doc, "paid") &&
		    !order_status_is(doc, "preparing")) {
			err = gl_fail(req, GL_E_INVALID_STATE, NULL,
			              "a %s order can no longer be cancelled",
			              status != NULL ? status : "broken");
			json_decref(doc);
			return err;
		}
		err = order_set_cancelled(
		        req, &oid, doc, gl_req_has_role(req, GL_ROLE_STAFF) ? "staff" : "customer",
		        &out);
		json_decref(doc);
		if (err != GL_E_CONFLICT || version >= 0 || attempt == 3)
			break;
		const struct timespec wait = { 0, attempt * 10 * 1000 * 1000 };
		nanosleep(&wait, NULL);
	}
	if (err == GL_E_CONFLICT)
		return gl_fail(req, err, NULL, "the order changed while it was being cancelled");
	if (err == GL_E_INVALID_STATE)
		return gl_fail(req, err, NULL,
		               "the order is being paid: cancel it once it is paid (it is then "
		               "refunded)");
	if (err != GL_OK)
		return gl_fail(
		        req, err, NULL,
		        "the order's items could not be released: nothing changed, try again");
	gl_due_drop("pending", &oid);
	gl_log(GL_LOG_INFO, req->request_id, "order %s cancelled", gl_req_capture(req, "id"));
	return gl_reply(req, 200, out);
}

/*
 * The order's time is up: an unpaid order is cancelled (reason expired) and
 * leaves the "pending" due list, as does one settled otherwise or never
 * stored (stock frees that one's reservation by itself).  Both the tick and
 * stock's reservation.expired come here; whichever is second finds it done.
 */
static enum gl_err
order_expire(const bson_oid_t *oid, const char *why)
{
	json_t *doc = NULL, *out;
	char id[25];
	enum gl_err err;

	if ((err = gl_db_get("orders", oid, &doc)) != GL_OK && err != GL_E_NOT_FOUND)
		return err; /* asked again later */
	if (err == GL_OK && order_status_is(doc, "pending_payment")) {
		err = order_set_cancelled(NULL, oid, doc, "expired", &out);
		json_decref(doc);
		if (err == GL_E_INVALID_STATE) {
			gl_due_drop("pending",
			            oid); /* a payment took it first: order.paid follows */
			return GL_OK;
		}
		if (err != GL_OK)
			return err; /* asked again later; another process may have won */
		json_decref(out);
		bson_oid_to_string(oid, id);
		gl_log(GL_LOG_INFO, NULL, "order %s cancelled: %s", id, why);
	} else
		json_decref(doc);
	gl_due_drop("pending", oid);
	return GL_OK;
}

/* "pending" is the due list of unpaid orders (due.h), added before an order is stored. */
static void
order_expire_unpaid(const bson_oid_t *oid)
{
	(void)order_expire(oid, "it expired unpaid");
}

void
orders_tick(void)
{
	gl_due_each("pending", 50, order_expire_unpaid);
	gl_events_relay();
	orders_by_user_build();
}

/* What orders reads of the events of an order it follows: the order's id. */
static const struct gl_field order_data[] = {
	{ "order_id", GL_T_OID, GL_REQUIRED },
	{ .flags = GL_OPEN },
};

/* The order event (borrowed) names, into *oid: false only for a bug (order_data checked it). */
static bool
order_of(const json_t *event, bson_oid_t *oid)
{
	return gl_oid_parse(
	        json_string_value(json_object_get(json_object_get(event, "data"), "order_id")),
	        oid);
}

/* Stock let an order's reservation expire: the order is cancelled, reason expired. */
static enum gl_err
on_reservation_expired(const json_t *event)
{
	bson_oid_t oid;

	if (!order_of(event, &oid))
		return GL_E_INTERNAL;
	return order_expire(&oid, "its reservation expired");
}

static const struct gl_event_handler stock_handlers[] = {
	{ "reservation.expired", on_reservation_expired, order_data },
	{ 0 },
};

/* Where a status stands on the way pending_payment → ... → completed (-1: cancelled). */
static int
order_rank(const char *status)
{
	static const char *const way[] = { "pending_payment", "paid",      "preparing",
		                           "ready",           "completed", NULL };

	for (int i = 0; status != NULL && way[i] != NULL; i++)
		if (strcmp(status, way[i]) == 0)
			return i;
	return -1;
}

/*
 * Follow another service's event into the order's status: payments'
 * order.paid, the kitchen's order.preparing / ready / completed.  Only
 * forward, so an event that comes twice or late changes nothing, and never
 * out of cancelled.
 */
/* What following an event does to the order as it is (gl_db_change's decide). */
struct order_step {
	const json_t *event;
	const char *id, *to;
	bson_oid_t oid;
	bool moved;   /* the order moved on to `to` */
	bool waiting; /* from pending_payment: the expiry tick's no longer */
};

static enum gl_err
order_step_decide(const json_t *doc, bson_t *set, bool *skip, void *ctx)
{
	struct order_step *st = ctx;
	const char *now = json_string_value(json_object_get(doc, "status"));
	char at[32];
	int64_t secs;

	snprintf(at, sizeof(at), "%s_at", st->to);
	if (order_rank(now) < 0 || order_rank(now) >= order_rank(st->to)) {
		/* Cannot happen while stock lets a reservation end one way only: say so loudly. */
		if (order_rank(now) < 0 && strcmp(st->to, "paid") == 0)
			gl_log(GL_LOG_ERROR, NULL,
			       "order %s was paid after it was cancelled: the payment is to refund",
			       st->id);
		/*
		 * Another process handled a later step first (consumers read the stream in
		 * parallel): the order is past `to` already, but keeps when it got there, from
		 * the event itself.
		 */
		if (order_rank(now) > order_rank(st->to) && json_object_get(doc, at) == NULL &&
		    gl_doc_time_parse(json_string_value(json_object_get(st->event, "occurred_at")),
		                      &secs))
			BSON_APPEND_DATE_TIME(set, at, secs * 1000);
		else
			*skip = true;
		return GL_OK;
	}
	if ((st->waiting = strcmp(now, "pending_payment") == 0))
		gl_due_drop_riding("pending", &st->oid); /* no longer the expiry tick's */
	BSON_APPEND_UTF8(set, "status", st->to);
	BSON_APPEND_DATE_TIME(set, at, (int64_t)time(NULL) * 1000);
	BSON_APPEND_DATE_TIME(set, "updated_at", (int64_t)time(NULL) * 1000);
	st->moved = true;
	return GL_OK;
}

static enum gl_err
order_follow(const json_t *event, const char *to)
{
	struct order_step st = { .event = event, .to = to };
	json_t *out;
	enum gl_err err;

	st.id = json_string_value(json_object_get(json_object_get(event, "data"), "order_id"));
	if (!order_of(event, &st.oid))
		return GL_E_INTERNAL;
	/* Not stored (yet?): GL_E_NOT_FOUND, tried again, dead-lettered in the end. */
	err = gl_db_change("orders", &st.oid, order_step_decide, &st, &out);
	gl_due_riding_end(err == GL_OK && st.waiting);
	if (err != GL_OK)
		return err; /* a concurrent change: the next try sees it */
	if (!st.moved || out == NULL) {
		json_decref(out);
		return GL_OK;
	}
	gl_log(GL_LOG_INFO, NULL, "order %s %s", st.id, to);
	order_live(event, out);
	json_decref(out);
	return GL_OK;
}

static enum gl_err
on_order_paid(const json_t *event)
{
	return order_follow(event, "paid");
}

static enum gl_err
on_order_preparing(const json_t *event)
{
	return order_follow(event, "preparing");
}

static enum gl_err
on_order_ready(const json_t *event)
{
	return order_follow(event, "ready");
}

static enum gl_err
on_order_completed(const json_t *event)
{
	return order_follow(event, "completed");
}

static const struct gl_field cancelled_data[] = {
	{ "order_id", GL_T_OID, GL_REQUIRED },
	{ "reason", GL_T_STRING, 0, 0, 64 }, /* one it does not know is payment_failed */
	{ .flags = GL_OPEN },
};

/*
 * An order.cancelled of another service (payments: payment_failed) cancels
 * an unpaid order and frees its stock.  Orders' own order.cancelled comes
 * back here too and finds the order cancelled already.
 */
static enum gl_err
on_order_cancelled(const json_t *event)
{
	const json_t *data = json_object_get(event, "data");
	const char *reason = json_string_value(json_object_get(data, "reason"));
	bson_oid_t oid;
	json_t *doc, *out;
	enum gl_err err;

	if (!order_of(event, &oid))
		return GL_E_INTERNAL;
	if (reason == NULL ||
	    (strcmp(reason, "payment_failed") != 0 && strcmp(reason, "expired") != 0 &&
	     strcmp(reason, "customer") != 0 && strcmp(reason, "staff") != 0))
		reason = "payment_failed";
	if ((err = gl_db_get("orders", &oid, &doc)) != GL_OK)
		return err == GL_E_NOT_FOUND ? GL_OK : err;
	if (!order_status_is(doc, "pending_payment")) {
		if (order_status_is(doc,
		                    "cancelled")) /* here (the customer, expiry): tell the views */
			order_live(event, doc);
		json_decref(doc);
		return GL_OK;
	}
	err = order_set_cancelled(NULL, &oid, doc, reason, &out);
	json_decref(doc);
	if (err != GL_OK)
		return err;
	json_decref(out);
	gl_due_drop("pending", &oid);
	gl_log(GL_LOG_INFO, NULL, "order %s cancelled: %s",
	       json_string_value(json_object_get(data, "order_id")), reason);
	return GL_OK;
}

/* Orders' own order.created comes back here only for the live views. */
static enum gl_err
on_order_created(const json_t *event)
{
	order_live(event, NULL);
	return GL_OK;
}

static const struct gl_event_handler order_handlers[] = {
	{ "order.created", on_order_created, .unrecorded = true },
	/* order_follow: its one write is the order's; the expiry entry's drop and the live
	 * post after it may be let go (the tick skips an order no longer pending). */
	{ "order.paid", on_order_paid, order_data, .ack_rides = true },
	{ "order.cancelled", on_order_cancelled, cancelled_data },
	{ "order.preparing", on_order_preparing, order_data, .ack_rides = true },
	{ "order.ready", on_order_ready, order_data, .ack_rides = true },
	{ "order.completed", on_order_completed, order_data, .ack_rides = true },
	{ 0 },
};

/* A read that brought only others' entries (stock.reserved, which every placement adds)
 * makes it wait 5 ms, so they come in one read; an order's next step waits that long at
 * most, and only after such a read (consumer.h). */
const struct gl_event_source orders_events[] = {
	{ "stock", stock_handlers, .skip_gather_ms = 5 },
	{ "orders", order_handlers, .skip_gather_ms = 5 },
	{ 0 },
};
