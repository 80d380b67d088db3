/* galley-menu: the menu's items (API.md, menu). */
#include "app.h"
#include "items.h"

/* The largest valid item, every character escaped as a surrogate pair, is 21.3 KB
 * (tests/unit/fcgi/routes.c checks every table this way). */
#define ITEM_BODY_MAX 32768

static const struct gl_route menu_routes[] = {
	{ GL_GET, "/api/menu", menu_list, GL_ROLE_ANY },
	{ GL_GET, "/api/menu/items/{id}", item_get, GL_ROLE_ANY },
	{ GL_POST, "/api/menu/items", item_create, GL_ROLE_STAFF, item_fields, ITEM_BODY_MAX },
	{ GL_PATCH, "/api/menu/items/{id}", item_update, GL_ROLE_STAFF, item_fields, ITEM_BODY_MAX,
	  NULL, GL_PARTIAL },
	{ GL_DELETE, "/api/menu/items/{id}", item_delete, GL_ROLE_STAFF },
	{ 0 },
};

int
main(void)
{
	static const struct gl_service svc = { .name = "menu", .routes = menu_routes };

	return gl_app_main(&svc);
}
