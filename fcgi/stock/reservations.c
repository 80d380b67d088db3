/* Levels and reservations over HTTP, and the scripts that change them (stock.h). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "cache.h"
#include "conf.h"
#include "db.h"
#include "doc.h"
#include "due.h"
#include "json.h"
#include "log.h"
#include "redis.h"
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
	{ "lines", GL_T_OBJECTS, GL_REQUIRED, 1, STOCK_LINES_MAX, .fields = line_fields },
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

	err = stock_level_set(item, n, &l);
	if (err == GL_E_CONFLICT)
		return gl_fail(req, err, "on_hand",
		               "on_hand may not go below the %lld units reserved", l.reserved);
	if (err != GL_OK)
		return err;
	return level_reply(req, item, &l);
}

/* ------------------------------------------------------------------ the store's keys */

struct res_keys {
	char res[64], order[64], holds[GL_CACHE_KEY_MAX];
};

static void
res_keys(struct res_keys *k, const char *id, const char *order)
{
	snprintf(k->res, sizeof(k->res), "galley:stock:res:%s", id);
	snprintf(k->order, sizeof(k->order), "galley:stock:order:%s", order != NULL ? order : "");
	if (gl_cache_key(k->holds, sizeof(k->holds), "due", "holds") < 0)
		k->holds[0] = '\0';
}

/* The API's view of a reservation: {id, order_id, lines, expires_at, state} (new). */
static json_t *
res_view(const char *id, const char *order, const char *lines, long long expires, const char *state)
{
	char at[32];
	json_t *l = json_loads(lines, 0, NULL);

	gl_doc_time(at, sizeof(at), (int64_t)expires * 1000);
	if (l == NULL)
		return NULL;
	return json_pack("{s:s, s:s, s:o, s:s, s:s}", "id", id, "order_id", order, "lines", l,
	                 "expires_at", at, "state", state);
}

/* A reservation as the store has it: its hash's fields. */
struct res {
	char id[25], order[25], state[16];
	char *lines; /* JSON [{item_id, qty}], owned */
	long long expires;
};

/*
 * Reservation id from the store, else from MongoDB (an ended one, after
 * STOCK_ENDED_KEEP_S): GL_OK with *r filled (free r->lines), GL_E_NOT_FOUND.
 */
static enum gl_err
res_read(const char *id, struct res *r, bool *in_store)
{
	struct res_keys k;
	redisReply *rep;
	bson_oid_t oid;
	json_t *doc;
	enum gl_err err;

	memset(r, 0, sizeof(*r));
	*in_store = false;
	snprintf(r->id, sizeof(r->id), "%s", id);
	res_keys(&k, id, NULL);
	const char *argv[] = { "HMGET", k.res, "order_id", "lines", "state", "expires" };
	if ((rep = gl_redis_strv(GL_REDIS_STORE, 6, argv)) == NULL)
		return GL_E_UPSTREAM_DOWN;
	if (rep->type == REDIS_REPLY_ARRAY && rep->elements == 4 &&
	    rep->element[0]->type == REDIS_REPLY_STRING &&
	    rep->element[1]->type == REDIS_REPLY_STRING &&
	    rep->element[2]->type == REDIS_REPLY_STRING) {
		snprintf(r->order, sizeof(r->order), "%s", rep->element[0]->str);
		r->lines = strdup(rep->element[1]->str);
		snprintf(r->state, sizeof(r->state), "%s", rep->element[2]->str);
		r->expires = stock_reply_int(rep, 3, 0);
		freeReplyObject(rep);
		*in_store = true;
		return r->lines != NULL ? GL_OK : GL_E_INTERNAL;
	}
	freeReplyObject(rep);
	if (!gl_oid_parse(id, &oid))
		return GL_E_NOT_FOUND;
	if ((err = gl_db_get("reservations", &oid, &doc)) != GL_OK)
		return err;
	snprintf(r->order, sizeof(r->order), "%s",
	         json_string_value(json_object_get(doc, "order_id")) ?: "");
	snprintf(r->state, sizeof(r->state), "%s",
	         json_string_value(json_object_get(doc, "state")) ?: "released");
	r->lines = gl_json_dump_new(json_object_get(doc, "lines"));
	{
		int64_t at = 0;
		gl_doc_time_parse(json_string_value(json_object_get(doc, "expires_at")), &at);
		r->expires = at;
	}
	json_decref(doc);
	return r->lines != NULL ? GL_OK : GL_E_INTERNAL;
}

/* 200 (or status) with reservation id as it is now. */
static enum gl_err
res_reply(struct gl_req *req, int status, const char *id)
{
	struct res r;
	bool in_store;
	json_t *view;
	enum gl_err err;

	if ((err = res_read(id, &r, &in_store)) != GL_OK)
		return err;
	view = res_view(r.id, r.order, r.lines, r.expires, r.state);
	free(r.lines);
	return view != NULL ? gl_reply(req, status, view) : GL_E_INTERNAL;
}

/* ------------------------------------------------------------------ reserving */

/*
 * Every line or none.  KEYS: order, res, holds, the event's stream, dirty,
 * then each line's level.  ARGV: res id, order id, lines (JSON), expires,
 * event id, event text, stream MAXLEN, then each line's qty.  Answers
 * {"ok"}, {"exists", id} (the order has one), {"missing", i} (line i's
 * level is not in the store: load it, ask again), {"short", i, available}.
 */
static const char reserve_lua[] =
        "local id = redis.call('GET', KEYS[1]) "
        "if id then return {'exists', id} end "
        "local n = #KEYS - 5 "
        "for i = 1, n do"
        " if redis.call('EXISTS', KEYS[5 + i]) == 0 then return {'missing', tostring(i)} end "
        "end "
        "for i = 1, n do"
        " local h = redis.call('HMGET', KEYS[5 + i], 'on_hand', 'reserved')"
        " local free = (tonumber(h[1]) or 0) - (tonumber(h[2]) or 0)"
        " if free < tonumber(ARGV[7 + i]) then return {'short', tostring(i), tostring(free)} end "
        "end "
        "for i = 1, n do"
        " redis.call('HINCRBY', KEYS[5 + i], 'reserved', ARGV[7 + i])"
        " redis.call('HINCRBY', KEYS[5], KEYS[5 + i], 1) "
        "end "
        "redis.call('SET', KEYS[1], ARGV[1]) "
        "redis.call('HSET', KEYS[2], 'order_id', ARGV[2], 'lines', ARGV[3], 'state', 'holding',"
        " 'expires', ARGV[4], 'version', 1) "
        "redis.call('ZADD', KEYS[3], ARGV[4], ARGV[1]) "
        "redis.call('XADD', KEYS[4], 'MAXLEN', '~', ARGV[7], '*', 'id', ARGV[5],"
        " 'type', 'stock.reserved', 'event', ARGV[6]) "
        "return {'ok'}";

static const char *
reply_str(const redisReply *r, size_t i)
{
	if (r == NULL || r->type != REDIS_REPLY_ARRAY || i >= r->elements ||
	    r->element[i]->type != REDIS_REPLY_STRING)
		return NULL;
	return r->element[i]->str;
}

/* Run the reserve script, loading levels it finds missing; the reply (new) or NULL. */
static redisReply *
reserve_run(const char **keys, int nkeys, const char **args, int nargs, const json_t *lines)
{
	redisReply *r = NULL;

	for (int tries = 0; tries <= nkeys; tries++) {
		const char *what, *at;
		if ((r = gl_redis_eval(GL_REDIS_STORE, reserve_lua, nkeys, keys, nargs, args)) ==
		    NULL)
			return NULL;
		what = reply_str(r, 0);
		at = reply_str(r, 1);
		if (what == NULL || strcmp(what, "missing") != 0 || at == NULL)
			return r;
		const char *item = json_string_value(
		        json_object_get(json_array_get(lines, (size_t)atoi(at) - 1), "item_id"));
		freeReplyObject(r);
		r = NULL;
		if (item == NULL || stock_level_load(item) != GL_OK)
			return NULL;
	}
	return r;
}

/* A repeat for an order that has a reservation: the same answer, nothing reserved twice. */
static enum gl_err
reservation_existing(struct gl_req *req, const char *id)
{
	struct res r;
	bool in_store;
	json_t *view;
	enum gl_err err;

	if ((err = res_read(id, &r, &in_store)) == GL_E_NOT_FOUND)
		return gl_fail(req, GL_E_CONFLICT, "order_id",
		               "this order's reservation is being made");
	if (err != GL_OK)
		return err;
	if (strcmp(r.state, "holding") != 0) {
		free(r.lines);
		return gl_fail(req, GL_E_CONFLICT, "order_id",
		               "this order's reservation has ended");
	}
	view = res_view(r.id, r.order, r.lines, r.expires, r.state);
	free(r.lines);
	return view != NULL ? gl_reply(req, 201, view) : GL_E_INTERNAL;
}

enum gl_err
reservation_create(struct gl_req *req)
{
	json_t *lines = json_object_get(req->body, "lines"), *line, *copy = NULL;
	const char *order = json_string_value(json_object_get(req->body, "order_id"));
	char ids[25], expires_s[24], *lines_text = NULL;
	char levels[STOCK_LINES_MAX][64], qtys[STOCK_LINES_MAX][24];
	const char *keys[5 + STOCK_LINES_MAX], *args[7 + STOCK_LINES_MAX];
	struct res_keys k;
	struct gl_event *ev;
	bson_oid_t id;
	redisReply *r;
	const char *what;
	enum gl_err err = GL_E_INTERNAL;
	size_t i, j, n = json_array_size(lines);
	int64_t expires = (int64_t)time(NULL) + gl_conf.reservation_ttl;

	json_array_foreach(lines, i, line) for (j = 0; j < i; j++) if (
	        strcmp(json_string_value(json_object_get(line, "item_id")),
	               json_string_value(json_object_get(json_array_get(lines, j), "item_id"))) ==
	        0) return gl_fail(req, GL_E_VALIDATION, NULL,
	                          "lines[%zu].item_id repeats lines[%zu]: one line per item", i, j);
	if (n == 0 || n > STOCK_LINES_MAX)
		return GL_E_INTERNAL; /* the route's validator bounds it */
	bson_oid_init(&id, NULL);
	bson_oid_to_string(&id, ids);
	res_keys(&k, ids, order);
	/* Only what a reservation is: {item_id, qty} per line. */
	copy = json_array();
	json_array_foreach(lines, i, line)
	{
		json_array_append_new(copy, json_pack("{s:O, s:O}", "item_id",
		                                      json_object_get(line, "item_id"), "qty",
		                                      json_object_get(line, "qty")));
		stock_level_key(levels[i], sizeof(levels[i]),
		                json_string_value(json_object_get(line, "item_id")));
		snprintf(qtys[i], sizeof(qtys[i]), "%lld",
		         json_integer_value(json_object_get(line, "qty")));
	}
	ev = gl_events_new(req, "stock.reserved",
	                   json_pack("{s:s, s:s, s:O}", "reservation_id", ids, "order_id", order,
	                             "lines", copy));
	lines_text = gl_json_dump_new(copy);
	if (ev == NULL || lines_text == NULL || json_array_size(copy) != n || k.holds[0] == '\0')
		goto out;
	snprintf(expires_s, sizeof(expires_s), "%lld", (long long)expires);
	keys[0] = k.order;
	keys[1] = k.res;
	keys[2] = k.holds;
	keys[3] = gl_events_stream(ev);
	keys[4] = "galley:stock:dirty";
	args[0] = ids;
	args[1] = order;
	args[2] = lines_text;
	args[3] = expires_s;
	args[4] = gl_events_id(ev);
	args[5] = gl_events_text(ev);
	args[6] = GL_EVENTS_MAXLEN;
	for (i = 0; i < n; i++) {
		keys[5 + i] = levels[i];
		args[7 + i] = qtys[i];
	}
	if ((r = reserve_run(keys, 5 + (int)n, args, 7 + (int)n, lines)) == NULL) {
		err = GL_E_UPSTREAM_DOWN;
		goto out;
	}
	what = reply_str(r, 0);
	if (what != NULL && strcmp(what, "ok") == 0) {
		gl_events_added(ev, true);
		ev = NULL;
		json_t *view = res_view(ids, order, lines_text, expires, "holding");
		err = view != NULL ? gl_reply(req, 201, view) : GL_E_INTERNAL;
	} else if (what != NULL && strcmp(what, "exists") == 0 && reply_str(r, 1) != NULL)
		err = reservation_existing(req, reply_str(r, 1));
	else if (what != NULL && strcmp(what, "short") == 0 && reply_str(r, 1) != NULL) {
		size_t at = (size_t)atoi(reply_str(r, 1)) - 1;
		err = gl_fail(
		        req, GL_E_INSUFFICIENT_STOCK, NULL,
		        "lines[%zu]: only %s of item %s are available", at, reply_str(r, 2) ?: "0",
		        json_string_value(json_object_get(json_array_get(lines, at), "item_id")));
	} else
		gl_log(GL_LOG_ERROR, req->request_id, "stock: reserving: %s",
		       r->type == REDIS_REPLY_ERROR ? r->str : "an unexpected reply");
	freeReplyObject(r);
out:
	gl_events_added(ev, false);
	free(lines_text);
	json_decref(copy);
	return err;
}

/* ------------------------------------------------------------------ ending */

/*
 * A reservation ends once, as a whole: released, expired or committed.
 * KEYS: res, holds, the event's stream (or a placeholder), dirty, order,
 * then each line's level.  ARGV: the new state, res id, how long an ended
 * one stays, stream MAXLEN, event id, type and text ("" for none), then
 * each line's qty.  Answers {"ok"}, {"missing"} or {"ended", state}.
 * Committed units leave on_hand and reserved; released ones only reserved.
 */
static const char end_lua[] =
        "local st = redis.call('HGET', KEYS[1], 'state') "
        "if not st then return {'missing'} end "
        "if st ~= 'holding' then return {'ended', st} end "
        "for i = 1, #KEYS - 5 do"
        " local k = KEYS[5 + i] local q = tonumber(ARGV[7 + i])"
        " if redis.call('EXISTS', k) == 1 then"
        "  local h = redis.call('HMGET', k, 'on_hand', 'reserved')"
        "  redis.call('HINCRBY', k, 'reserved', -math.min(q, tonumber(h[2]) or 0))"
        "  if ARGV[1] == 'committed' then"
        "   redis.call('HINCRBY', k, 'on_hand', -math.min(q, tonumber(h[1]) or 0)) end"
        "  redis.call('HINCRBY', KEYS[4], k, 1)"
        " end "
        "end "
        "redis.call('HSET', KEYS[1], 'state', ARGV[1]) "
        "redis.call('HINCRBY', KEYS[1], 'version', 1) "
        "redis.call('EXPIRE', KEYS[1], ARGV[3]) "
        "redis.call('EXPIRE', KEYS[5], ARGV[3]) "
        "redis.call('ZREM', KEYS[2], ARGV[2]) "
        "redis.call('HINCRBY', KEYS[4], KEYS[1], 1) "
        "if ARGV[5] ~= '' then"
        " redis.call('XADD', KEYS[3], 'MAXLEN', '~', ARGV[4], '*', 'id', ARGV[5],"
        " 'type', ARGV[6], 'event', ARGV[7]) "
        "end "
        "return {'ok'}";

/*
 * End reservation id as state, with event type (NULL for none): GL_OK,
 * GL_E_NOT_FOUND, or GL_E_INVALID_STATE with *was its end already.
 */
static enum gl_err
res_end(const char *id, const char *state, const char *type, char *was, size_t was_size)
{
	char levels[STOCK_LINES_MAX][64], qtys[STOCK_LINES_MAX][24], keep[16];
	const char *keys[5 + STOCK_LINES_MAX], *args[7 + STOCK_LINES_MAX];
	struct gl_event *ev = NULL;
	struct res_keys k;
	struct res r;
	json_t *lines = NULL, *line;
	redisReply *rep = NULL;
	const char *what;
	bool in_store;
	size_t i, n;
	enum gl_err err;

	was[0] = '\0';
	if ((err = res_read(id, &r, &in_store)) != GL_OK)
		return err;
	if (!in_store || strcmp(r.state, "holding") != 0) {
		/* Ended (a record in MongoDB is always an ended one). */
		snprintf(was, was_size, "%s", r.state);
		free(r.lines);
		return GL_E_INVALID_STATE;
	}
	res_keys(&k, id, r.order);
	lines = json_loads(r.lines, 0, NULL);
	n = json_array_size(lines);
	err = GL_E_INTERNAL;
	if (n > STOCK_LINES_MAX || k.holds[0] == '\0')
		goto out;
	json_array_foreach(lines, i, line)
	{
		stock_level_key(levels[i], sizeof(levels[i]),
		                json_string_value(json_object_get(line, "item_id")) ?: "");
		snprintf(qtys[i], sizeof(qtys[i]), "%lld",
		         json_integer_value(json_object_get(line, "qty")));
	}
	if (type != NULL &&
	    (ev = gl_events_new(NULL, type,
	                        json_pack("{s:s, s:s, s:O}", "reservation_id", id, "order_id",
	                                  r.order, "lines", lines))) == NULL)
		goto out;
	snprintf(keep, sizeof(keep), "%d", STOCK_ENDED_KEEP_S);
	keys[0] = k.res;
	keys[1] = k.holds;
	keys[2] = ev != NULL ? gl_events_stream(ev) : "galley:events:stock";
	keys[3] = "galley:stock:dirty";
	keys[4] = k.order;
	args[0] = state;
	args[1] = id;
	args[2] = keep;
	args[3] = GL_EVENTS_MAXLEN;
	args[4] = ev != NULL ? gl_events_id(ev) : "";
	args[5] = type != NULL ? type : "";
	args[6] = ev != NULL ? gl_events_text(ev) : "";
	for (i = 0; i < n; i++) {
		keys[5 + i] = levels[i];
		args[7 + i] = qtys[i];
	}
	rep = gl_redis_eval(GL_REDIS_STORE, end_lua, 5 + (int)n, keys, 7 + (int)n, args);
	if (rep == NULL) {
		err = GL_E_UPSTREAM_DOWN;
		goto out;
	}
	what = reply_str(rep, 0);
	if (what != NULL && strcmp(what, "ok") == 0) {
		err = GL_OK;
		gl_events_added(ev, true);
		ev = NULL;
	} else if (what != NULL && strcmp(what, "missing") == 0)
		err = GL_E_NOT_FOUND;
	else if (what != NULL && strcmp(what, "ended") == 0) {
		snprintf(was, was_size, "%s", reply_str(rep, 1) ?: "");
		err = GL_E_INVALID_STATE;
	} else
		gl_log(GL_LOG_ERROR, NULL, "stock: ending %s: %s", id,
		       rep->type == REDIS_REPLY_ERROR ? rep->str : "an unexpected reply");
out:
	if (rep != NULL)
		freeReplyObject(rep);
	gl_events_added(ev, false);
	json_decref(lines);
	free(r.lines);
	return err;
}

enum gl_err
reservation_free(const char *id, const char *state)
{
	char was[16];
	enum gl_err err = res_end(
	        id, state, strcmp(state, "expired") == 0 ? "reservation.expired" : "stock.released",
	        was, sizeof(was));

	if (err == GL_E_INVALID_STATE)
		return strcmp(was, "committed") == 0 ? GL_E_INVALID_STATE : GL_OK;
	return err;
}

enum gl_err
reservation_commit(const char *id)
{
	char was[16];
	enum gl_err err = res_end(id, "committed", NULL, was, sizeof(was));

	if (err == GL_E_INVALID_STATE)
		return strcmp(was, "committed") == 0 ? GL_OK : GL_E_INVALID_STATE;
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
	else if (err == GL_E_NOT_FOUND || err == GL_E_INVALID_STATE)
		gl_due_drop("holds", oid); /* no such reservation, or sold */
}

void
reservations_reap(void)
{
	gl_due_each("holds", 50, reservation_reap);
}

enum gl_err
reservation_release(struct gl_req *req)
{
	const char *id = gl_req_capture(req, "id");
	enum gl_err err = reservation_free(id, "released");

	if (err == GL_E_NOT_FOUND)
		return gl_fail(req, err, NULL, "no reservation has this id");
	if (err == GL_E_INVALID_STATE)
		return gl_fail(req, err, NULL, "the reservation is being sold: its order is paid");
	if (err != GL_OK)
		return err;
	return res_reply(req, 200, id);
}

enum gl_err
reservation_commit_route(struct gl_req *req)
{
	const char *id = gl_req_capture(req, "id");
	enum gl_err err = reservation_commit(id);

	if (err == GL_E_NOT_FOUND)
		return gl_fail(req, err, NULL, "no reservation has this id");
	if (err == GL_E_INVALID_STATE)
		return gl_fail(req, err, NULL,
		               "the reservation was released: its units are no longer held");
	if (err != GL_OK)
		return err;
	return res_reply(req, 200, id);
}
