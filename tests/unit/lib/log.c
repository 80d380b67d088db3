/* Unit tests of lib/log.c: each call is one JSON line on stderr, whatever the message holds. */
#include "../capture.h"
#include "../tap.h"
#include "conf.h"
#include "log.h"

static int
lines(const char *s)
{
	int n = 0;
	for (; *s != '\0'; s++)
		n += *s == '\n';
	return n;
}

/* The line's msg field, parsed back; NULL when the line is not one JSON object. */
static json_t *
parsed(void)
{
	return json_loads(captured, JSON_DISABLE_EOF_CHECK, NULL);
}

int
main(void)
{
	char big[3000];
	json_t *j;

	gl_conf.service = "unit";
	gl_conf.log_level = "info";
	gl_log_init();

	CAPTURE(gl_log(GL_LOG_INFO, "rid-1", "plain %d", 7));
	j = parsed();
	ok(lines(captured) == 1 && j != NULL, "one JSON line");
	is_str(json_string_value(json_object_get(j, "msg")), "plain 7", "the message, formatted");
	is_str(json_string_value(json_object_get(j, "level")), "info", "its level");
	is_str(json_string_value(json_object_get(j, "service")), "unit", "the service");
	is_str(json_string_value(json_object_get(j, "request_id")), "rid-1", "the request id");
	ok(strncmp(captured, "{\"ts\":", 6) == 0, "the time first, so lines read well with tail");
	json_decref(j);

	CAPTURE(gl_log(GL_LOG_WARN, NULL, "a\nforged\":\"line\r\t\x01 end"));
	j = parsed();
	ok(lines(captured) == 1 && j != NULL,
	   "a newline or a quote in the message stays inside the line");
	is_str(json_string_value(json_object_get(j, "msg")), "a\nforged\":\"line\r\t\x01 end",
	       "and reads back as it was");
	ok(json_object_get(j, "request_id") == NULL, "no request id: no field");
	json_decref(j);

	CAPTURE(gl_log(GL_LOG_ERROR, NULL, "bad \xff\xfe bytes"));
	j = parsed();
	is_str(json_string_value(json_object_get(j, "msg")), "(message not UTF-8)",
	       "bytes that are not UTF-8: a marker, never raw bytes");
	json_decref(j);

	CAPTURE(gl_log(GL_LOG_INFO, NULL, "caf\xc3\xa9 \xe2\x82\xac"));
	ok(strstr(captured, "caf\\u00E9 \\u20AC") != NULL,
	   "UTF-8 is written as \\u escapes (ASCII lines)");

	memset(big, 'x', sizeof(big));
	memcpy(big + 1021, "\xe2\x82\xac", 3); /* a euro sign across the 1,024-byte cut */
	big[sizeof(big) - 1] = '\0';
	CAPTURE(gl_log(GL_LOG_INFO, NULL, "%s", big));
	j = parsed();
	ok(j != NULL && strlen(json_string_value(json_object_get(j, "msg"))) == 1021,
	   "a long message is cut to the buffer, between characters");
	json_decref(j);

	CAPTURE(gl_log(GL_LOG_DEBUG, NULL, "hidden"));
	ok(captured[0] == '\0', "below the level: nothing");

	CAPTURE(gl_log_fields(GL_LOG_INFO, "r", json_pack("{s:s, s:i}", "event", "x", "n", 3)));
	j = parsed();
	ok(j != NULL && json_integer_value(json_object_get(j, "n")) == 3,
	   "fields are written as given");
	json_decref(j);
	CAPTURE(gl_log_fields(GL_LOG_INFO, "r\"1\n", json_pack("{s:s}", "path", "/a\"\n\\b")));
	j = parsed();
	ok(lines(captured) == 1 && j != NULL,
	   "a quote or a newline in a field or the request id stays inside the line");
	is_str(json_string_value(json_object_get(j, "path")), "/a\"\n\\b",
	       "the field reads back as it was");
	is_str(json_string_value(json_object_get(j, "request_id")), "r\"1\n",
	       "and so does the request id");
	json_decref(j);
	CAPTURE(gl_log_fields(GL_LOG_INFO, "r", NULL));
	ok(captured[0] == '\0', "a failed build of fields (NULL): nothing, no crash");

	printf("1..%d\n", tap_n);
	return tap_failed != 0;
}
