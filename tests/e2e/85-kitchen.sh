#!/usr/bin/env bash
# Kitchen: every paid order gets a ticket that the simulated staff prepare
# (paid → preparing → ready, announced as order.preparing and order.ready on
# galley:events:orders); staff hand a ready order over (completed,
# order.completed).  Several kitchen processes share the work and never
# prepare one order twice, even when they die in the middle of it.
#
# order.paid is injected here the way the payments service sends it, for
# orders placed through the API.  The stack runs with
# GALLEY_KITCHEN_SECONDS_PER_ITEM=1 (bin/galley test), so an order of n units
# takes n seconds.
. "$(dirname "$0")/lib.sh"

if [[ ${GALLEY_KITCHEN_SECONDS_PER_ITEM:-30} != 1 ]]; then
	echo "Bail out! the stack must run with GALLEY_KITCHEN_SECONDS_PER_ITEM=1 (it has ${GALLEY_KITCHEN_SECONDS_PER_ITEM:-30})"
	exit 1
fi

# xadd EVENT-JSON...: add them to the orders stream as lib/events writes them, all at once
# (one script: no consumer reads between them)
xadd() {
	local args=() ev
	for ev in "$@"; do args+=("$(jq -r .id <<<"$ev")" "$(jq -r .type <<<"$ev")" "$ev"); done
	scli EVAL "for i = 1, #ARGV, 3 do redis.call('XADD', KEYS[1], '*', 'id', ARGV[i],
		'type', ARGV[i + 1], 'event', ARGV[i + 2]) end" 1 galley:events:orders "${args[@]}" >/dev/null
}
paid_of() { # ORDER-JSON: order.paid for that order, as payments sends it (a new event id)
	jq -c --arg id "$(newid)" --arg p "$(newid)" '{id: $id, type: "order.paid",
		occurred_at: "2026-11-23T12:00:00Z", request_id: "e2e-kitchen",
		data: {order_id: .id, reservation_id: .reservation_id, payment_id: $p,
			customer_id: .customer_id, user_id: .user_id, total_cents: .total_cents,
			currency: .currency, lines: [.lines[] | {item_id, name, qty}]}}' <<<"$1"
}
cancelled_of() { # ORDER-JSON: order.cancelled for that order once paid, as orders sends it
	jq -c --arg id "$(newid)" '{id: $id, type: "order.cancelled", occurred_at: "2026-11-23T12:00:00Z",
		request_id: "e2e-kitchen", data: {order_id: .id, status: "cancelled", reason: "customer",
			reservation_id: .reservation_id, customer_id: .customer_id, user_id: .user_id,
			was: "paid", lines: .lines}}' <<<"$1"
}
# kitchen_events ORDER: the kitchen's events about ORDER, as a JSON array in stream order
kitchen_events() {
	scli --raw XRANGE galley:events:orders - + 2>/dev/null | grep -F "\"order_id\":\"$1\"" |
		jq -sc '[.[] | select(.type | test("^order\\.(preparing|ready|completed)$"))]' 2>/dev/null
}
count_of() { kitchen_events "$1" | jq --arg t "$2" '[.[] | select(.type == $t)] | length'; }
ticket_is() { # ID STATUS
	req GET "/api/kitchen/tickets/$1"
	[[ $STATUS == 200 ]] && jq -e --arg s "$2" '.status == $s' >/dev/null <<<"$BODY"
}
all_are() { # STATUS ID...: every ticket is in STATUS at the same moment
	local s=$1 id
	shift
	for id in "$@"; do ticket_is "$id" "$s" || return 1; done
}
kitchen_idle() { # the kitchen's consumer group has read and acknowledged every order event
	scli --json XINFO GROUPS galley:events:orders 2>/dev/null |
		jq -e '.[] | select(.name == "kitchen") | .pending == 0 and .lag == 0' >/dev/null
}
place() { # QTY: an order of QTY units by the customer; prints the order as JSON
	AUTH_TOKEN=$cust req POST /api/orders "{\"lines\":[{\"item_id\":\"$item\",\"qty\":$1}]}"
	[[ $STATUS == 201 ]] && jq -c . <<<"$BODY"
}

check "an item to cook, in stock" stocked_item "Kitchen stew" 700 1000
item=$ITEM
email="k$RANDOM$RANDOM@orders.example"
AUTH_TOKEN= req POST /api/auth/register "{\"email\":\"$email\",\"password\":\"password9\",\"name\":\"Kim\"}"
login "$email" password9
cust=$TOKEN

# Who may look: staff (and admins); a customer is refused, an anonymous caller asked to sign in.
AUTH_TOKEN=$cust req GET /api/kitchen/tickets
expect_error 403 forbidden "a customer may not read the kitchen's tickets"
AUTH_TOKEN=$cust req POST "/api/kitchen/tickets/$(newid)/complete"
expect_error 403 forbidden "nor complete one"
AUTH_TOKEN= req GET /api/kitchen/tickets
expect_error 401 unauthenticated "anonymous: 401"
req GET '/api/kitchen/tickets?status=burnt'
expect_error 400 validation_failed "?status= must be a ticket status"
expect_json '.error.field == "status" and (.error.message | test("paid, preparing, ready, completed, cancelled"))' "(the error names the field and the statuses)"
req GET '/api/kitchen/tickets?limit=0'
expect_error 400 validation_failed "?limit=0 is refused"
req GET "/api/kitchen/tickets/$(newid)"
expect_error 404 not_found "an unknown ticket: 404"
req POST "/api/kitchen/tickets/$(newid)/complete"
expect_error 404 not_found "completing an unknown ticket: 404"
req GET /api/kitchen/tickets/not-an-id
expect_error 400 validation_failed "a malformed ticket id: 400"

# One order, paid: its ticket goes paid → preparing → ready.
a=$(place 2)
check "an order of 2 units is placed" test -n "$a"
oa=$(jq -r .id <<<"$a")
xadd "$(paid_of "$a")"
check "order.paid gives it a ticket that a cook takes: preparing" wait_until 10 ticket_is "$oa" preparing
req POST "/api/kitchen/tickets/$oa/complete"
expect_error 422 invalid_state "a preparing ticket cannot be handed over yet"
expect_json '.error.message | test("preparing")' "(the message says why)"
check "2 units at 1 s each: ready within a few seconds" wait_until 10 ticket_is "$oa" ready
check "the ticket is the order's, with its lines, its units, and who cooked it" jq -e \
	--arg o "$oa" --argjson ord "$a" '.id == $o and .order_id == $o and .customer_id == $ord.customer_id
	and .user_id == $ord.user_id and .lines == [{item_id: $ord.lines[0].item_id, name: "Kitchen stew", qty: 2}]
	and .items == 2 and .attempt == 1 and (.cook | type == "string" and length > 0)
	and all(.created_at, .started_at, .lease_until, .ready_at; test("Z$")) and .lease_until > .started_at
	and (has("completed_at") | not)' <<<"$BODY"
events=$(kitchen_events "$oa")
check "the stream carries order.preparing then order.ready, once each" \
	jq -e '[.[].type] == ["order.preparing", "order.ready"]' <<<"$events"
check "shaped {order_id, ticket_id, status, customer_id, user_id}" jq -e --argjson ord "$a" \
	'all(.[]; .data == {order_id: $ord.id, ticket_id: $ord.id, status: (.type | ltrimstr("order.")),
		customer_id: $ord.customer_id, user_id: $ord.user_id})' <<<"$events"

# Handing it over.
req POST "/api/kitchen/tickets/$oa/complete"
expect_status 200 "a ready ticket is completed: 200"
expect_json '.status == "completed" and (.completed_at | test("Z$"))' "status completed, completed_at"
done_version=$(jq .version <<<"$BODY")
completed_once() { test "$(count_of "$oa" order.completed)" = 1; }
check "order.completed is in the stream, once" wait_until 5 completed_once
req POST "/api/kitchen/tickets/$oa/complete"
expect_status 200 "completing it again: 200"
expect_json ".status == \"completed\" and .version == $done_version" "unchanged (same version)"
check "and no second order.completed" completed_once
req GET '/api/kitchen/tickets?status=completed&limit=200'
expect_json "any(.items[]; .id == \"$oa\") and all(.items[]; .status == \"completed\")" \
	"?status=completed lists it, and only completed tickets"

# order.paid delivered twice (and once more with a new event id): one ticket, prepared once.
c=$(place 1)
oc=$(jq -r .id <<<"$c")
pc=$(paid_of "$c")
xadd "$pc" "$pc" "$(paid_of "$c")"
check "a doubled order.paid: its ticket is ready" wait_until 10 ticket_is "$oc" ready
check "the kitchen has read every copy" wait_until 15 kitchen_idle
req GET "/api/kitchen/tickets/$oc"
ready_version=$(jq .version <<<"$BODY")
check "prepared once: one order.preparing, one order.ready" \
	test "$(count_of "$oc" order.preparing) $(count_of "$oc" order.ready)" = "1 1"
xadd "$(paid_of "$c")"
check "another copy after it is ready is read" wait_until 15 kitchen_idle
req GET "/api/kitchen/tickets/$oc"
expect_json ".status == \"ready\" and .version == $ready_version and .attempt == 1" \
	"and changes nothing: still ready, same version, first attempt"
req POST "/api/kitchen/tickets/$oc/complete" -H 'If-Match: 999'
expect_error 409 conflict "complete with a stale If-Match: 409"
req POST "/api/kitchen/tickets/$oc/complete" -H "If-Match: $ready_version"
expect_status 200 "with the current version: 200"

# As many orders at once as the stack has cooks: every cook of every process takes one.
staff=${GALLEY_KITCHEN_STAFF:-2}
cooks=$(($(svc_pools kitchen) * $(svc_workers kitchen) * staff))
tmp=$(mktemp -d "$GALLEY_RUN/tmp/kitchen.XXXXXX")
place_batch() { # N QTY: place N orders of QTY units at once, then pay them at once; sets batch
	local paid=() o i
	batch=()
	for ((i = 0; i < $1; i++)); do
		curl -sS --max-time 20 -o "$tmp/order-$i" -X POST -H 'Content-Type: application/json' \
			-H "Authorization: Bearer $cust" "$GALLEY_URL/api/orders" \
			--data-binary "{\"lines\":[{\"item_id\":\"$item\",\"qty\":$2}]}" 2>/dev/null &
	done
	wait
	for ((i = 0; i < $1; i++)); do
		o=$(jq -c 'select(.status == "pending_payment")' "$tmp/order-$i" 2>/dev/null) &&
			[[ -n $o ]] && paid+=("$(paid_of "$o")") && batch+=("$(jq -r .id <<<"$o")")
	done
	xadd "${paid[@]}"
	test "${#batch[@]}" = "$1"
}
# Placed now, paid once every cook is busy (below): placing it then would take time.
w=$(place 2)
ow=$(jq -r .id <<<"$w")
check "$cooks orders of 6 units are placed, then paid at once" place_batch "$cooks" 6
check "all $cooks are preparing at once: the cooks of every kitchen process share them" \
	wait_until 15 all_are preparing "${batch[@]}"
# Every cook is busy (for 6 s): a paid order's ticket must wait; cancelled in the same breath
# (both events at once), it is never prepared.
xadd "$(paid_of "$w")" "$(cancelled_of "$w")"
cooks_of() { # ID...: who holds each ticket, one a line
	local id
	for id in "$@"; do
		req GET "/api/kitchen/tickets/$id"
		jq -r .cook <<<"$BODY"
	done
}
busy=$(cooks_of "${batch[@]}")
check "by $cooks different cooks" test "$(sort -u <<<"$busy" | wc -l)" = "$cooks"
check "of $(($(svc_pools kitchen) * $(svc_workers kitchen))) processes" \
	test "$(cut -d: -f1,2 <<<"$busy" | sort -u | wc -l)" = "$(($(svc_pools kitchen) * $(svc_workers kitchen)))"
check "order.cancelled for the waiting ticket: cancelled" wait_until 5 ticket_is "$ow" cancelled
expect_json '.attempt == 0 and (has("cook") | not) and (has("started_at") | not) and (.cancelled_at | test("Z$"))' \
	"never taken by a cook"
req POST "/api/kitchen/tickets/$ow/complete"
expect_error 422 invalid_state "a cancelled ticket cannot be handed over"
check "all $cooks reach ready" wait_until 20 all_are ready "${batch[@]}"
once_each() { # ID...: exactly one order.preparing and one order.ready each
	local id
	for id in "$@"; do
		[[ "$(count_of "$id" order.preparing) $(count_of "$id" order.ready)" == "1 1" ]] || return 1
	done
}
check "each prepared once: one order.preparing and one order.ready" once_each "${batch[@]}"
check "the cancelled one was never prepared (no kitchen event)" test "$(kitchen_events "$ow")" = "[]"
check "and it stays cancelled now that the cooks are free" ticket_is "$ow" cancelled
req GET '/api/kitchen/tickets?status=cancelled&limit=200'
expect_json "any(.items[]; .id == \"$ow\") and all(.items[]; .status == \"cancelled\")" \
	"?status=cancelled lists it"
req GET '/api/kitchen/tickets?status=ready&limit=1'
expect_json '(.items | length) == 1 and (.next | type == "string")' "lists page: limit=1 gives one and a next"
next=$(jq -r .next <<<"$BODY")
req GET "/api/kitchen/tickets?status=ready&limit=1&after=$next"
expect_json "(.items | length) == 1 and .items[0].id > \"$next\"" "and after=next the one after it"

# A paid order cancelled before the kitchen handled its order.paid (a retry after a failure
# puts the two the other way round): its ticket comes at once, cancelled, with the lines the
# cancel carries; the order.paid after it inserts nothing, and no cook ever takes it.
c=$(place 1)
oc=$(jq -r .id <<<"$c")
xadd "$(cancelled_of "$c")"
check "order.cancelled of a paid order with no ticket yet: a cancelled ticket" \
	wait_until 5 ticket_is "$oc" cancelled
check "the order's, with its lines, never taken by a cook" jq -e --argjson ord "$c" \
	'.order_id == $ord.id and .customer_id == $ord.customer_id
	and .lines == [{item_id: $ord.lines[0].item_id, name: "Kitchen stew", qty: 1}] and .items == 1
	and .attempt == 0 and (has("cook") | not) and (.cancelled_at | test("Z$"))' <<<"$BODY"
xadd "$(paid_of "$c")"
check "its order.paid, after it, is handled" wait_until 10 kitchen_idle
check "and changes nothing: still cancelled" ticket_is "$oc" cancelled
check "never prepared (no kitchen event)" test "$(kitchen_events "$oc")" = "[]"

# A kitchen process told to stop (SIGTERM, as bin/galley down and galley-pool do) stops its
# cooks at once and hands their tickets back: another cook takes one over without waiting
# for its lease (30 units: 40 s).  Cancelled while preparing, the ticket's cook stops.
long=$(place 30)
ol=$(jq -r .id <<<"$long")
xadd "$(paid_of "$long")"
check "an order of 30 units is preparing" wait_until 10 ticket_is "$ol" preparing
cook_pid=$(jq -r '.cook | split(":")[1]' <<<"$BODY")
check "its cook's process is stopped with SIGTERM" kill -TERM "$cook_pid"
stopped_cleanly() { grep -qE "\"pid\":$cook_pid,.*\"msg\":\"kitchen: [0-9]+ cooks stopped\"" "$GALLEY_RUN"/logs/kitchen-*.log; }
check "it stops its cooks and exits cleanly" wait_until 5 stopped_cleanly
taken_back() { req GET "/api/kitchen/tickets/$ol"; jq -e '.status == "preparing" and .attempt == 2' <<<"$BODY" >/dev/null; }
check "another cook takes the ticket over at once (attempt 2)" wait_until 5 taken_back
check "(of another process)" test "$(jq -r '.cook | split(":")[1]' <<<"$BODY")" != "$cook_pid"
xadd "$(cancelled_of "$long")"
check "order.cancelled while it is preparing: cancelled" wait_until 10 ticket_is "$ol" cancelled
stops() { grep -qF "\"ticket $ol: attempt 2 stops" "$GALLEY_RUN"/logs/kitchen-*.log; }
check "and its cook stops preparing it" wait_until 5 stops
check "announced as preparing once, never ready" test "$(kitchen_events "$ol" | jq -c '[.[].type]')" = '["order.preparing"]'

# Every kitchen process dies while tickets are preparing: restarted, the kitchen takes each
# ticket over once its cook's lease is over (its cooking time + 10 s) and prepares it again.
# The takeover does not announce order.preparing again (the order's state does not change),
# so each order still has exactly one order.preparing and one order.ready.  (As many tickets
# as one process has cooks: paid at once, they start at once, so they surely all are
# preparing when the processes die.)
check "$staff more orders of 4 units are placed and paid" place_batch "$staff" 4
check "and preparing" wait_until 10 all_are preparing "${batch[@]}"
victims=$(for ((n = 1; n <= $(svc_pools kitchen); n++)); do pool_workers kitchen "$n"; done)
for ((n = 1; n <= $(svc_pools kitchen); n++)); do kill_pool kitchen "$n"; done
for ((n = 1; n <= $(svc_pools kitchen); n++)); do
	check "kitchen pool $n killed mid-preparation restarts" "$GALLEY_TOP/bin/galley" restart-pool kitchen "$n"
done
check "every ticket still reaches ready" wait_until 45 all_are ready "${batch[@]}"
check "each announced once: one order.preparing and one order.ready" once_each "${batch[@]}"
taken_over() {
	local id
	for id in "${batch[@]}"; do
		req GET "/api/kitchen/tickets/$id"
		jq -e '.attempt == 2' >/dev/null <<<"$BODY" || return 1
	done
}
check "each by a second attempt (the first one's cook died)" taken_over
check "of the new processes" test -z "$(comm -12 <(sort -u <<<"$victims") \
	<(cooks_of "${batch[@]}" | cut -d: -f2 | sort -u))"
check "the kitchen's consumer group is idle again" wait_until 20 kitchen_idle
rm -rf "$tmp"
done_testing
