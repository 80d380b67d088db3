/* galley-auth: users, sign-in tokens, and nginx's auth_request check (API.md, auth). */
#include "app.h"
#include "auth.h"

static const struct gl_route auth_routes[] = {
	{ GL_POST, "/api/auth/register", user_register, GL_ROLE_PUBLIC, register_fields },
	{ GL_POST, "/api/auth/login", session_login, GL_ROLE_PUBLIC, login_fields },
	{ GL_POST, "/api/auth/logout", session_logout, GL_ROLE_ANY },
	{ GL_GET, "/api/auth/me", user_me, GL_ROLE_ANY },
	{ GL_GET, "/api/auth/users", user_list, GL_ROLE_ADMIN, NULL, 0, gl_page_query },
	{ GL_PATCH, "/api/auth/users/{id}", user_set_role, GL_ROLE_ADMIN, role_fields },
	/* nginx only: the auth_request subrequest (never routed from outside). */
	{ GL_GET, "/_auth", session_check, GL_ROLE_PUBLIC },
	{ 0 },
};

int
main(void)
{
	static const struct gl_service svc = {
		.name = "auth",
		.routes = auth_routes,
		.init = auth_init,
	};

	return gl_app_main(&svc);
}
