/* POST /api/payments and the steps of payments.h, one function each. */
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "conf.h"
#include "db.h"
#include "doc.h"
#include "due.h"
#include "events.h"
#include "http.h"
#include "idem.h"
#include "kept.h"
#include "lines.h"
#include "log.h"
#include "payments.h"
#include "provider.h"

/* Stripe's payment method ids (pm_card_visa, pm_1N...): letters, digits, underscores. */
static const char *
payment_method_check(const char *s)
{
	if (strncmp(s, "pm_", 3) != 0 || s[3] == '\0' ||
	    strspn(s + 3, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_") !=
	            strlen(s + 3))
		return "must be a payment method id: pm_ then letters, digits or _ (e.g. "
		       "pm_card_visa)";
	return NULL;
}

const struct gl_field payment_fields[] = {
	{ "order_id", GL_T_OID, GL_REQUIRED },
	{ "payment_method", GL_T_STRING, GL_REQUIRED, 4, 100, .check = payment_method_check },
	{ 0 },
};

/* A step's outcome for the client: err and, when not GL_OK, why (a sentence). */
struct pay_outcome {
	enum gl_err err;
	char why[240];
};

static enum gl_err __attribute__((format(printf, 3, 4)))
pay_fail(struct pay_outcome *o, enum gl_err err, const char *fmt, ...)
{
	va_list ap;

	o->err = err;
	va_start(ap, fmt);
	vsnprintf(o->why, sizeof(o->why), fmt, ap);
	va_end(ap);
	return err;
}

static const char *
pay_str(const json_t *doc, const char *key)
{
	return json_string_value(json_object_get(doc, key));
}

static bool
pay_processing(const json_t *pay)
{
	const char *status = pay_str(pay, "status");

	return status != NULL && strcmp(status, "processing") == 0;
}

/*
 * The payment's own event for its final status (API.md: payment.succeeded,
 * payment.failed), with fields of the write (borrowed), or NULL for a status
 * that has none.
 */
static json_t *
pay_own_event(const json_t *pay, const char *status, const char *why)
{
	json_t *d;

	if (strcmp(status, "succeeded") != 0 && strcmp(status, "failed") != 0)
		return NULL;
	d = json_pack("{s:O, s:O, s:O, s:O, s:s}", "payment_id", json_object_get(pay, "id"),
	              "order_id", json_object_get(pay, "order_id"), "amount_cents",
	              json_object_get(pay, "amount_cents"), "currency",
	              json_object_get(pay, "currency"), "status", status);
	if (d != NULL && why != NULL)
		json_object_set_new(d, "reason", json_string(why));
	return d;
}

/*
 * The last step: the payment's final status (with fields, stolen) in one
 * version-guarded write, announced by ev_type (may be NULL) with data
 * (stolen), and by the payment's own event (payment.succeeded or
 * payment.failed, why the reason of a failure) staged with the same proof.
 * *out (new) is the payment as it is now, also when another run of the steps
 * finished it first.
 */
static enum gl_err
pay_finish(const json_t *pay, const char *status, const char *why, bson_t *fields,
           const char *ev_type, json_t *data, json_t **out)
{
	const char *id = pay_str(pay, "id");
	long long version = json_integer_value(json_object_get(pay, "version"));
	struct gl_event_proof proof = { "payments", id, version + 1 };
	struct gl_event *ev = NULL, *own = NULL;
	json_t *own_data = pay_own_event(pay, status, why);
	bson_oid_t oid;
	enum gl_err err = GL_OK;
	bool tried = false;

	*out = NULL;
	if (!gl_oid_parse(id, &oid)) {
		json_decref(data);
		json_decref(own_data);
		return GL_E_INTERNAL;
	}
	BSON_APPEND_UTF8(fields, "status", status);
	BSON_APPEND_DATE_TIME(fields, "updated_at", (int64_t)time(NULL) * 1000);
	if (ev_type != NULL)
		ev = gl_events_stage(NULL, ev_type, data, &proof, &err);
	else
		json_decref(data);
	if (err == GL_OK && own_data != NULL)
		own = gl_events_stage(NULL,
		                      strcmp(status, "succeeded") == 0 ? "payment.succeeded"
		                                                       : "payment.failed",
		                      own_data, &proof, &err);
	else
		json_decref(own_data);
	if (err == GL_OK) {
		tried = true;
		gl_due_drop_riding("processing", &oid); /* settled by this write */
		err = gl_db_update("payments", &oid, version, fields, out);
	}
	if (err == GL_OK) {
		gl_events_send(ev);
		gl_events_send(own);
	} else if (!tried || err == GL_E_CONFLICT || err == GL_E_NOT_FOUND) {
		gl_events_drop(ev); /* surely not written: not tried, or another run finished it */
		gl_events_drop(own);
	} else {
		gl_events_leave(ev);
		gl_events_leave(own);
	}
	if (err == GL_E_CONFLICT)
		err = gl_db_get("payments", &oid, out);
	gl_due_riding_end(err == GL_OK); /* settled: by this write, or by another run */
	return err;
}

/* order.cancelled (payment_failed) or order.paid: the order's part of the payment. */
static json_t *
pay_event_data(const json_t *pay, const char *reason)
{
	json_t *d = json_pack("{s:O, s:O, s:O}", "order_id", json_object_get(pay, "order_id"),
	                      "reservation_id", json_object_get(pay, "reservation_id"),
	                      "customer_id", json_object_get(pay, "customer_id"));

	if (d == NULL)
		return NULL;
	if (json_object_get(pay, "user_id") != NULL)
		json_object_set(d, "user_id", json_object_get(pay, "user_id"));
	if (reason != NULL) {
		json_object_set_new(d, "status", json_string("cancelled"));
		json_object_set_new(d, "reason", json_string(reason));
	} else {
		json_object_set_new(d, "status", json_string("paid"));
		json_object_set(d, "payment_id", json_object_get(pay, "id"));
		json_object_set(d, "total_cents", json_object_get(pay, "amount_cents"));
		json_object_set(d, "currency", json_object_get(pay, "currency"));
		json_object_set(d, "lines", json_object_get(pay, "lines"));
		/* Sent only after stock's commit answered (pay_steps): stock's own handling of
		 * order.paid, for one that did not come that way, has nothing to do. */
		json_object_set_new(d, "stock_committed", json_true());
	}
	return d;
}

/* Declined: failed, and the order is cancelled (order.cancelled frees its stock). */
static enum gl_err
pay_declined(const json_t *pay, const char *message, json_t **out, struct pay_outcome *o)
{
	bson_t set = BSON_INITIALIZER;
	enum gl_err err;

	BSON_APPEND_UTF8(&set, "failure_message", message);
	err = pay_finish(pay, "failed", message, &set, "order.cancelled",
	                 pay_event_data(pay, "payment_failed"), out);
	bson_destroy(&set);
	if (err != GL_OK)
		return pay_fail(o, err, "the payment could not be recorded: %s", "try again");
	gl_log(GL_LOG_INFO, NULL, "payment %s declined: %s", pay_str(pay, "id"), message);
	return pay_fail(o, GL_E_PAYMENT_FAILED, "the payment was declined: %s", message);
}

/* The reservation ended before the payment got to it: let the hold go, sell nothing. */
static enum gl_err
pay_too_late(const struct gl_req *req, const json_t *pay, const char *intent, json_t **out,
             struct pay_outcome *o)
{
	struct provider_result r;
	bson_t set = BSON_INITIALIZER;
	enum gl_err err;

	if ((err = provider_cancel(req, pay_str(pay, "order_id"), intent, &r)) != GL_OK) {
		bson_destroy(&set);
		return pay_fail(o, err, "%s",
		                "the payment provider could not be asked to let the hold go: "
		                "it is retried, nothing is charged");
	}
	BSON_APPEND_UTF8(&set, "failure_message", "the order was cancelled or expired first");
	err = pay_finish(pay, "cancelled", NULL, &set, NULL, NULL, out);
	bson_destroy(&set);
	if (err != GL_OK)
		return pay_fail(o, err, "the payment could not be recorded: %s", "try again");
	gl_log(GL_LOG_INFO, NULL, "payment %s cancelled: its order's reservation had ended",
	       pay_str(pay, "id"));
	return pay_fail(o, GL_E_INVALID_STATE, "%s",
	                "the order was cancelled or expired before it was paid: nothing was "
	                "charged");
}

/* Stock sells the order's units: GL_OK, or GL_E_INVALID_STATE when its hold ended. */
static enum gl_err
pay_commit_stock(const struct gl_req *req, const json_t *pay)
{
	char path[96];
	long status;
	enum gl_err err;

	snprintf(path, sizeof(path), "/internal/stock/reservations/%s/commit",
	         pay_str(pay, "reservation_id"));
	if ((err = gl_http_post(req, path, NULL, &status, NULL)) != GL_OK)
		return err;
	if (status == 200)
		return GL_OK;
	return status == 422 || status == 404 ? GL_E_INVALID_STATE : GL_E_UPSTREAM_BAD;
}

/*
 * The steps after the record (payments.h), for a processing payment pay
 * (borrowed).  req may be NULL (the tick).  GL_OK: *out is the succeeded
 * payment; else o says why, and *out is the payment when it was settled
 * otherwise (declined, too late) or NULL when it stays processing.
 */
static enum gl_err
pay_steps(const struct gl_req *req, const json_t *pay, json_t **out, struct pay_outcome *o)
{
	const char *order = pay_str(pay, "order_id");
	struct provider_result r;
	bson_t set = BSON_INITIALIZER;
	enum gl_err err;

	*out = NULL;
	err = provider_authorize(req, order,
	                         json_integer_value(json_object_get(pay, "amount_cents")),
	                         pay_str(pay, "currency"), pay_str(pay, "payment_method"), &r);
	if (err == GL_OK && r.outcome == PROVIDER_DECLINED) {
		bson_destroy(&set);
		return pay_declined(pay, r.message, out, o);
	}
	if (err == GL_OK && r.outcome != PROVIDER_AUTHORIZED && r.outcome != PROVIDER_CAPTURED)
		err = GL_E_UPSTREAM_BAD;
	if (err == GL_OK && (err = pay_commit_stock(req, pay)) == GL_E_INVALID_STATE) {
		bson_destroy(&set);
		return pay_too_late(req, pay, r.id, out, o);
	}
	if (err == GL_OK && r.outcome == PROVIDER_AUTHORIZED) {
		char intent[sizeof(r.id)];

		memcpy(intent, r.id, sizeof(intent));
		if ((err = provider_capture(req, order, intent, &r)) == GL_OK &&
		    r.outcome != PROVIDER_CAPTURED)
			err = GL_E_UPSTREAM_BAD;
	}
	if (err != GL_OK) {
		bson_destroy(&set);
		return pay_fail(o, err,
		                "the payment could not be finished now (%s): it is retried by "
		                "itself; see GET /api/payments/%s",
		                err == GL_E_UPSTREAM_TIMEOUT ? "too slow" : "a service is down",
		                order);
	}
	BSON_APPEND_UTF8(&set, "provider_id", r.id);
	err = pay_finish(pay, "succeeded", NULL, &set, "order.paid", pay_event_data(pay, NULL),
	                 out);
	bson_destroy(&set);
	if (err != GL_OK)
		return pay_fail(o, err, "%s",
		                "the payment went through but could not be recorded yet: it is "
		                "retried by itself");
	gl_log(GL_LOG_INFO, req != NULL ? req->request_id : NULL, "payment %s succeeded (%s)",
	       pay_str(pay, "id"), r.id);
	return GL_OK;
}

/*
 * The order, as the caller may see it: orders' own copy in the store when it holds one
 * (what GET /api/orders/{id} would answer now, read without that call's trip through nginx
 * and an orders worker), else asked of orders (an order old enough to be in MongoDB alone).
 */
static enum gl_err
pay_order(struct gl_req *req, const char *order_id, json_t **order)
{
	char path[64];
	long status;
	bson_oid_t oid;
	enum gl_err err;

	if (!gl_oid_parse(order_id, &oid))
		return GL_E_INTERNAL; /* validated as an id before */
	err = gl_kept_peek("orders", "orders", &oid, order);
	if (err == GL_OK && !gl_req_may_see(req, *order)) {
		json_decref(*order);
		*order = NULL;
		return gl_fail(req, GL_E_VALIDATION, "order_id", "no order has this id");
	}
	if (err != GL_E_NOT_FOUND)
		return err;
	snprintf(path, sizeof(path), "/api/orders/%s", order_id);
	if ((err = gl_http_get(req, path, &status, order)) != GL_OK)
		return gl_fail(req, err, NULL, "the orders service could not be asked");
	if (status == 404) {
		json_decref(*order);
		*order = NULL;
		return gl_fail(req, GL_E_VALIDATION, "order_id", "no order has this id");
	}
	if (status != 200 || !json_is_object(*order)) {
		json_decref(*order);
		*order = NULL;
		return GL_E_UPSTREAM_BAD;
	}
	return GL_OK;
}

/* The order's lines, as orders answers them: a payment keeps its copy (lines.h). */
static const struct gl_field order_lines[] = {
	GL_LINES_FIELD,
	{ .flags = GL_OPEN },
};

/* The processing record of an unpaid order: what every later step needs to know. */
static enum gl_err
pay_record(struct gl_req *req, const bson_oid_t *oid, const json_t *order, json_t **pay)
{
	int64_t now = (int64_t)time(NULL) * 1000;
	bson_t doc = BSON_INITIALIZER;
	struct gl_valid_fail fail;
	bool ok;
	enum gl_err err;

	ok = gl_valid_object(order_lines, order, false, &fail) == GL_OK &&
	     BSON_APPEND_OID(&doc, "_id", oid) &&
	     gl_doc_append_oid(&doc, "order_id", pay_str(order, "id")) &&
	     gl_doc_append_oid(&doc, "customer_id", pay_str(order, "customer_id")) &&
	     gl_doc_append_oid(&doc, "reservation_id", pay_str(order, "reservation_id")) &&
	     (pay_str(order, "user_id") == NULL ||
	      gl_doc_append_oid(&doc, "user_id", pay_str(order, "user_id"))) &&
	     BSON_APPEND_INT64(&doc, "amount_cents",
	                       json_integer_value(json_object_get(order, "total_cents"))) &&
	     BSON_APPEND_UTF8(&doc, "currency", pay_str(order, "currency")) &&
	     BSON_APPEND_UTF8(&doc, "payment_method", pay_str(req->body, "payment_method")) &&
	     BSON_APPEND_UTF8(&doc, "status", "processing") &&
	     gl_lines_append(&doc, json_object_get(order, "lines"), false) &&
	     BSON_APPEND_DATE_TIME(&doc, "created_at", now) &&
	     BSON_APPEND_DATE_TIME(&doc, "updated_at", now) &&
	     BSON_APPEND_INT64(&doc, "version", 1);
	if (!ok || pay_str(order, "currency") == NULL) {
		bson_destroy(&doc);
		return GL_E_UPSTREAM_BAD; /* orders answered an order without its fields */
	}
	/* Listed with it, by its insert: a payment nobody finishes is always found. */
	struct gl_kept_index due;
	if (gl_due_index(&due, "processing", oid, now / 1000 + PAYMENT_RESUME_S) < 0)
		err = GL_E_INTERNAL;
	else
		err = gl_db_insert_indexed("payments", &doc, &due, 1);
	/* What was stored, as a read of it would give it, without the read. */
	if (err == GL_OK && (*pay = gl_doc_to_json_new(&doc)) == NULL)
		err = GL_E_INTERNAL;
	bson_destroy(&doc);
	return err;
}

/*
 * The order's payment as it stands: unpaid orders get one (processing), else
 * the one it has.  *mine: this request recorded it, and with it holds its
 * entry in the "processing" list (due.h) for its steps.
 */
static enum gl_err
pay_load_or_record(struct gl_req *req, const bson_oid_t *oid, json_t **pay, bool *mine)
{
	json_t *order = NULL;
	const char *status;
	enum gl_err err;

	*mine = false;
	if ((err = pay_order(req, pay_str(req->body, "order_id"), &order)) != GL_OK)
		return err;
	/*
	 * An order waiting to be paid gets its payment now, unless a request before
	 * (or a copy racing this one) made it: then that record is the one.  One
	 * insert, no read, for a new payment.
	 */
	status = pay_str(order, "status");
	if (status != NULL && strcmp(status, "pending_payment") == 0) {
		err = pay_record(req, oid, order, pay);
		*mine = err == GL_OK;
		if (err == GL_E_CONFLICT)
			err = gl_db_get("payments", oid, pay);
	} else if ((err = gl_db_get("payments", oid, pay)) == GL_E_NOT_FOUND)
		err = gl_fail(req, GL_E_INVALID_STATE, "order_id", "a %s order cannot be paid",
		              status ? status : "broken");
	json_decref(order);
	return err;
}

/*
 * A processing payment this request did not record: its steps are run by one
 * request or tick at a time (gl_due_claim), so the provider is never asked
 * the same thing twice at once; one already at it makes this request's
 * answer a 409.  *pay is read again when it was settled meanwhile.
 */
static enum gl_err
pay_claim(struct gl_req *req, const bson_oid_t *oid, json_t **pay)
{
	const char *id = pay_str(req->body, "order_id");
	enum gl_due_claim got;
	enum gl_err err;

	err = gl_due_claim("processing", oid, time(NULL) + PAYMENT_RESUME_S, &got, NULL);
	if (err != GL_OK)
		return err;
	if (got == GL_DUE_HELD)
		return gl_fail(req, GL_E_CONFLICT, "order_id",
		               "this order's payment is in progress (another request's, or galley "
		               "retrying it by itself): see GET /api/payments/%s",
		               id);
	if (got == GL_DUE_CLAIMED)
		return GL_OK;
	/* Not listed: settled since it was read (its entry goes last), or an entry lost. */
	json_decref(*pay);
	*pay = NULL;
	if ((err = gl_db_get("payments", oid, pay)) != GL_OK)
		return err;
	if (pay_processing(*pay))
		err = gl_due_add("processing", oid, time(NULL) + PAYMENT_RESUME_S);
	return err;
}

enum gl_err
payment_create(struct gl_req *req)
{
	const char *order_id = pay_str(req->body, "order_id");
	struct pay_outcome o = { GL_OK, "" };
	struct gl_idem idem;
	bson_oid_t oid;
	json_t *pay = NULL, *out = NULL;
	bool mine = false, replayed;
	enum gl_err err;

	if ((err = gl_idem_begin(req, "payments", &idem, &replayed)) != GL_OK || replayed)
		return err;
	if (!gl_oid_parse(order_id, &oid))
		err = GL_E_INTERNAL;
	else
		err = pay_load_or_record(req, &oid, &pay, &mine);
	if (err == GL_OK && !mine && pay_processing(pay))
		err = pay_claim(req, &oid, &pay);
	if (err == GL_OK && !pay_processing(pay)) {
		/* Paid, declined or too late already: a second payment is not made. */
		err = gl_fail(req, GL_E_CONFLICT, "order_id",
		              "this order has a payment already (%s): GET /api/payments/%s",
		              pay_str(pay, "status") ? pay_str(pay, "status") : "broken", order_id);
	} else if (err == GL_OK) {
		err = pay_steps(req, pay, &out, &o);
		/* Still processing: due again now, so the client's retry (or the tick) takes it
		 * up at once rather than when this request's hold would have run out. */
		if (err != GL_OK && out == NULL &&
		    gl_due_move("processing", &oid, time(NULL)) != GL_OK)
			gl_log(GL_LOG_WARN, req->request_id,
			       "payment %s: retried when its hold runs out", order_id);
		if (err != GL_OK)
			err = gl_fail(req, err, NULL, "%s", o.why);
	}
	json_decref(pay);
	if (err != GL_OK) {
		json_decref(out);
		gl_idem_release(&idem);
		return err;
	}
	gl_idem_store(&idem, 201, out);
	snprintf(req->location, sizeof(req->location), "%s/%s", req->path, order_id);
	return gl_reply(req, 201, out);
}

/* A payment left processing (its process died, or the provider did not answer): ask again. */
/* Processing for longer than GALLEY_PAYMENT_GIVE_UP_S (default: Stripe's 24 h window)? */
static bool
pay_expired(const json_t *pay)
{
	int64_t made;

	return gl_doc_time_parse(pay_str(pay, "created_at"), &made) &&
	       (int64_t)time(NULL) - made > gl_conf.payment_give_up_s;
}

/*
 * The provider never answered (past its idempotency window a retry would be
 * a new payment): the payment fails, and its order is cancelled, which
 * frees what its reservation holds.
 */
static void
pay_give_up(const json_t *pay)
{
	bson_t set = BSON_INITIALIZER;
	json_t *out = NULL;
	char why[128];

	snprintf(why, sizeof(why), "the provider did not answer within %ld s: given up",
	         gl_conf.payment_give_up_s);
	BSON_APPEND_UTF8(&set, "failure_message", why);
	if (pay_finish(pay, "failed", why, &set, "order.cancelled",
	               pay_event_data(pay, "payment_failed"), &out) == GL_OK)
		gl_log(GL_LOG_WARN, NULL, "payment %s: %s", pay_str(pay, "id"), why);
	bson_destroy(&set);
	json_decref(out);
}

static void
payment_resume(const bson_oid_t *oid)
{
	struct pay_outcome o;
	enum gl_due_claim got;
	json_t *pay = NULL, *out = NULL;
	char id[25];
	enum gl_err err;

	/* Taken first: a request or another process's tick at it is left alone (a slow
	 * provider takes seconds, and a tick runs every second). */
	if (gl_due_claim("processing", oid, time(NULL) + PAYMENT_RESUME_S, &got, NULL) != GL_OK ||
	    got != GL_DUE_CLAIMED)
		return;
	bson_oid_to_string(oid, id);
	if ((err = gl_db_get("payments", oid, &pay)) == GL_E_NOT_FOUND) {
		gl_due_drop("processing", oid); /* its record was never stored */
		return;
	}
	if (err != GL_OK) { /* the database is away: next time */
		if (gl_due_move("processing", oid, time(NULL) + 1) != GL_OK)
			gl_log(GL_LOG_DEBUG, NULL, "payment %s: resumed when its hold runs out",
			       id);
		return;
	}
	if (!pay_processing(pay))
		gl_due_drop("processing", oid);
	else if (pay_expired(pay))
		pay_give_up(pay);
	else if (pay_steps(NULL, pay, &out, &o) != GL_OK && out == NULL)
		gl_log(GL_LOG_WARN, NULL, "payment %s still processing: %s", id, o.why);
	json_decref(out);
	json_decref(pay);
}

void
payments_resume(void)
{
	gl_due_each("processing", 20, payment_resume);
}
