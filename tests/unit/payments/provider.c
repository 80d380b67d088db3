/*
 * fcgi/payments/provider.c against a server that speaks Stripe's API and
 * checks requests against Stripe's own OpenAPI description: stripe-mock,
 * started by tests/e2e/80-payments.sh, which runs this program with
 * GALLEY_PAYMENT_API pointing at it.  stripe-mock answers fixed fixtures
 * and keeps no state, so this checks the SHAPE of every call galley makes
 * (paths, form fields, types, Content-Type, key); the outcomes are tested
 * against the simulated provider in the e2e test.
 */
#include <curl/curl.h>
#include <stdlib.h>

#include "../tap.h"
#include "conf.h"
#include "http.h"
#include "provider.h"

#define ORDER "6b0400000000000000000001"

int
main(void)
{
	struct provider_result r;
	struct gl_http_form bad = {
		"shape-check", NULL, NULL, NULL, "amount=12&currency=eur&bogus=1", 0
	};
	char url[1200];
	long status;
	json_t *body = NULL;

	if (getenv("GALLEY_PAYMENT_API") == NULL || getenv("GALLEY_PAYMENT_KEY") == NULL) {
		printf("Bail out! set GALLEY_PAYMENT_API (stripe-mock) and GALLEY_PAYMENT_KEY\n");
		return 1;
	}
	if (gl_conf_load("payments") != 0 || curl_global_init(CURL_GLOBAL_DEFAULT) != CURLE_OK)
		return 1;

	/* The server must refuse what Stripe refuses, or this test proves nothing. */
	snprintf(url, sizeof(url), "%s/v1/payment_intents", gl_conf.payment_api);
	bad.url = url;
	bad.key = gl_conf.payment_key;
	ok(gl_http_post_form(NULL, &bad, &status, &body) == GL_OK && status == 400,
	   "an unknown parameter is refused with 400 (the server checks shapes)");
	json_decref(body);

	ok(provider_authorize(NULL, ORDER, 1250, "EUR", "pm_card_visa", &r) == GL_OK,
	   "authorize: amount, currency, payment_method, confirm, capture_method, metadata "
	   "are accepted");
	ok(r.id[0] != '\0', "authorize answers an intent id (%s)", r.id);
	ok(provider_capture(NULL, ORDER, "pi_123", &r) == GL_OK,
	   "capture: an empty form with its Content-Type is accepted");
	ok(provider_cancel(NULL, ORDER, "pi_123", &r) == GL_OK, "cancel is accepted");
	ok(provider_refund(NULL, ORDER, "pi_123", &r) == GL_OK && r.outcome == PROVIDER_REFUNDED,
	   "refund: payment_intent is accepted, and the answer is a refund");
	gl_http_close();
	curl_global_cleanup();
	return done_testing();
}
