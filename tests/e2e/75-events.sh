#!/usr/bin/env bash
# Events: every order change is added to the stream galley:events:orders as
# {id, type, occurred_at, request_id, data}; with Redis stopped, orders are
# still placed and cancelled and their events wait in MongoDB's outbox until
# Redis is back, then arrive, none lost.
. "$(dirname "$0")/lib.sh"

rcli() { redis-cli -u "$GALLEY_REDIS_URL" --no-auth-warning "$@"; }
redis_up() { [[ $(rcli ping 2>/dev/null) == PONG ]]; }
redis_down() { ! redis_up; }
# events_of ORDER: the events of one order in the stream, a JSON array in stream order
events_of() {
	rcli --raw XRANGE galley:events:orders - + 2>/dev/null | grep -F "\"order_id\":\"$1\"" |
		jq -sc '.' 2>/dev/null
}
created_of() {
	rcli --raw XRANGE galley:events:orders - + 2>/dev/null | grep -F '"type":"order.created"' |
		jq -sc --arg o "$1" '[.[] | select(.data.id == $o)]' 2>/dev/null
}
has_events() { # ORDER TYPE...: every TYPE is among the order's events, each exactly once
	local order=$1 all t
	shift
	all=$( (created_of "$order" | jq -c '.[]'; events_of "$order" | jq -c '.[]') | jq -sc '.')
	for t in "$@"; do
		jq -e --arg t "$t" '[.[] | select(.type == $t)] | length == 1' <<<"$all" >/dev/null || return 1
	done
}

req POST /api/suppliers "{\"name\":\"Events supplier\",\"email\":\"ev$RANDOM$RANDOM@supplier.example\"}"
supplier=$(jq -r .id <<<"$BODY")
req POST /api/menu/items "{\"name\":\"Event soup\",\"price_cents\":500,\"supplier_id\":\"$supplier\"}"
item=$(jq -r .id <<<"$BODY")
req PUT "/api/stock/$item" '{"on_hand":100}'
email="ev$RANDOM$RANDOM@orders.example"
AUTH_TOKEN= req POST /api/auth/register "{\"email\":\"$email\",\"password\":\"password9\",\"name\":\"Eve\"}"
login "$email" password9
eve=$TOKEN
order_body="{\"lines\":[{\"item_id\":\"$item\",\"qty\":1}]}"

AUTH_TOKEN=$eve req POST /api/orders "$order_body"
expect_status 201 "an order is placed"
order=$(jq -r .id <<<"$BODY")
rid=$(sed -n 's/^[Xx]-[Rr]equest-[Ii]d: *//p' <<<"$HEADERS" | head -n 1)
created=$(created_of "$order")
check "order.created is in the stream at once" jq -e 'length == 1' <<<"$created"
check "shaped {id, type, occurred_at, request_id, data}" jq -e --arg r "$rid" \
	'.[0] | (.id | test("^[0-9a-f]{24}$")) and .type == "order.created" and (.occurred_at | test("Z$")) and .request_id == $r and .data.status == "pending_payment" and .data.total_cents == 500' <<<"$created"
AUTH_TOKEN=$eve req POST "/api/orders/$order/cancel"
check "order.cancelled follows the cancel" has_events "$order" order.created order.cancelled
check "with the reason and the reservation" jq -e '.[0].data.reason == "customer" and (.[0].data.reservation_id | test("^[0-9a-f]{24}$"))' <<<"$(events_of "$order")"

# Redis stopped: orders go on; their events wait in the outbox.
check "Redis is stopped" kill -TERM "$(cat "$GALLEY_RUN/pids/redis.pid")"
check "and gone" wait_until 10 redis_down
AUTH_TOKEN=$eve req POST /api/orders "$order_body"
expect_status 201 "an order is placed while Redis is down"
o1=$(jq -r .id <<<"$BODY")
AUTH_TOKEN=$eve req POST /api/orders "$order_body"
o2=$(jq -r .id <<<"$BODY")
AUTH_TOKEN=$eve req POST "/api/orders/$o2/cancel"
expect_status 200 "and one is cancelled"
check "bin/galley restart-redis brings it back" "$GALLEY_TOP/bin/galley" restart-redis
check "Redis answers" wait_until 10 redis_up
check "the outbox drains: order.created of the first" wait_until 30 has_events "$o1" order.created
check "order.created and order.cancelled of the second, each once" wait_until 30 has_events "$o2" order.created order.cancelled
AUTH_TOKEN=$eve req POST "/api/orders/$o1/cancel"
check "and the events of a change made after Redis is back arrive" wait_until 15 has_events "$o1" order.created order.cancelled
done_testing
