/*
 * The validator (lib/valid.h) with nested field tables: gl_valid_query() on a
 * query string and gl_valid_object() on a body, as the front line runs them.
 *
 * Input: the first line is a raw query string, the rest a JSON body (seeds in
 * tests/data/fuzz/valid/).
 *
 * Invariants: no crash, leak or undefined behaviour; what passes has exactly
 * the declared keys, types, ranges and byte lengths (checked here
 * independently, at every depth), and written compactly with every non-ASCII
 * character escaped it fits gl_valid_json_max() (the body caps rest on it);
 * a body that passes also passes as a PATCH (partial) and after
 * gl_valid_lower(); a failure names a field in printable ASCII only (client
 * bytes are never echoed raw) and a non-empty reason.
 */
#include <string.h>

#include "fuzz.h"
#include "json.h"
#include "valid.h"

static const char *const statuses[] = { "paid", "ready", "cancelled", NULL };

static const struct gl_field choice_fields[] = {
	{ .name = "label", .type = GL_T_STRING, .flags = GL_REQUIRED, .min = 1, .max = 16 },
	{ .name = "contact", .type = GL_T_STRING, .min = 3, .max = 64, .check = gl_valid_email },
	{ .name = "n", .type = GL_T_INT, .min = -5, .max = 5 },
	{ 0 },
};

static const struct gl_field option_fields[] = {
	{ .name = "name", .type = GL_T_STRING, .flags = GL_REQUIRED, .min = 1, .max = 40 },
	{ .name = "on", .type = GL_T_BOOL },
	{ .name = "choices", .type = GL_T_OBJECTS, .min = 0, .max = 3, .fields = choice_fields },
	{ 0 },
};

static const struct gl_field line_fields[] = {
	{ .name = "item_id", .type = GL_T_OID, .flags = GL_REQUIRED },
	{ .name = "qty", .type = GL_T_INT, .flags = GL_REQUIRED, .min = 1, .max = 100 },
	{ .name = "notes", .type = GL_T_STRINGS, .min = 0, .max = 4, .item_max = 40 },
	{ .name = "options", .type = GL_T_OBJECTS, .min = 0, .max = 4, .fields = option_fields },
	{ 0 },
};

static const struct gl_field body_fields[] = {
	{ .name = "email",
	  .type = GL_T_STRING,
	  .flags = GL_REQUIRED,
	  .min = 3,
	  .max = 254,
	  .check = gl_valid_email,
	  .max_bytes = 254 },
	{ .name = "name", .type = GL_T_STRING, .min = 1, .max = 120 },
	{ .name = "phone", .type = GL_T_STRING, .min = 0, .max = 32, .check = gl_valid_phone },
	{ .name = "currency", .type = GL_T_STRING, .min = 3, .max = 3, .check = gl_valid_currency },
	{ .name = "total_cents", .type = GL_T_INT, .min = 0, .max = 10000000 },
	{ .name = "customer_id", .type = GL_T_OID },
	{ .name = "paid", .type = GL_T_BOOL },
	{ .name = "tags",
	  .type = GL_T_STRINGS,
	  .min = 0,
	  .max = 8,
	  .item_max = 32,
	  .max_bytes = 40 },
	{ .name = "lines",
	  .type = GL_T_OBJECTS,
	  .min = 1,
	  .max = 20,
	  .fields = line_fields,
	  .unique = "item_id" },
	{ .name = "status", .type = GL_T_ENUM, .values = statuses },
	{ 0 },
};

static const struct gl_field query_fields[] = {
	{ .name = "limit", .type = GL_T_INT, .min = 1, .max = 200 },
	{ .name = "after", .type = GL_T_OID },
	{ .name = "status", .type = GL_T_ENUM, .values = statuses },
	{ .name = "q", .type = GL_T_STRING, .min = 0, .max = 64 },
	{ .name = "paid", .type = GL_T_BOOL },
	{ .name = "email", .type = GL_T_STRING, .min = 3, .max = 254, .check = gl_valid_email },
	{ 0 },
};

static bool
printable(const char *s)
{
	for (; *s != '\0'; s++)
		if ((unsigned char)*s < 0x20 || (unsigned char)*s >= 0x7f)
			return false;
	return true;
}

static void
check_fail(const struct gl_valid_fail *fail)
{
	FUZZ_CHECK(memchr(fail->field, '\0', sizeof(fail->field)) != NULL);
	FUZZ_CHECK(memchr(fail->message, '\0', sizeof(fail->message)) != NULL);
	FUZZ_CHECK(printable(fail->field) && printable(fail->message));
	FUZZ_CHECK(fail->message[0] != '\0');
}

static bool
is_oid(const char *s)
{
	return s != NULL && strlen(s) == 24 && strspn(s, "0123456789abcdefABCDEF") == 24;
}

static void check_passed(const struct gl_field *fields, const json_t *obj, int depth);

/* A string the validator let through for f: its length and its own check hold. */
static void
check_string(const struct gl_field *f, const json_t *v, long long min, long long max)
{
	const char *s = json_string_value(v);
	size_t n;

	FUZZ_CHECK(s != NULL && strlen(s) == json_string_length(v));
	n = gl_valid_utf8_len(s);
	FUZZ_CHECK((long long)n >= min && (long long)n <= max);
	FUZZ_CHECK(f->max_bytes == 0 || (long long)strlen(s) <= f->max_bytes);
	FUZZ_CHECK(f->check == NULL || f->check(s) == NULL);
}

/* Independently of lib/valid.c: obj has only declared keys, of their types and ranges. */
/* A passed enum is exactly one of its values. */
static void
check_enum(const struct gl_field *f, const json_t *v)
{
	const char *const *e = f->values;

	FUZZ_CHECK(json_is_string(v) && strlen(json_string_value(v)) == json_string_length(v));
	while (*e != NULL && strcmp(*e, json_string_value(v)) != 0)
		e++;
	FUZZ_CHECK(*e != NULL);
}

/* No two objects of a passed list share f->unique. */
static void
check_unique(const struct gl_field *f, const json_t *a)
{
	for (size_t i = 0; i < json_array_size(a); i++)
		for (size_t j = 0; j < i; j++)
			FUZZ_CHECK(!json_equal(json_object_get(json_array_get(a, i), f->unique),
			                       json_object_get(json_array_get(a, j), f->unique)));
}

static void
check_passed(const struct gl_field *fields, const json_t *obj, int depth)
{
	const struct gl_field *f;
	const char *key;
	json_t *v, *item;
	size_t i;

	FUZZ_CHECK(depth < 8 && json_is_object(obj));
	json_object_foreach((json_t *)obj, key, v) {
		FUZZ_CHECK(key[0] != '$' && strchr(key, '.') == NULL);
		for (f = fields; f->name != NULL && strcmp(f->name, key) != 0; f++)
			;
		FUZZ_CHECK(f->name != NULL);
		switch (f->type) {
		case GL_T_STRING:
			check_string(f, v, f->min, f->max);
			break;
		case GL_T_OID:
			FUZZ_CHECK(is_oid(json_string_value(v)));
			break;
		case GL_T_INT:
			FUZZ_CHECK(json_is_integer(v));
			FUZZ_CHECK(json_integer_value(v) >= f->min &&
			           json_integer_value(v) <= f->max);
			break;
		case GL_T_BOOL:
			FUZZ_CHECK(json_is_boolean(v));
			break;
		case GL_T_ENUM:
			check_enum(f, v);
			break;
		case GL_T_STRINGS:
		case GL_T_OBJECTS:
			FUZZ_CHECK(json_is_array(v));
			FUZZ_CHECK((long long)json_array_size(v) >= f->min &&
			           (long long)json_array_size(v) <= f->max);
			json_array_foreach(v, i, item) {
				if (f->type == GL_T_STRINGS)
					check_string(f, item, 1, f->item_max);
				else
					check_passed(f->fields, item, depth + 1);
			}
			if (f->unique != NULL)
				check_unique(f, v);
			break;
		}
	}
}

static void
fuzz_query(const char *query)
{
	struct gl_valid_fail fail;
	json_t *q = NULL;
	enum gl_err err = gl_valid_query(query_fields, query, &q, &fail);

	FUZZ_CHECK(err == GL_OK || err == GL_E_VALIDATION);
	if (err == GL_OK) {
		FUZZ_CHECK(q != NULL);
		check_passed(query_fields, q, 0);
		FUZZ_CHECK(gl_valid_object(query_fields, q, false, &fail) == GL_OK);
		json_decref(q);
	} else {
		FUZZ_CHECK(q == NULL);
		check_fail(&fail);
	}
	/* No parameter is allowed: only an empty query (or bare '&'s) passes. */
	err = gl_valid_query(NULL, query, &q, &fail);
	if (err == GL_OK) {
		FUZZ_CHECK(json_object_size(q) == 0);
		FUZZ_CHECK(strspn(query, "&") == strlen(query));
		json_decref(q);
	}
}

static void
fuzz_body(const uint8_t *data, size_t size)
{
	struct gl_valid_fail fail;
	char msg[200];
	json_t *body, *copy;
	enum gl_err full, partial;

	if (gl_json_parse_object((const char *)data, size, &body, msg, sizeof(msg)) != GL_OK) {
		FUZZ_CHECK(body == NULL && printable(msg));
		return;
	}
	full = gl_valid_object(body_fields, body, false, &fail);
	if (full != GL_OK)
		check_fail(&fail);
	partial = gl_valid_object(body_fields, body, true, &fail);
	if (partial != GL_OK)
		check_fail(&fail);
	FUZZ_CHECK(full != GL_OK || partial == GL_OK);
	if (partial == GL_OK) {
		/* The body cap a route takes from gl_valid_json_max admits every valid body. */
		char *compact = json_dumps(body, JSON_COMPACT | JSON_ENSURE_ASCII);
		FUZZ_CHECK(compact != NULL && strlen(compact) <= gl_valid_json_max(body_fields));
		free(compact);
	}
	if (partial == GL_OK) {
		check_passed(body_fields, body, 0);
		copy = json_deep_copy(body);
		FUZZ_CHECK(copy != NULL);
		gl_valid_lower(copy, "email");
		FUZZ_CHECK(gl_valid_object(body_fields, copy, true, &fail) == GL_OK);
		FUZZ_CHECK(full != GL_OK ||
		           gl_valid_object(body_fields, copy, false, &fail) == GL_OK);
		json_decref(copy);
	}
	/* The same object in a list (an item of GL_T_OBJECTS) is held to line_fields. */
	if (gl_valid_object(line_fields, body, false, &fail) == GL_OK)
		check_passed(line_fields, body, 0);
	json_decref(body);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char *query = fuzz_line(&data, &size);
	char *text;

	fuzz_query(query);
	/* The ready-made checks on any text, and the code point count. */
	text = fuzz_strndup(data, size);
	(void)gl_valid_email(query);
	(void)gl_valid_phone(query);
	(void)gl_valid_currency(query);
	FUZZ_CHECK(gl_valid_utf8_len(text) <= strlen(text));
	free(text);
	free(query);
	fuzz_body(data, size);
	return 0;
}
