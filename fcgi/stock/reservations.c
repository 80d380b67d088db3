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
	{ "lines", GL_T_OBJECTS, GL_REQUIRED, 1, STOCK_LINES_MAX, .fields = line_fields,
	  .unique = "item_id" },
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

/* What a script answers: its first element, and how many strings follow it at least. */
enum res_answer { RES_OK, RES_EXISTS, RES_MISSING, RES_SHORT, RES_ENDED, RES_ANSWER__MAX };

static const struct {
	const char *name;
	size_t args;
} res_answers[RES_ANSWER__MAX] = {
	[RES_OK] = { "ok", 0 },           [RES_EXISTS] = { "exists", 1 },
	[RES_MISSING] = { "missing", 0 }, [RES_SHORT] = { "short", 1 },
	[RES_ENDED] = { "ended", 1 },
};

static const char *
reply_str(const redisReply *r, size_t i)
{
	if (r == NULL || r->type != REDIS_REPLY_ARRAY || i >= r->elements ||
	    r->element[i]->type != REDIS_REPLY_STRING)
		return NULL;
	return r->element[i]->str;
}

/* Which answer r is; RES_ANSWER__MAX for an error or a reply no script gives. */
static enum res_answer
res_answer(const redisReply *r)
{
	const char *what = reply_str(r, 0);

	for (int a = 0; what != NULL && a < RES_ANSWER__MAX; a++)
		if (strcmp(what, res_answers[a].name) == 0)
			return reply_str(r, res_answers[a].args) != NULL ? (enum res_answer)a
			                                                 : RES_ANSWER__MAX;
	return RES_ANSWER__MAX;
}

/* The reserve script's KEYS and ARGV: five and seven of its own, then one of each per line (the
 * line's level, its qty). */
struct res_call {
	char levels[STOCK_LINES_MAX][64], qtys[STOCK_LINES_MAX][24];
	const char *keys[5 + STOCK_LINES_MAX], *args[7 + STOCK_LINES_MAX];
	int nkeys, nargs;
};

/* Fill c from the script's own keys and args and lines ([{item_id, qty}], at most
 * STOCK_LINES_MAX, borrowed: so are keys and args, until the call). */
static void
res_call_init(struct res_call *c, const char *const keys[5], const char *const args[7],
              const json_t *lines)
{
	size_t i, n = json_array_size(lines);
	json_t *line;

	memcpy(c->keys, keys, 5 * sizeof(*keys));
	memcpy(c->args, args, 7 * sizeof(*args));
	json_array_foreach(lines, i, line) {
		stock_level_key(c->levels[i], sizeof(c->levels[i]),
		                json_string_value(json_object_get(line, "item_id")) ?: "");
		snprintf(c->qtys[i], sizeof(c->qtys[i]), "%lld",
		         json_integer_value(json_object_get(line, "qty")));
		c->keys[5 + i] = c->levels[i];
		c->args[7 + i] = c->qtys[i];
	}
	c->nkeys = 5 + (int)n;
	c->nargs = 7 + (int)n;
}

/* Run the reserve script, loading levels it finds missing; the reply (new) or NULL. */
static redisReply *
reserve_run(const struct res_call *c, const json_t *lines)
{
	redisReply *r = NULL;

	for (int tries = 0; tries <= c->nkeys; tries++) {
		const char *at;
		if ((r = gl_redis_eval(GL_REDIS_STORE, reserve_lua, c->nkeys, c->keys, c->nargs,
		                       c->args)) == NULL)
			return NULL;
		if (res_answer(r) != RES_MISSING || (at = reply_str(r, 1)) == NULL)
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

/* A reservation being made: what the reserve script is given, and the event it adds. */
struct reserve {
	char id[25], expires_s[24];
	const char *order; /* borrowed from the body */
	int64_t expires;
	json_t *lines; /* new: only what a reservation is, {item_id, qty} per line */
	char *text;    /* new: lines as JSON text, as the store keeps them */
	struct gl_event *ev;
};

/* Make rs from the request's body: GL_OK, or GL_E_INTERNAL (free it either way). */
static enum gl_err
reserve_new(struct gl_req *req, struct reserve *rs)
{
	const json_t *lines = json_object_get(req->body, "lines"), *line;
	bson_oid_t id;
	size_t i;

	memset(rs, 0, sizeof(*rs));
	rs->order = json_string_value(json_object_get(req->body, "order_id"));
	rs->expires = (int64_t)time(NULL) + gl_conf.reservation_ttl;
	snprintf(rs->expires_s, sizeof(rs->expires_s), "%lld", (long long)rs->expires);
	bson_oid_init(&id, NULL);
	bson_oid_to_string(&id, rs->id);
	if ((rs->lines = json_array()) == NULL)
		return GL_E_INTERNAL;
	json_array_foreach(lines, i, line) {
		json_array_append_new(rs->lines, json_pack("{s:O, s:O}", "item_id",
		                                           json_object_get(line, "item_id"), "qty",
		                                           json_object_get(line, "qty")));
	}
	rs->ev = gl_events_new(req, "stock.reserved",
	                       json_pack("{s:s, s:s, s:O}", "reservation_id", rs->id, "order_id",
	                                 rs->order, "lines", rs->lines));
	rs->text = gl_json_dump_new(rs->lines);
	if (rs->ev == NULL || rs->text == NULL || json_array_size(rs->lines) != i)
		return GL_E_INTERNAL;
	return GL_OK;
}

static void
reserve_free(struct reserve *rs)
{
	gl_events_added(rs->ev, false);
	free(rs->text);
	json_decref(rs->lines);
}

/* The answer to a reservation the script made, or did not (r is its reply). */
static enum gl_err
reserve_reply(struct gl_req *req, struct reserve *rs, const redisReply *r)
{
	json_t *view;
	size_t at;

	switch (res_answer(r)) {
	case RES_OK:
		gl_events_added(rs->ev, true);
		rs->ev = NULL;
		view = res_view(rs->id, rs->order, rs->text, rs->expires, "holding");
		return view != NULL ? gl_reply(req, 201, view) : GL_E_INTERNAL;
	case RES_EXISTS:
		return reservation_existing(req, reply_str(r, 1));
	case RES_SHORT:
		at = (size_t)atoi(reply_str(r, 1)) - 1;
		return gl_fail(req, GL_E_INSUFFICIENT_STOCK, NULL,
		               "lines[%zu]: only %s of item %s are available", at,
		               reply_str(r, 2) ?: "0",
		               json_string_value(
		                       json_object_get(json_array_get(rs->lines, at), "item_id")));
	default:
		gl_log(GL_LOG_ERROR, req->request_id, "stock: reserving: %s",
		       r->type == REDIS_REPLY_ERROR ? r->str : "an unexpected reply");
		return GL_E_INTERNAL;
	}
}

enum gl_err
reservation_create(struct gl_req *req)
{
	size_t n = json_array_size(json_object_get(req->body, "lines"));
	struct reserve rs;
	struct res_keys k;
	struct res_call c;
	redisReply *r;
	enum gl_err err;

	if (n == 0 || n > STOCK_LINES_MAX)
		return GL_E_INTERNAL; /* the route's validator bounds it */
	if ((err = reserve_new(req, &rs)) != GL_OK)
		goto out;
	res_keys(&k, rs.id, rs.order);
	if (k.holds[0] == '\0') {
		err = GL_E_INTERNAL;
		goto out;
	}
	const char *keys[] = { k.order, k.res, k.holds, gl_events_stream(rs.ev),
		               "galley:stock:dirty" };
	const char *args[] = { rs.id,
		               rs.order,
		               rs.text,
		               rs.expires_s,
		               gl_events_id(rs.ev),
		               gl_events_text(rs.ev),
		               GL_EVENTS_MAXLEN };
	res_call_init(&c, keys, args, rs.lines);
	if ((r = reserve_run(&c, rs.lines)) == NULL) {
		err = GL_E_UPSTREAM_DOWN;
		goto out;
	}
	err = reserve_reply(req, &rs, r);
	freeReplyObject(r);
out:
	reserve_free(&rs);
	return err;
}

/* ------------------------------------------------------------------ ending */

/*
 * A reservation ends once, as a whole: released, expired or committed, by one run of
 * end_lua, which reads what it ends from the reservation's hash: a commit, which adds no
 * event, is then one round trip (an end with an event reads the lines first, to make it).
 * KEYS: res, holds, the event's stream (or a placeholder), dirty.  ARGV: the new state,
 * res id, how long an ended one stays, stream MAXLEN, event id, type and text ("" for
 * none), the levels' key prefix, the order pointers' key prefix.  Answers {"missing"}, or
 * {"ok" or "ended", the state it ended in now or before, order, lines, expires}.
 * Committed units leave on_hand and reserved; released ones only reserved.  The levels
 * and the order's pointer are named from the hash, not KEYS (one store, never a cluster).
 */
static const char end_lua[] =
        "local h = redis.call('HMGET', KEYS[1], 'state', 'order_id', 'lines', 'expires') "
        "if not h[1] or not h[2] or not h[3] then return {'missing'} end "
        "if h[1] ~= 'holding' then return {'ended', h[1], h[2], h[3], h[4] or '0'} end "
        "for _, l in ipairs(cjson.decode(h[3])) do"
        " local k = ARGV[8] .. l.item_id local q = tonumber(l.qty)"
        " if redis.call('EXISTS', k) == 1 then"
        "  local v = redis.call('HMGET', k, 'on_hand', 'reserved')"
        "  redis.call('HINCRBY', k, 'reserved', -math.min(q, tonumber(v[2]) or 0))"
        "  if ARGV[1] == 'committed' then"
        "   redis.call('HINCRBY', k, 'on_hand', -math.min(q, tonumber(v[1]) or 0)) end"
        "  redis.call('HINCRBY', KEYS[4], k, 1)"
        " end "
        "end "
        "redis.call('HSET', KEYS[1], 'state', ARGV[1]) "
        "redis.call('HINCRBY', KEYS[1], 'version', 1) "
        "redis.call('EXPIRE', KEYS[1], ARGV[3]) "
        "redis.call('EXPIRE', ARGV[9] .. h[2], ARGV[3]) "
        "redis.call('ZREM', KEYS[2], ARGV[2]) "
        "redis.call('HINCRBY', KEYS[4], KEYS[1], 1) "
        "if ARGV[5] ~= '' then"
        " redis.call('XADD', KEYS[3], 'MAXLEN', '~', ARGV[4], '*', 'id', ARGV[5],"
        " 'type', ARGV[6], 'event', ARGV[7]) "
        "end "
        "return {'ok', ARGV[1], h[2], h[3], h[4] or '0'}";

/* How each end is stored, the event it adds (NULL: none), and whether it sells the units. */
static const struct {
	const char *state, *event;
	bool sells;
} stock_ends[STOCK_END__MAX] = {
	[STOCK_RELEASED] = { "released", "stock.released", false },
	[STOCK_EXPIRED] = { "expired", "reservation.expired", false },
	[STOCK_COMMITTED] = { "committed", NULL, true },
};

/* The end whose stored state is state; STOCK_END__MAX for any other. */
static enum stock_end
stock_end_named(const char *state)
{
	for (int e = 0; e < STOCK_END__MAX; e++)
		if (strcmp(state, stock_ends[e].state) == 0)
			return (enum stock_end)e;
	return STOCK_END__MAX;
}

/*
 * End reservation id in the store as how (one run of end_lua, with how's event, made from
 * the order and lines in *r when how has one): GL_OK with *r as it is now, GL_E_NOT_FOUND
 * (the store does not hold it), or GL_E_INVALID_STATE with *r as it ended before.  *r's
 * fields are filled from the store's answer (free r->lines) when it held the reservation.
 */
static enum gl_err
res_end_store(const char *id, enum stock_end how, struct res *r)
{
	const char *event = stock_ends[how].event;
	char keep[16], level[64];
	struct gl_event *ev = NULL;
	struct res_keys k;
	redisReply *rep = NULL;
	enum gl_err err = GL_E_INTERNAL;
	enum res_answer a;

	res_keys(&k, id, ""); /* k.order: the order pointers' prefix */
	if (k.holds[0] == '\0')
		goto out;
	if (event != NULL) {
		json_t *lines = json_loads(r->lines != NULL ? r->lines : "", 0, NULL);
		if (lines != NULL)
			ev = gl_events_new(NULL, event,
			                   json_pack("{s:s, s:s, s:O}", "reservation_id", id,
			                             "order_id", r->order, "lines", lines));
		json_decref(lines);
		if (ev == NULL)
			goto out;
	}
	snprintf(keep, sizeof(keep), "%d", STOCK_ENDED_KEEP_S);
	stock_level_key(level, sizeof(level), "");
	const char *keys[] = { k.res, k.holds,
		               ev != NULL ? gl_events_stream(ev) : "galley:events:stock",
		               "galley:stock:dirty" };
	const char *args[] = { stock_ends[how].state,
		               id,
		               keep,
		               GL_EVENTS_MAXLEN,
		               ev != NULL ? gl_events_id(ev) : "",
		               event != NULL ? event : "",
		               ev != NULL ? gl_events_text(ev) : "",
		               level,
		               k.order };
	if ((rep = gl_redis_eval(GL_REDIS_STORE, end_lua, 4, keys, 9, args)) == NULL) {
		err = GL_E_UPSTREAM_DOWN;
		goto out;
	}
	if ((a = res_answer(rep)) == RES_MISSING) {
		err = GL_E_NOT_FOUND;
	} else if ((a == RES_OK || a == RES_ENDED) && reply_str(rep, 4) != NULL) {
		free(r->lines);
		snprintf(r->id, sizeof(r->id), "%s", id);
		snprintf(r->state, sizeof(r->state), "%s", reply_str(rep, 1));
		snprintf(r->order, sizeof(r->order), "%s", reply_str(rep, 2));
		r->lines = strdup(reply_str(rep, 3));
		r->expires = atoll(reply_str(rep, 4));
		err = r->lines == NULL ? GL_E_INTERNAL : a == RES_OK ? GL_OK : GL_E_INVALID_STATE;
		if (a == RES_OK) {
			gl_events_added(ev, true);
			ev = NULL;
		}
	} else {
		gl_log(GL_LOG_ERROR, NULL, "stock: ending %s: %s", id,
		       rep->type == REDIS_REPLY_ERROR ? rep->str : "an unexpected reply");
	}
out:
	if (rep != NULL)
		freeReplyObject(rep);
	gl_events_added(ev, false);
	return err;
}

/*
 * reservation_end(), and when view is not NULL and it ends (or had ended the same way), the
 * reservation as it is then in *view (new): what a read of it would answer, without the read.
 */
static enum gl_err
reservation_end_view(const char *id, enum stock_end how, json_t **view)
{
	struct res r;
	bool in_store;
	enum gl_err err = GL_E_NOT_FOUND;

	memset(&r, 0, sizeof(r));
	if (view != NULL)
		*view = NULL;
	if ((int)how < 0 || how >= STOCK_END__MAX)
		return GL_E_INTERNAL;
	if (stock_ends[how].event == NULL)
		err = res_end_store(id, how, &r); /* a payment's commit: one round trip */
	if (stock_ends[how].event != NULL || err == GL_E_NOT_FOUND) {
		/* An end with an event is made from the lines, read first; one the store does not
		 * hold ended long ago (a record in MongoDB is always an ended one). */
		free(r.lines);
		if ((err = res_read(id, &r, &in_store)) != GL_OK)
			return err;
		err = in_store && strcmp(r.state, "holding") == 0 ? res_end_store(id, how, &r)
		                                                  : GL_E_INVALID_STATE;
	}
	if (err == GL_E_INVALID_STATE) {
		/* Ended already: done if it ended the same way (freed, or sold), else too late. */
		enum stock_end then = stock_end_named(r.state);
		bool sold = then != STOCK_END__MAX && stock_ends[then].sells;
		err = sold == stock_ends[how].sells ? GL_OK : GL_E_INVALID_STATE;
	}
	if (err == GL_OK && view != NULL &&
	    (*view = res_view(r.id, r.order, r.lines, r.expires, r.state)) == NULL)
		err = GL_E_INTERNAL;
	free(r.lines);
	return err;
}

enum gl_err
reservation_end(const char *id, enum stock_end how)
{
	return reservation_end_view(id, how, NULL);
}

static void
reservation_reap(const bson_oid_t *oid)
{
	char id[25];
	enum gl_err err;

	bson_oid_to_string(oid, id);
	err = reservation_end(id, STOCK_EXPIRED);
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
	json_t *view;
	enum gl_err err = reservation_end_view(gl_req_capture(req, "id"), STOCK_RELEASED, &view);

	if (err == GL_E_NOT_FOUND)
		return gl_fail(req, err, NULL, "no reservation has this id");
	if (err == GL_E_INVALID_STATE)
		return gl_fail(req, err, NULL, "the reservation is being sold: its order is paid");
	if (err != GL_OK)
		return err;
	return gl_reply(req, 200, view);
}

enum gl_err
reservation_commit_route(struct gl_req *req)
{
	json_t *view;
	enum gl_err err = reservation_end_view(gl_req_capture(req, "id"), STOCK_COMMITTED, &view);

	if (err == GL_E_NOT_FOUND)
		return gl_fail(req, err, NULL, "no reservation has this id");
	if (err == GL_E_INVALID_STATE)
		return gl_fail(req, err, NULL,
		               "the reservation was released: its units are no longer held");
	if (err != GL_OK)
		return err;
	return gl_reply(req, 200, view);
}
