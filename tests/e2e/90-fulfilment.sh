#!/usr/bin/env bash
# One order's whole path, as a customer and the staff see it: register, order,
# pay, and the order goes paid → preparing → ready by itself (the simulated
# kitchen; GALLEY_KITCHEN_SECONDS_PER_ITEM=1 in the test stack), then staff
# hand it over: completed, with every event on the way. Then the kitchen is
# killed, three orders are paid, and when it is back all three are prepared,
# none twice.
. "$(dirname "$0")/lib.sh"

events_of() { # ORDER: its events in galley:events:orders, a JSON array in stream order
	scli --raw XRANGE galley:events:orders - + | grep -F "$1" |
		jq -sc --arg o "$1" '[.[] | select(.data.order_id == $o or (.type == "order.created" and .data.id == $o))]'
}
types_of() { events_of "$1" | jq -r '[.[].type] | join(" ")'; }
count_of() { events_of "$1" | jq --arg t "$2" '[.[] | select(.type == $t)] | length'; }

req POST /api/suppliers "{\"name\":\"Fulfilment supplier\",\"email\":\"ful$RANDOM$RANDOM@supplier.example\"}"
supplier=$(jq -r .id <<<"$BODY")
req POST /api/menu/items "{\"name\":\"Ramen\",\"price_cents\":1150,\"supplier_id\":\"$supplier\"}"
ramen=$(jq -r .id <<<"$BODY")
req POST /api/menu/items "{\"name\":\"Gyoza\",\"price_cents\":550,\"supplier_id\":\"$supplier\"}"
gyoza=$(jq -r .id <<<"$BODY")
req PUT "/api/stock/$ramen" '{"on_hand":20}'
req PUT "/api/stock/$gyoza" '{"on_hand":20}'

# ---------------------------------------------------------------- the walk-through
email="erin$RANDOM$RANDOM@fulfilment.example"
AUTH_TOKEN= req POST /api/auth/register "{\"email\":\"$email\",\"password\":\"password9\",\"name\":\"Erin\"}"
expect_status 201 "a customer registers"
login "$email" password9
erin=$TOKEN
AUTH_TOKEN=$erin req POST /api/orders "{\"lines\":[{\"item_id\":\"$ramen\",\"qty\":1},{\"item_id\":\"$gyoza\",\"qty\":2}]}"
expect_status 201 "orders a ramen and two gyoza"
expect_json '.status == "pending_payment" and .total_cents == 2250' "pending_payment, 22.50"
order=$(jq -r .id <<<"$BODY")
AUTH_TOKEN=$erin req POST /api/payments "{\"order_id\":\"$order\",\"payment_method\":\"pm_card_visa\"}"
expect_status 201 "pays"
expect_json '.status == "succeeded" and .amount_cents == 2250' "the payment succeeded"

seen=""
status_is() { AUTH_TOKEN=$erin req GET "/api/orders/$order"; jq -e --arg s "$1" '.status == $s' <<<"$BODY" >/dev/null; }
track() { # record every status the customer sees until ready
	local s
	AUTH_TOKEN=$erin req GET "/api/orders/$order"
	s=$(jq -r .status <<<"$BODY")
	[[ " $seen " == *" $s "* ]] || seen+=" $s"
	[[ $s == ready ]]
}
check "the order reaches ready by itself, within seconds" wait_until 20 track
echo "# statuses seen by polling:$seen"
expect_json '(.paid_at | type) == "string" and (.preparing_at | type) == "string" and (.ready_at | type) == "string"' \
	"and carries when it was paid, started and ready"
expect_json '.paid_at <= .preparing_at and .preparing_at <= .ready_at' "in that order"
check "its events: created, paid, preparing, ready (in that order)" \
	test "$(types_of "$order")" = "order.created order.paid order.preparing order.ready"
req GET "/api/kitchen/tickets/$order"
expect_json '.status == "ready" and (.lines | length) == 2' "the kitchen's ticket is ready, with both lines"
req GET "/api/kitchen/tickets?status=ready"
expect_json "any(.items[]; .id == \"$order\")" "and on the ready board"
AUTH_TOKEN=$erin req POST "/api/orders/$order/cancel"
expect_error 422 invalid_state "a ready order can no longer be cancelled"
req POST "/api/kitchen/tickets/$order/complete"
expect_status 200 "staff hand it over"
expect_json '.status == "completed"' "the ticket is completed"
check "the order follows: completed" wait_until 10 status_is completed
check "and order.completed was the last event" \
	test "$(types_of "$order")" = "order.created order.paid order.preparing order.ready order.completed"
# Orders and the kitchen acknowledge these events with the write they make (the handled mark
# and the acknowledgement ride on it): each one the service follows is marked handled, and
# none is left pending or counted as failed.
marked() { # SERVICE TYPE...: the order's events of those types are marked handled by SERVICE
	local t id
	for t in "${@:2}"; do
		id=$(events_of "$order" | jq -r --arg t "$t" '.[] | select(.type == $t) | .id')
		[[ -n $id && $(scli EXISTS "galley:handled:$1:$id") == 1 ]] || return 1
	done
}
sids_of() { # the stream entries of the order's events, their ids one a line
	scli --json XRANGE galley:events:orders - + |
		jq -r --arg o "$order" '.[] | select(.[1][5] | contains($o)) | .[0]'
}
settled() { # GROUP: none of the order's entries pending with it, none with a failure counted
	local sids
	sids=$(sids_of)
	[[ -n $sids ]] || return 1
	! scli --json XPENDING galley:events:orders "$1" - + 1000 | jq -r '.[][0]' | grep -qxF "$sids" &&
		[[ -z $(scli HMGET "galley:events:orders:$1:tries" $sids | grep -v '^$') ]]
}
check "orders marked the order's paid, preparing, ready and completed handled" \
	marked orders order.paid order.preparing order.ready order.completed
check "the kitchen marked its order.paid handled" marked kitchen order.paid
check "none of its entries is pending with orders' group, nor counted as failed" wait_until 10 settled orders
check "nor with the kitchen's" wait_until 10 settled kitchen
req GET "/api/stock/$ramen"
expect_json '.on_hand == 19 and .reserved == 0' "one ramen sold"

# ---------------------------------------------------------------- kitchen down
for n in $(seq 1 "$(svc_pools kitchen)"); do kill_pool kitchen "$n"; done
kitchen_down() { AUTH_TOKEN= req GET /api/kitchen/healthz; [[ $STATUS == 502 || $STATUS == 503 || $STATUS == 504 ]]; }
check "the kitchen is down" wait_until 10 kitchen_down
three=""
for i in 1 2 3; do
	AUTH_TOKEN=$erin req POST /api/orders "{\"lines\":[{\"item_id\":\"$gyoza\",\"qty\":1}]}"
	o=$(jq -r .id <<<"$BODY")
	AUTH_TOKEN=$erin req POST /api/payments "{\"order_id\":\"$o\",\"payment_method\":\"pm_card_visa\"}"
	expect_status 201 "order $i is paid while the kitchen is down"
	three+=" $o"
done
all_paid() { local o; for o in $three; do AUTH_TOKEN=$erin req GET "/api/orders/$o"; jq -e '.status == "paid"' <<<"$BODY" >/dev/null || return 1; done; }
check "all three are paid (and wait for the kitchen)" wait_until 10 all_paid
for n in $(seq 1 "$(svc_pools kitchen)"); do
	check "kitchen pool $n starts again" "$GALLEY_TOP/bin/galley" restart-pool kitchen "$n"
done
all_ready() { local o; for o in $three; do AUTH_TOKEN=$erin req GET "/api/orders/$o"; jq -e '.status == "ready"' <<<"$BODY" >/dev/null || return 1; done; }
check "once it is back, all three are prepared: ready" wait_until 30 all_ready
once() { local o; for o in $three; do test "$(count_of "$o" order.ready)" = 1 && test "$(count_of "$o" order.preparing)" = 1 || return 1; done; }
check "none prepared twice (one order.preparing and one order.ready each)" once

done_testing
