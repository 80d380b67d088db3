/* Unit tests for lib/doc.c: ObjectIds, BSON -> API JSON, JSON -> BSON by field table. */
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "../tap.h"
#include "doc.h"

#define OID  "5f1e2d3c4b5a69788796a5b4"
#define OID2 "000000000000000000000001"

/* Compact JSON with keys in order: the form every comparison below uses. */
static char *
dump(const json_t *j)
{
	return j != NULL ? json_dumps(j, JSON_COMPACT | JSON_PRESERVE_ORDER) : NULL;
}

/* Find a dotted path ("lines.0.qty") in doc. */
static bool
find(const bson_t *doc, const char *path, bson_iter_t *it)
{
	bson_iter_t top;

	return bson_iter_init(&top, doc) && bson_iter_find_descendant(&top, path, it);
}

static void
test_oid_parse(void)
{
	static const struct {
		const char *s;
		bool want;
	} cases[] = {
		{ OID, true },
		{ "5F1E2D3C4B5A69788796A5B4", true },
		{ "000000000000000000000000", true },
		{ "ffffffffffffffffffffffff", true },
		{ "5f1e2d3c4b5a69788796a5b", false },   /* 23 */
		{ "5f1e2d3c4b5a69788796a5b4c", false }, /* 25 */
		{ "5f1e2d3c4b5a69788796a5bg", false },
		{ "5f1e2d3c4b5a69788796a5b ", false },
		{ " 5f1e2d3c4b5a69788796a5b", false },
		{ "0x1e2d3c4b5a69788796a5b4", false },
		{ "", false },
	};
	bson_oid_t oid, want;

	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++)
		ok(gl_oid_parse(cases[i].s, &oid) == cases[i].want, "gl_oid_parse('%s') = %d",
		   cases[i].s, cases[i].want);
	ok(!gl_oid_parse(NULL, &oid), "gl_oid_parse(NULL) = false");

	char buf[25];
	ok(gl_oid_parse(OID, &oid), "parse " OID);
	bson_oid_to_string(&oid, buf);
	is_str(buf, OID, "parsed value round-trips");
	bson_oid_init_from_string(&want, OID);
	ok(bson_oid_equal(&oid, &want), "parsed value equals libbson's");
	ok(gl_oid_parse("5F1E2D3C4B5A69788796A5B4", &oid) && bson_oid_equal(&oid, &want),
	   "upper case parses to the same id");
}

static void
test_time(void)
{
	static const struct {
		int64_t ms;
		const char *want;
	} cases[] = {
		{ 0, "1970-01-01T00:00:00Z" },
		{ 999, "1970-01-01T00:00:00Z" },
		{ 1000, "1970-01-01T00:00:01Z" },
		{ 1700000000123LL, "2023-11-14T22:13:20Z" },
		{ 951782400000LL, "2000-02-29T00:00:00Z" },
		{ 4102444799999LL, "2099-12-31T23:59:59Z" },
		{ -1000, "1969-12-31T23:59:59Z" },
		/* before the epoch, seconds round down (floor), not towards zero */
		{ -1, "1969-12-31T23:59:59Z" },
		{ -1500, "1969-12-31T23:59:58Z" },
	};
	char buf[32];

	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		memset(buf, 'x', sizeof(buf));
		gl_doc_time(buf, sizeof(buf), cases[i].ms);
		is_str(buf, cases[i].want, "gl_doc_time(%lld)", (long long)cases[i].ms);
	}
	/* Parsing reads back what formatting wrote, to the second. */
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		int64_t secs = -42, want = cases[i].ms / 1000 - (cases[i].ms % 1000 < 0);
		ok(gl_doc_time_parse(cases[i].want, &secs) && secs == want,
		   "gl_doc_time_parse(%s) = %lld", cases[i].want, (long long)secs);
	}
	static const char *const bad[] = { "",
		                           "2026-11-23",
		                           "2026-11-23T10:00:00",
		                           "2026-11-23T10:00:00+01:00",
		                           "2026-11-23T10:00:00Zjunk",
		                           "2026-13-23T10:00:00Z",
		                           "later" };
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		int64_t secs;
		ok(!gl_doc_time_parse(bad[i], &secs), "gl_doc_time_parse refuses \"%s\"", bad[i]);
	}
	ok(!gl_doc_time_parse(NULL, NULL), "gl_doc_time_parse refuses NULL");
}

static void
test_to_json(void)
{
	bson_oid_t oid, oid2;
	bson_t doc = BSON_INITIALIZER, child, arr, inner;
	json_t *j;
	char *s;

	bson_oid_init_from_string(&oid, OID);
	bson_oid_init_from_string(&oid2, OID2);
	BSON_APPEND_OID(&doc, "_id", &oid);
	BSON_APPEND_INT32(&doc, "i32", -7);
	BSON_APPEND_INT64(&doc, "i64", 9007199254740993LL);
	BSON_APPEND_DOUBLE(&doc, "dbl", 1.5);
	BSON_APPEND_BOOL(&doc, "yes", true);
	BSON_APPEND_BOOL(&doc, "no", false);
	BSON_APPEND_NULL(&doc, "nil");
	BSON_APPEND_UTF8(&doc, "str", "caf\xc3\xa9 \"q\"");
	BSON_APPEND_OID(&doc, "ref", &oid2);
	BSON_APPEND_DATE_TIME(&doc, "at", 1700000000123LL);
	BSON_APPEND_ARRAY_BEGIN(&doc, "arr", &arr);
	BSON_APPEND_INT32(&arr, "0", 1);
	BSON_APPEND_UTF8(&arr, "1", "two");
	BSON_APPEND_DOCUMENT_BEGIN(&arr, "2", &inner);
	BSON_APPEND_OID(&inner, "_id", &oid2);
	bson_append_document_end(&arr, &inner);
	bson_append_array_end(&doc, &arr);
	BSON_APPEND_DOCUMENT_BEGIN(&doc, "sub", &child);
	BSON_APPEND_OID(&child, "_id", &oid2);
	BSON_APPEND_UTF8(&child, "k", "v");
	bson_append_document_end(&doc, &child);
	BSON_APPEND_DOCUMENT_BEGIN(&doc, "empty", &child);
	bson_append_document_end(&doc, &child);

	j = gl_doc_to_json_new(&doc);
	ok(j != NULL, "document renders");
	s = dump(j);
	is_str(s,
	       "{\"id\":\"" OID "\",\"i32\":-7,\"i64\":9007199254740993,\"dbl\":1.5,\"yes\":true,"
	       "\"no\":false,\"nil\":null,\"str\":\"caf\xc3\xa9 \\\"q\\\"\",\"ref\":\"" OID2 "\","
	       "\"at\":\"2023-11-14T22:13:20Z\",\"arr\":[1,\"two\",{\"_id\":\"" OID2 "\"}],"
	       "\"sub\":{\"_id\":\"" OID2 "\",\"k\":\"v\"},\"empty\":{}}",
	       "rendered JSON");
	ok(json_object_get(j, "_id") == NULL, "no _id at the top level");
	ok(json_is_integer(json_object_get(j, "i64")) &&
	           json_integer_value(json_object_get(j, "i64")) == 9007199254740993LL,
	   "int64 kept exactly");
	ok(json_is_real(json_object_get(j, "dbl")), "double is a real");
	ok(json_is_string(json_object_get(j, "at")), "date is a string");
	free(s);
	json_decref(j);
	bson_destroy(&doc);

	/* an empty document */
	bson_init(&doc);
	j = gl_doc_to_json_new(&doc);
	s = dump(j);
	is_str(s, "{}", "empty document");
	free(s);
	json_decref(j);
	bson_destroy(&doc);

	/* unsupported types make the whole rendering fail, at any depth */
	static const uint8_t bin[] = { 1, 2, 3 };
	bson_init(&doc);
	BSON_APPEND_UTF8(&doc, "a", "b");
	BSON_APPEND_BINARY(&doc, "bin", BSON_SUBTYPE_BINARY, bin, sizeof(bin));
	ok(gl_doc_to_json_new(&doc) == NULL, "binary -> NULL");
	bson_destroy(&doc);

	bson_init(&doc);
	BSON_APPEND_DOCUMENT_BEGIN(&doc, "sub", &child);
	BSON_APPEND_REGEX(&child, "re", "^a", "i");
	bson_append_document_end(&doc, &child);
	ok(gl_doc_to_json_new(&doc) == NULL, "nested regex -> NULL");
	bson_destroy(&doc);

	bson_init(&doc);
	BSON_APPEND_ARRAY_BEGIN(&doc, "arr", &arr);
	BSON_APPEND_TIMESTAMP(&arr, "0", 1, 2);
	bson_append_array_end(&doc, &arr);
	ok(gl_doc_to_json_new(&doc) == NULL, "timestamp in an array -> NULL");
	bson_destroy(&doc);

	bson_init(&doc);
	BSON_APPEND_UTF8(&doc, "s", "\xff");
	ok(gl_doc_to_json_new(&doc) == NULL, "invalid UTF-8 in a string -> NULL");
	bson_destroy(&doc);

	/* deep documents are bounded */
	bson_t *levels[64];
	levels[0] = bson_new();
	for (int i = 1; i < 64; i++) {
		levels[i] = bson_new();
	}
	BSON_APPEND_INT32(levels[63], "x", 1);
	for (int i = 62; i >= 0; i--)
		BSON_APPEND_DOCUMENT(levels[i], "d", levels[i + 1]);
	ok(gl_doc_to_json_new(levels[0]) == NULL, "64 levels -> NULL");
	j = gl_doc_to_json_new(levels[40]);
	ok(j != NULL, "24 levels render");
	json_decref(j);
	for (int i = 0; i < 64; i++)
		bson_destroy(levels[i]);
}

static const struct gl_field line_fields[] = {
	{ "item_id", GL_T_OID, GL_REQUIRED },
	{ "qty", GL_T_INT, GL_REQUIRED, 1, 99 },
	{ 0 },
};

static const struct gl_field fields[] = {
	{ "name", GL_T_STRING, GL_REQUIRED, 1, 50 },
	{ "price_cents", GL_T_INT, 0, 0, 10000000 },
	{ "supplier_id", GL_T_OID },
	{ "available", GL_T_BOOL },
	{ "tags", GL_T_STRINGS, 0, 0, 5, .item_max = 10 },
	{ "lines", GL_T_OBJECTS, 0, 0, 5, .fields = line_fields },
	{ 0 },
};

static void
test_append_fields(void)
{
	json_error_t jerr;
	bson_t out = BSON_INITIALIZER;
	bson_iter_t it, sub;
	json_t *in;

	/* keys in an order different from the table's, plus keys the table lacks */
	in = json_loads("{\"tags\":[\"hot\",\"veg\"],\"_id\":\"" OID2 "\",\"name\":\"Soup\","
	                "\"$set\":{\"x\":1},\"available\":true,\"price_cents\":450,"
	                "\"supplier_id\":\"" OID "\",\"lines\":[{\"qty\":2,\"item_id\":\"" OID2
	                "\",\"evil\":1}],\"version\":99}",
	                0, &jerr);
	ok(in != NULL, "test input parses");
	ok(gl_doc_append_fields(&out, fields, in), "append succeeds");

	int nkeys = 0;
	const char *order[8];
	bson_iter_init(&it, &out);
	while (bson_iter_next(&it) && nkeys < 8)
		order[nkeys++] = bson_iter_key(&it);
	ok(nkeys == 6, "six keys copied (got %d)", nkeys);
	if (nkeys == 6) {
		is_str(order[0], "name", "table order: name");
		is_str(order[1], "price_cents", "table order: price_cents");
		is_str(order[2], "supplier_id", "table order: supplier_id");
		is_str(order[3], "available", "table order: available");
		is_str(order[4], "tags", "table order: tags");
		is_str(order[5], "lines", "table order: lines");
	}
	ok(!bson_iter_init_find(&it, &out, "_id"), "_id not copied");
	ok(!bson_iter_init_find(&it, &out, "$set"), "$set not copied");
	ok(!bson_iter_init_find(&it, &out, "version"), "version not copied");

	ok(bson_iter_init_find(&it, &out, "name") && BSON_ITER_HOLDS_UTF8(&it), "name is UTF-8");
	ok(bson_iter_init_find(&it, &out, "price_cents") && BSON_ITER_HOLDS_INT64(&it) &&
	           bson_iter_int64(&it) == 450,
	   "price_cents is int64 450");
	ok(bson_iter_init_find(&it, &out, "supplier_id") && BSON_ITER_HOLDS_OID(&it),
	   "supplier_id is an ObjectId");
	if (BSON_ITER_HOLDS_OID(&it)) {
		char buf[25];
		bson_oid_to_string(bson_iter_oid(&it), buf);
		is_str(buf, OID, "supplier_id value");
	}
	ok(bson_iter_init_find(&it, &out, "available") && BSON_ITER_HOLDS_BOOL(&it) &&
	           bson_iter_bool(&it),
	   "available is bool true");
	ok(bson_iter_init_find(&it, &out, "tags") && BSON_ITER_HOLDS_ARRAY(&it),
	   "tags is an array");
	ok(find(&out, "tags.1", &it) && BSON_ITER_HOLDS_UTF8(&it) &&
	           strcmp(bson_iter_utf8(&it, NULL), "veg") == 0,
	   "tags.1 is 'veg'");
	ok(bson_iter_init_find(&it, &out, "lines") && BSON_ITER_HOLDS_ARRAY(&it),
	   "lines is an array");
	ok(find(&out, "lines.0", &it) && BSON_ITER_HOLDS_DOCUMENT(&it), "lines.0 is a document");
	ok(find(&out, "lines.0.item_id", &it) && BSON_ITER_HOLDS_OID(&it),
	   "lines.0.item_id is an ObjectId");
	ok(find(&out, "lines.0.qty", &it) && BSON_ITER_HOLDS_INT64(&it) &&
	           bson_iter_int64(&it) == 2,
	   "lines.0.qty is int64 2");
	ok(!find(&out, "lines.0.evil", &it), "a nested key absent from the table is dropped");
	ok(find(&out, "lines.0", &it) && bson_iter_recurse(&it, &sub) && bson_iter_next(&sub) &&
	           strcmp(bson_iter_key(&sub), "item_id") == 0,
	   "nested keys in table order");

	json_decref(in);
	bson_destroy(&out);

	/* absent keys are skipped; an empty object gives an empty document */
	bson_init(&out);
	in = json_object();
	ok(gl_doc_append_fields(&out, fields, in), "append {} succeeds");
	ok(bson_count_keys(&out) == 0, "append {} adds nothing");
	json_decref(in);
	bson_destroy(&out);
}

/* Run fn in a child: true when it returned normally (no abort, no crash). */
static bool
survives(void (*fn)(void))
{
	pid_t pid;
	int status;

	fflush(stdout);
	pid = fork();
	if (pid < 0)
		return false;
	if (pid == 0) {
		fn();
		_exit(0);
	}
	if (waitpid(pid, &status, 0) != pid)
		return false;
	return WIFEXITED(status) && WEXITSTATUS(status) == 0;
}

/* An id that cannot be parsed inside an object array: false, not a crash. */
static void
append_bad_nested_oid(void)
{
	bson_t out = BSON_INITIALIZER;
	json_t *in = json_loads("{\"name\":\"x\",\"lines\":[{\"item_id\":\"nope\",\"qty\":1}]}", 0,
	                        NULL);
	bool r = gl_doc_append_fields(&out, fields, in);

	json_decref(in);
	bson_destroy(&out);
	_exit(r ? 3 : 0);
}

static void
test_append_failure(void)
{
	bson_t out = BSON_INITIALIZER;
	json_t *in = json_loads("{\"supplier_id\":\"nope\"}", 0, NULL);

	ok(!gl_doc_append_fields(&out, fields, in), "unparseable top-level id -> false");
	json_decref(in);
	bson_destroy(&out);

	ok(survives(append_bad_nested_oid),
	   "unparseable id inside an object array -> false, no abort");
}

static void
test_round_trip(void)
{
	static const char *const bodies[] = {
		"{\"name\":\"Soup\",\"price_cents\":450,\"supplier_id\":\"" OID "\","
		"\"available\":false,\"tags\":[\"hot\",\"veg\"],"
		"\"lines\":[{\"item_id\":\"" OID2 "\",\"qty\":2},{\"item_id\":\"" OID
		"\",\"qty\":99}]}",
		"{\"name\":\"\xc3\xa9t\xc3\xa9\",\"tags\":[],\"lines\":[]}",
		"{\"name\":\"x\",\"price_cents\":0}",
	};

	for (size_t i = 0; i < sizeof(bodies) / sizeof(bodies[0]); i++) {
		bson_t doc = BSON_INITIALIZER;
		bson_oid_t id;
		json_t *in = json_loads(bodies[i], 0, NULL), *back, *want;
		char *s, *w;

		bson_oid_init_from_string(&id, OID2);
		BSON_APPEND_OID(&doc, "_id", &id);
		ok(in != NULL && gl_doc_append_fields(&doc, fields, in), "round trip %zu: to BSON",
		   i);
		back = gl_doc_to_json_new(&doc);
		ok(back != NULL, "round trip %zu: back to JSON", i);
		want = json_deep_copy(in);
		/* the id comes first, as "id" */
		json_t *ordered = json_object();
		json_object_set_new(ordered, "id", json_string(OID2));
		json_object_update(ordered, want);
		s = dump(back);
		w = dump(ordered);
		is_str(s, w, "round trip %zu: equal", i);
		ok(json_equal(back, ordered), "round trip %zu: json_equal", i);
		free(s);
		free(w);
		json_decref(ordered);
		json_decref(want);
		json_decref(back);
		json_decref(in);
		bson_destroy(&doc);
	}
}

int
main(void)
{
	test_oid_parse();
	test_time();
	test_to_json();
	test_append_fields();
	test_append_failure();
	test_round_trip();
	return done_testing();
}
