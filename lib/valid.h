/*
 * valid: declarative validation of bodies and query strings.
 *
 * A route declares its body and query as tables of struct gl_field; the
 * dispatcher checks the whole input against them before the handler runs,
 * so a handler only ever sees values of the declared types and ranges.
 * Checked everywhere: unknown keys (unless the table is GL_OPEN), keys that
 * start with '$' or hold '.' at any depth (they could steer a MongoDB query),
 * types, ranges, lengths.
 */
#ifndef GL_VALID_H
#define GL_VALID_H

#include <jansson.h>
#include <stdbool.h>

#include "err.h"

enum gl_type {
	GL_T_STRING, /* min..max characters (code points), and at most max_bytes bytes */
	GL_T_INT,    /* min..max inclusive */
	GL_T_BOOL,
	GL_T_OID,     /* a 24-hex ObjectId string */
	GL_T_STRINGS, /* array of min..max strings, each 1..item_max characters (and
	               * max_bytes bytes) */
	GL_T_OBJECTS, /* array of min..max objects, each checked against .fields, and
	               * no two with the same .unique (if set) */
	GL_T_ENUM,    /* a string, one of .values */
};

#define GL_REQUIRED 0x1u
/* On a table's end row, { .flags = GL_OPEN }: keys the table does not declare are let be,
 * not refused.  For what another service sends, which may carry more than the reader
 * reads (consumer.h); never for a client's input. */
#define GL_OPEN 0x100u
/* On an optional field: null is let be, as another service may write "none" (a handler
 * reads it as absent: json_string_value() gives NULL).  gl_doc_append_fields() refuses it. */
#define GL_NULLABLE 0x200u

struct gl_field {
	const char *name;
	enum gl_type type;
	unsigned flags;
	long long min, max;
	long long item_max;
	/* Extra check of a string's form: NULL if fine, else why not (static). */
	const char *(*check)(const char *value);
	const struct gl_field *fields; /* GL_T_OBJECTS: the shape of each object */
	/* GL_T_STRING(S): at most this many bytes of UTF-8 as well (0: no limit but the
	 * characters', at most 4 bytes each).  Set it where the value must fit a
	 * byte-sized place: an email (254 octets, RFC 5321), a key, a header. */
	long long max_bytes;
	/* GL_T_ENUM: the allowed values, NULL-terminated; a wrong value's message
	 * names them all. */
	const char *const *values;
	/* GL_T_OBJECTS: a key of .fields no two objects may share ("item_id": one line
	 * per item); the second one fails, naming the first. */
	const char *unique;
};

/* Where validation failed: the JSON path of the field and a sentence. */
struct gl_valid_fail {
	char field[96];
	char message[160];
};

/*
 * Check obj against fields.  partial: no field is required (PATCH).  On
 * failure returns GL_E_VALIDATION and fills *fail.  obj is borrowed.
 */
enum gl_err gl_valid_object(const struct gl_field *fields, const json_t *obj, bool partial,
                            struct gl_valid_fail *fail) __attribute__((warn_unused_result));

/*
 * Parse a query string (raw, percent-encoded) into *out, a new object of
 * typed values checked against fields (NULL: no parameter is allowed).
 */
enum gl_err gl_valid_query(const struct gl_field *fields, const char *query, json_t **out,
                           struct gl_valid_fail *fail) __attribute__((warn_unused_result));

/* Length of a UTF-8 string in code points. */
size_t gl_valid_utf8_len(const char *s);

/* Cut s (NUL-terminated, maybe truncated by snprintf) back to its last whole
 * UTF-8 character, so a cut never leaves half a character; returns its length. */
size_t gl_valid_utf8_cut(char *s);

/*
 * The most bytes a JSON object valid against fields can take, written
 * compactly (no whitespace) with the worst escaping a client may choose: every
 * character of a key or string as \uXXXX, and as a surrogate pair (12 bytes)
 * when above U+FFFF.  A route's body cap must be at least this.
 */
size_t gl_valid_json_max(const struct gl_field *fields);

/* The longest query string valid against fields (every byte percent-encoded). */
size_t gl_valid_query_max(const struct gl_field *fields);

/* The longest query string gl_valid_query takes. */
#define GL_VALID_QUERY_MAX 2048

/* Ready-made format checks for .check. */
const char *gl_valid_email(const char *s);
const char *gl_valid_currency(const char *s);
const char *gl_valid_phone(const char *s);

/*
 * Emails are one account each and compare without case: every service lowers
 * them with these.  ASCII letters only, on purpose: tolower() follows the
 * process's locale (a Turkish one lowers 'I' to a dotless i), and what a
 * non-ASCII letter folds to is the mail host's business, not ours.
 */
/* A copy of s with A-Z lowered (new: free() it), or NULL when out of memory. */
char *gl_valid_lower_dup(const char *s) __attribute__((warn_unused_result));
/* Replace obj's string key (if any) by its lowered form (as long as it is). */
void gl_valid_lower(json_t *obj, const char *key);

#endif
