#!/usr/bin/env bash
# What the store keeps of an order, and for how long (issue 13, "flat with data";
# docs/capacity.md): N orders placed and paid as the dashboard does it (each POST with an
# Idempotency-Key), 8 at a time, cooked to ready; then the store's keys by family (an id in
# a key's name made ID): how many, their mean size (MEMORY USAGE), the TTL of one of them,
# and the bytes per order. The event streams are bounded by their MAXLEN, not by time:
# printed apart. And what the store's memory grew by, over the N orders.
#
# usage: GALLEY_KITCHEN_SECONDS_PER_ITEM=0 bin/galley up; tests/bench/memory.sh [orders]
set -euo pipefail
top=$(cd "$(dirname "$0")/../.." && pwd)
n=${1:-1000}

. "$top/tests/bench/lib.sh"
bench_stack memory.sh
bench_tmp
tmp=$BENCH_TMP
bench_tokens
item=$(bench_item "Memory $$" 150)
used() { bench_store INFO memory | awk -F: '/^used_memory:/ { print $2 + 0 }'; }
bench_settle memory.sh 60
used0=$(used)

echo "placing and paying $n orders..." >&2
bench_place "$n" "$TOKEN" "$item" | jq -r 'select(.status == "pending_payment") | .id' >"$tmp/orders"
placed=$(grep -c . "$tmp/orders" || true)
[ "$placed" = "$n" ] || { echo "memory.sh: $placed of $n orders placed" >&2; exit 1; }
GALLEY_URL=$GALLEY_URL token=$TOKEN run=$$$RANDOM xargs -P 8 -I{} sh -c \
	'curl -sS --retry 3 -o /dev/null -X POST -H "Authorization: Bearer $token" \
	-H "Content-Type: application/json" -H "Idempotency-Key: pay-$run-{}" \
	--data-binary "{\"order_id\":\"{}\",\"payment_method\":\"pm_card_visa\"}" \
	"$GALLEY_URL/api/payments"' <"$tmp/orders"
bench_settle memory.sh 120
ready=$(xargs -P 8 -I{} curl -sS -H "Authorization: Bearer $TOKEN" "$GALLEY_URL/api/orders/{}" \
	<"$tmp/orders" | jq -r .status | grep -c '^ready$' || true)
used1=$(used)

bench_store --scan >"$tmp/keys"
# family COUNT SAMPLE-KEY...: one line a family, the first 30 of its keys in the sample
sed -E 's/:[^:]*-[^:]*$/:KEY/; s/[0-9a-f]{24}/ID/g; s/:[0-9]+$/:N/' "$tmp/keys" |
	paste - "$tmp/keys" | sort -k1,1 >"$tmp/fam"
echo "orders placed and paid: $n, of them ready: $ready; the store's memory grew by $(((used1 - used0) / n)) bytes an order"
echo "| keys (an id in the name: ID) | keys | mean bytes | TTL of one | bytes an order |"
echo "|---|--:|--:|--:|--:|"
awk '{ print $1 }' "$tmp/fam" | uniq -c | while read -r count fam; do
	mapfile -t sample < <(awk -v f="$fam" '$1 == f { print $2 }' "$tmp/fam" | head -n 30)
	sizes=$(for k in "${sample[@]}"; do echo "MEMORY USAGE $k SAMPLES 0"; done | bench_store | awk '{ s += $1; c++ } END { if (c) printf "%d", s / c }')
	ttl=$(bench_store TTL "${sample[0]}")
	type=$(bench_store TYPE "${sample[0]}")
	if [ "$type" = stream ]; then
		echo "| $fam (a stream: $(bench_store XLEN "${sample[0]}") entries, MAXLEN bounds it) | $count | $sizes | $ttl | - |"
	else
		awk -v f="$fam" -v c="$count" -v s="$sizes" -v t="$ttl" -v n="$n" \
			'BEGIN { if (c * s / n >= 1) printf "| %s | %d | %d | %s | %.0f |\n", f, c, s, t, c * s / n }'
	fi
done | sort -t'|' -k6,6nr
