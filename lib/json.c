#include <stdio.h>
#include <string.h>

#include "json.h"

enum gl_err
gl_json_parse_object(const char *buf, size_t len, json_t **out, char *msg, size_t msg_size)
{
	json_error_t jerr;
	json_t *j;

	*out = NULL;
	j = json_loadb(buf, len, JSON_REJECT_DUPLICATES, &jerr);
	if (j == NULL) {
		/* jansson quotes the offending token ("near 'x'"): cut that off so
		 * no client byte is echoed back. */
		char *near = strstr(jerr.text, " near ");
		if (near != NULL)
			*near = '\0';
		if (strstr(jerr.text, "JSON_ALLOW_NUL") != NULL)
			snprintf(jerr.text, sizeof(jerr.text), "strings may not contain \\u0000");
		for (char *p = jerr.text; *p != '\0'; p++)
			if ((unsigned char)*p < 0x20 || (unsigned char)*p > 0x7e)
				*p = '?';
		snprintf(msg, msg_size, "the body is not valid JSON: %s at line %d, column %d",
		         jerr.text, jerr.line, jerr.column);
		return GL_E_INVALID_JSON;
	}
	if (!json_is_object(j)) {
		json_decref(j);
		snprintf(msg, msg_size, "the body must be a JSON object");
		return GL_E_INVALID_JSON;
	}
	*out = j;
	return GL_OK;
}

char *
gl_json_dump_new(const json_t *j)
{
	return json_dumps(j, JSON_COMPACT | JSON_PRESERVE_ORDER);
}
