#!/usr/bin/env bash
# Order to ready (issue 13): how long after its payment is an order ready, when the kitchen
# takes no time? One client: place an order, pay it, then ask for it every 5 ms until it is
# ready; N orders one after another, so each measures the events' path alone (payments →
# order.paid → kitchen → order.preparing, order.ready → orders), not queueing.
#
# usage: GALLEY_KITCHEN_SECONDS_PER_ITEM=0 bin/galley up
#        tests/bench/ready.sh [orders]
# prints a row: orders, pay→ready p50, p90, p99, max, and place→ready p50; then the round
# trips to MongoDB and to Redis per order (place + pay + everything up to ready, summed over
# every service from /metrics, less what the stack does idle in the same time).
set -euo pipefail
top=$(cd "$(dirname "$0")/../.." && pwd)
n=${1:-100}

. "$top/tests/bench/lib.sh"
bench_stack ready.sh
bench_tmp
tmp=$BENCH_TMP
bench_tokens
item=$(bench_item "Ready pie" 250)

# Round trips so far, every service: "DB REDIS".
trips() {
	curl -sS "$GALLEY_INTERNAL_URL/metrics" |
		awk '/^galley_db_ops_total\{/ { d += $2 } /^galley_redis_ops_total\{/ { r += $2 } END { printf "%d %d\n", d, r }'
}
settle() { sleep 2.5; } # metrics reach Redis about once a second
settle
read -r d0 r0 <<<"$(trips)"
i0=$(now_ms)
sleep 5
read -r d1 r1 <<<"$(trips)"
idle_ms=$(($(now_ms) - i0))

: >"$tmp/pay" && : >"$tmp/all"
b0=$(now_ms)
for ((i = 0; i < n; i++)); do
	t0=$(now_ms)
	id=$(api POST /api/orders "$TOKEN" "{\"lines\":[{\"item_id\":\"$item\",\"qty\":1}]}" | jq -r '.id // empty')
	[ -n "$id" ] || { echo "ready.sh: a placement failed" >&2; exit 1; }
	code=$(curl -sS -o /dev/null -w '%{http_code}' -X POST -H "Authorization: Bearer $TOKEN" \
		-H 'Content-Type: application/json' --data-binary "{\"order_id\":\"$id\",\"payment_method\":\"pm_card_visa\"}" \
		"$GALLEY_URL/api/payments")
	[ "$code" = 201 ] || { echo "ready.sh: a payment answered $code" >&2; exit 1; }
	t1=$(now_ms)
	until curl -sS -H "Authorization: Bearer $TOKEN" "$GALLEY_URL/api/orders/$id" | grep -q '"status":"ready"'; do
		(($(now_ms) - t1 < 30000)) || { echo "ready.sh: order $id not ready after 30 s" >&2; exit 1; }
		sleep 0.005
	done
	t2=$(now_ms)
	echo $((t2 - t1)) >>"$tmp/pay"
	echo $((t2 - t0)) >>"$tmp/all"
done
settle
read -r d2 r2 <<<"$(trips)"
busy_ms=$(($(now_ms) - b0))
per_order() { # BEFORE-IDLE AFTER-IDLE BEFORE AFTER: (used - idle rate × busy time) / n
	awk -v a="$1" -v b="$2" -v c="$3" -v d="$4" -v i="$idle_ms" -v t="$busy_ms" -v n="$n" \
		'BEGIN { printf "%.1f", ((d - c) - (b - a) * t / i) / n }'
}
pct() { sort -n "$1" | awk -v p="$2" '{v[NR] = $1} END {i = int(NR * p / 100 + 0.999); if (i < 1) i = 1; print v[i]}'; }
echo "| orders | pay→ready p50 | p90 | p99 | max | place→ready p50 |"
echo "|--------|---------------|-----|-----|-----|-----------------|"
printf '| %6d | %10s ms | %s ms | %s ms | %s ms | %12s ms |\n' "$n" "$(pct "$tmp/pay" 50)" "$(pct "$tmp/pay" 90)" \
	"$(pct "$tmp/pay" 99)" "$(pct "$tmp/pay" 100)" "$(pct "$tmp/all" 50)"
echo "round trips per order, every service: MongoDB $(per_order "$d0" "$d1" "$d1" "$d2"), Redis $(per_order "$r0" "$r1" "$r1" "$r2") (idle: $(((d1 - d0) * 1000 / idle_ms)) MongoDB and $(((r1 - r0) * 1000 / idle_ms)) Redis round trips a second)"
