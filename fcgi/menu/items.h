/* Menu items: their fields, handlers and rules. */
#ifndef ITEMS_H
#define ITEMS_H

#include "req.h"
#include "valid.h"

/* At most this many available items are served by GET /api/menu. */
#define MENU_MAX_ITEMS 500

extern const struct gl_field item_fields[];

enum gl_err menu_list(struct gl_req *req);
enum gl_err item_get(struct gl_req *req);
enum gl_err item_create(struct gl_req *req);
enum gl_err item_update(struct gl_req *req);
enum gl_err item_delete(struct gl_req *req);

#endif
