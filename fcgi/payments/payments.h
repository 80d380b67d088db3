/*
 * Payments (API.md, payments): an order is paid in four steps, each safe to
 * repeat, so a payment left half-way by a dead process or a provider that
 * did not answer is finished by simply running it again.
 *
 *   record the payment as processing (its id is its order's id: one payment
 *   per order, by a unique _id), listed in the "processing" due list
 *   → authorize the order's total at the provider (provider.h: held, not taken)
 *   → commit the order's reservation in stock: the units are sold.  Stock
 *     lets one of commit and release end a reservation (a unique insert), so
 *     a payment and the order's expiry or cancel cannot both win
 *   → capture the money, then mark the payment succeeded and emit order.paid.
 *
 * One request or tick at a time runs a payment's steps: a new record holds
 * its entry in the "processing" list, anyone else claims it (gl_due_claim)
 * and a request that finds it held answers 409; the provider is never asked
 * the same step twice at once.  A request that fails leaves it due at once,
 * for the client's retry or the tick.
 *
 * A declined card marks it failed and emits order.cancelled (payment_failed),
 * which cancels the order and frees its stock.  If the reservation ended
 * first (the order expired or was cancelled), the hold is cancelled at the
 * provider and the payment is cancelled: the customer is never charged for
 * an order that will not come.  A succeeded payment whose order is cancelled
 * afterwards (before it is ready, orders allows it) is refunded when
 * order.cancelled arrives.
 *
 * Who may pay: the order's owner or staff (gl_req_may_see, the rule orders
 * applies to its reads), judged on the order where orders keeps it (the
 * store, gl_kept_peek), or on orders' answer to the caller for an order the
 * store no longer holds.
 */
#ifndef PAYMENTS_H
#define PAYMENTS_H

#include "consumer.h"
#include "req.h"
#include "valid.h"

/* How long a request or tick holds a processing payment whose steps it runs (its claim on
 * the payment's "processing" entry, due.h; beyond the provider's timeout, three calls):
 * nobody else runs them meanwhile, and once it has passed the tick takes the payment up. */
#define PAYMENT_RESUME_S (3 * gl_conf.payment_timeout_ms / 1000 + 5)

extern const struct gl_field payment_fields[];

/* pay.c */
enum gl_err payment_create(struct gl_req *req);
/* Run the steps again for every processing payment left over (the tick). */
void payments_resume(void);

/* payments.c */
enum gl_err payment_get(struct gl_req *req);
void payments_tick(void);
/* The events payments follows: order.cancelled (refund a succeeded payment). */
extern const struct gl_event_source payments_events[];

#endif
