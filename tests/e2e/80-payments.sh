#!/usr/bin/env bash
# Payments: every call galley makes to the provider has the shape Stripe's API
# expects (stripe-mock); paying an order authorizes, sells its units and
# captures, and the order follows into paid; the order is read where orders
# keeps it (the store), so an order is paid while orders is down, and orders is
# asked only for an order the store no longer holds; a declined card cancels the
# order and gives its stock back; a slow or down provider answers 504/503
# quickly, charges nothing and holds the stock; one payment per order; who
# may pay and see; bad input; Idempotency-Key; a paid order cancelled is
# refunded once; a payment racing a cancel ends one way only; Redis away
# while orders are paid loses no event.
. "$(dirname "$0")/lib.sh"

sim_log() { cat "$GALLEY_RUN/logs/provider-sim.log" 2>/dev/null; }
# sim_calls URI-REGEX KEY: how many calls the simulated provider got for that path and key
sim_calls() { sim_log | jq -r --arg u "$1" --arg k "$2" 'select((.uri | test($u)) and .idempotency_key == $k) | .uri' | wc -l; }

# ---------------------------------------------------------------- the requests' shape
if [[ -x ${GALLEY_STRIPE_MOCK:-} ]]; then
	mock_up() { curl -s -o /dev/null "http://127.0.0.1:$port/v1/charges" -u sk_test_x:; }
	# mock_up, or stripe-mock gone: a free-looking port can still be taken when it binds
	# (an outbound connection's local port, say): then another port.
	mock_up_or_gone() { mock_up || ! kill -0 "$mock" 2>/dev/null; }
	for _ in 1 2 3 4 5; do
		port=$(free_port)
		"$GALLEY_STRIPE_MOCK" -http-port "$port" -https-port "$(free_port)" >>"$GALLEY_RUN/logs/e2e-stripe-mock.out" 2>&1 &
		mock=$!
		wait_until 20 mock_up_or_gone && kill -0 "$mock" 2>/dev/null && break
	done
	check "stripe-mock listens" mock_up
	out=$(GALLEY_PAYMENT_API=http://127.0.0.1:$port GALLEY_PAYMENT_KEY=sk_test_galley \
		"$GALLEY_BUILD/tests/unit/payments/provider" 2>&1)
	echo "$out" | sed 's/^/# /'
	check "stripe-mock accepts every call galley makes (tests/unit/payments/provider)" \
		bash -c "grep -q '^ok' <<<'$out' && ! grep -q '^not ok\|Bail' <<<'$out'"
	kill "$mock" 2>/dev/null
	wait "$mock" 2>/dev/null
else
	check "GALLEY_STRIPE_MOCK names stripe-mock (bin/galley test installs it)" false
fi

# ---------------------------------------------------------------- setup
check "setup: an item in stock" stocked_item Tart 625 40
tart=$ITEM supplier=$SUPPLIER
customer carol
carol=$TOKEN
customer dave
dave=$TOKEN

order() { # QTY [TOKEN] [ITEM]: a new order of QTY tarts (or ITEM); prints its id
	AUTH_TOKEN=${2:-$carol} req POST /api/orders "{\"lines\":[{\"item_id\":\"${3:-$tart}\",\"qty\":$1}]}"
	jq -r .id <<<"$BODY"
}
pay() { # ORDER METHOD [curl args]: POST /api/payments as carol
	local o=$1 m=$2
	shift 2
	AUTH_TOKEN=$carol req POST /api/payments "{\"order_id\":\"$o\",\"payment_method\":\"$m\"}" "$@"
}
status_of() { AUTH_TOKEN=$carol req GET "/api/orders/$1"; jq -r .status <<<"$BODY"; }
is_status() { test "$(status_of "$1")" = "$2"; }
# paid_on ORDER: paid, or further on (the kitchen takes paid orders at once)
paid_on() { case $(status_of "$1") in paid | preparing | ready | completed) ;; *) return 1 ;; esac; }
level() { req GET "/api/stock/$tart"; jq -c '[.on_hand, .reserved]' <<<"$BODY"; }
# payment_events ORDER: the payments stream's events about the order, a JSON array
payment_events() { scli --raw XRANGE galley:events:payments - + | grep -F "\"order_id\":\"$1\"" | jq -sc '.'; }
# order_gets ORDER: how many times the orders service was asked for ORDER (its access logs)
order_gets() { cat "$GALLEY_RUN"/logs/orders-*.log | grep -cF "\"method\":\"GET\",\"path\":\"/api/orders/$1\"" || true; }

# ---------------------------------------------------------------- paid
before=$(level)
o1=$(order 2)
pay "$o1" pm_card_visa
expect_status 201 "paying an order with pm_card_visa: 201"
expect_json ".id == \"$o1\" and .order_id == \"$o1\" and .status == \"succeeded\" and .amount_cents == 1250 and .currency == \"EUR\"" \
	"succeeded, for the order's total (a payment's id is its order's)"
expect_json '.provider_id | test("^pi_")' "with the provider's payment intent"
expect_header Location "^/api/payments/$o1\$" "Location names the payment"
check "orders was not asked for the order: payments read it where orders keeps it (the store)" \
	test "$(order_gets "$o1")" = 0
check "the order follows: paid (or on in the kitchen already)" wait_until 10 paid_on "$o1"
check "its 2 units are sold: on_hand down 2, nothing reserved" \
	test "$(level)" = "$(jq -c '[.[0] - 2, .[1]]' <<<"$before")"
check "the provider was asked to authorize once, keyed by the order id" test "$(sim_calls '^/v1/payment_intents$' "$o1")" = 1
check "and to capture once" test "$(sim_calls '/capture$' "$o1-capture")" = 1
check "payment.succeeded is announced once, with the amount" jq -e --arg o "$o1" \
	'length == 1 and .[0].type == "payment.succeeded" and .[0].data.payment_id == $o and .[0].data.amount_cents == 1250 and .[0].data.currency == "EUR"' \
	<<<"$(payment_events "$o1")"
# order.paid says stock's commit came first, so stock's own follower of it has nothing to do.
check "order.paid is announced once, saying the stock was committed first" jq -e --arg o "$o1" \
	'[.[] | select(.type == "order.paid")] | length == 1 and .[0].data.order_id == $o and .[0].data.stock_committed == true' \
	<<<"$(scli --raw XRANGE galley:events:orders - + | grep -F "\"order_id\":\"$o1\"" | jq -sc '.')"
AUTH_TOKEN=$carol req GET "/api/payments/$o1"
expect_json '.status == "succeeded"' "the owner reads the payment"
req GET "/api/payments/$o1"
expect_status 200 "staff read it"
AUTH_TOKEN=$dave req GET "/api/payments/$o1"
expect_error 404 not_found "another customer does not see it"
pay "$o1" pm_card_visa
expect_error 409 conflict "paying a paid order again: 409, nothing charged"
check "still one authorization" test "$(sim_calls '^/v1/payment_intents$' "$o1")" = 1
AUTH_TOKEN=$dave req POST /api/payments "{\"order_id\":\"$(order 1)\",\"payment_method\":\"pm_card_visa\"}"
expect_error 400 validation_failed "another customer cannot pay carol's order (it does not exist for dave)"
expect_json '.error.field == "order_id"' "the field is named"

# An order whose copy the store no longer holds (a store that lost its data: the order in
# MongoDB alone, and the time the store first kept orders after it) is asked of orders.
o=$(order 1)
# Unpaid, it is held back from MongoDB (lib/kept.h): a staff query by customer writes it there.
AUTH_TOKEN=$carol req GET /api/auth/me
req GET "/api/orders?customer_id=$(jq -r .customer_id <<<"$BODY")&limit=1"
projected() { [[ -z $(scli ZSCORE galley:kept:orders:orders:dirty "$1")$(scli ZSCORE galley:kept:orders:orders:held "$1") ]]; }
check "an order reaches MongoDB (a query by customer writes it there)" wait_until 10 projected "$o"
scli DEL "galley:kept:orders:orders:$o" >/dev/null
scli SET galley:kept:orders:orders:since $((16#${o:0:8} + 1)) >/dev/null # after the id's time
# Asked until paid: an orders thread may go on with the old time for up to a second
# (lib/kept.c, kept_since), and answer that no such order exists; that try leaves nothing.
paid_now() { pay "$o" pm_card_visa; [[ $STATUS == 201 ]]; }
check "with the store's copy gone, it is paid" wait_until 5 paid_now
check "orders was asked for it ($(order_gets "$o") times)" test "$(order_gets "$o")" -ge 1

# So an order is paid while the orders service is down, and orders follows once it is back.
o=$(order 1)
for n in $(seq 1 "$(svc_pools orders)"); do kill_pool orders "$n"; done
pay "$o" pm_card_visa
expect_status 201 "with every orders pool down, an order is paid"
for n in $(seq 1 "$(svc_pools orders)"); do
	check "orders pool $n restarts" "$GALLEY_TOP/bin/galley" restart-pool orders "$n"
done
check "and the order follows into paid once orders is back" wait_until 20 paid_on "$o"

# ---------------------------------------------------------------- declined
before=$(level)
o2=$(order 3)
pay "$o2" pm_card_chargeDeclined
expect_error 402 payment_failed "a declined card: 402 payment_failed"
expect_json '.error.message | test("declined")' "with the provider's reason"
check "the order is cancelled" wait_until 10 is_status "$o2" cancelled
AUTH_TOKEN=$carol req GET "/api/orders/$o2"
expect_json '.cancel_reason == "payment_failed"' "reason payment_failed"
check "its stock is back" test "$(level)" = "$before"
AUTH_TOKEN=$carol req GET "/api/payments/$o2"
expect_json '.status == "failed" and (.failure_message | test("declined"))' "the payment says failed, and why"
check "payment.failed is announced once, with the reason" jq -e \
	'length == 1 and .[0].type == "payment.failed" and (.[0].data.reason | test("declined"))' <<<"$(payment_events "$o2")"
pay "$o2" pm_card_visa
expect_error 409 conflict "a failed payment is not made again"
check "nothing was captured" test "$(sim_calls '/capture$' "$o2-capture")" = 0
o3=$(order 1)
pay "$o3" pm_card_chargeDeclinedInsufficientFunds
expect_error 402 payment_failed "insufficient funds: 402"
o3=$(order 1)
pay "$o3" pm_nosuchmethod
expect_error 402 payment_failed "a payment method the provider does not know: 402, not a 5xx"

# ---------------------------------------------------------------- slow, down
# On an item of their own: the stock the declined orders above free comes back by an event.
req POST /api/menu/items "{\"name\":\"Pie\",\"price_cents\":500,\"supplier_id\":\"$supplier\"}"
pie=$(jq -r .id <<<"$BODY")
req PUT "/api/stock/$pie" '{"on_hand":5}'
o4=$(order 1 "$carol" "$pie")
# A second request for the same payment while the first waits on the provider: one request
# (or tick) at a time makes a payment, so the provider is not asked the same thing twice at
# once. The first is in flight from its record (processing) until its timeout (2 s here).
first="$_GL_TMP/o4-first"
curl -s -o "$first.body" -w '%{http_code}' --max-time 6 -X POST "$GALLEY_URL/api/payments" \
	-H "Authorization: Bearer $carol" -H 'Content-Type: application/json' \
	-d "{\"order_id\":\"$o4\",\"payment_method\":\"pm_sim_slow\"}" >"$first.status" &
first_pid=$!
recorded() { AUTH_TOKEN=$carol req GET "/api/payments/$o4" && [[ $STATUS == 200 ]]; }
check "the first request records the payment (processing)" wait_until 5 recorded
pay "$o4" pm_sim_slow --max-time 6
if kill -0 "$first_pid" 2>/dev/null; then
	expect_error 409 conflict "a second request while the first is at it: 409"
	expect_json ".error.message | test(\"in progress\") and test(\"/api/payments/$o4\")" \
		"saying it is in progress, and where to look"
else # a machine so slow that the first had answered: the second made its own attempt
	echo "# the first request had answered before the second did: $STATUS"
	check "the second: 409, or its own attempt's 504" test "$STATUS" = 409 -o "$STATUS" = 504
fi
wait "$first_pid" || true
STATUS=$(cat "$first.status") BODY=$(cat "$first.body")
expect_error 504 upstream_timeout "a provider slower than GALLEY_PAYMENT_TIMEOUT_MS: 504 within the timeout"
expect_json ".error.message | test(\"/api/payments/$o4\")" "telling where to look"
AUTH_TOKEN=$carol req GET "/api/payments/$o4"
expect_json '.status == "processing"' "the payment stays processing (retried by itself)"
check "the order is still pending_payment, its unit held" is_status "$o4" pending_payment
check "nothing captured" test "$(sim_calls '/capture$' "$o4-capture")" = 0
o5=$(order 1 "$carol" "$pie")
pay "$o5" pm_sim_down --max-time 3
expect_error 503 upstream_unavailable "a provider that is out: 503"
check "nothing captured" test "$(sim_calls '/capture$' "$o5-capture")" = 0
req GET "/api/stock/$pie"
expect_json '.on_hand == 5 and .reserved == 2' "both units still held, none sold"

# ---------------------------------------------------------------- bad input
o6=$(order 1)
for body in "{\"order_id\":\"$o6\"}" "{\"payment_method\":\"pm_card_visa\"}" \
	"{\"order_id\":\"$o6\",\"payment_method\":\"card\"}" \
	"{\"order_id\":\"$o6\",\"payment_method\":\"pm_card visa\"}" \
	"{\"order_id\":\"$o6\",\"payment_method\":\"pm_$(printf 'x%.0s' {1..100})\"}" \
	"{\"order_id\":\"nope\",\"payment_method\":\"pm_card_visa\"}" \
	"{\"order_id\":\"$o6\",\"payment_method\":\"pm_card_visa\",\"amount_cents\":1}" \
	"{\"order_id\":\"$o6\",\"payment_method\":{\"\$gt\":\"\"}}"; do
	AUTH_TOKEN=$carol req POST /api/payments "$body"
	expect_error 400 validation_failed "400: $(head -c 70 <<<"$body")"
done
AUTH_TOKEN=$carol req POST /api/payments "{\"order_id\":\"$(head -c 12 /dev/urandom | od -An -tx1 | tr -d ' \n')\",\"payment_method\":\"pm_card_visa\"}"
expect_error 400 validation_failed "an unknown order: 400"
AUTH_TOKEN=$carol req POST /api/payments '{"order_id":'
expect_error 400 invalid_json "broken JSON: 400"
AUTH_TOKEN= req POST /api/payments "{\"order_id\":\"$o6\",\"payment_method\":\"pm_card_visa\"}"
expect_error 401 unauthenticated "anonymous: 401"
AUTH_TOKEN=$carol req POST "/api/orders/$o6/cancel"
pay "$o6" pm_card_visa
expect_error 422 invalid_state "a cancelled order cannot be paid"
req GET /api/payments/zzz
expect_error 400 validation_failed "a malformed payment id: 400"

# ---------------------------------------------------------------- Idempotency-Key
o7=$(order 1)
pay "$o7" pm_card_visa -H "Idempotency-Key: pay-$o7"
first=$BODY
expect_status 201 "paid with an Idempotency-Key"
pay "$o7" pm_card_visa -H "Idempotency-Key: pay-$o7"
expect_status 201 "the same key again: the first answer"
check "the same body" test "$(jq -c 'del(.updated_at)' <<<"$BODY")" = "$(jq -c 'del(.updated_at)' <<<"$first")"
check "one authorization" test "$(sim_calls '^/v1/payment_intents$' "$o7")" = 1

# ---------------------------------------------------------------- refund
before=$(level)
o8=$(order 2)
pay "$o8" pm_card_visa
expect_status 201 "paid"
check "the order is paid" wait_until 10 paid_on "$o8"
AUTH_TOKEN=$carol req POST "/api/orders/$o8/cancel"
expect_status 200 "a paid order may be cancelled before it is ready"
expect_json '.status == "cancelled" and .cancel_reason == "customer"' "cancelled by the customer"
refunded() { AUTH_TOKEN=$carol req GET "/api/payments/$o8"; jq -e '.status == "refunded" and (.refund_id | test("^re_"))' <<<"$BODY" >/dev/null; }
check "the payment is refunded through the provider" wait_until 10 refunded
check "refunded once" test "$(sim_calls '^/v1/refunds$' "$o8-refund")" = 1
check "the units stay sold (they may be in the pan)" test "$(level)" = "$(jq -c '[.[0] - 2, .[1]]' <<<"$before")"
# The same order.cancelled delivered again: no second refund.
ev=$(scli --raw XRANGE galley:events:orders - + | grep -F "\"order_id\":\"$o8\"" | grep -F '"type":"order.cancelled"' | head -n 1)
dup=$(jq -c '.id = "'"$(head -c 12 /dev/urandom | od -An -tx1 | tr -d ' \n')"'"' <<<"$ev")
scli XADD galley:events:orders '*' id "$(jq -r .id <<<"$dup")" type order.cancelled event "$dup" >/dev/null
seen() { scli --json XINFO GROUPS galley:events:orders | jq -e '.[] | select(.name == "payments") | .pending == 0 and .lag == 0' >/dev/null; }
check "payments read the duplicate" wait_until 10 seen
check "still one refund" test "$(sim_calls '^/v1/refunds$' "$o8-refund")" = 1

# ---------------------------------------------------------------- pay racing cancel
# Each pair ends one way: paid (sold, captured), cancelled before it was paid (released,
# nothing captured), or cancelled once paid (captured once, then refunded once: a paid
# order may be cancelled, and the payment may finish before the cancel reads the order).
for i in 1 2 3 4; do
	o=$(order 1)
	pay "$o" pm_card_visa >/dev/null &
	AUTH_TOKEN=$carol req POST "/api/orders/$o/cancel" >/dev/null &
	wait
	races+=" $o"
done
settled() { # every raced order is paid or cancelled, and its payment final
	local o s p
	for o in $races; do
		s=$(status_of "$o")
		AUTH_TOKEN=$carol req GET "/api/payments/$o"
		p=$(jq -r '.status // "none"' <<<"$BODY")
		case "$s/$p" in paid/succeeded | preparing/succeeded | ready/succeeded | cancelled/cancelled | cancelled/none | cancelled/refunded) ;; *) return 1 ;; esac
	done
}
check "every raced order settles one way: paid+succeeded, cancelled with nothing charged, or cancelled and refunded" wait_until 15 settled
oneway() {
	local o p
	for o in $races; do
		AUTH_TOKEN=$carol req GET "/api/payments/$o"
		p=$(jq -r '.status // "none"' <<<"$BODY")
		if paid_on "$o"; then
			test "$(sim_calls '/capture$' "$o-capture")" = 1 || return 1
		elif [ "$p" = refunded ]; then
			test "$(sim_calls '/capture$' "$o-capture")" = 1 || return 1
			test "$(sim_calls '^/v1/refunds$' "$o-refund")" = 1 || return 1
		else
			test "$(sim_calls '/capture$' "$o-capture")" = 0 || return 1
		fi
	done
}
check "captured exactly for the paid ones (and refunded once for the cancelled ones)" oneway

# ---------------------------------------------------------------- Redis away
o9=$(order 1) o10=$(order 1)
check "Redis is stopped" kill -TERM "$(cat "$GALLEY_RUN/pids/redis.pid")"
redis_down() { ! rcli ping >/dev/null 2>&1; }
check "and gone" wait_until 10 redis_down
pay "$o9" pm_card_visa
expect_status 201 "an order is paid while Redis is down"
pay "$o10" pm_card_visa
expect_status 201 "and another"
check "bin/galley restart-redis" "$GALLEY_TOP/bin/galley" restart-redis
both_paid() { paid_on "$o9" && paid_on "$o10"; }
check "order.paid reaches orders (the events are in the store, not the cache): both paid" wait_until 20 both_paid

# ---------------------------------------------------------------- given up
# o4's provider never answers (pm_sim_slow): retried by the tick, then given up after
# GALLEY_PAYMENT_GIVE_UP_S (the test stack: 45 s; 24 h by default, Stripe's window).
given_up() { AUTH_TOKEN=$carol req GET "/api/payments/$o4"; jq -e '.status == "failed" and (.failure_message | test("did not answer"))' <<<"$BODY" >/dev/null; }
check "a payment the provider never answers fails once GALLEY_PAYMENT_GIVE_UP_S has passed" wait_until 90 given_up
check "announced as payment.failed" jq -e 'any(.[]; .type == "payment.failed")' <<<"$(payment_events "$o4")"
check "its order is cancelled" wait_until 15 is_status "$o4" cancelled
check "nothing was captured for it" test "$(sim_calls '/capture$' "$o4-capture")" = 0

done_testing
