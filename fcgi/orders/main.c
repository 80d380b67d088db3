/* galley-orders: placing, reading and cancelling orders (API.md, orders). */
#include "app.h"
#include "kept.h"
#include "orders.h"

/* GL_LINES_MAX lines at their longest, every character escaped, are 21.9 KB
 * (tests/unit/fcgi/routes.c checks every table this way). */
#define ORDER_BODY_MAX 32768

static const struct gl_route orders_routes[] = {
	{ GL_POST, "/api/orders", order_place, GL_ROLE_CUSTOMER | GL_ROLE_STAFF, order_fields,
	  ORDER_BODY_MAX },
	{ GL_GET, "/api/orders", order_list, GL_ROLE_CUSTOMER | GL_ROLE_STAFF, NULL, 0,
	  order_query },
	{ GL_GET, "/api/orders/{id}", order_get, GL_ROLE_CUSTOMER | GL_ROLE_STAFF },
	{ GL_POST, "/api/orders/{id}/cancel", order_cancel, GL_ROLE_CUSTOMER | GL_ROLE_STAFF },
	{ 0 },
};

int
main(void)
{
	/* The staff's lists are by status.  Held back from MongoDB (kept.h): an unpaid order
	 * until it is paid or cancelled (its reservation is in the store alone too), and one
	 * the kitchen is on until it is completed or cancelled.  Paid is not held, and the
	 * two are runs apart (an order seen preparing before it was seen paid is written):
	 * MongoDB has every paid order within a second, beside its payment. */
	static const char *const held[] = { "pending_payment", "preparing ready", NULL };
	static const struct gl_kept_coll kept[] = { { "orders", "status", held }, { NULL } };
	static const struct gl_service svc = {
		.name = "orders",
		.routes = orders_routes,
		.init = orders_live_start,
		.tick = orders_tick,
		.events = orders_events,
		.stop = orders_live_stop,
		.kept = kept,
	};

	return gl_app_main(&svc);
}
