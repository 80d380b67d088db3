/* Unit tests for lib/valid.c: body and query validation. */
#include <stdlib.h>
#include <string.h>

#include "../tap.h"
#include "valid.h"

#define OID "5f1e2d3c4b5a69788796a5b4"

static const struct gl_field line_fields[] = {
	{ "item_id", GL_T_OID, GL_REQUIRED },
	{ "qty", GL_T_INT, GL_REQUIRED, 1, 99 },
	{ "note", GL_T_STRING, 0, 0, 10 },
	{ 0 },
};

static const char *const states[] = { "open", "shut", NULL };

static const struct gl_field fields[] = {
	{ "name", GL_T_STRING, GL_REQUIRED, 2, 5 },
	{ "count", GL_T_INT, 0, -10, 1000 },
	{ "big", GL_T_INT, 0, 0, 9007199254740992LL },
	{ "on", GL_T_BOOL },
	{ "ref", GL_T_OID },
	{ "tags", GL_T_STRINGS, 0, 1, 3, .item_max = 4 },
	{ "lines", GL_T_OBJECTS, 0, 0, 3, .fields = line_fields },
	{ "email", GL_T_STRING, 0, 3, 254, .check = gl_valid_email },
	{ "currency", GL_T_STRING, 0, 3, 3, .check = gl_valid_currency },
	{ "state", GL_T_ENUM, .values = states },
	{ "each", GL_T_OBJECTS, 0, 0, 3, .fields = line_fields, .unique = "item_id" },
	{ 0 },
};

struct obj_case {
	const char *json; /* the body */
	bool partial;
	enum gl_err want;
	const char *field; /* fail->field when want != GL_OK */
};

#define LINE  "{\"item_id\":\"" OID "\",\"qty\":1}"
#define LINE2 "{\"item_id\":\"" OID2 "\",\"qty\":2}"
#define OID2  "5f1e2d3c4b5a69788796a5b5"

static const struct obj_case obj_cases[] = {
	/* the smallest valid body, and a full one */
	{ "{\"name\":\"ab\"}", false, GL_OK, NULL },
	{ "{\"name\":\"abcde\",\"count\":5,\"big\":1,\"on\":true,\"ref\":\"" OID "\","
	  "\"tags\":[\"a\",\"bcde\"],\"lines\":[" LINE
	  "],\"email\":\"a@b.io\",\"currency\":\"EUR\"}",
	  false, GL_OK, NULL },
	/* REQUIRED, and partial mode */
	{ "{}", false, GL_E_VALIDATION, "name" },
	{ "{\"count\":1}", false, GL_E_VALIDATION, "name" },
	{ "{}", true, GL_OK, NULL },
	{ "{\"count\":1}", true, GL_OK, NULL },
	{ "{\"count\":\"1\"}", true, GL_E_VALIDATION, "count" },
	{ "{\"name\":\"a\"}", true, GL_E_VALIDATION, "name" },
	/* GL_T_STRING: code points, not bytes */
	{ "{\"name\":\"a\"}", false, GL_E_VALIDATION, "name" },
	{ "{\"name\":\"\"}", false, GL_E_VALIDATION, "name" },
	{ "{\"name\":\"abcdef\"}", false, GL_E_VALIDATION, "name" },
	{ "{\"name\":\"\xc3\xa9\xc3\xa9\"}", false, GL_OK, NULL }, /* éé: 2 */
	{ "{\"name\":\"\xc3\xa9\xc3\xa9\xc3\xa9\xc3\xa9\xc3\xa9\"}", false, GL_OK, NULL }, /* 5 */
	{ "{\"name\":\"\xc3\xa9\xc3\xa9\xc3\xa9\xc3\xa9\xc3\xa9\xc3\xa9\"}", false, GL_E_VALIDATION,
	  "name" },                                                            /* 6, 12 bytes */
	{ "{\"name\":\"\xc3\xa9\"}", false, GL_E_VALIDATION, "name" },         /* 1, 2 bytes */
	{ "{\"name\":\"\\u00e9\\u00e9\"}", false, GL_OK, NULL },               /* escaped */
	{ "{\"name\":\"\xe2\x82\xac\xf0\x9f\x8d\x95\"}", false, GL_OK, NULL }, /* €🍕: 2 */
	{ "{\"name\":\"\xf0\x9f\x8d\x95\xf0\x9f\x8d\x95\xf0\x9f\x8d\x95\xf0\x9f\x8d\x95\xf0\x9f\x8d"
	  "\x95\"}",
	  false, GL_OK, NULL }, /* 5 pizzas, 20 bytes */
	{ "{\"name\":12}", false, GL_E_VALIDATION, "name" },
	{ "{\"name\":null}", false, GL_E_VALIDATION, "name" },
	{ "{\"name\":[\"ab\"]}", false, GL_E_VALIDATION, "name" },
	/* GL_T_INT */
	{ "{\"name\":\"ab\",\"count\":-10}", false, GL_OK, NULL },
	{ "{\"name\":\"ab\",\"count\":1000}", false, GL_OK, NULL },
	{ "{\"name\":\"ab\",\"count\":0}", false, GL_OK, NULL },
	{ "{\"name\":\"ab\",\"count\":-11}", false, GL_E_VALIDATION, "count" },
	{ "{\"name\":\"ab\",\"count\":1001}", false, GL_E_VALIDATION, "count" },
	{ "{\"name\":\"ab\",\"count\":1.5}", false, GL_E_VALIDATION, "count" },
	{ "{\"name\":\"ab\",\"count\":1.0}", false, GL_E_VALIDATION, "count" },
	{ "{\"name\":\"ab\",\"count\":1e2}", false, GL_E_VALIDATION, "count" },
	{ "{\"name\":\"ab\",\"count\":\"5\"}", false, GL_E_VALIDATION, "count" },
	{ "{\"name\":\"ab\",\"count\":true}", false, GL_E_VALIDATION, "count" },
	{ "{\"name\":\"ab\",\"count\":null}", false, GL_E_VALIDATION, "count" },
	{ "{\"name\":\"ab\",\"count\":9007199254740993}", false, GL_E_VALIDATION, "count" },
	{ "{\"name\":\"ab\",\"count\":-9007199254740993}", false, GL_E_VALIDATION, "count" },
	{ "{\"name\":\"ab\",\"big\":9007199254740992}", false, GL_OK, NULL },
	{ "{\"name\":\"ab\",\"big\":9007199254740993}", false, GL_E_VALIDATION, "big" },
	{ "{\"name\":\"ab\",\"big\":9223372036854775807}", false, GL_E_VALIDATION, "big" },
	{ "{\"name\":\"ab\",\"big\":-1}", false, GL_E_VALIDATION, "big" },
	/* GL_T_BOOL */
	{ "{\"name\":\"ab\",\"on\":false}", false, GL_OK, NULL },
	{ "{\"name\":\"ab\",\"on\":0}", false, GL_E_VALIDATION, "on" },
	{ "{\"name\":\"ab\",\"on\":\"true\"}", false, GL_E_VALIDATION, "on" },
	{ "{\"name\":\"ab\",\"on\":null}", false, GL_E_VALIDATION, "on" },
	/* GL_T_OID */
	{ "{\"name\":\"ab\",\"ref\":\"5F1E2D3C4B5A69788796A5B4\"}", false, GL_OK, NULL },
	{ "{\"name\":\"ab\",\"ref\":\"5f1e2d3c4b5a69788796a5b\"}", false, GL_E_VALIDATION, "ref" },
	{ "{\"name\":\"ab\",\"ref\":\"5f1e2d3c4b5a69788796a5b4c\"}", false, GL_E_VALIDATION,
	  "ref" },
	{ "{\"name\":\"ab\",\"ref\":\"5f1e2d3c4b5a69788796a5bz\"}", false, GL_E_VALIDATION, "ref" },
	{ "{\"name\":\"ab\",\"ref\":\"\"}", false, GL_E_VALIDATION, "ref" },
	{ "{\"name\":\"ab\",\"ref\":12}", false, GL_E_VALIDATION, "ref" },
	{ "{\"name\":\"ab\",\"ref\":{\"$oid\":\"" OID "\"}}", false, GL_E_VALIDATION, "ref.$oid" },
	/* GL_T_STRINGS: item count 1..3, item length 1..4 code points */
	{ "{\"name\":\"ab\",\"tags\":[\"a\",\"b\",\"c\"]}", false, GL_OK, NULL },
	{ "{\"name\":\"ab\",\"tags\":[]}", false, GL_E_VALIDATION, "tags" },
	{ "{\"name\":\"ab\",\"tags\":[\"a\",\"b\",\"c\",\"d\"]}", false, GL_E_VALIDATION, "tags" },
	{ "{\"name\":\"ab\",\"tags\":[\"abcd\",\"abcde\"]}", false, GL_E_VALIDATION, "tags[1]" },
	{ "{\"name\":\"ab\",\"tags\":[\"\xc3\xa9\xc3\xa9\xc3\xa9\xc3\xa9\"]}", false, GL_OK, NULL },
	{ "{\"name\":\"ab\",\"tags\":[\"a\",\"\"]}", false, GL_E_VALIDATION, "tags[1]" },
	{ "{\"name\":\"ab\",\"tags\":[\"a\",1]}", false, GL_E_VALIDATION, "tags[1]" },
	{ "{\"name\":\"ab\",\"tags\":\"a\"}", false, GL_E_VALIDATION, "tags" },
	/* GL_T_OBJECTS, nested paths */
	{ "{\"name\":\"ab\",\"lines\":[]}", false, GL_OK, NULL },
	{ "{\"name\":\"ab\",\"lines\":[" LINE "," LINE "," LINE "]}", false, GL_OK, NULL },
	{ "{\"name\":\"ab\",\"lines\":[" LINE "," LINE "," LINE "," LINE "]}", false,
	  GL_E_VALIDATION, "lines" },
	{ "{\"name\":\"ab\",\"lines\":[" LINE "," LINE ",{\"item_id\":\"" OID "\",\"qty\":0}]}",
	  false, GL_E_VALIDATION, "lines[2].qty" },
	{ "{\"name\":\"ab\",\"lines\":[" LINE "," LINE ",{\"item_id\":\"" OID "\",\"qty\":1.5}]}",
	  false, GL_E_VALIDATION, "lines[2].qty" },
	{ "{\"name\":\"ab\",\"lines\":[" LINE ",{\"item_id\":\"" OID "\"}]}", false,
	  GL_E_VALIDATION, "lines[1].qty" },
	{ "{\"name\":\"ab\",\"lines\":[" LINE ",{\"item_id\":\"x\",\"qty\":1}]}", false,
	  GL_E_VALIDATION, "lines[1].item_id" },
	{ "{\"name\":\"ab\",\"lines\":[{\"item_id\":\"" OID "\",\"qty\":1,\"extra\":1}]}", false,
	  GL_E_VALIDATION, "lines[0].extra" },
	{ "{\"name\":\"ab\",\"lines\":[" LINE ",5]}", false, GL_E_VALIDATION, "lines[1]" },
	{ "{\"name\":\"ab\",\"lines\":{}}", false, GL_E_VALIDATION, "lines" },
	/* partial mode is for the top level only: nested objects keep their required fields */
	{ "{\"lines\":[{\"qty\":1}]}", true, GL_E_VALIDATION, "lines[0].item_id" },
	/* unknown fields */
	{ "{\"name\":\"ab\",\"nope\":1}", false, GL_E_VALIDATION, "nope" },
	{ "{\"nope\":1}", true, GL_E_VALIDATION, "nope" },
	{ "{\"Name\":\"ab\"}", false, GL_E_VALIDATION, "Name" },
	/* '$' and '.' keys at any depth */
	{ "{\"$where\":\"1\"}", false, GL_E_VALIDATION, "$where" },
	{ "{\"$where\":\"1\"}", true, GL_E_VALIDATION, "$where" },
	{ "{\"a.b\":1}", true, GL_E_VALIDATION, "a.b" },
	{ "{\"\":1}", true, GL_E_VALIDATION, "" },
	{ "{\"name\":{\"$ne\":null}}", false, GL_E_VALIDATION, "name.$ne" },
	{ "{\"name\":{\"a.b\":1}}", false, GL_E_VALIDATION, "name.a.b" },
	{ "{\"name\":\"ab\",\"lines\":[{\"item_id\":\"" OID "\",\"qty\":1,\"$set\":1}]}", false,
	  GL_E_VALIDATION, "lines[0].$set" },
	{ "{\"name\":\"ab\",\"lines\":[" LINE ",{\"x\":{\"y.z\":1}}]}", false, GL_E_VALIDATION,
	  "lines[1].x.y.z" },
	{ "{\"name\":\"ab\",\"tags\":[[{\"$gt\":\"\"}]]}", false, GL_E_VALIDATION,
	  "tags[0][0].$gt" },
	{ "{\"unknown\":{\"deep\":[{\"$x\":1}]}}", true, GL_E_VALIDATION, "unknown.deep[0].$x" },
	{ "{\"name\":\"a$b\"}", false, GL_OK, NULL }, /* '$' in a value is fine */
	{ "{\"name\":\"a.b\"}", false, GL_OK, NULL },
	/* .check */
	{ "{\"name\":\"ab\",\"email\":\"a@example.com\"}", false, GL_OK, NULL },
	{ "{\"name\":\"ab\",\"email\":\"a.b+c@sub.example.org\"}", false, GL_OK, NULL },
	{ "{\"name\":\"ab\",\"email\":\"aexample.com\"}", false, GL_E_VALIDATION, "email" },
	{ "{\"name\":\"ab\",\"email\":\"@example.com\"}", false, GL_E_VALIDATION, "email" },
	{ "{\"name\":\"ab\",\"email\":\"a@b@example.com\"}", false, GL_E_VALIDATION, "email" },
	{ "{\"name\":\"ab\",\"email\":\"a@example\"}", false, GL_E_VALIDATION, "email" },
	{ "{\"name\":\"ab\",\"email\":\"a@.example.com\"}", false, GL_E_VALIDATION, "email" },
	{ "{\"name\":\"ab\",\"email\":\"a@example.com.\"}", false, GL_E_VALIDATION, "email" },
	{ "{\"name\":\"ab\",\"email\":\"a b@example.com\"}", false, GL_E_VALIDATION, "email" },
	{ "{\"name\":\"ab\",\"email\":\"<a@example.com>\"}", false, GL_E_VALIDATION, "email" },
	{ "{\"name\":\"ab\",\"email\":\"a@example.com\\n\"}", false, GL_E_VALIDATION, "email" },
	{ "{\"name\":\"ab\",\"currency\":\"USD\"}", false, GL_OK, NULL },
	{ "{\"name\":\"ab\",\"currency\":\"usd\"}", false, GL_E_VALIDATION, "currency" },
	{ "{\"name\":\"ab\",\"currency\":\"EU1\"}", false, GL_E_VALIDATION, "currency" },
	{ "{\"name\":\"ab\",\"currency\":\"EURO\"}", false, GL_E_VALIDATION, "currency" },
	{ "{\"name\":\"ab\",\"currency\":\"\xc3\x89UR\"}", false, GL_E_VALIDATION, "currency" },
	/* GL_T_ENUM: one of the values, exactly */
	{ "{\"name\":\"ab\",\"state\":\"open\"}", false, GL_OK, NULL },
	{ "{\"name\":\"ab\",\"state\":\"shut\"}", false, GL_OK, NULL },
	{ "{\"name\":\"ab\",\"state\":\"Open\"}", false, GL_E_VALIDATION, "state" },
	{ "{\"name\":\"ab\",\"state\":\"ope\"}", false, GL_E_VALIDATION, "state" },
	{ "{\"name\":\"ab\",\"state\":\"\"}", false, GL_E_VALIDATION, "state" },
	{ "{\"name\":\"ab\",\"state\":1}", false, GL_E_VALIDATION, "state" },
	{ "{\"name\":\"ab\",\"state\":[\"open\"]}", false, GL_E_VALIDATION, "state" },
	/* .unique: no two objects share item_id */
	{ "{\"name\":\"ab\",\"each\":[" LINE "," LINE2 "]}", false, GL_OK, NULL },
	{ "{\"name\":\"ab\",\"each\":[" LINE "," LINE "]}", false, GL_E_VALIDATION,
	  "each[1].item_id" },
	{ "{\"name\":\"ab\",\"each\":[" LINE "," LINE2 "," LINE "]}", false, GL_E_VALIDATION,
	  "each[2].item_id" },
	{ "{\"name\":\"ab\",\"each\":[" LINE "," LINE2 ",{\"qty\":1}]}", false, GL_E_VALIDATION,
	  "each[2].item_id" },
};

static void
test_object_table(void)
{
	for (size_t i = 0; i < sizeof(obj_cases) / sizeof(obj_cases[0]); i++) {
		const struct obj_case *c = &obj_cases[i];
		json_error_t jerr;
		struct gl_valid_fail fail;
		json_t *j = json_loads(c->json, JSON_REJECT_DUPLICATES, &jerr);
		enum gl_err err;

		if (j == NULL) {
			ok(0, "case %zu: test input parses: %s", i, jerr.text);
			continue;
		}
		memset(&fail, 'x', sizeof(fail));
		err = gl_valid_object(fields, j, c->partial, &fail);
		ok(err == c->want, "case %zu %s%s -> %d (got %d: '%.96s' %.160s)", i, c->json,
		   c->partial ? " partial" : "", (int)c->want, (int)err, err ? fail.field : "",
		   err ? fail.message : "");
		if (c->want != GL_OK && err != GL_OK) {
			is_str(fail.field, c->field, "case %zu: field", i);
			ok(fail.message[0] != '\0' && strlen(fail.message) < sizeof(fail.message),
			   "case %zu: a message", i);
		}
		json_decref(j);
	}
}

static void
test_object_misc(void)
{
	struct gl_valid_fail fail;
	json_t *j;

	/* non-object input */
	j = json_array();
	ok(gl_valid_object(fields, j, false, &fail) == GL_E_VALIDATION, "array -> validation");
	is_str(fail.field, "", "array: no field");
	json_decref(j);
	j = json_string("x");
	ok(gl_valid_object(fields, j, true, &fail) == GL_E_VALIDATION, "string -> validation");
	json_decref(j);
	ok(gl_valid_object(fields, NULL, true, &fail) == GL_E_VALIDATION, "NULL -> validation");

	/* a table without fields refuses every key */
	static const struct gl_field none[] = { { 0 } };
	j = json_pack("{s:i}", "a", 1);
	ok(gl_valid_object(none, j, true, &fail) == GL_E_VALIDATION, "empty table refuses a key");
	is_str(fail.field, "a", "empty table: field");
	json_decref(j);
	j = json_object();
	ok(gl_valid_object(none, j, false, &fail) == GL_OK, "empty table accepts {}");
	json_decref(j);

	/* \u0000 inside a string built by the caller (jansson's parser refuses it) */
	j = json_object();
	json_object_set_new(j, "name", json_stringn("a\0b", 3));
	ok(gl_valid_object(fields, j, false, &fail) == GL_E_VALIDATION, "NUL in a string refused");
	is_str(fail.field, "name", "NUL: field");
	json_decref(j);

	/* a key that is not printable is reported without its raw bytes */
	j = json_object();
	json_object_set_new(j, "a\x01\xc3\xa9", json_integer(1));
	ok(gl_valid_object(fields, j, false, &fail) == GL_E_VALIDATION, "odd key refused");
	int printable = 1;
	for (const char *p = fail.field; *p; p++)
		if ((unsigned char)*p < 0x20 || (unsigned char)*p > 0x7e)
			printable = 0;
	ok(printable && fail.field[0] == 'a', "odd key is reported as printable ASCII ('%s')",
	   fail.field);
	json_decref(j);

	/* deep nesting is bounded, not a stack overflow */
	json_t *deep = json_integer(1);
	for (int d = 0; d < 200; d++) {
		json_t *o = json_object();
		json_object_set_new(o, "k", deep);
		deep = o;
	}
	ok(gl_valid_object(fields, deep, true, &fail) == GL_E_VALIDATION, "200 levels refused");
	json_decref(deep);

	/* a long key: the reported field stays bounded and terminated */
	char key[300];
	memset(key, 'k', sizeof(key) - 1);
	key[sizeof(key) - 1] = '\0';
	j = json_object();
	json_object_set_new(j, key, json_integer(1));
	ok(gl_valid_object(fields, j, true, &fail) == GL_E_VALIDATION, "long unknown key refused");
	ok(strlen(fail.field) < sizeof(fail.field) && strncmp(fail.field, "kkkk", 4) == 0,
	   "long key: field bounded (%zu)", strlen(fail.field));
	json_decref(j);
}

static void
test_checks(void)
{
	static const char *const emails_ok[] = {
		"a@b.io",
		"first.last@example.com",
		"x+tag@sub.example.co.uk",
		"\xc3\xa9@b.fr",
	};
	static const char *const emails_bad[] = {
		"",         "a",        "@",          "a@",       "@b.io",
		"a@b",      "a@b.",     "a@.b",       "a@@b.io",  "a@b@c.io",
		"a b@c.io", "a\t@b.io", "\"a\"@b.io", "<a@b.io>", "a@b.io\x7f",
	};
	static const char *const cur_ok[] = { "EUR", "USD", "GBP", "JPY" };
	static const char *const cur_bad[] = { "",     "E",   "EU",  "eur",
		                               "EURO", "EU1", "E R", "\xe2\x82\xac" };

	for (size_t i = 0; i < sizeof(emails_ok) / sizeof(*emails_ok); i++)
		ok(gl_valid_email(emails_ok[i]) == NULL, "email '%s' accepted", emails_ok[i]);
	for (size_t i = 0; i < sizeof(emails_bad) / sizeof(*emails_bad); i++) {
		const char *why = gl_valid_email(emails_bad[i]);
		ok(why != NULL && *why != '\0', "email '%s' refused", emails_bad[i]);
	}
	for (size_t i = 0; i < sizeof(cur_ok) / sizeof(*cur_ok); i++)
		ok(gl_valid_currency(cur_ok[i]) == NULL, "currency '%s' accepted", cur_ok[i]);
	for (size_t i = 0; i < sizeof(cur_bad) / sizeof(*cur_bad); i++)
		ok(gl_valid_currency(cur_bad[i]) != NULL, "currency '%s' refused", cur_bad[i]);

	ok(gl_valid_utf8_len("") == 0, "utf8_len ''");
	ok(gl_valid_utf8_len("abc") == 3, "utf8_len abc");
	ok(gl_valid_utf8_len("\xc3\xa9") == 1, "utf8_len e-acute");
	ok(gl_valid_utf8_len("\xe2\x82\xac\xf0\x9f\x8d\x95x") == 3, "utf8_len euro pizza x");

	/* cut: never half a character at the end (a snprintf into a byte buffer) */
	{
		char a[] = "ab\xc3", b[] = "a\xf0\x9f\x8d", c[] = "a\xf0\x9f\x8d\x95",
		     d[] = "\xe2\x82";
		ok(gl_valid_utf8_cut(a) == 2 && strcmp(a, "ab") == 0, "cut: a lone lead byte goes");
		ok(gl_valid_utf8_cut(b) == 1 && strcmp(b, "a") == 0, "cut: 3 of 4 bytes go");
		ok(gl_valid_utf8_cut(c) == 5, "cut: a whole character stays");
		ok(gl_valid_utf8_cut(d) == 0 && d[0] == '\0', "cut: only a part of one");
	}
	/* max_bytes: a byte limit beside the characters' (issue 15) */
	{
		static const struct gl_field f[] = {
			{ "e", GL_T_STRING, 0, 1, 10, .max_bytes = 6 },
			{ "t", GL_T_STRINGS, 0, 0, 2, .item_max = 3, .max_bytes = 4 },
			{ 0 },
		};
		struct gl_valid_fail fail;
		json_t *j;

		j = json_loads("{\"e\":\"\xc3\xa9\xc3\xa9\xc3\xa9\"}", 0, NULL);
		ok(gl_valid_object(f, j, false, &fail) == GL_OK, "3 characters in 6 bytes fit");
		json_decref(j);
		j = json_loads("{\"e\":\"\xc3\xa9\xc3\xa9\xc3\xa9"
		               "a\"}",
		               0, NULL);
		ok(gl_valid_object(f, j, false, &fail) == GL_E_VALIDATION &&
		           strcmp(fail.field, "e") == 0 && strstr(fail.message, "bytes") != NULL,
		   "4 characters in 7 bytes do not: %s", fail.message);
		json_decref(j);
		j = json_loads("{\"t\":[\"\xc3\xa9\xc3\xa9"
		               "a\"]}",
		               0, NULL);
		ok(gl_valid_object(f, j, false, &fail) == GL_E_VALIDATION &&
		           strcmp(fail.field, "t[0]") == 0,
		   "an array's item has the byte limit too");
		json_decref(j);
	}
}

/* ---- query strings ---- */

static const struct gl_field page_fields[] = {
	{ .name = "limit", .type = GL_T_INT, .min = 1, .max = 200 },
	{ .name = "after", .type = GL_T_OID },
	{ 0 },
};

static const struct gl_field search_fields[] = {
	{ .name = "q", .type = GL_T_STRING, .min = 0, .max = 50 },
	{ .name = "state", .type = GL_T_ENUM, .values = states },
	{ .name = "open", .type = GL_T_BOOL },
	{ .name = "limit", .type = GL_T_INT, .min = 1, .max = 200 },
	{ 0 },
};

struct query_case {
	const struct gl_field *fields;
	const char *query;
	enum gl_err want;
	const char *field;  /* fail->field when failing */
	const char *result; /* the typed object, as compact JSON, when GL_OK */
};

static const struct query_case query_cases[] = {
	{ page_fields, "limit=10&after=" OID, GL_OK, NULL, "{\"limit\":10,\"after\":\"" OID "\"}" },
	{ page_fields, "after=" OID "&limit=10", GL_OK, NULL,
	  "{\"after\":\"" OID "\",\"limit\":10}" },
	{ page_fields, "", GL_OK, NULL, "{}" },
	{ page_fields, NULL, GL_OK, NULL, "{}" },
	{ page_fields, "limit=1", GL_OK, NULL, "{\"limit\":1}" },
	{ page_fields, "limit=200", GL_OK, NULL, "{\"limit\":200}" },
	{ page_fields, "limit=007", GL_OK, NULL, "{\"limit\":7}" },
	{ page_fields, "&limit=5&", GL_OK, NULL, "{\"limit\":5}" },
	{ page_fields, "limit=%31%30", GL_OK, NULL, "{\"limit\":10}" },
	{ page_fields, "li%6Dit=3", GL_OK, NULL, "{\"limit\":3}" },
	{ page_fields, "limit=0", GL_E_VALIDATION, "limit", NULL },
	{ page_fields, "limit=-1", GL_E_VALIDATION, "limit", NULL },
	{ page_fields, "limit=201", GL_E_VALIDATION, "limit", NULL },
	{ page_fields, "limit=abc", GL_E_VALIDATION, "limit", NULL },
	{ page_fields, "limit=", GL_E_VALIDATION, "limit", NULL },
	{ page_fields, "limit", GL_E_VALIDATION, "limit", NULL },
	{ page_fields, "limit=1e3", GL_E_VALIDATION, "limit", NULL },
	{ page_fields, "limit=1.0", GL_E_VALIDATION, "limit", NULL },
	{ page_fields, "limit=+5", GL_E_VALIDATION, "limit", NULL },
	{ page_fields, "limit= 5", GL_E_VALIDATION, "limit", NULL },
	{ page_fields, "limit=5-", GL_E_VALIDATION, "limit", NULL },
	{ page_fields, "limit=0x10", GL_E_VALIDATION, "limit", NULL },
	{ page_fields, "limit=99999999999999999999", GL_E_VALIDATION, "limit", NULL },
	{ page_fields, "limit=9223372036854775808", GL_E_VALIDATION, "limit", NULL },
	{ page_fields, "limit=10&limit=10", GL_E_VALIDATION, "limit", NULL },
	{ page_fields, "limit=10&limit=20", GL_E_VALIDATION, "limit", NULL },
	{ page_fields, "limit=10&sort=name", GL_E_VALIDATION, "sort", NULL },
	{ page_fields, "Limit=10", GL_E_VALIDATION, "Limit", NULL },
	{ page_fields, "$where=1", GL_E_VALIDATION, "$where", NULL },
	{ page_fields, "after=", GL_E_VALIDATION, "after", NULL },
	{ page_fields, "after=5f1e2d3c4b5a69788796a5b", GL_E_VALIDATION, "after", NULL },
	{ page_fields, "after=5f1e2d3c4b5a69788796a5b4c", GL_E_VALIDATION, "after", NULL },
	{ page_fields, "after=5f1e2d3c4b5a69788796a5bz", GL_E_VALIDATION, "after", NULL },
	{ page_fields, "limit=%zz", GL_E_VALIDATION, "", NULL },
	{ page_fields, "limit=%4", GL_E_VALIDATION, "", NULL },
	{ page_fields, "limit=1%", GL_E_VALIDATION, "", NULL },
	{ page_fields, "limit=%00", GL_E_VALIDATION, "", NULL },
	{ page_fields, "lim%zzit=1", GL_E_VALIDATION, "", NULL },
	{ page_fields, "limit%00=1", GL_E_VALIDATION, "", NULL },
	{ NULL, "", GL_OK, NULL, "{}" },
	{ NULL, "limit=10", GL_E_VALIDATION, "limit", NULL },
	/* string and bool parameters, '+' and escapes */
	{ search_fields, "q=a+b", GL_OK, NULL, "{\"q\":\"a b\"}" },
	{ search_fields, "q=a%2Bb", GL_OK, NULL, "{\"q\":\"a+b\"}" },
	{ search_fields, "q=a%20b%26c%3Dd", GL_OK, NULL, "{\"q\":\"a b&c=d\"}" },
	{ search_fields, "q=%C3%A9t%C3%A9", GL_OK, NULL, "{\"q\":\"\xc3\xa9t\xc3\xa9\"}" },
	{ search_fields, "q=", GL_OK, NULL, "{\"q\":\"\"}" },
	{ search_fields, "q=a=b", GL_OK, NULL, "{\"q\":\"a=b\"}" },
	{ search_fields, "q=%ff", GL_E_VALIDATION, "q", NULL },
	{ search_fields, "q=%C3", GL_E_VALIDATION, "q", NULL },
	{ search_fields, "open=true&q=x", GL_OK, NULL, "{\"open\":true,\"q\":\"x\"}" },
	{ search_fields, "open=false", GL_OK, NULL, "{\"open\":false}" },
	{ search_fields, "open=1", GL_E_VALIDATION, "open", NULL },
	{ search_fields, "open=TRUE", GL_E_VALIDATION, "open", NULL },
	{ search_fields, "q=123456789012345678901234567890123456789012345678901", GL_E_VALIDATION,
	  "q", NULL },
	{ search_fields, "state=shut", GL_OK, NULL, "{\"state\":\"shut\"}" },
	{ search_fields, "state=sh%75t", GL_OK, NULL, "{\"state\":\"shut\"}" },
	{ search_fields, "state=closed", GL_E_VALIDATION, "state", NULL },
	{ search_fields, "state=", GL_E_VALIDATION, "state", NULL },
	{ search_fields, "q=12345678901234567890123456789012345678901234567890", GL_OK, NULL,
	  "{\"q\":\"12345678901234567890123456789012345678901234567890\"}" },
};

static void
test_query_table(void)
{
	for (size_t i = 0; i < sizeof(query_cases) / sizeof(query_cases[0]); i++) {
		const struct query_case *c = &query_cases[i];
		struct gl_valid_fail fail;
		json_t *out = (json_t *)1;
		enum gl_err err;

		memset(&fail, 'x', sizeof(fail));
		err = gl_valid_query(c->fields, c->query, &out, &fail);
		ok(err == c->want, "query case %zu '%s' -> %d (got %d: '%.96s' %.160s)", i,
		   c->query ? c->query : "(null)", (int)c->want, (int)err, err ? fail.field : "",
		   err ? fail.message : "");
		if (err == GL_OK && c->want == GL_OK) {
			char *s = out != NULL ? json_dumps(out, JSON_COMPACT | JSON_PRESERVE_ORDER)
			                      : NULL;
			is_str(s, c->result, "query case %zu: typed result", i);
			free(s);
		} else if (err != GL_OK && c->want != GL_OK) {
			ok(out == NULL, "query case %zu: *out is NULL on failure", i);
			is_str(fail.field, c->field, "query case %zu: field", i);
			ok(fail.message[0] != '\0', "query case %zu: a message", i);
		}
		if (err == GL_OK)
			json_decref(out);
	}
}

static void
test_query_types(void)
{
	struct gl_valid_fail fail;
	json_t *out;

	ok(gl_valid_query(page_fields, "limit=10&after=" OID, &out, &fail) == GL_OK, "page query");
	json_t *limit = json_object_get(out, "limit");
	ok(json_is_integer(limit) && json_integer_value(limit) == 10, "limit is a JSON integer 10");
	ok(json_is_string(json_object_get(out, "after")), "after is a JSON string");
	ok(json_object_size(out) == 2, "exactly two keys");
	json_decref(out);

	ok(gl_valid_query(page_fields, "", &out, &fail) == GL_OK, "empty query");
	ok(json_is_object(out) && json_object_get(out, "limit") == NULL, "defaults absent");
	json_decref(out);
}

static void
test_query_limits(void)
{
	struct gl_valid_fail fail;
	json_t *out;
	char *q;
	size_t n;

	/* 2048 bytes is fine, 2049 is not */
	q = malloc(4096);
	strcpy(q, "q=");
	n = strlen(q);
	memset(q + n, '&', 2048 - n);
	q[2048] = '\0';
	ok(gl_valid_query(search_fields, q, &out, &fail) == GL_OK, "2048-byte query accepted");
	json_decref(out);
	q[2048] = '&';
	q[2049] = '\0';
	ok(gl_valid_query(search_fields, q, &out, &fail) == GL_E_VALIDATION,
	   "2049-byte query refused");
	ok(out == NULL, "2049: *out NULL");
	memset(q, 'a', 4095);
	q[4095] = '\0';
	memcpy(q, "q=", 2);
	ok(gl_valid_query(search_fields, q, &out, &fail) == GL_E_VALIDATION,
	   "4095-byte query refused");
	free(q);

	/* a long value within the byte limit reaches the field's own check */
	q = malloc(2049);
	memcpy(q, "q=", 2);
	memset(q + 2, 'v', 2046);
	q[2048] = '\0';
	ok(gl_valid_query(search_fields, q, &out, &fail) == GL_E_VALIDATION,
	   "2046-char value refused by max");
	is_str(fail.field, "q", "long value: field");
	free(q);

	/* an over-long key */
	char key[128];
	memset(key, 'k', 100);
	strcpy(key + 100, "=1");
	ok(gl_valid_query(search_fields, key, &out, &fail) == GL_E_VALIDATION,
	   "100-byte key refused");

	/* 16 parameters are fine, 17 are too many */
	static const struct gl_field many[] = {
		{ "a", GL_T_INT, 0, 0, 9 }, { "b", GL_T_INT, 0, 0, 9 }, { "c", GL_T_INT, 0, 0, 9 },
		{ "d", GL_T_INT, 0, 0, 9 }, { "e", GL_T_INT, 0, 0, 9 }, { "f", GL_T_INT, 0, 0, 9 },
		{ "g", GL_T_INT, 0, 0, 9 }, { "h", GL_T_INT, 0, 0, 9 }, { "i", GL_T_INT, 0, 0, 9 },
		{ "j", GL_T_INT, 0, 0, 9 }, { "k", GL_T_INT, 0, 0, 9 }, { "l", GL_T_INT, 0, 0, 9 },
		{ "m", GL_T_INT, 0, 0, 9 }, { "n", GL_T_INT, 0, 0, 9 }, { "o", GL_T_INT, 0, 0, 9 },
		{ "p", GL_T_INT, 0, 0, 9 }, { "q", GL_T_INT, 0, 0, 9 }, { 0 },
	};
	const char *q16 = "a=1&b=1&c=1&d=1&e=1&f=1&g=1&h=1&i=1&j=1&k=1&l=1&m=1&n=1&o=1&p=1";
	const char *q17 = "a=1&b=1&c=1&d=1&e=1&f=1&g=1&h=1&i=1&j=1&k=1&l=1&m=1&n=1&o=1&p=1&q=1";
	ok(gl_valid_query(many, q16, &out, &fail) == GL_OK, "16 parameters accepted");
	ok(out != NULL && json_object_size(out) == 16, "16 parameters parsed");
	json_decref(out);
	ok(gl_valid_query(many, q17, &out, &fail) == GL_E_VALIDATION, "17 parameters refused");
	ok(out == NULL, "17: *out NULL");
	/* 17 of the same name are refused too, whichever check comes first */
	ok(gl_valid_query(page_fields,
	                  "limit=1&limit=1&limit=1&limit=1&limit=1&limit=1&limit=1&limit=1&limit=1&"
	                  "limit=1&limit=1&limit=1&limit=1&limit=1&limit=1&limit=1&limit=1",
	                  &out, &fail) == GL_E_VALIDATION,
	   "17 duplicates refused");

	/* required query fields are enforced */
	static const struct gl_field need[] = { { "id", GL_T_OID, GL_REQUIRED }, { 0 } };
	ok(gl_valid_query(need, "", &out, &fail) == GL_E_VALIDATION, "required query parameter");
	is_str(fail.field, "id", "required query parameter: field");
}

/* Allocation-failure sweep: the Nth allocation jansson asks for fails. */
static long alloc_countdown = -1; /* -1: never fail */
static long alloc_failed;

static void *
failing_malloc(size_t n)
{
	if (alloc_countdown == 0) {
		alloc_failed++;
		return NULL;
	}
	if (alloc_countdown > 0)
		alloc_countdown--;
	return malloc(n);
}

static void
test_query_alloc_failures(void)
{
	static const char *const queries[] = {
		"limit=10&after=" OID,
		"q=a+b&open=true&limit=5",
	};
	static const char *const want[] = {
		"{\"limit\":10,\"after\":\"" OID "\"}",
		"{\"q\":\"a b\",\"open\":true,\"limit\":5}",
	};
	const struct gl_field *tables[] = { page_fields, search_fields };

	for (size_t i = 0; i < 2; i++) {
		int bad_ok = 0, bad_err = 0, steps = 0;

		for (long n = 0; n < 1000; n++) {
			struct gl_valid_fail fail;
			json_t *out = NULL;
			enum gl_err err;
			char *s;

			alloc_countdown = n;
			alloc_failed = 0;
			json_set_alloc_funcs(failing_malloc, free);
			err = gl_valid_query(tables[i], queries[i], &out, &fail);
			json_set_alloc_funcs(malloc, free);
			steps++;
			if (err == GL_OK) {
				s = json_dumps(out, JSON_COMPACT | JSON_PRESERVE_ORDER);
				if (s == NULL || strcmp(s, want[i]) != 0) {
					bad_ok++;
					printf("# fail at allocation %ld: GL_OK with %s\n", n,
					       s ? s : "(null)");
				}
				free(s);
				json_decref(out);
			} else if (err != GL_E_INTERNAL) {
				bad_err++;
				printf("# fail at allocation %ld: err %d field '%s' (%s)\n", n,
				       (int)err, fail.field, fail.message);
			}
			if (alloc_failed == 0)
				break; /* every allocation succeeded: the sweep is complete */
		}
		ok(steps > 1, "query %zu: the sweep failed %d allocations", i, steps - 1);
		ok(bad_ok == 0, "query %zu: GL_OK only with the full, right result (%d wrong)", i,
		   bad_ok);
		ok(bad_err == 0,
		   "query %zu: an allocation failure is GL_E_INTERNAL, not a client error "
		   "(%d otherwise)",
		   i, bad_err);
	}
}

static const struct gl_field one_state[] = {
	{ "state", GL_T_ENUM, .values = states },
	{ 0 },
};

/* What a wrong enum value and a repeated object are told; the email lowering. */
static void
test_enum_unique_lower(void)
{
	struct gl_valid_fail fail;
	char *low;
	json_t *j;

	j = json_loads("{\"name\":\"ab\",\"state\":\"closed\"}", 0, NULL);
	ok(gl_valid_object(fields, j, false, &fail) == GL_E_VALIDATION, "a wrong enum value");
	is_str(fail.message, "must be one of: open, shut", "its message names the values");
	json_decref(j);
	j = json_loads("{\"name\":\"ab\",\"each\":[" LINE "," LINE2 "," LINE "]}", 0, NULL);
	ok(gl_valid_object(fields, j, false, &fail) == GL_E_VALIDATION, "a repeated item_id");
	is_str(fail.message, "repeats each[0]: one per item_id", "its message names the first");
	json_decref(j);
	/* {"\u0073\u0074...":"\u006f..."}: the key's 5 and the longest value's 4 characters */
	ok(gl_valid_json_max(one_state) == 2 + (2 + 6 * 5) + 1 + (2 + 6 * 4) + 1,
	   "an enum's worst case is its longest value escaped");
	ok(gl_valid_query_max(one_state) == 3 * 5 + 1 + 3 * 4 + 1,
	   "an enum's longest query is its longest value percent-encoded");

	low = gl_valid_lower_dup("Ab.C@Ex\xc3\x89.COM");
	is_str(low, "ab.c@ex\xc3\x89.com", "A-Z lowered, other bytes as they are");
	free(low);
	j = json_pack("{s:s}", "email", "X@Y.Z");
	gl_valid_lower(j, "email");
	is_str(json_string_value(json_object_get(j, "email")), "x@y.z", "lowered in an object");
	json_decref(j);
}

int
main(void)
{
	test_object_table();
	test_enum_unique_lower();
	test_object_misc();
	test_checks();
	test_query_table();
	test_query_types();
	test_query_limits();
	test_query_alloc_failures();
	return done_testing();
}
