/* Unit tests for lib/err.c: the error table of API.md. */
#include <string.h>

#include "../tap.h"
#include "err.h"

static void
test_every_row(void)
{
	for (int e = 0; e < GL_ERR__MAX; e++) {
		const struct gl_err_info *in = gl_err_info((enum gl_err)e);

		ok(in != NULL, "err %d has a row", e);
		if (in == NULL)
			continue;
		ok(in->status >= 200 && in->status <= 599, "err %d: status %d in 200..599", e,
		   in->status);
		ok(in->code != NULL && in->code[0] != '\0' &&
		           strspn(in->code, "abcdefghijklmnopqrstuvwxyz_") == strlen(in->code) &&
		           in->code[0] != '_' && in->code[strlen(in->code) - 1] != '_',
		   "err %d: code '%s' is snake_case", e, in->code ? in->code : "(null)");
		ok(in->message != NULL && in->message[0] != '\0', "err %d: a message", e);
		ok(e == GL_OK ? in->status == 200 : in->status >= 400,
		   "err %d: only GL_OK is a success (%d)", e, in->status);
	}

	/* codes are unique */
	for (int a = 0; a < GL_ERR__MAX; a++)
		for (int b = a + 1; b < GL_ERR__MAX; b++)
			ok(strcmp(gl_err_info((enum gl_err)a)->code,
			          gl_err_info((enum gl_err)b)->code) != 0,
			   "codes of %d and %d differ", a, b);
}

static void
test_api_codes(void)
{
	static const struct {
		enum gl_err err;
		int status;
		const char *code;
	} api[] = {
		{ GL_E_INVALID_JSON, 400, "invalid_json" },
		{ GL_E_VALIDATION, 400, "validation_failed" },
		{ GL_E_UNAUTHENTICATED, 401, "unauthenticated" },
		{ GL_E_PAYMENT_FAILED, 402, "payment_failed" },
		{ GL_E_FORBIDDEN, 403, "forbidden" },
		{ GL_E_NOT_FOUND, 404, "not_found" },
		{ GL_E_METHOD, 405, "method_not_allowed" },
		{ GL_E_CONFLICT, 409, "conflict" },
		{ GL_E_INSUFFICIENT_STOCK, 409, "insufficient_stock" },
		{ GL_E_TOO_LARGE, 413, "body_too_large" },
		{ GL_E_MEDIA_TYPE, 415, "unsupported_media_type" },
		{ GL_E_INVALID_STATE, 422, "invalid_state" },
		{ GL_E_RATE_LIMITED, 429, "rate_limited" },
		{ GL_E_INTERNAL, 500, "internal_error" },
	};
	static const struct {
		enum gl_err err;
		int status;
	} upstream[] = {
		{ GL_E_UPSTREAM_BAD, 502 },
		{ GL_E_UPSTREAM_DOWN, 503 },
		{ GL_E_UPSTREAM_TIMEOUT, 504 },
	};

	for (size_t i = 0; i < sizeof(api) / sizeof(api[0]); i++) {
		const struct gl_err_info *in = gl_err_info(api[i].err);
		ok(in->status == api[i].status, "%s: status %d (got %d)", api[i].code,
		   api[i].status, in->status);
		is_str(in->code, api[i].code, "err %d: code", (int)api[i].err);
	}
	for (size_t i = 0; i < sizeof(upstream) / sizeof(upstream[0]); i++) {
		const struct gl_err_info *in = gl_err_info(upstream[i].err);
		ok(in->status == upstream[i].status, "upstream err %d: status %d (got %d)",
		   (int)upstream[i].err, upstream[i].status, in->status);
		ok(strncmp(in->code, "upstream_", 9) == 0 && in->code[9] != '\0',
		   "upstream err %d: code '%s' is upstream_*", (int)upstream[i].err, in->code);
	}
	/* every 5xx other than internal_error is a dependency's fault */
	for (int e = 0; e < GL_ERR__MAX; e++) {
		const struct gl_err_info *in = gl_err_info((enum gl_err)e);
		if (in->status >= 500 && e != GL_E_INTERNAL)
			ok(strncmp(in->code, "upstream_", 9) == 0,
			   "5xx err %d is upstream_* ('%s')", e, in->code);
	}
}

static void
test_out_of_range(void)
{
	const int bad[] = { GL_ERR__MAX, GL_ERR__MAX + 1, 1000, -1, -1000 };

	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		const struct gl_err_info *in = gl_err_info((enum gl_err)bad[i]);
		ok(in != NULL && in->status == 500, "err %d -> 500", bad[i]);
		is_str(in != NULL ? in->code : NULL, "internal_error", "err %d -> internal_error",
		       bad[i]);
		ok(in == gl_err_info(GL_E_INTERNAL), "err %d -> the internal row", bad[i]);
	}
}

int
main(void)
{
	test_every_row();
	test_api_codes();
	test_out_of_range();
	return done_testing();
}
