/* GET /api/orders: the orders a caller may see, a page at a time (API.md, orders). */
#include <string.h>

#include "db.h"
#include "doc.h"
#include "orders.h"

static const char *
order_status_check(const char *s)
{
	static const char *const statuses[] = {
		"pending_payment", "paid", "preparing", "ready", "completed", "cancelled", NULL
	};

	for (int i = 0; statuses[i] != NULL; i++)
		if (strcmp(s, statuses[i]) == 0)
			return NULL;
	return "must be pending_payment, paid, preparing, ready, completed or cancelled";
}

const struct gl_field order_query[] = {
	{ "limit", GL_T_INT, 0, 1, 200 },
	{ "after", GL_T_OID },
	{ "status", GL_T_STRING, 0, 1, 20, .check = order_status_check },
	{ "customer_id", GL_T_OID },
	{ 0 },
};

enum gl_err
order_list(struct gl_req *req)
{
	const char *status = json_string_value(json_object_get(req->query, "status"));
	const char *customer = json_string_value(json_object_get(req->query, "customer_id"));
	bson_t filter = BSON_INITIALIZER;
	struct gl_page page;
	json_t *out;
	enum gl_err err = GL_OK;

	if (!gl_req_has_role(req, GL_ROLE_STAFF) &&
	    !gl_doc_append_oid(&filter, "user_id", req->user_id))
		err = GL_E_INTERNAL;
	if (customer != NULL && !gl_doc_append_oid(&filter, "customer_id", customer))
		err = GL_E_INTERNAL;
	if (status != NULL)
		BSON_APPEND_UTF8(&filter, "status", status);
	gl_req_page(req, &page);
	if (err == GL_OK)
		err = gl_db_list("orders", &filter, &page, &out);
	bson_destroy(&filter);
	if (err != GL_OK)
		return err;
	return gl_reply(req, 200, out);
}
