/*
 * due: lists of things whose time will come, for a service's tick (app.h):
 * unpaid orders, holding reservations.
 *
 * The truth is a MongoDB collection of {_id, expires (epoch seconds)}, added
 * before the thing it names is written and dropped once it is settled, so
 * nothing due is ever missed.  A Redis sorted set
 * ("galley:<service>:due:<coll>", scored by expires) indexes it, so a tick
 * reads only what is due now: FerretDB cannot look up "expires <= now"
 * without reading the whole collection.  Redis may miss an entry (it was
 * away when the entry was added, or restarted empty): every
 * GL_DUE_SCAN_S, and whenever Redis cannot be asked, the tick reads the
 * collection itself.  An entry may come up after it was dropped (a ZREM
 * that did not reach Redis): callers settle idempotently.
 *
 * gl_due_each() is how a tick walks a list: one entry at a time, and not
 * one more once the process is asked to stop (stop.h), so a stop never
 * waits for a backlog; what is left comes up for the next process.
 *
 * Ownership: *out of gl_due_find() is new, an array of {"id": <24 hex>}.
 */
#ifndef GL_DUE_H
#define GL_DUE_H

#include <bson/bson.h>
#include <jansson.h>
#include <stdint.h>

#include "err.h"

#define GL_DUE_SCAN_S 30

enum gl_err gl_due_add(const char *coll, const bson_oid_t *id, int64_t expires)
        __attribute__((warn_unused_result));
/* Put an entry's time off to expires (it is tried again then). */
enum gl_err gl_due_move(const char *coll, const bson_oid_t *id, int64_t expires)
        __attribute__((warn_unused_result));
/* Logs a failure: the entry then comes up again and is dropped by the tick. */
void gl_due_drop(const char *coll, const bson_oid_t *id);
/* settle() each of up to max entries whose time has come, until a stop (stop.h).
 * settle() drops or moves the entry once it is settled; one it leaves comes up again. */
void gl_due_each(const char *coll, int max, void (*settle)(const bson_oid_t *id));
/* Up to max entries whose time has come. */
enum gl_err gl_due_find(const char *coll, int max, json_t **out)
        __attribute__((warn_unused_result));

#endif
