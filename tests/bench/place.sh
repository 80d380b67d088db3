#!/usr/bin/env bash
# Issue 13's placement targets, in one run on this machine:
#   hello    nginx -> FastCGI hello (tests/bench/hello.c), 1 pool x W workers: the floor
#   spread   POST /api/orders, one line, CONNS connections (wrk, closed loop), each order of
#            one of ITEMS items at random: the peak (target 1,500/s with 16 and 50)
#   hot      the same with every order of one item (target 800/s): one item's stock is one
#            key that every reservation's script changes
#   calm     open loop at half the spread peak (vegeta, a fixed rate, the items in turn):
#            p50 and p99 of what was placed (target p99 <= 50 ms), and anything refused
# and, for the spread run, the stack's CPU, context switches and round trips per placement,
# counted until what the placements set off (their events' consumers, the kept writes) is
# handled. A placement is counted by the units the items have reserved (one a placement),
# not by wrk's answers. With GALLEY_BENCH_KEYED=1 each placement of the spread and hot runs
# carries an Idempotency-Key of its own, as the dashboard's POSTs do (lib/idem.h).
#
# usage: bin/galley up; [GALLEY_BENCH_KEYED=1] tests/bench/place.sh [seconds-per-run] [connections] [items]
set -euo pipefail
top=$(cd "$(dirname "$0")/../.." && pwd)
secs=${1:-5}
conns=${2:-16}
nitems=${3:-50}
workers=${GALLEY_WORKERS:-2}
command -v wrk >/dev/null || { echo "place.sh: wrk is missing (apt-get install wrk)" >&2; exit 2; }

. "$top/tests/bench/lib.sh"
bench_stack place.sh
vegeta=$(vegeta_path)
bench_tmp
tmp=$BENCH_TMP
bench_baseline "$workers"
p_hello=$P_HELLO
bench_tokens
echo "making $nitems items with a billion units each..." >&2
items=()
for ((i = 1; i <= nitems; i++)); do items+=("$(bench_item "Place $i $$" $((100 + i)))"); done

# reserved: the units all the items have reserved now (one a one-line placement).
reserved() {
	local id sum=0
	for id in "${items[@]}"; do sum=$((sum + $(api GET "/api/stock/$id" "$ADMIN" | jq .reserved))); done
	echo "$sum"
}
line() { printf '{"lines":[{"item_id":"%s","qty":1}]}' "$1"; }

# The wrk scripts: each request one of the items at random (spread) or the first (hot), with
# a key of its own when keyed (wrk's threads told apart by setup, each counting its own).
keyed=${GALLEY_BENCH_KEYED:-0}
wrk_script() { # pick: a Lua expression for the item's id
	echo 'local ids = {'
	printf '"%s",\n' "${items[@]}"
	echo '}'
	cat <<LUA
local threads, n = 0, 0
setup = function(thread) threads = threads + 1; thread:set("tid", threads) end
wrk.method = "POST"
wrk.headers["Content-Type"] = "application/json"
wrk.headers["Authorization"] = "Bearer $TOKEN"
request = function()
	n = n + 1
	if $keyed == 1 then wrk.headers["Idempotency-Key"] = "place-$$-$RANDOM-" .. tostring(tid) .. "-" .. n end
	return wrk.format(nil, nil, nil, '{"lines":[{"item_id":"' .. $1 .. '","qty":1}]}')
end
LUA
}
wrk_script 'ids[math.random(#ids)]' >"$tmp/spread.lua"
wrk_script 'ids[1]' >"$tmp/hot.lua"
hot=$tmp/hot.lua
# vegeta's targets: the items in turn, a body file each.
for ((i = 0; i < nitems; i++)); do
	line "${items[i]}" >"$tmp/body$i.json"
	printf 'POST %s/api/orders\nAuthorization: Bearer %s\nContent-Type: application/json\n@%s\n\n' \
		"$GALLEY_URL" "$TOKEN" "$tmp/body$i.json"
done >"$tmp/spread.targets"

# row NAME wrk-args...: a wrk run of secs over conns connections; sets RATE (not errors a second).
row() {
	local name=$1 out errs
	shift
	out=$(wrk -t2 -c"$conns" -d"${secs}s" --latency "$@" 2>&1)
	RATE=$(bench_good_rate <<<"$out")
	errs=$(awk '/Non-2xx|Socket errors/ {printf "%s ", $0}' <<<"$out")
	printf '| %-40s | %8s | %9s | %9s | %s |\n' "$name" "$RATE" \
		"$(awk '$1 == "50%" {print $2}' <<<"$out")" "$(awk '$1 == "99%" {print $2}' <<<"$out")" "${errs:-none}"
}

echo "placements with an Idempotency-Key each: $([ "$keyed" = 1 ] && echo yes || echo no)"
echo "machine: $(nproc) cores, $(awk '/MemTotal/ {print int($2/1048576)" GiB"}' /proc/meminfo); nginx $(nginx -v 2>&1 | sed 's/.*\///'); ${secs}s per run, $conns connections; pools of $workers workers: hello 1, each service ${GALLEY_POOLS:-2}"
echo "| target                                   |    req/s |       p50 |       p99 | errors |"
echo "|------------------------------------------|----------|-----------|-----------|--------|"
row "hello (nginx -> FastCGI)" "http://127.0.0.1:$p_hello/"
hello=$RATE
bench_settle place.sh 60
idle0=$(bench_trips)
idle1=$(bench_trips)
r0=$(reserved)
t0=$(bench_trips)
bench_cpu >"$tmp/cpu0"
row "placement, 1 line, one of $nitems items" "$GALLEY_URL/api/orders" -s "$tmp/spread.lua"
spread=$RATE
ran=$(now_ms)
bench_settle place.sh 120
after_ms=$(($(now_ms) - ran))
bench_cpu >"$tmp/cpu1"
t1=$(bench_trips)
placed=$(($(reserved) - r0))
row "placement, 1 line, all of one item" "$GALLEY_URL/api/orders" -s "$hot"
bench_settle place.sh 120
calm=$((spread / 2))
"$vegeta" attack -rate="$calm/1s" -duration="$((2 * secs))s" -timeout=10s -max-workers=2000 \
	-targets="$tmp/spread.targets" -format=http >"$tmp/calm.bin"
"$vegeta" encode -to=json "$tmp/calm.bin" >"$tmp/calm.json"
read -r c_rate c_p50 c_p99 c_codes _ <<<"$(bench_vegeta_summary "$tmp/calm.json" "$((2 * secs))")"
printf '| %-40s | %8s | %7sms | %7sms | statuses %s |\n' "open loop at $calm/s (half the spread)" \
	"$c_rate" "$c_p50" "$c_p99" "$c_codes"
echo "spread placements against hello: $(awk -v a="$spread" -v b="$hello" 'BEGIN {printf "%.3f", (b > 0) ? a / b : 0}')"
echo "orders placed in the spread run (units reserved): $placed"
echo "what they set off was handled $((after_ms / 100 / 10)).$((after_ms / 100 % 10)) s after the run"
echo "the stack's CPU per placement, and what it set off: $(bench_cpu_per "$tmp/cpu0" "$tmp/cpu1" "$placed")"
echo "context switches per placement, and what it set off: $(bench_switches_per "$tmp/cpu0" "$tmp/cpu1" "$placed")"
echo "round trips per placement (and what it sets off), every service: $(bench_per "$idle0" "$idle1" "$t0" "$t1" "$placed")"
