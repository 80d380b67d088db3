#!/usr/bin/env bash
# Operations benchmark (issue 7): what galley's three typical requests cost, and how
# throughput changes with the number of pools. In one run on this machine, with wrk:
#   static   nginx `return 200` (the ceiling)
#   hello    nginx -> FastCGI hello (tests/bench/hello.c), 1 pool x W workers (the floor
#            every galley number is compared with)
#   item     a cached menu item read with a customer's token (auth_request + Redis GET)
#   order    POST /api/orders, one line (auth, customer and item checks over HTTP, stock
#            reservation, insert)
#   ready    the whole round trip: place, pay (the simulated provider), and poll the order
#            until the kitchen made it ready; C clients in a loop, each timing its orders
# at 1, 2 and 4 pools of every service (bin/galley scale on the running stack).
#
# usage: GALLEY_KITCHEN_SECONDS_PER_ITEM=0 bin/galley up
#        tests/bench/scaling.sh [seconds-per-run] [connections] [pool counts...]
# (a cook's time per unit is the kitchen's business, not galley's cost: with 0 the round
# trip is the events' and the services' time)
set -euo pipefail
top=$(cd "$(dirname "$0")/../.." && pwd)
secs=${1:-5}
conns=${2:-8}
shift $(($# < 2 ? $# : 2))
pool_counts=("${@:-1 2 4}")
read -ra pool_counts <<<"${pool_counts[*]}"
command -v wrk >/dev/null || { echo "scaling.sh: wrk is missing (apt-get install wrk)" >&2; exit 2; }

. "$top/tests/bench/lib.sh"
bench_stack scaling.sh
bench_tmp
tmp=$BENCH_TMP
bench_baseline "${GALLEY_WORKERS:-2}"
bench_tokens
item=$(bench_item "Scaling pie" 250)
one="{\"lines\":[{\"item_id\":\"$item\",\"qty\":1}]}"
post=$(bench_post_script "$TOKEN" "$one")

# round_trip CLIENTS SECS: each client places, pays and polls its orders until ready, for
# SECS; prints a row: orders ready per second, p50 and p99 of their times.
round_trip() {
	local clients=$1 until=$((SECONDS + $2)) c started pids=()
	: >"$tmp/rt"
	started=$(date +%s%N)
	for ((c = 0; c < clients; c++)); do
		(
			while ((SECONDS < until)); do
				t0=$(date +%s%N)
				id=$(api POST /api/orders "$TOKEN" "$one" | jq -r '.id // empty')
				[ -n "$id" ] || { echo "fail" >>"$tmp/rt"; continue; }
				api POST /api/payments "$TOKEN" "{\"order_id\":\"$id\",\"payment_method\":\"pm_card_visa\"}" >/dev/null
				while :; do
					s=$(api GET "/api/orders/$id" "$TOKEN" | jq -r .status)
					[ "$s" = ready ] && break
					[ "$s" = cancelled ] && { echo "fail" >>"$tmp/rt"; continue 2; }
					((SECONDS < until + 60)) || { echo "fail" >>"$tmp/rt"; continue 2; }
					sleep 0.02
				done
				echo $((($(date +%s%N) - t0) / 1000000)) >>"$tmp/rt"
			done
		) &
		pids+=($!)
	done
	wait "${pids[@]}" # not a bare wait: the hello pool runs in the background too
	local took_ms=$((($(date +%s%N) - started) / 1000000)) ok fails
	ok=$(grep -c '^[0-9]' "$tmp/rt" || true)
	fails=$(grep -c fail "$tmp/rt" || true)
	sort -n "$tmp/rt" | grep '^[0-9]' >"$tmp/rt.sorted" || true
	pct() { awk -v p="$1" '{v[NR] = $1} END {if (NR) {i = int(NR * p / 100 + 0.999); if (i < 1) i = 1; print v[i] "ms"} else print "-"}' "$tmp/rt.sorted"; }
	printf '| %-40s | %8s | %9s | %9s | %s |\n' "order to ready, $clients clients" \
		"$(awk -v n="$ok" -v ms="$took_ms" 'BEGIN {printf "%.1f", n * 1000 / ms}')" "$(pct 50)" "$(pct 99)" \
		"$( ((fails == 0)) && echo none || echo "$fails failed")"
}

echo "machine: $(nproc) cores, $(awk '/MemTotal/ {print int($2/1048576)" GiB"}' /proc/meminfo); nginx $(nginx -v 2>&1 | sed 's/.*\///'); ${secs}s per run, $conns connections; workers per pool ${GALLEY_WORKERS:-2}; kitchen ${GALLEY_KITCHEN_SECONDS_PER_ITEM:-30} s per unit"
echo "| target                                   |    req/s |       p50 |       p99 | errors |"
echo "|------------------------------------------|----------|-----------|-----------|--------|"
bench_row "nginx return 200" "$conns" "$secs" "http://127.0.0.1:$P_STATIC/"
bench_row "hello (nginx -> FastCGI, 1 pool)" "$conns" "$secs" "http://127.0.0.1:$P_HELLO/"
for pools in "${pool_counts[@]}"; do
	for svc in $GALLEY_SERVICES; do "$top/bin/galley" scale "$svc" "$pools" >/dev/null; done
		bench_row "cached item read, $pools pools" "$conns" "$secs" "$GALLEY_URL/api/menu/items/$item" \
		-H "Authorization: Bearer $TOKEN"
	bench_row "order placement, $pools pools" "$conns" "$secs" "$GALLEY_URL/api/orders" -s "$post"
	round_trip "$conns" "$secs"
done
