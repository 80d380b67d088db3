#include <string.h>

#include "crud.h"
#include "suppliers.h"

const struct gl_field supplier_fields[] = {
	{ "name", GL_T_STRING, GL_REQUIRED, 1, 120 },
	{ "email", GL_T_STRING, GL_REQUIRED, 3, 254, .check = gl_valid_email, .max_bytes = 254 },
	{ "phone", GL_T_STRING, 0, 0, 32, .check = gl_valid_phone },
	{ "address", GL_T_STRING, 0, 0, 300 },
	{ 0 },
};

static const struct gl_crud suppliers = { "suppliers", "supplier", supplier_fields, NULL,
	                                  "a supplier with this email exists already" };

enum gl_err
supplier_create(struct gl_req *req)
{
	gl_valid_lower(req->body, "email"); /* unique, compared without case */
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
	gl_valid_lower(req->body, "email"); /* unique, compared without case */
	return gl_crud_update(req, &suppliers);
}

enum gl_err
supplier_delete(struct gl_req *req)
{
	return gl_crud_delete(req, &suppliers);
}
