/*
 * kept: a collection whose documents are kept in the store and written to
 * MongoDB in batches.
 *
 * FerretDB costs about a millisecond of CPU per round trip and has no atomic
 * conditional update (../shared/research/db-ceiling.md); an order, its
 * payment and its ticket are written four to six times each on the way to
 * `ready`.  So a service names the collections it writes often
 * (gl_service.kept) and db.c routes their single-document calls here:
 *
 *  - a document is a hash "galley:kept:<service>:<coll>:<id>" in the store
 *    (AOF on): "v" its version, "b" its BSON;
 *  - an insert or a change is one script that compares the version read with
 *    the one stored (so two writers cannot both win: the loser reads again),
 *    writes, and lists the id in the sorted set "...:<coll>:dirty" scored by
 *    when it first differed from MongoDB; the same script adds the events
 *    riding on the write (events.h) and an insert's index entries (below), so
 *    a document, its events and its entries land together or not at all
 *    (and, when the handler of an event lets it, consumer.h's ack_rides, the
 *    event's acknowledgement);
 *  - a change soon after the same thread read, inserted or changed the
 *    document (one of its last 32: a cook's read, decide, write; a payment's
 *    insert, then its next step; orders following an order's events) starts
 *    from that copy, not a second read: the
 *    script's version check refuses it if someone wrote in between, and the
 *    change then reads again;
 *  - a miss loads the document from MongoDB, unless it is too new to be
 *    anywhere but the store (its ObjectId's time is after the collection was
 *    first kept and within the time a clean copy is kept);
 *  - gl_kept_project() (every process's tick thread, one process at a time)
 *    writes the documents dirty for a second or more to MongoDB, many per
 *    round trip (so an order's writes on its way to ready become one), and
 *    takes an id off the list only if its version is still the one written;
 *    a clean copy expires GALLEY_KEPT_KEEP_S (gl_conf.kept_keep_s, an hour)
 *    after it was written to MongoDB or loaded from it: the store holds what
 *    is active (an order from placed to ready, its payment, its ticket), not
 *    every document of the day (about 2.3 KB an order for the three, so a
 *    day's copies at 100 orders a second were 20 GB: docs/capacity.md);
 *  - a query by anything but _id (lists) first projects what is dirty, so it
 *    sees every write acknowledged before it (gl_kept_flush());
 *  - a collection may name a field to list its documents by (orders and tickets: their
 *    status): the write script keeps the field's value in the document's hash ("l") and
 *    its id in the sorted sets "...:<coll>:all" and "...:<coll>:by:<value>", so that a
 *    list is a page of ids and a read of each (kept_list.c), never a query that FerretDB
 *    answers by reading the whole collection;
 *  - a collection may name runs of values of that field that its documents pass through
 *    and do not rest in (orders: pending_payment, which ends in paid or cancelled within
 *    the reservation's 15 minutes; then preparing and ready, which end in completed): a
 *    write that leaves a document under one of them lists it in "...:<coll>:held", not as
 *    dirty, and it is written to MongoDB once it reaches a value not held or one of
 *    another run (an unpaid order that orders saw preparing before it saw it paid), or
 *    after GALLEY_KEPT_HOLD_S (gl_conf.kept_hold_s) held, or when a query by filter asks
 *    (gl_kept_flush()).  A write already dirty stays dirty: a paid order that the
 *    kitchen takes within the second is written, as preparing.  FerretDB replaces a
 *    document by a delete and an insert, and its delete costs six times an insert
 *    (docs/performance.md): an order inserted when it is placed and replaced when it is
 *    paid cost it 0.64 ms, inserted once when paid 0.08 ms; with a kitchen that takes
 *    seconds, an order and its ticket were each replaced about twice more on the way to
 *    ready.  What is held lives where the rest of its flow does (an unpaid order's
 *    reservation, a cook's due entry and the events, all in the store): a store lost
 *    with its disk loses them together;
 *  - another service may read a document where its owner keeps it
 *    (gl_kept_peek(): payments reads the order it is asked to pay), never
 *    write it; what the store does not hold it asks the owner for.
 *
 * MongoDB stays the system of record for what is older than a tick; a store
 * lost with its disk loses what was not yet projected (at most a tick, and what was held).
 *
 * Ownership: documents passed in are borrowed; json_t ** results are new.
 */
#ifndef GL_KEPT_H
#define GL_KEPT_H

#include <bson/bson.h>
#include <hiredis/hiredis.h>
#include <jansson.h>
#include <stdbool.h>
#include <stdint.h>

#include "cache.h"
#include "db.h"
#include "err.h"

/* The set in the store of every kept collection ("<service>:<coll>"), for /metrics. */
#define GL_KEPT_INDEX "galley:kept:index"

/* Clocks of the hosts that make ids may differ by this much (s): an id younger than the
 * keep less this is in the store if it is anywhere (a miss is a 404 without asking MongoDB). */
#define GL_KEPT_SKEW_S 300

/* A kept collection, the field its lists are by (NULL: none; kept_list.c), and the runs of
 * values of that field whose documents are held back from MongoDB (each run its values
 * separated by spaces; ended by NULL; NULL: none; above). */
struct gl_kept_coll {
	const char *name;
	const char *list_by;
	const char *const *held_while;
};

/* The service's kept collections (borrowed, ended by { NULL }; may be NULL), at start-up. */
void gl_kept_open(const struct gl_kept_coll *colls);

/* The service's i-th kept collection, or NULL past the last. */
const char *gl_kept_coll(int i);

/* Is coll kept in the store? */
bool gl_kept_is(const char *coll);

/*
 * An entry of a sorted set in the store that points at a document: a due list's (due.h)
 * or an index's (orders by user).  Added by the document's own insert script, it is added
 * exactly when the document is: no entry naming a document never stored, no stored
 * document without its entry (until its owner drops it), one round trip fewer per entry.
 */
#define GL_KEPT_INDEX_MAX 4 /* entries per insert */

struct gl_kept_index {
	char key[GL_CACHE_KEY_MAX];
	char score[24]; /* "" only for due.h's riding drop: removes the member */
	char member[25];
};

/* Insert doc (with an ObjectId _id) and its n index entries; GL_E_CONFLICT when that _id
 * is taken (then no entry is added). */
enum gl_err gl_kept_insert(const char *coll, const bson_t *doc, const struct gl_kept_index *idx,
                           size_t n) __attribute__((warn_unused_result));

/* Free this thread's copies of the documents it read or wrote last (app.h's
 * gl_app_thread_end() does, for every thread that uses kept documents). */
void gl_kept_thread_end(void);

/* The document id as API JSON in *out (new); GL_E_NOT_FOUND. */
enum gl_err gl_kept_get(const char *coll, const bson_oid_t *id, json_t **out)
        __attribute__((warn_unused_result));

/* The document as gl_kept_get() gives it, without copying one that only MongoDB holds into
 * the store: a list's reads (paging through a year of orders must not fill the store). */
enum gl_err gl_kept_look(const char *coll, const bson_oid_t *id, json_t **out)
        __attribute__((warn_unused_result));

/*
 * The document of one of the first `among` ids listed in the sorted set `list` (a due
 * list's: due.h) with a score of at most `upto`, the (pick mod how many)-th, read with the
 * list in one round trip, so that it was still listed when it was read; its entry scored
 * hold_until in the same script unless that is 0.  *listed, *id, and the document as
 * gl_kept_get() gives it (new; the thread's copy too).  *listed false: none is
 * (GL_E_NOT_FOUND), or the store's error.  GL_E_NOT_FOUND with *listed: an entry whose
 * document is not stored.  A member that is no id is dropped from the list.
 */
enum gl_err gl_kept_get_listed(const char *coll, const char *list, int64_t upto, size_t among,
                               unsigned pick, int64_t hold_until, bool *listed, bson_oid_t *id,
                               json_t **out) __attribute__((warn_unused_result));

/*
 * Another service's kept document as the store holds it now, to read what that service
 * would answer without asking it (its owner alone writes it): the document as API JSON in
 * *out (new), or GL_E_NOT_FOUND when the store does not hold it (never stored, or only in
 * MongoDB: ask the service then), or the store's error.  One round trip; never MongoDB.
 */
enum gl_err gl_kept_peek(const char *service, const char *coll, const bson_oid_t *id, json_t **out)
        __attribute__((warn_unused_result));

/* gl_db_change() (decide not NULL) or an unguarded gl_db_update() of set (decide NULL). */
enum gl_err gl_kept_change(const char *coll, const bson_oid_t *id, gl_db_decide decide, void *ctx,
                           const bson_t *set, json_t **out) __attribute__((warn_unused_result));

/* Delete the document id from the store and MongoDB; GL_E_NOT_FOUND. */
enum gl_err gl_kept_delete(const char *coll, const bson_oid_t *id)
        __attribute__((warn_unused_result));

/* Write every dirty or held document of coll to MongoDB now (before a query by filter). */
enum gl_err gl_kept_flush(const char *coll) __attribute__((warn_unused_result));

/* Write what is dirty in every kept collection (the tick thread; one process at a time). */
void gl_kept_project(void);

/*
 * Lists (kept_list.c).  The sets hold every id of the collection, in MongoDB or only in
 * the store, scored 0 so that they sort by id as lists do; a document's hash is written
 * with its value in one script, so the set of a value and the documents holding it agree
 * at every instant but for what a build races (below), which a page skips.
 */

/* The longest list value kept: a longer one (or one not a string) is listed in "all" only. */
#define GL_KEPT_LIST_VALUE_MAX 64

/* The field coll is listed by, or NULL. */
const char *gl_kept_list_by(const char *coll);

/* The list value of doc (the field's string, or "" when coll has no list, when the field is
 * missing, not a string or longer than GL_KEPT_LIST_VALUE_MAX) into buf. */
void gl_kept_list_value(const char *coll, const bson_t *doc, char *buf, size_t size);

/* A store reply that is not the answer asked for (NULL: the store is away; or an error or
 * another type, logged): GL_E_UPSTREAM_DOWN or GL_E_INTERNAL; r is freed. */
enum gl_err gl_kept_store_error(redisReply *r);

/* "galley:kept:<service>:<coll>:<what>" into buf (kept.c's keys). */
void gl_kept_key(char *buf, size_t size, const char *coll, const char *what);

/* Are coll's sets complete (built from MongoDB since the store last came back empty)?
 * False when the store is away: the caller queries MongoDB. */
bool gl_kept_listed(const char *coll);

/* A page of coll's documents whose list field is value (NULL: all of them) and whose ids
 * start with id_prefix (1..24 lower-case hex digits; NULL: any), from the sets, as
 * gl_db_list() gives it: {items, next} in *out (new). */
enum gl_err gl_kept_list(const char *coll, const char *value, const char *id_prefix,
                         const struct gl_page *page, json_t **out)
        __attribute__((warn_unused_result));

/* A page as gl_kept_list() gives it of another sorted set of coll's ids scored 0 (an index
 * of the service's own: a customer's orders), of the documents under value (NULL: all).  Its
 * ids whose documents are gone are taken off it; the others stay. */
enum gl_err gl_kept_list_in(const char *coll, const char *set, const char *value,
                            const char *id_prefix, const struct gl_page *page, json_t **out)
        __attribute__((warn_unused_result));

/* Build the sets of every listed collection not yet built, from one cursor over MongoDB
 * each (the tick thread; under a lock in the store, one process at a time). */
void gl_kept_list_build(void);

#endif
