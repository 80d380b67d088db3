#!/usr/bin/env bash
# What does paying an order cost next to the floor of the stack?  In one run on this
# machine, through nginx with wrk:
#   static   nginx `return 200` (the ceiling)
#   hello    nginx -> FastCGI hello (tests/bench/hello.c), 1 pool x W workers
#   payment  POST /api/payments for orders placed beforehand, each paid once: auth_request,
#            the order read where orders keeps it, the payment's record, authorize at the
#            provider, the reservation committed in stock, capture, the order.paid event
#            (staged in the outbox, the write, XADD)
# The CPU and round trips per payment count what each payment sets off (order.paid followed
# by orders and the kitchen, the kept writes to MongoDB) until the stack has handled it all
# (bench_settle), however far that lags behind the run.
# The provider is whatever the stack uses: the simulated one on loopback unless the stack
# was started with GALLEY_PAYMENT_KEY (do not point this at a real account).
#
# usage: bin/galley up; tests/bench/payments.sh [orders] [connections]
set -euo pipefail
top=$(cd "$(dirname "$0")/../.." && pwd)
run=${GALLEY_RUN:-$top/.run}
n=${1:-400}
conns=${2:-8}
workers=${GALLEY_WORKERS:-2}
command -v wrk >/dev/null || { echo "payments.sh: wrk is missing (apt-get install wrk)" >&2; exit 2; }
[ -f "$run/env" ] || { echo "payments.sh: no stack in $run: run bin/galley up first" >&2; exit 2; }
set -a; . "$run/env"; set +a
[ "${GALLEY_PAYMENT_SIMULATED:-0}" = 1 ] ||
	{ echo "payments.sh: the stack pays through a real provider; start it without GALLEY_PAYMENT_KEY" >&2; exit 2; }

. "$top/tests/bench/lib.sh"
bench_tmp
tmp=$BENCH_TMP
bench_baseline "$workers"
p_static=$P_STATIC p_hello=$P_HELLO
bench_tokens
token=$TOKEN
item=$(bench_item "Bench pay" 100)

# The orders to pay, placed first (their reservations must outlive the run: 15 min by default).
echo "placing $n orders..." >&2
bench_place "$n" "$token" "$item" | jq -r 'select(.status == "pending_payment") | .id' >"$tmp/orders"
[ "$(grep -c '^[0-9a-f]\{24\}$' "$tmp/orders")" = "$n" ] || { echo "payments.sh: not every order was placed" >&2; exit 1; }
{
	echo 'local ids = {'
	sed 's/.*/"&",/' "$tmp/orders"
	echo '}'
	cat <<LUA
local i = 0
wrk.method = "POST"
wrk.headers["Content-Type"] = "application/json"
wrk.headers["Authorization"] = "Bearer $token"
request = function()
	i = i + 1
	if i > #ids then i = 1 end -- past the end: repeats, answered 409 (counted as errors)
	return wrk.format(nil, nil, nil, '{"order_id":"' .. ids[i] .. '","payment_method":"pm_card_visa"}')
end
LUA
} >"$tmp/pay.lua"

bench() { # name url secs threads wrk-args...
	local name=$1 url=$2 secs=$3 threads=$4 out errs
	shift 4
	((threads <= conns)) || threads=$conns
	out=$(wrk -t"$threads" -c"$conns" -d"${secs}s" --latency "$@" "$url" 2>&1)
	errs=$(awk '/Non-2xx|Socket errors/ {printf "%s ", $0}' <<<"$out")
	# req/s counts the answers that were not errors: a run that walks past the end of the
	# orders is answered 409 for each repeat, fast, which wrk's own rate would count.
	printf '| %-34s | %8s | %9s | %9s | %s |\n' "$name" "$(bench_good_rate <<<"$out")" \
		"$(awk '$1 == "50%" {print $2}' <<<"$out")" "$(awk '$1 == "99%" {print $2}' <<<"$out")" "${errs:-none}"
	echo "$out" >"$tmp/last.out"
}
echo "machine: $(nproc) cores, $(awk '/MemTotal/ {print int($2/1048576)" GiB"}' /proc/meminfo); nginx $(nginx -v 2>&1 | sed 's/.*\///'); $conns connections; pools of $workers workers: hello 1, each service ${GALLEY_POOLS:-2}"
echo "| target                             |    req/s |       p50 |       p99 | errors |"
echo "|------------------------------------|----------|-----------|-----------|--------|"
bench "nginx return 200" "http://127.0.0.1:$p_static/" 5 2
bench "hello (nginx -> FastCGI)" "http://127.0.0.1:$p_hello/" 5 2
bench_settle payments.sh 60 # the placements' events and kept writes, not counted below
idle0=$(bench_trips)
idle1=$(bench_trips)
t0=$(bench_trips)
# One wrk thread, so the list is walked once in order; the run is cut to about n payments.
bench_cpu >"$tmp/cpu0"
bench "payment (authorize, commit, capture)" "$GALLEY_URL/api/payments" "${PAY_SECS:-5}" 1 -s "$tmp/pay.lua"
bench_cpu >"$tmp/cpu1"
# The costs per payment count what the payments set off (order.paid and the kitchen's events
# handled, the kept writes) until it is done, however far it lags behind the run.
ran=$(now_ms)
bench_settle payments.sh 120
after_ms=$(($(now_ms) - ran))
bench_cpu >"$tmp/cpu2"
t1=$(bench_trips)
paid=$(xargs -P 8 -I{} \
	curl -sS -H "Authorization: Bearer $token" "$GALLEY_URL/api/payments/{}" <"$tmp/orders" |
	jq -r .status | grep -c '^succeeded$' || true)
echo "orders paid during the run: $paid of $n"
echo "CPU during the run (share of one core): $(bench_cpu_share "$tmp/cpu0" "$tmp/cpu1" "${PAY_SECS:-5}")"
echo "what the payments set off was handled $((after_ms / 100 / 10)).$((after_ms / 100 % 10)) s after the run"
echo "the stack's CPU per payment paid during the run, and what it set off: $(bench_cpu_per "$tmp/cpu0" "$tmp/cpu2" "$paid")"
echo "context switches per payment, and what it set off: $(bench_switches_per "$tmp/cpu0" "$tmp/cpu2" "$paid")"
echo "round trips per payment (and what it sets off: the kitchen, orders following), every service: $(bench_per "$idle0" "$idle1" "$t0" "$t1" "$paid")"
