/*
 * due: lists of things whose time will come, for a service's tick (app.h):
 * unpaid orders, holding reservations.
 *
 * A list is a sorted set in the store (redis.h: the Redis whose AOF is on),
 * "galley:<service>:due:<coll>", scored by expires (epoch seconds): an
 * entry is added before the thing it names is written and dropped once it
 * is settled, so nothing due is ever missed, and a tick reads only what is
 * due now, in one round trip.  (They were MongoDB collections, which
 * FerretDB cannot ask "expires <= now" without reading whole; what such a
 * collection still holds is moved into the store once.)  An entry may come
 * up after its thing was settled (a drop that did not reach the store):
 * callers settle idempotently.
 *
 * gl_due_each() is how a tick walks a list: one entry at a time, and not
 * one more once the process is asked to stop (stop.h), so a stop never
 * waits for a backlog; what is left comes up for the next process.
 *
 * Entries are ids (bson_oid_t) both ways: what is not an id in the store is skipped.
 */
#ifndef GL_DUE_H
#define GL_DUE_H

#include <bson/bson.h>
#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "err.h"

enum gl_err gl_due_add(const char *coll, const bson_oid_t *id, int64_t expires)
        __attribute__((warn_unused_result));
/* The same entry for the insert of the thing it names (db.h, gl_db_insert_indexed): one
 * round trip, and the entry is added exactly when the thing is.  0, or -1 (no key). */
struct gl_kept_index;
int gl_due_index(struct gl_kept_index *e, const char *coll, const bson_oid_t *id, int64_t expires);
/* Put an entry's time off to expires (it is tried again then). */
enum gl_err gl_due_move(const char *coll, const bson_oid_t *id, int64_t expires)
        __attribute__((warn_unused_result));
/*
 * Take an entry whose time has come until `until` (epoch seconds): its time is put off
 * then, atomically, so of the ticks and requests that race for it exactly one gets
 * GL_DUE_CLAIMED. What a thing with effects outside galley needs (a payment's calls to its
 * provider): whoever holds the entry is alone at it until its time comes again. The others
 * get GL_DUE_HELD (*held_until: when the holder's time runs out) or GL_DUE_ABSENT (no such
 * entry: the thing was settled, or never listed). held_until may be NULL.
 */
enum gl_due_claim { GL_DUE_CLAIMED, GL_DUE_HELD, GL_DUE_ABSENT };
enum gl_err gl_due_claim(const char *coll, const bson_oid_t *id, int64_t until,
                         enum gl_due_claim *got, int64_t *held_until)
        __attribute__((warn_unused_result));
/* Logs a failure: the entry then comes up again and is dropped by the tick. */
void gl_due_drop(const char *coll, const bson_oid_t *id);
/*
 * Drop coll's entry for id, or move it to expires, in the same script as this thread's next
 * kept write (kept.h) that lands of a document whose id is id: stage it just before that
 * write.  One round trip fewer, and the entry changes exactly when the write that settles
 * its thing does (a move rides as an add: the write landed, so the entry belongs there).
 * One change rides at a time (another replaces it; coll is borrowed until the end).  Each
 * is ended by gl_due_riding_end(apply): the change had ridden, or when apply is true and it
 * had not (no such write landed, or the collection is not kept), gl_due_drop() or
 * gl_due_move() now; either way nothing rides any more.
 */
void gl_due_drop_riding(const char *coll, const bson_oid_t *id);
void gl_due_move_riding(const char *coll, const bson_oid_t *id, int64_t expires);
void gl_due_riding_end(bool apply);
/* For kept.c: the change riding on the write of the document whose id is hex (a drop is an
 * entry whose score is ""), or NULL; gl_due_rode() once the script that carried it wrote. */
const struct gl_kept_index *gl_due_riding_for(const char *hex);
void gl_due_rode(void);
/* The most entries one call reads: a tick takes a bounded bite of a backlog. */
#define GL_DUE_MAX 64
/* settle() each of up to max (<= GL_DUE_MAX) entries whose time has come, until a stop
 * (stop.h). settle() drops or moves the entry once it is settled; one it leaves comes up
 * again. */
void gl_due_each(const char *coll, size_t max, void (*settle)(const bson_oid_t *id));
/* Up to max (<= GL_DUE_MAX) entries whose time has come, earliest first, into ids[];
 * *n says how many. */
enum gl_err gl_due_find(const char *coll, bson_oid_t *ids, size_t max, size_t *n)
        __attribute__((warn_unused_result));

/*
 * One entry of coll's list whose time has come, picked at random among the first max (<=
 * GL_DUE_MAX), with the document it names in this service's kept collection kept_coll
 * (kept.h), read in the same round trip, and put off hold_s seconds (0: left as it is) in
 * it too: so it was still listed when it was read, and the other takers of the list (a
 * kitchen's cooks) pass it by while this one decides, rather than reading it and racing for
 * the same write.  A hint, not a claim: the document decides (its guarded write), and an
 * entry whose taker went away comes up again after hold_s.  *listed, *id, *doc (new): as
 * gl_kept_get_listed() says.
 */
enum gl_err gl_due_pick(const char *coll, const char *kept_coll, size_t max, int hold_s,
                        bool *listed, bson_oid_t *id, json_t **doc)
        __attribute__((warn_unused_result));

#endif
