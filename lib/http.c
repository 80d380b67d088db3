#include <curl/curl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "conf.h"
#include "http.h"
#include "log.h"
#include "req.h"

static CURL *http_easy;

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

enum gl_err
gl_http_get(const struct gl_req *req, const char *path, long *status, json_t **body)
{
	char url[1024];
	struct http_buf buf;
	enum gl_err err = GL_E_UPSTREAM_DOWN;

	if (body != NULL)
		*body = NULL;
	*status = 0;
	if (snprintf(url, sizeof(url), "%s%s", gl_conf.internal_url, path) >= (int)sizeof(url))
		return GL_E_INTERNAL;
	/* GET is idempotent: one retry after a short pause rides out a pool restart. */
	for (int attempt = 0; attempt < 2; attempt++) {
		if (attempt > 0) {
			struct timespec ts = { 0, 50 * 1000000L };
			nanosleep(&ts, NULL);
		}
		memset(&buf, 0, sizeof(buf));
		err = http_once(url, req, NULL, status, &buf);
		if (err == GL_OK && body != NULL && buf.data != NULL)
			*body = json_loadb(buf.data, buf.len, 0, NULL);
		free(buf.data);
		if (err != GL_E_UPSTREAM_DOWN)
			break;
	}
	if (err != GL_OK)
		gl_log(GL_LOG_WARN, req ? req->request_id : NULL, "GET %s failed (status %ld)",
		       path, *status);
	return err;
}

enum gl_err
gl_http_post(const struct gl_req *req, const char *path, const json_t *in, long *status,
             json_t **body)
{
	char url[1024];
	struct http_buf buf;
	enum gl_err err;
	char *text;

	if (body != NULL)
		*body = NULL;
	*status = 0;
	if (snprintf(url, sizeof(url), "%s%s", gl_conf.internal_url, path) >= (int)sizeof(url))
		return GL_E_INTERNAL;
	if ((text = json_dumps(in, JSON_COMPACT)) == NULL)
		return GL_E_INTERNAL;
	/* No retry: a POST that reached the other side may have done its work. */
	memset(&buf, 0, sizeof(buf));
	err = http_once(url, req, text, status, &buf);
	free(text);
	if (err == GL_OK && body != NULL && buf.data != NULL)
		*body = json_loadb(buf.data, buf.len, 0, NULL);
	free(buf.data);
	if (err != GL_OK)
		gl_log(GL_LOG_WARN, req ? req->request_id : NULL, "POST %s failed (status %ld)",
		       path, *status);
	return err;
}
