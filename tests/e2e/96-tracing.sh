#!/usr/bin/env bash
# Tracing (lib/trace.h): one order's whole path is one trace in Jaeger. A client sends a
# W3C traceparent when it places and when it pays an order; Jaeger (started by bin/galley
# test with memory storage, the stack exporting to it over OTLP/HTTP) then holds, in the
# client's trace: the orders, auth, customers, menu and stock server spans of the placement
# with the right parents, the payments server span and its calls, the events published, the
# kitchen's and orders' consumer spans and the cook's work. A malformed traceparent is
# ignored: the request succeeds in a new trace. No span holds a secret.
. "$(dirname "$0")/lib.sh"

if [[ -z ${GALLEY_JAEGER_URL:-} ]]; then
	check "GALLEY_JAEGER_URL names Jaeger's query API (bin/galley test starts Jaeger)" false
	done_testing
fi
hex() { head -c "$1" /dev/urandom | od -An -tx1 | tr -d ' \n'; }
request_id() { sed -n 's/^[Xx]-[Rr]equest-[Ii]d: *//p' <<<"$HEADERS" | head -n 1; }

# spans TRACE: the trace's spans as Jaeger has them, flattened to one JSON array of
# {id, name, svc, kind, parent, tags}; [] while Jaeger has none.
spans() {
	curl -s --max-time 5 "$GALLEY_JAEGER_URL/api/traces/$1" | jq -c '
		[(.data // [])[] | . as $t | .spans[] | {
			id: .spanID, name: .operationName, svc: $t.processes[.processID].serviceName,
			kind: ([.tags[]? | select(.key == "span.kind") | .value][0] // "internal"),
			parent: ([.references[]? | select(.refType == "CHILD_OF") | .spanID][0] // ""),
			tags: ([.tags[]? | {(.key): .value}] | add // {})}]' 2>/dev/null || echo '[]'
}
SPANS='[]'
# has TRACE JQ-BOOLEAN: poll Jaeger until the trace's spans (as $s) satisfy the expression
# (spans arrive within about a second of their end, from every process).
has() {
	SPANS=$(spans "$1")
	jq -e "$2" <<<"$SPANS" >/dev/null 2>&1
}
expect_trace() { # TRACE JQ-BOOLEAN DESC
	check "$3" wait_until 20 has "$1" ". as \$s | $2"
}

# ---------------------------------------------------------------- setup (as the admin)
check "setup: an item with stock" stocked_item "Traced soup" 450 5
item=$ITEM
customer Tracy
tracy=$TOKEN

# ---------------------------------------------------------------- one order, one trace
trace=$(hex 16)
place_span=$(hex 8)
pay_span=$(hex 8)
AUTH_TOKEN=$tracy req POST /api/orders "{\"lines\":[{\"item_id\":\"$item\",\"qty\":1}]}" \
	-H "traceparent: 00-$trace-$place_span-01"
expect_status 201 "an order placed with a client's traceparent"
order=$(jq -r .id <<<"$BODY")
check "its X-Request-Id is the client's trace id" test "$(request_id)" = "$trace"
AUTH_TOKEN=$tracy req POST /api/payments "{\"order_id\":\"$order\",\"payment_method\":\"pm_card_visa\"}" \
	-H "traceparent: 00-$trace-$pay_span-01"
expect_status 201 "paid, with the same trace and another client span"
check "its X-Request-Id is the client's trace id too" test "$(request_id)" = "$trace"
ready() { AUTH_TOKEN=$tracy req GET "/api/orders/$order"; jq -e '.status == "ready"' <<<"$BODY" >/dev/null; }
check "the order reaches ready (the kitchen prepared it)" wait_until 30 ready

# The placement.
orders_server='($s[] | select(.svc == "galley-orders" and .kind == "server" and .name == "POST /api/orders"))'
expect_trace "$trace" "any($orders_server; .parent == \"$place_span\")" \
	"orders' server span \"POST /api/orders\" is a child of the client's span"
expect_trace "$trace" "any($orders_server; .tags[\"http.response.status_code\"] == 201 and .tags[\"http.route\"] == \"/api/orders\" and .tags[\"galley.request_id\"] == \"$trace\")" \
	"with its route, its status (201) and the request id"
expect_trace "$trace" "any(\$s[]; .svc == \"galley-auth\" and .kind == \"server\" and .name == \"GET /_auth\" and .parent == \"$place_span\")" \
	"nginx's auth check is a span of the trace (auth, GET /_auth)"
# A server span of SVC named NAME whose parent is a client span of orders' placement span.
called_by_orders() { # SVC NAME
	echo "any(\$s[]; .svc == \"$1\" and .kind == \"server\" and .name == \"$2\" and (.parent as \$p
		| any(\$s[]; .id == \$p and .svc == \"galley-orders\" and .kind == \"client\"
			and (.parent as \$q | any($orders_server; .id == \$q)))))"
}
expect_trace "$trace" "$(called_by_orders galley-stock "POST /internal/stock/reservations")" \
	"stock's reservation span is a child of an orders client span, itself under the placement"
expect_trace "$trace" "$(called_by_orders galley-menu "GET /api/menu/items/{id}")" \
	"so is menu's item lookup"
expect_trace "$trace" "$(called_by_orders galley-customers "GET /api/customers")" \
	"and customers' lookup of the caller's customer record"
expect_trace "$trace" "any(\$s[]; .svc == \"galley-orders\" and .kind == \"client\" and .name == \"POST stock /internal/stock/reservations\" and .tags[\"http.response.status_code\"] == 201 and .tags[\"url.path\"] == \"/internal/stock/reservations\")" \
	"the call is named for its service and path, with its status"

# The payment.
expect_trace "$trace" "any(\$s[]; .svc == \"galley-payments\" and .kind == \"server\" and .name == \"POST /api/payments\" and .parent == \"$pay_span\")" \
	"payments' server span is a child of the client's second span"
expect_trace "$trace" "any(\$s[]; .svc == \"galley-payments\" and .kind == \"client\" and (.name | test(\"^POST [^ ]+ /v1/payment_intents\$\")))" \
	"the call to the payment provider is a client span"
expect_trace "$trace" "any(\$s[]; .svc == \"galley-stock\" and .kind == \"server\" and (.name | startswith(\"POST /internal/stock/reservations/{id}/commit\")))" \
	"stock's commit, called by payments, is in the trace"

# The events: published by payments, consumed by the kitchen and orders.
consumed() { # SVC TYPE [PUBLISHER-SVC]: a consumer span of SVC whose parent is the producer span
	echo "any(\$s[]; .svc == \"$1\" and .kind == \"consumer\" and .name == \"process $2\" and (.parent as \$p
		| any(\$s[]; .id == \$p and .kind == \"producer\" and .name == \"publish $2\" ${3:+and .svc == \"$3\"})))"
}
expect_trace "$trace" "$(consumed galley-kitchen order.paid galley-payments)" \
	"the kitchen's handling of order.paid is a child of payments' publishing of it"
expect_trace "$trace" "$(consumed galley-orders order.paid galley-payments)" \
	"so is orders' handling of order.paid"
expect_trace "$trace" "$(consumed galley-orders order.created galley-orders)" \
	"order.created, published by the placement, is handled in the trace too"
expect_trace "$trace" "any(\$s[]; .svc == \"galley-kitchen\" and .name == \"prepare ticket\" and .tags[\"galley.ticket_id\"] == \"$order\" and (.parent as \$p | any(\$s[]; .id == \$p and .kind == \"consumer\" and .name == \"process order.paid\" and .svc == \"galley-kitchen\")))" \
	"the cook's work on the ticket is a child of the kitchen's handling of order.paid"
expect_trace "$trace" "$(consumed galley-orders order.ready galley-kitchen)" \
	"order.ready, published by the cook, is handled by orders in the same trace"
expect_trace "$trace" "$(consumed galley-orders order.preparing galley-kitchen)" \
	"and order.preparing"

# Every span of the trace is well-formed and has its parent in the trace, except the
# placement's and the payment's server spans and the auth checks (their parents are the
# client's spans, which only the client could export).
expect_trace "$trace" "[\$s[].id] as \$ids | all(\$s[]; .parent as \$p | \$p == \"$place_span\" or \$p == \"$pay_span\" or any(\$ids[]; . == \$p))" \
	"every span's parent is in the trace, but for the client's two spans"
echo "# $(jq length <<<"$SPANS") spans in the trace: $(jq -r '[.[] | "\(.svc | ltrimstr("galley-")):\(.name)"] | unique | join(", ")' <<<"$SPANS")"
key=$(cat "$GALLEY_RUN/payment-key" 2>/dev/null)
check "no span holds the payment key, a bearer token or an Authorization header" \
	bash -c '! grep -qiE "$1|$2|bearer|authorization" <<<"$3"' _ "${key:-sk_}" "$tracy" \
	"$(curl -s --max-time 5 "$GALLEY_JAEGER_URL/api/traces/$trace")"

# ---------------------------------------------------------------- malformed traceparents
bad_trace=$(hex 16)
for bad in "00-${bad_trace^^}-$(hex 8)-01" "ff-$bad_trace-$(hex 8)-01" "00-$bad_trace-0000000000000000-01" \
	"00-$bad_trace-$(hex 8)-01-extra" "00-00000000000000000000000000000000-$(hex 8)-01"; do
	req GET /api/menu -H "traceparent: $bad"
	expect_status 200 "a malformed traceparent is ignored: $bad"
	rid=$(request_id)
	check "and the request gets a new trace id ($rid)" \
		bash -c '[[ $1 =~ ^[0-9a-f]{32}$ && $1 != "$2" && $1 != 00000000000000000000000000000000 ]]' _ "$rid" "$bad_trace"
done
expect_trace "$rid" 'any($s[]; .svc == "galley-menu" and .kind == "server" and .name == "GET /api/menu" and .parent == "")' \
	"that new trace is in Jaeger, the menu's span a root"

done_testing
