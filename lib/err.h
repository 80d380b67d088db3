/*
 * err: the error model of API.md.
 *
 * Every failure in galley travels as an enum gl_err value back to the one
 * writer (req.c), which turns it into the HTTP status and the body
 * {"error":{"code","message","field"}}.  The table in err.c is the only
 * place that knows the mapping.  Errors are sorted by blame: client faults
 * are 4xx, a dependency's fault is 502/503/504, only a bug is 500.
 */
#ifndef GL_ERR_H
#define GL_ERR_H

enum gl_err {
	GL_OK = 0,
	GL_E_INVALID_JSON,       /* 400 */
	GL_E_VALIDATION,         /* 400 */
	GL_E_UNAUTHENTICATED,    /* 401 */
	GL_E_PAYMENT_FAILED,     /* 402 */
	GL_E_FORBIDDEN,          /* 403 */
	GL_E_NOT_FOUND,          /* 404 */
	GL_E_METHOD,             /* 405 */
	GL_E_CONFLICT,           /* 409 */
	GL_E_INSUFFICIENT_STOCK, /* 409 */
	GL_E_TOO_LARGE,          /* 413 */
	GL_E_MEDIA_TYPE,         /* 415 */
	GL_E_INVALID_STATE,      /* 422 */
	GL_E_RATE_LIMITED,       /* 429 */
	GL_E_INTERNAL,           /* 500: a bug, never a client's doing */
	GL_E_UPSTREAM_BAD,       /* 502: a dependency answered nonsense */
	GL_E_UPSTREAM_DOWN,      /* 503: a dependency is unreachable */
	GL_E_UPSTREAM_TIMEOUT,   /* 504: a dependency is too slow */
	GL_ERR__MAX
};

struct gl_err_info {
	int status;
	const char *code;
	const char *message; /* used when the failing site gives none */
};

/* The row for err (borrowed, static); out-of-range values map to internal. */
const struct gl_err_info *gl_err_info(enum gl_err err);

#endif
