/* Unit tests of lib/etag.c: the tag of a body, and If-None-Match against it. */
#include <sodium.h>
#include <string.h>

#include "../tap.h"
#include "etag.h"

#define TAG "\"a2ba4675f173f4ade0b7c12563697480\"" /* BLAKE2b-128 of {"id":"x"} */

static void
test_tag(void)
{
	char a[GL_ETAG_SIZE], b[GL_ETAG_SIZE];

	gl_etag_of(a, "{\"id\":\"x\"}", 10);
	is_str(a, TAG,
	       "the tag is BLAKE2b-128 of the body, in hex, quoted (python's hashlib agrees)");
	gl_etag_of(b, "", 0);
	is_str(b, "\"cae66941d9efbd404e4d88758ea67670\"", "an empty body has a tag too");
	gl_etag_of(b, "{\"id\":\"y\"}", 10);
	ok(strcmp(a, b) != 0, "one byte more or less changes it");
	gl_etag_of(b, "{\"id\":\"x\"} ", 10);
	is_str(b, TAG, "only len bytes count");
}

static void
test_none_match(void)
{
	static const struct {
		const char *field;
		bool match;
		const char *what;
	} cases[] = {
		{ TAG, true, "the tag itself" },
		{ "W/" TAG, true, "its weak form (If-None-Match compares weakly)" },
		{ "\"x\", " TAG, true, "in a list" },
		{ "\"x\"," TAG ",\"y\"", true, "in a list without spaces" },
		{ " , ,\t" TAG " ,, ", true, "among empty list elements and OWS" },
		{ "W/\"x\", W/" TAG, true, "a list of weak tags" },
		{ "*", true, "*" },
		{ " *\t", true, "* with OWS" },
		{ "\"other\"", false, "another tag" },
		{ "\"x\", \"y\"", false, "a list without it" },
		{ "", false, "an empty field" },
		{ " , ", false, "a list of nothing" },
		{ "\"\"", false, "the empty tag" },
		{ "a2ba4675f173f4ade0b7c12563697480", false, "the tag unquoted (malformed)" },
		{ "w/" TAG, false, "a lowercase w/ (malformed: W/ is case-sensitive)" },
		{ "W/ " TAG, false, "a space after W/ (malformed)" },
		{ TAG " x", false, "the tag and junk after it" },
		{ TAG ", junk", false, "a match and a malformed element after it" },
		{ "junk, " TAG, false, "a malformed element before a match" },
		{ TAG ";q=1", false, "a parameter (malformed)" },
		{ "\"a2ba4675f173f4ade0b7c12563697480", false, "the closing quote missing" },
		{ "\"a2ba4675f173f4ade0b7c1256369748\"", false, "a prefix of the tag" },
		{ "\"a2ba4675f173f4ade0b7c125636974800\"", false, "the tag and one more digit" },
		{ "\"A2BA4675F173F4ADE0B7C12563697480\"", false,
		  "the tag in upper case (opaque: exact)" },
		{ "\"\xc3\xa9\", " TAG, true, "obs-text in another tag is well-formed" },
		{ "\"a\x01\", " TAG, false, "a control character in another tag (malformed)" },
		{ "\"a b\", " TAG, false, "a space inside a tag (malformed)" },
		{ "*, " TAG, false, "* with a list (malformed)" },
		{ "**", false, "two stars" },
	};

	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++)
		ok(gl_etag_none_match(cases[i].field, TAG) == cases[i].match, "%s: %s",
		   cases[i].what, cases[i].match ? "a match" : "no match");
	ok(!gl_etag_none_match(NULL, TAG), "no field: no match");
}

/* A field of exactly len bytes: spaces, then the tag. */
static bool
padded(size_t len)
{
	static char field[GL_ETAG_FIELD_MAX + 2];
	size_t tag_len = strlen(TAG);

	memset(field, ' ', len - tag_len);
	memcpy(field + len - tag_len, TAG, tag_len + 1);
	return gl_etag_none_match(field, TAG);
}

static void
test_bounds(void)
{
	ok(padded(GL_ETAG_FIELD_MAX), "a field of %d bytes is read", GL_ETAG_FIELD_MAX);
	ok(!padded(GL_ETAG_FIELD_MAX + 1), "one byte more is ignored, even holding the tag");
}

int
main(void)
{
	if (sodium_init() < 0) {
		printf("Bail out! sodium_init\n");
		return 1;
	}
	test_tag();
	test_none_match();
	test_bounds();
	return done_testing();
}
