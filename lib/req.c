#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "etag.h"
#include "json.h"
#include "log.h"
#include "metrics.h"
#include "req.h"

const struct gl_field gl_page_query[] = {
	{ .name = "limit", .type = GL_T_INT, .min = 1, .max = GL_PAGE_LIMIT_MAX },
	{ .name = "after", .type = GL_T_OID },
	{ 0 },
};

const char *
gl_req_param(const struct gl_req *req, const char *name)
{
	return FCGX_GetParam(name, req->fcgi->envp);
}

const char *
gl_req_capture(const struct gl_req *req, const char *name)
{
	size_t n = strlen(name);

	for (int i = 0; i < req->match.ncaps; i++)
		if (req->match.caps[i].name_len == n &&
		    memcmp(req->match.caps[i].name, name, n) == 0)
			return req->match.caps[i].value;
	return NULL;
}

void
gl_req_page(const struct gl_req *req, struct gl_page *page)
{
	json_t *v;

	page->limit = 50;
	page->after = NULL;
	if ((v = json_object_get(req->query, "limit")) != NULL)
		page->limit = (int)json_integer_value(v);
	if ((v = json_object_get(req->query, "after")) != NULL)
		page->after = json_string_value(v);
}

enum gl_err
gl_req_if_match(struct gl_req *req, long long *version)
{
	const char *s = gl_req_param(req, "HTTP_IF_MATCH");
	long long n = 0;
	size_t len;

	*version = -1;
	if (s == NULL)
		return GL_OK;
	/* Accept the bare number and its quoted ETag form "3". */
	len = strlen(s);
	if (len >= 2 && s[0] == '"' && s[len - 1] == '"') {
		s++;
		len -= 2;
	}
	if (len == 0 || len > 15)
		return gl_fail(req, GL_E_VALIDATION, "If-Match",
		               "must be a document version number");
	for (size_t i = 0; i < len; i++) {
		if (s[i] < '0' || s[i] > '9')
			return gl_fail(req, GL_E_VALIDATION, "If-Match",
			               "must be a document version number");
		n = n * 10 + (s[i] - '0');
	}
	*version = n;
	return GL_OK;
}

enum gl_err
gl_reply(struct gl_req *req, int status, json_t *body)
{
	json_decref(req->reply);
	req->reply = body;
	req->status = status;
	return GL_OK;
}

enum gl_err
gl_reply_raw(struct gl_req *req, int status, char *body, size_t len)
{
	free(req->raw);
	req->raw = body;
	req->raw_len = len;
	req->status = status;
	return GL_OK;
}

enum gl_err
gl_reply_text(struct gl_req *req, int status, const char *type, char *body, size_t len)
{
	req->content_type = type;
	return gl_reply_raw(req, status, body, len);
}

enum gl_err
gl_fail(struct gl_req *req, enum gl_err err, const char *field, const char *fmt, ...)
{
	va_list ap;

	req->err = err;
	snprintf(req->err_field, sizeof(req->err_field), "%s", field != NULL ? field : "");
	req->err_message[0] = '\0';
	if (fmt != NULL) {
		va_start(ap, fmt);
		vsnprintf(req->err_message, sizeof(req->err_message), fmt, ap);
		va_end(ap);
		/* A message may quote a client's text (an item's name): never half a character. */
		gl_valid_utf8_cut(req->err_message);
	}
	return err;
}

/* nginx sends a request id of hex digits; anything else is replaced, never reflected. */
static void
req_set_id(struct gl_req *req)
{
	const char *s = gl_req_param(req, "GALLEY_REQUEST_ID");
	size_t n = s != NULL ? strlen(s) : 0;

	if (n > 0 && n < sizeof(req->request_id) && strspn(s, "0123456789abcdef-") == n) {
		memcpy(req->request_id, s, n + 1);
		return;
	}
	snprintf(req->request_id, sizeof(req->request_id), "%08x%08x", (unsigned)random(),
	         (unsigned)random());
}

bool
gl_req_has_role(const struct gl_req *req, unsigned roles)
{
	return req->role != 0 && ((req->role & roles) != 0 || req->role == GL_ROLE_ADMIN);
}

bool
gl_req_may_see(const struct gl_req *req, const json_t *doc)
{
	const char *owner = json_string_value(json_object_get(doc, "user_id"));

	if (gl_req_has_role(req, GL_ROLE_STAFF))
		return true;
	return gl_req_has_role(req, GL_ROLE_ANY) && owner != NULL && req->user_id[0] != '\0' &&
	       strcmp(owner, req->user_id) == 0;
}

void
gl_req_header(struct gl_req *req, const char *name, const char *value)
{
	size_t used = strlen(req->headers);
	int n;

	/* The writer alone decides these (gl_req_finish): one policy, never two copies. */
	if (strcasecmp(name, "ETag") == 0 || strcasecmp(name, "Cache-Control") == 0) {
		gl_log(GL_LOG_ERROR, req->request_id, "header %s: set by the writer only", name);
		return;
	}
	for (const char *p = value; *p != '\0'; p++)
		if ((unsigned char)*p < 0x20 || *p == 0x7f) {
			gl_log(GL_LOG_ERROR, req->request_id,
			       "header %s: refused a control character", name);
			return;
		}
	n = snprintf(req->headers + used, sizeof(req->headers) - used, "%s: %s\r\n", name, value);
	if (n < 0 || (size_t)n >= sizeof(req->headers) - used) {
		req->headers[used] = '\0';
		gl_log(GL_LOG_ERROR, req->request_id, "header %s: no room", name);
	}
}

/* nginx passes the identity it checked; anything malformed is no identity at all. */
static void
req_set_caller(struct gl_req *req)
{
	const char *id = gl_req_param(req, "HTTP_X_USER_ID");
	const char *role = gl_req_param(req, "HTTP_X_USER_ROLE");

	if (id == NULL || role == NULL || strlen(id) != 24 || strspn(id, "0123456789abcdef") != 24)
		return;
	if (strcmp(role, "customer") == 0)
		req->role = GL_ROLE_CUSTOMER;
	else if (strcmp(role, "staff") == 0)
		req->role = GL_ROLE_STAFF;
	else if (strcmp(role, "admin") == 0)
		req->role = GL_ROLE_ADMIN;
	else
		return;
	memcpy(req->user_id, id, 25);
}

void
gl_req_begin(struct gl_req *req, FCGX_Request *fcgi)
{
	memset(req, 0, sizeof(*req));
	req->fcgi = fcgi;
	req->started_us = gl_now_us();
	req->method = gl_method_parse(gl_req_param(req, "REQUEST_METHOD"));
	req->path = gl_req_param(req, "DOCUMENT_URI");
	req_set_id(req);
	req_set_caller(req);
}

static int
put_json(const char *buf, size_t size, void *data)
{
	return FCGX_PutStr(buf, (int)size, (FCGX_Stream *)data) < 0 ? -1 : 0;
}

/* Copy a client path into a log-safe form: printable ASCII, bounded. */
static void
log_path(char *dst, size_t size, const char *path)
{
	size_t o = 0;

	for (; path != NULL && *path != '\0' && o + 4 < size; path++) {
		unsigned char c = (unsigned char)*path;
		if (c >= 0x20 && c < 0x7f && c != '"' && c != '\\')
			dst[o++] = (char)c;
		else
			o += (size_t)snprintf(dst + o, size - o, "%%%02X", c);
	}
	dst[o] = '\0';
}

/*
 * Tag the answer (etag.h) when it is a 200 to a GET (or HEAD) of a route that needs a
 * caller, i.e. user data that passed the route's and the handler's authorization: a
 * 304 can only stand in for a 200 that caller would have got.  A reply is serialized
 * into req->raw first (the bytes json_dump_callback would stream, with the same
 * flags), so the tag is the digest of the very bytes sent.  False (no tag, the body
 * streamed as before) for anything else, or when memory runs out.
 */
static bool
req_tag(struct gl_req *req, enum gl_err err, char etag[GL_ETAG_SIZE])
{
	if (err != GL_OK || req->status != 200 || req->method != GL_GET ||
	    req->match.route == NULL || req->match.route->roles == GL_ROLE_PUBLIC)
		return false;
	if (req->raw == NULL && req->reply != NULL) {
		if ((req->raw = gl_json_dump_new(req->reply)) == NULL)
			return false;
		req->raw_len = strlen(req->raw);
	}
	if (req->raw == NULL)
		return false;
	gl_etag_of(etag, req->raw, req->raw_len);
	return true;
}

/* Replace whatever answer req had by err's, in the API's error shape. */
static void
req_error_reply(struct gl_req *req, enum gl_err err)
{
	const struct gl_err_info *info = gl_err_info(err);
	json_t *ebody;

	req->status = info->status;
	json_decref(req->reply);
	free(req->raw);
	req->raw = NULL;
	req->cache = NULL;
	req->content_type = NULL;
	ebody = json_pack("{s:s, s:s}", "code", info->code, "message",
	                  req->err_message[0] && req->err != GL_OK && req->err == err
	                          ? req->err_message
	                          : info->message);
	if (ebody == NULL) /* a message that is not UTF-8: the code's own, never no error */
		ebody = json_pack("{s:s, s:s}", "code", info->code, "message", info->message);
	if (ebody != NULL && req->err == err && req->err_field[0] != '\0')
		json_object_set_new(ebody, "field", json_string(req->err_field));
	req->reply = json_pack("{s:o*}", "error", ebody);
	/* A 5xx is a fault to look into, unless the service chose it to shed load: then it is
	 * policy, one line in hundreds a second under a burst, and logged at info as nginx's
	 * own refusals are (nginx.conf.in, limit_conn_log_level). */
	if (info->status >= 500)
		gl_log(req->shed ? GL_LOG_INFO : GL_LOG_ERROR, req->request_id, "%s: %s",
		       info->code, req->err_message[0] ? req->err_message : info->message);
}

/* The Allow header of a 405: the route's methods, HEAD with GET. */
static void
req_write_allow(struct gl_req *req)
{
	char allow[64] = "";

	for (int m = GL_GET; m < GL_METHOD__MAX; m++)
		if (req->match.allow & (1u << m)) {
			if (allow[0] != '\0')
				strcat(allow, ", ");
			strcat(allow, gl_method_name((enum gl_method)m));
			if (m == GL_GET)
				strcat(allow, ", HEAD");
		}
	FCGX_FPrintF(req->fcgi->out, "Allow: %s\r\n", allow);
}

/* The status line and headers; etag is the answer's tag when tagged. */
static void
req_write_head(struct gl_req *req, enum gl_err err, bool tagged, const char *etag, bool bodyless)
{
	FCGX_Stream *out = req->fcgi->out;

	FCGX_FPrintF(out, "Status: %d\r\n", req->status);
	if (!bodyless)
		FCGX_FPrintF(out, "Content-Type: %s\r\n",
		             req->content_type != NULL ? req->content_type : "application/json");
	/*
	 * Cache-Control, for every answer, decided here alone.  A tagged answer is user
	 * data: "private" keeps it out of shared caches, "no-cache" lets the browser keep
	 * it but ask again each time with If-None-Match, so it is never stale.  Everything
	 * else is "no-store": writes (the tokens login and register answer with among
	 * them), errors (a 404 must not outlive the thing's creation), the health probes.
	 */
	FCGX_FPrintF(out, "Cache-Control: %s\r\n", tagged ? "private, no-cache" : "no-store");
	if (tagged)
		FCGX_FPrintF(out, "ETag: %s\r\n", etag);
	if (req->cache != NULL)
		FCGX_FPrintF(out, "X-Cache: %s\r\n", req->cache);
	if (req->location[0] != '\0')
		FCGX_FPrintF(out, "Location: %s\r\n", req->location);
	/* A 503 is "a dependency is away for now" (a restart, a failover): when to try again,
	 * as nginx's own 503s say it (errors.conf). */
	if (req->status == 503 && strstr(req->headers, "Retry-After:") == NULL)
		FCGX_PutS("Retry-After: 1\r\n", out);
	if (req->headers[0] != '\0')
		FCGX_PutS(req->headers, out);
	if (err == GL_E_METHOD && req->match.allow != 0)
		req_write_allow(req);
	FCGX_PutS("\r\n", out);
}

/* Count the request for metrics and log its one line. */
static void
req_log(const struct gl_req *req)
{
	const char *method = req->method ? gl_method_name(req->method) : "?";
	long long us = gl_now_us() - req->started_us;
	char path[256];

	gl_metrics_request(req->match.route != NULL ? req->match.route->pattern : "unmatched",
	                   method, req->status, us);
	log_path(path, sizeof(path), req->path);
	gl_log_fields(GL_LOG_INFO, req->request_id,
	              json_pack("{s:s, s:s, s:i, s:I, s:s*}", "method", method, "path", path,
	                        "status", req->status, "us", us, "cache", req->cache));
}

void
gl_req_finish(struct gl_req *req, enum gl_err err)
{
	FCGX_Stream *out = req->fcgi->out;
	char etag[GL_ETAG_SIZE];
	bool tagged, bodyless;

	if (err == GL_OK && req->status == 0)
		err = gl_fail(req, GL_E_INTERNAL, NULL, "the handler gave no answer");
	if (err != GL_OK)
		req_error_reply(req, err);
	/* nginx passes every request header as HTTP_* (fastcgi_pass_request_headers is on). */
	tagged = req_tag(req, err, etag);
	if (tagged && gl_etag_none_match(gl_req_param(req, "HTTP_IF_NONE_MATCH"), etag))
		req->status = 304; /* what the client holds is what we would send */
	bodyless = req->status == 204 || req->status == 304;
	req_write_head(req, err, tagged, etag, bodyless);
	if (!bodyless) {
		if (req->raw != NULL)
			FCGX_PutStr(req->raw, (int)req->raw_len, out);
		else if (req->reply != NULL)
			json_dump_callback(req->reply, put_json, out,
			                   JSON_COMPACT | JSON_PRESERVE_ORDER);
		FCGX_PutS("\n", out);
	}
	req_log(req);

	json_decref(req->body);
	json_decref(req->query);
	json_decref(req->reply);
	free(req->raw);
	req->body = req->query = req->reply = NULL;
	req->raw = NULL;
}
