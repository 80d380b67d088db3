/* GET /api/orders: the orders a caller may see, a page at a time (API.md, orders). */
#include <string.h>

#include "db.h"
#include "doc.h"
#include "kept.h"
#include "orders.h"

static const char *const order_statuses[] = { "pending_payment", "paid",      "preparing", "ready",
	                                      "completed",       "cancelled", NULL };

static const char *
order_prefix_check(const char *s)
{
	return strspn(s, "0123456789abcdef") == strlen(s) ? NULL : "must be lower-case hex digits";
}

/* A search by name: a part of a name, short enough that the longest query fits 2 KB. */
#define ORDER_NAME_SEARCH_MAX 60

const struct gl_field order_query[] = {
	{ "limit", GL_T_INT, 0, 1, GL_PAGE_LIMIT_MAX },
	{ "after", GL_T_OID },
	{ "status", GL_T_ENUM, .values = order_statuses },
	{ "customer_id", GL_T_OID },
	{ "supplier_id", GL_T_OID },
	{ "id_prefix", GL_T_STRING, 0, 1, 24, .check = order_prefix_check },
	{ "customer_name", GL_T_STRING, 0, 1, ORDER_NAME_SEARCH_MAX,
	  .max_bytes = 4 * ORDER_NAME_SEARCH_MAX },
	{ 0 },
};

/*
 * _id within the ids that start with prefix (1..24 hex), after the page's cursor:
 * {_id: {$gte|$gt: ..., $lte: ...}}.  The cursor is folded in here, as a query may
 * name _id once.
 */
static bool
order_append_prefix(bson_t *filter, const char *prefix, const char *after)
{
	char lo[25], hi[25];
	bson_oid_t from, to, cursor;
	size_t n = strlen(prefix);
	bson_t range;
	bool ok;

	memcpy(lo, prefix, n);
	memcpy(hi, prefix, n);
	memset(lo + n, '0', 24 - n);
	memset(hi + n, 'f', 24 - n);
	lo[24] = hi[24] = '\0';
	if (!gl_oid_parse(lo, &from) || !gl_oid_parse(hi, &to))
		return false;
	ok = BSON_APPEND_DOCUMENT_BEGIN(filter, "_id", &range);
	if (after != NULL && gl_oid_parse(after, &cursor) && bson_oid_compare(&cursor, &from) >= 0)
		ok = ok && BSON_APPEND_OID(&range, "$gt", &cursor);
	else
		ok = ok && BSON_APPEND_OID(&range, "$gte", &from);
	return ok && BSON_APPEND_OID(&range, "$lte", &to) &&
	       bson_append_document_end(filter, &range);
}

/*
 * The name as a regular expression that matches it literally: each ASCII
 * character that is not a letter, digit or space escaped with a backslash
 * (PCRE and Go's RE2 both read "\<punctuation>" as that character).  buf holds
 * 2 * 4 * ORDER_NAME_SEARCH_MAX + 1 bytes: the query table bounds the name's bytes.
 */
static void
order_name_pattern(char *buf, size_t size, const char *name)
{
	size_t j = 0;

	for (const unsigned char *p = (const unsigned char *)name; *p != '\0' && j + 3 < size;
	     p++) {
		if (*p < 0x80 && !((*p >= '0' && *p <= '9') || (*p >= 'a' && *p <= 'z') ||
		                   (*p >= 'A' && *p <= 'Z') || *p == ' '))
			buf[j++] = '\\';
		buf[j++] = (char)*p;
	}
	buf[j] = '\0';
}

/*
 * The filter of the caller's query, all from typed, validated values.  A
 * customer sees its own orders only and may not filter by anyone else: every
 * filter of another customer or a supplier is staff's (403).
 */
static enum gl_err
order_filter(struct gl_req *req, bson_t *filter, struct gl_page *page)
{
	const json_t *q = req->query;
	const char *status = json_string_value(json_object_get(q, "status"));
	const char *customer = json_string_value(json_object_get(q, "customer_id"));
	const char *supplier = json_string_value(json_object_get(q, "supplier_id"));
	const char *prefix = json_string_value(json_object_get(q, "id_prefix"));
	const char *name = json_string_value(json_object_get(q, "customer_name"));
	char pattern[2 * 4 * ORDER_NAME_SEARCH_MAX + 1];
	bson_t match;
	bool ok = true;

	if (!gl_req_has_role(req, GL_ROLE_STAFF)) {
		if (customer != NULL || supplier != NULL || name != NULL)
			return gl_fail(req, GL_E_FORBIDDEN,
			               customer != NULL   ? "customer_id"
			               : supplier != NULL ? "supplier_id"
			                                  : "customer_name",
			               "only staff filter orders by customer or supplier: a "
			               "customer's list is its own orders");
		ok = gl_doc_append_oid(filter, "user_id", req->user_id);
	}
	if (customer != NULL)
		ok = ok && gl_doc_append_oid(filter, "customer_id", customer);
	if (supplier != NULL) /* any line of the order: the lines carry their item's supplier */
		ok = ok && gl_doc_append_oid(filter, "lines.supplier_id", supplier);
	if (status != NULL)
		ok = ok && BSON_APPEND_UTF8(filter, "status", status);
	if (name != NULL) { /* the name copied into the order, any part of it, any case */
		order_name_pattern(pattern, sizeof(pattern), name);
		ok = ok && BSON_APPEND_DOCUMENT_BEGIN(filter, "customer_name", &match) &&
		     BSON_APPEND_UTF8(&match, "$regex", pattern) &&
		     BSON_APPEND_UTF8(&match, "$options", "i") &&
		     bson_append_document_end(filter, &match);
	}
	gl_req_page(req, page);
	if (prefix != NULL) {
		ok = ok && order_append_prefix(filter, prefix, page->after);
		page->after = NULL; /* in the _id range now */
	}
	return ok ? GL_OK : GL_E_INTERNAL;
}

/* Does the query filter by anything the store's sets cannot (kept.h: a status, an id
 * prefix)? */
static bool
order_searches(const struct gl_req *req)
{
	static const char *const filters[] = { "customer_id", "supplier_id", "customer_name",
		                               NULL };

	for (int i = 0; filters[i] != NULL; i++)
		if (json_object_get(req->query, filters[i]) != NULL)
			return true;
	return false;
}

/* A customer's own list, by ?status= and ?id_prefix= or not: from its user's set
 * (by_user.c), once built. */
static bool
order_by_user_serves(const struct gl_req *req)
{
	if (gl_req_has_role(req, GL_ROLE_STAFF) || order_searches(req))
		return false;
	return order_by_user_built();
}

/* Staff's list of all orders, by ?status= and ?id_prefix= or not: from the store's sets
 * (kept.h), once built. */
static bool
order_sets_serve(const struct gl_req *req)
{
	if (!gl_req_has_role(req, GL_ROLE_STAFF) || order_searches(req))
		return false;
	return gl_kept_listed("orders");
}

enum gl_err
order_list(struct gl_req *req)
{
	bson_t filter = BSON_INITIALIZER;
	struct gl_page page;
	json_t *out;
	enum gl_err err;

	const char *status = json_string_value(json_object_get(req->query, "status"));
	const char *prefix = json_string_value(json_object_get(req->query, "id_prefix"));
	if (order_by_user_serves(req)) {
		gl_req_page(req, &page);
		err = order_by_user_list(req->user_id, status, prefix, &page, &out);
		return err != GL_OK ? err : gl_reply(req, 200, out);
	}
	if (order_sets_serve(req)) {
		gl_req_page(req, &page);
		err = gl_kept_list("orders", status, prefix, &page, &out);
		return err != GL_OK ? err : gl_reply(req, 200, out);
	}
	if ((err = order_filter(req, &filter, &page)) == GL_OK)
		err = gl_db_list("orders", &filter, &page, &out);
	bson_destroy(&filter);
	if (err != GL_OK)
		return err;
	return gl_reply(req, 200, out);
}
