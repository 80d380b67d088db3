#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "valid.h"

/* Query strings are short by nature; these bound the work a client can ask for. */
#define QUERY_MAX_BYTES  GL_VALID_QUERY_MAX
#define QUERY_MAX_PARAMS 16
#define KEY_PATH_MAX     64

static enum gl_err fail_at(struct gl_valid_fail *fail, const char *field, const char *fmt, ...)
        __attribute__((format(printf, 3, 4)));

static enum gl_err
fail_at(struct gl_valid_fail *fail, const char *field, const char *fmt, ...)
{
	va_list ap;

	snprintf(fail->field, sizeof(fail->field), "%s", field != NULL ? field : "");
	va_start(ap, fmt);
	vsnprintf(fail->message, sizeof(fail->message), fmt, ap);
	va_end(ap);
	return GL_E_VALIDATION;
}

size_t
gl_valid_utf8_len(const char *s)
{
	size_t n = 0;

	for (; *s != '\0'; s++)
		if (((unsigned char)*s & 0xc0) != 0x80)
			n++;
	return n;
}

size_t
gl_valid_utf8_cut(char *s)
{
	size_t n = strlen(s), start = n, need;
	unsigned char c;

	/* Find the lead byte of the last character and whether all of it is there. */
	while (start > 0 && ((unsigned char)s[start - 1] & 0xc0) == 0x80 && n - start < 3)
		start--;
	if (start == 0)
		return n;
	c = (unsigned char)s[start - 1];
	need = c >= 0xf0 ? 4 : c >= 0xe0 ? 3 : c >= 0xc0 ? 2 : 1;
	if (n - (start - 1) < need) {
		s[start - 1] = '\0';
		return start - 1;
	}
	return n;
}

/* Worst-case bytes of a JSON string of at most chars characters and bytes bytes. */
static size_t
json_string_max(long long chars, long long bytes)
{
	long long worst;

	/* A 1-byte character escapes to 6 bytes, a 4-byte one to 12; the others do worse
	 * per byte and per character.  With a byte limit the worst mix is as many 4-byte
	 * characters as the bytes allow past one byte per character. */
	if (bytes <= 0 || bytes >= 4 * chars)
		worst = 12 * chars;
	else if (bytes <= chars)
		worst = 6 * bytes;
	else
		worst = 4 * chars + 2 * bytes;
	return 2 + (size_t)worst;
}

static size_t
int_len(long long v)
{
	char buf[24];

	return (size_t)snprintf(buf, sizeof(buf), "%lld", v);
}

/* The longest of an enum's values, in bytes. */
static size_t
enum_longest(const struct gl_field *f)
{
	size_t n = 0;

	for (const char *const *v = f->values; v != NULL && *v != NULL; v++)
		if (strlen(*v) > n)
			n = strlen(*v);
	return n;
}

static size_t
value_max(const struct gl_field *f)
{
	size_t n, a, b;

	switch (f->type) {
	case GL_T_STRING:
		return json_string_max(f->max, f->max_bytes);
	case GL_T_OID:
		return json_string_max(24, 24);
	case GL_T_INT:
		a = int_len(f->min), b = int_len(f->max);
		n = a > b ? a : b;
		return n > 2 ? n : 2; /* "-0" */
	case GL_T_BOOL:
		return 5;
	case GL_T_STRINGS:
		n = json_string_max(f->item_max, f->max_bytes);
		return 2 + (size_t)f->max * (n + 1);
	case GL_T_OBJECTS:
		return 2 + (size_t)f->max * (gl_valid_json_max(f->fields) + 1);
	case GL_T_ENUM:
		n = enum_longest(f);
		return json_string_max((long long)n, (long long)n);
	}
	return 0;
}

size_t
gl_valid_json_max(const struct gl_field *fields)
{
	size_t n = 2;

	for (const struct gl_field *f = fields; f != NULL && f->name != NULL; f++)
		n += 6 * strlen(f->name) + 2 + 1 + value_max(f) + 1; /* "key":value, */
	return n;
}

size_t
gl_valid_query_max(const struct gl_field *fields)
{
	size_t n = 0, v;

	for (const struct gl_field *f = fields; f != NULL && f->name != NULL; f++) {
		switch (f->type) {
		case GL_T_STRING:
			v = (size_t)(f->max_bytes > 0 && f->max_bytes < 4 * f->max ? f->max_bytes
			                                                           : 4 * f->max);
			break;
		case GL_T_OID:
			v = 24;
			break;
		case GL_T_ENUM:
			v = enum_longest(f);
			break;
		default:
			v = value_max(f);
			break;
		}
		n += 3 * strlen(f->name) + 1 + 3 * v + 1; /* key=value& */
	}
	return n;
}

/* Copy a client key into a path for messages: printable ASCII only, bounded. */
static void
path_join(char *dst, size_t size, const char *parent, const char *key)
{
	char clean[KEY_PATH_MAX + 1];
	size_t i;

	for (i = 0; key[i] != '\0' && i < KEY_PATH_MAX; i++)
		clean[i] = ((unsigned char)key[i] >= 0x20 && (unsigned char)key[i] < 0x7f) ? key[i]
		                                                                           : '?';
	clean[i] = '\0';
	if (parent == NULL || *parent == '\0')
		snprintf(dst, size, "%s", clean);
	else
		snprintf(dst, size, "%s.%s", parent, clean);
}

/* Reject '$'-prefixed and dotted keys at any depth, before anything else looks. */
static enum gl_err
check_keys(const json_t *j, const char *path, struct gl_valid_fail *fail, int depth)
{
	char sub[sizeof(fail->field) + 32];
	const char *key;
	json_t *v;
	size_t i;

	if (depth > 16)
		return fail_at(fail, path, "nested too deeply (16 levels at most)");
	if (json_is_object(j)) {
		json_object_foreach((json_t *)j, key, v) {
			path_join(sub, sizeof(sub), path, key);
			if (key[0] == '$' || strchr(key, '.') != NULL || key[0] == '\0')
				return fail_at(fail, sub,
				               "is not an allowed key (keys may not be empty, "
				               "start with '$' or contain '.')");
			if (check_keys(v, sub, fail, depth + 1) != GL_OK)
				return GL_E_VALIDATION;
		}
	} else if (json_is_array(j)) {
		json_array_foreach(j, i, v) {
			if (snprintf(sub, sizeof(sub), "%s[%zu]", path, i) >= (int)sizeof(sub))
				return fail_at(fail, path, "is nested too deeply");
			if (check_keys(v, sub, fail, depth + 1) != GL_OK)
				return GL_E_VALIDATION;
		}
	}
	return GL_OK;
}

static int
is_oid(const char *s)
{
	size_t i;

	for (i = 0; i < 24; i++)
		if (!((s[i] >= '0' && s[i] <= '9') || (s[i] >= 'a' && s[i] <= 'f') ||
		      (s[i] >= 'A' && s[i] <= 'F')))
			return 0;
	return s[24] == '\0';
}

static enum gl_err check_object(const struct gl_field *fields, const json_t *obj, bool partial,
                                const char *path, struct gl_valid_fail *fail);

static enum gl_err
check_string(const struct gl_field *f, const json_t *v, const char *path,
             struct gl_valid_fail *fail, long long min, long long max)
{
	long long max_bytes = f != NULL ? f->max_bytes : 0;
	const char *s, *why;
	size_t n;

	if (!json_is_string(v))
		return fail_at(fail, path, "must be a string");
	s = json_string_value(v);
	/* jansson refuses \u0000 on parse, but a length check keeps us honest. */
	if (strlen(s) != json_string_length(v))
		return fail_at(fail, path, "must not contain NUL characters");
	n = gl_valid_utf8_len(s);
	if ((long long)n < min || (long long)n > max)
		return fail_at(fail, path, "must be %lld..%lld characters long", min, max);
	if (max_bytes > 0 && (long long)strlen(s) > max_bytes)
		return fail_at(fail, path, "must be at most %lld bytes long (UTF-8)", max_bytes);
	if (f != NULL && f->check != NULL && (why = f->check(s)) != NULL)
		return fail_at(fail, path, "%s", why);
	return GL_OK;
}

/* Is v one of f's values?  If not, the message names them all (as many as fit). */
static enum gl_err
check_enum(const struct gl_field *f, const json_t *v, const char *path, struct gl_valid_fail *fail)
{
	char list[sizeof(fail->message) - 16];
	size_t n = 0;

	if (!json_is_string(v) || strlen(json_string_value(v)) != json_string_length(v))
		return fail_at(fail, path, "must be a string");
	for (const char *const *e = f->values; e != NULL && *e != NULL; e++)
		if (strcmp(json_string_value(v), *e) == 0)
			return GL_OK;
	list[0] = '\0';
	for (const char *const *e = f->values; e != NULL && *e != NULL && n < sizeof(list); e++)
		n += (size_t)snprintf(list + n, sizeof(list) - n, "%s%s", n > 0 ? ", " : "", *e);
	return fail_at(fail, path, "must be one of: %s", list);
}

/* Does the i-th object of array a (at path) repeat an earlier one's f->unique value? */
static enum gl_err
check_unique(const struct gl_field *f, const json_t *a, size_t i, const char *path,
             struct gl_valid_fail *fail)
{
	const json_t *mine = json_object_get(json_array_get(a, i), f->unique);
	char sub[sizeof(fail->field) + 32];

	for (size_t j = 0; mine != NULL && j < i; j++)
		if (json_equal(mine, json_object_get(json_array_get(a, j), f->unique))) {
			if (snprintf(sub, sizeof(sub), "%s[%zu].%s", path, i, f->unique) >=
			    (int)sizeof(sub))
				return fail_at(fail, path, "is nested too deeply");
			return fail_at(fail, sub, "repeats %s[%zu]: one per %s", path, j,
			               f->unique);
		}
	return GL_OK;
}

static enum gl_err
check_value(const struct gl_field *f, const json_t *v, const char *path, struct gl_valid_fail *fail)
{
	char sub[sizeof(fail->field) + 32];
	json_t *item;
	size_t i;

	switch (f->type) {
	case GL_T_STRING:
		return check_string(f, v, path, fail, f->min, f->max);
	case GL_T_OID:
		if (!json_is_string(v) || !is_oid(json_string_value(v)))
			return fail_at(fail, path, "must be a 24-hex id");
		return GL_OK;
	case GL_T_INT:
		if (!json_is_integer(v))
			return fail_at(fail, path, "must be an integer");
		if (json_integer_value(v) < f->min || json_integer_value(v) > f->max)
			return fail_at(fail, path, "must be %lld..%lld", f->min, f->max);
		return GL_OK;
	case GL_T_BOOL:
		if (!json_is_boolean(v))
			return fail_at(fail, path, "must be true or false");
		return GL_OK;
	case GL_T_ENUM:
		return check_enum(f, v, path, fail);
	case GL_T_STRINGS:
	case GL_T_OBJECTS:
		if (!json_is_array(v))
			return fail_at(fail, path, "must be an array");
		if ((long long)json_array_size(v) < f->min ||
		    (long long)json_array_size(v) > f->max)
			return fail_at(fail, path, "must hold %lld..%lld items", f->min, f->max);
		json_array_foreach(v, i, item) {
			if (snprintf(sub, sizeof(sub), "%s[%zu]", path, i) >= (int)sizeof(sub))
				return fail_at(fail, path, "is nested too deeply");
			if (f->type == GL_T_STRINGS) {
				if (check_string(f, item, sub, fail, 1, f->item_max) != GL_OK)
					return GL_E_VALIDATION;
			} else if (!json_is_object(item)) {
				return fail_at(fail, sub, "must be an object");
			} else if (check_object(f->fields, item, false, sub, fail) != GL_OK) {
				return GL_E_VALIDATION;
			} else if (f->unique != NULL &&
			           check_unique(f, v, i, path, fail) != GL_OK) {
				return GL_E_VALIDATION;
			}
		}
		return GL_OK;
	}
	return fail_at(fail, path, "has an unknown type");
}

static enum gl_err
check_object(const struct gl_field *fields, const json_t *obj, bool partial, const char *path,
             struct gl_valid_fail *fail)
{
	char sub[sizeof(fail->field) + 32];
	const struct gl_field *f;
	const char *key;
	json_t *v;

	json_object_foreach((json_t *)obj, key, v) {
		for (f = fields; f != NULL && f->name != NULL; f++)
			if (strcmp(f->name, key) == 0)
				break;
		path_join(sub, sizeof(sub), path, key);
		if (f != NULL && f->name == NULL && (f->flags & GL_OPEN))
			continue;
		if (f == NULL || f->name == NULL)
			return fail_at(fail, sub, "is not a known field");
		if ((f->flags & GL_NULLABLE) && json_is_null(v))
			continue;
		if (check_value(f, v, sub, fail) != GL_OK)
			return GL_E_VALIDATION;
	}
	for (f = fields; !partial && f != NULL && f->name != NULL; f++)
		if ((f->flags & GL_REQUIRED) && json_object_get(obj, f->name) == NULL) {
			path_join(sub, sizeof(sub), path, f->name);
			return fail_at(fail, sub, "is required");
		}
	return GL_OK;
}

enum gl_err
gl_valid_object(const struct gl_field *fields, const json_t *obj, bool partial,
                struct gl_valid_fail *fail)
{
	fail->field[0] = fail->message[0] = '\0';
	if (!json_is_object(obj))
		return fail_at(fail, "", "must be a JSON object");
	if (check_keys(obj, "", fail, 0) != GL_OK)
		return GL_E_VALIDATION;
	return check_object(fields, obj, partial, "", fail);
}

static int
hexval(int c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	if (c >= 'A' && c <= 'F')
		return c - 'A' + 10;
	return -1;
}

/* Percent-decode [s, s+n) into dst (size >= n + 1); -1 on a bad escape or NUL. */
static int
pct_decode(const char *s, size_t n, char *dst)
{
	size_t i, o = 0;

	for (i = 0; i < n; i++) {
		if (s[i] == '%') {
			int hi, lo;
			if (i + 2 >= n)
				return -1;
			hi = hexval((unsigned char)s[i + 1]);
			lo = hexval((unsigned char)s[i + 2]);
			if (hi < 0 || lo < 0 || (hi == 0 && lo == 0))
				return -1;
			dst[o++] = (char)(hi << 4 | lo);
			i += 2;
		} else {
			dst[o++] = s[i] == '+' ? ' ' : s[i];
		}
	}
	dst[o] = '\0';
	return 0;
}

/* Is s well-formed UTF-8 (no overlongs, no surrogates, at most U+10FFFF)? */
static int
utf8_ok(const unsigned char *s)
{
	while (*s != 0) {
		unsigned c = *s++, n, cp;
		if (c < 0x80)
			continue;
		if (c >= 0xc2 && c <= 0xdf)
			n = 1, cp = c & 0x1f;
		else if (c >= 0xe0 && c <= 0xef)
			n = 2, cp = c & 0x0f;
		else if (c >= 0xf0 && c <= 0xf4)
			n = 3, cp = c & 0x07;
		else
			return 0;
		for (unsigned k = 0; k < n; k++, s++) {
			if ((*s & 0xc0) != 0x80)
				return 0;
			cp = cp << 6 | (*s & 0x3f);
		}
		if ((n == 2 && (cp < 0x800 || (cp >= 0xd800 && cp <= 0xdfff))) ||
		    (n == 3 && (cp < 0x10000 || cp > 0x10ffff)))
			return 0;
	}
	return 1;
}

/*
 * Turn a query string value into the field's JSON type in *out (new).
 * 0 done, -1 the value is not of the type (a client fault), -2 out of memory.
 */
static int
query_value(const struct gl_field *f, const char *s, json_t **out)
{
	long long n;
	char *end;

	*out = NULL;
	switch (f->type) {
	case GL_T_INT:
		if (*s == '\0' || strlen(s) > 19 || strspn(s, "-0123456789") != strlen(s))
			return -1;
		errno = 0;
		n = strtoll(s, &end, 10);
		if (errno != 0 || *end != '\0')
			return -1;
		*out = json_integer(n);
		break;
	case GL_T_BOOL:
		if (strcmp(s, "true") != 0 && strcmp(s, "false") != 0)
			return -1;
		*out = json_boolean(strcmp(s, "true") == 0);
		break;
	default:
		if (!utf8_ok((const unsigned char *)s))
			return -1;
		*out = json_string_nocheck(s);
		break;
	}
	return *out != NULL ? 0 : -2;
}

/* Add the parameter [p, amp) ("key=value", percent-encoded) to obj as its field's type. */
static enum gl_err
query_param(const struct gl_field *fields, const char *p, const char *amp, json_t *obj,
            struct gl_valid_fail *fail)
{
	char key[KEY_PATH_MAX + 1], val[QUERY_MAX_BYTES + 1];
	const char *eq = memchr(p, '=', (size_t)(amp - p));
	const struct gl_field *f;
	json_t *v;

	if (eq == NULL)
		eq = amp;
	if ((size_t)(eq - p) > KEY_PATH_MAX || pct_decode(p, (size_t)(eq - p), key) < 0 ||
	    pct_decode(eq + (eq < amp), (size_t)(amp - eq - (eq < amp)), val) < 0)
		return fail_at(fail, "", "the query string is malformed");
	for (f = fields; f != NULL && f->name != NULL; f++)
		if (strcmp(f->name, key) == 0)
			break;
	if (f == NULL || f->name == NULL) {
		char path[sizeof(fail->field)];
		path_join(path, sizeof(path), "", key);
		return fail_at(fail, path, "is not a known query parameter");
	}
	if (json_object_get(obj, f->name) != NULL)
		return fail_at(fail, f->name, "is given more than once");
	int got = query_value(f, val, &v);
	if (got == -1)
		return fail_at(fail, f->name,
		               f->type == GL_T_INT    ? "must be an integer"
		               : f->type == GL_T_BOOL ? "must be true or false"
		                                      : "must be UTF-8 text");
	/* Out of memory is our fault, never the client's: no 400 for it. */
	if (got < 0 || json_object_set_new(obj, f->name, v) != 0)
		return GL_E_INTERNAL;
	return GL_OK;
}

enum gl_err
gl_valid_query(const struct gl_field *fields, const char *query, json_t **out,
               struct gl_valid_fail *fail)
{
	const char *p, *amp;
	enum gl_err err = GL_OK;
	int count = 0;
	json_t *obj;

	*out = NULL;
	fail->field[0] = fail->message[0] = '\0';
	if (query == NULL)
		query = "";
	if (strlen(query) > QUERY_MAX_BYTES)
		return fail_at(fail, "", "the query string is longer than %d bytes",
		               QUERY_MAX_BYTES);
	if ((obj = json_object()) == NULL)
		return GL_E_INTERNAL;
	for (p = query; *p != '\0' && err == GL_OK; p = *amp ? amp + 1 : amp) {
		amp = p + strcspn(p, "&");
		if (amp == p)
			continue;
		if (++count > QUERY_MAX_PARAMS)
			err = fail_at(fail, "", "at most %d query parameters", QUERY_MAX_PARAMS);
		else
			err = query_param(fields, p, amp, obj, fail);
	}
	if (err == GL_OK)
		err = check_object(fields, obj, false, "", fail);
	if (err != GL_OK) {
		json_decref(obj);
		return err;
	}
	*out = obj;
	return GL_OK;
}

const char *
gl_valid_email(const char *s)
{
	const char *at = strchr(s, '@');

	if (at == NULL || at == s || strchr(at + 1, '@') != NULL || strchr(at + 1, '.') == NULL ||
	    at[1] == '.' || s[strlen(s) - 1] == '.')
		return "must be an email address like name@example.com";
	for (; *s != '\0'; s++)
		if ((unsigned char)*s <= 0x20 || *s == 0x7f || *s == '<' || *s == '>' || *s == '"')
			return "must be an email address without spaces or quotes";
	return NULL;
}

const char *
gl_valid_currency(const char *s)
{
	if (strlen(s) != 3 || strspn(s, "ABCDEFGHIJKLMNOPQRSTUVWXYZ") != 3)
		return "must be a 3-letter ISO 4217 code like EUR";
	return NULL;
}

const char *
gl_valid_phone(const char *s)
{
	if (strspn(s, "+0123456789 -()/.") != strlen(s))
		return "may hold only digits, spaces and + - ( ) / .";
	return NULL;
}

char *
gl_valid_lower_dup(const char *s)
{
	char *buf = strdup(s);

	for (char *p = buf; p != NULL && *p != '\0'; p++)
		if (*p >= 'A' && *p <= 'Z')
			*p = (char)(*p - 'A' + 'a');
	return buf;
}

void
gl_valid_lower(json_t *obj, const char *key)
{
	json_t *v = json_object_get(obj, key);
	char *buf;

	if (!json_is_string(v) || (buf = gl_valid_lower_dup(json_string_value(v))) == NULL)
		return;
	json_object_set_new(obj, key, json_string(buf));
	free(buf);
}
