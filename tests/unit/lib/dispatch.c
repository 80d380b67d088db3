/*
 * Unit tests of lib/dispatch.c: a request from its route to its handler, and every refusal on
 * the way (whole answers, as gl_req_finish() writes them), the built-in routes a service gets
 * from gl_dispatch_routes(), and the drain that keeps the FastCGI stream in step.
 */
#include <stdlib.h>

#include "../fake.h"
#include "../tap.h"
#include "app.h"
#include "conf.h"
#include "dispatch.h"
#include "etag.h"
#include "log.h"
#include "redis.h"

#define OID   "5f1e2d3c4b5a69788796a5b4"
#define USER  "HTTP_X_USER_ID=0123456789abcdef01234567"
#define JSON  "CONTENT_TYPE=application/json"
#define THING "DOCUMENT_URI=/api/unit/things"

static int handled; /* requests that reached a handler */

/* Every route's handler but DELETE's: what it was given, as its answer. */
static enum gl_err
thing_echo(struct gl_req *req)
{
	json_t *out =
	        json_pack("{s:s, s:O}", "route", req->match.route->pattern, "query", req->query);

	handled++;
	if (gl_req_capture(req, "id") != NULL)
		json_object_set_new(out, "id", json_string(gl_req_capture(req, "id")));
	if (req->body != NULL)
		json_object_set(out, "body", req->body);
	return gl_reply(req, req->method == GL_POST ? 201 : 200, out);
}

static enum gl_err
thing_delete(struct gl_req *req)
{
	handled++;
	return gl_reply(req, 204, NULL);
}

static const struct gl_field thing_fields[] = {
	{ .name = "name", .type = GL_T_STRING, .flags = GL_REQUIRED, .min = 1, .max = 20 },
	{ .name = "active", .type = GL_T_BOOL },
	{ 0 },
};

static const struct gl_field thing_query[] = {
	{ .name = "limit", .type = GL_T_INT, .min = 1, .max = 200 },
	{ 0 },
};

static const struct gl_route thing_routes[] = {
	{ GL_GET, "/api/unit/things", thing_echo, GL_ROLE_ANY, NULL, 0, thing_query, 0 },
	{ GL_POST, "/api/unit/things", thing_echo, GL_ROLE_STAFF, thing_fields, 64, NULL, 0 },
	{ GL_GET, "/api/unit/things/{id}", thing_echo, GL_ROLE_PUBLIC, NULL, 0, NULL, 0 },
	{ GL_PATCH, "/api/unit/things/{id}", thing_echo, GL_ROLE_STAFF, thing_fields, 0, NULL,
	  GL_PARTIAL },
	{ GL_DELETE, "/api/unit/things/{id}", thing_delete, GL_ROLE_ADMIN, NULL, 0, NULL, 0 },
	{ 0 },
};

static const struct gl_service unit_service = { .name = "unit", .routes = thing_routes };

static struct gl_route *routes;

/* One request through gl_dispatch() and the writer: its answer (new: free() it). */
static char *
answer(const char *body, ...)
{
	struct fuzz_fcgi f;
	struct gl_req req;
	va_list ap;

	va_start(ap, body);
	fake_beginv(&f, &req, body, ap);
	va_end(ap);
	return fake_finish(&f, &req, gl_dispatch(routes, &req));
}

/* Compare an answer with want, then free it. */
static void
is_answer(char *got, const char *want, const char *what)
{
	is_str(got, want, "%s", what);
	free(got);
}

static void
test_routes(void)
{
	int n = 0;

	ok(routes != NULL, "gl_dispatch_routes: a table");
	is_str(routes[0].pattern, "/api/unit/healthz", "healthz first, under the service's path");
	is_str(routes[1].pattern, "/api/unit/readyz", "then readyz");
	is_str(routes[2].pattern, "/metrics", "then /metrics, every service's");
	ok(routes[0].method == GL_GET && routes[1].method == GL_GET && routes[2].method == GL_GET &&
	           routes[0].roles == GL_ROLE_PUBLIC && routes[2].roles == GL_ROLE_PUBLIC,
	   "the built-ins are public GETs");
	for (; routes[n].pattern != NULL; n++)
		;
	ok(n == 3 + 5 && memcmp(routes + 3, thing_routes, 5 * sizeof(routes[0])) == 0,
	   "then the service's routes, as they were, and the zero row (%d routes)", n);
}

static void
test_builtins(void)
{
	is_answer(answer(NULL, "REQUEST_METHOD=GET", "DOCUMENT_URI=/api/unit/healthz", NULL),
	          FAKE_JSON("200") "\r\n{\"status\":\"ok\"}\n", "healthz: 200 ok, not cached");
	is_answer(answer(NULL, "REQUEST_METHOD=GET", "DOCUMENT_URI=/api/unit/readyz", NULL),
	          FAKE_JSON("503") "Retry-After: 1\r\n\r\n"
	                           "{\"error\":{\"code\":\"upstream_unavailable\","
	                           "\"message\":\"mongodb is not answering\"}}\n",
	          "readyz without MongoDB: 503, says which, and when to try again");
	is_answer(
	        answer(NULL, "REQUEST_METHOD=GET", "DOCUMENT_URI=/metrics", NULL),
	        FAKE_JSON(
	                "503") "Retry-After: 1\r\n\r\n"
	                       "{\"error\":{\"code\":\"upstream_unavailable\","
	                       "\"message\":\"redis is not answering: the totals live there\"}}\n",
	        "/metrics without Redis: 503 (metrics_text.c's test has it with Redis)");
	is_answer(answer(NULL, "REQUEST_METHOD=GET", "DOCUMENT_URI=/api/other/healthz", NULL),
	          FAKE_JSON("404") "\r\n{\"error\":{\"code\":\"not_found\","
	                           "\"message\":\"no such route\"}}\n",
	          "another service's healthz: 404");
	ok(handled == 0, "no service handler ran");
}

static void
test_route_refusals(void)
{
	is_answer(answer(NULL, "REQUEST_METHOD=GET", "DOCUMENT_URI=/api/unit/nothing", NULL),
	          FAKE_JSON("404") "\r\n{\"error\":{\"code\":\"not_found\","
	                           "\"message\":\"no such route\"}}\n",
	          "no route: 404");
	is_answer(answer(NULL, "REQUEST_METHOD=POST", "DOCUMENT_URI=/api/unit/healthz", NULL),
	          FAKE_JSON("405") "Allow: GET, HEAD\r\n\r\n"
	                           "{\"error\":{\"code\":\"method_not_allowed\","
	                           "\"message\":\"POST is not allowed here\"}}\n",
	          "a built-in with POST: 405, Allow says GET, HEAD");
	is_answer(answer(NULL, "REQUEST_METHOD=PUT", "DOCUMENT_URI=/api/unit/things/" OID, NULL),
	          FAKE_JSON("405") "Allow: GET, HEAD, PATCH, DELETE\r\n\r\n"
	                           "{\"error\":{\"code\":\"method_not_allowed\","
	                           "\"message\":\"PUT is not allowed here\"}}\n",
	          "PUT where GET, PATCH and DELETE are: 405, Allow names them all");
	is_answer(answer(NULL, "REQUEST_METHOD=BREW", "DOCUMENT_URI=/api/unit/things", NULL),
	          FAKE_JSON("405") "Allow: GET, HEAD, POST\r\n\r\n"
	                           "{\"error\":{\"code\":\"method_not_allowed\","
	                           "\"message\":\"this method is not allowed here\"}}\n",
	          "a method nobody knows: 405, never its name echoed");
	is_answer(answer(NULL, "REQUEST_METHOD=GET", "DOCUMENT_URI=/api/unit/things/12345", NULL),
	          FAKE_JSON("400") "\r\n{\"error\":{\"code\":\"validation_failed\","
	                           "\"message\":\"the id in the path must be 24 hex digits\","
	                           "\"field\":\"id\"}}\n",
	          "a malformed id: 400 on the field id");
	ok(handled == 0, "no handler ran");
}

static void
test_caller(void)
{
	is_answer(answer(NULL, "REQUEST_METHOD=GET", THING, NULL),
	          FAKE_JSON("401") "\r\n{\"error\":{\"code\":\"unauthenticated\",\"message\":"
	                           "\"sign in first: send Authorization: Bearer <token>\"}}\n",
	          "a route for callers, no caller: 401");
	is_answer(answer(NULL, "REQUEST_METHOD=GET", THING, USER, "HTTP_X_USER_ROLE=root", NULL),
	          FAKE_JSON("401") "\r\n{\"error\":{\"code\":\"unauthenticated\",\"message\":"
	                           "\"sign in first: send Authorization: Bearer <token>\"}}\n",
	          "a role nobody has is no caller: 401");
	is_answer(answer("{\"name\":\"x\"}", "REQUEST_METHOD=POST", THING, USER,
	                 "HTTP_X_USER_ROLE=customer", JSON, "CONTENT_LENGTH=12", NULL),
	          FAKE_JSON("403") "\r\n{\"error\":{\"code\":\"forbidden\","
	                           "\"message\":\"your role may not do this\"}}\n",
	          "a customer on a staff route: 403");
	is_answer(answer(NULL, "REQUEST_METHOD=DELETE", "DOCUMENT_URI=/api/unit/things/" OID, USER,
	                 "HTTP_X_USER_ROLE=staff", NULL),
	          FAKE_JSON("403") "\r\n{\"error\":{\"code\":\"forbidden\","
	                           "\"message\":\"your role may not do this\"}}\n",
	          "staff on an admin route: 403");
	ok(handled == 0, "no handler ran");
	is_answer(answer(NULL, "REQUEST_METHOD=DELETE", "DOCUMENT_URI=/api/unit/things/" OID, USER,
	                 "HTTP_X_USER_ROLE=admin", NULL),
	          "Status: 204\r\nCache-Control: no-store\r\n\r\n",
	          "the admin: 204, no body and no Content-Type");
	ok(handled == 1, "its handler ran once");
}

static void
test_query(void)
{
	char etag[GL_ETAG_SIZE], want[512];
	const char *body = "{\"route\":\"/api/unit/things\",\"query\":{\"limit\":5}}";

	is_answer(answer(NULL, "REQUEST_METHOD=GET", THING, "QUERY_STRING=limit=500", USER,
	                 "HTTP_X_USER_ROLE=customer", NULL),
	          FAKE_JSON("400") "\r\n{\"error\":{\"code\":\"validation_failed\","
	                           "\"message\":\"limit must be 1..200\",\"field\":\"limit\"}}\n",
	          "a query value out of range: 400 on its field");
	is_answer(answer(NULL, "REQUEST_METHOD=GET", THING, "QUERY_STRING=sort=name", USER,
	                 "HTTP_X_USER_ROLE=customer", NULL),
	          FAKE_JSON("400") "\r\n{\"error\":{\"code\":\"validation_failed\","
	                           "\"message\":\"sort is not a known query parameter\","
	                           "\"field\":\"sort\"}}\n",
	          "a parameter the route does not take: 400");
	is_answer(answer(NULL, "REQUEST_METHOD=GET", "DOCUMENT_URI=/api/unit/things/" OID,
	                 "QUERY_STRING=limit=5", NULL),
	          FAKE_JSON("400") "\r\n{\"error\":{\"code\":\"validation_failed\","
	                           "\"message\":\"limit is not a known query parameter\","
	                           "\"field\":\"limit\"}}\n",
	          "no query table: no parameter at all");
	ok(handled == 1, "no handler ran");

	gl_etag_of(etag, body, strlen(body));
	snprintf(want, sizeof(want),
	         "Status: 200\r\nContent-Type: application/json\r\n"
	         "Cache-Control: private, no-cache\r\nETag: %s\r\n\r\n%s\n",
	         etag, body);
	is_answer(answer(NULL, "REQUEST_METHOD=GET", THING, "QUERY_STRING=limit=5", USER,
	                 "HTTP_X_USER_ROLE=customer", NULL),
	          want, "the handler gets the query typed (an integer); a caller's GET is tagged");
	is_answer(answer(NULL, "REQUEST_METHOD=GET", "DOCUMENT_URI=/api/unit/things/" OID, NULL),
	          FAKE_JSON("200") "\r\n{\"route\":\"/api/unit/things/{id}\",\"query\":{},"
	                           "\"id\":\"" OID "\"}\n",
	          "a public GET: the capture, an empty query, not tagged");
	ok(handled == 3, "both handlers ran");
}

/* A POST to /api/unit/things as staff with Content-Type ct and Content-Length len. */
static char *
post(const char *body, const char *ct, const char *len)
{
	return answer(body, "REQUEST_METHOD=POST", THING, USER, "HTTP_X_USER_ROLE=staff", ct, len,
	              NULL);
}

/* Bodies the front line refuses, before the handler, as staff with a JSON Content-Type. */
static const struct {
	const char *body, *length, *want, *why;
} refused[] = {
	{ "{\"name\":\"x\"}", "CONTENT_LENGTH=65",
	  FAKE_JSON("413") "\r\n{\"error\":{\"code\":\"body_too_large\","
	                   "\"message\":\"the body is larger than 64 bytes\"}}\n",
	  "a Content-Length past the route's cap: 413, before a byte is read" },
	{ "{\"name\":\"x\"}", "CONTENT_LENGTH=12a",
	  FAKE_JSON("400") "\r\n{\"error\":{\"code\":\"validation_failed\","
	                   "\"message\":\"Content-Length is not a number\"}}\n",
	  "a Content-Length that is not a number: 400" },
	{ "{\"name\":\"x\"}", "CONTENT_LENGTH=9999999999999",
	  FAKE_JSON("400") "\r\n{\"error\":{\"code\":\"validation_failed\","
	                   "\"message\":\"Content-Length is not a number\"}}\n",
	  "a 13-digit Content-Length: 400, never an overflow" },
	{ "", "CONTENT_LENGTH=0",
	  FAKE_JSON("400") "\r\n{\"error\":{\"code\":\"invalid_json\","
	                   "\"message\":\"a JSON object body is required\"}}\n",
	  "no body where one is needed: 400" },
	{ "{\"name\":\"x\"}", "CONTENT_LENGTH=20",
	  FAKE_JSON("400") "\r\n{\"error\":{\"code\":\"invalid_json\","
	                   "\"message\":\"the body is shorter than Content-Length\"}}\n",
	  "a body shorter than it said: 400" },
	{ "[1]", "CONTENT_LENGTH=3",
	  FAKE_JSON("400") "\r\n{\"error\":{\"code\":\"invalid_json\","
	                   "\"message\":\"the body must be a JSON object\"}}\n",
	  "an array: 400" },
	{ "{\"name\":}", "CONTENT_LENGTH=9",
	  FAKE_JSON(
	          "400") "\r\n{\"error\":{\"code\":\"invalid_json\",\"message\":"
	                 "\"the body is not valid JSON: unexpected token at line 1, column 9\"}}\n",
	  "broken JSON: 400, where, without echoing the client's bytes" },
	{ "{\"name\":\"\"}", "CONTENT_LENGTH=11",
	  FAKE_JSON("400") "\r\n{\"error\":{\"code\":\"validation_failed\","
	                   "\"message\":\"name must be 1..20 characters "
	                   "long\",\"field\":\"name\"}}\n",
	  "a field out of its table: 400 on that field" },
	{ "{\"name\":\"x\",\"$where\":1}", "CONTENT_LENGTH=23",
	  FAKE_JSON("400") "\r\n{\"error\":{\"code\":\"validation_failed\","
	                   "\"message\":\"$where is not an allowed key (keys may not be empty, "
	                   "start with '$' or contain '.')\",\"field\":\"$where\"}}\n",
	  "an operator for a key: 400, before the table is looked at" },
	{ "{\"name\":\"x\",\"size\":1}", "CONTENT_LENGTH=21",
	  FAKE_JSON("400") "\r\n{\"error\":{\"code\":\"validation_failed\","
	                   "\"message\":\"size is not a known field\",\"field\":\"size\"}}\n",
	  "a field not in the table: 400" },
	{ "{\"active\":true}", "CONTENT_LENGTH=15",
	  FAKE_JSON("400") "\r\n{\"error\":{\"code\":\"validation_failed\","
	                   "\"message\":\"name is required\",\"field\":\"name\"}}\n",
	  "a required field missing: 400" },
};

static void
test_body(void)
{
	static const char *const types[] = {
		"CONTENT_TYPE=application/json",
		"CONTENT_TYPE=Application/JSON",
		"CONTENT_TYPE=application/json; charset=utf-8",
		"CONTENT_TYPE=application/json ;charset=\"UTF-8\"",
	};
	static const char *const not_types[] = {
		"CONTENT_TYPE=text/plain",
		"CONTENT_TYPE=application/jsonx",
		"CONTENT_TYPE=application/json; charset=latin1",
		"CONTENT_TYPE=application/json; charset=utf-8; x=y",
	};
	const char *m415 = FAKE_JSON("415") "\r\n{\"error\":{\"code\":\"unsupported_media_type\","
	                                    "\"message\":\"send the body as Content-Type: "
	                                    "application/json (UTF-8)\"}}\n";
	const char *created = FAKE_JSON("201") "\r\n{\"route\":\"/api/unit/things\",\"query\":{},"
	                                       "\"body\":{\"name\":\"x\"}}\n";
	int before = handled;

	is_answer(post("{\"name\":\"x\"}", "X=1", "CONTENT_LENGTH=12"), m415,
	          "no Content-Type: 415");
	for (size_t i = 0; i < sizeof(not_types) / sizeof(not_types[0]); i++)
		is_answer(post("{\"name\":\"x\"}", not_types[i], "CONTENT_LENGTH=12"), m415,
		          not_types[i]);
	ok(handled == before, "none of them reached the handler");
	for (size_t i = 0; i < sizeof(types) / sizeof(types[0]); i++)
		is_answer(post("{\"name\":\"x\"}", types[i], "CONTENT_LENGTH=12"), created,
		          types[i]);
	ok(handled == before + 4, "each of those did, once");
	before = handled;

	for (size_t i = 0; i < sizeof(refused) / sizeof(refused[0]); i++)
		is_answer(post(refused[i].body, JSON, refused[i].length), refused[i].want,
		          refused[i].why);
	ok(handled == before, "none of them reached the handler");
	is_answer(post("{\"name\":\"x\"}   ", JSON, "CONTENT_LENGTH=12"), created,
	          "Content-Length bounds the body: what follows is not read as JSON");
}

static void
test_patch(void)
{
	int before = handled;

	is_answer(answer("{}", "REQUEST_METHOD=PATCH", "DOCUMENT_URI=/api/unit/things/" OID, USER,
	                 "HTTP_X_USER_ROLE=staff", JSON, "CONTENT_LENGTH=2", NULL),
	          FAKE_JSON("400") "\r\n{\"error\":{\"code\":\"validation_failed\","
	                           "\"message\":\"the body names no field to change\"}}\n",
	          "a PATCH that changes nothing: 400");
	ok(handled == before, "it did not reach the handler");
	is_answer(answer("{\"active\":false}", "REQUEST_METHOD=PATCH",
	                 "DOCUMENT_URI=/api/unit/things/" OID, USER, "HTTP_X_USER_ROLE=admin", JSON,
	                 "CONTENT_LENGTH=16", NULL),
	          FAKE_JSON("200") "\r\n{\"route\":\"/api/unit/things/{id}\",\"query\":{},"
	                           "\"id\":\"" OID "\",\"body\":{\"active\":false}}\n",
	          "a PATCH: no field required (the admin may call a staff route)");
	is_answer(answer("{}", "REQUEST_METHOD=GET", "DOCUMENT_URI=/api/unit/things/" OID,
	                 "CONTENT_LENGTH=2", NULL),
	          FAKE_JSON("400") "\r\n{\"error\":{\"code\":\"validation_failed\","
	                           "\"message\":\"this route takes no body\"}}\n",
	          "a body on a route that takes none: 400");
	ok(handled == before + 1, "only the good PATCH reached its handler");
}

/* After a refusal the body is unread: the drain reads it all, and nothing else. */
static void
test_drain(void)
{
	struct fuzz_fcgi f;
	struct gl_req req;
	char big[20000];

	memset(big, 'x', sizeof(big) - 1);
	big[sizeof(big) - 1] = '\0';
	fake_begin(&f, &req, big, "REQUEST_METHOD=POST", THING, USER, "HTTP_X_USER_ROLE=staff",
	           JSON, "CONTENT_LENGTH=19999", NULL);
	ok(gl_dispatch(routes, &req) == GL_E_TOO_LARGE, "a large body: GL_E_TOO_LARGE");
	ok(f.in.rdNext == f.body, "not a byte of it read");
	gl_dispatch_drain(&req);
	ok(f.in.rdNext == f.body + f.body_len, "the drain read all %zu bytes", f.body_len);
	free(fake_finish(&f, &req, req.err));
}

int
main(void)
{
	gl_conf.service = "unit";
	gl_conf.log_level = "error";
	gl_conf.redis_url = "unix:///nonexistent/galley-unit.sock"; /* no Redis: never a real one */
	gl_conf.store_url = gl_conf.redis_url;
	gl_conf.redis_timeout_ms = 100;
	gl_log_init();
	routes = gl_dispatch_routes(&unit_service);

	test_routes();
	test_builtins();
	test_route_refusals();
	test_caller();
	test_query();
	test_body();
	test_patch();
	test_drain();

	free(routes);
	gl_redis_close();
	return done_testing();
}
