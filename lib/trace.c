#include <curl/curl.h>
#include <errno.h>
#include <pthread.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <time.h>
#include <unistd.h>

#include "conf.h"
#include "log.h"
#include "req.h"
#include "trace.h"

/* The current span of this thread (SERVER, CONSUMER and INTERNAL spans nest). */
static _Thread_local struct gl_trace_span *tr_current;

/* Export: on when OTEL_EXPORTER_OTLP_ENDPOINT is set (gl_trace_init). */
static bool tr_enabled;
static char tr_url[1100];
static json_t *tr_resource; /* owned: the OTLP resource, built once */

static pthread_mutex_t tr_lock = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t tr_wake;
static json_t *tr_queue[GL_TRACE_QUEUE]; /* owned: spans waiting for the exporter */
static size_t tr_len;
static unsigned long tr_dropped; /* spans lost since the last warning (full queue, failed POST) */
static bool tr_stopping;
static bool tr_running;
static pthread_t tr_thread;

/* ------------------------------------------------------------------ ids */

/* splitmix64 per thread, seeded from the kernel once: ids need to be unique, not secret. */
static uint64_t
tr_random(void)
{
	static _Thread_local uint64_t state;
	static _Thread_local bool seeded;
	uint64_t z;

	if (!seeded) {
		struct timespec ts;

		clock_gettime(CLOCK_REALTIME, &ts);
		if (getrandom(&state, sizeof(state), GRND_NONBLOCK) != (ssize_t)sizeof(state))
			state = (uint64_t)ts.tv_nsec * 0x9e3779b97f4a7c15ULL;
		state ^= (uint64_t)getpid() << 32 ^ (uint64_t)(uintptr_t)&state ^
		         (uint64_t)ts.tv_sec;
		seeded = true;
	}
	z = (state += 0x9e3779b97f4a7c15ULL);
	z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
	z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
	return z ^ (z >> 31);
}

/* 16 hex digits, never all zero. */
static void
tr_new_id(char out[17])
{
	uint64_t v;

	while ((v = tr_random()) == 0)
		;
	for (int i = 15; i >= 0; i--, v >>= 4)
		out[i] = "0123456789abcdef"[v & 0xf];
	out[16] = '\0';
}

static void
tr_new_trace(char out[33])
{
	tr_new_id(out);
	tr_new_id(out + 16);
}

/* n lowercase hex digits. */
static bool
tr_hex(const char *s, size_t n)
{
	for (size_t i = 0; i < n; i++)
		if (!((s[i] >= '0' && s[i] <= '9') || (s[i] >= 'a' && s[i] <= 'f')))
			return false;
	return true;
}

/* n lowercase hex digits, not all zero: a trace or span id. */
static bool
tr_hex_id(const char *s, size_t n)
{
	size_t i = 0;

	while (i < n && s[i] == '0')
		i++;
	return i < n && tr_hex(s, n);
}

static int
tr_hex_val(char c)
{
	return c <= '9' ? c - '0' : c - 'a' + 10;
}

int
gl_trace_parse(const char *s, struct gl_trace_ctx *ctx)
{
	/* 00-<32 hex>-<16 hex>-<2 hex>, and nothing after (version 00 has no more fields). */
	if (s == NULL || strlen(s) != GL_TRACE_PARENT_SIZE - 1 || s[0] != '0' || s[1] != '0' ||
	    s[2] != '-' || s[35] != '-' || s[52] != '-' || !tr_hex_id(s + 3, 32) ||
	    !tr_hex_id(s + 36, 16) || !tr_hex(s + 53, 2))
		return -1;
	memcpy(ctx->trace, s + 3, 32);
	ctx->trace[32] = '\0';
	memcpy(ctx->span, s + 36, 16);
	ctx->span[16] = '\0';
	ctx->flags = (unsigned char)(tr_hex_val(s[53]) << 4 | tr_hex_val(s[54]));
	return 0;
}

void
gl_trace_format(const struct gl_trace_ctx *ctx, char *buf, size_t size)
{
	snprintf(buf, size, "00-%s-%s-%02x", ctx->trace, ctx->span, ctx->flags);
}

/* ------------------------------------------------------------------ spans */

bool
gl_trace_on(void)
{
	return tr_enabled;
}

const struct gl_trace_span *
gl_trace_current(void)
{
	return tr_current;
}

void
gl_trace_header(const struct gl_trace_span *s, char *buf, size_t size)
{
	gl_trace_format(&s->ctx, buf, size);
}

static long long
tr_now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_REALTIME, &ts);
	return (long long)ts.tv_sec * 1000000000LL + ts.tv_nsec;
}

/* Start s as a child of parent, or (parent NULL) as the root of a new trace. */
static void
tr_begin(struct gl_trace_span *s, enum gl_trace_kind kind, const char *name,
         const struct gl_trace_ctx *parent)
{
	s->kind = kind;
	s->quiet = s->error = false;
	s->children = 0;
	s->attrs = NULL;
	s->outer = NULL;
	if (parent != NULL) {
		memcpy(s->ctx.trace, parent->trace, sizeof(s->ctx.trace));
		memcpy(s->parent, parent->span, sizeof(s->parent));
		s->ctx.flags = parent->flags;
	} else {
		tr_new_trace(s->ctx.trace);
		s->parent[0] = '\0';
		s->ctx.flags = 0;
	}
	tr_new_id(s->ctx.span);
	s->on = tr_enabled;
	if (s->on) {
		s->ctx.flags |= 0x01; /* sampled: this span is recorded */
		s->start_ns = tr_now_ns();
		snprintf(s->name, sizeof(s->name), "%s", name != NULL ? name : "");
	}
	if (kind == GL_TRACE_SERVER || kind == GL_TRACE_CONSUMER || kind == GL_TRACE_INTERNAL) {
		s->outer = tr_current;
		tr_current = s;
	}
}

void
gl_trace_start(struct gl_trace_span *s, enum gl_trace_kind kind, const char *name)
{
	struct gl_trace_span *cur = tr_current;

	if (cur != NULL)
		cur->children++;
	tr_begin(s, kind, name, cur != NULL ? &cur->ctx : NULL);
}

void
gl_trace_remote(struct gl_trace_span *s, enum gl_trace_kind kind, const char *name,
                const char *traceparent)
{
	struct gl_trace_ctx parent;

	tr_begin(s, kind, name, gl_trace_parse(traceparent, &parent) == 0 ? &parent : NULL);
}

static void
tr_attr(struct gl_trace_span *s, const char *key, json_t *value)
{
	if (s->attrs == NULL)
		s->attrs = json_array();
	json_array_append_new(s->attrs, json_pack("{s:s, s:o}", "key", key, "value", value));
}

void
gl_trace_attr(struct gl_trace_span *s, const char *key, const char *value)
{
	if (!s->on || value == NULL)
		return;
	tr_attr(s, key, json_pack("{s:s}", "stringValue", value));
}

void
gl_trace_attr_int(struct gl_trace_span *s, const char *key, long long value)
{
	char v[24];

	if (!s->on)
		return;
	snprintf(v, sizeof(v), "%lld", value); /* OTLP's JSON writes 64-bit integers as strings */
	tr_attr(s, key, json_pack("{s:s}", "intValue", v));
}

/* Hand span (stolen) to the exporter, or drop it when the queue is full. */
static void
tr_enqueue(json_t *span)
{
	pthread_mutex_lock(&tr_lock);
	if (tr_len < GL_TRACE_QUEUE && !tr_stopping) {
		tr_queue[tr_len++] = span;
		span = NULL;
		if (tr_len == GL_TRACE_BATCH)
			pthread_cond_signal(&tr_wake);
	} else
		tr_dropped++;
	pthread_mutex_unlock(&tr_lock);
	json_decref(span);
}

void
gl_trace_end(struct gl_trace_span *s, bool error)
{
	char start[24], end[24];
	json_t *j;

	if (s->kind == 0)
		return;
	if (tr_current == s)
		tr_current = s->outer;
	if (!s->on || (s->quiet && s->children == 0)) {
		json_decref(s->attrs);
		s->attrs = NULL;
		s->kind = 0;
		return;
	}
	snprintf(start, sizeof(start), "%lld", s->start_ns);
	snprintf(end, sizeof(end), "%lld", tr_now_ns());
	j = json_pack("{s:s, s:s, s:s, s:i, s:s, s:s, s:o}", "traceId", s->ctx.trace, "spanId",
	              s->ctx.span, "name", s->name, "kind", (int)s->kind, "startTimeUnixNano",
	              start, "endTimeUnixNano", end, "attributes",
	              s->attrs != NULL ? s->attrs : json_array());
	s->attrs = NULL; /* stolen by json_pack, even when it failed */
	if (j != NULL && s->parent[0] != '\0')
		json_object_set_new(j, "parentSpanId", json_string(s->parent));
	if (j != NULL && (error || s->error))
		json_object_set_new(j, "status", json_pack("{s:i}", "code", 2));
	s->kind = 0;
	if (j != NULL)
		tr_enqueue(j);
}

/* ------------------------------------------------------------------ requests and calls */

void
gl_trace_server_start(struct gl_trace_span *s, const struct gl_req *req)
{
	struct gl_trace_ctx parent;

	if (gl_trace_parse(gl_req_param(req, "HTTP_TRACEPARENT"), &parent) == 0) {
		tr_begin(s, GL_TRACE_SERVER, "", &parent);
		return;
	}
	/* No parent: the trace is the request's id (nginx's), when it can be one. */
	tr_begin(s, GL_TRACE_SERVER, "", NULL);
	if (strlen(req->request_id) == 32 && tr_hex_id(req->request_id, 32))
		memcpy(s->ctx.trace, req->request_id, sizeof(s->ctx.trace));
}

void
gl_trace_server_end(struct gl_trace_span *s, const struct gl_req *req)
{
	const char *method = req->method ? gl_method_name(req->method) : "HTTP";
	const struct gl_route *r = req->match.route;

	if (s->on) {
		snprintf(s->name, sizeof(s->name), "%s%s%s", method, r ? " " : "",
		         r ? r->pattern : "");
		gl_trace_attr(s, "http.request.method", method);
		if (r != NULL)
			gl_trace_attr(s, "http.route", r->pattern);
		gl_trace_attr_int(s, "http.response.status_code", req->status);
		gl_trace_attr(s, "galley.request_id", req->request_id);
		if (req->user_id[0] != '\0')
			gl_trace_attr(s, "enduser.id", req->user_id);
	}
	gl_trace_end(s, req->status >= 500);
}

/* Where url's path starts ("" when it has none), and its host in host[size]. */
static const char *
tr_url_split(const char *url, char *host, size_t size)
{
	const char *p = strstr(url, "://"), *at, *end;

	p = p != NULL ? p + 3 : url;
	end = p + strcspn(p, "/?#");
	/* user:password@host: the credentials are never recorded. */
	at = memchr(p, '@', (size_t)(end - p));
	if (at != NULL)
		p = at + 1;
	snprintf(host, size, "%.*s", (int)(end - p), p);
	return *end == '/' ? end : "";
}

void
gl_trace_client_name(char *buf, size_t size, const char *method, const char *url)
{
	const char *internal = gl_conf.internal_url;
	const char *path, *seg, *next;
	char host[256], peer[64];
	size_t o, n;

	path = tr_url_split(url, host, sizeof(host));
	snprintf(peer, sizeof(peer), "%.63s", host);
	if (internal != NULL && strncmp(url, internal, strlen(internal)) == 0 &&
	    (seg = strchr(path + (*path == '/'), '/')) != NULL) {
		seg++; /* "/api/<svc>/..." or "/internal/<svc>/...": the service */
		snprintf(peer, sizeof(peer), "%.*s", (int)strcspn(seg, "/?#"), seg);
	}
	o = (size_t)snprintf(buf, size, "%s %s%s", method, peer, *path == '/' ? " " : "");
	for (seg = path; o < size && *seg == '/';) {
		n = strcspn(seg + 1, "/?#");
		next = seg + 1 + n;
		if (n >= 20)
			o += (size_t)snprintf(buf + o, size - o, "/{id}");
		else
			o += (size_t)snprintf(buf + o, size - o, "/%.*s", (int)n, seg + 1);
		seg = next;
	}
	if (o >= size && size > 0)
		buf[size - 1] = '\0';
}

void
gl_trace_client_start(struct gl_trace_span *s, const char *method, const char *url)
{
	char host[256];
	const char *path;

	gl_trace_start(s, GL_TRACE_CLIENT, "");
	if (!s->on)
		return;
	gl_trace_client_name(s->name, sizeof(s->name), method, url);
	path = tr_url_split(url, host, sizeof(host));
	gl_trace_attr(s, "http.request.method", method);
	gl_trace_attr(s, "server.address", host);
	if (*path != '\0') {
		char p[512];

		snprintf(p, sizeof(p), "%.*s", (int)strcspn(path, "?#"), path);
		gl_trace_attr(s, "url.path", p);
	}
}

void
gl_trace_client_end(struct gl_trace_span *s, long status, bool failed)
{
	if (s->on && status > 0)
		gl_trace_attr_int(s, "http.response.status_code", status);
	gl_trace_end(s, failed || status >= 500);
}

void
gl_trace_produce_start(struct gl_trace_span *s, const char *type, const char *family,
                       const char *id)
{
	char name[96], stream[64];

	snprintf(name, sizeof(name), "publish %s", type);
	gl_trace_start(s, GL_TRACE_PRODUCER, name);
	if (!s->on)
		return;
	snprintf(stream, sizeof(stream), "galley:events:%s", family);
	gl_trace_attr(s, "messaging.system", "redis");
	gl_trace_attr(s, "messaging.operation.type", "publish");
	gl_trace_attr(s, "messaging.destination.name", stream);
	gl_trace_attr(s, "messaging.message.id", id);
	gl_trace_attr(s, "galley.event.type", type);
}

void
gl_trace_consume_start(struct gl_trace_span *s, const json_t *event, const char *stream,
                       const char *group)
{
	const char *type = json_string_value(json_object_get(event, "type"));
	const char *tp = json_string_value(json_object_get(event, "traceparent"));
	char name[96];

	snprintf(name, sizeof(name), "process %s", type != NULL ? type : "event");
	gl_trace_remote(s, GL_TRACE_CONSUMER, name, tp);
	if (!s->on)
		return;
	gl_trace_attr(s, "messaging.system", "redis");
	gl_trace_attr(s, "messaging.operation.type", "process");
	gl_trace_attr(s, "messaging.destination.name", stream);
	gl_trace_attr(s, "messaging.consumer.group.name", group);
	gl_trace_attr(s, "messaging.message.id", json_string_value(json_object_get(event, "id")));
	gl_trace_attr(s, "galley.event.type", type);
	gl_trace_attr(s, "galley.request_id",
	              json_string_value(json_object_get(event, "request_id")));
}

/* ------------------------------------------------------------------ export */

static size_t
tr_discard(char *ptr, size_t size, size_t nmemb, void *userdata)
{
	(void)ptr;
	(void)userdata;
	return size * nmemb;
}

/*
 * POST n spans (stolen) to the collector; on failure they are dropped and
 * counted.  Its own curl handle, not lib/http's calls: those would be
 * spans themselves, with retries, breakers and a caller's identity.
 */
static void
tr_post(CURL *c, json_t **spans, size_t n)
{
	static time_t warned;
	json_t *all = json_array(), *payload;
	char *text = NULL;
	long status = 0;
	CURLcode rc = CURLE_FAILED_INIT;
	struct curl_slist *hdrs = NULL;
	time_t now;

	for (size_t i = 0; i < n; i++)
		json_array_append_new(all, spans[i]);
	payload = json_pack("{s:[{s:O, s:[{s:{s:s}, s:o}]}]}", "resourceSpans", "resource",
	                    tr_resource, "scopeSpans", "scope", "name", "galley", "spans", all);
	if (payload != NULL)
		text = json_dumps(payload, JSON_COMPACT);
	json_decref(payload);
	if (text != NULL && c != NULL) {
		curl_easy_reset(c);
		hdrs = curl_slist_append(hdrs, "Content-Type: application/json");
		curl_easy_setopt(c, CURLOPT_NOSIGNAL, 1L);
		curl_easy_setopt(c, CURLOPT_PROTOCOLS_STR, "http,https");
		curl_easy_setopt(c, CURLOPT_URL, tr_url);
		curl_easy_setopt(c, CURLOPT_HTTPHEADER, hdrs);
		curl_easy_setopt(c, CURLOPT_POSTFIELDS, text);
		curl_easy_setopt(c, CURLOPT_CONNECTTIMEOUT_MS, (long)GL_TRACE_TIMEOUT_MS);
		curl_easy_setopt(c, CURLOPT_TIMEOUT_MS, (long)GL_TRACE_TIMEOUT_MS);
		curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, tr_discard);
		rc = curl_easy_perform(c);
		curl_easy_setopt(c, CURLOPT_HTTPHEADER, NULL);
		curl_slist_free_all(hdrs);
		if (rc == CURLE_OK)
			curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &status);
	}
	free(text);
	pthread_mutex_lock(&tr_lock);
	if (status < 200 || status > 299)
		tr_dropped += n;
	now = time(NULL);
	if (tr_dropped > 0 && now - warned >= 60) {
		warned = now;
		gl_log(GL_LOG_WARN, NULL,
		       "tracing: %lu spans dropped (the last export to %s: %s, status %ld)",
		       tr_dropped, tr_url, rc == CURLE_OK ? "answered" : curl_easy_strerror(rc),
		       status);
		tr_dropped = 0;
	}
	pthread_mutex_unlock(&tr_lock);
}

/* Move up to max queued spans into out; the caller holds tr_lock. */
static size_t
tr_take(json_t **out, size_t max)
{
	size_t n = tr_len < max ? tr_len : max;

	memcpy(out, tr_queue, n * sizeof(*out));
	memmove(tr_queue, tr_queue + n, (tr_len - n) * sizeof(*out));
	tr_len -= n;
	return n;
}

static void *
tr_export_loop(void *arg)
{
	static json_t *batch[GL_TRACE_QUEUE]; /* this thread's only */
	CURL *c = curl_easy_init();
	struct timespec at;
	size_t n;

	(void)arg;
	pthread_mutex_lock(&tr_lock);
	while (!tr_stopping) {
		if (tr_len < GL_TRACE_BATCH) {
			clock_gettime(CLOCK_MONOTONIC, &at);
			at.tv_sec += 1;
			pthread_cond_timedwait(&tr_wake, &tr_lock, &at);
		}
		if (tr_stopping || tr_len == 0)
			continue;
		n = tr_take(batch, GL_TRACE_BATCH);
		pthread_mutex_unlock(&tr_lock);
		tr_post(c, batch, n);
		pthread_mutex_lock(&tr_lock);
	}
	/* Stopping: what is left goes in one last POST. */
	n = tr_take(batch, GL_TRACE_QUEUE);
	pthread_mutex_unlock(&tr_lock);
	if (n > 0)
		tr_post(c, batch, n);
	if (c != NULL)
		curl_easy_cleanup(c);
	return NULL;
}

int
gl_trace_init(void)
{
	const char *ep = gl_conf.otlp_endpoint;
	pthread_condattr_t attr;
	sigset_t all, old;
	char host[64] = "", instance[96], name[96], pid[16];
	size_t len;

	if (ep == NULL || *ep == '\0')
		return 0;
	len = strlen(ep);
	while (len > 0 && ep[len - 1] == '/')
		len--;
	snprintf(tr_url, sizeof(tr_url), "%.*s/v1/traces", (int)len, ep);
	gethostname(host, sizeof(host) - 1);
	snprintf(instance, sizeof(instance), "%s:%d", host, (int)getpid());
	snprintf(name, sizeof(name), "galley-%s", gl_conf.service);
	snprintf(pid, sizeof(pid), "%d", (int)getpid()); /* OTLP's JSON: int64 as a string */
	tr_resource = json_pack(
	        "{s:[{s:s, s:{s:s}}, {s:s, s:{s:s}}, {s:s, s:{s:s}}, {s:s, s:{s:s}}]}",
	        "attributes", "key", "service.name", "value", "stringValue",
	        gl_conf.otel_service_name[0] ? gl_conf.otel_service_name : name, "key",
	        "service.instance.id", "value", "stringValue", instance, "key", "host.name",
	        "value", "stringValue", host, "key", "process.pid", "value", "intValue", pid);
	if (tr_resource == NULL || pthread_condattr_init(&attr) != 0 ||
	    pthread_condattr_setclock(&attr, CLOCK_MONOTONIC) != 0 ||
	    pthread_cond_init(&tr_wake, &attr) != 0) {
		gl_log(GL_LOG_ERROR, NULL, "tracing: cannot set up the exporter");
		return -1;
	}
	pthread_condattr_destroy(&attr);
	/* No signal for this thread: the request loop's accept() must see the stop. */
	sigfillset(&all);
	pthread_sigmask(SIG_BLOCK, &all, &old);
	tr_running = pthread_create(&tr_thread, NULL, tr_export_loop, NULL) == 0;
	pthread_sigmask(SIG_SETMASK, &old, NULL);
	if (!tr_running) {
		gl_log(GL_LOG_ERROR, NULL, "tracing: the exporter thread could not start");
		return -1;
	}
	tr_enabled = true;
	gl_log(GL_LOG_INFO, NULL, "tracing: spans go to %s", tr_url);
	return 0;
}

void
gl_trace_stop(void)
{
	if (!tr_running)
		return;
	tr_enabled = false;
	pthread_mutex_lock(&tr_lock);
	tr_stopping = true;
	pthread_cond_signal(&tr_wake);
	pthread_mutex_unlock(&tr_lock);
	pthread_join(tr_thread, NULL);
	tr_running = false;
	json_decref(tr_resource);
	tr_resource = NULL;
}
