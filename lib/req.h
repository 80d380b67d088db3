/*
 * req: one FastCGI request, from the params nginx sent to the one writer.
 *
 * The dispatcher (dispatch.c) fills a struct gl_req, checks everything the route
 * declares, and calls the handler with validated values only.  A handler
 * answers with gl_reply() (success) or returns an enum gl_err, usually via
 * gl_fail() for detail; gl_req_finish() alone writes the response, so every
 * error has the API's shape and every request is logged once.
 *
 * The writer also owns caching, for every route at once: a 200 to a GET of a
 * route that needs a caller carries an ETag (a digest of the body, etag.h)
 * and "Cache-Control: private, no-cache", and becomes a bodyless 304 when
 * If-None-Match holds that tag; every other answer is "Cache-Control:
 * no-store".  Since the 304 is decided on the handler's 200, every check the
 * handler makes (another customer's order is a 404) comes first.
 *
 * Ownership: body and query are owned by the request and freed at its end;
 * a handler borrows them.  gl_reply() and gl_reply_raw() steal what they
 * are given.  Params and captures are borrowed until the request ends.
 */
#ifndef GL_REQ_H
#define GL_REQ_H

#include <fcgiapp.h>
#include <jansson.h>
#include <stdbool.h>

#include "err.h"
#include "now.h"
#include "page.h"
#include "route.h"

struct gl_req {
	FCGX_Request *fcgi; /* borrowed from the app loop */
	enum gl_method method;
	const char *path; /* DOCUMENT_URI, normalised by nginx; borrowed */
	char request_id[64];
	/* The caller, as nginx's auth_request established it: empty / 0 when anonymous. */
	char user_id[25];
	unsigned role; /* one GL_ROLE_* bit, or 0 */
	struct gl_match match;
	json_t *body;  /* owned; the validated body, or NULL */
	json_t *query; /* owned; the validated query, typed; never NULL after dispatch */

	/* The answer, written by gl_req_finish(). */
	int status;    /* 304 once the writer found the client's copy current */
	json_t *reply; /* owned */
	char *raw;     /* owned; a ready body (a cache hit), sent instead of reply */
	size_t raw_len;
	const char *cache;        /* "hit", "miss" or NULL: the X-Cache header */
	const char *content_type; /* of raw, when it is not JSON (gl_reply_text); static */
	char location[128];
	char headers[512]; /* more "Name: value\r\n" lines, see gl_req_header() */
	enum gl_err err;
	bool shed; /* refused to shed load (app.c): its 503 is logged at info, not as a fault */
	char err_field[96];
	char err_message[256];
	long long started_us;
};

/* The standard query table of a list route (page.h). */
extern const struct gl_field gl_page_query[];

/* The value of capture name ("id"), or NULL; borrowed. */
const char *gl_req_capture(const struct gl_req *req, const char *name);
/* A FastCGI param (e.g. "HTTP_IF_MATCH"), or NULL; borrowed. */
const char *gl_req_param(const struct gl_req *req, const char *name);
/* Read ?limit and ?after from the validated query. */
void gl_req_page(const struct gl_req *req, struct gl_page *page);
/*
 * The If-Match version: 0 and *version = -1 when absent, 0 with the value
 * when it is a plain decimal 0..2^53, else GL_E_VALIDATION via gl_fail().
 */
enum gl_err gl_req_if_match(struct gl_req *req, long long *version)
        __attribute__((warn_unused_result));

/* Is the caller one of roles (a mask of GL_ROLE_*)?  An admin is every role. */
bool gl_req_has_role(const struct gl_req *req, unsigned roles);

/* May the caller see doc (borrowed)?  Staff see every one; a customer only its own, those
 * whose "user_id" is the caller's (anyone else's is answered as if there were none). */
bool gl_req_may_see(const struct gl_req *req, const json_t *doc);

/*
 * Add a response header.  Name and value come from the service, never raw
 * from a client; a value with a control character, or one that does not
 * fit, is dropped (and logged), and so are ETag and Cache-Control (the
 * writer's own).
 */
void gl_req_header(struct gl_req *req, const char *name, const char *value);

/* Answer with status and body (steals body; NULL body means 204). */
enum gl_err gl_reply(struct gl_req *req, int status, json_t *body);
/* Answer with status and a serialized JSON body (steals body, a malloc'd string). */
enum gl_err gl_reply_raw(struct gl_req *req, int status, char *body, size_t len);

/* Answer with status and a body that is not JSON (steals body, a malloc'd string); type is
 * its Content-Type, a static string. */
enum gl_err gl_reply_text(struct gl_req *req, int status, const char *type, char *body, size_t len);

/* Record why the request failed; returns err so handlers can `return gl_fail(…)`. */
enum gl_err gl_fail(struct gl_req *req, enum gl_err err, const char *field, const char *fmt, ...)
        __attribute__((format(printf, 4, 5)));

/* Internal to the request loop (app.c): set up from FastCGI params, write and log. */
void gl_req_begin(struct gl_req *req, FCGX_Request *fcgi);
void gl_req_finish(struct gl_req *req, enum gl_err err);

#endif
