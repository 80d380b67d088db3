#include <ctype.h>
#include <string.h>

#include "crud.h"
#include "suppliers.h"

static const char *
phone_check(const char *s)
{
	if (strspn(s, "+0123456789 -()/.") != strlen(s))
		return "may hold only digits, spaces and + - ( ) / .";
	return NULL;
}

const struct gl_field supplier_fields[] = {
	{ "name", GL_T_STRING, GL_REQUIRED, 1, 120 },
	{ "email", GL_T_STRING, GL_REQUIRED, 3, 254, .check = gl_valid_email },
	{ "phone", GL_T_STRING, 0, 0, 32, .check = phone_check },
	{ "address", GL_T_STRING, 0, 0, 300 },
	{ 0 },
};

static const struct gl_crud suppliers = { "suppliers", "supplier", supplier_fields, NULL,
	                                  "a supplier with this email exists already" };

/* Emails are unique per supplier and compared without case. */
static void
email_lower(json_t *body)
{
	json_t *v = json_object_get(body, "email");
	char buf[1024];
	size_t n;

	if (v == NULL || (n = json_string_length(v)) >= sizeof(buf))
		return;
	memcpy(buf, json_string_value(v), n + 1);
	for (size_t i = 0; i < n; i++)
		buf[i] = (char)tolower((unsigned char)buf[i]);
	json_object_set_new(body, "email", json_string(buf));
}

enum gl_err
supplier_create(struct gl_req *req)
{
	email_lower(req->body);
	return gl_crud_create(req, &suppliers);
}

enum gl_err
supplier_list(struct gl_req *req)
{
	return gl_crud_list(req, &suppliers, NULL);
}

enum gl_err
supplier_get(struct gl_req *req)
{
	return gl_crud_get(req, &suppliers);
}

enum gl_err
supplier_update(struct gl_req *req)
{
	email_lower(req->body);
	return gl_crud_update(req, &suppliers);
}

enum gl_err
supplier_delete(struct gl_req *req)
{
	return gl_crud_delete(req, &suppliers);
}
