/*
 * Live views (API.md, GET /live/orders): every order event orders has
 * followed is handed to nginx's nchan publisher on the internal listener,
 * once on the staff's channel ("orders") and once on the owner's
 * ("orders-u-<user id>"), which /live/orders streams to the dashboard as
 * Server-Sent Events.  Best effort: a live view that misses one reloads the
 * order; the event itself is never failed for it.
 *
 * Processes follow the stream in parallel, so two events of one order may be
 * published in either order.  Each carries the order as it is once the event
 * was followed (data.status, data.version): a view keeps the highest version
 * it has seen, and an order on screen never goes back a step.
 */
#include <stdio.h>

#include "http.h"
#include "log.h"
#include "orders.h"

void
order_live(const json_t *event_in, const json_t *order)
{
	json_t *event = json_deep_copy(event_in);
	json_t *data = json_object_get(event, "data");
	const char *user = json_string_value(json_object_get(data, "user_id"));
	char path[96];
	long status;

	if (event == NULL)
		return;
	if (json_is_object(data) && order != NULL) {
		json_object_set(data, "status", json_object_get(order, "status"));
		json_object_set(data, "version", json_object_get(order, "version"));
		if (user == NULL)
			user = json_string_value(json_object_get(order, "user_id"));
	}

	if (gl_http_post(NULL, "/.galley/live/orders", event, &status, NULL) != GL_OK ||
	    status >= 300)
		gl_log(GL_LOG_WARN, NULL, "live: %s not published to staff",
		       json_string_value(json_object_get(event, "id")));
	if (user != NULL) { /* else an order of a customer without a user: staff only */
		snprintf(path, sizeof(path), "/.galley/live/orders-u-%.24s", user);
		if (gl_http_post(NULL, path, event, &status, NULL) != GL_OK || status >= 300)
			gl_log(GL_LOG_WARN, NULL, "live: %s not published to its owner",
			       json_string_value(json_object_get(event, "id")));
	}
	json_decref(event);
}
