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
 *  - one release per reserved line: a marker with _id "<reservation>:<item>".
 */
#ifndef STOCK_H
#define STOCK_H

#include <stdbool.h>

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
/* Append one movement of item to the ledger (retried on lost races). */
enum gl_err stock_apply(const char *item, const char *op, stock_move move, long long qty,
                        const char *ref, struct stock_level *after)
        __attribute__((warn_unused_result));
enum gl_err stock_move_set(const struct stock_level *now, long long qty, struct stock_level *next);
enum gl_err stock_move_reserve(const struct stock_level *now, long long qty,
                               struct stock_level *next);
enum gl_err stock_move_release(const struct stock_level *now, long long qty,
                               struct stock_level *next);

/* reservations.c */
enum gl_err stock_get(struct gl_req *req);
enum gl_err stock_set(struct gl_req *req);
enum gl_err reservation_create(struct gl_req *req);
enum gl_err reservation_release(struct gl_req *req);
/* Release what reservation id (24 hex) holds, each line at most once. */
enum gl_err reservation_free(const char *id, const char *state);
/* Release every reservation past its expiry; returns how many. */
int reservations_reap(void);
int stock_init(void);

#endif
