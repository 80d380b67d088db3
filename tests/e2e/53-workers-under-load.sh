#!/usr/bin/env bash
# A worker killed (SIGKILL) in the middle of a request, under a steady load of order
# placements and reads: first a stock worker (reached from orders over nginx's internal
# listener, reserving the units; first, before the load's first orders expire and their
# releases reach stock too), then an orders worker (the placement's own). The request
# it was serving may fail honestly (502/503/504), never with a 500; galley-pool replaces
# the worker; placements go on; readyz stays 200 (the service serves). Afterwards every
# acknowledged order is there and announced, an order whose client saw a failure is either
# absent or consistent, and the item's stock is exact (lib.sh, load_verify).
set -euo pipefail
# shellcheck source=tests/e2e/lib.sh
source "$(dirname "$0")/lib.sh"

load_start 500

for svc in stock orders; do
	mark=$(load_mark)
	victim=$(kill_busy "$svc" worker 30 || true)
	check "a $svc worker was killed (SIGKILL) while serving a request ($victim)" test -n "$victim"
	read -r pool pid <<<"${victim:-1 0}"
	check "galley-pool replaces it" wait_until 30 pool_full "$svc" "$pool" "$pid"
	check "$svc readyz answers 200 (the service serves)" ready "$svc" 200
	check "orders are placed after the $svc worker's death" wait_until 30 load_seen 201 5 "$mark"
	echo "# placements since the kill: $(tail -n +"$((mark + 1))" "$LOAD_DIR/placed" | cut -d' ' -f1 | sort | uniq -c | xargs)"
done
load_stop
load_verify '201|502|503|504'
done_testing
