/*
 * A request made of memory for the unit tests of the request layer (req.c, dispatch.c): the
 * params nginx would pass, a body, and the whole answer gl_req_finish() wrote, as text.  The
 * in-memory FastCGI request is the fuzzers' (tests/fuzz/fuzz.h): a test using this header
 * links tests/fuzz/fuzz.c too.
 */
#ifndef GL_UNIT_FAKE_H
#define GL_UNIT_FAKE_H

#include <stdarg.h>
#include <string.h>

#include "../fuzz/fuzz.h"
#include "req.h"

/* Start req on f: body (NULL: none) and the params, "NAME=value" strings up to a NULL. */
static inline void
fake_beginv(struct fuzz_fcgi *f, struct gl_req *req, const char *body, va_list ap)
{
	const char *p, *eq;
	char name[64];

	fuzz_fcgi_init(f);
	while ((p = va_arg(ap, const char *)) != NULL) {
		eq = strchr(p, '=');
		FUZZ_CHECK(eq != NULL && (size_t)(eq - p) < sizeof(name));
		snprintf(name, sizeof(name), "%.*s", (int)(eq - p), p);
		fuzz_fcgi_param(f, name, eq + 1);
	}
	if (body != NULL)
		fuzz_fcgi_body(f, (const uint8_t *)body, strlen(body));
	gl_req_begin(req, &f->req);
}

static inline void
fake_begin(struct fuzz_fcgi *f, struct gl_req *req, const char *body, ...)
{
	va_list ap;

	va_start(ap, body);
	fake_beginv(f, req, body, ap);
	va_end(ap);
}

/* End the request with err: what was written, whole (new: free() it); f is freed. */
static inline char *
fake_finish(struct fuzz_fcgi *f, struct gl_req *req, enum gl_err err)
{
	const unsigned char *out;
	size_t len;
	char *text;

	gl_req_finish(req, err);
	out = fuzz_fcgi_output(f, &len);
	text = fuzz_strndup(out, len);
	fuzz_fcgi_free(f);
	return text;
}

/* The head of a JSON answer that is not cached (req.h), up to the empty line. */
#define FAKE_JSON(status)                                                                          \
	"Status: " status "\r\nContent-Type: application/json\r\nCache-Control: no-store\r\n"

#endif
