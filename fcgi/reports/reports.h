/*
 * Reports (API.md, live updates and operations): the numbers of the
 * dashboard's Reports view, for staff, computed from counters kept from the
 * events and never by reading another service's collections.
 *
 * Every order event (the orders stream) is counted once, by a script in the
 * store (the Redis whose AOF is on; one for all the events a read brings),
 * which tells by the order's record what was counted already (counters.c):
 *  - "galley:reports:hour:<h>" (h: hours since the epoch, UTC) is a hash of
 *    the hour's numbers: orders (placed in it), status:<s> (of the orders
 *    placed in it, each where it is now), paid and revenue:<currency> (paid
 *    in it), item:<item_id> (units paid for in it), ready and ready_ms (orders
 *    ready in it, and the milliseconds each took from paid), cancelled:<reason>
 *    and refunded:<currency> (cancelled in it; refunded: those paid before);
 *  - "galley:reports:order:<id>" is what the counting needs to know of one
 *    order: its status (s), when it was paid (p, ms), its total (t) and
 *    currency (c), when it was ready (r), that its placing was counted (o);
 *    changed in the same script as the counting, so a crash cannot count an
 *    event twice, and a redelivery finds its step counted;
 *  - "galley:reports:items" names each item paid for (its latest name).
 * An hour's numbers and an open order's record are kept REPORTS_KEEP_S; the
 * record of an order that has finished (completed, cancelled) moves no more and
 * is kept GL_CONSUMER_HANDLED_KEEP_S (redeliveries come within minutes): a year
 * of finished orders' records was 168 bytes an order for 400 days.  The answer
 * is computed from at most REPORTS_HOURS_MAX hours, and cached in Redis for
 * REPORTS_CACHE_S seconds.  Low stock is asked of the menu and stock services
 * (the items on the menu, at most REPORTS_STOCK_ITEMS_MAX, each one a read of
 * the store there), inside the cached answer.
 */
#ifndef REPORTS_H
#define REPORTS_H

#include "consumer.h"
#include "req.h"
#include "valid.h"

#define REPORTS_KEEP_S          (400L * 86400) /* an hour's numbers, an open order's record */
#define REPORTS_HOURS_MAX       (31 * 24)      /* the longest range: 31 days */
#define REPORTS_CACHE_S         5              /* an answer is cached this long */
#define REPORTS_TOP_ITEMS       10             /* the items with the most units paid for */
#define REPORTS_LOW_STOCK       5              /* available at most this many: low */
#define REPORTS_STOCK_ITEMS_MAX 100            /* menu items whose stock is asked, at most */

/* summary.c */
extern const struct gl_field summary_query[];
enum gl_err summary_get(struct gl_req *req);

/* counters.c: the events reports follows (the service's gl_service.events). */
extern const struct gl_event_source reports_events[];

#endif
