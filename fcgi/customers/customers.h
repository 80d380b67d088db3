/* The customers resource: its fields, handlers, and the link to a user account. */
#ifndef CUSTOMERS_H
#define CUSTOMERS_H

#include "req.h"
#include "valid.h"

extern const struct gl_field customer_fields[];
extern const struct gl_field link_fields[];

enum gl_err customer_create(struct gl_req *req);
enum gl_err customer_list(struct gl_req *req);
enum gl_err customer_get(struct gl_req *req);
enum gl_err customer_update(struct gl_req *req);
enum gl_err customer_delete(struct gl_req *req);
enum gl_err customer_link(struct gl_req *req);

#endif
