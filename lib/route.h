/*
 * route: the route table and its matcher.
 *
 * A service declares its routes as data (like nginx's directives and redis's
 * commands): method, path pattern, handler, roles, body and query shapes.
 * Patterns are literal segments and {name} captures; every capture is an
 * ObjectId (the API addresses everything by id), checked by the matcher.
 */
#ifndef GL_ROUTE_H
#define GL_ROUTE_H

#include <stddef.h>

#include "err.h"
#include "valid.h"

struct gl_req;

enum gl_method { GL_M_NONE, GL_GET, GL_POST, GL_PUT, GL_PATCH, GL_DELETE, GL_METHOD__MAX };

/*
 * Who may call a route (a mask).  GL_ROLE_PUBLIC routes are open to anyone;
 * any other mask needs a signed-in caller (else 401) of one of its roles
 * (else 403).  An admin may call every route.
 */
#define GL_ROLE_PUBLIC   0x0u
#define GL_ROLE_CUSTOMER 0x1u
#define GL_ROLE_STAFF    0x2u
#define GL_ROLE_ADMIN    0x4u
#define GL_ROLE_ANY      (GL_ROLE_CUSTOMER | GL_ROLE_STAFF | GL_ROLE_ADMIN)

/* Route flags. */
#define GL_PARTIAL 0x1u /* body fields are all optional (PATCH) */

#define GL_ROUTE_CAPTURES   2
#define GL_BODY_MAX_DEFAULT 16384

typedef enum gl_err (*gl_handler)(struct gl_req *req);

struct gl_route {
	enum gl_method method;
	const char *pattern;
	gl_handler handler;
	unsigned roles;
	const struct gl_field *body;  /* NULL: the route takes no body */
	size_t body_max;              /* bytes; 0 means GL_BODY_MAX_DEFAULT */
	const struct gl_field *query; /* NULL: no query parameter is allowed */
	unsigned flags;
};

struct gl_capture {
	const char *name; /* borrowed from the pattern */
	size_t name_len;
	char value[25];
};

struct gl_match {
	const struct gl_route *route; /* NULL when nothing matched */
	struct gl_capture caps[GL_ROUTE_CAPTURES];
	int ncaps;
	unsigned allow;          /* when the path matched but not the method: 1u << method */
	const char *bad_capture; /* a path that matched but held a malformed id */
};

/*
 * Match method and path against routes (terminated by a zero row).
 * Returns GL_OK with m->route set, GL_E_NOT_FOUND, GL_E_METHOD (m->allow
 * says which methods would do), or GL_E_VALIDATION for a malformed id.
 */
enum gl_err gl_route_match(const struct gl_route *routes, enum gl_method method, const char *path,
                           struct gl_match *m) __attribute__((warn_unused_result));

/* "GET", "POST"… for a method (static). */
const char *gl_method_name(enum gl_method m);
/* The method for a REQUEST_METHOD string; HEAD is GET; GL_M_NONE if unknown. */
enum gl_method gl_method_parse(const char *s);

#endif
