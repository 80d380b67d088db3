#!/usr/bin/env bash
# Kept collections (lib/kept.h): an order lives in the store first and reaches MongoDB in
# batches.  Placed, it is read back at once; its customer's list sees it (fcgi/orders/
# by_user.c), and so does a query (which writes it to MongoDB first); a change reaches
# MongoDB within seconds and the store's copy then expires within GALLEY_KEPT_KEEP_S (an
# hour); a copy lost from the store, or an order older than that which never had one, is
# loaded from MongoDB; changes racing on one
# order make one change.  MongoDB away (orders placed into the store, reaching MongoDB once
# it is back): 58-mongo-down.sh.
. "$(dirname "$0")/lib.sh"

req POST /api/suppliers "{\"name\":\"Kept test supplier\",\"email\":\"kept$RANDOM$RANDOM@supplier.example\"}"
supplier=$(jq -r .id <<<"$BODY")
req POST /api/menu/items "{\"name\":\"Kept soup\",\"price_cents\":450,\"supplier_id\":\"$supplier\"}"
soup=$(jq -r .id <<<"$BODY")
req PUT "/api/stock/$soup" '{"on_hand":20}'
customer kept
alice=$TOKEN
place() { AUTH_TOKEN=$alice req POST /api/orders "{\"lines\":[{\"item_id\":\"$soup\",\"qty\":1}]}"; }
key() { echo "galley:kept:orders:orders:$1"; }
in_mongo() { # ID JQ: MongoDB's copy of order ID satisfies JQ
	mongo_find orders orders "{\"_id\":{\"\$oid\":\"$1\"}}" | jq -e -n "input | .[0] | $2" >/dev/null
}

place
expect_status 201 "an order is placed"
id=$(jq -r .id <<<"$BODY")
check "it is in the store at once, at version 1" test "$(scli HGET "$(key "$id")" v)" = 1
# Unpaid, it is held back from MongoDB (kept.h): written once paid or cancelled.
check "held, not dirty: it waits to be paid or cancelled" \
	test -n "$(scli ZSCORE galley:kept:orders:orders:held "$id")" -a -z "$(scli ZSCORE galley:kept:orders:orders:dirty "$id")"
held_metric() {
	curl -s "$GALLEY_INTERNAL_URL/metrics" |
		awk '$1 == "galley_kept_held{service=\"orders\",collection=\"orders\"}" { print $2 }'
}
check "/metrics counts it as held ($(held_metric))" test "$(held_metric)" -ge 1
AUTH_TOKEN=$alice req GET "/api/orders/$id"
expect_json '.status == "pending_payment" and .version == 1' "and read back at once"
AUTH_TOKEN=$alice req GET /api/orders
expect_json "[.items[].id] | index(\"$id\") != null" "its customer's list right after sees it (the store's set)"
AUTH_TOKEN=$alice req GET /api/auth/me
req GET "/api/orders?customer_id=$(jq -r .customer_id <<<"$BODY")"
expect_json "[.items[].id] | index(\"$id\") != null" "so does a query of MongoDB (staff's, by customer)"
check "MongoDB has it as placed (the query wrote what was dirty or held first)" \
	in_mongo "$id" '.status == "pending_payment" and .version == 1'
check "and it is held no longer" test -z "$(scli ZSCORE galley:kept:orders:orders:held "$id")"

AUTH_TOKEN=$alice req POST "/api/orders/$id/cancel"
expect_json '.status == "cancelled" and .version == 2' "cancelled: version 2"
AUTH_TOKEN=$alice req GET "/api/orders/$id"
expect_json '.status == "cancelled"' "read back cancelled at once"
check "MongoDB gets the change within 5 s, without a list asking" \
	wait_until 5 in_mongo "$id" '.status == "cancelled" and .version == 2'
check "the order is then no longer dirty" test -z "$(scli ZSCORE galley:kept:orders:orders:dirty "$id")"
ttl=$(scli TTL "$(key "$id")")
check "and its copy in the store expires within GALLEY_KEPT_KEEP_S ($ttl s)" \
	test "$ttl" -gt 0 -a "$ttl" -le "${GALLEY_KEPT_KEEP_S:-3600}"

# As a store that lost its data would be: the copy and the time the store first kept orders
# gone (orders made before that time are then looked for in MongoDB too).
scli DEL "$(key "$id")" >/dev/null
scli SET galley:kept:orders:orders:since $((16#${id:0:8} + 1)) >/dev/null # after the id's time
AUTH_TOKEN=$alice req GET "/api/orders/$id"
expect_json ".id == \"$id\" and .status == \"cancelled\" and .version == 2" \
	"with the store's copy gone, the order is read from MongoDB"
check "and the store has its copy again" test "$(scli HGET "$(key "$id")" v)" = 2
kept_id=$id
# From here the store has kept orders for three days (ids older than that may be in MongoDB
# alone), so that what decides below is the keep; each process reads this within a second.
scli SET galley:kept:orders:orders:since $(($(date +%s) - 3 * 86400)) >/dev/null
check "an id never stored is 404" eval 'AUTH_TOKEN=$alice req GET "/api/orders/$(newid)"; [[ $STATUS == 404 ]]'

# Five cancels of one order at once: each answers the cancelled order (a cancel is
# idempotent), and the order is changed once.
place
id=$(jq -r .id <<<"$BODY")
req GET "/api/stock/$soup"
before=$(jq .available <<<"$BODY")
dir=$(mktemp -d)
for i in 1 2 3 4 5; do
	curl -s -o "$dir/$i.body" -w '%{http_code}\n' -X POST -H "Authorization: Bearer $alice" \
		"$GALLEY_URL/api/orders/$id/cancel" >"$dir/$i.code" &
done
wait
check "five cancels at once each answer 200 ($(sort "$dir"/*.code | uniq -c | tr -s ' \n' ' '))" \
	test -z "$(grep -hv '^200$' "$dir"/*.code)"
check "each with the order cancelled at version 2" \
	test "$(cat "$dir"/*.body | jq -s 'map(select(.status == "cancelled" and .version == 2)) | length')" = 5
rm -rf "$dir"
AUTH_TOKEN=$alice req GET "/api/orders/$id"
expect_json '.status == "cancelled" and .version == 2' "the order was changed once (version 2)"
req GET "/api/stock/$soup"
expect_json ".available == $((before + 1))" "and its unit released once"

# Held: paid, it reaches MongoDB as paid, never having been there unpaid; held longer than
# GALLEY_KEPT_HOLD_S (its entry put back that far), it is written all the same.
place
paid_id=$(jq -r .id <<<"$BODY")
place
left_id=$(jq -r .id <<<"$BODY")
AUTH_TOKEN=$alice req POST /api/payments "{\"order_id\":\"$paid_id\",\"payment_method\":\"pm_card_visa\"}"
expect_status 201 "one is paid"
check "it reaches MongoDB within 5 s, paid or past it" \
	wait_until 5 in_mongo "$paid_id" '.status != "pending_payment" and .version >= 2'
check "MongoDB does not have the other, unpaid one" \
	in_mongo "$left_id" '. == null'
check "which is held" test -n "$(scli ZSCORE galley:kept:orders:orders:held "$left_id")"
scli ZADD galley:kept:orders:orders:held $((($(date +%s) - ${GALLEY_KEPT_HOLD_S:-1200} - 1) * 1000)) "$left_id" >/dev/null
check "held for longer than GALLEY_KEPT_HOLD_S, it reaches MongoDB unpaid within 5 s" \
	wait_until 5 in_mongo "$left_id" '.status == "pending_payment" and .version == 1'
check "and is held no longer" test -z "$(scli ZSCORE galley:kept:orders:orders:held "$left_id")"

# The kitchen's steps are held too: the paid order, and its ticket, are written again once
# handed over (completed), not at preparing and at ready.
ready_now() { AUTH_TOKEN=$alice req GET "/api/orders/$paid_id" && jq -e '.status == "ready"' >/dev/null <<<"$BODY"; }
check "the kitchen makes the paid one ready" wait_until 30 ready_now
ready_version=$(jq -r .version <<<"$BODY")
# Written as it is now (the projection may have come after ready), or held, never dirty:
# nothing is written for it until it is handed over.
order_rests() {
	[ -z "$(scli ZSCORE galley:kept:orders:orders:dirty "$paid_id")" ] &&
		{ [ -n "$(scli ZSCORE galley:kept:orders:orders:held "$paid_id")" ] ||
			in_mongo "$paid_id" ".version == $ready_version"; }
}
check "ready, the order is held or written as ready, not dirty" wait_until 5 order_rests
check "its ticket is held (never written, from paid to ready)" \
	test -n "$(scli ZSCORE galley:kept:kitchen:tickets:held "$paid_id")"
req POST "/api/kitchen/tickets/$paid_id/complete"
expect_json '.status == "completed"' "staff hand it over"
check "MongoDB has the order completed within 5 s" \
	wait_until 5 in_mongo "$paid_id" '.status == "completed"'
ticket_in_mongo() { # JQ: MongoDB's copy of the paid order's ticket satisfies JQ
	mongo_find kitchen tickets "{\"_id\":{\"\$oid\":\"$paid_id\"}}" | jq -e -n "input | .[0] | $1" >/dev/null
}
check "and its ticket completed" wait_until 5 ticket_in_mongo '.status == "completed"'
check "neither is held any longer" \
	test -z "$(scli ZSCORE galley:kept:orders:orders:held "$paid_id")$(scli ZSCORE galley:kept:kitchen:tickets:held "$paid_id")"

# An order made two hours ago (older than the store's keep less the clocks' margin) that the
# store does not hold is looked for in MongoDB, not taken for one never stored.
old_id=$(printf '%08x' $(($(date +%s) - 7200)))${kept_id:8}
old_doc=$(mongo_find orders orders "{\"_id\":{\"\$oid\":\"$kept_id\"}}" | jq -c --arg o "$old_id" '.[0] | ._id = {"$oid": $o}')
check "an order from two hours ago goes into MongoDB alone" \
	eval 'mongo_insert orders orders "$old_doc" | jq -e ".n == 1" >/dev/null'
AUTH_TOKEN=$alice req GET "/api/orders/$old_id"
expect_json ".id == \"$old_id\" and .status == \"cancelled\"" "and is read from there, not 404"

done_testing
