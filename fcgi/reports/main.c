/* galley-reports: the numbers of the dashboard's Reports view (API.md, operations). */
#include "app.h"
#include "reports.h"

static const struct gl_route reports_routes[] = {
	{ GL_GET, "/api/reports/summary", summary_get, GL_ROLE_STAFF, NULL, 0, summary_query },
	{ 0 },
};

int
main(void)
{
	static const struct gl_service svc = {
		.name = "reports",
		.routes = reports_routes,
		.events = reports_events,
	};

	return gl_app_main(&svc);
}
