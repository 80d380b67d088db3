/*
 * http: outbound calls with libcurl: to other services through nginx's
 * internal listener (gl_conf.internal_url), and to outside APIs (the
 * payment provider) with gl_http_post_form.
 *
 * One easy handle per thread, reused so connections stay warm; connect
 * and total timeouts on every call; http and https only; the answer is
 * read into a buffer capped at GL_HTTP_MAX_BODY.  A failure is sorted by
 * blame: unreachable is GL_E_UPSTREAM_DOWN, too slow GL_E_UPSTREAM_TIMEOUT,
 * a 5xx or a body that is too big GL_E_UPSTREAM_BAD.  Idempotent calls
 * (GET) are tried up to three times, with exponential backoff and jitter,
 * when the target was unreachable; a POST is tried once.  A circuit breaker
 * per target service (breaker.h) makes calls to a target that keeps failing
 * answer GL_E_UPSTREAM_DOWN at once.  The caller's request id travels along as X-Request-Id,
 * and the caller's identity as X-User-Id / X-User-Role, so the called
 * service applies its role rules to the user on whose behalf we ask.
 */
#ifndef GL_HTTP_H
#define GL_HTTP_H

#include <jansson.h>

#include "err.h"

#define GL_HTTP_MAX_BODY (1024 * 1024)

/*
 * GET internal_url + path.  On GL_OK, *status is the HTTP status (any
 * 2xx/4xx) and *body, when body is not NULL, the parsed JSON answer (new)
 * or NULL if it was not JSON.
 */
struct gl_req;

/* req (borrowed, may be NULL for work done on no one's behalf) gives the id and caller. */
enum gl_err gl_http_get(const struct gl_req *req, const char *path, long *status, json_t **body)
        __attribute__((warn_unused_result));

/* POST in (borrowed; NULL: no body) as JSON to internal_url + path; results as for
 * gl_http_get.  Never retried. */
enum gl_err gl_http_post(const struct gl_req *req, const char *path, const json_t *in, long *status,
                         json_t **body) __attribute__((warn_unused_result));

/* The same with the JSON already written out: text (borrowed, NUL-terminated). */
enum gl_err gl_http_post_text(const struct gl_req *req, const char *path, const char *text,
                              long *status, json_t **body) __attribute__((warn_unused_result));

/*
 * A call to an outside API (the payment provider): a form POST to an
 * absolute URL with a secret key, no caller identity, its own timeout and
 * its own breaker.  All strings are borrowed.
 */
struct gl_http_form {
	const char *target; /* names the breaker, e.g. "provider" */
	const char *url;    /* absolute http(s) URL */
	const char *key;    /* sent as Authorization: Bearer; never logged */
	const char *idem;   /* Idempotency-Key, or NULL */
	const char *form;   /* application/x-www-form-urlencoded body ("" for none) */
	long timeout_ms;    /* connect and total; 0: GALLEY_HTTP_TIMEOUT_MS */
};

/* POST f; results as for gl_http_get.  Never retried here. */
enum gl_err gl_http_post_form(const struct gl_req *req, const struct gl_http_form *f, long *status,
                              json_t **body) __attribute__((warn_unused_result));

/* Append name=value (value URL-encoded) to the form in form[size]: 0, or -1 when it does not
 * fit (form is then unchanged). */
int gl_http_form_add(char *form, size_t size, const char *name, const char *value)
        __attribute__((warn_unused_result));

/*
 * GET internal_url + path as plain text, with no caller, retry or breaker (nginx's own
 * status page).  On GL_OK *text is the body, NUL-terminated (free() it).
 */
enum gl_err gl_http_get_text(const char *path, long *status, char **text)
        __attribute__((warn_unused_result));

/*
 * Every nginx's internal listener, to ask each the same thing (a purge of its auth cache):
 * GALLEY_NGINX_PEERS, a host:port whose every address is one nginx (in Kubernetes a headless
 * Service), or when it is unset the internal URL alone. Fills urls[0..max) with base URLs
 * ("http://10.0.0.7:8081", no trailing slash) and returns how many, 0 when the name did not
 * resolve.
 */
#define GL_HTTP_PEERS_MAX 16
#define GL_HTTP_URL_MAX   128
int gl_http_peers(char urls[][GL_HTTP_URL_MAX], int max);

/* gl_http_get_text against base (one of gl_http_peers's URLs) instead of the internal URL. */
enum gl_err gl_http_get_text_at(const char *base, const char *path, long *status, char **text)
        __attribute__((warn_unused_result));
void gl_http_close(void);

#endif
