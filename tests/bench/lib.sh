# tests/bench/lib.sh: what the benchmarks share, sourced after `set -euo pipefail`.
# A temporary folder cleaned up on exit, a bare FastCGI "hello" pool (the baseline every
# number is compared with), and an nginx of the benchmark's own; with tests/common.sh's
# helpers (free_port, now_ms, stocked_item, ...), which tests/e2e/lib.sh has too.
#   bench_tmp                        the folder ($BENCH_TMP), removed on exit with all below
#   bench_hello_start WORKERS        builds tests/bench/hello.c, starts 1 pool of it under
#                                    galley-pool (the services' own pool manager): $HELLO_SOCK
#   bench_nginx_start HTTP-BODY      starts nginx with this inside http { } (one worker,
#                                    no access log); returns when it runs
#   bench_baseline WORKERS           hello + nginx: $P_STATIC (`return 200`) and $P_HELLO
#                                    (nginx -> FastCGI hello), answering when it returns
#   api METHOD PATH TOKEN [BODY]     a call to the running stack ($GALLEY_URL)
#   bench_tokens                     $ADMIN (the stack's admin) and $TOKEN (a new customer)
#   bench_item NAME PRICE            a new menu item with a billion on hand (stocked_item, as
#                                    $ADMIN); prints its id
#   bench_post_script TOKEN BODY     a wrk script that POSTs BODY as JSON with TOKEN; prints
#                                    its path
#   bench_row NAME CONNS SECS URL [wrk args...]   one wrk run, printed as a table row:
#                                    | name | req/s | p50 | p99 | errors |, req/s the answers
#                                    that were not errors (bench_good_rate)
#   bench_settled, bench_settle NAME SECS   the stack has handled every event and kept write
#                                    (below); wait for it
#   bench_svc_pids SVC, bench_ns PID...   a service's pools' processes; their CPU so far, ns
#   bench_ns_split PID...            the same, main threads and the others apart
#   bench_pace_start CPU, bench_pace FROM TO   tests/bench/pace.c on CPU until exit; the
#                                    machine's pace between two now_ms readings
#   bench_pin_stack CPUS             the running stack (every process in $GALLEY_RUN/pids and
#                                    their children, all threads) on CPUS only, until exit; run
#                                    the load tool with `taskset -c OTHER` so that the stack,
#                                    not the tool, is what runs out of CPU
bench_top=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
# shellcheck source=../common.sh
. "$bench_top/tests/common.sh"

# bench_stack NAME: load the running stack's env ($GALLEY_RUN, else .run) into the
# environment, or exit 2 naming NAME; warn when the kitchen's time per unit is not 0 (the
# times then include it).
bench_stack() {
	stack_env || { echo "$1: no stack (no $STACK_ENV): run bin/galley up first" >&2; exit 2; }
	[ "${GALLEY_KITCHEN_SECONDS_PER_ITEM:-30}" = 0 ] ||
		echo "$1: note: the kitchen takes ${GALLEY_KITCHEN_SECONDS_PER_ITEM:-30} s per unit; the times include it" >&2
}

bench_stack_pids() {
	local f p
	for f in "$GALLEY_RUN"/pids/*.pid; do
		p=$(cat "$f" 2>/dev/null) || continue
		echo "$p"
		pgrep -P "$p" 2>/dev/null || true
	done
}

bench_pin_stack() {
	local p
	for p in $(bench_stack_pids); do taskset -a -p -c "$1" "$p" >/dev/null 2>&1 || true; done
	bench_pinned=1
}

# bench_quota_service SVC PERCENT: SVC's pools (their managers and workers, and the workers
# they start later: a cgroup is inherited) share PERCENT of one core, cgroup v1's
# cpu.cfs_quota_us over a 10 ms period (a short period: a throttled pool waits at most the
# rest of 10 ms, not of 100), longer below 10 % (the kernel's least quota is 1 ms: 5 % is
# 1 ms of every 20); the rest of the stack is not limited. Needs root; one quota at a time
# (bench_unquota_stack first to move it); bench_cleanup moves them back and removes the
# cgroup.
bench_quota_service() {
	local pids
	pids=$(bench_svc_pids "$1")
	[ -n "$pids" ] || return 1
	bench_quota_pids "$2" $pids
}

# bench_svc_pids SVC: the processes of SVC's local pools (each pool's manager, then its
# workers), one a line.
bench_svc_pids() {
	local f p
	for f in "$GALLEY_RUN"/pids/"$1"-[0-9]*.pid; do
		read -r p <"$f" 2>/dev/null || continue
		echo "$p"
		pgrep -P "$p" 2>/dev/null || true
	done
}

# bench_ns_split PID...: "MAIN OTHER", the CPU time (ns, schedstat) those processes' main
# threads have used so far, and their other threads': in a service's worker the main thread
# answers the requests, the others follow events (consumer.h), post to the live views and
# write the kept documents to MongoDB, so the two say whether a request or what it set off
# cost more.
bench_ns_split() {
	local p t main=0 other=0 ns
	for p in "$@"; do
		for t in /proc/"$p"/task/*; do
			read -r ns _ <"$t/schedstat" 2>/dev/null || continue
			if [ "${t##*/}" = "$p" ]; then main=$((main + ns)); else other=$((other + ns)); fi
		done
	done
	echo "$main $other"
}

# bench_ns PID...: the CPU time those processes have used so far (every thread), in
# nanoseconds (schedstat: bench_cpu's clock ticks, 10 ms, are too coarse for a few seconds
# of a service on a few percent of a core).
bench_ns() {
	local s
	s=$(bench_ns_split "$@")
	echo $((${s% *} + ${s#* }))
}

bench_quota_pids() {
	local p quota=$1 period=10000
	shift
	[ "$quota" -ge 10 ] || period=$(((100000 + quota - 1) / quota))
	bench_cg=/sys/fs/cgroup/cpu/galley-bench-$$
	mkdir -p "$bench_cg" || return 1
	echo "$period" >"$bench_cg/cpu.cfs_period_us" &&
		echo $((quota * period / 100)) >"$bench_cg/cpu.cfs_quota_us" || return 1
	for p in "$@"; do echo "$p" >"$bench_cg/cgroup.procs" 2>/dev/null || true; done
}

bench_unquota_stack() {
	local p
	[ -n "${bench_cg:-}" ] && [ -d "$bench_cg" ] || return 0
	while read -r p; do echo "$p" >/sys/fs/cgroup/cpu/cgroup.procs 2>/dev/null || true; done <"$bench_cg/cgroup.procs"
	rmdir "$bench_cg" 2>/dev/null || true
}

bench_unpin_stack() {
	local p all
	all="0-$(($(nproc --all) - 1))"
	for p in $(bench_stack_pids); do taskset -a -p -c "$all" "$p" >/dev/null 2>&1 || true; done
}

bench_cleanup() {
	[ -z "${bench_pinned:-}" ] || bench_unpin_stack
	bench_unquota_stack
	[ -f "$BENCH_TMP/nginx.pid" ] && kill "$(cat "$BENCH_TMP/nginx.pid")" 2>/dev/null || true
	[ -n "${bench_hello_pid:-}" ] && kill -- -"$bench_hello_pid" 2>/dev/null || true
	[ -n "${bench_pace_pid:-}" ] && kill -- -"$bench_pace_pid" 2>/dev/null || true
	rm -rf "$BENCH_TMP"
}

bench_tmp() {
	BENCH_TMP=$(mktemp -d)
	trap bench_cleanup EXIT
	# bash runs the EXIT trap after a signal only when the signal is trapped: without this a
	# benchmark stopped by Ctrl-C or timeout(1) left its hello pool running.
	trap 'exit 130' INT TERM
}

bench_hello_start() {
	cc -O2 -o "$BENCH_TMP/hello" "$bench_top/tests/bench/hello.c" -lfcgi
	HELLO_SOCK=$BENCH_TMP/hello.sock
	local pool=${GALLEY_BUILD:-$bench_top/build}/fcgi/pool/galley-pool
	[ -x "$pool" ] || { echo "bench: $pool is not built (bin/galley up builds it)" >&2; exit 2; }
	# The same pool manager as the services', so the baseline differs from them only in
	# what the worker does.
	setsid "$pool" --listen "unix:$HELLO_SOCK" --workers "$1" --name hello-1 -- "$BENCH_TMP/hello" \
		>"$BENCH_TMP/hello.log" 2>&1 &
	bench_hello_pid=$!
}

# bench_pace_start CPU: tests/bench/pace.c sampling the machine's pace on CPU (taskset) until
# the benchmark ends, into $BENCH_TMP/pace.log; bench_pace FROM-MS TO-MS then prints the
# median of its samples between two now_ms readings, "USER SYS" in microseconds of the
# thread's CPU for the same fixed work: a phase that served less while these grew ran on a
# slower machine, not into a slower service.
bench_pace_start() {
	cc -O2 -o "$BENCH_TMP/pace" "$bench_top/tests/bench/pace.c"
	setsid taskset -c "$1" "$BENCH_TMP/pace" 100 >"$BENCH_TMP/pace.log" &
	bench_pace_pid=$!
}

bench_pace() {
	awk -v a="$1" -v b="$2" '$1 >= a && $1 <= b { u[n] = $2; s[n] = $3; n++ }
		function median(v,   i, j, t) {
			for (i = 1; i < n; i++) for (j = i; j > 0 && v[j - 1] > v[j]; j--) { t = v[j]; v[j] = v[j - 1]; v[j - 1] = t }
			return n ? v[int(n / 2)] : 0 }
		END { printf "%d %d\n", median(u), median(s) }' "$BENCH_TMP/pace.log"
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

bench_baseline() {
	bench_hello_start "$1"
	# A port free when picked can be taken before nginx binds it (an outbound
	# connection's local port): pick again.
	for _ in 1 2 3 4 5; do
		P_STATIC=$(free_port) P_HELLO=$(free_port)
		bench_nginx_start "
  server { listen 127.0.0.1:$P_STATIC; location / { return 200 '{\"hello\":\"world\"}'; } }
  server { listen 127.0.0.1:$P_HELLO; location / { include /etc/nginx/fastcgi_params; fastcgi_pass unix:$HELLO_SOCK; } }" 2>/dev/null && break
	done
	for _ in $(seq 1 50); do curl -sf -o /dev/null "http://127.0.0.1:$P_HELLO/" && break; sleep 0.1; done
}

api() {
	curl -sS -X "$1" -H "Authorization: Bearer $3" ${4:+-H 'Content-Type: application/json' --data-binary "$4"} \
		"$GALLEY_URL$2"
}

bench_tokens() {
	local email="bench$RANDOM$RANDOM@bench.example"
	ADMIN=$(curl -sS -X POST -H 'Content-Type: application/json' "$GALLEY_URL/api/auth/login" \
		--data-binary "{\"email\":\"$GALLEY_ADMIN_EMAIL\",\"password\":\"$(cat "$GALLEY_ADMIN_PASSWORD_FILE")\"}" | jq -r .token)
	api POST /api/auth/register "" "{\"email\":\"$email\",\"password\":\"password9\",\"name\":\"Bench\"}" >/dev/null
	TOKEN=$(api POST /api/auth/login "" "{\"email\":\"$email\",\"password\":\"password9\"}" | jq -r .token)
}

# bench_place N TOKEN ITEM: N one-line orders of ITEM placed 8 at a time, each answer a line
# of JSON on stdout.  A placement refused with 503 and Retry-After (a burst at idle workers,
# lib/admit.h) is sent again, as README asks of clients: with its Idempotency-Key, so it is
# placed once; curl writes the refusal's body too, so keep what you need by its status
# (`select(.status == "pending_payment")`).
bench_place() {
	local n=$1
	seq 1 "$n" | GALLEY_URL=$GALLEY_URL token=$2 item=$3 run=$$$RANDOM xargs -P 8 -I{} sh -c \
		'curl -sS --retry 3 -X POST -H "Authorization: Bearer $token" -H "Content-Type: application/json" \
		-H "Idempotency-Key: bench-$run-{}" --data-binary "{\"lines\":[{\"item_id\":\"$item\",\"qty\":1}]}" \
		"$GALLEY_URL/api/orders"; echo'
}

bench_item() {
	stocked_item "$1" "$2" 1000000000 "$ADMIN" ||
		{ echo "bench: no item $1: $STATUS $BODY" >&2; return 1; }
	echo "$ITEM"
}

bench_post_script() {
	local f
	f=$(mktemp "$BENCH_TMP/post.XXXXXX.lua")
	cat >"$f" <<LUA
wrk.method = "POST"
wrk.body = '$2'
wrk.headers["Content-Type"] = "application/json"
wrk.headers["Authorization"] = "Bearer $1"
LUA
	echo "$f"
}

# bench_good_rate: of wrk's report on stdin, the answers a second that were not errors
# (2xx or 3xx). wrk's own Requests/sec counts every answer: a refusal (503 from the bounded
# queue or admission) or a repeat answered 409 is fast, and counted it made a rate look
# better the more was refused.
bench_good_rate() {
	awk '/requests in/ { n = $1; d = $4; sub(/,$/, "", d)
			s = d + 0; if (d ~ /ms$/) s /= 1000; else if (d ~ /m$/) s *= 60; else if (d ~ /h$/) s *= 3600 }
		/Non-2xx/ { bad = $NF }
		END { if (s > 0) print int((n - bad) / s); else print 0 }'
}

bench_row() {
	local name=$1 conns=$2 secs=$3 url=$4 out errs
	shift 4
	out=$(wrk -t"$((conns < 2 ? 1 : 2))" -c"$conns" -d"${secs}s" --latency "$@" "$url" 2>&1)
	errs=$(awk '/Non-2xx|Socket errors/ {printf "%s ", $0}' <<<"$out")
	printf '| %-40s | %8s | %9s | %9s | %s |\n' "$name" "$(bench_good_rate <<<"$out")" \
		"$(awk '$1 == "50%" {print $2}' <<<"$out")" "$(awk '$1 == "99%" {print $2}' <<<"$out")" "${errs:-none}"
}

# bench_cpu: "NAME TICKS SWITCHES" a line, the CPU time so far of each part of the stack
# (the pid files' names without the pool number: orders, redis, store, mongo, nginx...; a
# pool's workers with it), in clock ticks, and its threads' context switches so far. Two
# processes forked in all (ps and awk): a fork per process of the stack (about 150) took
# 2-3 s on a machine the burst saturates (kitchen.sh), and a bench that times what comes
# after it counted that.
bench_cpu() {
	local f p name pairs=""
	for f in "$GALLEY_RUN"/pids/*.pid; do
		read -r p <"$f" 2>/dev/null || continue
		name=${f##*/}
		name=${name%.pid}
		pairs+="${name%-[0-9]*} $p "
	done
	# One line a thread (-L): its process's CPU from the first, the context switches of
	# every thread (a wait woken: a round trip, a lock), voluntary or not.
	ps -eL -o pid=,ppid=,tid= | awk -v pairs="$pairs" '
		BEGIN { n = split(pairs, a, " "); for (i = 1; i < n; i += 2) top[a[i + 1]] = a[i] }
		$1 in top { who[$1] = top[$1] }
		!($1 in top) && $2 in top { who[$1] = top[$2] }
		$1 in who { tids[$1] = tids[$1] " " $3 }
		END {
			for (p in who) {
				f = "/proc/" p "/stat"
				if ((getline line < f) <= 0) continue
				close(f)
				split(line, s, " ")
				sw = 0
				nt = split(tids[p], t, " ")
				for (i = 1; i <= nt; i++) {
					f = "/proc/" p "/task/" t[i] "/status"
					while ((getline line < f) > 0)
						if (line ~ /^(non)?voluntary_ctxt_switches:/) { split(line, v, /[ \t]+/); sw += v[2] }
					close(f)
				}
				print who[p], s[14] + s[15], sw
			}
		}'
}

# bench_cpu_share BEFORE AFTER SECS: "mongo 45%, store 30%, ..." — each part's share of one
# core between two bench_cpu outputs (files), the largest first.
bench_cpu_share() {
	awk -v secs="$3" -v hz="$(getconf CLK_TCK)" 'FNR == NR { a[$1] += $2; next } { b[$1] += $2 }
		END { for (k in b) if (b[k] - a[k] > 0) printf "%d %s\n", 100 * (b[k] - a[k]) / hz / secs, k }' "$1" "$2" |
		sort -rn | awk '$1 > 0 { printf "%s%s %d%%", sep, $2, $1; sep = ", " } END { print "" }'
}

# bench_cpu_per BEFORE AFTER N: "4.2 ms (orders 1.0, nginx 0.9, ...)" — the stack's CPU time
# between two bench_cpu outputs (files) per one of N requests, in all and by part: unlike a
# rate, it holds on a machine that is doing something else too.
bench_cpu_per() {
	awk -v n="$3" -v hz="$(getconf CLK_TCK)" 'FNR == NR { a[$1] += $2; next } { b[$1] += $2 }
		END { if (n < 1) { print "n/a"; exit }
			for (k in b) { d = (b[k] - a[k]) * 1000 / hz / n; all += d; if (d >= 0.05) printf "%.2f %s\n", d, k }
			printf "%.2f ALL\n", all }' "$1" "$2" |
		sort -rn | awk '$2 == "ALL" { total = $1; next } { parts = parts sep $2 " " $1; sep = ", " }
			END { printf "%s ms (%s)\n", total, parts }'
}

# bench_cpu_per_busy IDLE0 IDLE1 IDLE-MS BEFORE AFTER BUSY-MS N: bench_cpu_per less what the
# stack spends idle (each part's CPU between IDLE0 and IDLE1, IDLE-MS apart, at the same rate
# over the BUSY-MS between BEFORE and AFTER): for a run whose window is long next to its
# work, as a kitchen's time makes it (an idle stack uses about an eighth of a core).
bench_cpu_per_busy() {
	awk -v im="$3" -v bm="$6" 'FNR == 1 { f++ } f == 1 { i0[$1] += $2; next } f == 2 { i1[$1] += $2; next }
		{ b[$1] += $2 }
		END { for (k in b) printf "%s %.1f 0\n", k, b[k] - (i1[k] - i0[k]) * bm / im }' \
		"$1" "$2" "$5" >"$5.busy"
	bench_cpu_per "$4" "$5.busy" "$7"
}

# bench_switches_per BEFORE AFTER N: "31.2 (store 9.1, orders 6.0, ...)" — the context
# switches of the stack's threads between two bench_cpu outputs per one of N requests, in all
# and by part. A switch is a thread that waited (a round trip, a lock) and was woken, the
# kernel's share of a round trip that a profile here shows dearest (docs/performance.md), and
# unlike CPU time it is counted the same on a machine that is doing something else too.
bench_switches_per() {
	awk -v n="$3" 'FNR == NR { a[$1] += $3; next } { b[$1] += $3 }
		END { if (n < 1) { print "n/a"; exit }
			for (k in b) { d = (b[k] - a[k]) / n; all += d; if (d >= 0.05) printf "%.1f %s\n", d, k }
			printf "%.1f ALL\n", all }' "$1" "$2" |
		sort -rn | awk '$2 == "ALL" { total = $1; next } { parts = parts sep $2 " " $1; sep = ", " }
			END { printf "%s (%s)\n", total, parts }'
}

# bench_store ARGS...: redis-cli on the Redis with the event streams and kept collections
# (the store; before it, the one Redis).
bench_store() { redis-cli -u "${GALLEY_STORE_URL:-$GALLEY_REDIS_URL}" --no-auth-warning "$@"; }

# bench_store_keys PATTERN TYPE: the store's keys of TYPE that match PATTERN, one a line, in
# SCANs of 10,000 keys a call.
bench_store_keys() {
	local cursor=0 out
	while :; do
		out=$(bench_store --raw SCAN "$cursor" MATCH "$1" COUNT 10000 TYPE "$2")
		cursor=${out%%$'\n'*}
		[ "$out" = "$cursor" ] || printf '%s\n' "${out#*$'\n'}"
		[ "$cursor" != 0 ] || break
	done
}

# bench_settled: true when the stack has finished what came before it: every consumer group
# of every event stream has read and acknowledged every entry (nothing pending), no
# kept collection waits for its MongoDB write (no dirty set), and no due list (lib/due.h:
# the kitchen's tickets to cook, payments to resume, holds to reap...) has an entry whose
# time has come. A cost per request measured only while the load runs leaves out the
# consumers that lag behind it, more so the faster the requests come. It looks at the keys
# bench_settle listed (BENCH_SETTLE_KEYS).
bench_settled() {
	local k last now
	now=$(date +%s)
	for k in "${BENCH_SETTLE_KEYS[@]}"; do
		case $k in
		galley:kept:*:dirty)
			BENCH_BUSY="$k holds $(bench_store ZCARD "$k")"
			[[ $BENCH_BUSY == *" holds 0" ]] || return 1 ;;
		galley:events:*)
			# Each group's last delivered entry against the stream's last, not XINFO's lag:
			# Redis 7.0's count of entries read can drift from the stream's (seen here: a lag
			# of 1,159 that never went down, after the store was restarted on its AOF).
			last=$(bench_store --raw XINFO STREAM "$k" | awk 'p == "last-generated-id" { print; exit } { p = $0 }')
			BENCH_BUSY="$k's groups: $(bench_store --raw XINFO GROUPS "$k" | awk -v last="$last" '
				p == "name" { g = $0 }
				p == "pending" && $0 != "0" { printf "%s has %s pending; ", g, $0 }
				p == "last-delivered-id" && $0 != last { printf "%s read up to %s of %s; ", g, $0, last }
				{ p = $0 }')"
			[[ $BENCH_BUSY == *"groups: " ]] || return 1 ;;
		*)
			BENCH_BUSY="$k has $(bench_store ZCOUNT "$k" -inf "$now") due"
			[[ $BENCH_BUSY == *" has 0 due" ]] || return 1 ;;
		esac
	done
	BENCH_BUSY=""
}

# bench_settle NAME SECS: wait up to SECS for bench_settled; when it does not come, NAME says
# so on stderr, with what is still busy ($BENCH_BUSY, set by bench_settled), and the bench
# goes on. The keys to look at are listed once, not at each look: the store holds keys for
# every order placed, and a scan of them all at each look (every 0.1 s; redis-cli --scan
# asks for 10 keys a round trip) cost the store 0.76 s of CPU a look with 15,000 orders
# stored, which the benches counted as the requests' (docs/performance.md, "The benches'
# own scans"). The kept collections' dirty sets come from their index (kept.h), the due
# lists and streams from one scan each; a due list or stream that first appears while it
# waits is not waited for.
bench_settle() {
	mapfile -t BENCH_SETTLE_KEYS < <(bench_store SMEMBERS galley:kept:index | sed 's/^/galley:kept:/; s/$/:dirty/'
		bench_store_keys 'galley:*:due:*' zset
		bench_store_keys 'galley:events:*' stream | grep -v ':dead$')
	wait_until "$2" bench_settled ||
		echo "$1: the stack still busy after $2 s ($BENCH_BUSY); measuring anyway" >&2
}

# bench_trips: "MONGODB REDIS MS", the round trips every service has made so far (from
# /metrics, which reaches Redis about once a second: it waits 2.5 s first) and when.
bench_trips() {
	sleep 2.5
	curl -sS "$GALLEY_INTERNAL_URL/metrics" |
		awk -v t="$(($(date +%s%N) / 1000000))" '/^galley_db_ops_total\{/ { d += $2 }
			/^galley_redis_ops_total\{/ { r += $2 } END { printf "%d %d %d\n", d, r, t }'
}

# bench_per IDLE-BEFORE IDLE-AFTER BEFORE AFTER N: "MongoDB x, Redis y" round trips per one
# of N requests between BEFORE and AFTER (bench_trips lines), less what the stack does idle
# (the rate between IDLE-BEFORE and IDLE-AFTER).
bench_per() {
	awk -v a="$1" -v b="$2" -v c="$3" -v d="$4" -v n="$5" 'BEGIN {
		split(a, i0, " "); split(b, i1, " "); split(c, x0, " "); split(d, x1, " ")
		idle_ms = i1[3] - i0[3]; busy_ms = x1[3] - x0[3]
		if (n < 1 || idle_ms <= 0) { print "n/a"; exit }
		for (k = 1; k <= 2; k++) v[k] = ((x1[k] - x0[k]) - (i1[k] - i0[k]) * busy_ms / idle_ms) / n
		printf "MongoDB %.1f, Redis %.1f", v[1], v[2] }'
}

# bench_vegeta_summary FILE SECS: of vegeta's results as JSON lines (vegeta encode -to=json),
# "GOODPUT P50 P99 CODES BAD503": answers 200 or 201 a second over SECS, their p50 and p99 in
# ms, the count of each status (code:count,...), and the 503s without Retry-After.
bench_vegeta_summary() {
	python3 - "$1" "$2" <<'EOF'
import json, sys
path, secs = sys.argv[1], float(sys.argv[2])
ok, codes, bad503 = [], {}, 0
for line in open(path):
    r = json.loads(line)
    codes[r["code"]] = codes.get(r["code"], 0) + 1
    if r["code"] == 200 or r["code"] == 201:
        ok.append(r["latency"] / 1e6)
    elif r["code"] == 503:
        h = {k.lower(): v for k, v in (r.get("headers") or {}).items()}
        bad503 += "retry-after" not in h
ok.sort()
q = lambda p: ok[min(len(ok) - 1, int(p * len(ok)))] if ok else float("nan")
print("%.0f %.1f %.1f %s %d" % (len(ok) / secs, q(0.5), q(0.99),
      ",".join("%s:%d" % kv for kv in sorted(codes.items())), bad503))
EOF
}
