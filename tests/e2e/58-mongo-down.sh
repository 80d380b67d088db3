#!/usr/bin/env bash
# The MongoDB-wire server killed (SIGKILL) under a steady load of order
# placements and reads, then started again on the same data: while it is
# down, answers are 503/504 (never a 500) and readyz says MongoDB; within
# seconds of its return the stack serves again; afterwards every order that
# was acknowledged (201) is there and announced (order.created), and the
# item's units were never oversold.
. "$(dirname "$0")/lib.sh"

rcli() { redis-cli -u "$GALLEY_REDIS_URL" --no-auth-warning "$@"; }
ready() { AUTH_TOKEN= req GET "/api/$1/readyz"; [[ $STATUS == "$2" ]]; }
mongo_pid() { cat "$GALLEY_RUN/pids/mongo.pid"; }
mongo_gone() { ! kill -0 "$(mongo_pid)" 2>/dev/null; }

req POST /api/suppliers "{\"name\":\"Fault supplier\",\"email\":\"fault$RANDOM$RANDOM@supplier.example\"}"
supplier=$(jq -r .id <<<"$BODY")
# Asked until it is made: an earlier script's dependency fault may have left a menu
# worker's circuit to suppliers open for a few more seconds (503, as it should).
make_pie() { req POST /api/menu/items "{\"name\":\"Fault pie\",\"price_cents\":400,\"supplier_id\":\"$supplier\"}"; [[ $STATUS == 201 ]]; }
check "an item to sell" wait_until 15 make_pie
pie=$(jq -r .id <<<"$BODY")
units=60
req PUT "/api/stock/$pie" "{\"on_hand\":$units}"
customer hal
hal=$TOKEN

tmp=$(mktemp -d)
# The load: one client placing orders of one pie, one reading the item, each answer logged.
place_loop() {
	while [[ ! -e $tmp/stop ]]; do
		curl -s -o "$tmp/body" -w '%{http_code}\n' --max-time 10 -X POST "$GALLEY_URL/api/orders" \
			-H "Authorization: Bearer $hal" -H 'Content-Type: application/json' \
			-d "{\"lines\":[{\"item_id\":\"$pie\",\"qty\":1}]}" >"$tmp/code"
		echo "$(cat "$tmp/code") $(jq -r '.id // .error.code // "-"' "$tmp/body" 2>/dev/null)" >>"$tmp/placed"
		sleep 0.05
	done
}
read_loop() {
	while [[ ! -e $tmp/stop ]]; do
		curl -s -o /dev/null -w '%{http_code}\n' --max-time 10 "$GALLEY_URL/api/menu/items/$pie" \
			-H "Authorization: Bearer $hal" >>"$tmp/reads"
		sleep 0.05
	done
}
place_loop &
placer=$!
read_loop &
reader=$!
some_placed() { [[ $(grep -c '^201 ' "$tmp/placed" 2>/dev/null) -ge 5 ]]; }
check "orders flow before the fault" wait_until 20 some_placed

check "the MongoDB-wire server is killed (SIGKILL)" kill -KILL "$(mongo_pid)"
check "and gone" wait_until 10 mongo_gone
check "orders readyz answers 503 while it is down" wait_until 10 ready orders 503
expect_json '.error.code == "upstream_unavailable" and (.error.message | test("mongo"; "i"))' "naming MongoDB"
before=$(wc -l <"$tmp/placed")
some_refused() { [[ $(tail -n +"$((before + 1))" "$tmp/placed" | grep -cv '^201 ') -ge 3 ]]; }
check "placements meanwhile are refused" wait_until 20 some_refused

check "bin/galley restart-mongo starts it again on the same data" "$GALLEY_TOP/bin/galley" restart-mongo
back=$SECONDS
check "orders readyz is 200 again within 15 s" wait_until 15 ready orders 200
again=$(wc -l <"$tmp/placed")
placing_again() { [[ $(tail -n +"$((again + 1))" "$tmp/placed" | grep -c '^201 ') -ge 3 ]]; }
check "orders are placed again" wait_until 20 placing_again
echo "# serving again $((SECONDS - back)) s after the restart"
touch "$tmp/stop"
wait "$placer" "$reader"

echo "# placements: $(cut -d' ' -f1 "$tmp/placed" | sort | uniq -c | tr '\n' ' ')"
echo "# reads: $(sort "$tmp/reads" | uniq -c | tr '\n' ' ')"
check "no answer was a 500 (placements)" bash -c "! grep -q '^500 ' '$tmp/placed'"
check "no answer was a 500 (reads)" bash -c "! grep -qx 500 '$tmp/reads'"
check "every placement answered 201 or 503/504" bash -c "! grep -vqE '^(201|503|504) ' '$tmp/placed'"
acked=$(awk '$1 == 201 {print $2}' "$tmp/placed")
n=$(wc -w <<<"$acked")
lost=0
for o in $acked; do
	AUTH_TOKEN=$hal req GET "/api/orders/$o"
	[[ $STATUS == 200 ]] || lost=$((lost + 1))
done
check "every acknowledged order is there ($n)" test "$lost" = 0
check "no more orders than units ($n <= $units)" test "$n" -le "$units"
req GET "/api/stock/$pie"
expect_json ".on_hand == $units and .reserved <= $units and .available >= 0" "stock never oversold"
expect_json ".reserved >= $n" "every acknowledged order still holds its unit"
announced() {
	local created
	created=$(rcli --raw XRANGE galley:events:orders - + | grep -F '"type":"order.created"' |
		jq -r --arg p "$pie" 'select(.data.lines[0].item_id == $p) | .data.id' | sort -u)
	for o in $acked; do grep -qx "$o" <<<"$created" || return 1; done
}
check "every acknowledged order was announced (order.created)" wait_until 20 announced
rm -rf "$tmp"
done_testing
