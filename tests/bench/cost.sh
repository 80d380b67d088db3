#!/usr/bin/env bash
# What a request costs the service that answers it, against the rate it comes at. Open loop
# (vegeta, a fixed rate) at each RATE for SECS seconds, in one run:
#   read   GET /api/menu/items/{id} with a customer's token (nginx's cached check, menu's
#          near copy): menu's CPU a request
#   hello  nginx -> FastCGI hello (tests/bench/hello.c, under the same pool manager with as
#          many workers as menu has): the bare round trip's CPU a request
# CPU is every thread of the pools' processes (schedstat, nanoseconds), divided by the
# requests sent. The stack, the bench's nginx and hello run on CPU 0, vegeta on CPU 1.
# Why it matters: a worker that finds the next request waiting serves it without sleeping;
# one that waits in accept sleeps and is woken for each. So a request costs more at a low
# rate than at the peak, and "half the peak rate" is more than half a service's CPU
# (overload.sh sizes its normal load by this; docs/performance.md, "Normal is half the
# quota, not half the peak").
# usage: bin/galley up (a plain build); tests/bench/cost.sh [seconds] [rate...]
set -euo pipefail
top=$(cd "$(dirname "$0")/../.." && pwd)
secs=${1:-8}
shift || true
rates=("$@")
[ ${#rates[@]} -gt 0 ] || rates=(100 300 600 1000 1600)

. "$top/tests/bench/lib.sh"
bench_stack cost.sh
vegeta=$(vegeta_path)
bench_tmp
tmp=$BENCH_TMP
menu_pids=$(bench_svc_pids menu)
workers=$(($(wc -w <<<"$menu_pids") - ${GALLEY_MENU_POOLS:-${GALLEY_POOLS:-2}}))
bench_baseline "$workers"
hello_pids="$bench_hello_pid $(pgrep -P "$bench_hello_pid" | tr '\n' ' ')"
bench_pin_stack 0
for p in $hello_pids $(cat "$tmp/nginx.pid") $(pgrep -P "$(cat "$tmp/nginx.pid")"); do
	taskset -a -p -c 0 "$p" >/dev/null
done
tool_cpu=$(($(nproc) > 1 ? 1 : 0))
bench_tokens
item=$(bench_item "Cost soup" 300)
printf 'GET %s/api/menu/items/%s\nAuthorization: Bearer %s\n\n' "$GALLEY_URL" "$item" "$TOKEN" >"$tmp/read.targets"
printf 'GET http://127.0.0.1:%s/\n\n' "$P_HELLO" >"$tmp/hello.targets"

# cost NAME RATE PIDS...: "CPU-MS P50 P99 CODES", the PIDS' CPU a request at RATE.
cost() {
	local name=$1 rate=$2 a b
	shift 2
	bench_settle cost.sh 30
	a=$(bench_ns "$@")
	taskset -c "$tool_cpu" "$vegeta" attack -rate="$rate/1s" -duration="${secs}s" -timeout=10s \
		-targets="$tmp/$name.targets" -format=http >"$tmp/$name.bin"
	b=$(bench_ns "$@")
	"$vegeta" encode -to=json "$tmp/$name.bin" >"$tmp/$name.json"
	read -r _ p50 p99 codes _ <<<"$(bench_vegeta_summary "$tmp/$name.json" "$secs")"
	echo "$(awk -v a="$a" -v b="$b" -v n="$((rate * secs))" 'BEGIN {printf "%.3f", (b - a) / 1e6 / n}') $p50 $p99 $codes"
}

echo "menu's $workers workers and hello's $workers on CPU 0 with the rest of the stack; vegeta on CPU $tool_cpu; ${secs}s a rate"
echo
echo "| rate/s | read: menu's CPU a request, p50, p99 (statuses) | hello: CPU a request, p50, p99 (statuses) | read / hello |"
echo "|-------:|-------------------------------------------------|-------------------------------------------|-------------:|"
for r in "${rates[@]}"; do
	read -r rc rp50 rp99 rcodes <<<"$(cost read "$r" $menu_pids)"
	read -r hc hp50 hp99 hcodes <<<"$(cost hello "$r" $hello_pids)"
	printf '| %6s | %s ms: %s ms, %s ms (%s) | %s ms: %s ms, %s ms (%s) | %.2fx |\n' "$r" "$rc" "$rp50" "$rp99" "$rcodes" \
		"$hc" "$hp50" "$hp99" "$hcodes" "$(awk -v a="$rc" -v b="$hc" 'BEGIN {print (b > 0) ? a / b : 0}')"
done
api POST /api/auth/logout "$TOKEN" >/dev/null || true
api POST /api/auth/logout "$ADMIN" >/dev/null || true
