#include "err.h"

static const struct gl_err_info gl_errs[GL_ERR__MAX] = {
	[GL_OK] = { 200, "ok", "ok" },
	[GL_E_INVALID_JSON] = { 400, "invalid_json", "the body is not valid JSON" },
	[GL_E_VALIDATION] = { 400, "validation_failed", "the request is not valid" },
	[GL_E_UNAUTHENTICATED] = { 401, "unauthenticated", "sign in first" },
	[GL_E_PAYMENT_FAILED] = { 402, "payment_failed", "the payment was declined" },
	[GL_E_FORBIDDEN] = { 403, "forbidden", "your role may not do this" },
	[GL_E_NOT_FOUND] = { 404, "not_found", "no such resource" },
	[GL_E_METHOD] = { 405, "method_not_allowed", "this method is not allowed here" },
	[GL_E_CONFLICT] = { 409, "conflict", "this conflicts with the current state" },
	[GL_E_INSUFFICIENT_STOCK] = { 409, "insufficient_stock", "not enough stock" },
	[GL_E_TOO_LARGE] = { 413, "body_too_large", "the body is too large" },
	[GL_E_MEDIA_TYPE] = { 415, "unsupported_media_type",
	                      "send Content-Type: application/json" },
	[GL_E_INVALID_STATE] = { 422, "invalid_state", "not possible in the current state" },
	[GL_E_RATE_LIMITED] = { 429, "rate_limited", "too many requests, try again later" },
	[GL_E_INTERNAL] = { 500, "internal_error", "an internal error occurred" },
	[GL_E_UPSTREAM_BAD] = { 502, "upstream_error", "a dependency answered badly" },
	[GL_E_UPSTREAM_DOWN] = { 503, "upstream_unavailable", "a dependency is unavailable" },
	[GL_E_UPSTREAM_TIMEOUT] = { 504, "upstream_timeout",
	                            "a dependency did not answer in time" },
};

const struct gl_err_info *
gl_err_info(enum gl_err err)
{
	if ((int)err < 0 || err >= GL_ERR__MAX)
		err = GL_E_INTERNAL;
	return &gl_errs[err];
}
