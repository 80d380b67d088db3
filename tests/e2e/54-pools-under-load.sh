#!/usr/bin/env bash
# A whole pool killed (SIGKILL to galley-pool and its workers) in the middle of a request,
# under a steady load of order placements and reads: first one of the stock pools (before
# the load's first orders expire and their releases reach stock too), then one of the
# orders pools. The request it was serving may fail honestly (502/503/504),
# never with a 500; the service's other pool carries the load (nginx passes a request it
# could not deliver to the next pool, POSTs included); readyz stays 200 (the service
# serves); `bin/galley restart-pool` brings it back, and it serves again (51-pools.sh
# checks that `bin/galley status` shows a dead pool DOWN). Afterwards every acknowledged
# order is there and announced, an order whose client saw a failure is either absent or
# consistent, and the item's stock is exact (lib.sh, load_verify).
set -euo pipefail
# shellcheck source=tests/e2e/lib.sh
source "$(dirname "$0")/lib.sh"

if (($(svc_pools orders) < 2 || $(svc_pools stock) < 2)); then
	echo "1..0 # SKIP needs 2 or more orders and stock pools"
	exit 0
fi
galley() { "$GALLEY_TOP/bin/galley" "$@" >/dev/null 2>&1; }
# serving SVC N: one of the pool's present workers has answered a request (its log says).
serving() {
	local p
	for p in $(pool_workers "$1" "$2"); do
		grep -q "\"pid\":$p,.*\"method\":" "$GALLEY_RUN/logs/$1-$2.log" 2>/dev/null && return 0
	done
	return 1
}
pool_gone() { ! kill -0 "$1" 2>/dev/null || [[ $(cut -d' ' -f3 "/proc/$1/stat" 2>/dev/null) == Z ]]; }

load_start 500

for svc in stock orders; do
	mark=$(load_mark)
	victim=$(kill_busy "$svc" pool 30 || true)
	check "a $svc pool was killed (SIGKILL) while serving a request ($victim)" test -n "$victim"
	pool=${victim%% *}
	: "${pool:=1}"
	group=$(pool_pid "$svc" "$pool")
	check "and it stays dead" wait_until 10 pool_gone "$group"
	check "orders are placed by the other $svc pool" wait_until 30 load_seen 201 5 "$mark"
	check "$svc readyz answers 200 (the other pool serves)" ready "$svc" 200
	check "bin/galley restart-pool $svc $pool" galley restart-pool "$svc" "$pool"
	check "pool $svc-$pool has its workers again" wait_until 30 pool_full "$svc" "$pool"
	check "and serves again" wait_until 30 serving "$svc" "$pool"
	echo "# placements since the kill: $(tail -n +"$((mark + 1))" "$LOAD_DIR/placed" | cut -d' ' -f1 | sort | uniq -c | xargs)"
done
load_stop
load_verify '201|502|503|504'
done_testing
