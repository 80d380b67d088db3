#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/time.h>
#include <time.h>
#include <unistd.h>

#include "conf.h"
#include "log.h"
#include "valid.h"

static enum gl_log_level log_min = GL_LOG_INFO;
static const char *const log_names[] = { "debug", "info", "warn", "error" };

void
gl_log_init(void)
{
	for (int i = 0; i < 4; i++)
		if (gl_conf.log_level != NULL && strcmp(gl_conf.log_level, log_names[i]) == 0)
			log_min = (enum gl_log_level)i;
}

static void
log_time(char *buf, size_t size)
{
	struct timeval tv;
	struct tm tm;

	gettimeofday(&tv, NULL);
	gmtime_r(&tv.tv_sec, &tm);
	snprintf(buf, size, "%04d-%02d-%02dT%02d:%02d:%02d.%03ldZ", tm.tm_year + 1900,
	         tm.tm_mon + 1, tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec,
	         (long)(tv.tv_usec / 1000));
}

void
gl_log_fields(enum gl_log_level level, const char *request_id, json_t *fields)
{
	char ts[64];
	char *text;
	json_t *line;

	if (fields == NULL || level < log_min) {
		json_decref(fields);
		return;
	}
	log_time(ts, sizeof(ts));
	/* The common fields first, so lines read well with plain tail(1). */
	line = json_pack("{s:s, s:s, s:s, s:i}", "ts", ts, "level", log_names[level], "service",
	                 gl_conf.service ? gl_conf.service : "?", "pid", (int)getpid());
	if (line != NULL && request_id != NULL && *request_id != '\0')
		json_object_set_new(line, "request_id", json_string(request_id));
	if (line != NULL)
		json_object_update(line, fields);
	json_decref(fields);
	text = line != NULL
	               ? json_dumps(line, JSON_COMPACT | JSON_PRESERVE_ORDER | JSON_ENSURE_ASCII)
	               : NULL;
	json_decref(line);
	if (text != NULL) {
		/* One write per line so lines from sibling workers never interleave. */
		size_t n = strlen(text);
		text[n] = '\n';
		(void)!write(STDERR_FILENO, text, n + 1);
		free(text);
	}
}

void
gl_log(enum gl_log_level level, const char *request_id, const char *fmt, ...)
{
	char msg[1024];
	va_list ap;

	if (level < log_min)
		return;
	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	gl_valid_utf8_cut(msg); /* a long message is cut between characters */
	/* msg may hold bytes that are not UTF-8 (an errno string, say): nocheck would
	 * emit them raw, so fall back to a marker when jansson refuses them. */
	json_t *m = json_string(msg);
	if (m == NULL)
		m = json_string("(message not UTF-8)");
	gl_log_fields(level, request_id, json_pack("{s:o}", "msg", m));
}
