#!/usr/bin/env bash
# Events: every order change is added to the stream galley:events:orders as
# {id, type, occurred_at, request_id, traceparent, data}. The streams live in the store, the
# Redis whose AOF is on: with the cache Redis stopped, orders are placed and cancelled and
# their events arrive; with the store killed (SIGKILL), writes are refused with 503 (never
# 500), and once it is back from its AOF every event sent before is there, once.
. "$(dirname "$0")/lib.sh"

redis_up() { [[ $(rcli ping 2>/dev/null) == PONG ]]; }
redis_down() { ! redis_up; }
store_up() { [[ $(scli ping 2>/dev/null) == PONG ]]; }
store_down() { ! store_up; }
# events_of ORDER: the events of one order in the stream, a JSON array in stream order
events_of() {
	scli --raw XRANGE galley:events:orders - + 2>/dev/null | grep -F "\"order_id\":\"$1\"" |
		jq -sc '.' 2>/dev/null
}
created_of() {
	scli --raw XRANGE galley:events:orders - + 2>/dev/null | grep -F '"type":"order.created"' |
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
check "shaped {id, type, occurred_at, request_id, traceparent, data}" jq -e --arg r "$rid" \
	'.[0] | (.id | test("^[0-9a-f]{24}$")) and .type == "order.created" and (.occurred_at | test("Z$")) and .request_id == $r and .data.status == "pending_payment" and .data.total_cents == 500' <<<"$created"
check "its traceparent is of the placing request's trace (the request id)" jq -e --arg r "$rid" \
	'.[0].traceparent | test("^00-" + $r + "-[0-9a-f]{16}-0[01]$")' <<<"$created"
AUTH_TOKEN=$eve req POST "/api/orders/$order/cancel"
check "order.cancelled follows the cancel" has_events "$order" order.created order.cancelled
check "with the reason and the reservation" jq -e '.[0].data.reason == "customer" and (.[0].data.reservation_id | test("^[0-9a-f]{24}$"))' <<<"$(events_of "$order")"
stock_events_of() { # ORDER: stock's events about the order, in stream order
	scli --raw XRANGE galley:events:stock - + 2>/dev/null | grep -F "\"order_id\":\"$1\"" | jq -sc '[.[].type]'
}
stock_told() { test "$(stock_events_of "$order")" = '["stock.reserved","stock.released"]'; }
check "stock announced the reservation and its release: stock.reserved, stock.released" wait_until 15 stock_told

# Stock follows order.cancelled through its consumer group, and catches up.
stock_idle() { scli --json XINFO GROUPS galley:events:orders | jq -e '.[] | select(.name == "stock") | .pending == 0 and .lag == 0' >/dev/null; }
check "stock's consumer group has read and acknowledged every order event" wait_until 15 stock_idle

cancel_event=$(events_of "$order" | jq -r '.[0].id')
handled_count() { cat "$GALLEY_RUN"/logs/stock-*.log | grep -cF "\"events: handled order.cancelled $1\"" || true; }
handled_once() { test "$(handled_count "$1")" = 1; }
check "stock handled that order.cancelled" wait_until 15 handled_once "$cancel_event"

# The cache Redis stopped: orders go on, and so do their events (they never touch it).
check "Redis (the cache) is stopped" kill -TERM "$(cat "$GALLEY_RUN/pids/redis.pid")"
check "and gone" wait_until 10 redis_down
AUTH_TOKEN=$eve req POST /api/orders "$order_body"
expect_status 201 "an order is placed while Redis is down"
o1=$(jq -r .id <<<"$BODY")
AUTH_TOKEN=$eve req POST /api/orders "$order_body"
o2=$(jq -r .id <<<"$BODY")
AUTH_TOKEN=$eve req POST /api/orders "$order_body"
o3=$(jq -r .id <<<"$BODY") # left to expire: its due entry is in the store
AUTH_TOKEN=$eve req POST "/api/orders/$o2/cancel"
expect_status 200 "and one is cancelled"
check "order.created of the first arrives while Redis is down" wait_until 15 has_events "$o1" order.created
check "order.created and order.cancelled of the second, each once" wait_until 15 has_events "$o2" order.created order.cancelled
check "bin/galley restart-redis brings it back" "$GALLEY_TOP/bin/galley" restart-redis
check "Redis answers" wait_until 10 redis_up

# The store killed (SIGKILL): what it acknowledged is in its AOF (appendfsync always).
before_kill=$(scli XLEN galley:events:orders)
check "the store is killed (SIGKILL)" kill -KILL "$(cat "$GALLEY_RUN/pids/store.pid")"
check "and gone" wait_until 10 store_down
AUTH_TOKEN=$eve req POST /api/orders "$order_body"
expect_error 503 upstream_unavailable "a placement is refused with 503 while the store is away (nothing can be staged)"
check "bin/galley restart-redis brings the store back from its AOF" "$GALLEY_TOP/bin/galley" restart-redis
check "the store answers" wait_until 10 store_up
# Each process reconnects at most ten times a second while it is away.
placed_again() { AUTH_TOKEN=$eve req POST /api/orders "$order_body"; [[ $STATUS == 201 ]]; }
check "orders are placed again within 5 s" wait_until 5 placed_again
check "the stream kept every event it had ($before_kill)" test "$(scli XLEN galley:events:orders)" -ge "$before_kill"
check "the events sent before the kill are there, once" has_events "$order" order.created order.cancelled
check "stock's consumer group is still there and catches up" wait_until 15 stock_idle
check "and does not handle that cancel twice ($(handled_count "$cancel_event"))" handled_once "$cancel_event"
AUTH_TOKEN=$eve req POST "/api/orders/$o1/cancel"
expect_status 200 "a change made after the store is back"
check "and its event arrives" wait_until 15 has_events "$o1" order.created order.cancelled

# reservation.expired (stock's, on expiry) cancels its order, reason expired.
AUTH_TOKEN=$eve req POST /api/orders "$order_body"
late=$(jq -r .id <<<"$BODY") late_res=$(jq -r .reservation_id <<<"$BODY")
ev=$(jq -cn --arg id "$(head -c 12 /dev/urandom | od -An -tx1 | tr -d ' \n')" --arg o "$late" --arg r "$late_res" \
	'{id: $id, type: "reservation.expired", occurred_at: "2026-11-23T12:00:00Z", request_id: "test", data: {order_id: $o, reservation_id: $r, lines: []}}')
scli XADD galley:events:stock '*' id "$(jq -r .id <<<"$ev")" type reservation.expired event "$ev" >/dev/null
by_event() { grep -qF "\"order $late cancelled: its reservation expired\"" "$GALLEY_RUN"/logs/orders-*.log; }
check "orders follows reservation.expired: the order is cancelled by the event" wait_until 15 by_event
AUTH_TOKEN=$eve req GET "/api/orders/$late"
expect_json '.status == "cancelled" and .cancel_reason == "expired"' "cancelled, reason expired"
check "and announced: order.cancelled" has_events "$late" order.created order.cancelled

# order.paid (as the payments service will send it): the order is paid, its units sold.
paid_event() { # ORDER RESERVATION: as payments writes it (the kitchen reads the lines)
	AUTH_TOKEN=$eve req GET "/api/orders/$1"
	jq -c --arg id "$(head -c 12 /dev/urandom | od -An -tx1 | tr -d ' \n')" --arg r "$2" \
		'{id: $id, type: "order.paid", occurred_at: "2026-11-23T12:00:00Z", request_id: "test",
		  data: {order_id: .id, reservation_id: $r, payment_id: .id, customer_id: .customer_id, user_id: .user_id,
		         total_cents: .total_cents, currency: .currency, lines: [.lines[] | {item_id, name, qty}]}}' <<<"$BODY"
}
xadd_ev() { scli XADD "galley:events:$1" '*' id "$(jq -r .id <<<"$2")" type "$(jq -r .type <<<"$2")" event "$2" >/dev/null; }
req GET "/api/stock/$item"
before=$(jq -c '[.on_hand, .reserved]' <<<"$BODY")
AUTH_TOKEN=$eve req POST /api/orders "{\"lines\":[{\"item_id\":\"$item\",\"qty\":3}]}"
sold=$(jq -r .id <<<"$BODY") sold_res=$(jq -r .reservation_id <<<"$BODY")
pe=$(paid_event "$sold" "$sold_res")
xadd_ev orders "$pe"
# paid, or further on: the kitchen takes a paid order at once (1 s per unit in the test stack)
is_paid() { AUTH_TOKEN=$eve req GET "/api/orders/$sold"; jq -e '.status | IN("paid", "preparing", "ready")' <<<"$BODY" >/dev/null; }
check "orders follows order.paid: the order is paid" wait_until 15 is_paid
stock_sold() { req GET "/api/stock/$item"; jq -e --argjson b "$before" '.on_hand == $b[0] - 3 and .reserved == $b[1]' <<<"$BODY" >/dev/null; }
check "stock follows it: the 3 units leave on_hand and reserved ($before before)" wait_until 15 stock_sold
xadd_ev orders "$pe"
check "the same order.paid again is taken once" wait_until 15 stock_idle
check "(stock unchanged)" stock_sold
# Handling it twice changes nothing (a reservation ends once), so stock keeps no record of
# having handled it: a write to the store fewer a payment (fcgi/stock/events.c).
check "stock keeps no handled record of order.paid" test "$(scli EXISTS "galley:handled:stock:$(jq -r .id <<<"$pe")")" = 0
# payments sends order.paid only after stock's commit answered, and says so: stock then does
# nothing with it (a round trip a payment). Shown here with one that says so falsely: the
# reservation is left as it is, its unit held, not sold (an item of its own: the reservation
# expires later, and the checks below watch $item's level).
check "setup: an item of its own" stocked_item "Told soup" 500 10
AUTH_TOKEN=$eve req POST /api/orders "{\"lines\":[{\"item_id\":\"$ITEM\",\"qty\":1}]}"
told=$(jq -r .id <<<"$BODY") told_res=$(jq -r .reservation_id <<<"$BODY")
xadd_ev orders "$(paid_event "$told" "$told_res" | jq -c '.data.stock_committed = true')"
check "an order.paid that says stock_committed is taken" wait_until 15 stock_idle
req GET "/api/stock/$ITEM"
expect_json '.on_hand == 10 and .reserved == 1' "and stock leaves its reservation holding: nothing sold"

# Consumers read a stream in parallel, so a later step may be handled first: order.preparing
# before order.paid. The order moves on, and order.paid still tells when it was paid.
AUTH_TOKEN=$eve req POST /api/orders "{\"lines\":[{\"item_id\":\"$item\",\"qty\":1}]}"
skip=$(jq -r .id <<<"$BODY") skip_res=$(jq -r .reservation_id <<<"$BODY")
xadd_ev orders "$(jq -nc --arg id "$(head -c 12 /dev/urandom | od -An -tx1 | tr -d ' \n')" --arg o "$skip" \
	'{id: $id, type: "order.preparing", occurred_at: "2026-11-23T12:00:05Z", request_id: "test", data: {order_id: $o}}')"
skip_status() { AUTH_TOKEN=$eve req GET "/api/orders/$skip"; jq -e --arg s "$1" '.status == $s' <<<"$BODY" >/dev/null; }
check "order.preparing first: the order moves on to preparing" wait_until 15 skip_status preparing
xadd_ev orders "$(paid_event "$skip" "$skip_res")"
paid_at_set() { AUTH_TOKEN=$eve req GET "/api/orders/$skip"; jq -e '.paid_at == "2026-11-23T12:00:00Z" and .status != "paid"' <<<"$BODY" >/dev/null; }
check "order.paid after it: paid_at from that event, and the order does not go back" wait_until 15 paid_at_set

AUTH_TOKEN=$eve req POST /api/orders "$order_body"
gone=$(jq -r .id <<<"$BODY") gone_res=$(jq -r .reservation_id <<<"$BODY")
AUTH_TOKEN=$eve req POST "/api/orders/$gone/cancel"
# The level once stock has followed every event before (the order.paid of $skip above sells
# its unit whenever stock's consumer gets to it, which may be after orders' did).
check "stock has followed every order event so far" wait_until 15 stock_idle
req GET "/api/stock/$item"
level_then=$(jq -c . <<<"$BODY")
xadd_ev orders "$(paid_event "$gone" "$gone_res")"
late_paid() { grep -qF "\"order $gone was paid after it was cancelled: the payment is to refund\"" "$GALLEY_RUN"/logs/orders-*.log; }
check "order.paid for a cancelled order is noticed (a refund is due)" wait_until 15 late_paid
check "and stock does not sell released units" wait_until 15 stock_idle
req GET "/api/stock/$item"
check "(stock unchanged)" test "$(jq -c . <<<"$BODY")" = "$level_then"
AUTH_TOKEN=$eve req GET "/api/orders/$gone"
expect_json '.status == "cancelled"' "the order stays cancelled"

# Stock down while events arrive: they wait for it; back, it handles each once.
reserve() { # ITEM QTY: a reservation for a new order; prints its id
	curl -sS -X POST -H 'Content-Type: application/json' "$GALLEY_INTERNAL_URL/internal/stock/reservations" \
		--data-binary "{\"order_id\":\"$(newid)\",\"lines\":[{\"item_id\":\"$1\",\"qty\":$2}]}" | jq -r .id
}
cancelled_event() { # EVENT-ID RESERVATION: an order.cancelled as orders would write it
	jq -cn --arg id "$1" --arg r "$2" '{id: $id, type: "order.cancelled", occurred_at: "2026-11-23T12:00:00Z",
		request_id: "test", data: {order_id: $id, reason: "customer", reservation_id: $r, status: "cancelled"}}'
}
xadd() { # EVENT-JSON
	scli XADD galley:events:orders '*' id "$(jq -r .id <<<"$1")" type "$(jq -r .type <<<"$1")" event "$1" >/dev/null
}
req POST /api/menu/items "{\"name\":\"Event bread\",\"price_cents\":300,\"supplier_id\":\"$supplier\"}"
bread=$(jq -r .id <<<"$BODY")
req PUT "/api/stock/$bread" '{"on_hand":10}'
r1=$(reserve "$bread" 1) r2=$(reserve "$bread" 2) r3=$(reserve "$bread" 3)
req GET "/api/stock/$bread"
expect_json '.reserved == 6' "three reservations hold 6"
for n in $(seq 1 "$(svc_pools stock)"); do kill_pool stock "$n"; done
e1=$(newid) e2=$(newid) e3=$(newid)
for pair in "$e1 $r1" "$e2 $r2" "$e3 $r3"; do xadd "$(cancelled_event $pair)"; done
xadd "$(cancelled_event "$e2" "$r2")" # the same event delivered twice
for n in $(seq 1 "$(svc_pools stock)"); do
	check "stock pool $n restarts" "$GALLEY_TOP/bin/galley" restart-pool stock "$n"
done
freed() { req GET "/api/stock/$bread"; jq -e '.reserved == 0' <<<"$BODY" >/dev/null; }
check "back, stock handles the three cancellations that waited: their units are free" wait_until 30 freed
check "and its group is idle again" wait_until 30 stock_idle
check "each event was handled once, the duplicate of the second not again ($(handled_count "$e1") $(handled_count "$e2") $(handled_count "$e3"))" \
	test "$(handled_count "$e1")$(handled_count "$e2")$(handled_count "$e3")" = 111

# A consumer asks whether a batch's events were handled by the ids their writers put beside
# them, all at once; the event's own id is the one that counts. An entry that names e6
# beside an event that is e1 (handled above) is not handled again; one that names e1 beside
# a new event e6 is handled. Added in one script so that one consumer reads both at once.
r6=$(reserve "$bread" 1) e6=$(newid)
scli EVAL "redis.call('XADD', KEYS[1], '*', 'id', ARGV[2], 'type', 'order.cancelled', 'event', ARGV[3])
redis.call('XADD', KEYS[1], '*', 'id', ARGV[1], 'type', 'order.cancelled', 'event', ARGV[4])
return 1" 1 galley:events:orders "$e1" "$e6" "$(cancelled_event "$e1" "$r1")" "$(cancelled_event "$e6" "$r6")" >/dev/null
check "an event named by another event's id beside it is handled by its own (its unit freed)" wait_until 30 freed
check "and the event handled before, under another's id beside it, not again ($(handled_count "$e1") $(handled_count "$e6"))" \
	test "$(handled_count "$e1")$(handled_count "$e6")" = 11
check "its group is idle again" wait_until 30 stock_idle

# A consumer that took an event and died before acknowledging it: after
# GL_CONSUMER_CLAIM_IDLE_MS (10 s) a live one claims it (XAUTOCLAIM) and handles it.
ghost_holds() { # STREAM-ID: is that entry pending with the ghost?
	scli --json XPENDING galley:events:orders stock - + 100 ghost | jq -e --arg s "$1" 'any(.[]; .[0] == $s)' >/dev/null
}
# Added and taken by the ghost in one script: the live consumers block on the stream and
# would have it the moment it is added.
r5=$(reserve "$bread" 5) e5=$(newid)
ev5=$(cancelled_event "$e5" "$r5")
sid=$(scli EVAL "local sid = redis.call('XADD', KEYS[1], '*', 'id', ARGV[1], 'type', 'order.cancelled', 'event', ARGV[2])
redis.call('XREADGROUP', 'GROUP', 'stock', 'ghost', 'COUNT', '100', 'STREAMS', KEYS[1], '>')
return sid" 1 galley:events:orders "$e5" "$ev5")
check "a dead consumer (ghost) holds an event unacknowledged" ghost_holds "$sid"
check "a live consumer claims and handles it" wait_until 30 freed
ghost_free() { ! ghost_holds "$sid"; }
check "and the ghost holds it no more" ghost_free
check "(handled once: $(handled_count "$e5"))" handled_once "$e5"
scli XGROUP DELCONSUMER galley:events:orders stock ghost >/dev/null

# An event stock can never take (its data lacks the reservation_id stock's table requires):
# dead-lettered at its first try, not tried GL_CONSUMER_TRIES (5) times.
bad=$(newid)
xadd "$(jq -cn --arg id "$bad" '{id: $id, type: "order.cancelled", occurred_at: "2026-11-23T12:00:00Z", request_id: "test", data: {}}')"
dead() { scli --raw XRANGE galley:events:orders:dead - + | grep -qF "\"id\":\"$bad\""; }
check "an event that always fails ends in galley:events:orders:dead" wait_until 30 dead
check "with its error" bash -c "redis-cli -u '$GALLEY_STORE_URL' --no-auth-warning --raw XRANGE galley:events:orders:dead - + | grep -qx validation_failed"
tries_of() { cat "$GALLEY_RUN"/logs/stock-*.log | grep -cF "order.cancelled $bad: data" || true; }
check "after one try ($(tries_of))" test "$(tries_of)" = 1
r4=$(reserve "$bread" 4)
e4=$(newid)
xadd "$(cancelled_event "$e4" "$r4")"
check "and the consumer goes on: the next event is handled" wait_until 15 freed
check "nothing stays pending" wait_until 15 stock_idle

# Entries of a type a group does not handle are acknowledged together (up to 50 in one
# XACK): a burst of 120 stock.reserved (orders follows the stock stream but not that type),
# added at once so that consumers read them in batches, all leave orders' pending list.
{
	echo MULTI
	for _ in $(seq 1 120); do
		id=$(newid)
		printf 'XADD galley:events:stock * id %s type stock.reserved event %s\n' "$id" \
			"$(jq -cn --arg id "$id" '{id: $id, type: "stock.reserved", occurred_at: "2026-11-23T12:00:00Z", request_id: "test", data: {}}' | jq -R .)"
	done
	echo EXEC
} | scli >/dev/null
stock_stream_idle() { scli --json XINFO GROUPS galley:events:stock | jq -e '.[] | select(.name == "orders") | .pending == 0 and .lag == 0' >/dev/null; }
check "a burst of 120 entries of a type orders skips: none stays pending" wait_until 15 stock_stream_idle

# A store that came back empty has no groups. The process makes its group again when a read
# says NOGROUP (not at each upkeep), names the stream again for /metrics, and reads the stream
# from the start, each event it handled before seen as handled.
check "each stream a service follows is named in galley:consumer:streams" \
	test "$(scli SMEMBERS galley:consumer:streams | sort | xargs)" = \
	"galley:events:orders galley:events:stock"
check "orders' group on the stock stream is gone" test "$(scli XGROUP DESTROY galley:events:stock orders)" = 1
check "and the stream's name" test "$(scli SREM galley:consumer:streams galley:events:stock)" = 1
stock_named() { [[ $(scli SISMEMBER galley:consumer:streams galley:events:stock) == 1 ]]; }
check "orders makes its group again, and names the stream" wait_until 10 stock_named
check "then reads the stream again to its end, acknowledging all" wait_until 30 stock_stream_idle

# o3 was placed while the cache Redis was down: the store's due list knows when it expires.
o3_expired() { AUTH_TOKEN=$eve req GET "/api/orders/$o3"; jq -e '.status == "cancelled" and .cancel_reason == "expired"' <<<"$BODY" >/dev/null; }
check "an order placed while Redis was down still expires (cancelled, expired)" wait_until 60 o3_expired
done_testing
