#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "db.h"
#include "doc.h"
#include "log.h"
#include "stock.h"

/* A writer that keeps losing the race for the next entry gives up (503) after this many. */
#define LEDGER_TRIES 64

enum gl_err
stock_move_set(const struct stock_level *now, long long qty, struct stock_level *next)
{
	if (qty < now->reserved)
		return GL_E_CONFLICT;
	next->on_hand = qty;
	next->reserved = now->reserved;
	return GL_OK;
}

enum gl_err
stock_move_reserve(const struct stock_level *now, long long qty, struct stock_level *next)
{
	if (now->on_hand - now->reserved < qty)
		return GL_E_INSUFFICIENT_STOCK;
	next->on_hand = now->on_hand;
	next->reserved = now->reserved + qty;
	return GL_OK;
}

enum gl_err
stock_move_commit(const struct stock_level *now, long long qty, struct stock_level *next)
{
	/* The units leave: sold.  Reserved covers them (the reserve entry made sure). */
	next->on_hand = now->on_hand > qty ? now->on_hand - qty : 0;
	next->reserved = now->reserved > qty ? now->reserved - qty : 0;
	return GL_OK;
}

enum gl_err
stock_move_release(const struct stock_level *now, long long qty, struct stock_level *next)
{
	next->on_hand = now->on_hand;
	next->reserved = now->reserved > qty ? now->reserved - qty : 0;
	return GL_OK;
}

/* Entry seq of item, by its _id (the one lookup every MongoDB-wire server makes fast). */
static enum gl_err
ledger_entry(const char *item, long long seq, json_t **out)
{
	bson_t filter = BSON_INITIALIZER;
	char id[48];
	enum gl_err err;

	snprintf(id, sizeof(id), "%s:%lld", item, seq);
	BSON_APPEND_UTF8(&filter, "_id", id);
	err = gl_db_find_one("ledger", &filter, out);
	bson_destroy(&filter);
	return err;
}

/*
 * Where to start looking for item's latest entry: the "heads" document
 * {_id: item, seq, on_hand, reserved}, a copy of an entry that each append
 * writes after the fact (one document write, so seq and level always agree).
 * It is a hint: never ahead of the ledger (written only after an append
 * succeeded), at worst behind it (a writer died between the two, or an
 * older writer wrote last), which the forward probe of ledger_latest()
 * makes up for.
 */
static void
ledger_head_set(const bson_oid_t *item, long long seq, const struct stock_level *l)
{
	bson_t filter = BSON_INITIALIZER, update = BSON_INITIALIZER, set;

	BSON_APPEND_OID(&filter, "_id", item);
	BSON_APPEND_DOCUMENT_BEGIN(&update, "$set", &set);
	BSON_APPEND_INT64(&set, "seq", seq);
	BSON_APPEND_INT64(&set, "on_hand", l->on_hand);
	BSON_APPEND_INT64(&set, "reserved", l->reserved);
	bson_append_document_end(&update, &set);
	if (gl_db_upsert("heads", &filter, &update) != GL_OK)
		gl_log(GL_LOG_DEBUG, NULL, "the ledger head of an item stays behind");
	bson_destroy(&filter);
	bson_destroy(&update);
}

/*
 * The latest entry of item: its level and sequence (0 when there is none).
 * From the head, probe entry after entry by _id until one is missing: two
 * lookups when the head is current.  (A scan sorted by seq would read the
 * whole ledger on FerretDB, which pushes down only _id lookups.)
 */
static enum gl_err
ledger_latest(const char *item, struct stock_level *level, long long *seq)
{
	bson_oid_t oid;
	json_t *e = NULL, *next;
	enum gl_err err;

	memset(level, 0, sizeof(*level));
	*seq = 0;
	if (!gl_oid_parse(item, &oid))
		return GL_E_INTERNAL;
	err = gl_db_get("heads", &oid, &e);
	if (err != GL_OK && err != GL_E_NOT_FOUND)
		return err;
	for (;;) {
		if (e != NULL) {
			*seq = json_integer_value(json_object_get(e, "seq"));
			level->on_hand = json_integer_value(json_object_get(e, "on_hand"));
			level->reserved = json_integer_value(json_object_get(e, "reserved"));
			json_decref(e);
			e = NULL;
		}
		err = ledger_entry(item, *seq + 1, &next);
		if (err == GL_E_NOT_FOUND)
			return GL_OK;
		if (err != GL_OK)
			return err;
		e = next;
	}
}

enum gl_err
stock_level_get(const char *item, struct stock_level *level)
{
	long long seq;

	return ledger_latest(item, level, &seq);
}

/*
 * The once key is taken: by this same op (done already: GL_OK) or by the
 * other way of ending the line (GL_E_CONFLICT: a release cannot follow a
 * commit, nor a commit a release).  A lookup by a key other than _id, but
 * only on this rare path.
 */
static enum gl_err
ledger_once_op(const char *once, const char *op)
{
	bson_t filter = BSON_INITIALIZER;
	json_t *e;
	enum gl_err err;

	BSON_APPEND_UTF8(&filter, "once", once);
	err = gl_db_find_one("ledger", &filter, &e);
	bson_destroy(&filter);
	if (err != GL_OK)
		return err == GL_E_NOT_FOUND ? GL_E_INTERNAL : err;
	const char *was = json_string_value(json_object_get(e, "op"));
	err = was != NULL && strcmp(was, op) == 0 ? GL_OK : GL_E_CONFLICT;
	json_decref(e);
	return err;
}

/*
 * After losing the race for an entry, wait a random while that grows with
 * the losses (up to 8 ms): writers that retry at once would only collide
 * again, each collision costing a read and a refused insert.
 */
static void
ledger_backoff(int losses)
{
	long cap_us = 500L << (losses < 4 ? losses : 4);
	struct timespec ts = { 0, (random() % cap_us) * 1000L };

	nanosleep(&ts, NULL);
}

enum gl_err
stock_apply(const char *item, const char *op, stock_move move, long long qty, const char *ref,
            struct stock_level *after)
{
	struct stock_level now, next;
	long long seq;
	bson_oid_t oid;
	enum gl_err err;
	json_t *taken = NULL;
	char id[48], once[96];

	if (!gl_oid_parse(item, &oid))
		return GL_E_INTERNAL;
	/* A reserved line ends once, released or committed: both ops share one key. */
	if (ref != NULL)
		snprintf(once, sizeof(once), "%s:%s:%s", ref, item,
		         strcmp(op, "reserve") == 0 ? "reserve" : "end");
	for (int i = 0; i < LEDGER_TRIES; i++) {
		if ((err = ledger_latest(item, &now, &seq)) != GL_OK)
			return err;
		if ((err = move(&now, qty, &next)) != GL_OK) {
			if (after != NULL)
				*after = now;
			return err;
		}
		/* Entry seq+1 can be written once: whoever loses reads again. */
		snprintf(id, sizeof(id), "%s:%lld", item, seq + 1);
		bson_t doc = BSON_INITIALIZER;
		BSON_APPEND_UTF8(&doc, "_id", id);
		BSON_APPEND_OID(&doc, "item_id", &oid);
		BSON_APPEND_INT64(&doc, "seq", seq + 1);
		BSON_APPEND_INT64(&doc, "on_hand", next.on_hand);
		BSON_APPEND_INT64(&doc, "reserved", next.reserved);
		BSON_APPEND_UTF8(&doc, "op", op);
		BSON_APPEND_INT64(&doc, "qty", qty);
		if (ref != NULL)
			BSON_APPEND_UTF8(&doc, "ref", ref);
		BSON_APPEND_UTF8(&doc, "once", ref != NULL ? once : id);
		BSON_APPEND_DATE_TIME(&doc, "at", (int64_t)time(NULL) * 1000);
		err = gl_db_insert("ledger", &doc);
		bson_destroy(&doc);
		if (err == GL_OK) {
			ledger_head_set(&oid, seq + 1, &next);
			if (after != NULL)
				*after = next;
			return GL_OK;
		}
		if (err != GL_E_CONFLICT)
			return err;
		/*
		 * Refused: either entry seq+1 was taken (lost the race: try again) or
		 * the once key was (this movement was made already: done).  Entry
		 * seq+1 missing tells them apart with an _id lookup.
		 */
		if (ref != NULL && (err = ledger_entry(item, seq + 1, &taken)) != GL_OK) {
			if (err != GL_E_NOT_FOUND)
				return err;
			if (after != NULL && (err = ledger_latest(item, after, &seq)) != GL_OK)
				return err;
			return ledger_once_op(once, op);
		}
		json_decref(taken);
		ledger_backoff(i);
	}
	gl_log(GL_LOG_WARN, NULL, "ledger of %s: lost the race %d times", item, LEDGER_TRIES);
	return GL_E_UPSTREAM_DOWN;
}
