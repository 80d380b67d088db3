#include <stdio.h>
#include <string.h>
#include <time.h>

#include "doc.h"

bool
gl_oid_parse(const char *s, bson_oid_t *oid)
{
	if (s == NULL || strlen(s) != 24 || strspn(s, "0123456789abcdefABCDEF") != 24)
		return false;
	bson_oid_init_from_string(oid, s);
	return true;
}

void
gl_doc_time(char *buf, size_t size, int64_t ms)
{
	/* Floor, not truncation: -1 ms is 23:59:59.999 of the day before 1970. */
	time_t t = (time_t)(ms / 1000 - (ms % 1000 < 0));
	struct tm tm;

	gmtime_r(&t, &tm);
	strftime(buf, size, "%Y-%m-%dT%H:%M:%SZ", &tm);
}

bool
gl_doc_append_oid(bson_t *doc, const char *key, const char *hex)
{
	bson_oid_t oid;

	return gl_oid_parse(hex, &oid) && BSON_APPEND_OID(doc, key, &oid);
}

bool
gl_doc_time_parse(const char *s, int64_t *secs)
{
	struct tm tm;
	const char *end;

	memset(&tm, 0, sizeof(tm));
	if (s == NULL || strlen(s) != 20 ||
	    (end = strptime(s, "%Y-%m-%dT%H:%M:%SZ", &tm)) == NULL || *end != '\0')
		return false;
	*secs = (int64_t)timegm(&tm);
	return true;
}

static json_t *iter_to_json(bson_iter_t *it, int depth);

static json_t *
container_to_json(bson_iter_t *child, bool array, bool top, int depth)
{
	json_t *out = array ? json_array() : json_object();
	json_t *v;

	while (out != NULL && bson_iter_next(child)) {
		const char *key = bson_iter_key(child);
		if ((v = iter_to_json(child, depth + 1)) == NULL) {
			json_decref(out);
			return NULL;
		}
		if (array)
			json_array_append_new(out, v);
		else
			json_object_set_new(out, top && strcmp(key, "_id") == 0 ? "id" : key, v);
	}
	return out;
}

static json_t *
iter_to_json(bson_iter_t *it, int depth)
{
	char buf[32];
	bson_iter_t child;

	if (depth > 32)
		return NULL;
	switch (bson_iter_type(it)) {
	case BSON_TYPE_UTF8: {
		uint32_t len;
		const char *s = bson_iter_utf8(it, &len);
		return json_stringn(s, len);
	}
	case BSON_TYPE_INT32:
		return json_integer(bson_iter_int32(it));
	case BSON_TYPE_INT64:
		return json_integer(bson_iter_int64(it));
	case BSON_TYPE_DOUBLE:
		return json_real(bson_iter_double(it));
	case BSON_TYPE_BOOL:
		return json_boolean(bson_iter_bool(it));
	case BSON_TYPE_NULL:
		return json_null();
	case BSON_TYPE_OID:
		bson_oid_to_string(bson_iter_oid(it), buf);
		return json_string(buf);
	case BSON_TYPE_DATE_TIME:
		gl_doc_time(buf, sizeof(buf), bson_iter_date_time(it));
		return json_string(buf);
	case BSON_TYPE_DOCUMENT:
		if (!bson_iter_recurse(it, &child))
			return NULL;
		return container_to_json(&child, false, false, depth);
	case BSON_TYPE_ARRAY:
		if (!bson_iter_recurse(it, &child))
			return NULL;
		return container_to_json(&child, true, false, depth);
	default:
		return NULL;
	}
}

json_t *
gl_doc_to_json_new(const bson_t *doc)
{
	bson_iter_t it;

	if (!bson_iter_init(&it, doc))
		return NULL;
	return container_to_json(&it, false, true, 0);
}

static bool
append_value(bson_t *out, const char *key, const struct gl_field *f, const json_t *v)
{
	bson_oid_t oid;
	bson_t child;
	json_t *item;
	size_t i;
	char idx[24];
	bool ok = true;

	switch (f->type) {
	case GL_T_STRING:
	case GL_T_ENUM:
		return BSON_APPEND_UTF8(out, key, json_string_value(v));
	case GL_T_OID:
		if (!gl_oid_parse(json_string_value(v), &oid))
			return false;
		return BSON_APPEND_OID(out, key, &oid);
	case GL_T_INT:
		return BSON_APPEND_INT64(out, key, json_integer_value(v));
	case GL_T_BOOL:
		return BSON_APPEND_BOOL(out, key, json_is_true(v));
	case GL_T_STRINGS:
	case GL_T_OBJECTS:
		if (!BSON_APPEND_ARRAY_BEGIN(out, key, &child))
			return false;
		json_array_foreach(v, i, item) {
			snprintf(idx, sizeof(idx), "%zu", i);
			if (f->type == GL_T_STRINGS) {
				ok = ok && BSON_APPEND_UTF8(&child, idx, json_string_value(item));
			} else {
				bson_t sub;
				/* An open sub-document must be closed even when filling it failed.
				 */
				if (ok && BSON_APPEND_DOCUMENT_BEGIN(&child, idx, &sub)) {
					ok = gl_doc_append_fields(&sub, f->fields, item);
					ok = bson_append_document_end(&child, &sub) && ok;
				} else {
					ok = false;
				}
			}
		}
		return bson_append_array_end(out, &child) && ok;
	}
	return false;
}

bool
gl_doc_append_fields(bson_t *out, const struct gl_field *fields, const json_t *obj)
{
	const struct gl_field *f;
	json_t *v;

	for (f = fields; f->name != NULL; f++) {
		/* Keys come from the table, values from the validated body. */
		if ((v = json_object_get(obj, f->name)) == NULL)
			continue;
		if (!append_value(out, f->name, f, v))
			return false;
	}
	return true;
}
