#include <stdio.h>
#include <string.h>
#include <time.h>

#include "conf.h"
#include "db.h"
#include "doc.h"
#include "due.h"
#include "events.h"
#include "log.h"
#include "stock.h"

const struct gl_field stock_set_fields[] = {
	{ "on_hand", GL_T_INT, GL_REQUIRED, 0, STOCK_MAX },
	{ 0 },
};

static const struct gl_field line_fields[] = {
	{ "item_id", GL_T_OID, GL_REQUIRED },
	{ "qty", GL_T_INT, GL_REQUIRED, 1, 1000 },
	{ 0 },
};

const struct gl_field reservation_fields[] = {
	{ "order_id", GL_T_OID, GL_REQUIRED },
	{ "lines", GL_T_OBJECTS, GL_REQUIRED, 1, 100, .fields = line_fields },
	{ 0 },
};

static enum gl_err
level_reply(struct gl_req *req, const char *item, const struct stock_level *l)
{
	return gl_reply(req, 200,
	                json_pack("{s:s, s:I, s:I, s:I}", "item_id", item, "on_hand", l->on_hand,
	                          "reserved", l->reserved, "available", l->on_hand - l->reserved));
}

enum gl_err
stock_get(struct gl_req *req)
{
	const char *item = gl_req_capture(req, "item_id");
	struct stock_level l;
	enum gl_err err;

	if ((err = stock_level_get(item, &l)) != GL_OK)
		return err;
	return level_reply(req, item, &l);
}

enum gl_err
stock_set(struct gl_req *req)
{
	const char *item = gl_req_capture(req, "item_id");
	long long n = json_integer_value(json_object_get(req->body, "on_hand"));
	struct stock_level l;
	enum gl_err err;

	err = stock_apply(item, "set", stock_move_set, n, NULL, &l);
	if (err == GL_E_CONFLICT)
		return gl_fail(req, err, "on_hand",
		               "on_hand may not go below the %lld units reserved", l.reserved);
	if (err != GL_OK)
		return err;
	return level_reply(req, item, &l);
}

/*
 * The hot paths read by _id only: FerretDB pushes nothing else down to
 * SQLite, so any other filter reads the whole collection.  That is why a
 * holding reservation is also listed in "holds" {_id, expires} (a small
 * collection the reaper may scan: only what holds now), and why a record
 * says "complete" once every line is reserved (its lines are then exactly
 * what the ledger took; only an incomplete one needs the ledger scanned).
 */
static enum gl_err
reservation_set(const bson_oid_t *id, const char *key, const char *state, bool flag)
{
	bson_t filter = BSON_INITIALIZER, update = BSON_INITIALIZER, set, inc;
	enum gl_err err;

	BSON_APPEND_OID(&filter, "_id", id);
	BSON_APPEND_DOCUMENT_BEGIN(&update, "$set", &set);
	if (state != NULL)
		BSON_APPEND_UTF8(&set, key, state);
	else
		BSON_APPEND_BOOL(&set, key, flag);
	bson_append_document_end(&update, &set);
	/* Every change is a new version: the events it implies are proven by that. */
	BSON_APPEND_DOCUMENT_BEGIN(&update, "$inc", &inc);
	BSON_APPEND_INT64(&inc, "version", 1);
	bson_append_document_end(&update, &inc);
	err = gl_db_update_where("reservations", &filter, &update);
	bson_destroy(&filter);
	bson_destroy(&update);
	return err;
}

/*
 * End the first n of lines ([{item_id, qty}]) of reservation id, each at
 * most once: op "release" (the units are free again) or "commit" (sold).
 */
static enum gl_err
end_lines(const char *id, const json_t *lines, size_t n, const char *op)
{
	stock_move move = strcmp(op, "commit") == 0 ? stock_move_commit : stock_move_release;
	enum gl_err err, first = GL_OK;

	for (size_t i = 0; i < n && i < json_array_size(lines); i++) {
		const json_t *l = json_array_get(lines, i);
		/* Once per line, however many reapers and cancels race (stock_apply's ref). */
		err = stock_apply(json_string_value(json_object_get(l, "item_id")), op, move,
		                  json_integer_value(json_object_get(l, "qty")), id, NULL);
		if (err != GL_OK && first == GL_OK)
			first = err;
	}
	return first;
}

static enum gl_err
release_lines(const char *id, const json_t *lines, size_t n)
{
	return end_lines(id, lines, n, "release");
}

/*
 * What reservation id took, line by line, into *lines (new): its record's
 * lines once it is complete, else what the ledger says (a scan).
 */
static enum gl_err
reservation_lines(const char *id, const json_t *doc, json_t **lines)
{
	bson_t filter = BSON_INITIALIZER;
	enum gl_err err;

	if (json_is_true(json_object_get(doc, "complete"))) {
		bson_destroy(&filter);
		*lines = json_incref(json_object_get(doc, "lines"));
		return *lines != NULL ? GL_OK : GL_E_INTERNAL;
	}
	BSON_APPEND_UTF8(&filter, "ref", id);
	BSON_APPEND_UTF8(&filter, "op", "reserve");
	err = gl_db_find_all("ledger", &filter, 200, lines);
	bson_destroy(&filter);
	return err;
}

/* Release what an incomplete reservation took, as the ledger says. */
static enum gl_err
release_scanned(const char *id)
{
	json_t *taken;
	enum gl_err err;

	if ((err = reservation_lines(id, NULL, &taken)) != GL_OK)
		return err;
	err = release_lines(id, taken, json_array_size(taken));
	json_decref(taken);
	return err;
}

/*
 * A reservation ends once, as a whole: released (or expired) or committed,
 * never some lines each way.  The first to insert {_id: reservation, op}
 * into "ends" decides; the same op may go on (a retry after a crash), the
 * other gets GL_E_INVALID_STATE.  A payment that won may take a while to
 * commit every line: expiry then leaves the reservation to it.
 */
static enum gl_err
reservation_end_claim(const bson_oid_t *oid, const char *op)
{
	bson_t doc = BSON_INITIALIZER;
	json_t *won;
	const char *wop;
	enum gl_err err;

	BSON_APPEND_OID(&doc, "_id", oid);
	BSON_APPEND_UTF8(&doc, "op", op);
	BSON_APPEND_DATE_TIME(&doc, "at", (int64_t)time(NULL) * 1000);
	err = gl_db_insert("ends", &doc);
	bson_destroy(&doc);
	if (err != GL_E_CONFLICT)
		return err;
	if ((err = gl_db_get("ends", oid, &won)) != GL_OK)
		return err;
	wop = json_string_value(json_object_get(won, "op"));
	err = wop != NULL && strcmp(wop, op) == 0 ? GL_OK : GL_E_INVALID_STATE;
	json_decref(won);
	return err;
}

enum gl_err
reservation_commit(const char *id)
{
	bson_oid_t oid;
	json_t *doc, *lines;
	const char *state;
	enum gl_err err;

	if (!gl_oid_parse(id, &oid))
		return GL_E_INTERNAL;
	if ((err = gl_db_get("reservations", &oid, &doc)) != GL_OK)
		return err;
	state = json_string_value(json_object_get(doc, "state"));
	if (state == NULL || strcmp(state, "holding") != 0) {
		err = state != NULL && strcmp(state, "committed") == 0 ? GL_OK : GL_E_INVALID_STATE;
		json_decref(doc);
		return err;
	}
	if ((err = reservation_end_claim(&oid, "commit")) == GL_OK &&
	    (err = reservation_lines(id, doc, &lines)) == GL_OK) {
		err = end_lines(id, lines, json_array_size(lines), "commit");
		json_decref(lines);
	}
	json_decref(doc);
	/* A line released meanwhile (expiry racing the payment) cannot be sold. */
	if (err == GL_E_CONFLICT)
		return GL_E_INVALID_STATE;
	if (err == GL_OK && (err = reservation_set(&oid, "state", "committed", false)) == GL_OK)
		gl_due_drop("holds", &oid);
	return err;
}

/* Stage the event of the next change of reservation doc: {reservation_id, order_id, lines}. */
static struct gl_event *
reservation_event(const char *type, const json_t *doc, enum gl_err *err)
{
	const char *id = json_string_value(json_object_get(doc, "id"));
	struct gl_event_proof proof = { "reservations", id,
		                        json_integer_value(json_object_get(doc, "version")) + 1 };

	return gl_events_stage(NULL, type,
	                       json_pack("{s:s, s:O, s:O}", "reservation_id", id, "order_id",
	                                 json_object_get(doc, "order_id"), "lines",
	                                 json_object_get(doc, "lines")),
	                       &proof, err);
}

enum gl_err
reservation_free(const char *id, const char *state)
{
	bson_oid_t oid;
	struct gl_event *ev = NULL;
	json_t *doc, *lines;
	const char *now;
	enum gl_err err;

	if (!gl_oid_parse(id, &oid))
		return GL_E_INTERNAL;
	if ((err = gl_db_get("reservations", &oid, &doc)) != GL_OK)
		return err;
	now = json_string_value(json_object_get(doc, "state"));
	if (now == NULL || strcmp(now, "holding") != 0) {
		/* Ended: every line was released (or sold) before it was marked. */
		err = now != NULL && strcmp(now, "committed") == 0 ? GL_E_INVALID_STATE : GL_OK;
		json_decref(doc);
		gl_due_drop("holds", &oid);
		return err;
	}
	if ((err = reservation_end_claim(&oid, "release")) == GL_E_INVALID_STATE) {
		json_decref(doc); /* being sold: the payment finishes it (stock.h) */
		gl_due_drop("holds", &oid);
		return err;
	}
	if (err == GL_OK && (err = reservation_lines(id, doc, &lines)) == GL_OK) {
		err = release_lines(id, lines, json_array_size(lines));
		json_decref(lines);
	}
	/* Expiry is news to the order it was made for (reservation.expired cancels it). */
	if (err == GL_OK && strcmp(state, "expired") == 0)
		ev = reservation_event("reservation.expired", doc, &err);
	else if (err == GL_OK && strcmp(state, "released") == 0)
		ev = reservation_event("stock.released", doc, &err);
	json_decref(doc);
	if (err == GL_OK && (err = reservation_set(&oid, "state", state, false)) == GL_OK)
		gl_due_drop("holds", &oid);
	if (err == GL_OK)
		gl_events_send(ev);
	else
		gl_events_leave(ev);
	return err;
}

static void
reservation_reap(const bson_oid_t *oid)
{
	char id[25];
	enum gl_err err;

	bson_oid_to_string(oid, id);
	err = reservation_free(id, "expired");
	if (err == GL_OK)
		gl_log(GL_LOG_INFO, NULL, "reservation %s expired: its units are free again", id);
	else if (err == GL_E_NOT_FOUND)
		gl_due_drop("holds", oid); /* its record was never written, or was a failed one */
}

void
reservations_reap(void)
{
	gl_due_each("holds", 50, reservation_reap);
}

static json_t *
reservation_view(json_t *doc)
{
	return json_pack("{s:O, s:O, s:O, s:O, s:O}", "id", json_object_get(doc, "id"), "order_id",
	                 json_object_get(doc, "order_id"), "lines", json_object_get(doc, "lines"),
	                 "expires_at", json_object_get(doc, "expires_at"), "state",
	                 json_object_get(doc, "state"));
}

/* A repeat for an order that has a reservation: the same answer, nothing reserved twice. */
static enum gl_err
reservation_existing(struct gl_req *req, const bson_oid_t *order)
{
	bson_t filter = BSON_INITIALIZER;
	json_t *doc, *view;
	enum gl_err err;

	BSON_APPEND_OID(&filter, "order_id", order);
	err = gl_db_find_one("reservations", &filter, &doc);
	bson_destroy(&filter);
	if (err == GL_E_NOT_FOUND)
		return gl_fail(req, GL_E_CONFLICT, "order_id",
		               "this order's reservation is being made");
	if (err != GL_OK)
		return err;
	if (strcmp(json_string_value(json_object_get(doc, "state")), "holding") != 0) {
		json_decref(doc);
		return gl_fail(req, GL_E_CONFLICT, "order_id",
		               "this order's reservation has ended");
	}
	view = reservation_view(doc);
	json_decref(doc);
	return view != NULL ? gl_reply(req, 201, view) : GL_E_INTERNAL;
}

enum gl_err
reservation_create(struct gl_req *req)
{
	json_t *lines = json_object_get(req->body, "lines"), *line, *view, *doc;
	struct gl_event *ev;
	bson_t res = BSON_INITIALIZER;
	bson_oid_t id, order;
	char ids[25];
	size_t i, j;
	enum gl_err err = GL_OK;
	int64_t expires = (int64_t)time(NULL) + gl_conf.reservation_ttl;

	json_array_foreach(lines, i, line) for (j = 0; j < i; j++) if (
	        strcmp(json_string_value(json_object_get(line, "item_id")),
	               json_string_value(json_object_get(json_array_get(lines, j), "item_id"))) ==
	        0) return gl_fail(req, GL_E_VALIDATION, NULL,
	                          "lines[%zu].item_id repeats lines[%zu]: one line per item", i, j);
	gl_oid_parse(json_string_value(json_object_get(req->body, "order_id")), &order);
	bson_oid_init(&id, NULL);
	bson_oid_to_string(&id, ids);
	/* The hold and the record first, so a process that dies half-way leaves what the
	 * reaper frees. */
	if ((err = gl_due_add("holds", &id, expires)) != GL_OK)
		return err;
	BSON_APPEND_OID(&res, "_id", &id);
	gl_doc_append_fields(&res, reservation_fields, req->body);
	BSON_APPEND_UTF8(&res, "state", "holding");
	BSON_APPEND_INT64(&res, "version", 1);
	BSON_APPEND_DATE_TIME(&res, "expires_at", expires * 1000);
	err = gl_db_insert("reservations", &res);
	doc = err == GL_OK ? gl_doc_to_json_new(&res) : NULL;
	bson_destroy(&res);
	if (err != GL_OK)
		gl_due_drop("holds", &id);
	if (err == GL_E_CONFLICT)
		return reservation_existing(req, &order);
	if (err != GL_OK)
		return err;

	json_array_foreach(lines, i, line)
	{
		const char *item = json_string_value(json_object_get(line, "item_id"));
		struct stock_level l;
		err = stock_apply(item, "reserve", stock_move_reserve,
		                  json_integer_value(json_object_get(line, "qty")), ids, &l);
		if (err == GL_E_INSUFFICIENT_STOCK)
			gl_fail(req, err, NULL, "lines[%zu]: only %lld of item %s are available", i,
			        l.on_hand - l.reserved, item);
		if (err != GL_OK)
			break;
	}
	if (err != GL_OK) {
		/*
		 * All or nothing: give back what the earlier lines took, then forget the
		 * record so the order may try again.  A line refused for want of stock
		 * took nothing, so the lines before it are exactly what was taken; after
		 * any other failure the ledger is asked.  If this fails, the reaper frees
		 * the rest at expiry.
		 */
		if ((err == GL_E_INSUFFICIENT_STOCK ? release_lines(ids, lines, i)
		                                    : release_scanned(ids)) == GL_OK) {
			bson_t f = BSON_INITIALIZER;
			BSON_APPEND_OID(&f, "_id", &id);
			if (gl_db_delete_where("reservations", &f, NULL) != GL_OK)
				gl_log(GL_LOG_WARN, req->request_id,
				       "a failed reservation stays until it expires");
			else
				gl_due_drop("holds", &id);
			bson_destroy(&f);
		}
		json_decref(doc);
		return err;
	}
	/* Every line is taken: releases may trust the record's lines from now on. */
	ev = doc != NULL ? reservation_event("stock.reserved", doc, &err) : NULL;
	if (ev == NULL)
		gl_log(GL_LOG_WARN, req->request_id, "reservation %s: stock.reserved not staged",
		       ids);
	if ((err = reservation_set(&id, "complete", NULL, true)) == GL_OK)
		gl_events_send(ev);
	else {
		gl_events_leave(ev); /* sent by the relay if the record says complete after all */
		gl_log(GL_LOG_WARN, req->request_id,
		       "reservation %s stays incomplete: its release will ask the ledger", ids);
	}
	view = doc != NULL ? reservation_view(doc) : NULL;
	json_decref(doc);
	return view != NULL ? gl_reply(req, 201, view) : GL_E_INTERNAL;
}

/* 200 with the reservation as it is now. */
static enum gl_err
reservation_reply(struct gl_req *req, const bson_oid_t *oid)
{
	json_t *doc, *view;
	enum gl_err err;

	if ((err = gl_db_get("reservations", oid, &doc)) != GL_OK)
		return err;
	view = reservation_view(doc);
	json_decref(doc);
	return view != NULL ? gl_reply(req, 200, view) : GL_E_INTERNAL;
}

enum gl_err
reservation_release(struct gl_req *req)
{
	const char *id = gl_req_capture(req, "id");
	bson_oid_t oid;
	json_t *doc;
	enum gl_err err;

	if (!gl_oid_parse(id, &oid))
		return GL_E_INTERNAL;
	if ((err = gl_db_get("reservations", &oid, &doc)) != GL_OK)
		return err == GL_E_NOT_FOUND ? gl_fail(req, err, NULL, "no reservation has this id")
		                             : err;
	json_decref(doc);
	if ((err = reservation_free(id, "released")) == GL_E_INVALID_STATE)
		return gl_fail(req, err, NULL, "the reservation is being sold: its order is paid");
	if (err != GL_OK)
		return err;
	return reservation_reply(req, &oid);
}

enum gl_err
reservation_commit_route(struct gl_req *req)
{
	const char *id = gl_req_capture(req, "id");
	bson_oid_t oid;
	enum gl_err err;

	if (!gl_oid_parse(id, &oid))
		return GL_E_INTERNAL;
	err = reservation_commit(id);
	if (err == GL_E_NOT_FOUND)
		return gl_fail(req, err, NULL, "no reservation has this id");
	if (err == GL_E_INVALID_STATE)
		return gl_fail(req, err, NULL,
		               "the reservation was released: its units are no longer held");
	if (err != GL_OK)
		return err;
	return reservation_reply(req, &oid);
}
