/*
 * Every service's route table against its own limits (issue 15): a route's
 * body cap admits the largest body its field table allows, written with the
 * worst escaping a client may choose, so a valid body is never refused with
 * 413; and the longest valid query string fits the query limit.  The tables
 * are the services' own: their main.c files are compiled in here.  And the
 * tables of the events they follow let be, at every depth, what they do not
 * declare (consumer.h): a field a publisher adds never fails an event.
 */
#include <stdio.h>

#include "../tap.h"
#include "consumer.h"
#include "route.h"

/* Each service's main, renamed, is compiled in but never run. */
int auth_main(void), customers_main(void), kitchen_main(void), menu_main(void);
int orders_main(void), payments_main(void), reports_main(void), stock_main(void);
int suppliers_main(void);

#define main auth_main
#include "../../../fcgi/auth/main.c"
#undef main
#define main customers_main
#include "../../../fcgi/customers/main.c"
#undef main
#define main kitchen_main
#include "../../../fcgi/kitchen/main.c"
#undef main
#define main menu_main
#include "../../../fcgi/menu/main.c"
#undef main
#define main orders_main
#include "../../../fcgi/orders/main.c"
#undef main
#define main payments_main
#include "../../../fcgi/payments/main.c"
#undef main
#define main reports_main
#include "../../../fcgi/reports/main.c"
#undef main
#define main stock_main
#include "../../../fcgi/stock/main.c"
#undef main
#define main suppliers_main
#include "../../../fcgi/suppliers/main.c"
#undef main

static const struct {
	const char *service;
	const struct gl_route *routes;
} services[] = {
	{ "auth", auth_routes },           { "customers", customers_routes },
	{ "kitchen", kitchen_routes },     { "menu", menu_routes },
	{ "orders", orders_routes },       { "payments", payments_routes },
	{ "reports", reports_routes },     { "stock", stock_routes },
	{ "suppliers", suppliers_routes },
};

static const struct {
	const char *service;
	const struct gl_event_source *sources;
} followers[] = {
	{ "kitchen", kitchen_events }, { "orders", orders_events }, { "payments", payments_events },
	{ "reports", reports_events }, { "stock", stock_events },
};

/* Does fields end with GL_OPEN, and every table of its objects too? */
static bool
open_all(const struct gl_field *fields)
{
	const struct gl_field *f = fields;

	for (; f->name != NULL; f++)
		if (f->type == GL_T_OBJECTS && !open_all(f->fields))
			return false;
	return (f->flags & GL_OPEN) != 0;
}

/* The worst case of a small table, counted by hand: {"\u0061":"<12 per char>"}. */
static const struct gl_field one_string[] = {
	{ "a", GL_T_STRING, 0, 0, 10 },
	{ 0 },
};
static const struct gl_field one_email[] = {
	{ "a", GL_T_STRING, 0, 3, 254, .max_bytes = 254 },
	{ 0 },
};

int
main(void)
{
	/* The arithmetic itself: {, "\u0061", :, "" + 10 x \ud83c\udf55, ,, } */
	ok(gl_valid_json_max(one_string) == 2 + 8 + 1 + 2 + 120 + 1, "worst case of one string");
	/* 254 bytes, 254 characters: 254 escaped ASCII characters of 6 bytes beat 63 4-byte
	 * ones; the mix is 4 x 254 + 2 x 254 */
	ok(gl_valid_json_max(one_email) == 2 + 8 + 1 + 2 + 6 * 254 + 1,
	   "worst case of a byte-limited string");

	for (size_t s = 0; s < sizeof(services) / sizeof(services[0]); s++)
		for (const struct gl_route *r = services[s].routes; r->pattern != NULL; r++) {
			size_t cap = r->body_max ? r->body_max : GL_BODY_MAX_DEFAULT;
			if (r->body != NULL) {
				size_t worst = gl_valid_json_max(r->body);
				ok(worst <= cap,
				   "%s %s %s: the largest valid body (%zu bytes) fits its cap "
				   "(%zu)",
				   services[s].service, gl_method_name(r->method), r->pattern,
				   worst, cap);
			}
			if (r->query != NULL) {
				size_t worst = gl_valid_query_max(r->query);
				ok(worst <= GL_VALID_QUERY_MAX,
				   "%s %s %s: the longest valid query (%zu bytes) fits (%d)",
				   services[s].service, gl_method_name(r->method), r->pattern,
				   worst, GL_VALID_QUERY_MAX);
			}
		}
	for (size_t s = 0; s < sizeof(followers) / sizeof(followers[0]); s++)
		for (const struct gl_event_source *src = followers[s].sources; src->family != NULL;
		     src++)
			for (const struct gl_event_handler *h = src->handlers; h->type != NULL; h++)
				if (h->data != NULL)
					ok(open_all(h->data),
					   "%s, %s: the data table is GL_OPEN at every depth",
					   followers[s].service, h->type);
	return done_testing();
}
