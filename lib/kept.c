/*
 * kept: documents kept in the store, written to MongoDB in batches (kept.h).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "conf.h"
#include "consumer.h"
#include "db.h"
#include "doc.h"
#include "due.h"
#include "events.h"
#include "idem.h"
#include "kept.h"
#include "log.h"
#include "now.h"
#include "redis.h"
#include "stop.h"

#define KEPT_MAX    8
#define KEPT_BATCH  "64" /* documents read from the store, written in one round trip */
#define KEPT_ROUNDS 16   /* batches per collection and hold of the lock at most */
/* A flush's (the unpaid orders held for up to GALLEY_KEPT_HOLD_S among them: 4,096 documents,
 * about a third of a second of FerretDB's, well within KEPT_LOCK_MS) */
#define KEPT_FLUSH_ROUNDS 64
/* A document is written once it has been dirty this long: the writes of an order's way to
 * ready (paid, preparing, ready: tens of milliseconds apart) become one. */
#define KEPT_SETTLE_MS "1000"
#define KEPT_LOCK_MS   "5000" /* a projector that died holding it holds it no longer */

static const char *kept_colls[KEPT_MAX];
static const char *kept_list_field[KEPT_MAX];        /* NULL: not listed */
static const char *const *kept_held_while[KEPT_MAX]; /* runs; NULL: nothing held (kept.h) */
static int kept_n;

/* The version read must still be the one stored ("" = no document), then write, list the
 * id as dirty since the first write MongoDB has not seen (ZADD NX keeps that time; KEYS[2]
 * is the held set instead when the write is held, kept.h: a write that changes the value to
 * one not held takes the id off it), move
 * the id to the set of its list value (ARGV[9] the sets' prefix, '' when the collection has
 * no list; ARGV[10] the value: the hash's "l" is the value it is listed under), and add
 * what rides on the write: ARGV[6] events (events.h; event j's stream and channel are
 * KEYS[1 + 2j], KEYS[2 + 2j], its id, type and text ARGV[8 + 3j] to ARGV[10 + 3j], ARGV[5]
 * the streams' MAXLEN), ARGV[7] index entries (the next keys, a score and a member each;
 * a score '' removes the member: a drop riding on the write, due.h),
 * and, as ARGV[8] says, when it holds 'a', the acknowledgement of the event being handled
 * (consumer.h: three keys, stream, tries, handled; three arguments, group, entry id, how
 * long the handled mark is kept), and when it holds 'i', the request's answer for its
 * Idempotency-Key (idem.h: the record's key; its status, response and keep, the fields
 * gl_idem_store() writes), each after the ones before.  The list's sets are named from
 * ARGV[9], not KEYS: which set to leave is known only from the hash (one store, never a
 * cluster).  "all" is added to at every write, not only an insert's: a document loaded from
 * MongoDB that no build listed (put there by hand) is listed by its first write all the
 * same. */
static const char write_lua[] =
        "local v = redis.call('HGET', KEYS[1], 'v') "
        "if ARGV[1] == '' then if v then return 0 end elseif v ~= ARGV[1] then return 0 end "
        "redis.call('HSET', KEYS[1], 'v', ARGV[2], 'b', ARGV[3]) "
        "redis.call('PERSIST', KEYS[1]) "
        "local t = redis.call('TIME') "
        "redis.call('ZADD', KEYS[2], 'NX', t[1] * 1000 + math.floor(t[2] / 1000), ARGV[4]) "
        "if ARGV[9] ~= '' then "
        " local l = redis.call('HGET', KEYS[1], 'l') "
        " if l ~= ARGV[10] then "
        "  if l and KEYS[2] ~= ARGV[9] .. 'held' then redis.call('ZREM', ARGV[9] .. 'held', "
        "ARGV[4]) end "
        "  if l and l ~= '' then redis.call('ZREM', ARGV[9] .. 'by:' .. l, ARGV[4]) end "
        "  if ARGV[10] ~= '' then redis.call('ZADD', ARGV[9] .. 'by:' .. ARGV[10], 0, ARGV[4]) end "
        "  redis.call('HSET', KEYS[1], 'l', ARGV[10]) end "
        " redis.call('ZADD', ARGV[9] .. 'all', 0, ARGV[4]) end "
        "local ne, ni = tonumber(ARGV[6]), tonumber(ARGV[7]) "
        "for j = 1, ne do "
        " redis.call('XADD', KEYS[1 + 2 * j], 'MAXLEN', '~', ARGV[5], '*', 'id', ARGV[8 + 3 * j],"
        "  'type', ARGV[9 + 3 * j], 'event', ARGV[10 + 3 * j]) "
        " redis.call('PUBLISH', KEYS[2 + 2 * j], ARGV[10 + 3 * j]) end "
        "for j = 1, ni do "
        " local s, m = ARGV[9 + 3 * ne + 2 * j], ARGV[10 + 3 * ne + 2 * j] "
        " if s == '' then redis.call('ZREM', KEYS[2 + 2 * ne + j], m) "
        " else redis.call('ZADD', KEYS[2 + 2 * ne + j], s, m) end end "
        "local k, a = 2 + 2 * ne + ni, 10 + 3 * ne + 2 * ni "
        "if ARGV[8]:find('a', 1, true) then "
        " redis.call('SET', KEYS[k + 3], '1', 'EX', ARGV[a + 3]) "
        " redis.call('XACK', KEYS[k + 1], ARGV[a + 1], ARGV[a + 2]) "
        " redis.call('HDEL', KEYS[k + 2], ARGV[a + 2]) k, a = k + 3, a + 3 end "
        "if ARGV[8]:find('i', 1, true) then "
        " redis.call('HSET', KEYS[k + 1], 'state', 'done', 'status', ARGV[a + 1],"
        "  'response', ARGV[a + 2]) "
        " redis.call('EXPIRE', KEYS[k + 1], ARGV[a + 3]) end "
        "return 1";

/* What MongoDB holds, unless the store has a copy already (which is then newer or equal),
 * with the value it is listed under (ARGV[4]; its sets hold it already). */
static const char load_lua[] = "if redis.call('EXISTS', KEYS[1]) == 0 then "
                               " redis.call('HSET', KEYS[1], 'v', ARGV[1], 'b', ARGV[2], 'm', 1,"
                               "  'l', ARGV[4]) "
                               " redis.call('EXPIRE', KEYS[1], ARGV[3]) end "
                               "return redis.call('HMGET', KEYS[1], 'v', 'b')";

/* One of the first ARGV[2] members of the sorted set KEYS[1] scored ARGV[1] or less, the
 * (ARGV[3] mod how many)-th, scored ARGV[5] now unless that is '0', and its document (key:
 * ARGV[4] .. id): {id, v, b} ('' for what the store does not hold), or {} when none is.  A
 * member that is no id is dropped. */
static const char listed_lua[] =
        "local ids = redis.call('ZRANGEBYSCORE', KEYS[1], '-inf', ARGV[1], 'LIMIT', 0, ARGV[2]) "
        "local ok = {} "
        "for _, id in ipairs(ids) do "
        " if #id == 24 and not id:find('[^%x]') then ok[#ok + 1] = id "
        " else redis.call('ZREM', KEYS[1], id) end end "
        "if #ok == 0 then return {} end "
        "local id = ok[tonumber(ARGV[3]) % #ok + 1] "
        "if ARGV[5] ~= '0' then redis.call('ZADD', KEYS[1], ARGV[5], id) end "
        "local d = redis.call('HMGET', ARGV[4] .. id, 'v', 'b') "
        "return {id, d[1] or '', d[2] or ''}";

/* Up to ARGV[2] ids dirty for ARGV[3] ms or more, each with its version, its BSON ('' when
 * gone) and whether MongoDB has had a copy ('1' or ''), the longest dirty first; the ids
 * held (KEYS[2]) for ARGV[4] ms or more are dirty from now on. */
static const char dirty_lua[] =
        "local t = redis.call('TIME') "
        "local upto = t[1] * 1000 + math.floor(t[2] / 1000) - tonumber(ARGV[3]) "
        "local held = redis.call('ZRANGEBYSCORE', KEYS[2], '-inf',"
        " upto + tonumber(ARGV[3]) - tonumber(ARGV[4]), 'LIMIT', 0, ARGV[2]) "
        "for _, id in ipairs(held) do "
        " redis.call('ZREM', KEYS[2], id) redis.call('ZADD', KEYS[1], 'NX', upto, id) end "
        "local ids = redis.call('ZRANGEBYSCORE', KEYS[1], '-inf', upto, 'LIMIT', 0, ARGV[2]) "
        "local out = {} "
        "for _, id in ipairs(ids) do "
        " local d = redis.call('HMGET', ARGV[1] .. id, 'v', 'b', 'm') "
        " out[#out + 1] = id out[#out + 1] = d[1] or '' out[#out + 1] = d[2] or '' "
        " out[#out + 1] = d[3] or '' end "
        "return out";

/* Written: MongoDB has a copy; an id whose version is still the one written (or that is
 * gone) is no longer dirty, nor held (KEYS[2]: a paid order that went on to ready within
 * the second was written as ready, and waits for nothing more), and its copy is kept a
 * while. */
static const char clean_lua[] = "for i = 3, #ARGV, 2 do "
                                " local k = ARGV[1] .. ARGV[i] "
                                " local v = redis.call('HGET', k, 'v') "
                                " if v then redis.call('HSET', k, 'm', 1) end "
                                " if not v or v == ARGV[i + 1] then "
                                "  redis.call('ZREM', KEYS[1], ARGV[i]) "
                                "  redis.call('ZREM', KEYS[2], ARGV[i]) "
                                "  redis.call('EXPIRE', k, ARGV[2]) end "
                                "end return 1";

static const char unlock_lua[] = "if redis.call('GET', KEYS[1]) == ARGV[1] then "
                                 "return redis.call('DEL', KEYS[1]) end return 0";

const char *
gl_kept_coll(int i)
{
	return i >= 0 && i < kept_n ? kept_colls[i] : NULL;
}

bool
gl_kept_is(const char *coll)
{
	for (int i = 0; i < kept_n; i++)
		if (strcmp(kept_colls[i], coll) == 0)
			return true;
	return false;
}

void
gl_kept_key(char *buf, size_t size, const char *coll, const char *what)
{
	snprintf(buf, size, "galley:kept:%s:%s:%s", gl_conf.service, coll, what);
}

const char *
gl_kept_list_by(const char *coll)
{
	for (int i = 0; i < kept_n; i++)
		if (strcmp(kept_colls[i], coll) == 0)
			return kept_list_field[i];
	return NULL;
}

void
gl_kept_list_value(const char *coll, const bson_t *doc, char *buf, size_t size)
{
	const char *field = gl_kept_list_by(coll);
	bson_iter_t it;
	uint32_t len;
	const char *s;

	buf[0] = '\0';
	if (field == NULL || !bson_iter_init_find(&it, doc, field) || !BSON_ITER_HOLDS_UTF8(&it))
		return;
	s = bson_iter_utf8(&it, &len);
	if (len <= GL_KEPT_LIST_VALUE_MAX && len < size && strlen(s) == len)
		memcpy(buf, s, len + 1);
}

/* The prefix of coll's list sets ("" when it has none) into buf. */
static void
kept_list_prefix(char *buf, size_t size, const char *coll)
{
	if (gl_kept_list_by(coll) != NULL)
		gl_kept_key(buf, size, coll, "");
	else
		buf[0] = '\0';
}

/* The index of the run of coll's held values that value is in (kept.h), or -1. */
static int
kept_run(const char *coll, const char *value)
{
	size_t len = strlen(value);

	for (int i = 0; i < kept_n && len > 0; i++) {
		if (strcmp(kept_colls[i], coll) != 0)
			continue;
		for (int run = 0; kept_held_while[i] != NULL && kept_held_while[i][run] != NULL;
		     run++)
			for (const char *w = kept_held_while[i][run]; *w != '\0';
			     w += strspn(w, " ")) {
				size_t n = strcspn(w, " ");
				if (n == len && memcmp(w, value, n) == 0)
					return run;
				w += n;
			}
		return -1;
	}
	return -1;
}

/* Is a write of coll's document from the listed value was to value held back from MongoDB
 * (kept.h)?  Held when value is in a run and was is not in another one. */
static bool
kept_held(const char *coll, const char *was, const char *value)
{
	if (gl_conf.kept_hold_s <= 0)
		return false;
	int run = kept_run(coll, value), before = kept_run(coll, was);
	return run >= 0 && (before < 0 || before == run);
}

static void
kept_doc_key_of(char *buf, size_t size, const char *service, const char *coll, const bson_oid_t *id)
{
	char hex[25];

	bson_oid_to_string(id, hex);
	snprintf(buf, size, "galley:kept:%s:%s:%s", service, coll, hex);
}

static void
kept_doc_key(char *buf, size_t size, const char *coll, const bson_oid_t *id)
{
	kept_doc_key_of(buf, size, gl_conf.service, coll, id);
}

enum gl_err
gl_kept_store_error(redisReply *r)
{
	if (r == NULL)
		return GL_E_UPSTREAM_DOWN;
	gl_log(GL_LOG_ERROR, NULL, "kept: the store answered %s",
	       r->type == REDIS_REPLY_ERROR ? r->str : "an unexpected reply");
	freeReplyObject(r);
	return GL_E_INTERNAL;
}

/*
 * When the store first kept coll (set once): older ids may be in MongoDB
 * alone.  Each thread remembers the answer for a second rather than asking
 * at every insert: the value changes only when the store came back empty,
 * and then the first call after it (any process's, the tick's at the
 * latest) sets it again, so a thread acts on the old value a second at most.
 */
static enum gl_err
kept_since(const char *coll, long long *since)
{
	static __thread struct {
		const char *coll;
		long long since, until;
	} seen[KEPT_MAX];
	char key[160], now[24];
	long long t = (long long)time(NULL);
	redisReply *r;
	int i;

	for (i = 0; i < kept_n && kept_colls[i] != coll && strcmp(kept_colls[i], coll) != 0; i++)
		;
	if (i < kept_n && seen[i].coll != NULL && t < seen[i].until) {
		*since = seen[i].since;
		return GL_OK;
	}
	gl_kept_key(key, sizeof(key), coll, "since");
	snprintf(now, sizeof(now), "%lld", t);
	const char *argv[] = { "SET", key, now, "NX", "GET" };
	if ((r = gl_redis_strv(GL_REDIS_STORE, 5, argv)) == NULL ||
	    (r->type != REDIS_REPLY_STRING && r->type != REDIS_REPLY_NIL))
		return gl_kept_store_error(r);
	*since = r->type == REDIS_REPLY_STRING ? atoll(r->str) : t;
	freeReplyObject(r);
	if (i < kept_n) {
		seen[i].coll = kept_colls[i];
		seen[i].since = *since;
		seen[i].until = t + 1;
	}
	return GL_OK;
}

void
gl_kept_open(const struct gl_kept_coll *colls)
{
	long long since;

	for (kept_n = 0; colls != NULL && colls[kept_n].name != NULL && kept_n < KEPT_MAX;
	     kept_n++) {
		kept_colls[kept_n] = colls[kept_n].name;
		kept_list_field[kept_n] = colls[kept_n].list_by;
		kept_held_while[kept_n] = colls[kept_n].list_by ? colls[kept_n].held_while : NULL;
		/* From the first start on, not the first write: a payment's id is its order's,
		 * made before payments wrote anything, and must not send every payment to
		 * MongoDB to look.  The store away: the first write sets it. */
		(void)kept_since(colls[kept_n].name, &since);
	}
}

/* Can id be in MongoDB without a copy in the store?  (An old id, or one from before.) */
static enum gl_err
kept_maybe_elsewhere(const char *coll, const bson_oid_t *id, bool *maybe)
{
	long long made = (long long)bson_oid_get_time_t(id), since;
	enum gl_err err;

	if ((err = kept_since(coll, &since)) != GL_OK)
		return err;
	/* A host whose clock is behind makes ids that look older: they are looked for in
	 * MongoDB too, which costs a read and is never wrong.  One ahead by up to
	 * GL_KEPT_SKEW_S makes ids that look newer, whose copies outlive the window by that. */
	*maybe =
	        made < since || made < (long long)time(NULL) - gl_conf.kept_keep_s + GL_KEPT_SKEW_S;
	return GL_OK;
}

/* The version field of doc (0 when it has none). */
static long long
kept_version(const bson_t *doc)
{
	bson_iter_t it;

	return bson_iter_init_find(&it, doc, "version") ? bson_iter_as_int64(&it) : 0;
}

/* A reply's [v, b] pair into *doc (new) and *v; false when there is no document. */
static bool
kept_parse(const redisReply *v, const redisReply *b, bson_t **doc, long long *ver)
{
	if (v == NULL || b == NULL || v->type != REDIS_REPLY_STRING ||
	    b->type != REDIS_REPLY_STRING || b->len == 0)
		return false;
	*doc = bson_new_from_data((const uint8_t *)b->str, b->len);
	*ver = atoll(v->str);
	return *doc != NULL;
}

/* The document at key in the store alone: GL_OK, GL_E_NOT_FOUND or the store's error. */
static enum gl_err
kept_fetch(const char *key, bson_t **doc, long long *ver)
{
	redisReply *r;
	bool found;

	*doc = NULL;
	const char *argv[] = { "HMGET", key, "v", "b" };
	if ((r = gl_redis_strv(GL_REDIS_STORE, 4, argv)) == NULL || r->type != REDIS_REPLY_ARRAY ||
	    r->elements != 2)
		return gl_kept_store_error(r);
	found = kept_parse(r->element[0], r->element[1], doc, ver);
	freeReplyObject(r);
	return found ? GL_OK : GL_E_NOT_FOUND;
}

/* The document from the store, else from MongoDB (then copied to the store unless
 * passing: a list's read, which must not fill the store with a year of orders). */
static enum gl_err
kept_read_as(const char *coll, const bson_oid_t *id, bool passing, bson_t **doc, long long *ver)
{
	char key[160];
	redisReply *r;
	bool maybe, found;
	enum gl_err err;

	kept_doc_key(key, sizeof(key), coll, id);
	if ((err = kept_fetch(key, doc, ver)) != GL_E_NOT_FOUND)
		return err;
	if ((err = kept_maybe_elsewhere(coll, id, &maybe)) != GL_OK)
		return err;
	if (!maybe)
		return GL_E_NOT_FOUND;
	bson_t *stored;
	if ((err = gl_db_find_doc(coll, id, &stored)) != GL_OK)
		return err;
	if (passing) {
		*doc = stored;
		*ver = kept_version(stored);
		return GL_OK;
	}
	char v[24], keep[24], listed[GL_KEPT_LIST_VALUE_MAX + 1];
	snprintf(v, sizeof(v), "%lld", kept_version(stored));
	snprintf(keep, sizeof(keep), "%ld", gl_conf.kept_keep_s);
	gl_kept_list_value(coll, stored, listed, sizeof(listed));
	const char *largv[] = { "EVAL", load_lua, "1", key, v, (const char *)bson_get_data(stored),
		                keep,   listed };
	size_t lens[] = { 4,
		          strlen(load_lua),
		          1,
		          strlen(key),
		          strlen(v),
		          stored->len,
		          strlen(keep),
		          strlen(listed) };
	r = gl_redis_argv(GL_REDIS_STORE, 8, largv, lens);
	bson_destroy(stored);
	if (r == NULL || r->type != REDIS_REPLY_ARRAY || r->elements != 2)
		return gl_kept_store_error(r);
	found = kept_parse(r->element[0], r->element[1], doc, ver);
	freeReplyObject(r);
	return found ? GL_OK : GL_E_INTERNAL;
}

static enum gl_err
kept_read(const char *coll, const bson_oid_t *id, bson_t **doc, long long *ver)
{
	return kept_read_as(coll, id, false, doc, ver);
}

/* Store doc at version ver if the store's version is still expect (NULL: no document),
 * with the events and the due change riding on it and the n index entries.  old is the
 * document doc replaces (NULL for an insert): the value it had decides whether the write
 * is held (kept_held: a move within one run).  1 written, 0 someone else was first, or an
 * error. */
static enum gl_err
kept_write(const char *coll, const bson_oid_t *id, const char *expect, long long ver,
           const bson_t *old, const bson_t *doc, const struct gl_kept_index *idx, size_t n,
           bool *written)
{
	struct gl_event *ev[GL_EVENTS_RIDERS_MAX];
	const struct gl_consumer_ack *ack = gl_consumer_ack_riding();
	const struct gl_idem_answer *answer = gl_idem_riding();
	const struct gl_kept_index *due;
	/* EVAL, script, numkeys, 2 keys + 2 an event + 1 an entry + 3 the ack + 1 the answer,
	 * 10 args + 3 an event + 2 an entry + 3 the ack + 3 the answer; the n entries and the
	 * riding due change */
	const char
	        *argv[3 + 2 + 10 + 5 * GL_EVENTS_RIDERS_MAX + 3 * (GL_KEPT_INDEX_MAX + 1) + 6 + 4];
	size_t lens[sizeof(argv) / sizeof(argv[0])];
	char key[160], dirty[160], hex[25], v[24], nkeys[8], nev[8], nidx[8], lists[160];
	char riders[3] = "";
	char listed[GL_KEPT_LIST_VALUE_MAX + 1], was[GL_KEPT_LIST_VALUE_MAX + 1] = "";
	int argc = 0;
	redisReply *r;

	if (n > GL_KEPT_INDEX_MAX)
		return GL_E_INTERNAL;
	kept_doc_key(key, sizeof(key), coll, id);
	kept_list_prefix(lists, sizeof(lists), coll);
	gl_kept_list_value(coll, doc, listed, sizeof(listed));
	if (old != NULL) /* what the store holds: the script's version check makes sure */
		gl_kept_list_value(coll, old, was, sizeof(was));
	gl_kept_key(dirty, sizeof(dirty), coll, kept_held(coll, was, listed) ? "held" : "dirty");
	bson_oid_to_string(id, hex);
	snprintf(v, sizeof(v), "%lld", ver);
	size_t ne = gl_events_riding(coll, hex, ver, ev, GL_EVENTS_RIDERS_MAX);
	size_t ni = n + ((due = gl_due_riding_for(hex)) != NULL);
	snprintf(nkeys, sizeof(nkeys), "%zu",
	         2 + 2 * ne + ni + (ack != NULL ? 3 : 0) + (answer != NULL));
	snprintf(riders, sizeof(riders), "%s%s", ack != NULL ? "a" : "", answer != NULL ? "i" : "");
	snprintf(nev, sizeof(nev), "%zu", ne);
	snprintf(nidx, sizeof(nidx), "%zu", ni);
	argv[argc++] = "EVAL";
	argv[argc++] = write_lua;
	argv[argc++] = nkeys;
	argv[argc++] = key;
	argv[argc++] = dirty;
	for (size_t j = 0; j < ne; j++) {
		argv[argc++] = gl_events_stream(ev[j]);
		argv[argc++] = gl_events_live(ev[j]);
	}
	for (size_t j = 0; j < ni; j++)
		argv[argc++] = j < n ? idx[j].key : due->key;
	if (ack != NULL) {
		argv[argc++] = ack->stream;
		argv[argc++] = ack->tries;
		argv[argc++] = ack->handled;
	}
	if (answer != NULL)
		argv[argc++] = answer->key;
	argv[argc++] = expect != NULL ? expect : "";
	argv[argc++] = v;
	argv[argc] = (const char *)bson_get_data(doc);
	lens[argc++] = doc->len;
	argv[argc++] = hex;
	argv[argc++] = GL_EVENTS_MAXLEN;
	argv[argc++] = nev;
	argv[argc++] = nidx;
	argv[argc++] = riders;
	argv[argc++] = lists;
	argv[argc++] = listed;
	for (size_t j = 0; j < ne; j++) {
		argv[argc++] = gl_events_id(ev[j]);
		argv[argc++] = gl_events_type(ev[j]);
		argv[argc++] = gl_events_text(ev[j]);
	}
	for (size_t j = 0; j < ni; j++) {
		const struct gl_kept_index *e = j < n ? &idx[j] : due;
		argv[argc++] = e->score;
		argv[argc++] = e->member;
	}
	if (ack != NULL) {
		argv[argc++] = ack->group;
		argv[argc++] = ack->sid;
		argv[argc++] = ack->keep;
	}
	if (answer != NULL) {
		argv[argc++] = answer->status;
		argv[argc++] = answer->response;
		argv[argc++] = answer->keep;
	}
	for (int i = 0; i < argc; i++)
		if (argv[i] != (const char *)bson_get_data(doc))
			lens[i] = strlen(argv[i]);
	if ((r = gl_redis_argv(GL_REDIS_STORE, argc, argv, lens)) == NULL ||
	    r->type != REDIS_REPLY_INTEGER) {
		if (answer != NULL)
			gl_idem_rode(false);
		return gl_kept_store_error(r);
	}
	*written = r->integer == 1;
	freeReplyObject(r);
	if (answer != NULL)
		gl_idem_rode(*written);
	if (*written && ack != NULL)
		gl_consumer_ack_rode();
	if (*written && due != NULL)
		gl_due_rode();
	for (size_t j = 0; *written && j < ne; j++)
		gl_events_rode(ev[j]);
	return GL_OK;
}

static void kept_last_keep(const char *coll, const bson_oid_t *id, const bson_t *doc,
                           long long ver);

enum gl_err
gl_kept_insert(const char *coll, const bson_t *doc, const struct gl_kept_index *idx, size_t n)
{
	bson_iter_t it;
	bson_oid_t id;
	bool maybe, written;
	enum gl_err err;

	if (!bson_iter_init_find(&it, doc, "_id") || !BSON_ITER_HOLDS_OID(&it))
		return GL_E_INTERNAL;
	bson_oid_copy(bson_iter_oid(&it), &id);
	if ((err = kept_maybe_elsewhere(coll, &id, &maybe)) != GL_OK)
		return err;
	if (maybe) {
		/* Taken in MongoDB only?  Then it is taken (and the store gets a copy). */
		bson_t *old;
		long long v;
		err = kept_read(coll, &id, &old, &v);
		bson_destroy(old);
		if (err != GL_E_NOT_FOUND)
			return err == GL_OK ? GL_E_CONFLICT : err;
	}
	if ((err = kept_write(coll, &id, NULL, kept_version(doc), NULL, doc, idx, n, &written)) !=
	    GL_OK)
		return err;
	if (!written)
		return GL_E_CONFLICT;
	kept_last_keep(coll, &id, doc, kept_version(doc)); /* a payment's next step changes it */
	return GL_OK;
}

/*
 * Copies of the last KEPT_COPIES documents this thread read with gl_kept_get(), inserted
 * or changed, so that a change of one of them soon after (read, decide, write: a cook's, a
 * route's; insert, then the next step: a payment's; one change, then the next: a cook's
 * start and its end, orders following an order's paid, preparing and ready, with other
 * orders' events between them in its reads) need not read it again.  The write script
 * compares versions, so a copy gone stale costs a refused write and a read, never a wrong
 * write; a refusal or a skip decided on a copy is decided again on a read, so never a
 * wrong answer either.  Each used once, within KEPT_COPY_MS; a document larger than
 * KEPT_COPY_MAX is not copied.  One copy was kept before, and each change of another
 * document lost it: orders' consumers, whose reads bring many orders' events, read again
 * about one order in three that they had written within the second (a MONITOR count).
 * The thread's own, allocated at its first copy; gl_kept_thread_end() frees them.
 */
#define KEPT_COPY_MS  1000
#define KEPT_COPY_MAX 16384
#define KEPT_COPIES   32

struct kept_copy {
	char coll[32];
	bson_oid_t id;
	long long ver, at;
	uint32_t len; /* 0: none */
	uint32_t cap; /* data's size */
	uint8_t *data;
};

static __thread struct kept_copy *kept_copies; /* KEPT_COPIES of them, or NULL */
static __thread unsigned kept_copy_next;       /* the slot a new copy takes */

/* The slot of coll's document id, or NULL. */
static struct kept_copy *
kept_copy_find(const char *coll, const bson_oid_t *id)
{
	for (int i = 0; kept_copies != NULL && i < KEPT_COPIES; i++) {
		struct kept_copy *c = &kept_copies[i];
		if (c->len > 0 && bson_oid_equal(&c->id, id) && strcmp(c->coll, coll) == 0)
			return c;
	}
	return NULL;
}

static void
kept_last_keep(const char *coll, const bson_oid_t *id, const bson_t *doc, long long ver)
{
	struct kept_copy *c = kept_copy_find(coll, id);

	if (c != NULL)
		c->len = 0; /* an older copy goes, even when this one is not kept */
	if (doc->len > KEPT_COPY_MAX || strlen(coll) >= sizeof(c->coll))
		return;
	if (kept_copies == NULL &&
	    (kept_copies = calloc(KEPT_COPIES, sizeof(*kept_copies))) == NULL)
		return;
	if (c == NULL)
		c = &kept_copies[kept_copy_next++ % KEPT_COPIES];
	if (c->cap < doc->len) {
		uint8_t *p = realloc(c->data, doc->len);
		if (p == NULL)
			return;
		c->data = p;
		c->cap = doc->len;
	}
	memcpy(c->data, bson_get_data(doc), doc->len);
	snprintf(c->coll, sizeof(c->coll), "%s", coll);
	bson_oid_copy(id, &c->id);
	c->ver = ver;
	c->at = gl_now_us();
	c->len = doc->len;
}

/* The copy of coll's document id (new) and its version when it is there and fresh, else
 * NULL; either way that copy is used up. */
static bson_t *
kept_last_take(const char *coll, const bson_oid_t *id, long long *ver)
{
	struct kept_copy *c = kept_copy_find(coll, id);
	bson_t *doc = NULL;

	if (c == NULL)
		return NULL;
	if (gl_now_us() - c->at <= KEPT_COPY_MS * 1000LL &&
	    (doc = bson_new_from_data(c->data, c->len)) != NULL)
		*ver = c->ver;
	c->len = 0;
	return doc;
}

void
gl_kept_thread_end(void)
{
	for (int i = 0; kept_copies != NULL && i < KEPT_COPIES; i++)
		free(kept_copies[i].data);
	free(kept_copies);
	kept_copies = NULL;
}

enum gl_err
gl_kept_get(const char *coll, const bson_oid_t *id, json_t **out)
{
	bson_t *doc;
	long long v;
	enum gl_err err;

	*out = NULL;
	if ((err = kept_read(coll, id, &doc, &v)) != GL_OK)
		return err;
	kept_last_keep(coll, id, doc, v);
	*out = gl_doc_to_json_new(doc);
	bson_destroy(doc);
	return *out != NULL ? GL_OK : GL_E_INTERNAL;
}

enum gl_err
gl_kept_look(const char *coll, const bson_oid_t *id, json_t **out)
{
	bson_t *doc;
	long long v;
	enum gl_err err;

	*out = NULL;
	if ((err = kept_read_as(coll, id, true, &doc, &v)) != GL_OK)
		return err;
	*out = gl_doc_to_json_new(doc);
	bson_destroy(doc);
	return *out != NULL ? GL_OK : GL_E_INTERNAL;
}

enum gl_err
gl_kept_get_listed(const char *coll, const char *list, int64_t upto, size_t among, unsigned pick,
                   int64_t hold_until, bool *listed, bson_oid_t *id, json_t **out)
{
	char prefix[160], upto_s[24], among_s[24], pick_s[24], hold_s[24];
	redisReply *r;
	bson_t *doc;
	long long v;
	bool found;

	*listed = false;
	*out = NULL;
	gl_kept_key(prefix, sizeof(prefix), coll, "");
	snprintf(upto_s, sizeof(upto_s), "%lld", (long long)upto);
	snprintf(among_s, sizeof(among_s), "%zu", among);
	snprintf(pick_s, sizeof(pick_s), "%u", pick);
	snprintf(hold_s, sizeof(hold_s), "%lld", (long long)(hold_until > 0 ? hold_until : 0));
	const char *argv[] = { "EVAL",  listed_lua, "1",    list,  upto_s,
		               among_s, pick_s,     prefix, hold_s };
	if ((r = gl_redis_strv(GL_REDIS_STORE, 9, argv)) == NULL || r->type != REDIS_REPLY_ARRAY ||
	    (r->elements != 0 && r->elements != 3))
		return gl_kept_store_error(r);
	if (r->elements == 0) {
		freeReplyObject(r);
		return GL_E_NOT_FOUND;
	}
	if (r->element[0]->type != REDIS_REPLY_STRING || !gl_oid_parse(r->element[0]->str, id))
		return gl_kept_store_error(r);
	*listed = true;
	found = kept_parse(r->element[1], r->element[2], &doc, &v);
	freeReplyObject(r);
	if (!found) /* not in the store: in MongoDB alone, or nowhere */
		return gl_kept_get(coll, id, out);
	kept_last_keep(coll, id, doc, v);
	*out = gl_doc_to_json_new(doc);
	bson_destroy(doc);
	return *out != NULL ? GL_OK : GL_E_INTERNAL;
}

enum gl_err
gl_kept_peek(const char *service, const char *coll, const bson_oid_t *id, json_t **out)
{
	char key[160];
	bson_t *doc;
	long long v;
	enum gl_err err;

	*out = NULL;
	kept_doc_key_of(key, sizeof(key), service, coll, id);
	if ((err = kept_fetch(key, &doc, &v)) != GL_OK)
		return err;
	*out = gl_doc_to_json_new(doc);
	bson_destroy(doc);
	return *out != NULL ? GL_OK : GL_E_INTERNAL;
}

/* old with set's fields over it (in old's order, new ones after) and version ver. */
static bson_t *
kept_apply(const bson_t *old, const bson_t *set, long long ver)
{
	bson_t *doc = bson_new();
	bson_iter_t it, s;
	bool ok = true, versioned = false;

	if (bson_iter_init(&it, old)) {
		while (ok && bson_iter_next(&it)) {
			const char *k = bson_iter_key(&it);
			if (strcmp(k, "version") == 0) {
				ok = BSON_APPEND_INT64(doc, "version", ver);
				versioned = true;
			} else if (set != NULL && bson_iter_init_find(&s, set, k)) {
				ok = bson_append_iter(doc, k, -1, &s);
			} else {
				ok = bson_append_iter(doc, k, -1, &it);
			}
		}
	}
	if (set != NULL && bson_iter_init(&s, set)) {
		while (ok && bson_iter_next(&s)) {
			const char *k = bson_iter_key(&s);
			if (strcmp(k, "version") != 0 && !bson_has_field(old, k))
				ok = bson_append_iter(doc, k, -1, &s);
		}
	}
	if (ok && !versioned)
		ok = BSON_APPEND_INT64(doc, "version", ver);
	if (!ok) {
		bson_destroy(doc);
		return NULL;
	}
	return doc;
}

/* One try: read, decide, write if nobody wrote meanwhile (*raced otherwise). */
static enum gl_err
kept_change_once(const char *coll, const bson_oid_t *id, gl_db_decide decide, void *ctx,
                 const bson_t *set, json_t **out, bool *raced)
{
	bson_t *old, *doc = NULL, decided = BSON_INITIALIZER;
	long long v;
	bool skip = false, written = false;
	char expect[24];
	enum gl_err err = GL_OK;

	*raced = false;
	bool copy = (old = kept_last_take(coll, id, &v)) != NULL;
	if (!copy && (err = kept_read(coll, id, &old, &v)) != GL_OK) {
		bson_destroy(&decided);
		return err;
	}
	if (decide != NULL) {
		json_t *now = gl_doc_to_json_new(old);
		err = now != NULL ? decide(now, &decided, &skip, ctx) : GL_E_INTERNAL;
		json_decref(now);
		set = &decided;
		/* The store's version check guards a write, not a refusal or a skip: decided on
		 * a copy (which another writer may have moved past), those are decided again on
		 * what is stored. */
		if (copy && (err != GL_OK || skip))
			*raced = true;
	}
	if (err == GL_OK && !skip && !*raced) {
		snprintf(expect, sizeof(expect), "%lld", v);
		if ((doc = kept_apply(old, set, v + 1)) == NULL)
			err = GL_E_INTERNAL;
		else if ((err = kept_write(coll, id, expect, v + 1, old, doc, NULL, 0, &written)) ==
		                 GL_OK &&
		         !written)
			*raced = true;
		else if (err == GL_OK && (*out = gl_doc_to_json_new(doc)) == NULL)
			err = GL_E_INTERNAL;
		if (err == GL_OK && written)
			kept_last_keep(coll, id, doc, v + 1); /* its next step starts from it */
	}
	bson_destroy(doc);
	bson_destroy(old);
	bson_destroy(&decided);
	return err;
}

enum gl_err
gl_kept_change(const char *coll, const bson_oid_t *id, gl_db_decide decide, void *ctx,
               const bson_t *set, json_t **out)
{
	enum gl_err err = GL_E_CONFLICT;
	bool raced = true;

	*out = NULL;
	/* Another writer got in between our read and our write: read again and decide again. */
	for (int tries = 0; raced && tries < 16; tries++)
		err = kept_change_once(coll, id, decide, ctx, set, out, &raced);
	return raced ? GL_E_CONFLICT : err;
}

enum gl_err
gl_kept_delete(const char *coll, const bson_oid_t *id)
{
	char key[160], dirty[160], hex[25], lists[160];
	redisReply *r;
	enum gl_err err;

	/* MongoDB first: a copy in the store without one there would be loaded again. */
	err = gl_db_delete_doc(coll, id);
	if (err != GL_OK && err != GL_E_NOT_FOUND)
		return err;
	kept_doc_key(key, sizeof(key), coll, id);
	gl_kept_key(dirty, sizeof(dirty), coll, "dirty");
	kept_list_prefix(lists, sizeof(lists), coll);
	bson_oid_to_string(id, hex);
	/* Out of its lists too: the value it is listed under is the hash's (write_lua). */
	const char *argv[] = { "EVAL",
		               "redis.call('ZREM', KEYS[2], ARGV[1]) "
		               "if ARGV[2] ~= '' then "
		               " redis.call('ZREM', ARGV[2] .. 'held', ARGV[1]) "
		               " local l = redis.call('HGET', KEYS[1], 'l') "
		               " if l and l ~= '' then "
		               "  redis.call('ZREM', ARGV[2] .. 'by:' .. l, ARGV[1]) end "
		               " redis.call('ZREM', ARGV[2] .. 'all', ARGV[1]) end "
		               "return redis.call('DEL', KEYS[1])",
		               "2",
		               key,
		               dirty,
		               hex,
		               lists };
	if ((r = gl_redis_strv(GL_REDIS_STORE, 7, argv)) == NULL || r->type != REDIS_REPLY_INTEGER)
		return gl_kept_store_error(r);
	if (r->integer == 1)
		err = GL_OK;
	freeReplyObject(r);
	return err;
}

/* One batch read from the store: its documents (those MongoDB never had first), and the clean
 * script's ARGV (prefix, how long to keep, then each document's key and version). */
struct kept_batch {
	const bson_t **docs;
	bson_t *owned; /* what docs point to: views of the reply's strings */
	const char **clean;
	size_t n, nnew, nclean;
};

/* Take the batch's rows ({key, version, BSON or '', '' if new}, four strings each) from r. */
static void
kept_batch_rows(struct kept_batch *b, const redisReply *r, size_t rows)
{
	/* The documents MongoDB never had first (inserted), then the others (replaced). */
	for (int pass = 0; pass < 2; pass++) {
		for (size_t i = 0; i < rows; i++) {
			redisReply **row = r->element + 4 * i;
			if (row[0]->type != REDIS_REPLY_STRING ||
			    row[1]->type != REDIS_REPLY_STRING ||
			    row[2]->type != REDIS_REPLY_STRING ||
			    row[3]->type != REDIS_REPLY_STRING || (row[3]->len > 0) != (pass == 1))
				continue;
			if (row[2]->len > 0 &&
			    bson_init_static(&b->owned[b->n], (const uint8_t *)row[2]->str,
			                     row[2]->len)) {
				b->docs[b->n] = &b->owned[b->n];
				b->n++;
			}
			b->clean[b->nclean++] = row[0]->str;
			b->clean[b->nclean++] =
			        row[1]->str; /* the version written ('' when gone) */
		}
		if (pass == 0)
			b->nnew = b->n;
	}
}

/* Write b's documents to coll in MongoDB. */
static enum gl_err
kept_batch_write(const char *coll, const struct kept_batch *b)
{
	size_t nnew = b->nnew;
	enum gl_err err = GL_OK;

	/* An insert is a seventh of a replacement's price on FerretDB (a delete and an insert: 0.56
	 * ms, kept.h); one that finds the id taken
	 * (written by a tick that died before it could say so) makes the batch replace. */
	if (nnew > 0 && (err = gl_db_insert_docs(coll, b->docs, nnew)) == GL_E_CONFLICT)
		nnew = 0;
	if ((err == GL_OK || err == GL_E_CONFLICT) && b->n > nnew)
		err = gl_db_put_docs(coll, b->docs + nnew, b->n - nnew);
	return err;
}

/* Write one batch of coll's documents dirty for KEPT_SETTLE_MS or more, held ones held for
 * GALLEY_KEPT_HOLD_S among them (all: every dirty and held one); *left says whether there
 * were any. */
static enum gl_err
kept_project_batch(const char *coll, bool all, bool *left)
{
	char dirty[160], held[160], prefix[160], keep[24], hold[24];
	struct kept_batch b = { 0 };
	redisReply *r, *c;
	enum gl_err err = GL_E_INTERNAL;

	*left = false;
	gl_kept_key(dirty, sizeof(dirty), coll, "dirty");
	gl_kept_key(held, sizeof(held), coll, "held");
	gl_kept_key(prefix, sizeof(prefix), coll, "");
	snprintf(hold, sizeof(hold), "%ld", all ? 0 : gl_conf.kept_hold_s * 1000);
	const char *keys[] = { dirty, held };
	const char *args[] = { prefix, KEPT_BATCH, all ? "0" : KEPT_SETTLE_MS, hold };
	if ((r = gl_redis_eval(GL_REDIS_STORE, dirty_lua, 2, keys, 4, args)) == NULL ||
	    r->type != REDIS_REPLY_ARRAY)
		return gl_kept_store_error(r);
	size_t rows = r->elements / 4;
	if (rows == 0) {
		freeReplyObject(r);
		return GL_OK;
	}
	*left = true;
	b.docs = calloc(rows, sizeof(*b.docs));
	b.owned = calloc(rows, sizeof(*b.owned));
	b.clean = calloc(2 + 2 * rows, sizeof(*b.clean));
	if (b.docs == NULL || b.owned == NULL || b.clean == NULL)
		goto out;
	snprintf(keep, sizeof(keep), "%ld", gl_conf.kept_keep_s);
	b.clean[b.nclean++] = prefix;
	b.clean[b.nclean++] = keep;
	kept_batch_rows(&b, r, rows);
	if ((err = kept_batch_write(coll, &b)) != GL_OK)
		goto out; /* MongoDB away: the marks stay for the next try */
	c = gl_redis_eval(GL_REDIS_STORE, clean_lua, 2, keys, (int)b.nclean, b.clean);
	if (c == NULL)
		err = GL_E_UPSTREAM_DOWN;
	else
		freeReplyObject(c);
out:
	free(b.docs);
	free(b.owned);
	free(b.clean);
	freeReplyObject(r);
	return err;
}

/* Hold coll's projection lock (waiting up to wait_ms); 1 held, 0 not, -1 store away. */
static int
kept_lock(const char *coll, char *token, size_t size, long wait_ms)
{
	char key[160];
	struct timespec pause = { 0, 2000000 };

	gl_kept_key(key, sizeof(key), coll, "projecting");
	snprintf(token, size, "%d.%ld", (int)getpid(), random());
	const char *argv[] = { "SET", key, token, "NX", "PX", KEPT_LOCK_MS };
	for (long waited = 0;; waited += 2) {
		int type = gl_redis_type(GL_REDIS_STORE, 6, argv);
		if (type < 0 || type == REDIS_REPLY_ERROR)
			return -1;
		if (type == REDIS_REPLY_STATUS)
			return 1;
		if (waited >= wait_ms)
			return 0;
		nanosleep(&pause, NULL);
	}
}

static void
kept_unlock(const char *coll, const char *token)
{
	char key[160];
	redisReply *r;

	gl_kept_key(key, sizeof(key), coll, "projecting");
	const char *keys[] = { key };
	if ((r = gl_redis_eval(GL_REDIS_STORE, unlock_lua, 1, keys, 1, &token)) != NULL)
		freeReplyObject(r);
}

/* Project coll until nothing is due (all: dirty or held at all), or KEPT_ROUNDS batches
 * (all: KEPT_FLUSH_ROUNDS), under its lock. */
static enum gl_err
kept_project_coll(const char *coll, bool all, long wait_ms)
{
	char token[48];
	bool left = true;
	enum gl_err err = GL_OK;
	int locked = kept_lock(coll, token, sizeof(token), wait_ms);

	if (locked < 0)
		return GL_E_UPSTREAM_DOWN;
	/* Another process is on it (or died on it: its lock ends soon).  A flush that waited
	 * its time says so: what it reads next could miss writes on their way to MongoDB. */
	if (locked == 0)
		return wait_ms > 0 ? GL_E_UPSTREAM_TIMEOUT : GL_OK;
	int rounds = all ? KEPT_FLUSH_ROUNDS : KEPT_ROUNDS;

	for (int i = 0; err == GL_OK && left && i < rounds && !gl_stop_requested(); i++)
		err = kept_project_batch(coll, all, &left);
	/* A write that timed out may still be running in MongoDB: the lock stays until it
	 * expires, so that no process sends the same documents again meanwhile (FerretDB
	 * would then queue the two on its one writer, and time out again). */
	if (err != GL_E_UPSTREAM_TIMEOUT)
		kept_unlock(coll, token);
	return err;
}

enum gl_err
gl_kept_flush(const char *coll)
{
	char dirty[160], held[160];
	redisReply *r;

	/* Nothing dirty or held (the usual case of a read-mostly stack): no lock to take. */
	gl_kept_key(dirty, sizeof(dirty), coll, "dirty");
	gl_kept_key(held, sizeof(held), coll, "held");
	const char *keys[] = { dirty, held };
	if ((r = gl_redis_eval(GL_REDIS_STORE,
	                       "return redis.call('ZCARD', KEYS[1]) + redis.call('ZCARD', KEYS[2])",
	                       2, keys, 0, NULL)) == NULL ||
	    r->type != REDIS_REPLY_INTEGER)
		return gl_kept_store_error(r);
	long long n = r->integer;
	freeReplyObject(r);
	return n == 0 ? GL_OK : kept_project_coll(coll, true, gl_conf.db_timeout_ms);
}

/* Name the process's kept collections in GL_KEPT_INDEX, once (the tick thread's). */
static void
kept_index(void)
{
	static bool named;
	char which[80];

	for (int i = 0; i < kept_n && !named; i++) {
		snprintf(which, sizeof(which), "%s:%s", gl_conf.service, kept_colls[i]);
		const char *argv[] = { "SADD", GL_KEPT_INDEX, which };
		if (gl_redis_type(GL_REDIS_STORE, 3, argv) != REDIS_REPLY_INTEGER)
			return; /* the next tick tries again */
	}
	named = true;
}

void
gl_kept_project(void)
{
	kept_index();
	for (int i = 0; i < kept_n && !gl_stop_requested(); i++) {
		long long since;
		(void)kept_since(kept_colls[i],
		                 &since); /* set again if the store came back empty */
		enum gl_err err = kept_project_coll(kept_colls[i], false, 0);
		if (err != GL_OK && err != GL_E_UPSTREAM_DOWN)
			gl_log(GL_LOG_WARN, NULL, "kept: %s not written to MongoDB: %s",
			       kept_colls[i], gl_err_info(err)->code);
	}
}
