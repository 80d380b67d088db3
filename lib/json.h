/*
 * json: reading request bodies with jansson.
 *
 * Ownership follows jansson throughout galley: a function that returns a
 * json_t * it made returns a new reference the caller must json_decref();
 * json_object_get() and friends give borrowed references; *_set_new()
 * steals, even when it fails.
 */
#ifndef GL_JSON_H
#define GL_JSON_H

#include <jansson.h>
#include <stddef.h>

#include "err.h"

/*
 * Parse len bytes (no NUL needed) that must hold one JSON object.  Duplicate
 * keys, NUL escapes and invalid UTF-8 are refused.  On success *out is new;
 * on failure a sentence with line and column is written to msg.
 */
enum gl_err gl_json_parse_object(const char *buf, size_t len, json_t **out, char *msg,
                                 size_t msg_size) __attribute__((warn_unused_result));

/* Serialize compactly, keys in insertion order: new string, free() it. */
char *gl_json_dump_new(const json_t *j);

#endif
