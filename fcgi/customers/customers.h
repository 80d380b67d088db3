/* The customers resource: its fields, handlers, and the link to a user account. */
#ifndef CUSTOMERS_H
#define CUSTOMERS_H

#include "req.h"
#include "valid.h"

/* Invitations (customers.c): a code of 40 hex digits, a selector then a secret. */
#define INVITE_CODE_HEX     40
#define INVITE_SELECTOR_HEX 16
#define INVITE_TTL          (7 * 24 * 3600) /* seconds an invitation holds */
#define INVITE_TRIES        5               /* wrong secrets before it is dead */

extern const struct gl_field customer_fields[];
extern const struct gl_field link_fields[];

enum gl_err customer_create(struct gl_req *req);
enum gl_err customer_list(struct gl_req *req);
enum gl_err customer_get(struct gl_req *req);
enum gl_err customer_update(struct gl_req *req);
enum gl_err customer_delete(struct gl_req *req);
enum gl_err customer_link(struct gl_req *req);
/* Staff: a one-time invitation code that links the record to the account registering
 * with it (POST /api/customers/{id}/invitations). */
enum gl_err customer_invite(struct gl_req *req);

#endif
