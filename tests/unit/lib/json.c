/* Unit tests for lib/json.c: parsing request bodies, dumping replies. */
#include <stdlib.h>
#include <string.h>

#include "../tap.h"
#include "json.h"

/* Printable ASCII only, so no client byte (raw or control) can reach a response or a log. */
static int
printable(const char *s)
{
	for (; *s != '\0'; s++)
		if ((unsigned char)*s < 0x20 || (unsigned char)*s > 0x7e)
			return 0;
	return 1;
}

static void
test_valid(void)
{
	static const char body[] = "{\"a\":1,\"b\":[true,null,\"\xc3\xa9\"],\"c\":{\"d\":1.5}}";
	char msg[256] = "untouched";
	json_t *j = (json_t *)1;

	ok(gl_json_parse_object(body, strlen(body), &j, msg, sizeof(msg)) == GL_OK,
	   "object parses");
	ok(json_is_object(j), "*out is the object");
	ok(json_integer_value(json_object_get(j, "a")) == 1, "a = 1");
	json_decref(j);

	ok(gl_json_parse_object("{}", 2, &j, msg, sizeof(msg)) == GL_OK, "{} parses");
	ok(json_is_object(j) && json_object_size(j) == 0, "{} is empty");
	json_decref(j);

	ok(gl_json_parse_object(" \n\t{ } \n", 8, &j, msg, sizeof(msg)) == GL_OK,
	   "whitespace around an object");
	json_decref(j);

	/* only the first len bytes count: no NUL needed, trailing bytes ignored */
	static const char longer[] = "{\"k\":\"v\"}GARBAGE{";
	ok(gl_json_parse_object(longer, 9, &j, msg, sizeof(msg)) == GL_OK, "first 9 bytes parse");
	ok(j != NULL && strcmp(json_string_value(json_object_get(j, "k")), "v") == 0, "k = v");
	json_decref(j);
	char raw[7];
	memcpy(raw, "{\"a\":2}", 7); /* no terminator at all */
	ok(gl_json_parse_object(raw, sizeof(raw), &j, msg, sizeof(msg)) == GL_OK,
	   "unterminated buffer parses");
	json_decref(j);
	ok(gl_json_parse_object(longer, 8, &j, msg, sizeof(msg)) == GL_E_INVALID_JSON,
	   "a cut object (8 bytes) fails");
	ok(j == NULL, "cut object: *out NULL");
}

struct bad_case {
	const char *name;
	const char *buf;
	size_t len; /* 0: strlen(buf) */
};

static const struct bad_case bad_cases[] = {
	{ "malformed", "{\"a\":", 0 },
	{ "unclosed", "{\"a\":1", 0 },
	{ "bare key", "{a:1}", 0 },
	{ "single quotes", "{'a':1}", 0 },
	{ "trailing comma", "{\"a\":1,}", 0 },
	{ "duplicate keys", "{\"a\":1,\"a\":2}", 0 },
	{ "nested duplicate keys", "{\"o\":{\"b\":1,\"b\":1}}", 0 },
	{ "NUL escape", "{\"a\":\"x\\u0000y\"}", 0 },
	{ "NUL escape in a key", "{\"x\\u0000\":1}", 0 },
	{ "raw NUL byte", "{\"a\":\"x\0y\"}", 12 },
	{ "invalid UTF-8 byte", "{\"a\":\"\xff\"}", 0 },
	{ "truncated UTF-8", "{\"a\":\"\xc3\"}", 0 },
	{ "overlong UTF-8", "{\"a\":\"\xc0\xaf\"}", 0 },
	{ "UTF-16 surrogate in UTF-8", "{\"a\":\"\xed\xa0\x80\"}", 0 },
	{ "lone surrogate escape", "{\"a\":\"\\ud800\"}", 0 },
	{ "control character", "{\"a\":\"x\ny\"}", 0 },
	{ "trailing garbage", "{\"a\":1} x", 0 },
	{ "two objects", "{}{}", 0 },
	{ "empty input", "", 0 },
	{ "whitespace only", "  \n ", 0 },
	{ "NaN", "{\"a\":NaN}", 0 },
	{ "huge integer", "{\"a\":99999999999999999999999}", 0 },
	{ "scalar", "42", 0 },
	{ "string", "\"s\"", 0 },
	{ "null", "null", 0 },
};

static void
test_bad(void)
{
	for (size_t i = 0; i < sizeof(bad_cases) / sizeof(bad_cases[0]); i++) {
		const struct bad_case *c = &bad_cases[i];
		size_t len = c->len ? c->len : strlen(c->buf);
		char msg[256];
		json_t *j = (json_t *)1;
		enum gl_err err;

		memset(msg, 0, sizeof(msg));
		err = gl_json_parse_object(c->buf, len, &j, msg, sizeof(msg));
		ok(err == GL_E_INVALID_JSON, "%s -> invalid_json (got %d)", c->name, (int)err);
		ok(j == NULL, "%s: *out NULL", c->name);
		if (err == GL_OK)
			json_decref(j);
		ok((strstr(msg, "line ") != NULL && strstr(msg, "column ") != NULL) ||
		           strcmp(msg, "the body must be a JSON object") == 0,
		   "%s: message has line and column: '%s'", c->name, msg);
		ok(msg[0] != '\0' && printable(msg), "%s: message is printable ASCII", c->name);
	}
}

static void
test_not_object(void)
{
	char msg[256];
	json_t *j = (json_t *)1;

	ok(gl_json_parse_object("[1,2]", 5, &j, msg, sizeof(msg)) == GL_E_INVALID_JSON,
	   "array -> invalid_json");
	is_str(msg, "the body must be a JSON object", "array: message");
	ok(j == NULL, "array: *out NULL");
	ok(gl_json_parse_object("[]", 2, &j, msg, sizeof(msg)) == GL_E_INVALID_JSON,
	   "[] -> invalid_json");
	is_str(msg, "the body must be a JSON object", "[]: message");
}

/* A message never quotes the body, wherever the bad bytes sit. */
static void
test_no_echo(void)
{
	static const char *const bodies[] = {
		"{\"a\": zqxj}",
		"{\"a\":1 zqxj}",
		"{zqxj:1}",
		"{\"a\":1}zqxj",
		"zqxj",
		"{\"a\":\"zqxj\\q\"}",
		"{\"a\":[1,2,zqxjzqxjzqxjzqxjzqxjzqxj]}",
		"{\"zqxj\":1,\"zqxj\":2}",
		"{\"a\":-zqxj}",
		"{\"a\":1ezqxj}",
		"{\"a\":tzqxj}",
		"{\"a\":\"\\uzqxj\"}",
		"{\"a\":\"\\ud800\\uzqxj\"}",
		"{\"zqxj\":\"\xff\"}",
		"{\"a\":\"\xffzqxj\"}",
		"\xff{\"zqxj\":1}",
		"{\"a\":1,\xff:\"zqxj\"}",
		"{\"a\":\"zqxj\x01\"}",
		"{\"a\":\"<script>zqxj\"",
	};

	for (size_t i = 0; i < sizeof(bodies) / sizeof(bodies[0]); i++) {
		char msg[512];
		json_t *j = NULL;
		enum gl_err err;

		memset(msg, 0, sizeof(msg));
		err = gl_json_parse_object(bodies[i], strlen(bodies[i]), &j, msg, sizeof(msg));
		ok(err == GL_E_INVALID_JSON, "echo case %zu: invalid_json", i);
		if (err == GL_OK)
			json_decref(j);
		ok(strstr(msg, "zqxj") == NULL && strstr(msg, "zqx") == NULL &&
		           strstr(msg, "qxj") == NULL,
		   "echo case %zu: message does not quote the body: '%s'", i, msg);
		ok(printable(msg), "echo case %zu: message is printable ASCII", i);
		ok(strchr(msg, '<') == NULL, "echo case %zu: no markup from the body", i);
		ok(strstr(msg, "line ") != NULL && strstr(msg, "column ") != NULL,
		   "echo case %zu: line and column", i);
	}
}

static void
test_position(void)
{
	char msg[256];
	json_t *j;

	ok(gl_json_parse_object("{\n\"a\":1,\n\"b\": x}", 16, &j, msg, sizeof(msg)) ==
	           GL_E_INVALID_JSON,
	   "error on line 3");
	ok(strstr(msg, "line 3") != NULL, "message names line 3: '%s'", msg);

	/* a small message buffer truncates, always terminated */
	char small[16];
	memset(small, 'x', sizeof(small));
	ok(gl_json_parse_object("{", 1, &j, small, sizeof(small)) == GL_E_INVALID_JSON,
	   "small buffer");
	ok(memchr(small, '\0', sizeof(small)) != NULL, "small buffer terminated");
}

static void
test_dump(void)
{
	json_t *j = json_object();
	char *s;

	json_object_set_new(j, "zeta", json_integer(1));
	json_object_set_new(j, "alpha", json_string("\xc3\xa9"));
	json_object_set_new(j, "mid", json_pack("{s:b,s:n,s:[i,i]}", "y", 1, "x", "l", 1, 2));
	json_object_set_new(j, "beta", json_real(1.5));
	s = gl_json_dump_new(j);
	is_str(s,
	       "{\"zeta\":1,\"alpha\":\"\xc3\xa9\",\"mid\":{\"y\":true,\"x\":null,\"l\":[1,2]},"
	       "\"beta\":1.5}",
	       "dump keeps insertion order, compact");
	free(s);
	json_decref(j);

	j = json_array();
	s = gl_json_dump_new(j);
	is_str(s, "[]", "dump of []");
	free(s);
	json_decref(j);

	/* parse then dump keeps the body's key order */
	static const char body[] = "{\"c\":1,\"a\":2,\"b\":{\"z\":1,\"y\":2}}";
	char msg[128];
	ok(gl_json_parse_object(body, strlen(body), &j, msg, sizeof(msg)) == GL_OK,
	   "parse for dump");
	s = gl_json_dump_new(j);
	is_str(s, body, "parse + dump round-trips with order");
	free(s);
	json_decref(j);
}

int
main(void)
{
	test_valid();
	test_bad();
	test_not_object();
	test_no_echo();
	test_position();
	test_dump();
	return done_testing();
}
