#include <arpa/inet.h>
#include <curl/curl.h>
#include <netdb.h>
#include <netinet/in.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>

#include "board.h"
#include "breaker.h"
#include "conf.h"
#include "http.h"
#include "log.h"
#include "metrics.h"
#include "req.h"
#include "trace.h"

/* Per thread: an easy handle may not be shared (see the tick thread in app.h). */
static _Thread_local CURL *http_easy;

struct http_buf {
	char *data;
	size_t len;
	int overflow;
};

static size_t
http_write(char *ptr, size_t size, size_t nmemb, void *userdata)
{
	struct http_buf *b = userdata;
	size_t n = size * nmemb;
	char *p;

	if (b->len + n > GL_HTTP_MAX_BODY) {
		b->overflow = 1;
		return 0; /* aborts the transfer */
	}
	p = realloc(b->data, b->len + n + 1);
	if (p == NULL)
		return 0;
	memcpy(p + b->len, ptr, n);
	b->data = p;
	b->len += n;
	b->data[b->len] = '\0';
	return n;
}

static CURL *
http_handle(void)
{
	if (http_easy == NULL) {
		http_easy = curl_easy_init();
		if (http_easy == NULL)
			return NULL;
	}
	curl_easy_reset(http_easy);
	curl_easy_setopt(http_easy, CURLOPT_NOSIGNAL, 1L);
	curl_easy_setopt(http_easy, CURLOPT_PROTOCOLS_STR, "http,https");
	curl_easy_setopt(http_easy, CURLOPT_CONNECTTIMEOUT_MS, gl_conf.http_timeout_ms);
	curl_easy_setopt(http_easy, CURLOPT_TIMEOUT_MS, gl_conf.http_timeout_ms);
	curl_easy_setopt(http_easy, CURLOPT_FOLLOWLOCATION, 0L);
	curl_easy_setopt(http_easy, CURLOPT_WRITEFUNCTION, http_write);
	return http_easy;
}

void
gl_http_close(void)
{
	if (http_easy != NULL)
		curl_easy_cleanup(http_easy);
	http_easy = NULL;
}

/* One transfer's request: internal calls carry JSON and the caller's identity, outside
 * calls a form and a key. */
struct http_out {
	const char *url;
	const char *body; /* POST this, or NULL: GET */
	const char *type; /* its Content-Type */
	const char *key;  /* Authorization: Bearer, or NULL; never logged */
	const char *idem; /* Idempotency-Key, or NULL */
	long timeout_ms;  /* 0: gl_conf.http_timeout_ms */
	bool identity;    /* send X-User-Id / X-User-Role (internal calls only) */
};

static struct curl_slist *
http_header(struct curl_slist *hdrs, const char *name, const char *value)
{
	char hdr[512];

	if (snprintf(hdr, sizeof(hdr), "%s: %s", name, value) >= (int)sizeof(hdr))
		return hdrs; /* callers bound what they pass; never sent cut */
	return curl_slist_append(hdrs, hdr);
}

/* The request headers of o (new: curl_slist_free_all), on behalf of req (may be NULL). */
static struct curl_slist *
http_headers(const struct http_out *o, const struct gl_req *req, const char *traceparent)
{
	struct curl_slist *hdrs = curl_slist_append(NULL, "Accept: application/json");

	hdrs = http_header(hdrs, "traceparent", traceparent);
	if (req != NULL)
		hdrs = http_header(hdrs, "X-Request-Id", req->request_id);
	if (req != NULL && o->identity && req->role != 0) {
		hdrs = http_header(hdrs, "X-User-Id", req->user_id);
		hdrs = http_header(hdrs, "X-User-Role",
		                   req->role == GL_ROLE_ADMIN   ? "admin"
		                   : req->role == GL_ROLE_STAFF ? "staff"
		                                                : "customer");
	}
	if (o->key != NULL) {
		char bearer[300];

		if (snprintf(bearer, sizeof(bearer), "Bearer %s", o->key) < (int)sizeof(bearer))
			hdrs = http_header(hdrs, "Authorization", bearer);
	}
	if (o->idem != NULL)
		hdrs = http_header(hdrs, "Idempotency-Key", o->idem);
	if (o->body != NULL)
		hdrs = http_header(hdrs, "Content-Type", o->type);
	return hdrs;
}

/* Whose fault a transfer's end is: curl's rc, else the answer's status. */
static enum gl_err
http_blame(CURLcode rc, long status, const struct gl_req *req)
{
	if (rc == CURLE_OPERATION_TIMEDOUT)
		return GL_E_UPSTREAM_TIMEOUT;
	if (rc == CURLE_COULDNT_CONNECT || rc == CURLE_COULDNT_RESOLVE_HOST ||
	    rc == CURLE_GOT_NOTHING || rc == CURLE_RECV_ERROR || rc == CURLE_SEND_ERROR)
		return GL_E_UPSTREAM_DOWN;
	if (rc != CURLE_OK) {
		gl_log(GL_LOG_WARN, req ? req->request_id : NULL, "outbound call failed: %s",
		       curl_easy_strerror(rc));
		return GL_E_UPSTREAM_BAD;
	}
	if (status == 503 || status == 502)
		return GL_E_UPSTREAM_DOWN;
	if (status == 504)
		return GL_E_UPSTREAM_TIMEOUT;
	if (status >= 500 || status < 200)
		return GL_E_UPSTREAM_BAD;
	return GL_OK;
}

static enum gl_err
http_once(const struct http_out *o, const struct gl_req *req, long *status, struct http_buf *buf)
{
	struct curl_slist *hdrs;
	struct gl_trace_span span;
	char traceparent[GL_TRACE_PARENT_SIZE];
	long answered = 0;
	CURLcode rc;
	CURL *c = http_handle();

	if (c == NULL)
		return GL_E_INTERNAL;
	/* Each attempt is a span of the caller's trace; the callee's parent is this span. */
	gl_trace_client_start(&span, o->body != NULL ? "POST" : "GET", o->url);
	gl_trace_header(&span, traceparent, sizeof(traceparent));
	curl_easy_setopt(c, CURLOPT_URL, o->url);
	curl_easy_setopt(c, CURLOPT_WRITEDATA, buf);
	if (o->timeout_ms > 0) {
		curl_easy_setopt(c, CURLOPT_CONNECTTIMEOUT_MS, o->timeout_ms);
		curl_easy_setopt(c, CURLOPT_TIMEOUT_MS, o->timeout_ms);
	}
	if (o->body != NULL)
		curl_easy_setopt(c, CURLOPT_POSTFIELDS, o->body);
	hdrs = http_headers(o, req, traceparent);
	curl_easy_setopt(c, CURLOPT_HTTPHEADER, hdrs);
	rc = curl_easy_perform(c);
	curl_easy_setopt(c, CURLOPT_HTTPHEADER, NULL);
	curl_slist_free_all(hdrs);
	if (rc == CURLE_OK)
		curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &answered);
	gl_trace_client_end(&span, answered, rc != CURLE_OK);
	if (rc == CURLE_OK)
		*status = answered;
	return http_blame(rc, answered, req);
}

/* One breaker per target service, named by the path's second segment (per thread). */
static _Thread_local struct {
	char name[32];
	struct gl_breaker b;
} http_breakers[16];

static struct gl_breaker *
http_breaker_named(const char *p, size_t n)
{
	int i;

	if (n == 0 || n >= sizeof(http_breakers[0].name))
		return NULL;
	for (i = 0; i < 16 && http_breakers[i].name[0] != '\0'; i++)
		if (strlen(http_breakers[i].name) == n && memcmp(http_breakers[i].name, p, n) == 0)
			return &http_breakers[i].b;
	if (i == 16)
		return NULL;
	memcpy(http_breakers[i].name, p, n);
	http_breakers[i].name[n] = '\0';
	return &http_breakers[i].b;
}

/* An internal path's target service, "/api/<svc>/..." or "/internal/<svc>/...", into
 * target[32] ("" when the path names none). */
static void
http_target(const char *path, char target[32])
{
	const char *p = path;
	size_t n;

	target[0] = '\0';
	if (*p == '/')
		p = strchr(p + 1, '/');
	if (p == NULL)
		return;
	p++;
	if ((n = strcspn(p, "/?")) < 32)
		snprintf(target, 32, "%.*s", (int)n, p);
}

/* The metric's outcome of one attempt (metrics.h). */
static const char *
http_outcome(enum gl_err err)
{
	return err == GL_OK                   ? "ok"
	       : err == GL_E_UPSTREAM_DOWN    ? "down"
	       : err == GL_E_UPSTREAM_TIMEOUT ? "timeout"
	                                      : "bad";
}

/* Every call: attempts > 1 only for idempotent ones; target names the target's breaker. */
static enum gl_err
http_call(const struct gl_req *req, const struct http_out *o, const char *target, int attempts,
          long *status, json_t **body)
{
	struct gl_breaker *b = http_breaker_named(target, strlen(target));
	const char *rid = req != NULL ? req->request_id : NULL;
	enum gl_err err = GL_E_UPSTREAM_DOWN;
	struct http_buf buf;

	if (body != NULL)
		*body = NULL;
	*status = 0;
	for (int attempt = 0; attempt < attempts; attempt++) {
		if (attempt > 0) {
			/* Exponential backoff with jitter, so retrying workers do not move in step.
			 */
			long ms = (50L << (attempt - 1)) + random() % 50;
			struct timespec ts = { 0, ms * 1000000L };
			nanosleep(&ts, NULL);
		}
		if (b != NULL && !gl_breaker_allow(b, gl_now_us())) {
			gl_log(GL_LOG_WARN, rid, "%s: the circuit to its service is open", o->url);
			gl_metrics_outbound(target, "open", 0);
			return GL_E_UPSTREAM_DOWN;
		}
		memset(&buf, 0, sizeof(buf));
		long long started = gl_now_us();
		gl_board_wait("http", target); /* the pool's status (board.h) */
		err = http_once(o, req, status, &buf);
		gl_board_wait(NULL, NULL);
		gl_metrics_outbound(target, http_outcome(err), gl_now_us() - started);
		/* A 4xx is a healthy target saying no; only down or slow counts against it.  A 503
		 * is the target answering that *its* dependency is away (the internal listener
		 * never refuses): the target is up, and answers again the moment that is back, so
		 * it does not open the circuit (which would keep it shut 5 s longer). */
		if (b != NULL) {
			gl_breaker_record(b,
			                  !(err == GL_E_UPSTREAM_DOWN && *status != 503) &&
			                          err != GL_E_UPSTREAM_TIMEOUT,
			                  gl_now_us());
			long long now = gl_now_us();
			gl_metrics_breaker(target, gl_breaker_state(b, now) == GL_BREAKER_OPEN
			                                   ? b->open_until - now
			                                   : 0);
		}
		if (err == GL_OK && body != NULL && buf.data != NULL)
			*body = json_loadb(buf.data, buf.len, 0, NULL);
		free(buf.data);
		if (err != GL_E_UPSTREAM_DOWN)
			break;
	}
	if (err != GL_OK)
		gl_log(GL_LOG_WARN, rid, "%s %s failed (status %ld)", o->body ? "POST" : "GET",
		       o->url, *status);
	return err;
}

/* A call to internal_url + path, as the caller. */
static enum gl_err
http_internal(const struct gl_req *req, const char *path, const char *post, int attempts,
              long *status, json_t **body)
{
	char url[1024], target[32];
	struct http_out o = { url, post, "application/json", NULL, NULL, 0, true };

	*status = 0;
	if (body != NULL)
		*body = NULL;
	if (snprintf(url, sizeof(url), "%s%s", gl_conf.internal_url, path) >= (int)sizeof(url))
		return GL_E_INTERNAL;
	http_target(path, target);
	return http_call(req, &o, target, attempts, status, body);
}

enum gl_err
gl_http_get_text(const char *path, long *status, char **text)
{
	return gl_http_get_text_at(gl_conf.internal_url, path, status, text);
}

int
gl_http_peers(char urls[][GL_HTTP_URL_MAX], int max)
{
	char host[256], *colon;
	struct addrinfo hints, *res = NULL, *a;
	int n = 0;

	if (gl_conf.nginx_peers[0] == '\0') {
		if (max < 1 || snprintf(urls[0], GL_HTTP_URL_MAX, "%s", gl_conf.internal_url) >=
		                       GL_HTTP_URL_MAX)
			return 0;
		return 1;
	}
	if (snprintf(host, sizeof(host), "%s", gl_conf.nginx_peers) >= (int)sizeof(host) ||
	    (colon = strrchr(host, ':')) == NULL)
		return 0;
	*colon = '\0';
	memset(&hints, 0, sizeof(hints));
	hints.ai_family = AF_INET; /* the services' networks here are IPv4 (docker/README.md) */
	hints.ai_socktype = SOCK_STREAM;
	hints.ai_flags = AI_NUMERICSERV;
	if (getaddrinfo(host, colon + 1, &hints, &res) != 0)
		return 0;
	for (a = res; a != NULL && n < max; a = a->ai_next) {
		char ip[INET_ADDRSTRLEN];
		const struct sockaddr_in *in = (const struct sockaddr_in *)a->ai_addr;
		if (inet_ntop(AF_INET, &in->sin_addr, ip, sizeof(ip)) == NULL)
			continue;
		snprintf(urls[n++], GL_HTTP_URL_MAX, "http://%s:%s", ip, colon + 1);
	}
	freeaddrinfo(res);
	return n;
}

enum gl_err
gl_http_get_text_at(const char *base, const char *path, long *status, char **text)
{
	char url[1024];
	struct http_out o = { url, NULL, NULL, NULL, NULL, 0, false };
	struct http_buf buf = { NULL, 0, 0 };
	enum gl_err err;

	*text = NULL;
	*status = 0;
	if (snprintf(url, sizeof(url), "%s%s", base, path) >= (int)sizeof(url))
		return GL_E_INTERNAL;
	err = http_once(&o, NULL, status, &buf);
	if (err == GL_OK && buf.data == NULL)
		buf.data = strdup("");
	if (err != GL_OK || buf.data == NULL) {
		free(buf.data);
		return err != GL_OK ? err : GL_E_INTERNAL;
	}
	*text = buf.data;
	return GL_OK;
}

enum gl_err
gl_http_get(const struct gl_req *req, const char *path, long *status, json_t **body)
{
	return http_internal(req, path, NULL, 3, status, body);
}

enum gl_err
gl_http_post(const struct gl_req *req, const char *path, const json_t *in, long *status,
             json_t **body)
{
	char *text = in != NULL ? json_dumps(in, JSON_COMPACT) : strdup("");
	enum gl_err err;

	if (text == NULL)
		return GL_E_INTERNAL;
	err = gl_http_post_text(req, path, text, status, body);
	free(text);
	return err;
}

enum gl_err
gl_http_post_text(const struct gl_req *req, const char *path, const char *text, long *status,
                  json_t **body)
{
	/* One attempt: a POST that reached the other side may have done its work. */
	return http_internal(req, path, text, 1, status, body);
}

enum gl_err
gl_http_post_form(const struct gl_req *req, const struct gl_http_form *f, long *status,
                  json_t **body)
{
	struct http_out o = { f->url, f->form, "application/x-www-form-urlencoded",
		              f->key, f->idem, f->timeout_ms,
		              false };

	/* One attempt, as any POST: the provider's Idempotency-Key is what makes a retry safe,
	 * and the caller decides when to retry. */
	return http_call(req, &o, f->target, 1, status, body);
}

int
gl_http_form_add(char *form, size_t size, const char *name, const char *value)
{
	size_t len = strlen(form);
	char *esc = curl_easy_escape(NULL, value, 0);
	int n;

	if (esc == NULL)
		return -1;
	n = snprintf(form + len, size - len, "%s%s=%s", len > 0 ? "&" : "", name, esc);
	curl_free(esc);
	if (n < 0 || (size_t)n >= size - len) {
		form[len] = '\0'; /* never half a field */
		return -1;
	}
	return 0;
}
