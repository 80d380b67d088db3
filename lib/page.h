/*
 * page: one page of a list, ?limit=1..200 (default 50) &after=<id>.
 *
 * The request layer reads it from a validated query (gl_req_page, req.h) and
 * db walks it (gl_db_list, db.h); its own header so that db need not include
 * req.h.  after is borrowed from the request's query.
 */
#ifndef GL_PAGE_H
#define GL_PAGE_H

#define GL_PAGE_LIMIT_MAX 200 /* ?limit= at most */

struct gl_page {
	int limit;
	const char *after; /* NULL or a validated 24-hex id, borrowed */
};

#endif
