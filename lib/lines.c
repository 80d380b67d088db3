#include <string.h>

#include "doc.h"
#include "lines.h"

/* What a cook needs of a line come first: a payment's and a ticket's copy keep those. */
#define LINES_COOKED 3

const struct gl_field gl_lines_fields[] = {
	{ "item_id", GL_T_OID, GL_REQUIRED },
	{ "name", GL_T_STRING, GL_REQUIRED, 1, GL_LINES_NAME_MAX },
	{ "qty", GL_T_INT, GL_REQUIRED, 1, GL_LINES_QTY_MAX },
	{ "price_cents", GL_T_INT, 0, 0, GL_LINES_PRICE_MAX },
	{ "supplier_id", GL_T_OID },
	{ .flags = GL_OPEN },
};

bool
gl_lines_append(bson_t *doc, const json_t *lines, bool priced)
{
	struct gl_field cooked[LINES_COOKED + 1] = { 0 };
	struct gl_field row[] = { GL_LINES_FIELD, { 0 } };
	json_t *obj = json_pack("{s:O}", "lines", lines);
	bool ok;

	if (!priced) {
		memcpy(cooked, gl_lines_fields, LINES_COOKED * sizeof(cooked[0]));
		row[0].fields = cooked;
	}
	ok = obj != NULL && gl_doc_append_fields(doc, row, obj);
	json_decref(obj);
	return ok;
}
