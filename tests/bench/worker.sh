#!/usr/bin/env bash
# What one request costs the worker that answers it, against the bare FastCGI hello, in one
# run: a bare nginx (one worker) straight to the pools, past auth_request, the caller given
# as the stack's nginx gives it, wrk with C connections, and each pool's CPU (schedstat) a
# request:
#   hello      tests/bench/hello.c under galley-pool (W workers): the floor
#   item       GET /api/menu/items/{id}, cached: menu's request path and one Redis GET
#   unknown    GET /api/menu/items/{an id no item has}: the cache's miss, MongoDB, the 404
#   refused    POST /api/orders stamped as queued a long time ago: orders' admission
#              (lib/admit.h) refuses it, the 503 of a burst
# Printed per row: answers a second, the workers' main threads' CPU a request (the
# request path) and their other threads' (consumers, ticks: nothing a request sets off
# here, so this is their idle cost), and nginx's.
#
# usage: bin/galley up; tests/bench/worker.sh [seconds-per-run] [connections]
set -euo pipefail
top=$(cd "$(dirname "$0")/../.." && pwd)
secs=${1:-5}
conns=${2:-8}
command -v wrk >/dev/null || { echo "worker.sh: wrk is missing (apt-get install wrk)" >&2; exit 2; }

. "$top/tests/bench/lib.sh"
bench_stack worker.sh
bench_tmp
bench_hello_start "${GALLEY_WORKERS:-2}"
bench_tokens
item=$(bench_item "Worker broth $$" 300)
unknown=5eed00000000000000000001
pools() { for s in "$GALLEY_RUN"/sock/"$1"-*.sock; do echo "server unix:$s;"; done; }
p=$(free_port)
who='fastcgi_param HTTP_X_USER_ID 5eed00000000000000000999; fastcgi_param HTTP_X_USER_ROLE staff;'
# GALLEY_QUEUED_AT as the stack's nginx passes it ($msec), but a day old: every write waited.
stale='fastcgi_param GALLEY_QUEUED_AT 1000000000.000; fastcgi_param GALLEY_EDGE_TIME 0.000;'
bench_nginx_start "
  upstream hello { server unix:$HELLO_SOCK; }
  upstream menu { $(pools menu) }
  upstream orders { $(pools orders) }
  server {
    listen 127.0.0.1:$p;
    location = /hello { include /etc/nginx/fastcgi_params; fastcgi_pass hello; }
    location /api/menu/ { include /etc/nginx/fastcgi_params; $who fastcgi_pass menu; }
    location /api/orders { include /etc/nginx/fastcgi_params; $who $stale fastcgi_pass orders; }
  }"
for _ in $(seq 50); do curl -fs -o /dev/null "http://127.0.0.1:$p/hello" && break; sleep 0.1; done
# An order no worker could place: one that came to a free worker (admitted, admit.h) fails
# validation at once rather than placing anything.
post=$(bench_post_script x '{"lines":[]}')
nginx_pids=$(pgrep -P "$(cat "$BENCH_TMP/nginx.pid")")
hello_pids="$bench_hello_pid $(pgrep -P "$bench_hello_pid" | tr '\n' ' ')"

# row NAME PIDS URL [wrk args...]: one wrk run; the CPU of PIDS and of nginx a request.
row() {
	local name=$1 pids=$2 url=$3 out n a b c d
	shift 3
	read -r a b <<<"$(bench_ns_split $pids)"
	c=$(bench_ns $nginx_pids)
	out=$(wrk -t1 -c"$conns" -d"${secs}s" "$@" "$url" 2>&1)
	read -r n d <<<"$(bench_ns_split $pids)"
	n=$((n - a)) d=$((d - b)) c=$(($(bench_ns $nginx_pids) - c))
	awk -v name="$name" -v out="$out" -v main="$n" -v other="$d" -v ngx="$c" -v secs="$secs" 'BEGIN {
		split(out, lines, "\n"); for (i in lines) {
			if (lines[i] ~ /requests in/) { split(lines[i], f, " "); reqs = f[1] }
			if (lines[i] ~ /Non-2xx/) { k = split(lines[i], f, " "); bad = f[k] } }
		if (reqs < 1) reqs = 1
		printf "| %-8s | %7d | %9.1f | %9.1f | %7.1f | %7d |\n", name, reqs / secs,
			main / reqs / 1000, other / reqs / 1000, ngx / reqs / 1000, bad / secs }'
}

bench_settle worker.sh 60 # the stack's own start-up work, not counted
echo "$conns connections, ${secs}s a row; the workers' CPU a request (us): main threads (the request) and the others"
echo "| request  |   req/s |   main us | others us | nginx us | non-2xx/s |"
echo "|----------|---------|-----------|-----------|----------|-----------|"
row hello "$hello_pids" "http://127.0.0.1:$p/hello"
row item "$(bench_svc_pids menu)" "http://127.0.0.1:$p/api/menu/items/$item"
row unknown "$(bench_svc_pids menu)" "http://127.0.0.1:$p/api/menu/items/$unknown"
row refused "$(bench_svc_pids orders)" "http://127.0.0.1:$p/api/orders" -s "$post"
api POST /api/auth/logout "$TOKEN" >/dev/null || true
api POST /api/auth/logout "$ADMIN" >/dev/null || true
