/* Stripe's PaymentIntents API, the four calls galley makes (provider.h). */
#include <ctype.h>
#include <stdio.h>
#include <string.h>

#include "conf.h"
#include "http.h"
#include "log.h"
#include "provider.h"
#include "req.h"

#define PROVIDER_FORM_MAX 1024

/* Ids the provider gives are [A-Za-z0-9_], which is all that goes into a URL or a log. */
static bool
provider_id_ok(const char *id)
{
	size_t n = id != NULL ? strlen(id) : 0;

	if (n == 0 || n >= sizeof(((struct provider_result *)0)->id))
		return false;
	for (size_t i = 0; i < n; i++)
		if (!isalnum((unsigned char)id[i]) && id[i] != '_')
			return false;
	return true;
}

/* Sort the answer to a call: what happened, or whose fault it is that we do not know. */
enum gl_err
provider_answer(const struct gl_req *req, const char *what, long status, const json_t *body,
                struct provider_result *r)
{
	const char *rid = req != NULL ? req->request_id : NULL;
	const json_t *e = json_object_get(body, "error");
	const char *st = json_string_value(json_object_get(body, "status"));
	const char *id = json_string_value(json_object_get(body, "id"));
	const char *param = json_string_value(json_object_get(e, "param"));
	const char *msg = json_string_value(json_object_get(e, "message"));

	/* 402: the card said no; 400 about the payment method: the client named a bad one. */
	if (status == 402 ||
	    (status == 400 && param != NULL && strcmp(param, "payment_method") == 0)) {
		r->outcome = PROVIDER_DECLINED;
		snprintf(r->message, sizeof(r->message), "%s",
		         msg != NULL && *msg != '\0' ? msg : "declined");
		gl_valid_utf8_cut(r->message); /* the provider's words may be cut: keep UTF-8 */
		return GL_OK;
	}
	if (status == 429)
		return GL_E_UPSTREAM_DOWN; /* too many calls: later */
	if (status != 200 || st == NULL || !provider_id_ok(id)) {
		/* Our request or our key is wrong: a bug or a setting for the operator, not the
		 * client's doing.  The provider's message names what (never the key). */
		gl_log(GL_LOG_ERROR, rid, "payment provider: %s answered %ld: %s", what, status,
		       msg != NULL ? msg : "no error message");
		return GL_E_UPSTREAM_BAD;
	}
	snprintf(r->id, sizeof(r->id), "%s", id);
	if (strcmp(st, "requires_capture") == 0)
		r->outcome = PROVIDER_AUTHORIZED;
	else if (strcmp(st, "canceled") == 0)
		r->outcome = PROVIDER_CANCELLED;
	else if (strcmp(st, "succeeded") == 0 || strcmp(st, "pending") == 0)
		r->outcome = strncmp(id, "re_", 3) == 0 ? PROVIDER_REFUNDED : PROVIDER_CAPTURED;
	else if (strcmp(st, "processing") == 0)
		return GL_E_UPSTREAM_TIMEOUT; /* not decided yet: ask again later */
	else {
		/* requires_action (3-D Secure) and the like: a step no server can take. */
		r->outcome = PROVIDER_DECLINED;
		snprintf(r->message, sizeof(r->message),
		         "the payment needs a step galley cannot take (%s)", st);
		gl_valid_utf8_cut(r->message);
	}
	return GL_OK;
}

/* POST form to GALLEY_PAYMENT_API + path with Idempotency-Key "<order_id><suffix>". */
static enum gl_err
provider_call(const struct gl_req *req, const char *what, const char *path, const char *form,
              const char *order_id, const char *suffix, struct provider_result *r)
{
	char url[1200], idem[64];
	struct gl_http_form f = { "payment-provider",        url, gl_conf.payment_key, idem, form,
		                  gl_conf.payment_timeout_ms };
	json_t *body = NULL;
	long status;
	enum gl_err err;

	memset(r, 0, sizeof(*r));
	if (snprintf(url, sizeof(url), "%s%s", gl_conf.payment_api, path) >= (int)sizeof(url) ||
	    snprintf(idem, sizeof(idem), "%s%s", order_id, suffix) >= (int)sizeof(idem))
		return GL_E_INTERNAL;
	if ((err = gl_http_post_form(req, &f, &status, &body)) == GL_OK)
		err = provider_answer(req, what, status, body, r);
	json_decref(body);
	return err;
}

enum gl_err
provider_authorize(const struct gl_req *req, const char *order_id, long long amount,
                   const char *currency, const char *method, struct provider_result *r)
{
	char form[PROVIDER_FORM_MAX] = "", n[24], cur[4];

	snprintf(n, sizeof(n), "%lld", amount);
	for (int i = 0; i < 3 && currency[i] != '\0'; i++)
		cur[i] = (char)tolower((unsigned char)currency[i]);
	cur[3] = '\0';
	if (gl_http_form_add(form, sizeof(form), "amount", n) < 0 ||
	    gl_http_form_add(form, sizeof(form), "currency", cur) < 0 ||
	    gl_http_form_add(form, sizeof(form), "payment_method", method) < 0 ||
	    gl_http_form_add(form, sizeof(form), "payment_method_types[]", "card") < 0 ||
	    gl_http_form_add(form, sizeof(form), "confirm", "true") < 0 ||
	    gl_http_form_add(form, sizeof(form), "capture_method", "manual") < 0 ||
	    gl_http_form_add(form, sizeof(form), "metadata[order_id]", order_id) < 0)
		return GL_E_INTERNAL;
	/* The order id itself is the key: one order, one intent, however often it is asked. */
	return provider_call(req, "authorize", "/v1/payment_intents", form, order_id, "", r);
}

/* POST /v1/payment_intents/{intent}/{act} with an empty form, keyed "<order>-<act>". */
static enum gl_err
provider_intent_act(const struct gl_req *req, const char *order_id, const char *intent,
                    const char *act, struct provider_result *r)
{
	char path[160], suffix[16];

	if (!provider_id_ok(intent))
		return GL_E_INTERNAL;
	snprintf(path, sizeof(path), "/v1/payment_intents/%s/%s", intent, act);
	snprintf(suffix, sizeof(suffix), "-%s", act);
	return provider_call(req, act, path, "", order_id, suffix, r);
}

enum gl_err
provider_capture(const struct gl_req *req, const char *order_id, const char *intent,
                 struct provider_result *r)
{
	return provider_intent_act(req, order_id, intent, "capture", r);
}

enum gl_err
provider_cancel(const struct gl_req *req, const char *order_id, const char *intent,
                struct provider_result *r)
{
	return provider_intent_act(req, order_id, intent, "cancel", r);
}

enum gl_err
provider_refund(const struct gl_req *req, const char *order_id, const char *intent,
                struct provider_result *r)
{
	char form[PROVIDER_FORM_MAX] = "";

	if (!provider_id_ok(intent) ||
	    gl_http_form_add(form, sizeof(form), "payment_intent", intent) < 0)
		return GL_E_INTERNAL;
	return provider_call(req, "refund", "/v1/refunds", form, order_id, "-refund", r);
}
