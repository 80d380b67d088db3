/*
 * Live views (API.md, GET /live/orders): every order event orders has
 * followed is posted once to the internal listener, which hands it to the
 * live server; that publishes it on the staff's channel ("orders") and on
 * the owner's ("orders-u-<user id>", named by ?user=), which /live/orders
 * streams to the dashboard as Server-Sent Events.  Best effort: a live view
 * that misses one reloads the order; the event itself is never failed for it.
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

	/* An order of a customer without a user: the staff's channel only. */
	snprintf(path, sizeof(path), "/.galley/live/orders%s%.24s", user != NULL ? "?user=" : "",
	         user != NULL ? user : "");
	if (gl_http_post(NULL, path, event, &status, NULL) != GL_OK || status >= 300)
		gl_log(GL_LOG_WARN, NULL, "live: %s not published (%ld)",
		       json_string_value(json_object_get(event, "id")), status);
	json_decref(event);
}
