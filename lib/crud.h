/*
 * crud: the five routes of a plain resource (create, list, get, patch,
 * delete) over one collection, with the cache rules of DESIGN.md: reads by
 * id go through the cache, and every write drops the cached copies before
 * the response is sent.  A service keeps its domain rules (defaults,
 * cross-service checks) in its own handlers and calls these for the rest.
 *
 * Every stored document has _id, the table's fields, and version (starting
 * at 1, bumped by every change).  req->body must have been validated
 * against the resource's field table.
 */
#ifndef GL_CRUD_H
#define GL_CRUD_H

#include <bson/bson.h>

#include "req.h"
#include "valid.h"

struct gl_crud {
	const char *coll;              /* the collection */
	const char *what;              /* names the cache keys: galley:<service>:<what>:<id> */
	const struct gl_field *fields; /* the document's fields, in stored order */
	const char *const *also_drop;  /* more cache keys any write makes stale, NULL-terminated */
	const char *conflict;          /* the message when a unique index refuses a write */
	/* A field stored as null by create (NULL: none), so that a unique index over it
	 * sees one value on every MongoDB-wire server (FerretDB takes absent ones as
	 * distinct, MongoDB as null). */
	const char *create_null;
};

/* 201 with the new document built from req->body. */
enum gl_err gl_crud_create(struct gl_req *req, const struct gl_crud *c)
        __attribute__((warn_unused_result));
/* 200 with the document named by the path's {id}, through the cache. */
enum gl_err gl_crud_get(struct gl_req *req, const struct gl_crud *c)
        __attribute__((warn_unused_result));
/* 200 with a page of documents matching filter (borrowed, may be NULL). */
enum gl_err gl_crud_list(struct gl_req *req, const struct gl_crud *c, const bson_t *filter)
        __attribute__((warn_unused_result));
/* 200 with the document after applying req->body (If-Match honoured). */
enum gl_err gl_crud_update(struct gl_req *req, const struct gl_crud *c)
        __attribute__((warn_unused_result));
/* 204 after deleting the document. */
enum gl_err gl_crud_delete(struct gl_req *req, const struct gl_crud *c)
        __attribute__((warn_unused_result));

/* Drop the cached copies of id (NULL: only also_drop). */
void gl_crud_drop_cache(const struct gl_crud *c, const char *id);

#endif
