/* Unit tests for lib/lines.c: the one table of an order's lines, and the copies it builds. */
#include <stdlib.h>
#include <string.h>

#include "../tap.h"
#include "doc.h"
#include "lines.h"

#define OID  "5f1e2d3c4b5a69788796a5b4"
#define OID2 "000000000000000000000001"

/* What orders, payments and the kitchen copy: a line with a supplier, one without, and a
 * key no copy keeps. */
#define LINES                                                                                      \
	"[{\"item_id\":\"" OID "\",\"name\":\"Soup\",\"qty\":2,\"price_cents\":450,"               \
	"\"supplier_id\":\"" OID2 "\",\"note\":\"hot\"},"                                          \
	"{\"item_id\":\"" OID2 "\",\"name\":\"Bread\",\"qty\":1,\"price_cents\":0}]"

/* The copy gl_lines_append makes of LINES, read back as the API shows it. */
static char *
copy_new(bool priced)
{
	json_t *lines = json_loads(LINES, 0, NULL), *back;
	bson_t doc = BSON_INITIALIZER;
	char *s = NULL;

	if (gl_lines_append(&doc, lines, priced) && (back = gl_doc_to_json_new(&doc)) != NULL) {
		s = json_dumps(back, JSON_COMPACT | JSON_PRESERVE_ORDER);
		json_decref(back);
	}
	bson_destroy(&doc);
	json_decref(lines);
	return s;
}

static void
test_copies(void)
{
	char *s = copy_new(true);

	is_str(s,
	       "{\"lines\":[{\"item_id\":\"" OID "\",\"name\":\"Soup\",\"qty\":2,"
	       "\"price_cents\":450,\"supplier_id\":\"" OID2 "\"},"
	       "{\"item_id\":\"" OID2 "\",\"name\":\"Bread\",\"qty\":1,\"price_cents\":0}]}",
	       "the order's copy: every field of the table, in its order; no other key");
	free(s);
	s = copy_new(false);
	is_str(s,
	       "{\"lines\":[{\"item_id\":\"" OID "\",\"name\":\"Soup\",\"qty\":2},"
	       "{\"item_id\":\"" OID2 "\",\"name\":\"Bread\",\"qty\":1}]}",
	       "a payment's and a ticket's copy: item_id, name, qty");
	free(s);

	json_t *lines = json_loads(LINES, 0, NULL);
	bson_t doc = BSON_INITIALIZER;
	bson_iter_t top, it;
	ok(gl_lines_append(&doc, lines, false) && bson_iter_init(&top, &doc) &&
	           bson_iter_find_descendant(&top, "lines.0.item_id", &it) &&
	           BSON_ITER_HOLDS_OID(&it),
	   "an item_id is stored as an ObjectId");
	ok(bson_iter_init(&top, &doc) && bson_iter_find_descendant(&top, "lines.1.qty", &it) &&
	           BSON_ITER_HOLDS_INT64(&it) && bson_iter_int64(&it) == 1,
	   "a qty as an int64");
	bson_destroy(&doc);
	json_decref(lines);

	bson_init(&doc);
	ok(!gl_lines_append(&doc, NULL, true), "no lines: false");
	bson_destroy(&doc);
}

static void
test_table(void)
{
	static const struct gl_field fields[] = { GL_LINES_FIELD, { .flags = GL_OPEN } };
	static const struct {
		const char *json;
		const char *field; /* NULL: valid */
	} cases[] = {
		{ "{\"lines\":" LINES "}", NULL },
		{ "{\"lines\":" LINES ",\"total_cents\":450}", NULL },
		{ "{}", "lines" },
		{ "{\"lines\":[]}", "lines" },
		{ "{\"lines\":[{\"item_id\":\"x\",\"name\":\"Soup\",\"qty\":1}]}",
		  "lines[0].item_id" },
		{ "{\"lines\":[{\"item_id\":\"" OID "\",\"name\":\"\",\"qty\":1}]}",
		  "lines[0].name" },
		{ "{\"lines\":[{\"item_id\":\"" OID "\",\"name\":\"Soup\",\"qty\":0}]}",
		  "lines[0].qty" },
		{ "{\"lines\":[{\"item_id\":\"" OID "\",\"name\":\"Soup\",\"qty\":1,"
		  "\"price_cents\":-1}]}",
		  "lines[0].price_cents" },
	};

	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		json_t *j = json_loads(cases[i].json, 0, NULL);
		struct gl_valid_fail fail;
		enum gl_err err = gl_valid_object(fields, j, false, &fail);

		ok(err == (cases[i].field == NULL ? GL_OK : GL_E_VALIDATION), "%s", cases[i].json);
		if (cases[i].field != NULL)
			is_str(fail.field, cases[i].field, "fails at %s (%s)", cases[i].field,
			       fail.message);
		json_decref(j);
	}
}

int
main(void)
{
	test_copies();
	test_table();
	return done_testing();
}
