/*
 * The traceparent parser (lib/trace.h), and the other text trace.c reads
 * from outside: the URL of an outbound call, named into a span name.
 *
 * Input: line 1 a traceparent (as a client may send it, HTTP_TRACEPARENT),
 * line 2 an HTTP method, line 3 a URL, then one byte: the size of the buffer
 * the span name is written to (seeds in tests/data/fuzz/trace/).
 *
 * Invariants: no crash or undefined behaviour; a traceparent is accepted only
 * in the strict version 00 form (lower-case hex, non-zero ids), and then
 * formats back to exactly itself; a span parented by it carries its trace id,
 * any other gets a fresh well-formed one; a span name always ends within its
 * buffer and never carries what was before an '@' (credentials).
 */
#include <string.h>

#include "fuzz.h"
#include "trace.h"

static bool
lower_hex(const char *s, size_t n)
{
	return strlen(s) == n && strspn(s, "0123456789abcdef") == n && strspn(s, "0") < n;
}

static void
fuzz_parent(const char *tp)
{
	struct gl_trace_ctx ctx;
	struct gl_trace_span span;
	char back[GL_TRACE_PARENT_SIZE];
	bool ok = gl_trace_parse(tp, &ctx) == 0;

	if (ok) {
		FUZZ_CHECK(strlen(tp) == GL_TRACE_PARENT_SIZE - 1 && strncmp(tp, "00-", 3) == 0);
		FUZZ_CHECK(lower_hex(ctx.trace, 32) && lower_hex(ctx.span, 16));
		gl_trace_format(&ctx, back, sizeof(back));
		FUZZ_CHECK(strcmp(back, tp) == 0);
	}
	gl_trace_remote(&span, GL_TRACE_CONSUMER, "fuzz", tp);
	FUZZ_CHECK(lower_hex(span.ctx.trace, 32) && lower_hex(span.ctx.span, 16));
	FUZZ_CHECK(!ok || strcmp(span.ctx.trace, ctx.trace) == 0);
	FUZZ_CHECK(!ok || strcmp(span.parent, ctx.span) == 0);
	FUZZ_CHECK(ok || span.parent[0] == '\0');
	gl_trace_header(&span, back, sizeof(back));
	FUZZ_CHECK(gl_trace_parse(back, &ctx) == 0);
	FUZZ_CHECK(gl_trace_current() == &span);
	gl_trace_end(&span, false);
	FUZZ_CHECK(gl_trace_current() == NULL);
}

/* The userinfo of url ("user:password" before an '@' in the authority), when it is a plain
 * alphanumeric token of 8..63 characters, into secret; else false. */
static bool
userinfo(const char *url, char secret[64])
{
	const char *auth = strstr(url, "://"), *at;
	size_t n;

	if (auth == NULL)
		return false;
	auth += 3;
	at = memchr(auth, '@', strcspn(auth, "/?#"));
	n = at != NULL ? (size_t)(at - auth) : 0;
	if (n < 8 || n > 63)
		return false;
	for (size_t i = 0; i < n; i++)
		if (!((auth[i] >= 'a' && auth[i] <= 'z') || (auth[i] >= 'A' && auth[i] <= 'Z') ||
		      (auth[i] >= '0' && auth[i] <= '9')))
			return false;
	memcpy(secret, auth, n);
	secret[n] = '\0';
	return true;
}

static void
fuzz_client_name(const char *method, const char *url, size_t size)
{
	char *buf = malloc(size + 1), secret[64];

	FUZZ_CHECK(buf != NULL);
	buf[size] = 'X'; /* a canary just past the buffer */
	gl_trace_client_name(buf, size, method, url);
	FUZZ_CHECK(buf[size] == 'X');
	if (size > 0)
		FUZZ_CHECK(memchr(buf, '\0', size) != NULL);
	/* Credentials are never named, unless the rest of the URL or the method says them. */
	if (size > 0 && userinfo(url, secret))
		FUZZ_CHECK(strstr(buf, secret) == NULL ||
		           strstr(strchr(strstr(url, "://") + 3, '@') + 1, secret) != NULL ||
		           strstr(method, secret) != NULL);
	free(buf);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char *tp = fuzz_line(&data, &size);
	char *method = fuzz_line(&data, &size);
	char *url = fuzz_line(&data, &size);
	size_t bufsize = size > 0 ? data[0] : 128;

	fuzz_parent(tp);
	fuzz_client_name(method, url, bufsize);
	free(url);
	free(method);
	free(tp);
	return 0;
}
