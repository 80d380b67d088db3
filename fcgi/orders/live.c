/*
 * Live views (API.md, GET /live/orders): every order event orders has
 * followed is handed to nginx's nchan publisher on the internal listener,
 * once on the staff's channel ("orders") and once on the owner's
 * ("orders-u-<user id>"), which /live/orders streams to the dashboard as
 * Server-Sent Events.  Best effort: a live view that misses one reloads the
 * order; the event itself is never failed for it.
 */
#include <stdio.h>

#include "http.h"
#include "log.h"
#include "orders.h"

void
order_live(const json_t *event)
{
	const json_t *data = json_object_get(event, "data");
	const char *user = json_string_value(json_object_get(data, "user_id"));
	char path[96];
	long status;

	if (gl_http_post(NULL, "/.galley/live/orders", event, &status, NULL) != GL_OK ||
	    status >= 300)
		gl_log(GL_LOG_WARN, NULL, "live: %s not published to staff",
		       json_string_value(json_object_get(event, "id")));
	if (user == NULL)
		return; /* an order of a customer without a user: staff only */
	snprintf(path, sizeof(path), "/.galley/live/orders-u-%.24s", user);
	if (gl_http_post(NULL, path, event, &status, NULL) != GL_OK || status >= 300)
		gl_log(GL_LOG_WARN, NULL, "live: %s not published to its owner",
		       json_string_value(json_object_get(event, "id")));
}
