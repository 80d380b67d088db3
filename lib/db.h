/*
 * db: MongoDB access through mongo-c-driver.
 *
 * One mongoc_client_pool_t per process, opened after fork by gl_db_open();
 * each call pops a client and pushes it back, so threads may share the
 * pool.  Each service owns the database "galley_<service>".  Failures are
 * sorted by blame: an unreachable or slow server is GL_E_UPSTREAM_DOWN or
 * GL_E_UPSTREAM_TIMEOUT, a duplicate key GL_E_CONFLICT, anything else a
 * bug (GL_E_INTERNAL) that is logged with the driver's message.
 *
 * A service's kept collections (kept.h) live in the store: the calls by _id
 * go there, and a query by filter first writes what is dirty to MongoDB.
 *
 * Ownership: documents passed in are borrowed; json_t ** results are new.
 */
#ifndef GL_DB_H
#define GL_DB_H

#include <bson/bson.h>
#include <jansson.h>
#include <stdbool.h>

#include "err.h"
#include "page.h"

/* Open the pool for gl_conf.mongo_uri; 0 or -1 (logged). */
int gl_db_open(void);
void gl_db_close(void);

/* Is the server answering? GL_OK or GL_E_UPSTREAM_DOWN. */
enum gl_err gl_db_ping(void) __attribute__((warn_unused_result));

/* Insert doc; GL_E_CONFLICT when a unique key is taken. */
enum gl_err gl_db_insert(const char *coll, const bson_t *doc) __attribute__((warn_unused_result));

/*
 * Insert doc and its n (<= GL_KEPT_INDEX_MAX) entries in sorted sets of the store
 * (kept.h: a due list's, an index's).  A kept collection writes them in the document's
 * own script; another adds them first, so a stored document always has its entries (one
 * may then name a document never stored: readers skip those).
 */
struct gl_kept_index;
enum gl_err gl_db_insert_indexed(const char *coll, const bson_t *doc,
                                 const struct gl_kept_index *idx, size_t n)
        __attribute__((warn_unused_result));

/* The document with _id id as API JSON in *out (new); GL_E_NOT_FOUND. */
enum gl_err gl_db_get(const char *coll, const bson_oid_t *id, json_t **out)
        __attribute__((warn_unused_result));

/*
 * A page of documents matching filter (borrowed; NULL for all), by
 * ascending _id, as {"items":[...],"next":id|null} in *out (new).
 */
enum gl_err gl_db_list(const char *coll, const bson_t *filter, const struct gl_page *page,
                       json_t **out) __attribute__((warn_unused_result));

/*
 * Call each with every document matching filter (borrowed; NULL for all), with find
 * options opts (borrowed; NULL for none: a projection, say), in one cursor: one scan
 * however many there are, where paging by _id ranges scans once a page (FerretDB pushes
 * down only an exact _id).  The document is borrowed for the call.  A kept collection's
 * dirty documents are written to MongoDB first.  Stops at each's first error.
 */
typedef enum gl_err (*gl_db_each_fn)(const bson_t *doc, void *ctx);
enum gl_err gl_db_each(const char *coll, const bson_t *filter, const bson_t *opts,
                       gl_db_each_fn each, void *ctx) __attribute__((warn_unused_result));

/*
 * Every document matching filter, up to max, by ascending _id, as a JSON
 * array in *out (new).
 */
enum gl_err gl_db_find_all(const char *coll, const bson_t *filter, int max, json_t **out)
        __attribute__((warn_unused_result));

/*
 * Apply set (borrowed; a document of fields) to the document id and bump
 * its version.  version >= 0 requires the stored version to equal it
 * (If-Match).  *out (new) is the document after the change.  GL_E_NOT_FOUND,
 * or GL_E_CONFLICT when the version is stale.
 */
enum gl_err gl_db_update(const char *coll, const bson_oid_t *id, long long version,
                         const bson_t *set, json_t **out) __attribute__((warn_unused_result));

/*
 * Change document id by what it is now: under the same lock as
 * gl_db_update, read it (borrowed to decide), and decide appends to set the
 * fields to write and returns GL_OK (the version is bumped, *out (new) is the
 * document after), or sets *skip (nothing written, *out NULL, GL_OK), or
 * returns why not (returned as it is).  One read and one write, where a read
 * then gl_db_update() make two reads.
 */
typedef enum gl_err (*gl_db_decide)(const json_t *now, bson_t *set, bool *skip, void *ctx);
enum gl_err gl_db_change(const char *coll, const bson_oid_t *id, gl_db_decide decide, void *ctx,
                         json_t **out) __attribute__((warn_unused_result));

/* Delete the document id; GL_E_NOT_FOUND when there is none. */
enum gl_err gl_db_delete(const char *coll, const bson_oid_t *id)
        __attribute__((warn_unused_result));

/* Does a document with _id id exist?  GL_OK, GL_E_NOT_FOUND or a dependency error. */
enum gl_err gl_db_exists(const char *coll, const bson_oid_t *id)
        __attribute__((warn_unused_result));

/* Up to max documents matching filter with find options opts (sort, limit; both borrowed) as a JSON
 * array in *out (new). */
enum gl_err gl_db_find_opts(const char *coll, const bson_t *filter, const bson_t *opts, int max,
                            json_t **out) __attribute__((warn_unused_result));

/* The first document matching filter (borrowed) as JSON in *out (new); GL_E_NOT_FOUND. */
enum gl_err gl_db_find_one(const char *coll, const bson_t *filter, json_t **out)
        __attribute__((warn_unused_result));

/* Apply update (borrowed, with operators) to every document matching filter. */
enum gl_err gl_db_update_where(const char *coll, const bson_t *filter, const bson_t *update)
        __attribute__((warn_unused_result));

/* Apply update (borrowed) to the one document matching filter, or insert it (upsert). */
enum gl_err gl_db_upsert(const char *coll, const bson_t *filter, const bson_t *update)
        __attribute__((warn_unused_result));

/* Delete every document matching filter (borrowed); *n, when not NULL, says how many. */
enum gl_err gl_db_delete_where(const char *coll, const bson_t *filter, long long *n)
        __attribute__((warn_unused_result));

/*
 * For kept.c, which holds a kept collection's documents (kept.h), and stock's
 * projection: these go to MongoDB whatever the collection.  The document id
 * as BSON in *out (new; GL_E_NOT_FOUND); delete it; put each of docs
 * (borrowed, each with its _id) in place of the one stored, if any, in two
 * round trips (a delete of each by _id, then one insert of all: FerretDB
 * applies a replacement as a read and a write per document, 2.1 ms of its CPU
 * each even 64 to a round trip, and a delete and an insert for 1.2 ms;
 * between the two a reader of MongoDB itself may miss them, never one
 * through lib/db: kept.c flushes under its lock first); insert each of docs
 * in one round trip (GL_E_CONFLICT when an _id was taken: the others are
 * inserted all the same).
 */
enum gl_err gl_db_find_doc(const char *coll, const bson_oid_t *id, bson_t **out)
        __attribute__((warn_unused_result));
enum gl_err gl_db_delete_doc(const char *coll, const bson_oid_t *id)
        __attribute__((warn_unused_result));
enum gl_err gl_db_put_docs(const char *coll, const bson_t *const *docs, size_t n)
        __attribute__((warn_unused_result));
enum gl_err gl_db_insert_docs(const char *coll, const bson_t *const *docs, size_t n)
        __attribute__((warn_unused_result));

#endif
