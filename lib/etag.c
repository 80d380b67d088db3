#include <sodium.h>
#include <string.h>

#include "etag.h"

#define ETAG_BYTES 16 /* 128 bits: a collision between two answers of one URL is not a risk */

void
gl_etag_of(char tag[GL_ETAG_SIZE], const void *body, size_t len)
{
	unsigned char h[ETAG_BYTES];

	crypto_generichash(h, sizeof(h), body, len, NULL, 0);
	tag[0] = '"';
	sodium_bin2hex(tag + 1, GL_ETAG_SIZE - 2, h, sizeof(h));
	tag[GL_ETAG_SIZE - 2] = '"';
	tag[GL_ETAG_SIZE - 1] = '\0';
}

/* OWS: spaces and tabs. */
static const char *
skip_ows(const char *p)
{
	while (*p == ' ' || *p == '\t')
		p++;
	return p;
}

/* etagc = %x21 / %x23-7E / obs-text (%x80-FF): anything visible but '"'. */
static bool
is_etagc(unsigned char c)
{
	return c == 0x21 || (c >= 0x23 && c != 0x7f);
}

/*
 * If-None-Match = "*" / #entity-tag;  entity-tag = [ "W/" ] DQUOTE *etagc DQUOTE.
 * A list may hold empty elements (", ,", RFC 9110 §5.6.1.2).  Every element is
 * checked, even after a match: a field that is malformed anywhere is no match.
 */
bool
gl_etag_none_match(const char *field, const char *tag)
{
	size_t tag_len = strlen(tag), n;
	const char *p, *opaque;
	bool matched = false;

	if (field == NULL || strnlen(field, GL_ETAG_FIELD_MAX + 1) > GL_ETAG_FIELD_MAX)
		return false;
	p = skip_ows(field);
	if (*p == '*')
		return *skip_ows(p + 1) == '\0';
	for (;;) {
		while (*p == ',' || *p == ' ' || *p == '\t')
			p++;
		if (*p == '\0')
			return matched;
		if (p[0] == 'W' && p[1] == '/')
			p += 2; /* weak comparison: a weak tag matches its strong twin */
		if (*p != '"')
			return false;
		opaque = p;
		for (p++; is_etagc((unsigned char)*p); p++)
			;
		if (*p != '"')
			return false;
		p++;
		n = (size_t)(p - opaque);
		if (n == tag_len && memcmp(opaque, tag, n) == 0)
			matched = true;
		p = skip_ows(p);
		if (*p != ',' && *p != '\0')
			return false;
	}
}
