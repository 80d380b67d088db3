/* galley-kitchen: simulated staff preparing paid orders, and their tickets (API.md, kitchen). */
#include "app.h"
#include "kept.h"
#include "kitchen.h"

static const struct gl_route kitchen_routes[] = {
	{ GL_GET, "/api/kitchen/tickets", ticket_list, GL_ROLE_STAFF, NULL, 0, ticket_query },
	{ GL_GET, "/api/kitchen/tickets/{id}", ticket_get, GL_ROLE_STAFF },
	{ GL_POST, "/api/kitchen/tickets/{id}/complete", ticket_complete, GL_ROLE_STAFF },
	{ 0 },
};

int
main(void)
{
	/* The staff's lists and the kitchen's board are by status.  A ticket is held back
	 * from MongoDB (kept.h) while the kitchen is on it, and written once it is completed
	 * or cancelled: its order, in MongoDB once paid, is the record until then. */
	static const char *const held[] = { "paid preparing ready", NULL };
	static const struct gl_kept_coll kept[] = { { "tickets", "status", held }, { NULL } };
	static const struct gl_service svc = {
		.name = "kitchen",
		.routes = kitchen_routes,
		.init = kitchen_staff_start,
		.tick = kitchen_tick,
		.events = kitchen_events,
		.stop = kitchen_staff_stop,
		.kept = kept,
	};

	return gl_app_main(&svc);
}
