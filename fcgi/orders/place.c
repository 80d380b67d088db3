/* POST /api/orders: the saga of orders.h, one step per function. */
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "cache.h"
#include "db.h"
#include "doc.h"
#include "due.h"
#include "events.h"
#include "http.h"
#include "idem.h"
#include "kept.h"
#include "lines.h"
#include "log.h"
#include "orders.h"

static const struct gl_field line_fields[] = {
	{ "item_id", GL_T_OID, GL_REQUIRED },
	{ "qty", GL_T_INT, GL_REQUIRED, 1, GL_LINES_QTY_MAX },
	{ 0 },
};

const struct gl_field order_fields[] = {
	{ "customer_id", GL_T_OID },
	{ "lines", GL_T_OBJECTS, GL_REQUIRED, 1, GL_LINES_MAX, .fields = line_fields,
	  .unique = "item_id" },
	{ 0 },
};

/* What placing an order learns before it stores anything. */
struct order_draft {
	bson_oid_t id;
	char ids[25];
	char customer[25];
	char owner[25]; /* the user linked to the customer, "" when none is */
	json_t *lines;  /* new: [{item_id, name, qty, price_cents, supplier_id}] (lines.h) */
	long long total;
	char currency[4];
	char reservation[25];
	int64_t expires;
	char customer_name[4 * ORDER_NAME_MAX + 1]; /* as it is now, for search; "" if none */
};

static bool
is_oid_string(const json_t *v)
{
	bson_oid_t oid;

	return gl_oid_parse(json_string_value(v), &oid);
}

/*
 * What service svc would answer now for its cached <what>:<id>, read where svc caches it
 * (cache.h) rather than asked through nginx: a hot item or customer costs no call at all
 * (this thread's near copy, which Redis keeps coherent, near.h), and svc drops the key
 * when it writes.  NULL when it is not cached or Redis is away: the caller asks svc, which
 * caches its answer for the next order.
 */
static json_t *
order_cached(const char *svc, const char *what, const char *id)
{
	char key[GL_CACHE_KEY_MAX];
	json_t *v;

	if (gl_cache_key_of(key, sizeof(key), svc, what, id) < 0 ||
	    gl_cache_peek_json(key, &v) != 1)
		return NULL;
	return v;
}

/*
 * The customer the order is for: the one named (staff must name one), or
 * the caller's own record.  Asked as the caller, so the customers service
 * applies its rule that a customer sees only its own record; what it caches
 * for that rule (customers.c: a user's own list, any record for staff) is
 * read where it keeps it.
 */
static enum gl_err
order_customer(struct gl_req *req, struct order_draft *d)
{
	const char *given = json_string_value(json_object_get(req->body, "customer_id"));
	json_t *body = NULL, *c, *uid;
	char path[64];
	long status;
	enum gl_err err = GL_OK;

	if (given == NULL && gl_req_has_role(req, GL_ROLE_STAFF))
		return gl_fail(req, GL_E_VALIDATION, "customer_id",
		               "customer_id is required when staff place an order");
	if (given != NULL)
		snprintf(path, sizeof(path), "/api/customers/%s", given);
	else
		snprintf(path, sizeof(path), "/api/customers?limit=1");
	if (given == NULL)
		body = order_cached("customers", "of-user", req->user_id);
	else if (gl_req_has_role(req, GL_ROLE_STAFF))
		body = order_cached("customers", "customer", given);
	if (body != NULL)
		status = 200;
	else if ((err = gl_http_get(req, path, &status, &body)) != GL_OK)
		return gl_fail(req, err, NULL, "the customers service could not be asked");
	c = given != NULL ? body : json_array_get(json_object_get(body, "items"), 0);
	uid = json_object_get(c, "user_id");
	if (status == 404 && given != NULL) {
		err = gl_fail(req, GL_E_VALIDATION, "customer_id",
		              "customer_id names no customer you may order for");
	} else if (status == 200 && c == NULL) {
		err = gl_fail(req, GL_E_INVALID_STATE, NULL,
		              "your account has no customer record yet: sign in again to link one");
	} else if (status != 200 || !is_oid_string(json_object_get(c, "id")) ||
	           (uid != NULL && !is_oid_string(uid))) {
		err = gl_fail(req, GL_E_UPSTREAM_BAD, NULL,
		              "the customers service answered %ld without a customer", status);
	} else {
		snprintf(d->customer, sizeof(d->customer), "%s",
		         json_string_value(json_object_get(c, "id")));
		snprintf(d->owner, sizeof(d->owner), "%s",
		         uid != NULL ? json_string_value(uid) : "");
		snprintf(d->customer_name, sizeof(d->customer_name), "%s",
		         json_string_value(json_object_get(c, "name")) ?: "");
	}
	json_decref(body);
	return err;
}

/* Line i's item from the menu service, its price and name taken as they are now. */
static enum gl_err
order_item(struct gl_req *req, struct order_draft *d, size_t i, const json_t *line)
{
	const char *item = json_string_value(json_object_get(line, "item_id"));
	long long qty = json_integer_value(json_object_get(line, "qty"));
	json_t *it = NULL, *name, *price, *currency, *available, *supplier;
	char path[64], field[48];
	long status;
	enum gl_err err = GL_OK;

	snprintf(field, sizeof(field), "lines[%zu].item_id", i);
	snprintf(path, sizeof(path), "/api/menu/items/%s", item);
	if ((it = order_cached("menu", "item", item)) != NULL)
		status = 200;
	else if ((err = gl_http_get(req, path, &status, &it)) != GL_OK)
		return gl_fail(req, err, NULL, "the menu service could not be asked about %s",
		               field);
	name = json_object_get(it, "name");
	price = json_object_get(it, "price_cents");
	currency = json_object_get(it, "currency");
	available = json_object_get(it, "available");
	if (status == 404) {
		err = gl_fail(req, GL_E_VALIDATION, field, "%s names no menu item", field);
		goto out;
	}
	if (status != 200 || !json_is_string(name) || !json_is_integer(price) ||
	    json_integer_value(price) < 0 || json_string_length(currency) != 3 ||
	    !json_is_boolean(available)) {
		err = gl_fail(req, GL_E_UPSTREAM_BAD, NULL,
		              "the menu service answered %ld without a priced item for %s", status,
		              field);
		goto out;
	}
	if (!json_is_true(available)) {
		err = gl_fail(req, GL_E_INVALID_STATE, field, "lines[%zu]: %s is not available now",
		              i, json_string_value(name));
		goto out;
	}
	if (i == 0)
		memcpy(d->currency, json_string_value(currency), 4);
	else if (strcmp(d->currency, json_string_value(currency)) != 0) {
		err = gl_fail(
		        req, GL_E_VALIDATION, field,
		        "lines[%zu] is priced in %s and lines[0] in %s: one currency per order", i,
		        json_string_value(currency), d->currency);
		goto out;
	}
	d->total += qty * json_integer_value(price);
	supplier = json_object_get(it, "supplier_id");
	json_array_append_new(d->lines,
	                      json_pack("{s:s, s:O, s:I, s:O, s:O*}", "item_id", item, "name", name,
	                                "qty", qty, "price_cents", price, "supplier_id",
	                                json_is_string(supplier) ? supplier : NULL));
out:
	json_decref(it);
	return err;
}

static enum gl_err
order_items(struct gl_req *req, struct order_draft *d)
{
	json_t *lines = json_object_get(req->body, "lines"), *line;
	enum gl_err err;
	size_t i;

	if ((d->lines = json_array()) == NULL)
		return GL_E_INTERNAL;
	json_array_foreach(lines, i, line) {
		if ((err = order_item(req, d, i, line)) != GL_OK)
			return err;
	}
	if (json_array_size(d->lines) != json_array_size(lines))
		return GL_E_INTERNAL; /* out of memory on the way */
	return GL_OK;
}

/* Every line at once, or none: stock answers 409 naming the line it is short of. */
static enum gl_err
order_reserve(struct gl_req *req, struct order_draft *d)
{
	json_t *in, *out = NULL, *id;
	const char *code, *msg;
	long status;
	enum gl_err err;

	in = json_pack("{s:s, s:O}", "order_id", d->ids, "lines",
	               json_object_get(req->body, "lines"));
	if (in == NULL)
		return GL_E_INTERNAL;
	err = gl_http_post(req, "/internal/stock/reservations", in, &status, &out);
	json_decref(in);
	if (err != GL_OK)
		return gl_fail(req, err, NULL, "the stock service could not reserve the items");
	if (status == 409) {
		code = json_string_value(json_object_get(json_object_get(out, "error"), "code"));
		msg = json_string_value(json_object_get(json_object_get(out, "error"), "message"));
		err = gl_fail(req,
		              code != NULL && strcmp(code, "insufficient_stock") == 0
		                      ? GL_E_INSUFFICIENT_STOCK
		                      : GL_E_CONFLICT,
		              NULL, "%s", msg != NULL ? msg : "the stock service refused");
		json_decref(out);
		return err;
	}
	id = json_object_get(out, "id");
	if (status != 201 || !is_oid_string(id) ||
	    !gl_doc_time_parse(json_string_value(json_object_get(out, "expires_at")),
	                       &d->expires)) {
		json_decref(out);
		return gl_fail(req, GL_E_UPSTREAM_BAD, NULL,
		               "the stock service answered %ld to a reservation", status);
	}
	snprintf(d->reservation, sizeof(d->reservation), "%s", json_string_value(id));
	json_decref(out);
	return GL_OK;
}

static enum gl_err
order_store(struct gl_req *req, const struct order_draft *d, struct gl_idem *idem, json_t **out)
{
	bson_t doc = BSON_INITIALIZER;
	int64_t now = (int64_t)time(NULL) * 1000;
	enum gl_err err = GL_E_INTERNAL;
	bool ok;

	ok = BSON_APPEND_OID(&doc, "_id", &d->id) &&
	     gl_doc_append_oid(&doc, "customer_id", d->customer) &&
	     (d->owner[0] == '\0' || gl_doc_append_oid(&doc, "user_id", d->owner)) &&
	     (d->customer_name[0] == '\0' ||
	      BSON_APPEND_UTF8(&doc, "customer_name", d->customer_name)) &&
	     gl_doc_append_oid(&doc, "placed_by", req->user_id) &&
	     gl_lines_append(&doc, d->lines, true) &&
	     BSON_APPEND_INT64(&doc, "total_cents", d->total) &&
	     BSON_APPEND_UTF8(&doc, "currency", d->currency) &&
	     BSON_APPEND_UTF8(&doc, "status", "pending_payment") &&
	     gl_doc_append_oid(&doc, "reservation_id", d->reservation) &&
	     BSON_APPEND_DATE_TIME(&doc, "expires_at", d->expires * 1000) &&
	     BSON_APPEND_DATE_TIME(&doc, "created_at", now) &&
	     BSON_APPEND_DATE_TIME(&doc, "updated_at", now) &&
	     BSON_APPEND_INT64(&doc, "version", 1);
	if (!ok || (*out = gl_doc_to_json_new(&doc)) == NULL) {
		bson_destroy(&doc);
		return GL_E_INTERNAL;
	}
	/* The event staged, then the order with it, its pending entry (the expiry tick's), its
	 * entry in its user's list (by_user.c) and the answer to its Idempotency-Key, all in
	 * the order's one script: a stored order is always announced, found by the tick,
	 * listed and the answer to a repeat, and nothing names an order never stored. */
	struct gl_event_proof proof = { "orders", d->ids, 1 };
	struct gl_kept_index idx[2];
	size_t n = 1;
	struct gl_event *ev =
	        gl_events_stage(req, "order.created", json_deep_copy(*out), &proof, &err);
	if (gl_due_index(&idx[0], "pending", &d->id, d->expires) < 0 ||
	    (d->owner[0] != '\0' && order_by_user_index(&idx[n++], d->owner, d->ids) < 0))
		err = GL_E_INTERNAL;
	else if (ev != NULL) {
		gl_idem_ride(idem, 201, *out);
		err = gl_db_insert_indexed("orders", &doc, idx, n);
	}
	bson_destroy(&doc);
	if (err == GL_OK)
		gl_events_send(ev);
	else
		gl_events_leave(ev); /* the relay sends it if the insert happened after all */
	if (err != GL_OK) {
		json_decref(*out);
		*out = NULL;
	}
	return err;
}

/*
 * The order could not be stored.  Release its reservation only when the
 * order is surely not there (an insert whose answer was lost may have
 * happened); otherwise expiry settles it either way: stock frees a
 * reservation nobody stored, and the tick cancels a stored order.
 */
static void
order_undo(struct gl_req *req, const struct order_draft *d)
{
	enum gl_err err = gl_db_exists("orders", &d->id);

	if (err == GL_E_NOT_FOUND && order_release_stock(req, d->reservation) == GL_OK)
		return;
	gl_log(GL_LOG_WARN, req->request_id,
	       "order %s: not stored or not known to be; reservation %s is held until it expires",
	       d->ids, d->reservation);
}

enum gl_err
order_place(struct gl_req *req)
{
	struct order_draft d = { 0 };
	struct gl_idem idem;
	json_t *out = NULL;
	bool replayed;
	enum gl_err err;

	if ((err = gl_idem_begin(req, "orders", &idem, &replayed)) != GL_OK || replayed)
		return err;
	bson_oid_init(&d.id, NULL);
	bson_oid_to_string(&d.id, d.ids);
	if ((err = order_customer(req, &d)) == GL_OK && (err = order_items(req, &d)) == GL_OK &&
	    (err = order_reserve(req, &d)) == GL_OK &&
	    (err = order_store(req, &d, &idem, &out)) != GL_OK)
		order_undo(req, &d);
	json_decref(d.lines);
	if (err != GL_OK) {
		gl_idem_release(&idem);
		return err;
	}
	gl_idem_store(&idem, 201, out); /* stored with the order already, unless Redis was away */
	snprintf(req->location, sizeof(req->location), "%s/%s", req->path, d.ids);
	gl_log(GL_LOG_INFO, req->request_id, "order %s placed: %lld %s cents, reservation %s",
	       d.ids, d.total, d.currency, d.reservation);
	return gl_reply(req, 201, out);
}
