/* What stock does on the events of other services (API.md, events). */
#include <stddef.h>

#include "log.h"
#include "stock.h"

/* What stock reads of order.cancelled and order.paid. */
static const struct gl_field order_data[] = {
	{ "reservation_id", GL_T_OID, GL_REQUIRED },
	{ "order_id", GL_T_OID },
	{ "stock_committed", GL_T_BOOL }, /* order.paid: payments committed it first */
	{ .flags = GL_OPEN },
};

/* An order was cancelled: free what its reservation holds (done already when orders could). */
static enum gl_err
on_order_cancelled(const json_t *event)
{
	const char *id = json_string_value(
	        json_object_get(json_object_get(event, "data"), "reservation_id"));
	enum gl_err err = reservation_end(id, STOCK_RELEASED);

	/* Not found: never completed; invalid state: sold (a paid order cancelled, refunded by
	 * payments: the units stay sold). */
	return err == GL_E_NOT_FOUND || err == GL_E_INVALID_STATE ? GL_OK : err;
}

/* An order was paid: its units are sold. */
static enum gl_err
on_order_paid(const json_t *event)
{
	const json_t *data = json_object_get(event, "data");
	const char *id = json_string_value(json_object_get(data, "reservation_id"));
	enum gl_err err;

	if (json_is_true(json_object_get(data, "stock_committed")))
		return GL_OK; /* sold already: a round trip to find so was one a payment */
	if ((err = reservation_end(id, STOCK_COMMITTED)) == GL_E_INVALID_STATE ||
	    err == GL_E_NOT_FOUND) {
		/* Paid after the hold ended (expiry won the race): the order is cancelled, and
		 * the payment is for the payments service to refund. */
		gl_log(GL_LOG_ERROR, NULL,
		       "order %s was paid but reservation %s no longer holds: not sold",
		       json_string_value(json_object_get(data, "order_id")), id);
		return GL_OK;
	}
	return err;
}

static const struct gl_event_handler order_handlers[] = {
	{ "order.cancelled", on_order_cancelled, order_data },
	/* Unrecorded: payments commits the reservation before it sends order.paid, and says
	 * so in it (stock_committed), so this does nothing; for an order.paid that does not
	 * say so it commits, which a second time changes nothing (a reservation ends once).
	 * A handled record and an acknowledgement of its own were two store round trips a
	 * payment, one of them a write, and the commit found sold one more
	 * (docs/performance.md). */
	{ "order.paid", on_order_paid, order_data, .unrecorded = true },
	{ 0 },
};

const struct gl_event_source stock_events[] = {
	/* It handles two of the orders' six types, neither one a user waits on (a cancelled
	 * order's units are free 50 ms later at most): its reads come in batches
	 * (consumer.h). */
	{ "orders", order_handlers, .gather_ms = 50 },
	{ 0 },
};

void
stock_tick(void)
{
	reservations_reap();
	stock_project();
}
