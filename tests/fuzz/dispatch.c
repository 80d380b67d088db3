/*
 * The request front line: gl_dispatch() over a small route table, fed a
 * whole request as nginx would pass it, then gl_req_finish() (the one writer).
 *
 * Input: an HTTP-like text (seeds in tests/data/fuzz/dispatch/):
 *
 *   POST /api/things?limit=5         method, path, query
 *   Content-Type: application/json   headers become HTTP_* params (Content-Type and
 *   X-User-Role: staff               Content-Length: CONTENT_TYPE, CONTENT_LENGTH)
 *   @GALLEY_REQUEST_ID=abc           a raw FastCGI param
 *                                    an empty line, then the body; without a
 *   {"name":"x"}                     Content-Length line it is the body's length
 *
 * Invariants: no crash, leak or undefined behaviour; no 5xx (nothing here has a
 * dependency to blame); a handler sees only what its tables declare (captures
 * are 24 hex, the page is in range, the body validates again and builds a BSON
 * document); the answer is one well-formed response whose body is JSON, and
 * every error has the API's shape {"error":{"code","message"[,"field"]}}.
 * Caching (req.h): an ETag and "Cache-Control: private, no-cache" on the 200
 * or 304 of a GET that needs a caller and on nothing else, which is
 * "no-store"; a 304 only for an If-None-Match the tag satisfies, with no
 * body and no Content-Type.
 */
#include <ctype.h>
#include <string.h>
#include <strings.h>

#include "app.h"
#include "dispatch.h"
#include "doc.h"
#include "err.h"
#include "etag.h"
#include "fuzz.h"
#include "idem.h"
#include "req.h"
#include "trace.h"

static const struct gl_field option_fields[] = {
	{ .name = "name", .type = GL_T_STRING, .flags = GL_REQUIRED, .min = 1, .max = 40 },
	{ .name = "extra_cents", .type = GL_T_INT, .min = 0, .max = 1000 },
	{ 0 },
};

static const struct gl_field line_fields[] = {
	{ .name = "item_id", .type = GL_T_OID, .flags = GL_REQUIRED },
	{ .name = "qty", .type = GL_T_INT, .flags = GL_REQUIRED, .min = 1, .max = 100 },
	{ .name = "notes", .type = GL_T_STRINGS, .min = 0, .max = 4, .item_max = 40 },
	{ .name = "options", .type = GL_T_OBJECTS, .min = 0, .max = 4, .fields = option_fields },
	{ 0 },
};

static const struct gl_field thing_fields[] = {
	{ .name = "name", .type = GL_T_STRING, .flags = GL_REQUIRED, .min = 1, .max = 120 },
	{ .name = "email",
	  .type = GL_T_STRING,
	  .min = 3,
	  .max = 254,
	  .check = gl_valid_email,
	  .max_bytes = 254 },
	{ .name = "phone", .type = GL_T_STRING, .min = 0, .max = 32, .check = gl_valid_phone },
	{ .name = "currency", .type = GL_T_STRING, .min = 3, .max = 3, .check = gl_valid_currency },
	{ .name = "price_cents", .type = GL_T_INT, .min = 0, .max = 10000000 },
	{ .name = "active", .type = GL_T_BOOL },
	{ .name = "supplier_id", .type = GL_T_OID },
	{ .name = "tags", .type = GL_T_STRINGS, .min = 0, .max = 8, .item_max = 32 },
	{ .name = "lines", .type = GL_T_OBJECTS, .min = 1, .max = 20, .fields = line_fields },
	{ 0 },
};

static const struct gl_field thing_query[] = {
	{ .name = "limit", .type = GL_T_INT, .min = 1, .max = 200 },
	{ .name = "after", .type = GL_T_OID },
	{ .name = "status", .type = GL_T_STRING, .min = 1, .max = 20 },
	{ .name = "active", .type = GL_T_BOOL },
	{ .name = "supplier_id", .type = GL_T_OID },
	{ 0 },
};

static enum gl_err thing_any(struct gl_req *req);

static const struct gl_route routes[] = {
	{ GL_GET, "/api/things", thing_any, GL_ROLE_ANY, NULL, 0, thing_query, 0 },
	{ GL_POST, "/api/things", thing_any, GL_ROLE_STAFF, thing_fields, 4096, NULL, 0 },
	{ GL_GET, "/api/things/healthz", thing_any, GL_ROLE_PUBLIC, NULL, 0, NULL, 0 },
	{ GL_GET, "/api/things/{id}", thing_any, GL_ROLE_PUBLIC, NULL, 0, NULL, 0 },
	{ GL_PATCH, "/api/things/{id}", thing_any, GL_ROLE_STAFF, thing_fields, 0, NULL,
	  GL_PARTIAL },
	{ GL_DELETE, "/api/things/{id}", thing_any, GL_ROLE_ADMIN, NULL, 0, NULL, 0 },
	{ GL_POST, "/api/things/{id}/lines/{line_id}", thing_any, GL_ROLE_CUSTOMER, line_fields,
	  512, NULL, 0 },
	{ GL_GET, "/api/things/{id}/lines", thing_any, GL_ROLE_ANY, NULL, 0, gl_page_query, 0 },
	{ 0 },
};

static bool
is_hex24(const char *s)
{
	return s != NULL && strlen(s) == 24 && strspn(s, "0123456789abcdefABCDEF") == 24;
}

/* Every route's handler: checks what the front line promised, answers what it saw. */
static enum gl_err
thing_any(struct gl_req *req)
{
	const struct gl_route *r = req->match.route;
	struct gl_valid_fail fail;
	struct gl_page page;
	long long version;
	const char *key = gl_req_param(req, "HTTP_IDEMPOTENCY_KEY");
	json_t *out;

	FUZZ_CHECK(r != NULL && req->query != NULL && json_is_object(req->query));
	FUZZ_CHECK(r->roles == GL_ROLE_PUBLIC || gl_req_has_role(req, r->roles));
	for (int i = 0; i < req->match.ncaps; i++)
		FUZZ_CHECK(is_hex24(req->match.caps[i].value));
	if (strstr(r->pattern, "{id}") != NULL)
		FUZZ_CHECK(is_hex24(gl_req_capture(req, "id")));
	gl_req_page(req, &page);
	FUZZ_CHECK(page.limit >= 1 && page.limit <= 200);
	FUZZ_CHECK(page.after == NULL || is_hex24(page.after));
	FUZZ_CHECK(gl_valid_object(r->query, req->query, false, &fail) == GL_OK);

	if (r->body != NULL) {
		bson_t doc = BSON_INITIALIZER;
		json_t *back;

		FUZZ_CHECK(json_is_object(req->body));
		FUZZ_CHECK(gl_valid_object(r->body, req->body, (r->flags & GL_PARTIAL) != 0,
		                           &fail) == GL_OK);
		/* What a create or a patch does next: a document from the table's keys. */
		FUZZ_CHECK(gl_doc_append_fields(&doc, r->body, req->body));
		back = gl_doc_to_json_new(&doc);
		FUZZ_CHECK(back != NULL && json_object_size(back) == json_object_size(req->body));
		json_decref(back);
		bson_destroy(&doc);
	} else {
		FUZZ_CHECK(req->body == NULL);
	}

	if (gl_req_if_match(req, &version) != GL_OK)
		return req->err;
	FUZZ_CHECK(version >= -1 && version < 1000000000000000LL);
	if (key != NULL && !gl_idem_key_ok(key))
		return gl_fail(req, GL_E_VALIDATION, "Idempotency-Key",
		               "Idempotency-Key must be 1..64 printable characters");

	/* A refusal that names what the client sent, as orders does ("%s is not available now"). */
	if (json_is_false(json_object_get(req->body, "active")) &&
	    json_is_string(json_object_get(req->body, "name")))
		return gl_fail(req, GL_E_INVALID_STATE, "active", "%s cannot be made inactive here",
		               json_string_value(json_object_get(req->body, "name")));

	out = json_pack("{s:s, s:O, s:I}", "route", r->pattern, "query", req->query, "version",
	                (json_int_t)version);
	FUZZ_CHECK(out != NULL);
	if (req->body != NULL)
		json_object_set(out, "body", req->body);
	if (gl_req_capture(req, "id") != NULL) {
		snprintf(req->location, sizeof(req->location), "/api/things/%s",
		         gl_req_capture(req, "id"));
		gl_req_header(req, "X-Thing-Version", "\"1\"");
	}
	return gl_reply(req, req->method == GL_POST ? 201 : 200, out);
}

/* "Content-Type" → "CONTENT_TYPE", "X-User-Role" → "HTTP_X_USER_ROLE". */
static void
param_name(char *dst, size_t size, const char *header)
{
	size_t o = 0;

	if (strcasecmp(header, "Content-Type") != 0 && strcasecmp(header, "Content-Length") != 0)
		o = (size_t)snprintf(dst, size, "HTTP_");
	for (; *header != '\0' && o + 1 < size; header++)
		dst[o++] = *header == '-' ? '_' : (char)toupper((unsigned char)*header);
	dst[o] = '\0';
}

/* The request line and the headers into params; *data and *size move to the body. */
static void
read_head(struct fuzz_fcgi *f, const uint8_t **data, size_t *size, bool *has_length)
{
	char *line = fuzz_line(data, size), *sp, *q, name[128];
	int lines = 0;

	sp = strchr(line, ' ');
	if (sp != NULL)
		*sp++ = '\0';
	fuzz_fcgi_param(f, "REQUEST_METHOD", line);
	if (sp != NULL) {
		q = strchr(sp, '?');
		if (q != NULL) {
			*q++ = '\0';
			fuzz_fcgi_param(f, "QUERY_STRING", q);
		}
		fuzz_fcgi_param(f, "DOCUMENT_URI", sp);
	}
	free(line);
	while (*size > 0 && lines++ < FUZZ_PARAMS_MAX) {
		line = fuzz_line(data, size);
		if (line[0] == '\0') {
			free(line);
			break;
		}
		if (line[0] == '@' && (sp = strchr(line, '=')) != NULL) {
			*sp++ = '\0';
			fuzz_fcgi_param(f, line + 1, sp);
		} else if ((sp = strchr(line, ':')) != NULL) {
			*sp++ = '\0';
			while (*sp == ' ')
				sp++;
			param_name(name, sizeof(name), line);
			if (strcmp(name, "CONTENT_LENGTH") == 0)
				*has_length = true;
			fuzz_fcgi_param(f, name, sp);
		}
		free(line);
	}
}

/* Header name's value in the head (text, head_len bytes) into val; false when absent. */
static bool
header_value(const char *text, size_t head_len, const char *name, char *val, size_t size)
{
	size_t n = strlen(name);

	for (const char *p = strstr(text, "\r\n"); p != NULL && (size_t)(p - text) + 2 < head_len;
	     p = strstr(p + 2, "\r\n")) {
		const char *line = p + 2, *end = strstr(line, "\r\n");

		if (strncasecmp(line, name, n) != 0 || line[n] != ':' || end == NULL)
			continue;
		line += n + 1;
		while (*line == ' ')
			line++;
		snprintf(val, size, "%.*s", (int)(end - line), line);
		return true;
	}
	return false;
}

/* Caching: which answers are tagged, what Cache-Control says, when a 304 may stand in. */
static void
check_caching(const char *text, size_t head_len, const struct gl_req *req)
{
	const struct gl_route *r = req->match.route;
	bool user_get = req->method == GL_GET && r != NULL && r->roles != GL_ROLE_PUBLIC;
	char etag[128], cc[64], ct[128];
	bool tagged = header_value(text, head_len, "ETag", etag, sizeof(etag));

	FUZZ_CHECK(header_value(text, head_len, "Cache-Control", cc, sizeof(cc)));
	FUZZ_CHECK(tagged == (user_get && (req->status == 200 || req->status == 304)));
	FUZZ_CHECK(strcmp(cc, tagged ? "private, no-cache" : "no-store") == 0);
	if (tagged)
		FUZZ_CHECK(strlen(etag) == GL_ETAG_SIZE - 1 && etag[0] == '"' &&
		           strspn(etag + 1, "0123456789abcdef") == GL_ETAG_SIZE - 3 &&
		           etag[GL_ETAG_SIZE - 2] == '"');
	if (req->status == 304) {
		FUZZ_CHECK(gl_etag_none_match(gl_req_param(req, "HTTP_IF_NONE_MATCH"), etag));
		FUZZ_CHECK(!header_value(text, head_len, "Content-Type", ct, sizeof(ct)));
	} else if (tagged) {
		FUZZ_CHECK(!gl_etag_none_match(gl_req_param(req, "HTTP_IF_NONE_MATCH"), etag));
	}
}

/* The response: "Status: N\r\n", headers, an empty line, and a JSON body unless 204 or 304. */
static void
check_response(const struct fuzz_fcgi *f, const struct gl_req *req)
{
	size_t len, head_len;
	const unsigned char *out = fuzz_fcgi_output(f, &len);
	char *text = fuzz_strndup(out, len), *end, status[32];
	json_t *body, *e;

	if (getenv("FUZZ_VERBOSE") != NULL) /* writing seeds: see what one input does */
		fprintf(stderr, "%s\n", text);
	snprintf(status, sizeof(status), "Status: %d\r\n", req->status);
	FUZZ_CHECK(strncmp(text, status, strlen(status)) == 0);
	FUZZ_CHECK(req->status >= 200 && req->status < 500);
	end = strstr(text, "\r\n\r\n");
	FUZZ_CHECK(end != NULL);
	head_len = (size_t)(end - text) + 4;
	/* Headers are lines of printable text: nothing a client sent breaks them. */
	for (size_t i = 0; i < head_len; i++)
		FUZZ_CHECK(text[i] == '\r' || text[i] == '\n' ||
		           ((unsigned char)text[i] >= 0x20 && (unsigned char)text[i] < 0x7f));
	check_caching(text, head_len, req);
	if (req->status == 204 || req->status == 304) {
		FUZZ_CHECK(len == head_len);
	} else {
		body = json_loadb(text + head_len, len - head_len, 0, NULL);
		FUZZ_CHECK(body != NULL);
		if (req->status >= 400) {
			e = json_object_get(body, "error");
			FUZZ_CHECK(json_is_string(json_object_get(e, "code")));
			FUZZ_CHECK(json_is_string(json_object_get(e, "message")));
		}
		json_decref(body);
	}
	free(text);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct fuzz_fcgi f;
	struct gl_req req;
	struct gl_trace_span span;
	bool has_length = false;
	enum gl_err err;
	char n[24];

	fuzz_fcgi_init(&f);
	read_head(&f, &data, &size, &has_length);
	if (!has_length && size > 0) {
		snprintf(n, sizeof(n), "%zu", size);
		fuzz_fcgi_param(&f, "CONTENT_LENGTH", n);
	}
	fuzz_fcgi_body(&f, data, size);

	gl_req_begin(&req, &f.req);
	gl_trace_server_start(&span, &req);
	err = gl_dispatch(routes, &req);
	FUZZ_CHECK(gl_err_info(err)->status < 500);
	gl_req_finish(&req, err);
	gl_trace_server_end(&span, &req);
	check_response(&f, &req);
	FUZZ_CHECK(req.body == NULL && req.query == NULL && req.reply == NULL && req.raw == NULL);
	fuzz_fcgi_free(&f);
	return 0;
}
