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

check "the MongoDB-wire server is killed (SIGKILL)" kill -KILL "$(mongo_pid)"
check "and gone" wait_until 10 mongo_gone
check "orders readyz answers 503 while it is down" wait_until 10 ready orders 503
expect_json '.error.code == "upstream_unavailable" and (.error.message | test("mongo"; "i"))' "naming MongoDB"
before=$(load_mark)
check "placements go on meanwhile, into the store" wait_until 20 load_seen 201 3 "$before"
AUTH_TOKEN=$LOAD_TOKEN req GET /api/orders
expect_error 503 upstream_unavailable "a list of orders, which reads MongoDB, answers 503"

check "bin/galley restart-mongo starts it again on the same data" "$GALLEY_TOP/bin/galley" restart-mongo
back=$SECONDS
check "orders readyz is 200 again within 15 s" wait_until 15 ready orders 200
check "orders are placed still" wait_until 20 load_seen 201 3 "$(load_mark)"
AUTH_TOKEN=$LOAD_TOKEN req GET /api/orders
expect_status 200 "lists answer again (the orders placed meanwhile written to MongoDB first)"
echo "# serving again $((SECONDS - back)) s after the restart"
load_stop
load_verify '201|503|504'
done_testing
