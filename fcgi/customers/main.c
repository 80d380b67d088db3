/* galley-customers: the people who order (API.md, customers). */
#include "app.h"
#include "customers.h"

static const struct gl_route customers_routes[] = {
	{ GL_POST, "/api/customers", customer_create, GL_ROLE_STAFF, customer_fields },
	{ GL_GET, "/api/customers", customer_list, GL_ROLE_STAFF | GL_ROLE_CUSTOMER, NULL, 0,
	  gl_page_query },
	{ GL_GET, "/api/customers/{id}", customer_get, GL_ROLE_STAFF | GL_ROLE_CUSTOMER },
	{ GL_PATCH, "/api/customers/{id}", customer_update, GL_ROLE_STAFF, customer_fields, 0, NULL,
	  GL_PARTIAL },
	{ GL_DELETE, "/api/customers/{id}", customer_delete, GL_ROLE_STAFF },
	{ GL_POST, "/api/customers/{id}/invitations", customer_invite, GL_ROLE_STAFF },
	/* Other services only: nginx routes /internal/ on its loopback listener alone. */
	{ GL_POST, "/internal/customers/link", customer_link, GL_ROLE_PUBLIC, link_fields },
	{ 0 },
};

int
main(void)
{
	static const struct gl_service svc = { .name = "customers", .routes = customers_routes };

	return gl_app_main(&svc);
}
