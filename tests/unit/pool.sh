#!/bin/bash
# galley-pool (fcgi/pool/) on its own, with stand-in workers (sleep(1): no FastCGI, no scoreboard):
# bad command lines and settings exit 2 with a message naming the culprit; a pool binds its
# Unix socket (0660) and its status socket beside it, answers its status, replaces a killed
# worker, ends its workers when it is SIGKILLed (PR_SET_PDEATHSIG), and on SIGTERM stops them,
# removes both sockets and exits 0; a TCP pool reports its listen queue's backlog. TAP, run by
# make check. By hand: cd build && srcdir=.. ../tests/unit/pool.sh
pool=${GALLEY_POOL_BIN:-./fcgi/pool/galley-pool}
n=0
fail=0
dir=$(mktemp -d /tmp/galley-pool-test.XXXXXX)
# shellcheck source=../common.sh
source "$(dirname "${BASH_SOURCE[0]}")/../common.sh" # free_port
trap 'rm -rf "$dir"' EXIT

check() { # check DESCRIPTION COMMAND...
	desc=$1
	shift
	n=$((n + 1))
	if out=$("$@" 2>&1); then
		echo "ok $n - $desc"
	else
		fail=1
		echo "not ok $n - $desc"
		printf '%s\n' "$out" | head -n 12 | sed 's/^/# /'
	fi
}

# refused WANT_MSG [ENV=V...] -- ARGS...: galley-pool exits 2 saying WANT_MSG.
refused() {
	local want=$1 envs=()
	shift
	while [[ $1 != -- ]]; do envs+=("$1"); shift; done
	shift
	local msg rc=0
	msg=$(env "${envs[@]}" "$pool" "$@" 2>&1 >/dev/null) || rc=$?
	[[ $rc == 2 && $msg == *"$want"* ]] || { echo "exit $rc: $msg"; return 1; }
}
sleeper=$(command -v sleep)
sock="unix:$dir/p.sock"
check "no --listen: exit 2" refused "--listen, --workers" -- --workers 2 -- "$sleeper" 600
check "a bad --listen: exit 2" refused "use unix:/path/to/x.sock or HOST:PORT" -- --listen nowhere --workers 2 -- "$sleeper" 600
check "a relative unix path: exit 2" refused "absolute path" -- --listen unix:x.sock --workers 2 -- "$sleeper" 600
check "a port out of range: exit 2" refused "port must be 1..65535" -- --listen 127.0.0.1:70000 --workers 2 -- "$sleeper" 600
check "--workers 0: exit 2" refused "--workers must be 1..256" -- --listen "$sock" --workers 0 -- "$sleeper" 600
check "--workers 257: exit 2" refused "--workers must be 1..256" -- --listen "$sock" --workers 257 -- "$sleeper" 600
check "--workers x: exit 2" refused "--workers must be 1..256" -- --listen "$sock" --workers x -- "$sleeper" 600
check "a relative binary: exit 2" refused "absolute path" -- --listen "$sock" --workers 1 -- sleep 600
check "GALLEY_SLOW_MS=-1: exit 2" refused "GALLEY_SLOW_MS must be" GALLEY_SLOW_MS=-1 -- --listen "$sock" --workers 1 -- "$sleeper" 600
check "GALLEY_REQUEST_TIMEOUT_S=soon: exit 2" refused "GALLEY_REQUEST_TIMEOUT_S must be" GALLEY_REQUEST_TIMEOUT_S=soon -- --listen "$sock" --workers 1 -- "$sleeper" 600
check "GALLEY_MAX_REQUESTS=1e3: exit 2" refused "GALLEY_MAX_REQUESTS must be" GALLEY_MAX_REQUESTS=1e3 -- --listen "$sock" --workers 1 -- "$sleeper" 600
check "GALLEY_LISTEN_BACKLOG=0: exit 2" refused "GALLEY_LISTEN_BACKLOG must be" GALLEY_LISTEN_BACKLOG=0 -- --listen "$sock" --workers 1 -- "$sleeper" 600
check "nothing was left behind" test ! -e "$dir/p.sock"

# wait_for SECONDS CMD...: poll CMD every 0.1 s.
wait_for() {
	local i
	for ((i = 0; i < $1 * 10; i++)); do
		"${@:2}" >/dev/null 2>&1 && return 0
		sleep 0.1
	done
	return 1
}
status() { curl -sf --max-time 2 --unix-socket "$dir/p.status" http://pool/; }
is() { status | jq -e "$1"; }
kids() { pgrep -P "$1" | xargs; }
# none_alive PIDS...: none of them runs (a zombie waiting for whoever adopted it is gone).
none_alive() {
	local p
	for p in "$@"; do
		[[ -r /proc/$p/stat && $(cut -d' ' -f3 "/proc/$p/stat") != Z ]] && return 1
	done
	return 0
}

setsid "$pool" --listen "$sock" --workers 3 --name test-7 -- "$sleeper" 600 2>"$dir/log" &
mgr=$!
check "it answers its status" wait_for 5 is '.workers == 3'
# mode_is PATH MODE: PATH's mode is MODE; else what stat said, the folder and the pool's log
# (a one-off failure in CI, 2026-12-07, said nothing more).
mode_is() {
	local got
	got=$(stat -c %a "$1" 2>&1)
	[[ $got == "$2" ]] && return 0
	echo "stat: $got"
	ls -la "$(dirname "$1")"
	tail -n 5 "$dir/log"
	return 1
}
check "the socket is there, mode 0660" mode_is "$dir/p.sock" 660
check "the status socket is beside it" test -S "$dir/p.status"
check "service and pool from --name" is '.service == "test" and .pool == 7 and .listen == "'"$sock"'"'
check "workers that never map the board are starting" is '[.processes[].state] == ["starting","starting","starting"]'
check "the listen queue is known (NETLINK_SOCK_DIAG)" is '.listen_queue == 0 and .listen_queue_len == 1024'
check "anything but GET / is 404" test "$(curl -s -o /dev/null -w '%{http_code}' --unix-socket "$dir/p.status" http://pool/x)" = 404
check "a POST is 405" test "$(curl -s -o /dev/null -w '%{http_code}' -X POST --unix-socket "$dir/p.status" http://pool/)" = 405
# A client that connects and says nothing does not stall the pool.
python3 -c 'import socket,sys,time; s=socket.socket(socket.AF_UNIX); s.connect(sys.argv[1]); time.sleep(3)' "$dir/p.status" &
idle_client=$!
check "a silent client does not stall the status" wait_for 2 is '.workers == 3'
victim=$(pgrep -P "$mgr" | head -n 1)
kill -KILL "$victim"
check "a killed worker is replaced and counted" wait_for 5 is '.respawned == 1 and .workers == 3 and ([.processes[].pid] | index('"$victim"') == null)'
check "its death is logged" grep -q "worker $victim killed by signal 9" "$dir/log"
workers=$(kids "$mgr")
kill -TERM "$mgr"
wait "$mgr"
rc=$?
check "SIGTERM: exit 0" test "$rc" = 0
# shellcheck disable=SC2086
check "its workers are gone" wait_for 5 none_alive $workers
check "both sockets removed" test ! -e "$dir/p.sock" -a ! -e "$dir/p.status"
kill "$idle_client" 2>/dev/null

# SIGKILL of the manager: its workers end too (PR_SET_PDEATHSIG), not orphaned.
setsid "$pool" --listen "$sock" --workers 2 -- "$sleeper" 600 2>>"$dir/log" &
mgr=$!
check "a second pool starts on the stale socket file" wait_for 5 is '.workers == 2'
workers=$(kids "$mgr")
{
	kill -KILL "$mgr"
	wait "$mgr"
} 2>/dev/null
# shellcheck disable=SC2086
check "its workers end when it is SIGKILLed" wait_for 5 none_alive $workers

# TCP, with the status on TCP too, on two ports nothing listens on (free_port: below the
# kernel's ephemeral range, so that no outgoing connection holds one).
port=$(free_port)
until sport=$(free_port) && [[ $sport != "$port" ]]; do :; done
GALLEY_LISTEN_BACKLOG=77 setsid "$pool" --listen "127.0.0.1:$port" --status "127.0.0.1:$sport" --workers 1 -- "$sleeper" 600 2>>"$dir/log" &
mgr=$!
tstatus() { curl -sf --max-time 2 "http://127.0.0.1:$sport/" | jq -e "$1"; }
check "a TCP pool answers its status on TCP" wait_for 5 tstatus '.listen == "127.0.0.1:'"$port"'" and .workers == 1'
check "its backlog is GALLEY_LISTEN_BACKLOG (TCP_INFO)" wait_for 2 tstatus '.listen_queue_len == 77 and .listen_queue == 0'
# Say why when the pool is gone before it is asked to stop (it should never be).
alive_or_log() { kill -0 "$mgr" 2>/dev/null || { tail -n 4 "$dir/log"; return 1; }; }
check "the TCP pool still runs" alive_or_log
kill -TERM "$mgr" 2>/dev/null
wait "$mgr"
rc=$?
exited_0() { [[ $rc == 0 ]] || { echo "exit $rc"; tail -n 4 "$dir/log"; return 1; }; }
check "and stops with exit 0" exited_0
echo "1..$n"
exit "$fail"
