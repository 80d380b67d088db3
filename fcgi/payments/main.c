/* galley-payments: paying orders through the payment provider (API.md, payments). */
#include "app.h"
#include "kept.h"
#include "payments.h"

static const struct gl_route payments_routes[] = {
	{ GL_POST, "/api/payments", payment_create, GL_ROLE_CUSTOMER | GL_ROLE_STAFF,
	  payment_fields },
	{ GL_GET, "/api/payments/{id}", payment_get, GL_ROLE_CUSTOMER | GL_ROLE_STAFF },
	{ 0 },
};

int
main(void)
{
	static const struct gl_kept_coll kept[] = { { "payments", NULL }, { NULL } };
	static const struct gl_service svc = {
		.name = "payments",
		.routes = payments_routes,
		.tick = payments_tick,
		.events = payments_events,
		.kept = kept,
	};

	return gl_app_main(&svc);
}
