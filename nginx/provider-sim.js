// The simulated payment provider (bin/galley up without GALLEY_PAYMENT_KEY): the few
// endpoints of Stripe's PaymentIntents API that fcgi/payments calls, with Stripe's
// request and answer shapes, served by nginx's njs module (provider-sim.conf.in).
//
// It keeps no state: an intent's id is made from the request's Idempotency-Key, so the
// same key always names the same intent, as it does at Stripe. The outcome is chosen by
// the payment method, like Stripe's test cards:
//   pm_card_chargeDeclined, pm_card_visa_chargeDeclined   402 card_declined
//   pm_card_chargeDeclinedInsufficientFunds              402 insufficient_funds
//   pm_sim_slow                                          answers 1 s after the payments'
//                                                        timeout ($galley_sim_slow_ms)
//   pm_sim_down                                          503, as when Stripe is out
//   any other pm_card_*                                  authorized (or captured)
//   anything else                                        400 resource_missing
// Every call is logged with its Idempotency-Key (logs/provider-sim.log), so tests can
// count what was asked of the provider.
var qs = require('querystring');

function reply(r, status, obj) {
	r.headersOut['Content-Type'] = 'application/json';
	r.headersOut['Request-Id'] = 'req_sim_' + r.variables.request_id;
	r.return(status, JSON.stringify(obj) + '\n');
}

function error(r, status, type, code, message, param) {
	var e = { type: type, message: message };
	if (code) e.code = code;
	if (param) e.param = param;
	if (code === 'card_declined' || code === 'insufficient_funds')
		e.decline_code = code === 'card_declined' ? 'generic_decline' : 'insufficient_funds';
	reply(r, status, { error: e });
}

// What every Stripe call needs: a secret key and a form body.
function checked(r) {
	var auth = r.headersIn.Authorization || '';
	if (!/^Bearer sk_(test|live)_[A-Za-z0-9_]+$/.test(auth)) {
		error(r, 401, 'invalid_request_error', null, 'Invalid API Key provided.');
		return null;
	}
	if (r.method !== 'POST') {
		error(r, 405, 'invalid_request_error', null, 'Only POST is simulated.');
		return null;
	}
	var type = r.headersIn['Content-Type'] || '';
	if (type.indexOf('application/x-www-form-urlencoded') !== 0) {
		error(r, 400, 'invalid_request_error', null,
		      'Request\'s `Content-Type` header was empty. Expected: ' +
		      '`application/x-www-form-urlencoded`.');
		return null;
	}
	return qs.parse(r.requestText || '');
}

function intentId(r) {
	var key = r.headersIn['Idempotency-Key'] || r.variables.request_id;
	return 'pi_sim_' + key.replace(/[^A-Za-z0-9]/g, '').slice(0, 64);
}

function intent(id, f, status) {
	var amount = parseInt(f.amount, 10);
	return {
		id: id, object: 'payment_intent', amount: amount,
		amount_received: status === 'succeeded' ? amount : 0,
		currency: f.currency, status: status, capture_method: f.capture_method || 'automatic',
		payment_method: f.payment_method || null, metadata: {}, livemode: false
	};
}

function create(r) {
	var f = checked(r);
	if (f === null) return;
	if (!/^[1-9][0-9]{0,9}$/.test(f.amount || ''))
		return error(r, 400, 'invalid_request_error', 'parameter_invalid_integer',
		             'Invalid integer: ' + f.amount, 'amount');
	if (!/^[a-z]{3}$/.test(f.currency || ''))
		return error(r, 400, 'invalid_request_error', 'parameter_missing',
		             'Missing required param: currency.', 'currency');
	var pm = f.payment_method || '', id = intentId(r);
	if (pm === 'pm_card_chargeDeclined' || pm === 'pm_card_visa_chargeDeclined')
		return error(r, 402, 'card_error', 'card_declined', 'Your card was declined.');
	if (pm === 'pm_card_chargeDeclinedInsufficientFunds')
		return error(r, 402, 'card_error', 'insufficient_funds',
		             'Your card has insufficient funds.');
	if (pm === 'pm_sim_down')
		return error(r, 503, 'api_error', null, 'The simulated provider is out.');
	if (pm === 'pm_sim_slow') {
		var ms = parseInt(r.variables.galley_sim_slow_ms, 10) || 11000;
		setTimeout(function () { reply(r, 200, intent(id, f, 'requires_capture')); }, ms);
		return;
	}
	if (pm.indexOf('pm_card_') !== 0)
		return error(r, 400, 'invalid_request_error', 'resource_missing',
		             'No such PaymentMethod: \'' + pm + '\'', 'payment_method');
	reply(r, 200, intent(id, f, f.capture_method === 'manual' ? 'requires_capture' : 'succeeded'));
}

// POST /v1/payment_intents/{id}/capture or /cancel
function act(r) {
	var f = checked(r);
	if (f === null) return;
	var m = r.uri.match(/\/v1\/payment_intents\/(pi_[A-Za-z0-9_]+)\/(capture|cancel)$/);
	if (!m)
		return error(r, 404, 'invalid_request_error', 'resource_missing', 'No such payment_intent');
	var it = intent(m[1], { amount: '0', currency: 'eur', capture_method: 'manual' },
	                m[2] === 'capture' ? 'succeeded' : 'canceled');
	reply(r, 200, it);
}

function refund(r) {
	var f = checked(r);
	if (f === null) return;
	if (!/^pi_[A-Za-z0-9_]+$/.test(f.payment_intent || ''))
		return error(r, 400, 'invalid_request_error', 'parameter_missing',
		             'Missing required param: payment_intent.', 'payment_intent');
	reply(r, 200, { id: 're_' + f.payment_intent.slice(3), object: 'refund',
	                payment_intent: f.payment_intent, status: 'succeeded' });
}

export default { create: create, act: act, refund: refund };
