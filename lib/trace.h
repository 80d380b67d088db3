/*
 * trace: distributed tracing.  W3C Trace Context (traceparent) in and out,
 * and spans exported over OTLP/HTTP (JSON) when OTEL_EXPORTER_OTLP_ENDPOINT
 * is set, so that one order's whole path (nginx, every service it calls,
 * every event it causes) is one trace.
 *
 * Who does what:
 *  - nginx picks the trace id: the client's well-formed traceparent's, else
 *    its own $request_id (the request id is the trace id), and passes the
 *    client's traceparent on (HTTP_TRACEPARENT).
 *  - app.c runs every FastCGI request in a SERVER span
 *    (gl_trace_server_start / _end), parented by a traceparent that is
 *    version 00, lowercase hex, ids non-zero (anything else is ignored), and
 *    every tick in an INTERNAL span kept only when it made a call or an
 *    event (a quiet span).
 *  - http.c makes each outbound call a CLIENT span and sends its id as
 *    traceparent; events.c makes each published event a PRODUCER span
 *    whose traceparent travels inside the event, and consumer.c handles each
 *    consumed event in a CONSUMER span parented by it.
 *  - A service's own threads (the kitchen's cooks) start spans with
 *    gl_trace_remote() from a traceparent they kept.
 *
 * Propagation always happens; recording only when export is on.  With
 * OTEL_EXPORTER_OTLP_ENDPOINT unset a span is two ids on the caller's
 * stack: no clock, no attribute, no allocation, no thread.
 *
 * A span is a struct its starter owns (on its stack, or in an event being
 * published), never allocated here.  SERVER, CONSUMER and INTERNAL spans
 * become the thread's current span until they end (end them in reverse
 * order); CLIENT and PRODUCER spans are children of the current span and
 * never current themselves.  An ended span that was recorded is queued (a
 * bounded per-process queue: when full, spans are dropped and counted,
 * never waited for) for one exporter thread, which POSTs a batch to
 * <endpoint>/v1/traces about every second or every GL_TRACE_BATCH spans,
 * with a short timeout; a failed batch is dropped (logged at most once a
 * minute).  Nothing secret goes into a span: callers pass names and paths,
 * never headers, keys or query strings.
 */
#ifndef GL_TRACE_H
#define GL_TRACE_H

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>

struct gl_req;

#define GL_TRACE_PARENT_SIZE 56   /* "00-" 32 "-" 16 "-" 2, and the NUL */
#define GL_TRACE_BATCH       256  /* spans per export, at most */
#define GL_TRACE_QUEUE       4096 /* spans waiting for export, at most */
#define GL_TRACE_TIMEOUT_MS  500  /* one export POST, so a stop flushes within a second */

/* A position in a trace: what a traceparent says. */
struct gl_trace_ctx {
	char trace[33]; /* 32 lowercase hex, not all zero */
	char span[17];  /* 16 lowercase hex, not all zero */
	unsigned char flags;
};

/* OTLP's span kinds (their numbers are OTLP's). */
enum gl_trace_kind {
	GL_TRACE_INTERNAL = 1,
	GL_TRACE_SERVER = 2,
	GL_TRACE_CLIENT = 3,
	GL_TRACE_PRODUCER = 4,
	GL_TRACE_CONSUMER = 5,
};

struct gl_trace_span {
	struct gl_trace_ctx ctx; /* its trace, its own id: a child's traceparent names this */
	char parent[17];         /* the parent span's id, "" for a root */
	enum gl_trace_kind kind; /* 0: never started (ending it does nothing) */
	bool on;                 /* recorded (export is on) */
	bool quiet;              /* dropped at its end unless it has a child */
	bool error;
	unsigned children;
	long long start_ns;
	char name[128];
	json_t *attrs;               /* owned: OTLP attributes, or NULL */
	struct gl_trace_span *outer; /* the thread's current span before this one */
};

/* Read OTEL_* from gl_conf; with an endpoint, start the exporter.  0, or -1 (logged). */
int gl_trace_init(void);
/* Flush what is queued and stop the exporter (at most about a second); call last. */
void gl_trace_stop(void);
/* Is export on? */
bool gl_trace_on(void);

/* Parse a traceparent (version 00 only, strictly): 0 with *ctx, or -1. */
int gl_trace_parse(const char *s, struct gl_trace_ctx *ctx);
/* Format ctx as a traceparent into buf (GL_TRACE_PARENT_SIZE bytes or more). */
void gl_trace_format(const struct gl_trace_ctx *ctx, char *buf, size_t size);

/*
 * Start s, named name (copied), as a child of the thread's current span, or
 * as the root of a new trace when there is none.
 */
void gl_trace_start(struct gl_trace_span *s, enum gl_trace_kind kind, const char *name);
/*
 * Start s as a child of the span traceparent names (borrowed; NULL or
 * malformed: the root of a new trace), whatever the thread's current span.
 */
void gl_trace_remote(struct gl_trace_span *s, enum gl_trace_kind kind, const char *name,
                     const char *traceparent);
/* Add a string or integer attribute (key and value copied; no secrets). */
void gl_trace_attr(struct gl_trace_span *s, const char *key, const char *value);
void gl_trace_attr_int(struct gl_trace_span *s, const char *key, long long value);
/* End s (error: OTLP status error) and queue it when recorded. */
void gl_trace_end(struct gl_trace_span *s, bool error);
/* The thread's current span (borrowed), or NULL. */
const struct gl_trace_span *gl_trace_current(void);
/* s's traceparent into buf (GL_TRACE_PARENT_SIZE bytes or more). */
void gl_trace_header(const struct gl_trace_span *s, char *buf, size_t size);

/* app.c: the span of one FastCGI request, from its request id and HTTP_TRACEPARENT. */
void gl_trace_server_start(struct gl_trace_span *s, const struct gl_req *req);
/* After the response: named "<METHOD> <route pattern>", with its status. */
void gl_trace_server_end(struct gl_trace_span *s, const struct gl_req *req);

/* http.c: a call to url (absolute; its query and any user:password are never recorded). */
void gl_trace_client_start(struct gl_trace_span *s, const char *method, const char *url);
/* status: the HTTP status, 0 when there was no answer. */
void gl_trace_client_end(struct gl_trace_span *s, long status, bool failed);

/* events.c: publishing event id of type to family's stream (a PRODUCER span). */
void gl_trace_produce_start(struct gl_trace_span *s, const char *type, const char *family,
                            const char *id);
/* Handling event (borrowed) from stream for group: a CONSUMER span under its traceparent. */
void gl_trace_consume_start(struct gl_trace_span *s, const json_t *event, const char *stream,
                            const char *group);

/*
 * A span name for a call: "<METHOD> <peer> <path>", the peer being the
 * service (second path segment) for calls through the internal listener,
 * else the host; path segments of 20 characters or more (ids) read {id}.
 */
void gl_trace_client_name(char *buf, size_t size, const char *method, const char *url);

#endif
