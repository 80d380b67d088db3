#!/usr/bin/env bash
# galley-pool (fcgi/pool/) against spawn-fcgi + multiwatch, the pool it replaced, side by side in
# one run: the same binary behind each, the same nginx, runs interleaved (A B A B) so that
# whatever else the machine does falls on both alike:
#   hello   nginx -> FastCGI hello (tests/bench/hello.c): the bare pool, no scoreboard
#   menu    nginx -> a pool of the running stack's menu binary (its MongoDB and Redis), a
#           cached item read: under galley-pool each request also writes the scoreboard
# For each: requests/s, p50, p99, and the CPU time per request of the pool's processes
# (manager and workers) and of nginx, which holds on a machine doing other work too.
#
# usage: bin/galley up; tests/bench/pool.sh [seconds-per-run] [rounds]
# Needs wrk, spawn-fcgi and multiwatch (Debian packages; bin/galley no longer installs the
# last two).
set -euo pipefail
top=$(cd "$(dirname "$0")/../.." && pwd)
secs=${1:-5}
rounds=${2:-2}
workers=${GALLEY_WORKERS:-2}
for c in wrk spawn-fcgi multiwatch; do
	command -v "$c" >/dev/null || { echo "pool.sh: $c is missing (apt-get install $c)" >&2; exit 2; }
done
. "$top/tests/bench/lib.sh"
bench_stack pool.sh
build=${GALLEY_BUILD:-$top/build}
pool=$build/fcgi/pool/galley-pool
menu=$build/fcgi/menu/galley-menu
[ -x "$pool" ] && [ -x "$menu" ] || { echo "pool.sh: build $pool and $menu first" >&2; exit 2; }
bench_tmp
cc -O2 -o "$BENCH_TMP/hello" "$top/tests/bench/hello.c" -lfcgi
# start_pool NAME KIND BINARY: KIND mw (spawn-fcgi + multiwatch) or gp (galley-pool), on
# $BENCH_TMP/NAME.sock; its pid (the group) in PIDS[NAME].
declare -A PIDS
start_pool() {
	if [ "$2" = mw ]; then
		setsid spawn-fcgi -n -s "$BENCH_TMP/$1.sock" -M 0660 -- /usr/bin/multiwatch -f "$workers" -- "$3" \
			>"$BENCH_TMP/$1.log" 2>&1 &
	else
		setsid "$pool" --listen "unix:$BENCH_TMP/$1.sock" --workers "$workers" --name "$1-1" -- "$3" \
			>"$BENCH_TMP/$1.log" 2>&1 &
	fi
	PIDS[$1]=$!
}
stop_pools() { for p in "${PIDS[@]}"; do kill -TERM -- "-$p" 2>/dev/null || true; done; }
trap 'stop_pools; bench_cleanup' EXIT
start_pool hello-mw mw "$BENCH_TMP/hello"
start_pool hello-gp gp "$BENCH_TMP/hello"
start_pool menu-mw mw "$menu"
start_pool menu-gp gp "$menu"
who='fastcgi_param HTTP_X_USER_ID 5eed00000000000000000999; fastcgi_param HTTP_X_USER_ROLE staff;'
declare -A PORT
conf=""
for n in hello-mw hello-gp menu-mw menu-gp; do
	PORT[$n]=$(free_port)
	conf+="
  server { listen 127.0.0.1:${PORT[$n]}; location / { include /etc/nginx/fastcgi_params; $who fastcgi_pass unix:$BENCH_TMP/$n.sock; } }"
done
bench_nginx_start "$conf"
item=5eed00000000000000000101 # seeded by sql/menu
for n in "${!PORT[@]}"; do
	for _ in $(seq 1 100); do curl -sf -o /dev/null "http://127.0.0.1:${PORT[$n]}/api/menu/items/$item" && break; sleep 0.1; done
done

# ticks NAME: the CPU time (clock ticks) of pool NAME's processes and of the bench's nginx.
ticks() {
	local p t=0 n=0
	for p in $(pgrep -g "${PIDS[$1]}"); do
		t=$((t + $(awk '{ print $14 + $15 }' "/proc/$p/stat" 2>/dev/null || echo 0)))
	done
	for p in $(cat "$BENCH_TMP/nginx.pid") $(pgrep -P "$(cat "$BENCH_TMP/nginx.pid")"); do
		n=$((n + $(awk '{ print $14 + $15 }' "/proc/$p/stat" 2>/dev/null || echo 0)))
	done
	echo "$t $n"
}
hz=$(getconf CLK_TCK)
printf '| %-30s | %7s | %8s | %8s | %13s | %14s | %s |\n' run req/s p50 p99 "pool CPU/req" "nginx CPU/req" errors
printf '|%s|\n' "--------------------------------|---------|----------|----------|---------------|----------------|-------"
for ((r = 1; r <= rounds; r++)); do
	for n in hello-mw hello-gp menu-mw menu-gp; do
		before=$(ticks "$n")
		out=$(wrk -t2 -c8 -d"${secs}s" --latency "http://127.0.0.1:${PORT[$n]}/api/menu/items/$item" 2>&1)
		after=$(ticks "$n")
		reqs=$(awk '/requests in/ {print $1}' <<<"$out")
		read -r pa na <<<"$before"
		read -r pb nb <<<"$after"
		label=$n
		label=${label/-mw/ spawn-fcgi+multiwatch}
		label=${label/-gp/ galley-pool}
		printf '| %-30s | %7s | %8s | %8s | %10.1f us | %11.1f us | %s |\n' "$label (round $r)" \
			"$(awk '/Requests\/sec/ {print int($2)}' <<<"$out")" \
			"$(awk '$1 == "50%" {print $2}' <<<"$out")" "$(awk '$1 == "99%" {print $2}' <<<"$out")" \
			"$(awk -v d=$((pb - pa)) -v n="$reqs" -v hz="$hz" 'BEGIN { print d * 1e6 / hz / n }')" \
			"$(awk -v d=$((nb - na)) -v n="$reqs" -v hz="$hz" 'BEGIN { print d * 1e6 / hz / n }')" \
			"$(awk '/Non-2xx|Socket errors/ {printf "%s ", $0}' <<<"$out")"
	done
done
