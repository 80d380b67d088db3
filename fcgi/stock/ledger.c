#include <stdio.h>
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
stock_move_release(const struct stock_level *now, long long qty, struct stock_level *next)
{
	next->on_hand = now->on_hand;
	next->reserved = now->reserved > qty ? now->reserved - qty : 0;
	return GL_OK;
}

/* The latest entry of item: its level and sequence (0 when there is none). */
static enum gl_err
ledger_latest(const char *item, struct stock_level *level, long long *seq)
{
	bson_t filter = BSON_INITIALIZER, opts = BSON_INITIALIZER, sort;
	bson_oid_t oid;
	json_t *list;
	enum gl_err err;

	memset(level, 0, sizeof(*level));
	*seq = 0;
	if (!gl_oid_parse(item, &oid))
		return GL_E_INTERNAL;
	BSON_APPEND_OID(&filter, "item_id", &oid);
	BSON_APPEND_DOCUMENT_BEGIN(&opts, "sort", &sort);
	BSON_APPEND_INT32(&sort, "seq", -1);
	bson_append_document_end(&opts, &sort);
	BSON_APPEND_INT64(&opts, "limit", 1);
	err = gl_db_find_opts("ledger", &filter, &opts, 1, &list);
	bson_destroy(&filter);
	bson_destroy(&opts);
	if (err != GL_OK)
		return err;
	json_t *e = json_array_get(list, 0);
	if (e != NULL) {
		level->on_hand = json_integer_value(json_object_get(e, "on_hand"));
		level->reserved = json_integer_value(json_object_get(e, "reserved"));
		*seq = json_integer_value(json_object_get(e, "seq"));
	}
	json_decref(list);
	return GL_OK;
}

enum gl_err
stock_level_get(const char *item, struct stock_level *level)
{
	long long seq;

	return ledger_latest(item, level, &seq);
}

enum gl_err
stock_apply(const char *item, const char *op, stock_move move, long long qty, const char *ref,
            struct stock_level *after)
{
	struct stock_level now, next;
	long long seq;
	bson_oid_t oid;
	enum gl_err err;
	char id[48];

	if (!gl_oid_parse(item, &oid))
		return GL_E_INTERNAL;
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
		BSON_APPEND_DATE_TIME(&doc, "at", (int64_t)time(NULL) * 1000);
		err = gl_db_insert("ledger", &doc);
		bson_destroy(&doc);
		if (err == GL_OK) {
			if (after != NULL)
				*after = next;
			return GL_OK;
		}
		if (err != GL_E_CONFLICT)
			return err;
	}
	gl_log(GL_LOG_WARN, NULL, "ledger of %s: lost the race %d times", item, LEDGER_TRIES);
	return GL_E_UPSTREAM_DOWN;
}
