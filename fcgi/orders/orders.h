/*
 * Orders (API.md, orders): placing an order is a small saga over HTTP.
 *
 *   check the customer (customers) and every item (menu, prices snapshotted),
 *   read where those services cache them when they do (place.c, order_cached)
 *   → reserve every line at once (stock, keyed by the new order's id)
 *   → store the order as pending_payment with the reservation's expiry.
 *
 * Each step that fails undoes the ones before it (a reservation is released),
 * and what a dead process leaves half-done is finished by time: a
 * reservation without a stored order expires in stock, a stored order past
 * its expiry is cancelled here by the tick (orders_expire), which also
 * releases its reservation.  Idempotency-Key (lib/idem) makes a retried POST
 * answer the first result; the stock side is keyed by order id, so even a
 * retry that got past idem could not reserve twice for one order.
 *
 * The owner of an order is the user linked to its customer record
 * (user_id); a customer sees and cancels only orders it owns.
 */
#ifndef ORDERS_H
#define ORDERS_H

#include "consumer.h"
#include "req.h"
#include "valid.h"

#define ORDER_NAME_MAX 120 /* a customer's name, as the customers service allows it */

extern const struct gl_field order_fields[];
extern const struct gl_field order_query[];

/* place.c */
enum gl_err order_place(struct gl_req *req);

/* list.c */
enum gl_err order_list(struct gl_req *req);

/* by_user.c: each user's order ids in the store, for a customer's list (see there) */
/* The entry of order (24 hex) in user's (24 hex) set, for the order's insert; 0 or -1. */
struct gl_kept_index;
int order_by_user_index(struct gl_kept_index *e, const char *user, const char *order);
/* Does the set hold every stored order yet (built from MongoDB once)? */
bool order_by_user_built(void);
/* A page of user's orders, as gl_db_list answers ({items, next}, *out new). */
enum gl_err order_by_user_list(const char *user, const char *status, const char *id_prefix,
                               const struct gl_page *page, json_t **out);
/* The tick's part: build the sets from MongoDB when the store has none (one process). */
void orders_by_user_build(void);

/* orders.c */
enum gl_err order_get(struct gl_req *req);
enum gl_err order_cancel(struct gl_req *req);
/* The service's tick: cancel every pending order past its expiry, relay staged events,
 * build the per-user sets when the store has none. */
void orders_tick(void);
/* The events orders follows (the service's gl_service.events): reservation.expired
 * (cancelled), order.paid, order.preparing, order.ready, order.completed (the status), and
 * another service's order.cancelled (payment_failed). */
extern const struct gl_event_source orders_events[];

/* live.c: hand an order event (borrowed) to the live views (/live/orders), with the order
 * as it now is (borrowed; NULL: the event's data is the order itself).  Queued for the
 * process's poster thread: it never waits for the live server. */
void order_live(const json_t *event, const json_t *order);
/* The service's init and stop: start the poster thread (0, or -1 logged); post what is
 * queued and join it. */
int orders_live_start(void);
void orders_live_stop(void);

/* Ask stock to release reservation id (24 hex); GL_OK also when it was released already. */
enum gl_err order_release_stock(const struct gl_req *req, const char *reservation)
        __attribute__((warn_unused_result));

#endif
