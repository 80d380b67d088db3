/*
 * Unit tests of lib/req.c: what a request is made of (method, request id, caller, params,
 * captures, page, If-Match), the headers a handler may add, gl_fail(), and the one writer's
 * answers (error bodies, 204, 503's Retry-After, Allow, ETag and 304) and its log line.
 */
#include <stdlib.h>

#include "../capture.h"
#include "../fake.h"
#include "../tap.h"
#include "conf.h"
#include "etag.h"
#include "log.h"

#define OID  "5f1e2d3c4b5a69788796a5b4"
#define USER "0123456789abcdef01234567"

static enum gl_err
no_handler(struct gl_req *req)
{
	return GL_E_INTERNAL;
}

/* A route that needs a caller (its GETs are tagged) and one that does not. */
static const struct gl_route caller_route = { GL_GET, "/api/unit/things/{id}", no_handler,
	                                      GL_ROLE_ANY };
static const struct gl_route public_route = { GL_GET, "/api/unit/menu", no_handler,
	                                      GL_ROLE_PUBLIC };

static void
test_request_id(void)
{
	static const struct {
		const char *id, *why;
	} refused[] = {
		{ "", "empty" },
		{ "ABCDEF", "upper case" },
		{ "ab\r\nX-Evil: 1", "a header's worth" },
		{ "abc\"", "a quote" },
		{ "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef", "64 bytes" },
	};
	const char *longest = "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcde";
	struct fuzz_fcgi f;
	struct gl_req req;
	char param[128], first[64];

	fake_begin(&f, &req, NULL, "GALLEY_REQUEST_ID=0af3-19", NULL);
	is_str(req.request_id, "0af3-19", "nginx's request id (hex and '-') is kept");
	fuzz_fcgi_free(&f);
	snprintf(param, sizeof(param), "GALLEY_REQUEST_ID=%s", longest);
	fake_begin(&f, &req, NULL, param, NULL);
	is_str(req.request_id, longest, "63 bytes are kept");
	fuzz_fcgi_free(&f);
	for (size_t i = 0; i < sizeof(refused) / sizeof(refused[0]); i++) {
		snprintf(param, sizeof(param), "GALLEY_REQUEST_ID=%s", refused[i].id);
		fake_begin(&f, &req, NULL, param, NULL);
		ok(strlen(req.request_id) == 16 && strspn(req.request_id, "0123456789abcdef") == 16,
		   "%s: replaced by 16 hex digits of our own (%s)", refused[i].why, req.request_id);
		fuzz_fcgi_free(&f);
	}
	fake_begin(&f, &req, NULL, NULL);
	snprintf(first, sizeof(first), "%s", req.request_id);
	fuzz_fcgi_free(&f);
	fake_begin(&f, &req, NULL, NULL);
	ok(strlen(first) == 16 && strcmp(first, req.request_id) != 0,
	   "none: a new one each time (%s, %s)", first, req.request_id);
	fuzz_fcgi_free(&f);
}

static void
test_caller(void)
{
	static const struct {
		const char *id, *role;
		unsigned want;
		const char *why;
	} cases[] = {
		{ "HTTP_X_USER_ID=" USER, "HTTP_X_USER_ROLE=customer", GL_ROLE_CUSTOMER,
		  "customer" },
		{ "HTTP_X_USER_ID=" USER, "HTTP_X_USER_ROLE=staff", GL_ROLE_STAFF, "staff" },
		{ "HTTP_X_USER_ID=" USER, "HTTP_X_USER_ROLE=admin", GL_ROLE_ADMIN, "admin" },
		{ "HTTP_X_USER_ID=" USER, "HTTP_X_USER_ROLE=Admin", 0, "a role in another case" },
		{ "HTTP_X_USER_ID=" USER, "HTTP_X_USER_ROLE=staff ", 0, "a role with a space" },
		{ "HTTP_X_USER_ID=" USER, "X=1", 0, "an id without a role" },
		{ "X=1", "HTTP_X_USER_ROLE=admin", 0, "a role without an id" },
		{ "HTTP_X_USER_ID=0123456789ABCDEF01234567", "HTTP_X_USER_ROLE=admin", 0,
		  "an id in upper case" },
		{ "HTTP_X_USER_ID=0123456789abcdef0123456", "HTTP_X_USER_ROLE=admin", 0,
		  "an id of 23 digits" },
		{ "HTTP_X_USER_ID=0123456789abcdef012345678", "HTTP_X_USER_ROLE=admin", 0,
		  "an id of 25 digits" },
	};
	struct fuzz_fcgi f;
	struct gl_req req;

	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		fake_begin(&f, &req, NULL, cases[i].id, cases[i].role, NULL);
		ok(req.role == cases[i].want && strcmp(req.user_id, cases[i].want ? USER : "") == 0,
		   "%s: role %u, user '%s'", cases[i].why, req.role, req.user_id);
		fuzz_fcgi_free(&f);
	}

	memset(&req, 0, sizeof(req));
	ok(!gl_req_has_role(&req, GL_ROLE_ANY), "no caller has no role");
	req.role = GL_ROLE_CUSTOMER;
	ok(gl_req_has_role(&req, GL_ROLE_ANY) && gl_req_has_role(&req, GL_ROLE_CUSTOMER) &&
	           !gl_req_has_role(&req, GL_ROLE_STAFF | GL_ROLE_ADMIN),
	   "a customer is a customer only");
	req.role = GL_ROLE_ADMIN;
	ok(gl_req_has_role(&req, GL_ROLE_CUSTOMER) && gl_req_has_role(&req, GL_ROLE_STAFF),
	   "an admin is every role");

	/* Who sees a document with an owner (an order, a payment). */
	json_t *mine = json_pack("{s:s}", "user_id", USER);
	json_t *theirs = json_pack("{s:s}", "user_id", "0123456789abcdef0123456f");
	json_t *nobodys = json_object();
	req.role = GL_ROLE_CUSTOMER;
	snprintf(req.user_id, sizeof(req.user_id), "%s", USER);
	ok(gl_req_may_see(&req, mine) && !gl_req_may_see(&req, theirs) &&
	           !gl_req_may_see(&req, nobodys),
	   "a customer sees its own only (not another's, not one without an owner)");
	req.user_id[0] = '\0';
	ok(!gl_req_may_see(&req, mine) && !gl_req_may_see(&req, nobodys),
	   "a customer without an id sees none");
	req.role = GL_ROLE_STAFF;
	ok(gl_req_may_see(&req, mine) && gl_req_may_see(&req, theirs) &&
	           gl_req_may_see(&req, nobodys),
	   "staff see every one");
	req.role = GL_ROLE_ADMIN;
	ok(gl_req_may_see(&req, theirs), "so does an admin");
	req.role = 0;
	snprintf(req.user_id, sizeof(req.user_id), "%s", USER);
	ok(!gl_req_may_see(&req, mine), "no role, none");
	json_decref(mine);
	json_decref(theirs);
	json_decref(nobodys);
}

static void
test_params(void)
{
	static const struct gl_route two[] = {
		{ GL_GET, "/api/unit/things/{id}/lines/{line_id}", no_handler, GL_ROLE_ANY },
		{ 0 },
	};
	struct gl_valid_fail fail;
	struct fuzz_fcgi f;
	struct gl_req req;
	struct gl_page page;

	fake_begin(&f, &req, NULL, "REQUEST_METHOD=HEAD", "DOCUMENT_URI=/api/unit/x",
	           "HTTP_IF_NONE_MATCH=", NULL);
	ok(req.method == GL_GET, "HEAD is a GET");
	is_str(req.path, "/api/unit/x", "the path is DOCUMENT_URI");
	is_str(gl_req_param(&req, "HTTP_IF_NONE_MATCH"), "", "a param, empty");
	is_str(gl_req_param(&req, "HTTP_IF_MATCH"), NULL, "a param not sent: NULL");
	ok(req.started_us > 0 && req.started_us <= gl_now_us(), "the clock started");

	ok(gl_route_match(two, GL_GET, "/api/unit/things/" OID "/lines/" USER, &req.match) == GL_OK,
	   "two captures matched");
	is_str(gl_req_capture(&req, "id"), OID, "the capture id");
	is_str(gl_req_capture(&req, "line_id"), USER, "the capture line_id");
	is_str(gl_req_capture(&req, "line"), NULL, "a prefix of a name is not the name");
	is_str(gl_req_capture(&req, "ids"), NULL, "nor is a longer one");

	ok(gl_valid_query(gl_page_query, "", &req.query, &fail) == GL_OK, "no page asked");
	gl_req_page(&req, &page);
	ok(page.limit == 50 && page.after == NULL, "the default page: 50 from the start");
	json_decref(req.query);
	ok(gl_valid_query(gl_page_query, "after=" OID "&limit=200", &req.query, &fail) == GL_OK,
	   "a page asked");
	gl_req_page(&req, &page);
	ok(page.limit == 200, "its limit");
	is_str(page.after, OID, "its start");
	json_decref(req.query);
	ok(gl_valid_query(gl_page_query, "limit=201", &req.query, &fail) == GL_E_VALIDATION &&
	           gl_valid_query(gl_page_query, "limit=0", &req.query, &fail) == GL_E_VALIDATION &&
	           req.query == NULL,
	   "gl_page_query: a page is 1..200");
	fuzz_fcgi_free(&f);
}

static void
test_if_match(void)
{
	static const struct {
		const char *param;
		long long want; /* -2: refused */
	} cases[] = {
		{ "X=1", -1 },
		{ "HTTP_IF_MATCH=0", 0 },
		{ "HTTP_IF_MATCH=42", 42 },
		{ "HTTP_IF_MATCH=\"42\"", 42 },
		{ "HTTP_IF_MATCH=007", 7 },
		{ "HTTP_IF_MATCH=999999999999999", 999999999999999LL },
		{ "HTTP_IF_MATCH=1000000000000000", -2 },
		{ "HTTP_IF_MATCH=", -2 },
		{ "HTTP_IF_MATCH=\"\"", -2 },
		{ "HTTP_IF_MATCH=\"", -2 },
		{ "HTTP_IF_MATCH=\"4", -2 },
		{ "HTTP_IF_MATCH=-1", -2 },
		{ "HTTP_IF_MATCH=+1", -2 },
		{ "HTTP_IF_MATCH= 1", -2 },
		{ "HTTP_IF_MATCH=1.0", -2 },
		{ "HTTP_IF_MATCH=W/\"1\"", -2 },
		{ "HTTP_IF_MATCH=*", -2 },
	};
	struct fuzz_fcgi f;
	struct gl_req req;
	long long v;
	enum gl_err err;

	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		fake_begin(&f, &req, NULL, cases[i].param, NULL);
		err = gl_req_if_match(&req, &v);
		if (cases[i].want == -2)
			ok(err == GL_E_VALIDATION && v == -1 && req.err == GL_E_VALIDATION &&
			           strcmp(req.err_field, "If-Match") == 0 &&
			           strcmp(req.err_message, "must be a document version number") ==
			                   0,
			   "%s: 400 on If-Match", cases[i].param);
		else
			ok(err == GL_OK && v == cases[i].want && req.err == GL_OK,
			   "%s: version %lld", cases[i].param, v);
		fuzz_fcgi_free(&f);
	}
}

static void
test_header(void)
{
	struct gl_req req;
	char value[600];
	size_t n;

	memset(&req, 0, sizeof(req));
	gl_req_header(&req, "X-Thing-Version", "\"3\"");
	is_str(req.headers, "X-Thing-Version: \"3\"\r\n", "a header, as a line");
	CAPTURE(gl_req_header(&req, "ETag", "\"x\""));
	ok(strstr(captured, "header ETag: set by the writer only") != NULL,
	   "ETag: refused, logged");
	CAPTURE(gl_req_header(&req, "cache-control", "public"));
	ok(strstr(captured, "set by the writer only") != NULL, "Cache-Control, in any case: too");
	CAPTURE(gl_req_header(&req, "X-A", "1\r\nSet-Cookie: s=1"));
	ok(strstr(captured, "header X-A: refused a control character") != NULL,
	   "a value with CR LF: refused, logged");
	gl_req_header(&req, "X-A", "a\tb");
	gl_req_header(&req, "X-A", "a\x7f");
	is_str(req.headers, "X-Thing-Version: \"3\"\r\n", "a tab or a DEL: refused too");

	memset(value, 'v', sizeof(value) - 1);
	value[sizeof(value) - 1] = '\0';
	CAPTURE(gl_req_header(&req, "X-Big", value));
	ok(strstr(captured, "header X-Big: no room") != NULL, "a header that does not fit: logged");
	is_str(req.headers, "X-Thing-Version: \"3\"\r\n", "and dropped whole, the others kept");
	/* "X-Fill: <value>\r\n": one byte more than is left before the NUL, then just that. */
	n = sizeof(req.headers) - 1 - strlen(req.headers) - strlen("X-Fill: \r\n");
	value[n + 1] = '\0';
	gl_req_header(&req, "X-Fill", value);
	is_str(req.headers, "X-Thing-Version: \"3\"\r\n", "a byte too many: dropped");
	value[n] = '\0';
	gl_req_header(&req, "X-Fill", value);
	ok(strlen(req.headers) == sizeof(req.headers) - 1,
	   "a header that just fits is kept (%zu bytes)", strlen(req.headers));
	gl_req_header(&req, "X-B", "1");
	ok(strlen(req.headers) == sizeof(req.headers) - 1 && strstr(req.headers, "X-B") == NULL,
	   "then nothing more, not a part");
}

static void
test_fail(void)
{
	struct gl_req req;
	char name[300];

	memset(&req, 0, sizeof(req));
	ok(gl_fail(&req, GL_E_CONFLICT, "email", "%s is taken", "a@b.c") == GL_E_CONFLICT,
	   "gl_fail returns its error");
	ok(req.err == GL_E_CONFLICT, "and records it");
	is_str(req.err_field, "email", "with the field");
	is_str(req.err_message, "a@b.c is taken", "and the message");
	gl_fail(&req, GL_E_NOT_FOUND, NULL, NULL);
	ok(req.err == GL_E_NOT_FOUND && req.err_field[0] == '\0' && req.err_message[0] == '\0',
	   "a later failure replaces it all: no field, no message");
	/* 254 bytes, then a two-byte character across the 255 that fit. */
	memset(name, 'x', 254);
	snprintf(name + 254, sizeof(name) - 254, "\xc3\xa9 and more");
	gl_fail(&req, GL_E_INVALID_STATE, NULL, "%s", name);
	ok(strlen(req.err_message) == 254 && req.err_message[253] == 'x',
	   "a long message is cut between characters (%zu bytes)", strlen(req.err_message));
}

/* A GET of caller_route with an answer, finished: the whole text (new). */
static char *
tagged_get(const char *if_none_match, json_t *reply)
{
	struct fuzz_fcgi f;
	struct gl_req req;

	fake_begin(&f, &req, NULL, "REQUEST_METHOD=GET", if_none_match, NULL);
	req.match.route = &caller_route;
	gl_reply(&req, 200, reply);
	return fake_finish(&f, &req, GL_OK);
}

static void
test_errors(void)
{
	struct fuzz_fcgi f;
	struct gl_req req;
	char *text;

	fake_begin(&f, &req, NULL, "REQUEST_METHOD=POST", NULL);
	text = fake_finish(&f, &req,
	                   gl_fail(&req, GL_E_CONFLICT, "email", "%s is taken", "a\"b@c.d"));
	is_str(text,
	       FAKE_JSON("409") "\r\n{\"error\":{\"code\":\"conflict\","
	                        "\"message\":\"a\\\"b@c.d is taken\",\"field\":\"email\"}}\n",
	       "an error: its code, its message (escaped), its field");
	free(text);

	fake_begin(&f, &req, NULL, "REQUEST_METHOD=POST", NULL);
	gl_fail(&req, GL_E_VALIDATION, "email", "not this one");
	text = fake_finish(&f, &req, GL_E_NOT_FOUND);
	is_str(text,
	       FAKE_JSON("404") "\r\n{\"error\":{\"code\":\"not_found\","
	                        "\"message\":\"no such resource\"}}\n",
	       "another error than the one recorded: the code's own message, no field");
	free(text);

	fake_begin(&f, &req, NULL, "REQUEST_METHOD=POST", NULL);
	gl_fail(&req, GL_E_CONFLICT, "name", "bad \xff\xfe bytes");
	text = fake_finish(&f, &req, GL_E_CONFLICT);
	is_str(text,
	       FAKE_JSON("409") "\r\n{\"error\":{\"code\":\"conflict\","
	                        "\"message\":\"this conflicts with the current state\","
	                        "\"field\":\"name\"}}\n",
	       "a message that is not UTF-8: the code's own, never no error");
	free(text);

	fake_begin(&f, &req, NULL, "REQUEST_METHOD=GET", NULL);
	req.match.route = &caller_route;
	gl_reply(&req, 200, json_pack("{s:i}", "a", 1));
	CAPTURE(text = fake_finish(&f, &req, GL_E_INTERNAL));
	is_str(text,
	       FAKE_JSON("500") "\r\n{\"error\":{\"code\":\"internal_error\","
	                        "\"message\":\"an internal error occurred\"}}\n",
	       "a failure after a reply: the reply is dropped, no ETag");
	ok(strstr(captured, "\"level\":\"error\"") != NULL &&
	           strstr(captured, "internal_error: an internal error occurred") != NULL,
	   "a 5xx is logged as an error");
	free(text);

	fake_begin(&f, &req, NULL, "REQUEST_METHOD=GET", NULL);
	text = fake_finish(&f, &req, GL_OK);
	is_str(text,
	       FAKE_JSON("500") "\r\n{\"error\":{\"code\":\"internal_error\","
	                        "\"message\":\"the handler gave no answer\"}}\n",
	       "a handler that answered nothing: 500");
	free(text);

	fake_begin(&f, &req, NULL, "REQUEST_METHOD=GET", NULL);
	text = fake_finish(&f, &req, gl_fail(&req, GL_E_UPSTREAM_DOWN, NULL, "mongodb is away"));
	is_str(text,
	       FAKE_JSON(
	               "503") "Retry-After: 1\r\n\r\n{\"error\":{\"code\":\"upstream_unavailable\","
	                      "\"message\":\"mongodb is away\"}}\n",
	       "a 503 says when to try again");
	free(text);

	fake_begin(&f, &req, NULL, "REQUEST_METHOD=GET", NULL);
	gl_req_header(&req, "Retry-After", "5");
	text = fake_finish(&f, &req, GL_E_UPSTREAM_DOWN);
	is_str(text,
	       FAKE_JSON(
	               "503") "Retry-After: 5\r\n\r\n{\"error\":{\"code\":\"upstream_unavailable\","
	                      "\"message\":\"a dependency is unavailable\"}}\n",
	       "unless the handler said it: its own, once");
	free(text);

	fake_begin(&f, &req, NULL, "REQUEST_METHOD=PUT", NULL);
	req.match.allow = 1u << GL_GET | 1u << GL_PATCH | 1u << GL_DELETE;
	text = fake_finish(&f, &req, gl_fail(&req, GL_E_METHOD, NULL, "PUT is not allowed here"));
	is_str(text,
	       FAKE_JSON("405") "Allow: GET, HEAD, PATCH, DELETE\r\n\r\n"
	                        "{\"error\":{\"code\":\"method_not_allowed\","
	                        "\"message\":\"PUT is not allowed here\"}}\n",
	       "a 405 has Allow, HEAD beside GET");
	free(text);
}

static void
test_answers(void)
{
	struct fuzz_fcgi f;
	struct gl_req req;
	char *text;

	fake_begin(&f, &req, NULL, "REQUEST_METHOD=POST", NULL);
	req.match.route = &caller_route;
	snprintf(req.location, sizeof(req.location), "/api/unit/things/%s", OID);
	gl_req_header(&req, "X-Thing-Version", "\"1\"");
	req.cache = "miss";
	gl_reply(&req, 201, json_pack("{s:s}", "id", OID));
	text = fake_finish(&f, &req, GL_OK);
	is_str(text,
	       FAKE_JSON("201") "X-Cache: miss\r\nLocation: /api/unit/things/" OID "\r\n"
	                        "X-Thing-Version: \"1\"\r\n\r\n{\"id\":\"" OID "\"}\n",
	       "a 201: X-Cache, Location, the handler's headers; a write is never tagged");
	ok(req.body == NULL && req.query == NULL && req.reply == NULL && req.raw == NULL,
	   "the writer freed what the request owned");
	free(text);

	fake_begin(&f, &req, NULL, "REQUEST_METHOD=DELETE", NULL);
	gl_reply(&req, 204, NULL);
	text = fake_finish(&f, &req, GL_OK);
	is_str(text, "Status: 204\r\nCache-Control: no-store\r\n\r\n",
	       "a 204: no Content-Type, no body");
	free(text);

	fake_begin(&f, &req, NULL, "REQUEST_METHOD=GET", NULL);
	req.match.route = &public_route;
	gl_reply_text(&req, 200, "text/plain; charset=utf-8", strdup("a 1\n"), 4);
	text = fake_finish(&f, &req, GL_OK);
	is_str(text,
	       "Status: 200\r\nContent-Type: text/plain; charset=utf-8\r\n"
	       "Cache-Control: no-store\r\n\r\na 1\n\n",
	       "a text answer to a public GET: its type, sent as it is, not tagged");
	free(text);
}

static void
test_etag(void)
{
	const char *body = "{\"id\":\"" OID "\",\"n\":1}";
	char etag[GL_ETAG_SIZE], want[512], param[128], *text;
	struct fuzz_fcgi f;
	struct gl_req req;

	gl_etag_of(etag, body, strlen(body));
	snprintf(want, sizeof(want),
	         "Status: 200\r\nContent-Type: application/json\r\n"
	         "Cache-Control: private, no-cache\r\nETag: %s\r\n\r\n%s\n",
	         etag, body);
	text = tagged_get("X=1", json_pack("{s:s, s:i}", "id", OID, "n", 1));
	is_str(text, want, "a caller's 200 GET: private, no-cache, tagged with its body's digest");
	free(text);

	snprintf(param, sizeof(param), "HTTP_IF_NONE_MATCH=%s", etag);
	snprintf(want, sizeof(want),
	         "Status: 304\r\nCache-Control: private, no-cache\r\nETag: %s\r\n\r\n", etag);
	text = tagged_get(param, json_pack("{s:s, s:i}", "id", OID, "n", 1));
	is_str(text, want, "If-None-Match with that tag: 304, no body, no Content-Type");
	free(text);

	text = tagged_get(param, json_pack("{s:s, s:i}", "id", OID, "n", 2));
	ok(strncmp(text, "Status: 200\r\n", 13) == 0 && strstr(text, "\"n\":2}\n") != NULL,
	   "the same tag after a change: the new body, 200");
	free(text);

	fake_begin(&f, &req, NULL, "REQUEST_METHOD=GET", param, NULL);
	req.match.route = &caller_route;
	gl_reply_raw(&req, 200, strdup(body), strlen(body));
	text = fake_finish(&f, &req, GL_OK);
	is_str(text, want, "a ready body (a cache hit) is tagged by its bytes: the same 304");
	free(text);

	fake_begin(&f, &req, NULL, "REQUEST_METHOD=GET", param, NULL);
	req.match.route = &public_route;
	gl_reply_raw(&req, 200, strdup(body), strlen(body));
	text = fake_finish(&f, &req, GL_OK);
	snprintf(want, sizeof(want), FAKE_JSON("200") "\r\n%s\n", body);
	is_str(text, want, "a public route: never tagged, never a 304");
	free(text);
}

/* The request's log line: the client's path made printable, never raw. */
static void
test_log(void)
{
	struct fuzz_fcgi f;
	struct gl_req req;
	json_t *line;

	gl_conf.log_level = "info";
	gl_log_init();
	fake_begin(&f, &req, NULL, "REQUEST_METHOD=GET", "GALLEY_REQUEST_ID=abc1",
	           "DOCUMENT_URI=/api/x\"y\\z\n\x01\xc3\xa9%", NULL);
	CAPTURE(free(fake_finish(&f, &req, GL_E_NOT_FOUND)));
	line = json_loads(captured, 0, NULL);
	ok(line != NULL, "one JSON line");
	is_str(json_string_value(json_object_get(line, "path")), "/api/x%22y%5Cz%0A%01%C3%A9%",
	       "the path: quote, backslash, controls and non-ASCII bytes as %%XX");
	is_str(json_string_value(json_object_get(line, "method")), "GET", "the method");
	ok(json_integer_value(json_object_get(line, "status")) == 404, "the status");
	is_str(json_string_value(json_object_get(line, "request_id")), "abc1", "the request id");
	json_decref(line);
	gl_conf.log_level = "error";
	gl_log_init();
}

int
main(void)
{
	gl_conf.service = "unit";
	gl_conf.log_level = "error";
	gl_log_init();

	test_request_id();
	test_caller();
	test_params();
	test_if_match();
	test_header();
	test_fail();
	test_errors();
	test_answers();
	test_etag();
	test_log();
	return done_testing();
}
