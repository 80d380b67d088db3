/*
 * provider: the payment provider, Stripe's PaymentIntents API over libcurl
 * (lib/http.h, gl_http_post_form), at GALLEY_PAYMENT_API with the secret
 * key GALLEY_PAYMENT_KEY.  galley authorizes first and captures only once
 * stock has sold the order's units (capture_method=manual), so a payment
 * that loses to expiry is cancelled, never charged and refunded.
 *
 * Every call carries an Idempotency-Key made from the order id (the
 * authorization uses the order id itself), so asking again after a crash
 * or a timeout answers what the first call did, and charges nothing twice.
 * A card the provider refuses is PROVIDER_DECLINED with its words in
 * message; a provider that is down, slow or confused is an error
 * (GL_E_UPSTREAM_*), after which the call is simply made again later.
 */
#ifndef PAYMENTS_PROVIDER_H
#define PAYMENTS_PROVIDER_H

#include <jansson.h>

#include "err.h"

struct gl_req;

enum provider_outcome {
	PROVIDER_AUTHORIZED, /* the money is held */
	PROVIDER_CAPTURED,   /* the money is taken */
	PROVIDER_CANCELLED,  /* the hold is let go */
	PROVIDER_REFUNDED,   /* the money is given back */
	PROVIDER_DECLINED,   /* the payment method was refused */
};

struct provider_result {
	enum provider_outcome outcome;
	char id[100];      /* the intent's (pi_...) or the refund's (re_...) id */
	char message[200]; /* why it was declined, in the provider's words */
};

/* Hold amount (cents) in currency (ISO 4217) from method (pm_...), for order_id (24 hex). */
enum gl_err provider_authorize(const struct gl_req *req, const char *order_id, long long amount,
                               const char *currency, const char *method, struct provider_result *r)
        __attribute__((warn_unused_result));

/* Take the money the intent holds. */
enum gl_err provider_capture(const struct gl_req *req, const char *order_id, const char *intent,
                             struct provider_result *r) __attribute__((warn_unused_result));

/* Let the intent's hold go. */
enum gl_err provider_cancel(const struct gl_req *req, const char *order_id, const char *intent,
                            struct provider_result *r) __attribute__((warn_unused_result));

/* Give back what the intent took. */
enum gl_err provider_refund(const struct gl_req *req, const char *order_id, const char *intent,
                            struct provider_result *r) __attribute__((warn_unused_result));

/*
 * Sort the provider's answer to the call what ("authorize", …): its HTTP status and its
 * JSON body (borrowed; NULL when it was not JSON) into *r (zeroed by the caller), or the
 * error that says whose fault it is that we do not know.  Pure but for a log line; every
 * call above ends in it (exposed for tests/fuzz/provider.c).
 */
enum gl_err provider_answer(const struct gl_req *req, const char *what, long status,
                            const json_t *body, struct provider_result *r)
        __attribute__((warn_unused_result));

#endif
