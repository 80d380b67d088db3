/*
 * log: structured logging, one JSON object per line on stderr.
 *
 * Every line carries the service, the pid and, when there is one, the
 * request id, so one request can be followed through nginx, the services
 * and the events it caused.  Values are escaped by jansson; callers never
 * pass secrets (tokens, passwords, keys) to it.
 */
#ifndef GL_LOG_H
#define GL_LOG_H

#include <jansson.h>

enum gl_log_level { GL_LOG_DEBUG, GL_LOG_INFO, GL_LOG_WARN, GL_LOG_ERROR };

/* Read the level from gl_conf; call after gl_conf_load(). */
void gl_log_init(void);

/* A line with a message; request_id may be NULL. */
void gl_log(enum gl_log_level level, const char *request_id, const char *fmt, ...)
        __attribute__((format(printf, 3, 4)));

/* A line made of fields (steals fields, which may be NULL on a failed build). */
void gl_log_fields(enum gl_log_level level, const char *request_id, json_t *fields);

#endif
