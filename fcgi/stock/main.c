/* galley-stock: counts per item and 15-minute reservations (API.md, stock). */
#include "app.h"
#include "stock.h"

/* An order's lines at their longest, every character escaped, are 21.9 KB
 * (tests/unit/fcgi/routes.c checks every table this way). */
#define RESERVATION_BODY_MAX 32768

static const struct gl_route stock_routes[] = {
	{ GL_GET, "/api/stock/{item_id}", stock_get, GL_ROLE_STAFF },
	{ GL_PUT, "/api/stock/{item_id}", stock_set, GL_ROLE_STAFF, stock_set_fields },
	/* Other services only: nginx routes /internal/ on its loopback listener alone. */
	{ GL_POST, "/internal/stock/reservations", reservation_create, GL_ROLE_PUBLIC,
	  reservation_fields, RESERVATION_BODY_MAX },
	{ GL_POST, "/internal/stock/reservations/{id}/release", reservation_release,
	  GL_ROLE_PUBLIC },
	{ GL_POST, "/internal/stock/reservations/{id}/commit", reservation_commit_route,
	  GL_ROLE_PUBLIC },
	{ 0 },
};

int
main(void)
{
	static const struct gl_service svc = {
		.name = "stock",
		.routes = stock_routes,
		.tick = stock_tick,
		.events = stock_events,
	};

	return gl_app_main(&svc);
}
