#!/usr/bin/env bash
# The store (the Redis whose AOF is on: event streams, staged events, stock's levels and
# reservations, due lists) killed with SIGKILL under a steady load of placements and reads,
# then started again from its AOF: while it is down placements answer 503 (never 500) and
# reads of the cached menu go on; after bin/galley restart-redis placements succeed again
# within seconds. Afterwards every acknowledged order is there and announced once, the
# item's stock is exact, and every order settles (lib.sh, load_verify).
set -euo pipefail
# shellcheck source=tests/e2e/lib.sh
source "$(dirname "$0")/lib.sh"

store_pid() { cat "$GALLEY_RUN/pids/store.pid"; }
store_gone() { ! kill -0 "$(store_pid)" 2>/dev/null; }
# announced_once IDS: each order of IDS has exactly one order.created in the stream
announced_once() {
	scli --raw XRANGE galley:events:orders - + | { grep -F '"type":"order.created"' || true; } |
		jq -r --arg i "$LOAD_ITEM" 'select(.data.lines[0].item_id == $i) | .data.id' | sort | uniq -d >"$LOAD_DIR/twice"
	[[ ! -s $LOAD_DIR/twice ]]
}

load_start 500
check "orders are being placed" wait_until 15 load_seen 201 5
before=$(load_mark)
check "the store is killed (SIGKILL)" kill -KILL "$(store_pid)"
check "and gone" wait_until 10 store_gone
down=$(load_mark)
check "placements are refused with 503 while it is down" wait_until 20 load_seen 503 3 "$down"
check "orders readyz answers 503 naming the store" wait_until 10 ready orders 503
expect_json '.error.code == "upstream_unavailable" and (.error.message | test("store"))' "naming the store"
AUTH_TOKEN=$LOAD_TOKEN req GET "/api/menu/items/$LOAD_ITEM"
expect_status 200 "the menu is read while the store is down"

check "bin/galley restart-redis starts it again, from its AOF" "$GALLEY_TOP/bin/galley" restart-redis
back=$(load_mark)
check "orders readyz is 200 again within 10 s" wait_until 10 ready orders 200
check "orders are placed again within 10 s" wait_until 10 load_seen 201 5 "$back"
load_stop
load_verify '201|503'
check "no order was announced twice" announced_once
echo "# placements before the kill: $before; attempts while it was down: $((back - down))"
done_testing
