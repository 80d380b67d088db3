/*
 * doc: MongoDB documents <-> the API's JSON, and ObjectIds <-> strings.
 *
 * Documents are built only from validated values and the keys of a field
 * table, never from a client's keys.  Reading back, _id becomes "id",
 * ObjectIds become 24-hex strings and dates RFC 3339 UTC strings.
 */
#ifndef GL_DOC_H
#define GL_DOC_H

#include <bson/bson.h>
#include <jansson.h>
#include <stdbool.h>

#include "valid.h"

/* Parse a 24-hex id; false when s is not one. */
bool gl_oid_parse(const char *s, bson_oid_t *oid);

/* Append key: ObjectId(hex) to doc; false when hex is not a 24-hex id (or out of memory). */
bool gl_doc_append_oid(bson_t *doc, const char *key, const char *hex);

/* The document as API JSON: new, or NULL on a type it cannot render. */
json_t *gl_doc_to_json_new(const bson_t *doc);

/*
 * Append to out the fields of obj (borrowed, validated against fields)
 * with the types the table declares: GL_T_OID as ObjectIds, GL_T_INT as
 * int64, GL_T_OBJECTS recursively.  Keys absent from obj are skipped.
 * Returns false if out could not be built.
 */
bool gl_doc_append_fields(bson_t *out, const struct gl_field *fields, const json_t *obj);

/* Format epoch milliseconds as RFC 3339 UTC into buf (>= 25 bytes). */
void gl_doc_time(char *buf, size_t size, int64_t ms);

/* Parse what gl_doc_time writes ("2026-11-23T10:00:00Z") into epoch seconds; false if it is not. */
bool gl_doc_time_parse(const char *s, int64_t *secs);

#endif
