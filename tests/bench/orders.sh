#!/usr/bin/env bash
# What does placing an order cost next to the floor of the stack?  Measures,
# in one run on this machine, through nginx with wrk:
#   static   nginx `return 200` (the ceiling)
#   hello    nginx -> FastCGI hello (tests/bench/hello.c), 1 pool x W workers
#   item     a cached menu item read, token checked by auth_request
#   read     GET /api/orders/{id} as its customer: the order read from the store
#   order    POST /api/orders as a customer, 1 and 3 lines: auth_request, the
#            customer and item checks over HTTP, the stock reservation (a
#            ledger append per line), the insert of the order
# Every placed order reserves units: the items get a billion on hand first. The CPU and round
# trips per 1-line placement count what it sets off (its events' consumers, the kept writes)
# until the stack has handled it all (bench_settle).
#
# usage: bin/galley up; tests/bench/orders.sh [seconds-per-run] [connections]
set -euo pipefail
top=$(cd "$(dirname "$0")/../.." && pwd)
run=${GALLEY_RUN:-$top/.run}
secs=${1:-5}
conns=${2:-8}
workers=${GALLEY_WORKERS:-2}
command -v wrk >/dev/null || { echo "orders.sh: wrk is missing (apt-get install wrk)" >&2; exit 2; }
[ -f "$run/env" ] || { echo "orders.sh: no stack in $run: run bin/galley up first" >&2; exit 2; }
set -a; . "$run/env"; set +a

. "$top/tests/bench/lib.sh"
bench_tmp
tmp=$BENCH_TMP
# The baseline: a bare FastCGI responder behind its own nginx, same machine, same run.
bench_baseline "$workers"
p_static=$P_STATIC p_hello=$P_HELLO

# A customer, and three items with plenty of stock.
bench_tokens
admin=$ADMIN token=$TOKEN
items=()
for n in 1 2 3; do items+=("$(bench_item "Bench $n" $((n * 100)))"); done
one="{\"lines\":[{\"item_id\":\"${items[0]}\",\"qty\":1}]}"
three="{\"lines\":[{\"item_id\":\"${items[0]}\",\"qty\":1},{\"item_id\":\"${items[1]}\",\"qty\":2},{\"item_id\":\"${items[2]}\",\"qty\":1}]}"
order=$(api POST /api/orders "$token" "$three")
[ "$(jq -r .status <<<"$order")" = pending_payment ] ||
	{ echo "orders.sh: a test order was not placed" >&2; exit 1; }
before=$(api GET "/api/stock/${items[0]}" "$admin" | jq .reserved)
echo "machine: $(nproc) cores, $(awk '/MemTotal/ {print int($2/1048576)" GiB"}' /proc/meminfo); nginx $(nginx -v 2>&1 | sed 's/.*\///'); ${secs}s per run, $conns connections; pools of $workers workers: hello 1, each service ${GALLEY_POOLS:-2}"
echo "| target                                   |    req/s |       p50 |       p99 | errors |"
echo "|------------------------------------------|----------|-----------|-----------|--------|"
bench_row "nginx return 200" "$conns" "$secs" "http://127.0.0.1:$p_static/"
bench_row "hello (nginx -> FastCGI)" "$conns" "$secs" "http://127.0.0.1:$p_hello/"
bench_row "cached item read, with token" "$conns" "$secs" "$GALLEY_URL/api/menu/items/${items[0]}" -H "Authorization: Bearer $token"
bench_row "an order read, with token" "$conns" "$secs" "$GALLEY_URL/api/orders/$(jq -r .id <<<"$order")" -H "Authorization: Bearer $token"
bench_settle orders.sh 60
idle0=$(bench_trips)
idle1=$(bench_trips)
r0=$(api GET "/api/stock/${items[0]}" "$admin" | jq .reserved)
t0=$(bench_trips)
bench_cpu >"$BENCH_TMP/cpu0"
bench_row "order placement, 1 line" "$conns" "$secs" "$GALLEY_URL/api/orders" -s "$(bench_post_script "$token" "$one")"
bench_cpu >"$BENCH_TMP/cpu1"
# The costs per placement count its events' consumers and kept writes until they are done,
# however far they lag behind the run.
ran=$(now_ms)
bench_settle orders.sh 120
after_ms=$(($(now_ms) - ran))
bench_cpu >"$BENCH_TMP/cpu2"
t1=$(bench_trips)
placed=$(($(api GET "/api/stock/${items[0]}" "$admin" | jq .reserved) - r0))
bench_row "order placement, 3 lines" "$conns" "$secs" "$GALLEY_URL/api/orders" -s "$(bench_post_script "$token" "$three")"
after=$(api GET "/api/stock/${items[0]}" "$admin" | jq .reserved)
echo "orders placed during the runs (units of item 1 reserved): $((after - before))"
echo "CPU during the 1-line placements (share of one core): $(bench_cpu_share "$BENCH_TMP/cpu0" "$BENCH_TMP/cpu1" "$secs")"
echo "what the 1-line placements set off was handled $((after_ms / 100 / 10)).$((after_ms / 100 % 10)) s after their run"
echo "the stack's CPU per 1-line placement, and what it set off: $(bench_cpu_per "$BENCH_TMP/cpu0" "$BENCH_TMP/cpu2" "$placed")"
echo "context switches per 1-line placement, and what it set off: $(bench_switches_per "$BENCH_TMP/cpu0" "$BENCH_TMP/cpu2" "$placed")"
echo "round trips per 1-line placement (and what it sets off: events, their consumers), every service: $(bench_per "$idle0" "$idle1" "$t0" "$t1" "$placed")"
