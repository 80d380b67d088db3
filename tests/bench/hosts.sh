#!/usr/bin/env bash
# Pools on other hosts (issue 16): how reads and placements grow with the hosts that run
# menu's and orders' pools. Four hosts simulated as in tests/e2e/63-hosts.sh (network
# namespaces on a bridge, 127.A.B.0/24, each under a CPU quota: 25% of a core by default,
# cgroup v1), a stack of the benchmark's own on their private address (menu and orders with
# no local pool: GALLEY_POOLS_FILE at up names host 1, `scale --hosts` the others), and in
# one run, with menu's and orders' pools on 1, 2 and 4 hosts:
#   item    a cached menu item read with a customer's token (auth_request + the cache)
#   order   POST /api/orders, one line (customer and item checks over HTTP, the stock
#           reservation, the write)
# Each row: the rate, its ratio to the 1-host rate, each host's CPU use (the quota is
# what a host has: at the quota it is the limit) and the stack's busiest parts on this
# machine (share of one core: a part near 100% is where it stops), and the CPU per
# request of the stack (tests/bench/lib.sh's bench_cpu_per) and of the hosts.
#
# usage (as root): tests/bench/hosts.sh [seconds-per-run] [connections] [quota-us]
# (defaults 8, 96, 25000). The stack lets 64 requests per worker in flight
# (GALLEY_INFLIGHT_PER_WORKER, else 8: at 1 host 16, and more connections get 503s): a host
# under a quota runs a slice of each 100 ms period, and with few requests queued at it that
# slice is spent on waking up for each, not on requests (measured: 32 connections gave 2.8x
# at 4 hosts where 96 gave 3.8x, the hosts at their quota either way).
# It starts and stops everything it uses; GALLEY_BUILD names the build (default build/).
set -euo pipefail
top=$(cd "$(dirname "$0")/../.." && pwd)
secs=${1:-8}
conns=${2:-96}
quota=${3:-25000}
((EUID == 0)) || { echo "hosts.sh: needs root (ip netns, cgroups)" >&2; exit 2; }
command -v wrk >/dev/null || { echo "hosts.sh: wrk is missing (apt-get install wrk)" >&2; exit 2; }

. "$top/tests/bench/lib.sh"
. "$top/tests/e2e/hosts.sh"
bench_tmp
tmp=$BENCH_TMP
cleanup() {
	hosts_cleanup
	bench_cleanup
}
trap cleanup EXIT

export GALLEY_BUILD=${GALLEY_BUILD:-$top/build}
hosts_make 4 "$quota" || { echo "hosts.sh: could not make the hosts" >&2; exit 1; }
printf 'menu %s:9000\norders %s:9010\n' "${HOST_ADDR[1]}" "${HOST_ADDR[1]}" >"$tmp/pools"
hosts_stack_up "$tmp/run" GALLEY_POOLS=1 GALLEY_WORKERS=2 GALLEY_MENU_POOLS=0 GALLEY_ORDERS_POOLS=0 \
	GALLEY_INFLIGHT_PER_WORKER="${GALLEY_INFLIGHT_PER_WORKER:-64}" \
	GALLEY_POOLS_FILE="$tmp/pools" GALLEY_KITCHEN_SECONDS_PER_ITEM=0 GALLEY_LOG_LEVEL=warn \
	>"$tmp/up.log" 2>&1 || { tail -n 20 "$tmp/up.log" >&2; exit 1; }
for i in 1 2 3 4; do
	host_pool "$i" menu 9000 || { echo "hosts.sh: no menu pool on host $i" >&2; exit 1; }
	host_pool "$i" orders 9010 || { echo "hosts.sh: no orders pool on host $i" >&2; exit 1; }
done
export GALLEY_RUN=$tmp/run
bench_stack hosts.sh
for _ in $(seq 1 100); do
	[ "$(curl -s -o /dev/null -w '%{http_code}' "$GALLEY_URL/api/menu/readyz")" = 200 ] &&
		[ "$(curl -s -o /dev/null -w '%{http_code}' "$GALLEY_URL/api/orders/readyz")" = 200 ] && break
	sleep 0.1
done
bench_tokens
item=$(bench_item "Hosts pie" 250)
post=$(bench_post_script "$TOKEN" "{\"lines\":[{\"item_id\":\"$item\",\"qty\":1}]}")

# hosts_cpu: "I MS" a line, each host's CPU so far.
hosts_cpu() { for i in 1 2 3 4; do echo "$i $(host_cpu_ms "$i")"; done; }

# run NAME HOSTS URL [wrk args...]: one wrk run, a table row with the rate, its ratio to
# the 1-host rate of NAME, the hosts' CPU and the stack's busiest parts.
declare -A base=()
run() {
	local name=$1 n=$2 url=$3 out rate errs ratio hosts_line t0 t1
	shift 3
	bench_cpu >"$tmp/cpu0"
	hosts_cpu >"$tmp/h0"
	t0=$(now_ms)
	out=$(wrk -t2 -c"$conns" -d"${secs}s" --latency "$@" "$url" 2>&1)
	t1=$(now_ms)
	bench_cpu >"$tmp/cpu1"
	hosts_cpu >"$tmp/h1"
	# The rate of answers that succeeded (wrk's own counts the 503s of nginx's bounded
	# queue too: at most pools x workers x GALLEY_INFLIGHT_PER_WORKER in flight).
	rate=$(awk -v ms=$((t1 - t0)) '/requests in/ { n = $1 } /Non-2xx/ { bad = $NF }
		END { printf "%d", (n - bad) * 1000 / ms }' <<<"$out")
	errs=$(awk '/Non-2xx|Socket errors/ {printf "%s ", $0}' <<<"$out")
	[ -n "${base[$name]:-}" ] || base[$name]=$rate
	ratio=$(awk -v a="$rate" -v b="${base[$name]}" 'BEGIN { printf "%.2f", b ? a / b : 0 }')
	# Each host's CPU over the run, in % of one core (the quota is the most it can have).
	hosts_line=$(join "$tmp/h0" "$tmp/h1" | awk -v ms=$((t1 - t0)) -v n="$n" \
		'$1 <= n { printf "%s%d%%", sep, 100 * ($3 - $2) / ms; sep = " " }')
	local reqs
	reqs=$(awk '/requests in/ { n = $1 } /Non-2xx/ { bad = $NF } END { print n - bad }' <<<"$out")
	printf '| %-26s | %6s | %5s | %-15s | %-44s | %s | %s |\n' "$name, $n host$([ "$n" = 1 ] || echo s)" \
		"$rate" "${ratio}x" "$hosts_line" "$(bench_cpu_share "$tmp/cpu0" "$tmp/cpu1" $(((t1 - t0) / 1000)) | cut -d, -f1-4)" \
		"$(bench_cpu_per "$tmp/cpu0" "$tmp/cpu1" "$reqs" | cut -d' ' -f1-2) + hosts $(join "$tmp/h0" "$tmp/h1" |
			awk -v r="$reqs" -v n="$n" '$1 <= n { d += $3 - $2 } END { printf "%.2f ms", r ? d / r : 0 }')" "${errs:-none}"
}

echo "machine: $(nproc) cores, load $(cut -d' ' -f1-3 /proc/loadavg); hosts: 4 x $((quota / 1000))% of a core (cfs_quota_us $quota / 100000); ${secs}s per run, $conns connections; 2 workers a pool; nginx ${GALLEY_NGINX_WORKERS:-auto} workers"
echo "| run                        |  req/s | ratio | hosts' CPU      | this machine's busiest (share of one core)   | CPU per request | errors |"
echo "|----------------------------|--------|-------|-----------------|----------------------------------------------|-----------------|--------|"
hosts_list() { local i l=""; for ((i = 1; i <= $1; i++)); do l+="${l:+,}${HOST_ADDR[i]}:$2"; done; echo "$l"; }
for n in 1 2 4; do
	"$top/bin/galley" scale menu --hosts "$(hosts_list "$n" 9000)" >/dev/null
	"$top/bin/galley" scale orders --hosts "$(hosts_list "$n" 9010)" >/dev/null
	run "cached item read" "$n" "$GALLEY_URL/api/menu/items/$item" -H "Authorization: Bearer $TOKEN"
	run "order placement" "$n" "$GALLEY_URL/api/orders" -s "$post"
done
