/*
 * Stock: counts per item and all-or-nothing reservations (API.md, stock).
 *
 * The hot state lives in the store, the Redis whose AOF is on (lib/redis.h),
 * and every change is one Lua script: atomic by construction, one round
 * trip, never oversold however many processes race.
 *  - an item's level is a hash "galley:stock:level:<item>" {on_hand,
 *    reserved}; one that is missing is loaded from MongoDB ("levels"), with
 *    nothing reserved (what held units before is in the store or nowhere);
 *  - a reservation is a hash "galley:stock:res:<id>" {order_id, lines,
 *    state, expires, version} with "galley:stock:order:<order>" naming it
 *    (one per order) and an entry in the due list "holds"; reserving every
 *    line, or none, happens in one script, and so does its end: released,
 *    expired or committed (sold), once, whichever comes first;
 *  - the script that makes a change adds its event (stock.reserved,
 *    stock.released, reservation.expired) to the stream in the same step.
 * MongoDB stays the record: every changed level and every ended reservation
 * is marked in "galley:stock:dirty", and the tick writes them to MongoDB
 * ("levels", "reservations"), many per second, one write per document
 * however often it changed (project.c).  An ended reservation stays in the
 * store for STOCK_ENDED_KEEP_S, then is read from MongoDB.
 */
#ifndef STOCK_H
#define STOCK_H

#include <stdbool.h>

#include "consumer.h"
#include "events.h"
#include "req.h"
#include "valid.h"

#define STOCK_MAX          1000000000LL /* on_hand at most */
#define STOCK_LINES_MAX    100          /* lines of one reservation */
#define STOCK_ENDED_KEEP_S 86400        /* an ended reservation stays in the store */

extern const struct gl_field stock_set_fields[];
extern const struct gl_field reservation_fields[];

/* levels.c */
struct stock_level {
	long long on_hand, reserved;
};
/* The store's key of item's level (24 hex) into buf. */
void stock_level_key(char *buf, size_t size, const char *item);
/* Load item's level into the store from MongoDB if the store has none; GL_OK or why not. */
enum gl_err stock_level_load(const char *item) __attribute__((warn_unused_result));
enum gl_err stock_level_get(const char *item, struct stock_level *level)
        __attribute__((warn_unused_result));
/* on_hand := n, unless fewer than the units reserved (GL_E_CONFLICT, *level as it is). */
enum gl_err stock_level_set(const char *item, long long n, struct stock_level *level)
        __attribute__((warn_unused_result));
/* An integer field of a reply's array element i, or def. */
long long stock_reply_int(const struct redisReply *r, size_t i, long long def);

/* reservations.c */
enum gl_err stock_get(struct gl_req *req);
enum gl_err stock_set(struct gl_req *req);
enum gl_err reservation_create(struct gl_req *req);
enum gl_err reservation_release(struct gl_req *req);
enum gl_err reservation_commit_route(struct gl_req *req);
/* How a reservation ends, once: each has its stored state and its event (reservations.c's
 * table). */
enum stock_end {
	STOCK_RELEASED,  /* "released": freed, its order cancelled (stock.released) */
	STOCK_EXPIRED,   /* "expired": freed, not paid in time (reservation.expired) */
	STOCK_COMMITTED, /* "committed": sold, its order paid (no event: order.paid says it) */
	STOCK_END__MAX
};
/* End reservation id (24 hex) as how: a freeing end releases its units, committing sells
 * them.  GL_OK also when it had ended the same way (freed either way, or sold),
 * GL_E_INVALID_STATE when it ended the other way, GL_E_NOT_FOUND when there is no such
 * reservation. */
enum gl_err reservation_end(const char *id, enum stock_end how);
/* Release every reservation past its expiry (reservation.expired tells its order). */
void reservations_reap(void);

/* project.c: write what changed to MongoDB (the tick's). */
void stock_project(void);

/* events.c: the events stock follows (the service's gl_service.events), and the tick. */
extern const struct gl_event_source stock_events[];
void stock_tick(void);

#endif
