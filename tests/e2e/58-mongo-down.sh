#!/usr/bin/env bash
# The MongoDB-wire server killed (SIGKILL) under a steady load of order
# placements and reads, then started again on the same data: while it is
# down, readyz says MongoDB, and orders are still placed (an order is kept in
# the store first, lib/kept.h: its customer and items come from the cache),
# or refused with 503/504, never a 500; within seconds of its return
# everything reaches MongoDB; afterwards every order that was acknowledged
# (201) is there and announced (order.created), and the item's stock is exact
# (lib.sh, load_verify).
. "$(dirname "$0")/lib.sh"

mongo_pid() { cat "$GALLEY_RUN/pids/mongo.pid"; }
mongo_gone() { ! kill -0 "$(mongo_pid)" 2>/dev/null; }

load_start 500

AUTH_TOKEN=$LOAD_TOKEN req GET /api/auth/me
load_customer=$(jq -r .customer_id <<<"$BODY")
check "the MongoDB-wire server is killed (SIGKILL)" kill -KILL "$(mongo_pid)"
check "and gone" wait_until 10 mongo_gone
check "orders readyz answers 503 while it is down" wait_until 10 ready orders 503
expect_json '.error.code == "upstream_unavailable" and (.error.message | test("mongo"; "i"))' "naming MongoDB"
before=$(load_mark)
check "placements go on meanwhile, into the store" wait_until 20 load_seen 201 3 "$before"
AUTH_TOKEN=$LOAD_TOKEN req GET /api/orders
expect_status 200 "a customer's own list is served meanwhile (its set and its orders are in the store)"
req GET "/api/orders?customer_id=$load_customer"
expect_json '.error.code == "upstream_unavailable" or .error.code == "upstream_timeout"' \
	"a query of orders, which reads MongoDB, is refused with the API's error body"
check "as 503 or 504 ($STATUS)" test "$STATUS" = 503 -o "$STATUS" = 504
waiting() { # N: /metrics says N or more orders wait for MongoDB (N = 0: none)
	local v
	v=$(curl -s "$GALLEY_INTERNAL_URL/metrics" |
		awk '$1 == "galley_kept_dirty{service=\"orders\",collection=\"orders\"}" { print $2 }')
	if (($1 == 0)); then [[ $v == 0 ]]; else ((${v:-0} >= $1)); fi
}
check "/metrics shows them waiting for MongoDB (galley_kept_dirty)" wait_until 5 waiting 1

check "bin/galley restart-mongo starts it again on the same data" "$GALLEY_TOP/bin/galley" restart-mongo
back=$SECONDS
check "orders readyz is 200 again within 15 s" wait_until 15 ready orders 200
check "orders are placed still" wait_until 20 load_seen 201 3 "$(load_mark)"
lists() { req GET "/api/orders?customer_id=$load_customer"; [[ $STATUS == 200 ]]; }
check "queries answer again (the orders placed meanwhile written to MongoDB first)" wait_until 15 lists
echo "# serving again $((SECONDS - back)) s after the restart"
load_stop
check "and once the load stops, nothing waits for MongoDB" wait_until 15 waiting 0
load_verify '201|503|504'
done_testing
