#include <curl/curl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "breaker.h"
#include "conf.h"
#include "http.h"
#include "log.h"
#include "req.h"

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

/* One transfer; post, when not NULL, is a JSON body to POST. */
static enum gl_err
http_once(const char *url, const struct gl_req *req, const char *post, long *status,
          struct http_buf *buf)
{
	struct curl_slist *hdrs = NULL;
	char hdr[128];
	CURLcode rc;
	CURL *c = http_handle();

	if (c == NULL)
		return GL_E_INTERNAL;
	curl_easy_setopt(c, CURLOPT_URL, url);
	curl_easy_setopt(c, CURLOPT_WRITEDATA, buf);
	hdrs = curl_slist_append(hdrs, "Accept: application/json");
	if (req != NULL) {
		snprintf(hdr, sizeof(hdr), "X-Request-Id: %s", req->request_id);
		hdrs = curl_slist_append(hdrs, hdr);
		if (req->role != 0) {
			snprintf(hdr, sizeof(hdr), "X-User-Id: %s", req->user_id);
			hdrs = curl_slist_append(hdrs, hdr);
			snprintf(hdr, sizeof(hdr), "X-User-Role: %s",
			         req->role == GL_ROLE_ADMIN   ? "admin"
			         : req->role == GL_ROLE_STAFF ? "staff"
			                                      : "customer");
			hdrs = curl_slist_append(hdrs, hdr);
		}
	}
	if (post != NULL) {
		hdrs = curl_slist_append(hdrs, "Content-Type: application/json");
		curl_easy_setopt(c, CURLOPT_POSTFIELDS, post);
	}
	curl_easy_setopt(c, CURLOPT_HTTPHEADER, hdrs);
	rc = curl_easy_perform(c);
	curl_easy_setopt(c, CURLOPT_HTTPHEADER, NULL);
	curl_slist_free_all(hdrs);
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
	curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, status);
	if (*status == 503 || *status == 502)
		return GL_E_UPSTREAM_DOWN;
	if (*status == 504)
		return GL_E_UPSTREAM_TIMEOUT;
	if (*status >= 500 || *status < 200)
		return GL_E_UPSTREAM_BAD;
	return GL_OK;
}

/* One breaker per target service, named by the path's second segment (per thread). */
static _Thread_local struct {
	char name[32];
	struct gl_breaker b;
} http_breakers[16];

static struct gl_breaker *
http_breaker(const char *path)
{
	const char *p = path, *end;
	size_t n;
	int i;

	/* "/api/<svc>/..." or "/internal/<svc>/..." */
	if (*p == '/')
		p = strchr(p + 1, '/');
	if (p == NULL)
		return NULL;
	p++;
	end = p + strcspn(p, "/?");
	n = (size_t)(end - p);
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

/* The call behind gl_http_get and gl_http_post: attempts > 1 only for idempotent ones. */
static enum gl_err
http_call(const struct gl_req *req, const char *path, const char *post, int attempts, long *status,
          json_t **body)
{
	const char *rid = req != NULL ? req->request_id : NULL;
	struct gl_breaker *b = http_breaker(path);
	enum gl_err err = GL_E_UPSTREAM_DOWN;
	struct http_buf buf;
	char url[1024];

	if (body != NULL)
		*body = NULL;
	*status = 0;
	if (snprintf(url, sizeof(url), "%s%s", gl_conf.internal_url, path) >= (int)sizeof(url))
		return GL_E_INTERNAL;
	for (int attempt = 0; attempt < attempts; attempt++) {
		if (attempt > 0) {
			/* Exponential backoff with jitter, so retrying workers do not move in step.
			 */
			long ms = (50L << (attempt - 1)) + random() % 50;
			struct timespec ts = { 0, ms * 1000000L };
			nanosleep(&ts, NULL);
		}
		if (b != NULL && !gl_breaker_allow(b, gl_now_us())) {
			gl_log(GL_LOG_WARN, rid, "%s: the circuit to its service is open", path);
			return GL_E_UPSTREAM_DOWN;
		}
		memset(&buf, 0, sizeof(buf));
		err = http_once(url, req, post, status, &buf);
		/* A 4xx is a healthy target saying no; only down or slow counts against it. */
		if (b != NULL)
			gl_breaker_record(b,
			                  err != GL_E_UPSTREAM_DOWN && err != GL_E_UPSTREAM_TIMEOUT,
			                  gl_now_us());
		if (err == GL_OK && body != NULL && buf.data != NULL)
			*body = json_loadb(buf.data, buf.len, 0, NULL);
		free(buf.data);
		if (err != GL_E_UPSTREAM_DOWN)
			break;
	}
	if (err != GL_OK)
		gl_log(GL_LOG_WARN, rid, "%s %s failed (status %ld)", post ? "POST" : "GET", path,
		       *status);
	return err;
}

enum gl_err
gl_http_get(const struct gl_req *req, const char *path, long *status, json_t **body)
{
	return http_call(req, path, NULL, 3, status, body);
}

enum gl_err
gl_http_post(const struct gl_req *req, const char *path, const json_t *in, long *status,
             json_t **body)
{
	char *text = in != NULL ? json_dumps(in, JSON_COMPACT) : strdup("");
	enum gl_err err;

	if (text == NULL)
		return GL_E_INTERNAL;
	/* One attempt: a POST that reached the other side may have done its work. */
	err = http_call(req, path, text, 1, status, body);
	free(text);
	return err;
}
