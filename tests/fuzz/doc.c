/*
 * The document builder (lib/doc.h): a validated body becomes a BSON document
 * (gl_doc_append_fields, nested tables included) and reads back as the API's
 * JSON (gl_doc_to_json_new); and whatever bytes come back from the database
 * read as JSON or as NULL, never as a crash.
 *
 * Input: a JSON body (the seeds tests/data/fuzz/doc/json-*), or 'B' and the
 * bytes of a BSON document (the seeds bson-*): what MongoDB would return.
 *
 * Invariants: no crash, leak or undefined behaviour; every body that passes
 * the table builds, and reads back equal to itself (ids in lower case); ids
 * and times parse back to what they were.
 */
#include <string.h>
#include <strings.h>

#include "doc.h"
#include "fuzz.h"
#include "json.h"
#include "valid.h"

static const struct gl_field option_fields[] = {
	{ .name = "name", .type = GL_T_STRING, .flags = GL_REQUIRED, .min = 1, .max = 40 },
	{ .name = "extra_cents", .type = GL_T_INT, .min = -1000, .max = 1000 },
	{ .name = "supplier_id", .type = GL_T_OID },
	{ .name = "labels", .type = GL_T_STRINGS, .min = 0, .max = 3, .item_max = 10 },
	{ 0 },
};

static const struct gl_field line_fields[] = {
	{ .name = "item_id", .type = GL_T_OID, .flags = GL_REQUIRED },
	{ .name = "qty", .type = GL_T_INT, .flags = GL_REQUIRED, .min = 1, .max = 100 },
	{ .name = "options", .type = GL_T_OBJECTS, .min = 0, .max = 4, .fields = option_fields },
	{ 0 },
};

static const struct gl_field body_fields[] = {
	{ .name = "name", .type = GL_T_STRING, .min = 0, .max = 200 },
	{ .name = "price_cents",
	  .type = GL_T_INT,
	  .min = -9007199254740991LL,
	  .max = 9007199254740991LL },
	{ .name = "available", .type = GL_T_BOOL },
	{ .name = "customer_id", .type = GL_T_OID },
	{ .name = "tags", .type = GL_T_STRINGS, .min = 0, .max = 8, .item_max = 32 },
	{ .name = "lines", .type = GL_T_OBJECTS, .min = 0, .max = 20, .fields = line_fields },
	{ 0 },
};

/* obj as the database gives it back: its ids in lower case (a deep copy, new). */
static json_t *
normalised(const struct gl_field *fields, const json_t *obj)
{
	json_t *out = json_deep_copy(obj), *v, *item;
	const struct gl_field *f;
	char buf[25];
	size_t i;

	FUZZ_CHECK(out != NULL);
	for (f = fields; f->name != NULL; f++) {
		if ((v = json_object_get(out, f->name)) == NULL)
			continue;
		if (f->type == GL_T_OID) {
			snprintf(buf, sizeof(buf), "%s", json_string_value(v));
			for (char *p = buf; *p != '\0'; p++)
				if (*p >= 'A' && *p <= 'F')
					*p = (char)(*p + 32);
			json_object_set_new(out, f->name, json_string(buf));
		} else if (f->type == GL_T_OBJECTS) {
			json_array_foreach(v, i, item) {
				json_array_set_new(v, i, normalised(f->fields, item));
			}
		}
	}
	return out;
}

static void
fuzz_json(const uint8_t *data, size_t size)
{
	struct gl_valid_fail fail;
	bson_t doc = BSON_INITIALIZER;
	json_t *body, *back, *want;
	char msg[200];

	if (gl_json_parse_object((const char *)data, size, &body, msg, sizeof(msg)) != GL_OK)
		return;
	if (gl_valid_object(body_fields, body, true, &fail) == GL_OK) {
		FUZZ_CHECK(gl_doc_append_fields(&doc, body_fields, body));
		back = gl_doc_to_json_new(&doc);
		want = normalised(body_fields, body);
		FUZZ_CHECK(back != NULL && json_equal(back, want));
		json_decref(want);
		json_decref(back);
	}
	bson_destroy(&doc);
	json_decref(body);
}

/* Bytes from the database: a document, or garbage that must be refused. */
static void
fuzz_bson(const uint8_t *data, size_t size)
{
	bson_t doc;
	json_t *j;
	char *text;

	if (!bson_init_static(&doc, data, size))
		return;
	j = gl_doc_to_json_new(&doc);
	if (j != NULL) {
		FUZZ_CHECK(json_is_object(j));
		text = gl_json_dump_new(j);
		FUZZ_CHECK(text != NULL);
		free(text);
		json_decref(j);
	}
}

/* Ids and times, from the first bytes as text. */
static void
fuzz_scalars(const uint8_t *data, size_t size)
{
	char *s = fuzz_strndup(data, size < 32 ? size : 32), buf[32], hex[25];
	bson_oid_t oid;
	int64_t secs, again;

	if (gl_oid_parse(s, &oid)) {
		bson_oid_to_string(&oid, hex);
		FUZZ_CHECK(strcasecmp(hex, s) == 0);
	}
	if (gl_doc_time_parse(s, &secs)) {
		/* Years beyond what we write read in, but what we write reads back. */
		gl_doc_time(buf, sizeof(buf), secs * 1000);
		if (secs >= 0 && secs < 253402300800LL)
			FUZZ_CHECK(gl_doc_time_parse(buf, &again) && again == secs);
	}
	free(s);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	fuzz_scalars(data, size);
	if (size > 0 && data[0] == 'B') {
		/* bson_init_static needs the bytes aligned as malloc gives them. */
		uint8_t *copy = malloc(size - 1 > 0 ? size - 1 : 1);
		FUZZ_CHECK(copy != NULL);
		memcpy(copy, data + 1, size - 1);
		fuzz_bson(copy, size - 1);
		free(copy);
		return 0;
	}
	fuzz_json(data, size);
	return 0;
}
