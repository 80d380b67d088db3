/*
 * Stock: counts per item and all-or-nothing reservations (API.md, stock).
 *
 * Every rule that must not race rests on one thing MongoDB and FerretDB
 * both enforce atomically, a unique _id on insert (FerretDB 1.x applies a
 * conditional update as read, change, write back, with no transaction):
 *  - the count of an item is a ledger: entry n+1 has _id "<item>:<n+1>" and
 *    the whole new state; a writer that loses the race for n+1 re-reads and
 *    tries again, so counts change in one line, one step at a time;
 *  - one reservation per order: a unique index on order_id;
 *  - a movement made for a reservation happens once per line: every entry
 *    carries a unique "once" key (or its own _id): "<reservation>:<item>:
 *    reserve", and "<reservation>:<item>:end" for the one way the line ends,
 *    released or committed (sold).  A second release (two reapers, a cancel
 *    racing expiry, a retry after a crash or a lost answer) is refused by
 *    the index and found done already; a commit after a release, or a
 *    release after a commit, is refused as a conflict.
 */
#ifndef STOCK_H
#define STOCK_H

#include <stdbool.h>

#include "events.h"
#include "req.h"
#include "valid.h"

#define STOCK_MAX 1000000000LL /* on_hand at most */

extern const struct gl_field stock_set_fields[];
extern const struct gl_field reservation_fields[];

/* ledger.c */
struct stock_level {
	long long on_hand, reserved;
};
/* What a movement does to a level: GL_OK with *next, or why it cannot be. */
typedef enum gl_err (*stock_move)(const struct stock_level *now, long long qty,
                                  struct stock_level *next);
enum gl_err stock_level_get(const char *item, struct stock_level *level)
        __attribute__((warn_unused_result));
/*
 * Append one movement of item to the ledger (retried on lost races).  With
 * ref, the movement is made at most once per (ref, item, op): if it was
 * made already, nothing changes and the answer is GL_OK; if the line ended
 * the other way, GL_E_CONFLICT.
 */
enum gl_err stock_apply(const char *item, const char *op, stock_move move, long long qty,
                        const char *ref, struct stock_level *after)
        __attribute__((warn_unused_result));
enum gl_err stock_move_set(const struct stock_level *now, long long qty, struct stock_level *next);
enum gl_err stock_move_reserve(const struct stock_level *now, long long qty,
                               struct stock_level *next);
enum gl_err stock_move_release(const struct stock_level *now, long long qty,
                               struct stock_level *next);
enum gl_err stock_move_commit(const struct stock_level *now, long long qty,
                              struct stock_level *next);

/* reservations.c */
enum gl_err stock_get(struct gl_req *req);
enum gl_err stock_set(struct gl_req *req);
enum gl_err reservation_create(struct gl_req *req);
enum gl_err reservation_release(struct gl_req *req);
enum gl_err reservation_commit_route(struct gl_req *req);
/* Release what reservation id (24 hex) holds, each line at most once, and mark it state;
 * GL_OK also when it had been released, GL_E_INVALID_STATE when it is sold or being sold
 * (a payment claimed it first), GL_E_NOT_FOUND when there is no such record. */
enum gl_err reservation_free(const char *id, const char *state);
/* Sell what reservation id holds (its order is paid): GL_OK also when committed already,
 * GL_E_INVALID_STATE when it ended otherwise (released, expired), GL_E_NOT_FOUND. */
enum gl_err reservation_commit(const char *id);
/* Release every reservation past its expiry (reservation.expired tells its order). */
void reservations_reap(void);

/* events.c: the events stock follows (the service's gl_service.events), and the tick:
 * release what expired, relay staged events. */
extern const struct gl_event_source stock_events[];
void stock_tick(void);

#endif
