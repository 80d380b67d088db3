/*
 * kept_list: the lists of a kept collection, served from its sets in the store (kept.h).
 *
 * FerretDB answers a sorted page with any filter but {_id: value} by reading, decoding and
 * sorting the whole collection: 20,000 orders took 1.6-2.7 s and 2.3 s of its CPU a list
 * (docs/performance.md), and the kitchen's board asks for three such lists every few
 * seconds.  So a collection that names a list field (gl_kept_coll.list_by) keeps its ids
 * in "<prefix>all" and "<prefix>by:<value>" (kept.c's write script moves an id between
 * them with the write that changes the value), and a page is one script that reads a page
 * of ids and each one's document, plus a read by _id in MongoDB for any document the store
 * no longer holds (a clean copy expires after GALLEY_KEPT_KEEP_S), not copied to the store.
 *
 * The sets of documents stored before they existed, or of all of them after the store
 * came back empty, are built by the tick from one cursor over MongoDB; "<prefix>listed"
 * says that is done, and until then lists query MongoDB.  A build reads MongoDB while the
 * writes go on, so it adds an id under the value in the document's hash when the store
 * holds one (newer than MongoDB's); a page still checks each document's value and skips
 * one that no longer has it (a write by a process without lists, during an upgrade).
 */
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "doc.h"
#include "kept.h"
#include "log.h"
#include "now.h"
#include "page.h"
#include "redis.h"
#include "stop.h"

#define LIST_BUILD_LOCK_S "600"     /* a build holds its lock this long at most */
#define LIST_BUILD_BATCH  256       /* ids added per round trip */
#define LIST_ROUNDS       4         /* reads of ids per page at most (skipped ones read more) */
#define LIST_SEEN_US      5000000LL /* the tick asks whether a list is built this often */

/* The first ARGV[2] members of the sorted set KEYS[1] from ARGV[1] up to ARGV[4]
 * (ZRANGEBYLEX bounds), each with its document (key: ARGV[3] .. id): {id, b or ''} pairs. */
static const char page_lua[] =
        "local ids = redis.call('ZRANGEBYLEX', KEYS[1], ARGV[1], ARGV[4], 'LIMIT', 0, ARGV[2]) "
        "local out = {} "
        "for _, id in ipairs(ids) do "
        " out[#out + 1] = id "
        " out[#out + 1] = redis.call('HGET', ARGV[3] .. id, 'b') or '' end "
        "return out";

/* Ids a page skipped, off the set KEYS[1] (of the value ARGV[2], '' for all): each whose
 * document the store does not hold (a page found it nowhere: deleted by hand, say; an
 * insert adds the document and its id in one script, so none is on its way), or holds under
 * another value (listed by a writer without lists: write_lua would have moved it).  Its
 * document's key: ARGV[1] .. id. */
static const char drop_lua[] = "for i = 3, #ARGV, 1 do "
                               " local k = ARGV[1] .. ARGV[i] "
                               " local l = redis.call('HGET', k, 'l') "
                               " if redis.call('EXISTS', k) == 0 or "
                               "    (ARGV[2] ~= '' and l and l ~= ARGV[2]) then "
                               "  redis.call('ZREM', KEYS[1], ARGV[i]) end "
                               "end return 1";

/* The build's batch: ARGV[1] the sets' prefix, then {id, value from MongoDB} pairs.  An id
 * goes into "all" and the set of the value its hash holds, when the store holds it (newer
 * than MongoDB: written meanwhile), else of MongoDB's value. */
static const char build_lua[] = "for i = 2, #ARGV, 2 do "
                                " local id = ARGV[i] "
                                " local l = redis.call('HGET', ARGV[1] .. id, 'l') "
                                " if not l then l = ARGV[i + 1] end "
                                " redis.call('ZADD', ARGV[1] .. 'all', 0, id) "
                                " if l ~= '' then "
                                "  redis.call('ZADD', ARGV[1] .. 'by:' .. l, 0, id) end "
                                "end return 1";

/* The build is done when its lock is still its own (the store did not come back empty
 * meanwhile, taking the sets built so far with it). */
static const char built_lua[] = "if redis.call('GET', KEYS[1]) ~= ARGV[1] then return 0 end "
                                "redis.call('SET', KEYS[2], '1') "
                                "redis.call('DEL', KEYS[1]) return 1";

static const char unlock_lua[] = "if redis.call('GET', KEYS[1]) == ARGV[1] then "
                                 "return redis.call('DEL', KEYS[1]) end return 0";

bool
gl_kept_listed(const char *coll)
{
	char key[160];

	if (gl_kept_list_by(coll) == NULL)
		return false;
	gl_kept_key(key, sizeof(key), coll, "listed");
	return gl_redis_exists(GL_REDIS_STORE, key) == 1;
}

/* Why a page's row is not on the page. */
enum list_skip {
	LIST_SHOWN,
	LIST_GONE,     /* its document is nowhere: deleted from MongoDB by hand, say */
	LIST_ELSEWHERE /* its document is listed under another value now */
};

/* The document of a page's row as API JSON (new) in *out when it is listed under value (NULL:
 * any), from the row's copy, else read (MongoDB, for a copy expired); else *skip says why. */
static enum gl_err
list_row(const char *coll, const char *value, const redisReply *id, const redisReply *b,
         json_t **out, enum list_skip *skip)
{
	char now[GL_KEPT_LIST_VALUE_MAX + 1];
	bson_oid_t oid;
	bson_t doc;
	enum gl_err err;

	*out = NULL;
	*skip = LIST_ELSEWHERE;
	if (id->type != REDIS_REPLY_STRING || !gl_oid_parse(id->str, &oid))
		return GL_OK; /* not an id: never added by kept.c */
	if (b->type == REDIS_REPLY_STRING && b->len > 0 &&
	    bson_init_static(&doc, (const uint8_t *)b->str, b->len)) {
		gl_kept_list_value(coll, &doc, now, sizeof(now));
		if (value != NULL && strcmp(now, value) != 0)
			return GL_OK;
		*out = gl_doc_to_json_new(&doc);
		*skip = LIST_SHOWN;
		return *out != NULL ? GL_OK : GL_E_INTERNAL;
	}
	if ((err = gl_kept_look(coll, &oid, out)) == GL_E_NOT_FOUND) {
		*skip = LIST_GONE;
		return GL_OK;
	}
	if (err != GL_OK)
		return err;
	const char *has = json_string_value(json_object_get(*out, gl_kept_list_by(coll)));
	if (value != NULL && (has == NULL || strcmp(has, value) != 0)) {
		json_decref(*out);
		*out = NULL;
		return GL_OK;
	}
	*skip = LIST_SHOWN;
	return GL_OK;
}

/* Up to want rows of set from from to upto ("-", "(<id>" or "[<id>"; "+" or "[<id>"), with
 * their documents; NULL: away. */
static redisReply *
list_rows(const char *coll, const char *set, const char *from, const char *upto, int want)
{
	char prefix[160], count[16];

	gl_kept_key(prefix, sizeof(prefix), coll, "");
	snprintf(count, sizeof(count), "%d", want);
	const char *keys[] = { set };
	const char *args[] = { from, count, prefix, upto };
	return gl_redis_eval(GL_REDIS_STORE, page_lua, 1, keys, 4, args);
}

/*
 * The bounds of a page: after its cursor (lower-cased: the sets hold ids as kept.c writes
 * them, and ZRANGEBYLEX compares bytes, where a cursor of upper-case digits would sort before
 * every id), and within the ids that start with id_prefix (NULL: all).  False when no id can
 * be in them.
 */
static bool
list_bounds(const char *after, const char *id_prefix, char *from, char *upto)
{
	char lo[25], cursor[25];
	size_t n = id_prefix != NULL ? strlen(id_prefix) : 0;

	if (n > 24)
		return false;
	memset(lo, '0', 24);
	memset(upto + 1, 'f', 24);
	if (n > 0) {
		memcpy(lo, id_prefix, n);
		memcpy(upto + 1, id_prefix, n);
	}
	lo[24] = upto[25] = '\0';
	upto[0] = '[';
	if (n == 0)
		snprintf(upto, 26, "+");
	if (after == NULL || strlen(after) != 24) {
		if (n > 0)
			snprintf(from, 27, "[%s", lo);
		else
			snprintf(from, 27, "-");
		return true;
	}
	for (int i = 0; i < 24; i++)
		cursor[i] = (char)(after[i] >= 'A' && after[i] <= 'F' ? after[i] - 'A' + 'a'
		                                                      : after[i]);
	cursor[24] = '\0';
	if (strcmp(cursor, lo) < 0)
		snprintf(from, 27, "[%s", lo);
	else
		snprintf(from, 27, "(%s", cursor);
	return n == 0 || strcmp(cursor, upto + 1) < 0;
}

/* Take the ids a round skipped off set, when they are still out of place (drop_lua: value
 * '' drops only those whose document is gone), so that the next page does not read them
 * again; what fails is tried at the next page. */
static void
list_drop(const char *coll, const char *value, const char *set, const char **skipped, int n)
{
	char prefix[160];
	redisReply *r;

	if (n == 0)
		return;
	gl_kept_key(prefix, sizeof(prefix), coll, "");
	skipped[0] = prefix;
	skipped[1] = value;
	const char *keys[] = { set };
	if ((r = gl_redis_eval(GL_REDIS_STORE, drop_lua, 1, keys, 2 + n, skipped)) != NULL)
		freeReplyObject(r);
	else
		gl_log(GL_LOG_WARN, NULL, "kept lists: %d ids out of place stay on %s", n, set);
}

/* The ids a round of a page skipped: gone (off any set), and elsewhere (off the set of one
 * value, which holds no other; a set of another kind, a user's orders, keeps them), each
 * after drop_lua's two arguments, borrowed from the round's reply. */
struct list_skipped {
	const char *gone[2 + GL_PAGE_LIMIT_MAX + 1], *elsewhere[2 + GL_PAGE_LIMIT_MAX + 1];
	int ngone, nelsewhere;
};

static void
list_drop_skipped(const char *coll, const char *own_value, const char *set, struct list_skipped *k)
{
	list_drop(coll, "", set, k->gone, k->ngone);
	if (own_value != NULL)
		list_drop(coll, own_value, set, k->elsewhere, k->nelsewhere);
	k->ngone = k->nelsewhere = 0;
}

/*
 * Fill items with up to page->limit documents of set after page->after; *next the id to go
 * on after ("" when the set ends).  One more id than asked says there is a next page; a
 * skipped id (its document gone, or not under value) makes it read on, LIST_ROUNDS times
 * at most, and then the page is short and next says where to go on.  own: set is value's
 * own (kept.c's "by:<value>"), which holds no document under another value.
 */
static enum gl_err
list_fill(const char *coll, const char *value, const char *id_prefix, const char *set, bool own,
          const struct gl_page *page, json_t *items, char *next, size_t size)
{
	static __thread struct list_skipped k; /* 3 KB off a worker's stack */
	const char *own_value = own ? value : NULL;
	char from[27], upto[26];
	enum gl_err err = GL_OK;

	next[0] = '\0';
	if (!list_bounds(page->after, id_prefix, from, upto))
		return GL_OK; /* after the last id with the prefix: an empty page, the end */
	for (int round = 0; round < LIST_ROUNDS; round++) {
		int want = page->limit + 1 - (int)json_array_size(items);
		redisReply *r = list_rows(coll, set, from, upto, want);
		if (r == NULL || r->type != REDIS_REPLY_ARRAY || r->elements % 2 != 0 ||
		    r->elements / 2 > (size_t)want)
			return gl_kept_store_error(r);
		size_t rows = r->elements / 2;
		for (size_t i = 0; i < rows && err == GL_OK; i++) {
			const redisReply *id = r->element[2 * i];
			if (json_array_size(items) == (size_t)page->limit) {
				/* one more: the next page starts after the last one read */
				snprintf(next, size, "%s", from + 1);
				list_drop_skipped(coll, own_value, set, &k);
				freeReplyObject(r);
				return GL_OK;
			}
			json_t *doc;
			enum list_skip skip;
			err = list_row(coll, value, id, r->element[2 * i + 1], &doc, &skip);
			if (err == GL_OK && skip == LIST_SHOWN)
				json_array_append_new(items, doc);
			else if (err == GL_OK && id->type == REDIS_REPLY_STRING &&
			         skip == LIST_GONE)
				k.gone[2 + k.ngone++] = id->str;
			else if (err == GL_OK && id->type == REDIS_REPLY_STRING)
				k.elsewhere[2 + k.nelsewhere++] = id->str;
			if (id->type == REDIS_REPLY_STRING && id->len <= 24)
				snprintf(from, sizeof(from), "(%s", id->str);
		}
		bool ended = rows < (size_t)want;
		if (err == GL_OK)
			list_drop_skipped(coll, own_value, set, &k);
		k.ngone = k.nelsewhere = 0;
		freeReplyObject(r);
		if (err != GL_OK || ended)
			return err;
	}
	snprintf(next, size, "%s", from + 1); /* skipped ids: a short page, go on after them */
	return GL_OK;
}

/* A page of set (own: value's own set) as {items, next} in *out (new). */
static enum gl_err
list_page(const char *coll, const char *set, const char *value, const char *id_prefix, bool own,
          const struct gl_page *page, json_t **out)
{
	json_t *items = json_array();
	char next[26];
	enum gl_err err;

	*out = NULL;
	if (items == NULL || gl_kept_list_by(coll) == NULL || page->limit < 1 ||
	    page->limit > GL_PAGE_LIMIT_MAX) {
		json_decref(items);
		return GL_E_INTERNAL;
	}
	if ((err = list_fill(coll, value, id_prefix, set, own, page, items, next, sizeof(next))) !=
	    GL_OK) {
		json_decref(items);
		return err;
	}
	if (next[0] != '\0')
		*out = json_pack("{s:o, s:s}", "items", items, "next", next);
	else
		*out = json_pack("{s:o, s:n}", "items", items, "next");
	return *out != NULL ? GL_OK : GL_E_INTERNAL;
}

enum gl_err
gl_kept_list(const char *coll, const char *value, const char *id_prefix, const struct gl_page *page,
             json_t **out)
{
	char set[160 + GL_KEPT_LIST_VALUE_MAX], what[8 + GL_KEPT_LIST_VALUE_MAX];

	snprintf(what, sizeof(what), "%s%s", value != NULL ? "by:" : "all",
	         value != NULL ? value : "");
	gl_kept_key(set, sizeof(set), coll, what);
	return list_page(coll, set, value, id_prefix, true, page, out);
}

enum gl_err
gl_kept_list_in(const char *coll, const char *set, const char *value, const char *id_prefix,
                const struct gl_page *page, json_t **out)
{
	return list_page(coll, set, value, id_prefix, false, page, out);
}

/* The build's batch of ids and their values (MongoDB's), sent when full and at the end. */
struct list_build {
	const char *coll;
	char prefix[160];
	const char *argv[1 + 2 * LIST_BUILD_BATCH];
	char ids[LIST_BUILD_BATCH][25];
	char values[LIST_BUILD_BATCH][GL_KEPT_LIST_VALUE_MAX + 1];
	int n;
	long long total;
};

static enum gl_err
list_build_send(struct list_build *b)
{
	redisReply *r;

	if (b->n == 0)
		return GL_OK;
	b->argv[0] = b->prefix;
	for (int i = 0; i < b->n; i++) {
		b->argv[1 + 2 * i] = b->ids[i];
		b->argv[2 + 2 * i] = b->values[i];
	}
	r = gl_redis_eval(GL_REDIS_STORE, build_lua, 0, NULL, 1 + 2 * b->n, b->argv);
	if (r == NULL || r->type != REDIS_REPLY_INTEGER)
		return gl_kept_store_error(r);
	freeReplyObject(r);
	b->total += b->n;
	b->n = 0;
	return GL_OK;
}

/* gl_db_each's step: one stored document ({_id, field}) into the batch. */
static enum gl_err
list_build_one(const bson_t *doc, void *ctx)
{
	struct list_build *b = ctx;
	bson_iter_t it;

	if (gl_stop_requested())
		return GL_E_UPSTREAM_DOWN; /* the next process builds it again */
	if (!bson_iter_init_find(&it, doc, "_id") || !BSON_ITER_HOLDS_OID(&it))
		return GL_OK; /* not one of galley's: no list names it */
	bson_oid_to_string(bson_iter_oid(&it), b->ids[b->n]);
	gl_kept_list_value(b->coll, doc, b->values[b->n], sizeof(b->values[b->n]));
	return ++b->n == LIST_BUILD_BATCH ? list_build_send(b) : GL_OK;
}

/* Build coll's sets under its lock; the mark says they are complete. */
static void
list_build_coll(const char *coll, const char *field)
{
	static struct list_build b; /* the tick thread's alone: 20 KB off its stack */
	char lock[160], mark[160], token[48];
	bson_t opts = BSON_INITIALIZER, fields;
	long long started = gl_now_us();
	enum gl_err err;
	redisReply *r;

	gl_kept_key(lock, sizeof(lock), coll, "listing");
	gl_kept_key(mark, sizeof(mark), coll, "listed");
	snprintf(token, sizeof(token), "%d.%lld", (int)getpid(), started);
	const char *take[] = { "SET", lock, token, "NX", "EX", LIST_BUILD_LOCK_S };
	if (gl_redis_type(GL_REDIS_STORE, 6, take) != REDIS_REPLY_STATUS)
		return; /* another process builds them, or the store is away */
	memset(&b, 0, sizeof(b));
	b.coll = coll;
	gl_kept_key(b.prefix, sizeof(b.prefix), coll, "");
	BSON_APPEND_DOCUMENT_BEGIN(&opts, "projection", &fields);
	BSON_APPEND_INT32(&fields, field, 1);
	bson_append_document_end(&opts, &fields);
	/* gl_db_each writes what is dirty to MongoDB first: what the cursor misses was
	 * written after, by writes that list their ids themselves. */
	err = gl_db_each(coll, NULL, &opts, list_build_one, &b);
	bson_destroy(&opts);
	if (err == GL_OK)
		err = list_build_send(&b);
	const char *keys[] = { lock, mark };
	const char *args[] = { token };
	if (err == GL_OK) {
		r = gl_redis_eval(GL_REDIS_STORE, built_lua, 2, keys, 1, args);
		if (r != NULL && r->type == REDIS_REPLY_INTEGER && r->integer == 1)
			gl_log(GL_LOG_INFO, NULL, "kept lists: %lld %s listed by %s in %lld ms",
			       b.total, coll, field, (gl_now_us() - started) / 1000);
		if (r != NULL)
			freeReplyObject(r);
		return;
	}
	gl_log(GL_LOG_WARN, NULL, "kept lists: %s not listed (%s), tried again", coll,
	       gl_err_info(err)->code);
	if ((r = gl_redis_eval(GL_REDIS_STORE, unlock_lua, 1, keys, 1, args)) != NULL)
		freeReplyObject(r);
}

void
gl_kept_list_build(void)
{
	static long long seen_at; /* the tick thread's: when every list was last seen built */
	long long now = gl_now_us();
	bool all = true;

	if (now - seen_at < LIST_SEEN_US)
		return;
	for (int i = 0; gl_kept_coll(i) != NULL && !gl_stop_requested(); i++) {
		const char *coll = gl_kept_coll(i), *field = gl_kept_list_by(coll);
		if (field == NULL || gl_kept_listed(coll))
			continue;
		all = false;
		list_build_coll(coll, field);
	}
	if (all)
		seen_at = now;
}
