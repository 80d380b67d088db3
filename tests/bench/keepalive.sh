#!/usr/bin/env bash
# Does upstream keep-alive (nginx `keepalive` + `fastcgi_keep_conn on`) help
# galley's libfcgi pools?  Measures, in one run on this machine:
#   static   nginx `return 200` (the ceiling)
#   hello    nginx -> FastCGI hello (tests/bench/hello.c), 1 pool x W workers
#   menu     nginx -> the running stack's menu pools, a cached item read
# each with and without upstream keep-alive, at two client concurrencies.
#
# usage: bin/galley up; tests/bench/keepalive.sh [seconds-per-run]
# Needs wrk (Debian: wrk).  Reads the stack's sockets from $GALLEY_RUN (.run).
set -euo pipefail
top=$(cd "$(dirname "$0")/../.." && pwd)
run=${GALLEY_RUN:-$top/.run}
secs=${1:-5}
workers=${GALLEY_WORKERS:-2}
command -v wrk >/dev/null || { echo "keepalive.sh: wrk is missing (apt-get install wrk)" >&2; exit 2; }
menu_socks=$(ls "$run"/sock/menu-*.sock 2>/dev/null) || true
[ -n "$menu_socks" ] || { echo "keepalive.sh: no menu pools under $run/sock: run bin/galley up first" >&2; exit 2; }

. "$top/tests/bench/lib.sh"
bench_tmp
bench_hello_start "$workers"
p_static=$(free_port) p_hc=$(free_port) p_hk=$(free_port) p_mc=$(free_port) p_mk=$(free_port)
menu_servers=$(for s in $menu_socks; do echo "server unix:$s;"; done)
# Straight to the menu pools, past auth_request: the caller is given as nginx would.
who='fastcgi_param HTTP_X_USER_ID 5eed00000000000000000999; fastcgi_param HTTP_X_USER_ROLE staff;'
bench_nginx_start "
  upstream hello_close { server unix:$HELLO_SOCK; }
  upstream hello_keep  { server unix:$HELLO_SOCK; keepalive 8; }
  upstream menu_close  { $menu_servers }
  upstream menu_keep   { $menu_servers keepalive 8; }
  server { listen 127.0.0.1:$p_static; location / { return 200 '{\"hello\":\"world\"}'; } }
  server { listen 127.0.0.1:$p_hc; location / { include /etc/nginx/fastcgi_params; fastcgi_pass hello_close; } }
  server { listen 127.0.0.1:$p_hk; location / { include /etc/nginx/fastcgi_params; fastcgi_keep_conn on; fastcgi_pass hello_keep; } }
  server { listen 127.0.0.1:$p_mc; location / { include /etc/nginx/fastcgi_params; $who fastcgi_pass menu_close; } }
  server { listen 127.0.0.1:$p_mk; location / { include /etc/nginx/fastcgi_params; $who fastcgi_keep_conn on; fastcgi_pass menu_keep; } }"
item=5eed00000000000000000101 # seeded by sql/menu
for p in $p_static $p_hc $p_hk $p_mc $p_mk; do
	for _ in $(seq 1 50); do curl -sf -o /dev/null "http://127.0.0.1:$p/api/menu/items/$item" && break; sleep 0.1; done
done

bench() { # name port conns
	local out rps p50 p99 errs
	out=$(wrk -t2 -c"$3" -d"${secs}s" --latency "http://127.0.0.1:$2/api/menu/items/$item" 2>&1)
	rps=$(awk '/Requests\/sec/ {print int($2)}' <<<"$out")
	p50=$(awk '$1 == "50%" {print $2}' <<<"$out")
	p99=$(awk '$1 == "99%" {print $2}' <<<"$out")
	errs=$(awk '/Non-2xx|Socket errors/ {printf "%s ", $0}' <<<"$out")
	printf '| %-24s | %5s | %8s | %9s | %9s | %s |\n' "$1" "$3" "$rps" "$p50" "$p99" "${errs:-none}"
}
echo "machine: $(nproc) cores, $(awk '/MemTotal/ {print int($2/1048576)" GiB"}' /proc/meminfo); nginx $(nginx -v 2>&1 | sed 's/.*\///'); ${secs}s per run; pools: hello 1x$workers, menu $(echo "$menu_socks" | wc -w)x$workers"
echo "| target                   | conns |    req/s |       p50 |       p99 | errors |"
echo "|--------------------------|-------|----------|-----------|-----------|--------|"
# Every no-keep-alive run first: once an upstream with keep-alive has been
# used, nginx's idle kept connections pin the libfcgi workers they hold, and
# a later run without keep-alive to the same pools would starve.
for c in 8 32; do
	bench "nginx return 200" "$p_static" "$c"
	bench "hello, no keep-alive" "$p_hc" "$c"
	bench "menu item, no keep-alive" "$p_mc" "$c"
done
for c in 8 32; do
	bench "hello, keep-alive" "$p_hk" "$c"
	bench "menu item, keep-alive" "$p_mk" "$c"
done
