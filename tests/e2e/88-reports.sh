#!/usr/bin/env bash
# Reports: GET /api/reports/summary counts what the order events say, each once. A
# customer places five orders of two new items priced in XTS (ISO 4217's code for
# tests, so no other test's money is in it): one paid, cooked and handed over, one paid
# and cancelled (refunded), one cancelled unpaid, one declined, one left unpaid. The
# report moves by exactly that (waited for: the counters follow the events within
# milliseconds, an answer is cached 5 s). Bad ranges are 400 with the API's body, a
# customer is 403, and an item with 2 units left is low stock.
. "$(dirname "$0")/lib.sh"

iso() { date -u -d "@$1" +%Y-%m-%dT%H:%M:%SZ; }
now=$(date +%s)
range="from=$(iso $((now - 3600)))&to=$(iso $((now + 7200)))"
# A fresh answer (X-Cache: miss): another caller's cached one may be up to 5 s old.
fresh() {
	req GET "/api/reports/summary?$range"
	[[ $STATUS == 200 ]] && grep -qi '^x-cache: miss' <<<"$HEADERS"
}
# The numbers this test looks at, from BODY, as one object.
numbers() {
	jq -c --arg a "$item_a" --arg b "$item_b" '{
		orders: .totals.orders, paid: .totals.paid,
		placed: ([.by_status[]] | add // 0), completed: (.by_status.completed // 0),
		revenue: (.totals.revenue_cents.XTS // 0), refunded: (.totals.refunded_cents.XTS // 0),
		hours: ([.hours[].orders] | add), hours_revenue: ([.hours[].revenue_cents.XTS // 0] | add),
		days: ([.days[].orders] | add),
		a: ([.top_items[] | select(.item_id == $a) | .qty] | add // 0),
		b: ([.top_items[] | select(.item_id == $b) | .qty] | add // 0),
		a_name: ([.top_items[] | select(.item_id == $a) | .name] | first // ""),
		customer: (.cancellations.customer // 0), declined: (.cancellations.payment_failed // 0),
		ready: .paid_to_ready.orders}' <<<"$BODY"
}

req POST /api/suppliers "{\"name\":\"Reports supplier\",\"email\":\"rep$RANDOM$RANDOM@supplier.example\"}"
supplier=$(jq -r .id <<<"$BODY")
item() { # NAME PRICE ON_HAND: a new item priced in XTS; prints its id
	req POST /api/menu/items "{\"name\":\"$1\",\"price_cents\":$2,\"currency\":\"XTS\",\"supplier_id\":\"$supplier\"}"
	local id
	id=$(jq -r .id <<<"$BODY")
	req PUT "/api/stock/$id" "{\"on_hand\":$3}"
	echo "$id"
}
item_a=$(item "Report soup $RANDOM" 100 500)
item_b=$(item "Report bread $RANDOM" 250 500)
item_low=$(item "Report saffron $RANDOM" 900 2)
check "three items priced in XTS" test -n "$item_a" -a -n "$item_b" -a -n "$item_low"

customer reporter
cust=$TOKEN
check "a fresh report" wait_until 10 fresh
before=$(numbers)

place() { # BODY: an order placed by the customer; prints its id
	AUTH_TOKEN=$cust req POST /api/orders "$1"
	jq -r .id <<<"$BODY"
}
pay() { AUTH_TOKEN=$cust req POST /api/payments "{\"order_id\":\"$1\",\"payment_method\":\"$2\"}"; }
cooked=$(place "{\"lines\":[{\"item_id\":\"$item_a\",\"qty\":2},{\"item_id\":\"$item_b\",\"qty\":1}]}")
pay "$cooked" pm_card_visa
expect_status 201 "the first order is paid"
# Many units, so the two items are the top items whatever else was sold (the cook stops at
# the cancel).
refunded=$(place "{\"lines\":[{\"item_id\":\"$item_a\",\"qty\":300},{\"item_id\":\"$item_b\",\"qty\":200}]}")
pay "$refunded" pm_card_visa
expect_status 201 "the second order is paid"
AUTH_TOKEN=$cust req POST "/api/orders/$refunded/cancel"
expect_json '.status == "cancelled"' "and cancelled by the customer (refunded)"
unpaid=$(place "{\"lines\":[{\"item_id\":\"$item_b\",\"qty\":5}]}")
AUTH_TOKEN=$cust req POST "/api/orders/$unpaid/cancel"
expect_json '.status == "cancelled"' "the third is cancelled unpaid"
declined=$(place "{\"lines\":[{\"item_id\":\"$item_a\",\"qty\":1}]}")
pay "$declined" pm_card_chargeDeclined
expect_status 402 "the fourth is declined"
pending=$(place "{\"lines\":[{\"item_id\":\"$item_a\",\"qty\":7}]}")
check "the fifth is left unpaid" test -n "$pending"
# What counting keeps of an open order (until it expires: 20 s here) lives as the numbers do.
open_kept() {
	[[ $(scli HGET "galley:reports:order:$1" s) == pending_payment ]] &&
		(($(scli TTL "galley:reports:order:$1") > 86400))
}
check "an open order's record is kept with the numbers (400 days)" wait_until 10 open_kept "$pending"

# The first is cooked (1 s an item here) and handed over.
is_ready() { req GET "/api/orders/$cooked"; jq -e '.status == "ready"' <<<"$BODY" >/dev/null; }
check "the first order is ready" wait_until 60 is_ready
req POST "/api/kitchen/tickets/$cooked/complete"
expect_status 200 "staff hand it over"

# What the report must say now, next to what it said before.
want=$(jq -c --argjson b "$before" -n '$b | .orders += 5 | .paid += 2 | .placed += 5 | .completed += 1
	| .revenue += 450 + 80000 | .refunded += 80000 | .hours += 5 | .hours_revenue += 80450 | .days += 5
	| .a += 302 | .b += 201 | .customer += 2 | .declined += 1 | .ready += 1')
same() { [[ $(numbers | jq -c 'del(.a_name)') == $(jq -c 'del(.a_name)' <<<"$want") ]]; }
counted() { fresh && same; }
if ! wait_until 30 counted; then
	echo "# before: $before"
	echo "# want:   $want"
	echo "# got:    $(numbers)"
fi
check "the report counts exactly the five orders: placed, paid, revenue and refund in XTS, units per item, cancellations by reason, handed over" same
# A finished order's record (completed, cancelled) is kept a day, as long as redeliveries come.
record_ttl() { scli TTL "galley:reports:order:$1"; }
ttl_done=$(record_ttl "$cooked") ttl_cancelled=$(record_ttl "$unpaid")
check "a completed order's record is kept a day ($ttl_done s)" test "$ttl_done" -gt 0 -a "$ttl_done" -le 86400
check "so is a cancelled one's ($ttl_cancelled s)" test "$ttl_cancelled" -gt 0 -a "$ttl_cancelled" -le 86400
hours=$(((now + 7200 + 3599) / 3600 - (now - 3600) / 3600))
expect_json "(.hours | length) == $hours and (.from | endswith(\":00:00Z\")) and (.to | endswith(\":00:00Z\"))" \
	"whole hours (UTC), each one in the chart's series ($hours)"
expect_json "[.top_items[] | select(.item_id == \"$item_a\") | .name] == [$(jq -R . <<<"$(req GET "/api/menu/items/$item_a" >/dev/null; jq -r .name <<<"$BODY")")]" \
	"a top item carries its name"
req GET "/api/reports/summary?$range"
expect_json '.paid_to_ready.average_seconds >= 0' "an average time from paid to ready"
expect_json "[.low_stock[] | select(.item_id == \"$item_low\") | .available] == [2]" "an item with 2 left is low stock"
expect_json "[.low_stock[] | select(.item_id == \"$item_a\")] == []" "one with plenty is not"
req GET "/api/reports/summary?$range"
expect_header X-Cache '^(hit|miss)$' "an answer says whether it came from the cache"

# Each event is counted once: a redelivery (the same event added to the stream again) moves
# nothing.
# taken ID: reports' group has read the orders stream up to entry ID and acknowledged all.
taken() {
	local got
	got=$(scli --raw XINFO GROUPS galley:events:orders | awk '
		p == "name" { g = ($0 == "reports") }
		g && p == "pending" { pending = $0 }
		g && p == "last-delivered-id" { print pending, $0; exit }
		{ p = $0 }')
	local pending=${got%% *} last=${got#* }
	[[ $pending == 0 ]] && { ((${last%-*} > ${1%-*})) || { ((${last%-*} == ${1%-*})) && ((${last#*-} >= ${1#*-})); }; }
}
# redeliver TYPE ORDER: that event of ORDER added to the stream again, as a claim or a relay
# would deliver it twice; the new entry's id (none: the event is not on the stream).
redeliver() {
	local ev
	ev=$(scli XREVRANGE galley:events:orders + - COUNT 400 | grep -m1 "\"$1\".*$2" || true)
	[[ -n $ev ]] && scli XADD galley:events:orders '*' id "$(jq -r .id <<<"$ev")" type "$1" event "$ev"
}
for type in order.paid order.created; do
	entry=$(redeliver "$type" "$cooked")
	check "$type of the first order is on the stream, and is added again" test -n "$entry"
	check "the redelivered $type is taken and acknowledged" wait_until 10 taken "${entry:-0-0}"
	check "a fresh report after the redelivery" wait_until 10 fresh
	check "$type delivered twice is counted once" same
done
check "counting leaves no mark of its own an event" \
	test -z "$(scli --scan --pattern 'galley:reports:seen:*' | head -1)"
# What a record from before 2026-12-07 is: no o, and its order.created marked counted.
created=$(scli XREVRANGE galley:events:orders + - COUNT 400 | grep -m1 "\"order.created\".*$pending" | jq -r .id)
check "the open order's record notes its placing" test "$(scli HDEL "galley:reports:order:$pending" o)" = 1
scli SET "galley:reports:seen:$created" 1 EX 60 >/dev/null
entry=$(redeliver order.created "$pending")
check "the open order's order.created ($created) is on the stream, and is added again" \
	test -n "$created" -a -n "$entry"
check "an order.created from before, delivered again, is taken" wait_until 10 taken "${entry:-0-0}"
check "a fresh report after it" wait_until 10 fresh
check "and not counted again: its old mark still says counted" same

# ---------------------------------------------------------------- bad input and roles
for bad in "from=yesterday" "from=2026-02-30T00:00:00Z" "to=2026-12-03T25:00:00Z" "from=2026-12-03" \
	"from=2026-12-03T10:00:00+01:00" "from=$(iso "$now")&to=$(iso $((now - 60)))" \
	"from=$(iso "$now")&to=$(iso "$now")" "from=$(iso $((now - 32 * 86400)))&to=$(iso "$now")" \
	"days=3" "from%5B%24gt%5D=1"; do
	req GET "/api/reports/summary?$bad"
	expect_error 400 validation_failed "?$bad is refused"
done
req GET "/api/reports/summary?from=$(iso "$now")&to=$(iso $((now - 60)))"
expect_json '.error.field == "from" and (.error.message | test("before"))' "from after to: the message says so"
req GET "/api/reports/summary?from=$(iso $((now - 32 * 86400)))&to=$(iso "$now")"
expect_json '.error.field == "to" and (.error.message | test("31 days"))' "a range too long: the message says how long it may be"
req GET "/api/reports/summary?from=$(iso $((now - 31 * 86400 + 3600)))&to=$(iso "$now")"
expect_status 200 "31 days are answered"
AUTH_TOKEN=$cust req GET "/api/reports/summary?$range"
expect_error 403 forbidden "a customer may not read the reports"
AUTH_TOKEN= req GET "/api/reports/summary?$range"
expect_error 401 unauthenticated "nor may an anonymous caller"
done_testing
