/*
 * The payment provider's answers (fcgi/payments/provider.h: provider_answer):
 * what Stripe's API (or anything claiming to be it) sends back, parsed as
 * lib/http.c parses it, sorted into an outcome or an error; and what galley
 * then makes of the intent id it was given (the next call's form).
 *
 * Input: line 1 the HTTP status, the rest the answer's body, usually JSON
 * (seeds in tests/data/fuzz/provider/).
 *
 * Invariants: no crash, leak or undefined behaviour; an answer is an outcome
 * (an authorization, capture, cancellation or refund with an id of 1..99
 * characters [A-Za-z0-9_], a refund's starting "re_"; or a decline with a
 * message) or one of the three upstream errors, never a client's or our own
 * fault; an id we keep always fits the next call's form.
 */
#include <stdlib.h>
#include <string.h>

#include "fuzz.h"
#include "http.h"
#include "provider.h"

static const char *const calls[] = { "authorize", "capture", "cancel", "refund" };

static bool
id_ok(const char *id)
{
	size_t n = strlen(id);

	if (n == 0 || n >= sizeof(((struct provider_result *)0)->id))
		return false;
	for (size_t i = 0; i < n; i++)
		if (!((id[i] >= 'a' && id[i] <= 'z') || (id[i] >= 'A' && id[i] <= 'Z') ||
		      (id[i] >= '0' && id[i] <= '9') || id[i] == '_'))
			return false;
	return true;
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char *line = fuzz_line(&data, &size);
	long status = strtol(line, NULL, 10);
	json_t *body = json_loadb((const char *)data, size, 0, NULL); /* as lib/http.c does */
	struct provider_result r;
	char form[1024] = "";
	enum gl_err err;

	free(line);
	memset(&r, 0, sizeof(r));
	err = provider_answer(NULL, calls[size % 4], status, body, &r);
	FUZZ_CHECK(err == GL_OK || err == GL_E_UPSTREAM_BAD || err == GL_E_UPSTREAM_DOWN ||
	           err == GL_E_UPSTREAM_TIMEOUT);
	FUZZ_CHECK(memchr(r.id, '\0', sizeof(r.id)) != NULL);
	FUZZ_CHECK(memchr(r.message, '\0', sizeof(r.message)) != NULL);
	if (err == GL_OK && r.outcome != PROVIDER_DECLINED) {
		FUZZ_CHECK(r.outcome >= PROVIDER_AUTHORIZED && r.outcome <= PROVIDER_REFUNDED);
		FUZZ_CHECK(id_ok(r.id));
		FUZZ_CHECK(r.outcome != PROVIDER_REFUNDED || strncmp(r.id, "re_", 3) == 0);
		/* The intent id goes into the next call: a refund's form, a capture's path. */
		FUZZ_CHECK(gl_http_form_add(form, sizeof(form), "payment_intent", r.id) == 0);
		FUZZ_CHECK(strncmp(form, "payment_intent=", 15) == 0 &&
		           strcmp(form + 15, r.id) == 0);
	} else if (err == GL_OK) {
		/* A reason to show: the API's error message and the stored failure_message. */
		json_t *m = json_string(r.message);
		FUZZ_CHECK(m != NULL); /* UTF-8, even when the provider's words were cut */
		json_decref(m);
		FUZZ_CHECK(r.message[0] != '\0');
	}
	json_decref(body);
	return 0;
}
