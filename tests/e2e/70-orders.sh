#!/usr/bin/env bash
# Orders: placing one checks the customer and every item (400 naming the line),
# snapshots prices, reserves every line at once and stores the order as
# pending_payment; Idempotency-Key (one after another and at once); the role
# rules; cancel releases the stock; racing orders never oversell; stock down
# answers 503 within 2 s holding nothing; an order past its expiry is
# cancelled and its units are free again.
. "$(dirname "$0")/lib.sh"
# Expiry is waited for: the stack must hold reservations briefly (bin/galley test: 20 s).
if ((${GALLEY_RESERVATION_TTL:-900} > 40)); then
	echo "Bail out! this script needs a stack with GALLEY_RESERVATION_TTL <= 40 (bin/galley test uses 20)"
	exit 1
fi

item() { # NAME PRICE [AVAILABLE]: a new menu item; prints its id
	req POST /api/menu/items "{\"name\":\"$1\",\"price_cents\":$2,\"supplier_id\":\"$supplier\",\"available\":${3:-true}}"
	jq -r .id <<<"$BODY"
}
order_body() { # ITEM QTY [ITEM QTY]...: {"lines":[...]}
	local lines=""
	while (($# >= 2)); do
		lines+="{\"item_id\":\"$1\",\"qty\":$2},"
		shift 2
	done
	echo "{\"lines\":[${lines%,}]}"
}

req POST /api/suppliers "{\"name\":\"Orders test supplier\",\"email\":\"orders$RANDOM$RANDOM@supplier.example\"}"
supplier=$(jq -r .id <<<"$BODY")
soup=$(item Soup 450) bread=$(item Bread 1200) gone=$(item Gone 300 false)
req PUT "/api/stock/$soup" '{"on_hand":10}'
req PUT "/api/stock/$bread" '{"on_hand":3}'
req PUT "/api/stock/$gone" '{"on_hand":3}'

customer alice
alice=$TOKEN
AUTH_TOKEN=$alice req GET /api/auth/me
alice_customer=$(jq -r .customer_id <<<"$BODY")
alice_user=$(jq -r .id <<<"$BODY")
customer bob
bob=$TOKEN

# One order left to expire (GALLEY_RESERVATION_TTL is short in the test stack); checked at the end.
late=$(item Late 100)
req PUT "/api/stock/$late" '{"on_hand":2}'
AUTH_TOKEN=$alice req POST /api/orders "$(order_body "$late" 2)"
expect_status 201 "an order that will expire is placed"
expiring=$(jq -r .id <<<"$BODY")

# ---------------------------------------------------------------- placing
AUTH_TOKEN=$alice req POST /api/orders "$(order_body "$soup" 2 "$bread" 1)"
expect_status 201 "a customer places an order for itself"
expect_json ".status == \"pending_payment\" and .total_cents == 2100 and .currency == \"EUR\" and .version == 1" \
	"pending_payment, with the total of the snapshotted prices"
expect_json ".customer_id == \"$alice_customer\" and .user_id == \"$alice_user\"" "for the caller's own customer record"
expect_json ".lines[0].name == \"Soup\" and .lines[0].price_cents == 450 and .lines[0].qty == 2 and .lines[1].price_cents == 1200" \
	"each line carries the item's name and price"
expect_json '(.expires_at | test("^[0-9-]{10}T[0-9:]{8}Z$")) and (.reservation_id | test("^[0-9a-f]{24}$")) and (has("expires") | not)' \
	"with its reservation and expires_at (and no internal fields)"
order=$(jq -r .id <<<"$BODY")
expect_header Location "^/api/orders/$order\$" "Location names the new order"
level "$soup"
expect_json '.reserved == 2 and .available == 8' "its units are reserved in stock"

req PATCH "/api/menu/items/$soup" '{"price_cents":999}'
AUTH_TOKEN=$alice req GET "/api/orders/$order"
expect_json '.lines[0].price_cents == 450 and .total_cents == 2100' "a later price change does not touch the order"
soup_price=999

# ---------------------------------------------------------------- who sees what
AUTH_TOKEN=$alice req GET /api/orders
expect_json "[.items[].id] | index(\"$order\") != null" "the owner lists its order"
AUTH_TOKEN=$bob req GET /api/orders
expect_json "[.items[].id] | index(\"$order\") == null" "another customer does not"
AUTH_TOKEN=$bob req GET "/api/orders/$order"
expect_error 404 not_found "nor can it read it"
AUTH_TOKEN=$bob req POST "/api/orders/$order/cancel"
expect_error 404 not_found "nor cancel it"
req GET "/api/orders?customer_id=$alice_customer&status=pending_payment"
expect_json "[.items[].id] | index(\"$order\") != null" "staff list orders by customer and status"
req GET "/api/orders?status=cancelled"
expect_json "[.items[].id] | index(\"$order\") == null" "and the status filter filters"
req GET "/api/orders?status=lost"
expect_error 400 validation_failed "an unknown status filter is refused"
expect_json '.error.field == "status" and (.error.message | test("pending_payment, paid, preparing, ready, completed, cancelled"))' "naming the statuses there are"
AUTH_TOKEN= req GET /api/orders
expect_error 401 unauthenticated "anonymous callers see no orders"

req POST /api/orders "$(order_body "$soup" 1)"
expect_error 400 validation_failed "staff must say whom an order is for"
expect_json '.error.field == "customer_id"' "naming customer_id"
req POST /api/orders "{\"customer_id\":\"$alice_customer\",\"lines\":[{\"item_id\":\"$soup\",\"qty\":1}]}"
expect_status 201 "staff place an order for a customer"
expect_json ".user_id == \"$alice_user\" and .lines[0].price_cents == $soup_price" "it belongs to the customer's user, at today's price"
staff_order=$(jq -r .id <<<"$BODY")
AUTH_TOKEN=$alice req GET "/api/orders/$staff_order"
expect_status 200 "and that customer sees it"
AUTH_TOKEN=$bob req POST /api/orders "{\"customer_id\":\"$alice_customer\",\"lines\":[{\"item_id\":\"$soup\",\"qty\":1}]}"
expect_error 400 validation_failed "a customer may not order for another"
expect_json '.error.field == "customer_id"' "customer_id is named"

# ---------------------------------------------------------------- bad orders
req POST /api/orders "{\"customer_id\":\"$(newid)\",\"lines\":[{\"item_id\":\"$soup\",\"qty\":1}]}"
expect_error 400 validation_failed "an unknown customer is refused"
expect_json '.error.field == "customer_id"' "naming customer_id"
AUTH_TOKEN=$alice req POST /api/orders "$(order_body "$soup" 1 "$(newid)" 1)"
expect_error 400 validation_failed "an unknown item is refused"
expect_json '.error.field == "lines[1].item_id" and (.error.message | test("lines\\[1\\]"))' "naming its line"
AUTH_TOKEN=$alice req POST /api/orders "$(order_body "$soup" 1 "$gone" 1)"
expect_error 422 invalid_state "an item that is not available is refused"
expect_json '.error.field == "lines[1].item_id"' "naming its line"
for bad in 0 -1 1001 1.5 '"2"'; do
	AUTH_TOKEN=$alice req POST /api/orders "$(order_body "$soup" "$bad")"
	expect_error 400 validation_failed "qty $bad is refused"
done
AUTH_TOKEN=$alice req POST /api/orders "$(order_body "$soup" 1 "$soup" 1)"
expect_error 400 validation_failed "an item on two lines is refused"
expect_json '.error.field == "lines[1].item_id" and (.error.message | test("lines\\[0\\]"))' "naming both lines"
many=$(for i in $(seq 1 101); do printf '{"item_id":"%s","qty":1},' "$(newid)"; done)
AUTH_TOKEN=$alice req POST /api/orders "{\"lines\":[${many%,}]}"
expect_error 400 validation_failed "101 lines are refused"
for bad in '{"lines":[]}' '{}' '{"lines":[{"qty":1}]}' "{\"lines\":[{\"item_id\":\"$soup\",\"qty\":1,\"price_cents\":1}]}" \
	"{\"lines\":[{\"item_id\":\"$soup\",\"qty\":1}],\"total_cents\":1}" "{\"lines\":[{\"item_id\":\"$soup\",\"qty\":1}],\"\$where\":1}"; do
	AUTH_TOKEN=$alice req POST /api/orders "$bad"
	expect_error 400 validation_failed "body $bad is refused"
done
AUTH_TOKEN=$alice req POST /api/orders "$(order_body "$soup" 1 "$bread" 3)"
expect_error 409 insufficient_stock "more than is available is refused"
expect_json '.error.message | test("lines\\[1\\]")' "naming the short line"
level "$soup"
expect_json '.reserved == 3' "and the lines before it hold nothing"
req GET "/api/orders?customer_id=$alice_customer&limit=200"
check "no refused order was stored ($(jq '.items | length' <<<"$BODY") orders)" jq -e '.items | length == 3' <<<"$BODY"

# ---------------------------------------------------------------- Idempotency-Key
key="order-$RANDOM$RANDOM"
AUTH_TOKEN=$alice req POST /api/orders "$(order_body "$bread" 1)" -H "Idempotency-Key: $key"
expect_status 201 "an order with an Idempotency-Key"
first=$(jq -r .id <<<"$BODY")
AUTH_TOKEN=$alice req POST /api/orders "$(order_body "$bread" 1)" -H "Idempotency-Key: $key"
expect_status 201 "the retry answers as the first time"
expect_json ".id == \"$first\"" "with the same order"
level "$bread"
expect_json '.reserved == 2' "and reserves nothing twice"
AUTH_TOKEN=$alice req POST /api/orders "$(order_body "$bread" 2)" -H "Idempotency-Key: $key"
expect_error 409 conflict "the same key with another body is refused"
AUTH_TOKEN=$bob req POST /api/orders "$(order_body "$bread" 1)" -H "Idempotency-Key: $key"
expect_status 201 "another customer's same key is its own request"
expect_json ".id != \"$first\"" "and gets its own order, never the first one's"
bob_order=$(jq -r .id <<<"$BODY")

# Five copies at once: one order, one reservation.
key="order-$RANDOM$RANDOM"
dir=$(mktemp -d)
for i in 1 2 3 4 5; do
	curl -sS --max-time 20 -o "$dir/body$i" -w '%{http_code}\n' -X POST -H 'Content-Type: application/json' \
		-H "Authorization: Bearer $alice" -H "Idempotency-Key: $key" \
		--data-binary "$(order_body "$soup" 1)" "$GALLEY_URL/api/orders" >"$dir/code$i" &
done
wait
ids=$(for i in 1 2 3 4 5; do [[ $(cat "$dir/code$i") == 201 ]] && jq -r .id "$dir/body$i"; done | sort -u)
codes=$(cat "$dir"/code* | sort | uniq -c | tr '\n' ' ')
check "simultaneous copies answer 201 or 409 in progress ($codes)" \
	bash -c "! grep -qvx -e 201 -e 409 $dir/code*"
check "and every 201 names one and the same order ($(wc -w <<<"$ids") ids)" test "$(wc -w <<<"$ids")" = 1
level "$soup"
expect_json '.reserved == 4' "the soup is reserved once for them"
rm -rf "$dir"

# ---------------------------------------------------------------- cancel
AUTH_TOKEN=$alice req POST "/api/orders/$order/cancel" -H 'If-Match: 7'
expect_error 409 conflict "cancel with a stale If-Match is refused"
AUTH_TOKEN=$alice req POST "/api/orders/$order/cancel" -H 'If-Match: 1'
expect_status 200 "the owner cancels its order"
expect_json '.status == "cancelled" and .cancel_reason == "customer" and .version == 2' "cancelled, on request, a new version"
level "$soup"
expect_json '.reserved == 2' "its soup is free again"
level "$bread"
expect_json '.reserved == 2' "and its bread"
AUTH_TOKEN=$alice req POST "/api/orders/$order/cancel"
expect_json '.status == "cancelled" and .version == 2' "cancelling again changes nothing"
level "$soup"
expect_json '.reserved == 2' "and frees nothing twice"
req POST "/api/orders/$bob_order/cancel"
expect_json '.status == "cancelled" and .cancel_reason == "staff"' "staff cancel any order (reason: staff)"
AUTH_TOKEN=$alice req POST "/api/orders/$order/cancel" '{}'
expect_error 400 validation_failed "cancel takes no body"

# ---------------------------------------------------------------- racing orders
race=$(item Race 100)
req PUT "/api/stock/$race" '{"on_hand":5}'
dir=$(mktemp -d)
AUTH_TOKEN=$alice fire 15 "$dir/codes" /api/orders "$(order_body "$race" 1)"
wait
won=$(grep -cx 201 "$dir/codes" || true)
check "15 racing orders for 5 units: exactly 5 placed ($(sort "$dir/codes" | uniq -c | tr '\n' ' '))" test "$won" = 5
check "the others are told insufficient_stock" test "$(grep -cx 409 "$dir/codes")" = 10
level "$race"
expect_json '.reserved == 5 and .available == 0' "stock agrees"
req GET "/api/orders?customer_id=$alice_customer&limit=200"
check "and exactly 5 race orders were stored" \
	jq -e --arg i "$race" '[.items[] | select(.lines[0].item_id == $i)] | length == 5' <<<"$BODY"

# Again, 30 orders, a stock pool killed once the first answers are in: never more than
# the units, and every order stored holds its unit (an order answered 5xx may still hold
# one until it expires).
race2=$(item Race2 100)
req PUT "/api/stock/$race2" '{"on_hand":5}'
: >"$dir/codes"
AUTH_TOKEN=$alice fire 30 "$dir/codes" /api/orders "$(order_body "$race2" 1)"
answered() { (($(wc -l <"$dir/codes") >= 3)); }
wait_until 20 answered # the first answers are in: the race is on
kill_pool stock 1
wait
won=$(grep -cx 201 "$dir/codes" || true)
check "30 racing orders for 5 units, a stock pool killed: at most 5 placed ($(sort "$dir/codes" | uniq -c | tr '\n' ' '))" test "$won" -le 5
check "no answer is a 500" bash -c "! grep -qx 500 $dir/codes"
level "$race2"
reserved=$(jq .reserved <<<"$BODY")
req GET "/api/orders?customer_id=$alice_customer&limit=200"
stored=$(jq --arg i "$race2" '[.items[] | select(.lines[0].item_id == $i)] | length' <<<"$BODY")
check "never oversold: reserved $reserved <= 5, stored orders $stored all hold theirs, every 201 was stored" \
	test "$reserved" -le 5 -a "$stored" -le "$reserved" -a "$stored" -ge "$won"
check "stock pool 1 restarts" "$GALLEY_TOP/bin/galley" restart-pool stock 1
rm -rf "$dir"

# ---------------------------------------------------------------- stock down
req GET "/api/orders?customer_id=$alice_customer&limit=200"
before=$(jq '.items | length' <<<"$BODY")
level "$bread"
bread_before=$(jq -c . <<<"$BODY")
for n in $(seq 1 "$(svc_pools stock)"); do kill_pool stock "$n"; done
AUTH_TOKEN=$alice req POST /api/orders "$(order_body "$bread" 1)" --max-time 2
expect_error 503 upstream_unavailable "with stock down an order is answered 503 within 2 s"
for n in $(seq 1 "$(svc_pools stock)"); do
	check "stock pool $n restarts" "$GALLEY_TOP/bin/galley" restart-pool stock "$n"
done
back() { level "$bread"; [[ $STATUS == 200 ]]; }
check "stock answers again" wait_until 20 back
check "nothing was reserved meanwhile" test "$(jq -c . <<<"$BODY")" = "$bread_before"
req GET "/api/orders?customer_id=$alice_customer&limit=200"
check "and no order was stored" test "$(jq '.items | length' <<<"$BODY")" = "$before"
placed() { AUTH_TOKEN=$alice req POST /api/orders "$(order_body "$bread" 1)"; [[ $STATUS == 201 ]]; }
check "orders are placed again once stock is back" wait_until 20 placed

# ---------------------------------------------------------------- expiry
expired() { AUTH_TOKEN=$alice req GET "/api/orders/$expiring"; jq -e '.status == "cancelled"' <<<"$BODY" >/dev/null; }
check "an order past its expiry is cancelled by itself" wait_until 60 expired
expect_json '.cancel_reason == "expired"' "with reason expired"
level "$late"
expect_json '.reserved == 0 and .available == 2' "and its units are free again"
# ---------------------------------------------------------------- filters and pages
req GET "/api/orders/$order"
expect_json ".lines[0].supplier_id == \"$supplier\" and .lines[1].supplier_id == \"$supplier\"" \
	"an order's lines carry their item's supplier, copied when it was placed"
req POST /api/suppliers "{\"name\":\"Tea supplier\",\"email\":\"tea$RANDOM$RANDOM@supplier.example\"}"
tea_supplier=$(jq -r .id <<<"$BODY")
req POST /api/menu/items "{\"name\":\"Tea\",\"price_cents\":300,\"supplier_id\":\"$tea_supplier\"}"
tea=$(jq -r .id <<<"$BODY")
req PUT "/api/stock/$tea" '{"on_hand":20}'
salt=$(item Salt 50)
req PUT "/api/stock/$salt" '{"on_hand":20}'
carol_name="Carol O'Brien-$RANDOM$RANDOM"
carol_email="carol$RANDOM$RANDOM@e2e.example"
AUTH_TOKEN= req POST /api/auth/register "$(jq -cn --arg n "$carol_name" --arg e "$carol_email" '{email: $e, password: "password9", name: $n}')"
login "$carol_email" password9
carol=$TOKEN
AUTH_TOKEN=$carol req GET /api/auth/me
carol_customer=$(jq -r .customer_id <<<"$BODY")
carol_orders=()
for body in "$(order_body "$tea" 1)" "$(order_body "$tea" 2 "$salt" 1)" "$(order_body "$tea" 3)"; do
	AUTH_TOKEN=$carol req POST /api/orders "$body"
	carol_orders+=("$(jq -r .id <<<"$BODY")")
done
expect_json ".customer_name == \"$carol_name\"" "an order carries its customer's name, copied when it was placed"
req GET "/api/orders?supplier_id=$tea_supplier&limit=200"
expect_json "([.items[].id] | sort) == ($(printf '"%s",' "${carol_orders[@]}" | sed 's/,$//; s/^/[/; s/$/]/') | sort)" \
	"staff list the orders with a line from a supplier: exactly those"
req GET "/api/orders?supplier_id=$supplier&customer_id=$carol_customer"
expect_json "[.items[].id] == [\"${carol_orders[1]}\"]" "a supplier's and a customer's together: the one order with both"
lower=$(tr '[:upper:]' '[:lower:]' <<<"${carol_name#Carol }")
req GET "/api/orders?customer_name=$(jq -rn --arg s "$lower" '$s | @uri')"
expect_json "([.items[].id] | sort) == ($(printf '"%s",' "${carol_orders[@]}" | sed 's/,$//; s/^/[/; s/$/]/') | sort)" \
	"staff find orders by a part of the customer's name, in any case"
req GET "/api/orders?customer_name=$(jq -rn '".*" | @uri')"
expect_json '[.items[] | select(.customer_name | contains(".*") | not)] == []' \
	"the name is matched as it is written, never as a pattern"
req GET "/api/orders?id_prefix=${carol_orders[2]}"
expect_json "[.items[].id] == [\"${carol_orders[2]}\"]" "a whole id as the prefix: that order"
prefix=${carol_orders[0]:0:6}
req GET "/api/orders?customer_id=$carol_customer&id_prefix=$prefix&limit=200"
expect_json "([.items[].id] | sort) == ([$(printf '"%s",' "${carol_orders[@]}" | sed 's/,$//')] | map(select(startswith(\"$prefix\"))) | sort)" \
	"an id prefix: the orders whose id starts with it"
mapfile -t sorted < <(printf '%s\n' "${carol_orders[@]}" | sort)
pages=() after="" n=0
while ((n < 10)); do
	req GET "/api/orders?customer_id=$carol_customer&limit=1${after:+&after=$after}"
	[[ $STATUS == 200 ]] || break
	pages+=($(jq -r '.items[].id' <<<"$BODY"))
	after=$(jq -r '.next // empty' <<<"$BODY")
	n=$((n + 1))
	[[ -n $after ]] || break
done
check "a page at a time (limit 1, next as the cursor): each order once, in id order (${#pages[*]} pages)" \
	test "${pages[*]}" = "${sorted[*]}"
req GET "/api/orders?id_prefix=${sorted[0]:0:6}&customer_id=$carol_customer&limit=1&after=${sorted[0]}"
expect_json "[.items[].id] == [\"${sorted[1]}\"] and .next == \"${sorted[1]}\"" \
	"the cursor pages within an id prefix too"
for bad in "id_prefix=ABC" "id_prefix=xyz" "id_prefix=$(printf 'a%.0s' {1..25})" "id_prefix=" \
	"customer_name=$(printf 'n%.0s' {1..61})" "supplier_id=12" "limit=0" "limit=201" "after=zz" \
	"supplier_id%5B%24ne%5D=1"; do
	req GET "/api/orders?$bad"
	expect_error 400 validation_failed "?${bad:0:40} is refused"
done
AUTH_TOKEN=$carol req GET "/api/orders?id_prefix=${carol_orders[0]:0:12}"
expect_json "[.items[].id] | index(\"${carol_orders[0]}\") != null" "a customer searches its own orders by id prefix"
AUTH_TOKEN=$alice req GET "/api/orders?id_prefix=${carol_orders[0]}"
expect_json '.items == []' "and never finds another's"
for f in "supplier_id=$tea_supplier" "customer_id=$carol_customer" "customer_id=$alice_customer" "customer_name=carol"; do
	AUTH_TOKEN=$alice req GET "/api/orders?$f"
	expect_error 403 forbidden "a customer may not filter by ${f%%=*}"
done

# ---------------------------------------------------------------- a customer's own list
# Served from the customer's set of order ids in the store (fcgi/orders/by_user.c), not by a
# query that reads every stored order; the tick builds the sets from MongoDB once.
AUTH_TOKEN=$carol req GET /api/auth/me
carol_user=$(jq -r .id <<<"$BODY")
built() { [[ $(scli EXISTS galley:orders:by-user-built) == 1 ]]; }
check "the per-user order lists are built" wait_until 10 built
# own_pages: the ids carol's own list gives, a page of one at a time.
own_pages() {
	local after="" n=0 ids=()
	while ((n < 10)); do
		AUTH_TOKEN=$carol req GET "/api/orders?limit=1${after:+&after=$after}"
		[[ $STATUS == 200 ]] || return 1
		ids+=($(jq -r '.items[].id' <<<"$BODY"))
		after=$(jq -r '.next // empty' <<<"$BODY")
		n=$((n + 1))
		[[ -n $after ]] || break
	done
	echo "${ids[*]}"
}
check "a customer's own list, a page at a time: each of its orders once, in id order" \
	test "$(own_pages)" = "${sorted[*]}"
check "from its set in the store ($(scli ZCARD "galley:orders:by-user:$carol_user") ids)" \
	test "$(scli ZRANGE "galley:orders:by-user:$carol_user" 0 -1 | xargs)" = "${sorted[*]}"
AUTH_TOKEN=$carol req GET "/api/orders?limit=2"
expect_json "([.items[].id] == [\"${sorted[0]}\", \"${sorted[1]}\"]) and .next == \"${sorted[1]}\"" \
	"limit 2: the first two, and the cursor after them"
# An id whose insert failed (placed in the set first, then the store said no): skipped.
ghost=${sorted[1]:0:18}ffffff
scli ZADD "galley:orders:by-user:$carol_user" 0 "$ghost" >/dev/null
check "an id in the set with no order is skipped" test "$(own_pages)" = "${sorted[*]}"
# The store lost the sets: lists query MongoDB again until the tick has built them anew.
scli DEL galley:orders:by-user-built "galley:orders:by-user:$carol_user" >/dev/null
check "without the sets, the list is the same (from MongoDB)" test "$(own_pages)" = "${sorted[*]}"
check "the tick builds them again" wait_until 15 built
check "with every order of the customer" \
	test "$(scli ZRANGE "galley:orders:by-user:$carol_user" 0 -1 | xargs)" = "${sorted[*]}"
done_testing
