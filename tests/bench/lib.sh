# tests/bench/lib.sh: what the benchmarks share, sourced after `set -euo pipefail`.
# A temporary folder cleaned up on exit, a bare FastCGI "hello" pool (the baseline every
# number is compared with), free ports, and an nginx of the benchmark's own.
#   bench_tmp                        the folder ($BENCH_TMP), removed on exit with all below
#   bench_hello_start WORKERS        builds tests/bench/hello.c, starts 1 pool: $HELLO_SOCK
#   free_port                        prints a free TCP port on 127.0.0.1
#   bench_nginx_start HTTP-BODY      starts nginx with this inside http { } (one worker,
#                                    no access log); returns when it runs
bench_top=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)

bench_cleanup() {
	[ -f "$BENCH_TMP/nginx.pid" ] && kill "$(cat "$BENCH_TMP/nginx.pid")" 2>/dev/null || true
	[ -n "${bench_hello_pid:-}" ] && kill -- -"$bench_hello_pid" 2>/dev/null || true
	rm -rf "$BENCH_TMP"
}

bench_tmp() {
	BENCH_TMP=$(mktemp -d)
	trap bench_cleanup EXIT
}

bench_hello_start() {
	cc -O2 -o "$BENCH_TMP/hello" "$bench_top/tests/bench/hello.c" -lfcgi
	HELLO_SOCK=$BENCH_TMP/hello.sock
	setsid spawn-fcgi -n -s "$HELLO_SOCK" -M 0660 -- /usr/bin/multiwatch -f "$1" -- "$BENCH_TMP/hello" \
		>"$BENCH_TMP/hello.log" 2>&1 &
	bench_hello_pid=$!
}

free_port() {
	local p
	while :; do
		p=$((20000 + RANDOM % 40000))
		(exec 3<>"/dev/tcp/127.0.0.1/$p") 2>/dev/null || { echo "$p"; return; }
	done
}

bench_nginx_start() {
	local t=$BENCH_TMP user_line=""
	[ "$(id -u)" = 0 ] && user_line="user root root;"
	mkdir -p "$t/t"
	cat >"$t/nginx.conf" <<CONF
$user_line
worker_processes 1;
pid $t/nginx.pid;
error_log $t/error.log;
events { worker_connections 1024; }
http {
  access_log off;
  client_body_temp_path $t/t/cb; fastcgi_temp_path $t/t/fc; proxy_temp_path $t/t/p;
  uwsgi_temp_path $t/t/u; scgi_temp_path $t/t/s;
$1
}
CONF
	nginx -p "$t" -c "$t/nginx.conf" -e "$t/error.log"
}
