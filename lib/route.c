#include <string.h>

#include "route.h"

static const char *const method_names[GL_METHOD__MAX] = {
	[GL_M_NONE] = "", [GL_GET] = "GET",     [GL_POST] = "POST",
	[GL_PUT] = "PUT", [GL_PATCH] = "PATCH", [GL_DELETE] = "DELETE",
};

const char *
gl_method_name(enum gl_method m)
{
	return (m > GL_M_NONE && m < GL_METHOD__MAX) ? method_names[m] : "";
}

enum gl_method
gl_method_parse(const char *s)
{
	if (s == NULL)
		return GL_M_NONE;
	if (strcmp(s, "HEAD") == 0)
		return GL_GET;
	for (int m = GL_GET; m < GL_METHOD__MAX; m++)
		if (strcmp(s, method_names[m]) == 0)
			return (enum gl_method)m;
	return GL_M_NONE;
}

static int
hex24(const char *s, size_t n)
{
	if (n != 24)
		return 0;
	for (size_t i = 0; i < n; i++)
		if (strchr("0123456789abcdefABCDEF", s[i]) == NULL || s[i] == '\0')
			return 0;
	return 1;
}

/*
 * 1: pattern matches path (captures filled), 0: no match, -1: matches in
 * shape but a capture is not an ObjectId.
 */
static int
match_one(const char *pat, const char *path, struct gl_match *m)
{
	int ncaps = 0, bad = 0;

	while (*pat != '\0' && *path != '\0') {
		if (*pat == '{') {
			const char *close = strchr(pat, '}');
			size_t n = strcspn(path, "/");
			if (close == NULL || ncaps == GL_ROUTE_CAPTURES || n == 0)
				return 0;
			if (!hex24(path, n)) {
				bad = 1;
			} else {
				m->caps[ncaps].name = pat + 1;
				m->caps[ncaps].name_len = (size_t)(close - pat - 1);
				memcpy(m->caps[ncaps].value, path, 24);
				m->caps[ncaps].value[24] = '\0';
				ncaps++;
			}
			pat = close + 1;
			path += n;
			continue;
		}
		if (*pat != *path)
			return 0;
		pat++;
		path++;
	}
	if (*pat != '\0' || *path != '\0')
		return 0;
	if (bad)
		return -1;
	m->ncaps = ncaps;
	return 1;
}

enum gl_err
gl_route_match(const struct gl_route *routes, enum gl_method method, const char *path,
               struct gl_match *m)
{
	const struct gl_route *r;
	struct gl_match probe;
	int shape_bad = 0;

	memset(m, 0, sizeof(*m));
	if (path == NULL)
		return GL_E_NOT_FOUND;
	for (r = routes; r->pattern != NULL; r++) {
		memset(&probe, 0, sizeof(probe));
		int k = match_one(r->pattern, path, &probe);
		if (k < 0) {
			shape_bad = 1;
			continue;
		}
		if (k == 0)
			continue;
		if (r->method == method) {
			probe.route = r;
			probe.allow = 0;
			*m = probe;
			return GL_OK;
		}
		m->allow |= 1u << r->method;
	}
	if (m->allow != 0)
		return GL_E_METHOD;
	if (shape_bad) {
		m->bad_capture = path;
		return GL_E_VALIDATION;
	}
	return GL_E_NOT_FOUND;
}
