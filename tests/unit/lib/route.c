/* Unit tests for lib/route.c: the route matcher and method names. */
#include <string.h>

#include "../tap.h"
#include "route.h"

#define OID "5f1e2d3c4b5a69788796a5b4"

static enum gl_err
h_list(struct gl_req *req)
{
	return GL_OK;
}

static enum gl_err
h_get(struct gl_req *req)
{
	return GL_OK;
}

static enum gl_err
h_create(struct gl_req *req)
{
	return GL_OK;
}

static enum gl_err
h_update(struct gl_req *req)
{
	return GL_OK;
}

static enum gl_err
h_delete(struct gl_req *req)
{
	return GL_OK;
}

static enum gl_err
h_health(struct gl_req *req)
{
	return GL_OK;
}

/* Like the menu's table. */
static const struct gl_route menu[] = {
	{ GL_GET, "/api/menu", h_list, GL_ROLE_ANY },
	{ GL_GET, "/api/menu/items/{id}", h_get, GL_ROLE_ANY },
	{ GL_POST, "/api/menu/items", h_create, GL_ROLE_STAFF },
	{ GL_PATCH, "/api/menu/items/{id}", h_update, GL_ROLE_STAFF, NULL, 0, NULL, GL_PARTIAL },
	{ GL_DELETE, "/api/menu/items/{id}", h_delete, GL_ROLE_STAFF },
	{ 0 },
};

/* A literal segment next to a capture, in both orders. */
static const struct gl_route lit_first[] = {
	{ GL_GET, "/api/x/healthz", h_health },
	{ GL_GET, "/api/x/{id}", h_get },
	{ 0 },
};

static const struct gl_route cap_first[] = {
	{ GL_GET, "/api/x/{id}", h_get },
	{ GL_GET, "/api/x/healthz", h_health },
	{ 0 },
};

/* Two captures. */
static const struct gl_route nested[] = {
	{ GL_GET, "/api/orders/{order}/lines/{line}", h_get },
	{ 0 },
};

struct not_ok_case {
	enum gl_method method;
	const char *path;
	enum gl_err want;
	unsigned allow;
};

static const struct not_ok_case menu_cases[] = {
	/* unknown paths, trailing slash, prefixes, extra segments */
	{ GL_GET, "/api/nothing", GL_E_NOT_FOUND, 0 },
	{ GL_GET, "", GL_E_NOT_FOUND, 0 },
	{ GL_GET, "/", GL_E_NOT_FOUND, 0 },
	{ GL_GET, "/api/menu/", GL_E_NOT_FOUND, 0 },
	{ GL_GET, "/api/men", GL_E_NOT_FOUND, 0 },
	{ GL_GET, "/api", GL_E_NOT_FOUND, 0 },
	{ GL_GET, "/api/menux", GL_E_NOT_FOUND, 0 },
	{ GL_GET, "/api/menu/items/" OID "/", GL_E_NOT_FOUND, 0 },
	{ GL_GET, "/api/menu/items/" OID "/x", GL_E_NOT_FOUND, 0 },
	{ GL_GET, "/api/menu/item/" OID, GL_E_NOT_FOUND, 0 },
	{ GL_POST, "/api/menu/items/", GL_E_NOT_FOUND, 0 },
	{ GL_GET, "/API/MENU", GL_E_NOT_FOUND, 0 },
	/* the path exists for other methods */
	{ GL_POST, "/api/menu", GL_E_METHOD, 1u << GL_GET },
	{ GL_DELETE, "/api/menu", GL_E_METHOD, 1u << GL_GET },
	{ GL_GET, "/api/menu/items", GL_E_METHOD, 1u << GL_POST },
	{ GL_PUT, "/api/menu/items", GL_E_METHOD, 1u << GL_POST },
	{ GL_POST, "/api/menu/items/" OID, GL_E_METHOD,
	  (1u << GL_GET) | (1u << GL_PATCH) | (1u << GL_DELETE) },
	{ GL_PUT, "/api/menu/items/" OID, GL_E_METHOD,
	  (1u << GL_GET) | (1u << GL_PATCH) | (1u << GL_DELETE) },
	{ GL_M_NONE, "/api/menu/items/" OID, GL_E_METHOD,
	  (1u << GL_GET) | (1u << GL_PATCH) | (1u << GL_DELETE) },
	/* malformed ids */
	{ GL_GET, "/api/menu/items/5f1e2d3c4b5a69788796a5b", GL_E_VALIDATION, 0 },   /* 23 */
	{ GL_GET, "/api/menu/items/5f1e2d3c4b5a69788796a5b4c", GL_E_VALIDATION, 0 }, /* 25 */
	{ GL_GET, "/api/menu/items/5f1e2d3c4b5a69788796a5bg", GL_E_VALIDATION, 0 },  /* non-hex */
	{ GL_GET, "/api/menu/items/5f1e2d3c4b5a69788796a5b-", GL_E_VALIDATION, 0 },
	{ GL_GET, "/api/menu/items/5f1e2d3c4b5a6978 796a5b4", GL_E_VALIDATION, 0 },
	{ GL_GET, "/api/menu/items/x", GL_E_VALIDATION, 0 },
	{ GL_DELETE, "/api/menu/items/nope", GL_E_VALIDATION, 0 },
};

static void
test_menu_ok(void)
{
	struct gl_match m;
	enum gl_err err;

	err = gl_route_match(menu, GL_GET, "/api/menu", &m);
	ok(err == GL_OK, "GET /api/menu matches");
	ok(m.route == &menu[0], "GET /api/menu -> row 0");
	ok(m.ncaps == 0, "no captures");
	ok(m.allow == 0, "allow is 0 on a match");

	err = gl_route_match(menu, GL_POST, "/api/menu/items", &m);
	ok(err == GL_OK && m.route == &menu[2], "POST /api/menu/items -> row 2");

	err = gl_route_match(menu, GL_GET, "/api/menu/items/" OID, &m);
	ok(err == GL_OK && m.route == &menu[1], "GET /api/menu/items/{id} -> row 1");
	ok(m.ncaps == 1, "one capture");
	ok(m.caps[0].name_len == 2 && strncmp(m.caps[0].name, "id", m.caps[0].name_len) == 0,
	   "capture is named id");
	is_str(m.caps[0].value, OID, "capture value copied");

	err = gl_route_match(menu, GL_PATCH, "/api/menu/items/" OID, &m);
	ok(err == GL_OK && m.route == &menu[3], "PATCH /api/menu/items/{id} -> row 3");
	ok(m.route != NULL && (m.route->flags & GL_PARTIAL), "PATCH row keeps its flags");

	err = gl_route_match(menu, GL_DELETE, "/api/menu/items/" OID, &m);
	ok(err == GL_OK && m.route == &menu[4], "DELETE /api/menu/items/{id} -> row 4");

	/* upper-case hex is an ObjectId too; the value is copied as given */
	err = gl_route_match(menu, GL_GET, "/api/menu/items/5F1E2D3C4B5A69788796A5B4", &m);
	ok(err == GL_OK && m.route == &menu[1], "upper-case hex id matches");
	is_str(m.caps[0].value, "5F1E2D3C4B5A69788796A5B4", "upper-case capture copied");
}

static void
test_capture_is_a_copy(void)
{
	char path[64];
	struct gl_match m;
	enum gl_err err;

	snprintf(path, sizeof(path), "/api/menu/items/%s", OID);
	err = gl_route_match(menu, GL_GET, path, &m);
	memset(path, 'z', sizeof(path) - 1);
	ok(err == GL_OK, "match from a writable buffer");
	is_str(m.caps[0].value, OID, "capture survives the path buffer changing");
}

static void
test_menu_not_ok(void)
{
	for (size_t i = 0; i < sizeof(menu_cases) / sizeof(menu_cases[0]); i++) {
		const struct not_ok_case *c = &menu_cases[i];
		struct gl_match m;
		enum gl_err err = gl_route_match(menu, c->method, c->path, &m);

		ok(err == c->want, "%s '%s' -> %d (got %d)", gl_method_name(c->method), c->path,
		   (int)c->want, (int)err);
		ok(m.route == NULL, "%s '%s': no route", gl_method_name(c->method), c->path);
		ok(m.allow == c->allow, "%s '%s': allow 0x%x (got 0x%x)", gl_method_name(c->method),
		   c->path, c->allow, m.allow);
		if (c->want == GL_E_VALIDATION)
			ok(m.bad_capture != NULL, "%s '%s': bad_capture set",
			   gl_method_name(c->method), c->path);
	}
}

static void
test_empty_segment(void)
{
	struct gl_match m;
	enum gl_err err;

	/* An empty segment is no id at all: the path is unknown (nginx merges "//" anyway). */
	err = gl_route_match(nested, GL_GET, "/api/orders//lines/" OID, &m);
	ok(err == GL_E_NOT_FOUND, "empty capture segment -> not found (got %d)", (int)err);
	ok(m.route == NULL, "empty capture segment: no route");
}

static void
test_nested(void)
{
	struct gl_match m;
	enum gl_err err;

	err = gl_route_match(nested, GL_GET, "/api/orders/" OID "/lines/aaaaaaaaaaaaaaaaaaaaaaaa",
	                     &m);
	ok(err == GL_OK && m.route == &nested[0], "two captures match");
	ok(m.ncaps == 2, "two captures filled");
	ok(m.caps[0].name_len == 5 && strncmp(m.caps[0].name, "order", 5) == 0, "first is order");
	is_str(m.caps[0].value, OID, "first value");
	ok(m.caps[1].name_len == 4 && strncmp(m.caps[1].name, "line", 4) == 0, "second is line");
	is_str(m.caps[1].value, "aaaaaaaaaaaaaaaaaaaaaaaa", "second value");

	err = gl_route_match(nested, GL_GET, "/api/orders/" OID "/lines/zz", &m);
	ok(err == GL_E_VALIDATION, "second capture malformed -> validation");
	err = gl_route_match(nested, GL_GET, "/api/orders/" OID "/line/" OID, &m);
	ok(err == GL_E_NOT_FOUND, "literal between captures differs -> 404");
}

static void
test_literal_wins(void)
{
	const struct gl_route *tables[] = { lit_first, cap_first };
	const char *names[] = { "literal first", "capture first" };

	for (int t = 0; t < 2; t++) {
		const struct gl_route *r = tables[t];
		const struct gl_route *lit =
		        strcmp(r[0].pattern, "/api/x/healthz") == 0 ? &r[0] : &r[1];
		const struct gl_route *cap = lit == &r[0] ? &r[1] : &r[0];
		struct gl_match m;
		enum gl_err err;

		err = gl_route_match(r, GL_GET, "/api/x/healthz", &m);
		ok(err == GL_OK && m.route == lit, "%s: /api/x/healthz -> the literal route",
		   names[t]);
		ok(m.ncaps == 0, "%s: literal has no captures", names[t]);
		err = gl_route_match(r, GL_GET, "/api/x/" OID, &m);
		ok(err == GL_OK && m.route == cap, "%s: /api/x/<id> -> the capture route",
		   names[t]);
		err = gl_route_match(r, GL_GET, "/api/x/healthy", &m);
		ok(err == GL_E_VALIDATION, "%s: /api/x/healthy -> validation", names[t]);
		err = gl_route_match(r, GL_POST, "/api/x/healthz", &m);
		ok(err == GL_E_METHOD && m.allow == (1u << GL_GET), "%s: POST healthz -> 405 GET",
		   names[t]);
	}
}

static void
test_null_path(void)
{
	struct gl_match m;

	ok(gl_route_match(menu, GL_GET, NULL, &m) == GL_E_NOT_FOUND, "NULL path -> 404");
	ok(m.route == NULL, "NULL path: no route");
}

static void
test_methods(void)
{
	static const struct {
		const char *s;
		enum gl_method m;
	} parse[] = {
		{ "GET", GL_GET },      { "HEAD", GL_GET },    { "POST", GL_POST },
		{ "PUT", GL_PUT },      { "PATCH", GL_PATCH }, { "DELETE", GL_DELETE },
		{ "get", GL_M_NONE },   { "Get", GL_M_NONE },  { "OPTIONS", GL_M_NONE },
		{ "TRACE", GL_M_NONE }, { "", GL_M_NONE },     { "GET ", GL_M_NONE },
		{ "GETX", GL_M_NONE },  { "head", GL_M_NONE }, { "CONNECT", GL_M_NONE },
	};

	for (size_t i = 0; i < sizeof(parse) / sizeof(parse[0]); i++)
		ok(gl_method_parse(parse[i].s) == parse[i].m, "gl_method_parse('%s') = %d",
		   parse[i].s, (int)parse[i].m);
	ok(gl_method_parse(NULL) == GL_M_NONE, "gl_method_parse(NULL) = GL_M_NONE");

	is_str(gl_method_name(GL_GET), "GET", "name of GL_GET");
	is_str(gl_method_name(GL_POST), "POST", "name of GL_POST");
	is_str(gl_method_name(GL_PUT), "PUT", "name of GL_PUT");
	is_str(gl_method_name(GL_PATCH), "PATCH", "name of GL_PATCH");
	is_str(gl_method_name(GL_DELETE), "DELETE", "name of GL_DELETE");
	is_str(gl_method_name(GL_M_NONE), "", "name of GL_M_NONE");
	is_str(gl_method_name(GL_METHOD__MAX), "", "name of an out-of-range method");
	is_str(gl_method_name((enum gl_method) - 1), "", "name of a negative method");
	for (int m = GL_GET; m < GL_METHOD__MAX; m++)
		ok(gl_method_parse(gl_method_name((enum gl_method)m)) == (enum gl_method)m,
		   "parse(name(%d)) round-trips", m);
}

int
main(void)
{
	test_menu_ok();
	test_capture_is_a_copy();
	test_menu_not_ok();
	test_empty_segment();
	test_nested();
	test_literal_wins();
	test_null_path();
	test_methods();
	return done_testing();
}
