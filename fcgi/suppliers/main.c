/* galley-suppliers: the suppliers the menu buys from (API.md, suppliers). */
#include "app.h"
#include "suppliers.h"

static const struct gl_route suppliers_routes[] = {
	{ GL_POST, "/api/suppliers", supplier_create, GL_ROLE_STAFF, supplier_fields },
	{ GL_GET, "/api/suppliers", supplier_list, GL_ROLE_STAFF, NULL, 0, gl_page_query },
	{ GL_GET, "/api/suppliers/{id}", supplier_get, GL_ROLE_STAFF },
	{ GL_PATCH, "/api/suppliers/{id}", supplier_update, GL_ROLE_STAFF, supplier_fields, 0, NULL,
	  GL_PARTIAL },
	{ GL_DELETE, "/api/suppliers/{id}", supplier_delete, GL_ROLE_STAFF },
	{ 0 },
};

int
main(void)
{
	static const struct gl_service svc = { .name = "suppliers", .routes = suppliers_routes };

	return gl_app_main(&svc);
}
