#!/usr/bin/env bash
# Placing an order reads its customer and its items where the customers and menu services
# cache them (fcgi/orders/place.c, order_cached): once warm, a placement asks neither service,
# and every orders worker still sees a change the moment the owner has made it (the owner
# drops its key; Redis's tracking drops each worker's near copy): a new price, an item made
# unavailable, a customer renamed. A cold lookup, or one the cache cannot answer, asks the
# service as before.
. "$(dirname "$0")/lib.sh"

workers=$(($(svc_pools orders) * $(svc_workers orders)))
n=$((workers * 3)) # one at a time, nginx spreads them over every orders worker
item_gets() { # ID: how many times the menu service was asked for item ID (its access logs)
	cat "$GALLEY_RUN"/logs/menu-*.log | grep -cF "\"method\":\"GET\",\"path\":\"/api/menu/items/$1\"" || true
}
own_gets() { # how many times the customers service was asked for a customer's own list
	cat "$GALLEY_RUN"/logs/customers-*.log | grep -cF '"method":"GET","path":"/api/customers",' || true
}
# place N BODY: N placements one after another as AUTH_TOKEN; prints each answer's status
# and a jq value of its body (EXPR), one a line.
place() {
	local i
	for ((i = 0; i < $1; i++)); do
		req POST /api/orders "$2"
		echo "$STATUS $(jq -c "$3" <<<"$BODY")"
	done
}

stocked_item "Lookup stew" 700 100000 || { echo "Bail out! could not make an item"; exit 1; }
stew=$ITEM
customer dora
dora=$TOKEN
AUTH_TOKEN=$dora req GET /api/auth/me
dora_customer=$(jq -r .customer_id <<<"$BODY")
one="{\"lines\":[{\"item_id\":\"$stew\",\"qty\":1}]}"

# Warm every worker, then count what the next placements ask.
AUTH_TOKEN=$dora place "$n" "$one" .status >/dev/null
item0=$(item_gets "$stew") own0=$(own_gets)
out=$(AUTH_TOKEN=$dora place "$n" "$one" '[.lines[0].price_cents, .customer_id]')
check "$n warm placements all placed at the item's price, for the caller's customer" \
	test "$(grep -c "^201 \[700,\"$dora_customer\"\]\$" <<<"$out")" = "$n"
check "and none asked the menu service for the item ($((item0)) -> $(item_gets "$stew"))" \
	test "$(item_gets "$stew")" = "$item0"
check "nor the customers service for the customer ($((own0)) -> $(own_gets))" \
	test "$(own_gets)" = "$own0"

# A new price: the very next placement on every worker has it.
req PATCH "/api/menu/items/$stew" '{"price_cents":725}'
out=$(AUTH_TOKEN=$dora place "$n" "$one" '.lines[0].price_cents')
check "after a price change, each of $n placements has the new price" \
	test "$(grep -c '^201 725$' <<<"$out")" = "$n"

# Not available: every worker refuses it at once; available again: every worker takes it.
req PATCH "/api/menu/items/$stew" '{"available":false}'
out=$(AUTH_TOKEN=$dora place "$n" "$one" .error.code)
check "an item made unavailable is refused by each of $n placements (422)" \
	test "$(grep -c '^422 "invalid_state"$' <<<"$out")" = "$n"
req PATCH "/api/menu/items/$stew" '{"available":true}'
out=$(AUTH_TOKEN=$dora place "$n" "$one" .status)
check "and taken again by each once it is back" test "$(grep -c '^201 ' <<<"$out")" = "$n"

# A customer renamed: the next orders carry the new name.
name="Dora Renamed $RANDOM"
req PATCH "/api/customers/$dora_customer" "$(jq -cn --arg n "$name" '{name: $n}')"
expect_status 200 "staff rename the customer"
out=$(AUTH_TOKEN=$dora place "$n" "$one" .customer_name)
check "each of $n placements after it carries the new name" \
	test "$(grep -cF "201 \"$name\"" <<<"$out")" = "$n"

# Staff name the customer: read from the customers service's cache of the record as well.
req POST /api/orders "{\"customer_id\":\"$dora_customer\",\"lines\":[{\"item_id\":\"$stew\",\"qty\":1}]}"
expect_json ".customer_id == \"$dora_customer\" and .customer_name == \"$name\"" \
	"staff order for the customer by id"
req POST /api/orders "{\"customer_id\":\"$(newid)\",\"lines\":[{\"item_id\":\"$stew\",\"qty\":1}]}"
expect_error 400 validation_failed "an id no customer has is still refused"

# The cache away: its keys gone, a placement asks the services (and they cache again).
rcli DEL "galley:menu:item:$stew" >/dev/null
item0=$(item_gets "$stew")
AUTH_TOKEN=$dora req POST /api/orders "$one"
expect_status 201 "with the item's key dropped, a placement is still placed"
check "by asking the menu service" test "$(item_gets "$stew")" -gt "$item0"

done_testing
