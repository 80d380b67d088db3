#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "app.h"
#include "board.h"
#include "db.h"
#include "dispatch.h"
#include "json.h"
#include "metrics.h"
#include "redis.h"
#include "req.h"

/* The routes every service answers (gl_dispatch_routes). */
static enum gl_err
dispatch_healthz(struct gl_req *req)
{
	return gl_reply(req, 200, json_pack("{s:s}", "status", "ok"));
}

static enum gl_err
dispatch_metrics(struct gl_req *req)
{
	return gl_metrics_reply(req);
}

static enum gl_err
dispatch_readyz(struct gl_req *req)
{
	if (gl_db_ping() != GL_OK)
		return gl_fail(req, GL_E_UPSTREAM_DOWN, NULL, "mongodb is not answering");
	if (gl_redis_ping(GL_REDIS_CACHE) != 0)
		return gl_fail(req, GL_E_UPSTREAM_DOWN, NULL, "redis is not answering");
	if (gl_redis_ping(GL_REDIS_STORE) != 0)
		return gl_fail(req, GL_E_UPSTREAM_DOWN, NULL,
		               "the store (redis with the event streams) is not answering");
	return gl_reply(req, 200,
	                json_pack("{s:s, s:s, s:s, s:s}", "status", "ready", "mongodb", "ok",
	                          "redis", "ok", "store", "ok"));
}

void
gl_dispatch_drain(struct gl_req *req)
{
	char buf[8192];

	while (FCGX_GetStr(buf, sizeof(buf), req->fcgi->in) > 0)
		;
}

/* "application/json" with an optional "; charset=utf-8", any case. */
static int
content_type_ok(const char *ct)
{
	size_t n = strlen("application/json");
	const char *p;

	if (ct == NULL || strncasecmp(ct, "application/json", n) != 0)
		return 0;
	p = ct + n;
	while (*p == ' ' || *p == '\t')
		p++;
	if (*p == '\0')
		return 1;
	if (*p != ';')
		return 0;
	p++;
	while (*p == ' ' || *p == '\t')
		p++;
	return strcasecmp(p, "charset=utf-8") == 0 || strcasecmp(p, "charset=\"utf-8\"") == 0;
}

/* CONTENT_LENGTH as a number; -1 when absent or not a plain decimal. */
static long long
content_length(const struct gl_req *req)
{
	const char *s = gl_req_param(req, "CONTENT_LENGTH");
	long long n = 0;

	if (s == NULL || *s == '\0')
		return 0;
	if (strlen(s) > 12 || strspn(s, "0123456789") != strlen(s))
		return -1;
	for (; *s; s++)
		n = n * 10 + (*s - '0');
	return n;
}

static enum gl_err
dispatch_read_body(const struct gl_route *r, struct gl_req *req)
{
	struct gl_valid_fail fail;
	size_t cap = r->body_max ? r->body_max : GL_BODY_MAX_DEFAULT;
	long long len = content_length(req);
	char msg[200], *buf;
	enum gl_err err;
	int got;

	if (len < 0)
		return gl_fail(req, GL_E_VALIDATION, NULL, "Content-Length is not a number");
	if (r->body == NULL) {
		if (len > 0)
			return gl_fail(req, GL_E_VALIDATION, NULL, "this route takes no body");
		return GL_OK;
	}
	if (!content_type_ok(gl_req_param(req, "CONTENT_TYPE")))
		return gl_fail(req, GL_E_MEDIA_TYPE, NULL,
		               "send the body as Content-Type: application/json (UTF-8)");
	/* Checked before reading a byte: a large body costs us nothing. */
	if ((unsigned long long)len > cap)
		return gl_fail(req, GL_E_TOO_LARGE, NULL, "the body is larger than %zu bytes", cap);
	if (len == 0)
		return gl_fail(req, GL_E_INVALID_JSON, NULL, "a JSON object body is required");
	buf = malloc((size_t)len);
	if (buf == NULL)
		return GL_E_INTERNAL;
	got = FCGX_GetStr(buf, (int)len, req->fcgi->in);
	if (got != (int)len) {
		free(buf);
		return gl_fail(req, GL_E_INVALID_JSON, NULL,
		               "the body is shorter than Content-Length");
	}
	err = gl_json_parse_object(buf, (size_t)len, &req->body, msg, sizeof(msg));
	free(buf);
	if (err != GL_OK)
		return gl_fail(req, err, NULL, "%s", msg);
	if (gl_valid_object(r->body, req->body, (r->flags & GL_PARTIAL) != 0, &fail) != GL_OK)
		return gl_fail(req, GL_E_VALIDATION, fail.field, "%s %s",
		               fail.field[0] ? fail.field : "the body", fail.message);
	if ((r->flags & GL_PARTIAL) && json_object_size(req->body) == 0)
		return gl_fail(req, GL_E_VALIDATION, NULL, "the body names no field to change");
	return GL_OK;
}

enum gl_err
gl_dispatch(const struct gl_route *routes, struct gl_req *req)
{
	struct gl_valid_fail fail;
	const struct gl_route *r;
	enum gl_err err;

	err = gl_route_match(routes, req->method, req->path, &req->match);
	if (err == GL_E_NOT_FOUND)
		return gl_fail(req, err, NULL, "no such route");
	if (err == GL_E_METHOD)
		return gl_fail(req, err, NULL, "%s is not allowed here",
		               req->method ? gl_method_name(req->method) : "this method");
	if (err == GL_E_VALIDATION)
		return gl_fail(req, err, "id", "the id in the path must be 24 hex digits");
	if (err != GL_OK)
		return err;
	r = req->match.route;
	gl_board_route(gl_method_name(req->method), r->pattern);
	if (r->roles != GL_ROLE_PUBLIC && req->role == 0)
		return gl_fail(req, GL_E_UNAUTHENTICATED, NULL,
		               "sign in first: send Authorization: Bearer <token>");
	if (r->roles != GL_ROLE_PUBLIC && !gl_req_has_role(req, r->roles))
		return gl_fail(req, GL_E_FORBIDDEN, NULL, "your role may not do this");
	err = gl_valid_query(r->query, gl_req_param(req, "QUERY_STRING"), &req->query, &fail);
	if (err == GL_E_VALIDATION)
		return gl_fail(req, err, fail.field, "%s %s",
		               fail.field[0] ? fail.field : "the query", fail.message);
	if (err != GL_OK)
		return err;
	if ((err = dispatch_read_body(r, req)) != GL_OK)
		return err;
	return r->handler(req);
}

struct gl_route *
gl_dispatch_routes(const struct gl_service *svc)
{
	static char healthz[96], readyz[96];
	size_t n = 0;
	struct gl_route *all;

	while (svc->routes[n].pattern != NULL)
		n++;
	all = calloc(n + 4, sizeof(*all));
	if (all == NULL)
		return NULL;
	snprintf(healthz, sizeof(healthz), "/api/%s/healthz", svc->name);
	snprintf(readyz, sizeof(readyz), "/api/%s/readyz", svc->name);
	all[0] = (struct gl_route){ .method = GL_GET,
		                    .pattern = healthz,
		                    .handler = dispatch_healthz };
	all[1] = (struct gl_route){ .method = GL_GET,
		                    .pattern = readyz,
		                    .handler = dispatch_readyz };
	/* Every service's totals (metrics.h); nginx sends it here from its internal listener. */
	all[2] = (struct gl_route){ .method = GL_GET,
		                    .pattern = "/metrics",
		                    .handler = dispatch_metrics };
	memcpy(all + 3, svc->routes, n * sizeof(*all));
	return all;
}
