/* The suppliers resource: its fields and handlers. */
#ifndef SUPPLIERS_H
#define SUPPLIERS_H

#include "req.h"
#include "valid.h"

extern const struct gl_field supplier_fields[];

enum gl_err supplier_create(struct gl_req *req);
enum gl_err supplier_list(struct gl_req *req);
enum gl_err supplier_get(struct gl_req *req);
enum gl_err supplier_update(struct gl_req *req);
enum gl_err supplier_delete(struct gl_req *req);

#endif
