#!/usr/bin/env bash
# What does a staff list cost next to the floor of the stack, and how does it grow with the
# collection (issue 13, "flat with data")? In one run: hello (nginx -> FastCGI), then staff's
# lists as the dashboard asks for them, through nginx with wrk, after N orders placed and paid
# (each a ticket in the kitchen): the orders list, the orders list by status, the kitchen's
# board column. Each list reads MongoDB (FerretDB reads the whole collection for a sorted,
# filtered page: docs/performance.md), so the rates fall as N grows.
#
# usage: GALLEY_KITCHEN_SECONDS_PER_ITEM=0 bin/galley up; tests/bench/lists.sh [orders] [seconds] [connections]
set -euo pipefail
top=$(cd "$(dirname "$0")/../.." && pwd)
n=${1:-500}
secs=${2:-5}
conns=${3:-4}
workers=${GALLEY_WORKERS:-2}
command -v wrk >/dev/null || { echo "lists.sh: wrk is missing (apt-get install wrk)" >&2; exit 2; }

. "$top/tests/bench/lib.sh"
bench_stack lists.sh
bench_tmp
bench_baseline "$workers"
bench_tokens
item=$(bench_item "Lists $$" 100)
echo "placing and paying $n orders..." >&2
bench_place "$n" "$TOKEN" "$item" | jq -r 'select(.status == "pending_payment") | .id' >"$BENCH_TMP/orders"
GALLEY_URL=$GALLEY_URL token=$TOKEN xargs -P 8 -I{} curl -sS -o /dev/null -X POST \
	-H "Authorization: Bearer $TOKEN" -H 'Content-Type: application/json' \
	--data-binary '{"order_id":"{}","payment_method":"pm_card_visa"}' "$GALLEY_URL/api/payments" <"$BENCH_TMP/orders"
bench_settle lists.sh 120

echo "machine: $(nproc) cores; $conns connections; $(grep -c . "$BENCH_TMP/orders") orders placed and paid"
echo "| target                                   |    req/s |       p50 |       p99 | errors |"
echo "|------------------------------------------|----------|-----------|-----------|--------|"
bench_row "hello (nginx -> FastCGI)" "$conns" "$secs" "http://127.0.0.1:$P_HELLO/"
auth=(-H "Authorization: Bearer $ADMIN")
bench_row "GET /api/orders?limit=50" "$conns" "$secs" "$GALLEY_URL/api/orders?limit=50" "${auth[@]}"
bench_row "GET /api/orders?status=ready&limit=50" "$conns" "$secs" "$GALLEY_URL/api/orders?status=ready&limit=50" "${auth[@]}"
bench_row "GET /api/kitchen/tickets?status=ready" "$conns" "$secs" "$GALLEY_URL/api/kitchen/tickets?status=ready&limit=50" "${auth[@]}"
