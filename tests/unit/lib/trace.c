/* Unit tests of lib/trace.c: traceparent in and out, span nesting, call span names. */
#include "../tap.h"
#include "conf.h"
#include "trace.h"

static const char *const good = "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01";

/* Each must be refused: a malformed traceparent is ignored, never an error. */
static const char *const bad[] = {
	"",
	"00",
	"01-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01",  /* version 01 */
	"ff-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01",  /* version ff */
	"00-4BF92F3577B34DA6A3CE929D0E0E4736-00f067aa0ba902b7-01",  /* uppercase */
	"00-4bf92f3577b34da6a3ce929d0e0e4736-00F067AA0BA902B7-01",  /* uppercase span */
	"00-00000000000000000000000000000000-00f067aa0ba902b7-01",  /* zero trace */
	"00-4bf92f3577b34da6a3ce929d0e0e4736-0000000000000000-01",  /* zero span */
	"00-4bf92f3577b34da6a3ce929d0e0e473-00f067aa0ba902b7-01",   /* short trace */
	"00-4bf92f3577b34da6a3ce929d0e0e47366-00f067aa0ba902b7-01", /* long trace */
	"00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b-01",   /* short span */
	"00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-1",   /* short flags */
	"00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-0g",  /* flags not hex */
	"00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01-", /* more after version 00 */
	"00_4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01",  /* separator */
	"00-4bf92f3577b34da6a3ce929d0e0e4736_00f067aa0ba902b7-01",
	"00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7_01",
	" 00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01", /* space */
	"00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01 ",
	"00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba90zb7-01", /* not hex */
	NULL,
};

static int
is_id(const char *s, size_t n)
{
	return strlen(s) == n && strspn(s, "0123456789abcdef") == n && strspn(s, "0") < n;
}

int
main(void)
{
	struct gl_trace_ctx c;
	struct gl_trace_span server, client, producer, inner, root;
	char buf[GL_TRACE_PARENT_SIZE], name[128];

	/* ---- parsing and formatting */
	ok(gl_trace_parse(good, &c) == 0, "a well-formed traceparent parses");
	is_str(c.trace, "4bf92f3577b34da6a3ce929d0e0e4736", "its trace id");
	is_str(c.span, "00f067aa0ba902b7", "its parent span id");
	ok(c.flags == 1, "its flags (sampled)");
	gl_trace_format(&c, buf, sizeof(buf));
	is_str(buf, good, "formatting gives it back");
	ok(gl_trace_parse("00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-00", &c) == 0 &&
	           c.flags == 0,
	   "flags 00 (not sampled) parse too");
	ok(gl_trace_parse(NULL, &c) < 0, "NULL is no traceparent");
	for (int i = 0; bad[i] != NULL; i++)
		ok(gl_trace_parse(bad[i], &c) < 0, "refused: '%s'", bad[i]);

	/* ---- spans, tracing off (no endpoint: nothing recorded, ids still propagate) */
	ok(!gl_trace_on(), "export is off without OTEL_EXPORTER_OTLP_ENDPOINT");
	ok(gl_trace_current() == NULL, "no current span at first");
	gl_trace_remote(&server, GL_TRACE_SERVER, "GET /x", good);
	is_str(server.ctx.trace, "4bf92f3577b34da6a3ce929d0e0e4736",
	       "a span joins its parent's trace");
	is_str(server.parent, "00f067aa0ba902b7", "as a child of the parent span");
	ok(is_id(server.ctx.span, 16) && strcmp(server.ctx.span, server.parent) != 0,
	   "with an id of its own");
	ok(!server.on && server.attrs == NULL, "not recorded: nothing built");
	gl_trace_attr(&server, "k", "v");
	ok(server.attrs == NULL, "attributes of an unrecorded span cost nothing");
	ok(gl_trace_current() == &server, "a server span is the thread's current span");

	gl_trace_start(&client, GL_TRACE_CLIENT, "GET stock /x");
	ok(strcmp(client.ctx.trace, server.ctx.trace) == 0 &&
	           strcmp(client.parent, server.ctx.span) == 0,
	   "a call is a child of the current span");
	ok(gl_trace_current() == &server, "and never the current span itself");
	gl_trace_header(&client, buf, sizeof(buf));
	ok(gl_trace_parse(buf, &c) == 0 && strcmp(c.span, client.ctx.span) == 0 &&
	           strcmp(c.trace, server.ctx.trace) == 0,
	   "its traceparent names it: %s", buf);
	ok(c.flags == 1, "the parent's flags pass on");
	gl_trace_end(&client, false);

	gl_trace_start(&producer, GL_TRACE_PRODUCER, "publish order.paid");
	gl_trace_start(&inner, GL_TRACE_INTERNAL, "inner");
	ok(gl_trace_current() == &inner, "an internal span nests");
	ok(strcmp(inner.parent, server.ctx.span) == 0, "under the current span, not the producer");
	gl_trace_end(&inner, false);
	ok(gl_trace_current() == &server, "its end gives the outer span back");
	gl_trace_end(&producer, false);
	ok(server.children == 3, "the server span counted its 3 children");
	gl_trace_end(&server, false);
	ok(gl_trace_current() == NULL, "no current span after the last one ends");
	gl_trace_end(&server, false);
	ok(gl_trace_current() == NULL, "ending twice does nothing");

	gl_trace_remote(&root, GL_TRACE_CONSUMER, "process x", "garbage");
	ok(is_id(root.ctx.trace, 32) && root.parent[0] == '\0',
	   "a malformed parent starts a new trace (a root)");
	ok(root.ctx.flags == 0, "not sampled, with export off");
	gl_trace_end(&root, false);

	/* ---- call names: low-cardinality, no query, no credentials */
	gl_conf.internal_url = "http://127.0.0.1:8081";
	gl_trace_client_name(name, sizeof(name), "POST",
	                     "http://127.0.0.1:8081/internal/stock/reservations");
	is_str(name, "POST stock /internal/stock/reservations",
	       "an internal call names its service");
	gl_trace_client_name(name, sizeof(name), "GET",
	                     "http://127.0.0.1:8081/api/menu/items/5eed00000000000000000101?x=1");
	is_str(name, "GET menu /api/menu/items/{id}", "ids read {id}, the query is left out");
	gl_trace_client_name(name, sizeof(name), "POST",
	                     "https://user:secret@api.stripe.com/v1/payment_intents/"
	                     "pi_3MtwBwLkdIwHu7ix28a3tqPa/capture");
	is_str(name, "POST api.stripe.com /v1/payment_intents/{id}/capture",
	       "an outside call names its host, never its credentials");
	gl_trace_client_name(name, sizeof(name), "GET", "http://example.com");
	is_str(name, "GET example.com", "a URL without a path");
	return done_testing();
}
