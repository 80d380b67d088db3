#!/usr/bin/env bash
# Overload at the edge (issue 14): what happens at twice the rate a service can serve.
# For a cached read (GET /api/menu/items/{id}, a customer's token) and a one-line
# placement (POST /api/orders), in one run:
#   peak    closed loop, wrk with C connections: the rate the stack serves; measured again
#           after the rest (peak2), and the burst judged against the mean of the two
#   calm    open loop at a normal load (vegeta, a fixed rate): the normal latency. Normal is
#           half the peak, or less where that already costs the service more than half its
#           CPU quota: a request costs more at a low rate than at the peak (a worker sleeps
#           and wakes for each one instead of finding the next one waiting), and on this
#           machine menu served half its peak of reads on 85-100 % of its quota, so calm was
#           itself at the edge of saturation and a second's p99 said more about the quota's
#           throttling than about the burst (docs/performance.md, "Normal is half the
#           quota, not half the peak"). A 4 s probe at half the peak measures the service's
#           share of its quota; calm runs at half the peak scaled down to half the quota
#           (never below an eighth of the peak), and the table gives the share calm used
#   burst   open loop at twice the peak: goodput (200s a second) against the peak, p99 of
#           the accepted requests, the refusals (503 with Retry-After, from nginx's bounded
#           queue or a worker's bound on waiting, lib/admit.h) and anything else
#   after   open loop at calm's rate again, right after the burst: the first second
#           whose p99 is back to normal (within the calm phase's slowest second, 1.5x its
#           p99, 5 ms)
#   cost    the overloaded service's CPU per request served, at both peaks and in the
#           burst, and its share of a core then: with the quota spent in full, the burst
#           served fewer than the peak just as far as its requests cost more (a refusal
#           itself costs a worker about 0.04 ms, docs/performance.md), and the two peaks
#           show how far that cost moves on this machine with no overload at all
#   split   that CPU in two: the workers' main threads (the requests, and the refusals) and
#           their other threads (what the requests set off: the events followed, the live
#           posts, the kept documents' writes), per request served
#   pace    the machine's own pace on the stack's CPU in those three phases: the CPU that
#           tests/bench/pace.c's fixed work took (median of a sample each 100 ms). A burst
#           whose requests cost more while this grew as much ran on a slower machine; one
#           whose pace held ran into something in the stack
# Each phase but "after" starts on a settled stack (lib.sh, bench_settle): what the phase
# before set off (the placements' events, their orders written to MongoDB) would otherwise
# run beside it on the stack's one core, and the burst would be judged against a peak
# measured without that load.
# What is overloaded is the service (menu's pools for reads, orders' for placements): its
# pools get a share of one core (a cgroup v1 quota, GALLEY_OVERLOAD_READ_QUOTA and
# GALLEY_OVERLOAD_PLACE_QUOTA percent, needs root), the rest of the stack (nginx, Redis,
# MongoDB, the other services) the rest of CPU 0, and the load tools CPU 1 (taskset). So the
# door is not the part overloaded, as a deployment sizes it, and twice the peak stays within
# what vegeta can send and time on its one core: at 4,000 requests a second it timed nginx's
# own 404 at p99 3 ms in one run and 769 ms in the next, so reads get 6 % (a cached read
# costs menu 0.04 ms: a peak near 1,500/s, a burst near 3,000/s; at 10 % the burst reached
# 4,960/s and one run's p99 was vegeta's 451 ms, docs/performance.md).
# GALLEY_OVERLOAD_KEEP=DIR keeps each phase's results there (vegeta's JSON lines: one per
# request, its status, latency and when it was sent).
# vegeta is installed once into ~/.local/share/galley/bin with `go install` (tests/common.sh,
# vegeta_path).
# GALLEY_OVERLOAD_ONLY=place runs the placements alone (the reads before them leave the
# stack with more in it: its peaks and bursts differ, docs/performance.md).
# usage: bin/galley up (a plain build); tests/bench/overload.sh [seconds] [connections]
set -euo pipefail
top=$(cd "$(dirname "$0")/../.." && pwd)
run=${GALLEY_RUN:-$top/.run}
secs=${1:-10}
conns=${2:-16}
[ -f "$run/env" ] || { echo "overload.sh: no stack in $run: run bin/galley up first" >&2; exit 2; }
set -a; . "$run/env"; set +a
. "$top/tests/bench/lib.sh"

vegeta=$(vegeta_path)

bench_tmp
tmp=$BENCH_TMP
bench_pin_stack 0
bench_pace_start 0
read_quota=${GALLEY_OVERLOAD_READ_QUOTA:-6}
place_quota=${GALLEY_OVERLOAD_PLACE_QUOTA:-15}
# quota SVC PERCENT: SVC's pools alone get PERCENT of a core.
quota() {
	bench_unquota_stack
	bench_quota_service "$1" "$2" || { echo "overload.sh: no CPU quota of $2 % for $1 (needs root, cgroup v1 cpu, 1-100 %)" >&2; exit 2; }
}
tool_cpu=$(($(nproc) > 1 ? 1 : 0))
bench_tokens
item=$(bench_item "Overload stew" 300)
one="{\"lines\":[{\"item_id\":\"$item\",\"qty\":1}]}"
printf '%s' "$one" >"$tmp/order.json"

# attack NAME RATE SECS TARGET-FILE: vegeta at RATE/s for SECS; results as JSON lines.
attack() {
	taskset -c "$tool_cpu" "$vegeta" attack -rate="$2/1s" -duration="$3s" -timeout=10s -max-workers=2000 \
		-targets="$4" -format=http >"$tmp/$1.bin"
	"$vegeta" encode -to=json "$tmp/$1.bin" >"$tmp/$1.json"
	[ -z "${GALLEY_OVERLOAD_KEEP:-}" ] || cp "$tmp/$1.json" "$GALLEY_OVERLOAD_KEEP/"
}
# summary NAME SECS: goodput, p50/p99 of the 200s, counts by status, 503s without Retry-After.
summary() { bench_vegeta_summary "$tmp/$1.json" "$2"; }
# recovery NAME CALM CALM-P99: seconds from the start of NAME until a second's p99 is back
# to normal: within the slowest second of the phase CALM, and at least 1.5x CALM-P99 and 5 ms.
# The calm phase's own seconds are the measure because a second's p99 (the 7th slowest of
# ~700 requests) moves with the quota's throttling and the stack's ticks even in calm: in a
# kept run with calm p99 9.5 ms, three of calm's ten seconds were past 1.5x that. Reads were
# still "never" back now and then while calm ran at half the peak: menu was then at the edge
# of its quota, and a slower moment of the machine saturated it, calm or after (calm above).
recovery() {
	python3 - "$tmp/$1.json" "$tmp/$2.json" "$3" <<'EOF'
import json, re, sys
from datetime import datetime
path, calm_path, calm_p99 = sys.argv[1], sys.argv[2], float(sys.argv[3])
def at(ts):  # vegeta's RFC 3339 time, nanoseconds and zone dropped: all are in one zone
    m = re.match(r"(\d+-\d+-\d+T\d+:\d+:\d+)(\.\d{1,6})?", ts)
    return datetime.fromisoformat(m.group(1) + (m.group(2) or ""))
def seconds(p, failed):  # each second's p99 in ms, in order; a failure takes FAILED ms
    rows = [json.loads(l) for l in open(p)]
    t0 = min(at(r["timestamp"]) for r in rows)
    by = {}
    for r in rows:
        s = int((at(r["timestamp"]) - t0).total_seconds())
        by.setdefault(s, []).append(r["latency"] / 1e6 if r["code"] in (200, 201) else failed)
    return [sorted(by[s])[min(len(by[s]) - 1, int(0.99 * len(by[s])))] for s in sorted(by)]
# Calm's failures count as instant (they do not widen the limit), the after phase's as endless.
limit = max(5.0, 1.5 * calm_p99, max(seconds(calm_path, 0)))
for s, p99 in enumerate(seconds(path, 1e9)):
    if p99 <= limit:
        print(s); break
else:
    print("never")
EOF
}

# quota_share NS-BEFORE NS-AFTER SECS PERCENT: the share of a PERCENT-of-a-core quota used
# over SECS seconds, as a fraction (0.5: half the quota).
quota_share() {
	awk -v a="$1" -v b="$2" -v s="$3" -v q="$4" 'BEGIN {printf "%.2f\n", (b - a) / 1e9 / s / (q / 100)}'
}

# calm_rate KIND SVC PEAK PERCENT: the normal load's rate for KIND (see calm above):
# PEAK/2, scaled down when a 4 s probe at PEAK/2 used more than half of SVC's PERCENT
# quota; at least PEAK/8.
calm_rate() {
	local half=$(($3 / 2)) pids a b share
	pids=$(bench_svc_pids "$2")
	a=$(bench_ns $pids)
	attack "$1-probe" "$half" 4 "$tmp/$1.targets"
	b=$(bench_ns $pids)
	share=$(quota_share "$a" "$b" 4 "$4")
	awk -v h="$half" -v s="$share" -v p="$3" 'BEGIN {
		r = (s > 0.5) ? h * 0.5 / s : h; if (r < p / 8) r = p / 8; printf "%d\n", r }'
}

# svc_cpu BEFORE AFTER SVC N: SVC's CPU between two bench_cpu files (lib.sh), as "X ms a
# request, Y%" (per one of N requests served; share of one core over the phase's seconds).
svc_cpu() {
	awk -v svc="$3" -v n="$4" -v secs="$secs" -v hz="$(getconf CLK_TCK)" \
		'FNR == NR { if ($1 == svc) a += $2; next } $1 == svc { b += $2 }
		END { ms = (b - a) * 1000 / hz; printf("%.2f ms, %d%%", (n > 0) ? ms / n : 0, ms / secs / 10) }' "$1" "$2"
}

# split_per BEFORE AFTER N: the service's CPU per one of N requests served, between two
# bench_ns_split readings, as "R + F ms": its workers' main threads (the requests, and the
# refusals) and their other threads (what the requests set off: events followed, live
# posts, the kept documents' writes).
split_per() {
	awk -v a="$1" -v b="$2" -v n="$3" 'BEGIN { split(a, x, " "); split(b, y, " ")
		if (n < 1) n = 1
		printf "%.2f + %.2f ms", (y[1] - x[1]) / 1e6 / n, (y[2] - x[2]) / 1e6 / n }'
}

# pace_of FROM TO: the machine's pace on the stack's CPU between two now_ms readings (lib.sh,
# bench_pace): "U/S us", the thread CPU that pace.c's fixed user and system call work took.
pace_of() {
	local u s
	read -r u s <<<"$(bench_pace "$1" "$2")"
	echo "$u/$s us"
}

# peak URL WRK-ARGS...: what the stack serves closed loop (wrk, $conns connections), a second:
# wrk's rate less its non-2xx answers (the bounded queue's 503s, when the connections
# outnumber the budget).
peak() {
	local url=$1
	shift
	taskset -c "$tool_cpu" wrk -t2 -c"$conns" -d"${secs}s" "$@" "$url" 2>&1 |
		awk -v s="$secs" '/requests in/ {n = $1} /Non-2xx/ {bad = $NF} END {print int((n - bad) / s)}'
}

# one KIND SVC URL QUOTA WRK-ARGS...: the phases for one kind of request, printed as a row;
# SVC is the service overloaded, on QUOTA percent of a core, whose CPU a request served
# costs at the peak and in the burst, and whose share of its quota calm used.
one() {
	local kind=$1 svc=$2 url=$3 quota=$4 peak peak2 calm calm_share pids ns0 ns1 burst after calm_p99
	local t0 t1 t2 t3 t4 t5 s0 s1 s2 s3 s4 s5
	shift 4
	bench_settle overload.sh 60
	bench_cpu >"$tmp/$kind.cpu0"
	pids=$(bench_svc_pids "$svc")
	t0=$(now_ms) s0=$(bench_ns_split $pids)
	peak=$(peak "$url" "$@")
	t1=$(now_ms) s1=$(bench_ns_split $pids)
	bench_cpu >"$tmp/$kind.cpu1"
	bench_settle overload.sh 60
	calm=$(calm_rate "$kind" "$svc" "$peak" "$quota")
	bench_settle overload.sh 60
	pids=$(bench_svc_pids "$svc")
	ns0=$(bench_ns $pids)
	attack "$kind-calm" "$calm" "$secs" "$tmp/$kind.targets"
	ns1=$(bench_ns $pids)
	calm_share=$(quota_share "$ns0" "$ns1" "$secs" "$quota")
	read -r calm_rate calm_p50 calm_p99 calm_codes _ <<<"$(summary "$kind-calm" "$secs")"
	bench_settle overload.sh 60
	bench_cpu >"$tmp/$kind.cpu2"
	t2=$(now_ms) s2=$(bench_ns_split $pids)
	attack "$kind-burst" $((peak * 2)) "$secs" "$tmp/$kind.targets"
	t3=$(now_ms) s3=$(bench_ns_split $pids)
	bench_cpu >"$tmp/$kind.cpu3"
	attack "$kind-after" "$calm" 5 "$tmp/$kind.targets"
	read -r b_rate b_p50 b_p99 b_codes b_bad <<<"$(summary "$kind-burst" "$secs")"
	after=$(recovery "$kind-after" "$kind-calm" "$calm_p99")
	# The peak again, once the burst's work is done: the burst is judged against the mean of
	# the two, which brackets it (the machine's pace drifts between phases a minute apart).
	bench_settle overload.sh 60
	bench_cpu >"$tmp/$kind.cpu4"
	t4=$(now_ms) s4=$(bench_ns_split $pids)
	peak2=$(peak "$url" "$@")
	t5=$(now_ms) s5=$(bench_ns_split $pids)
	bench_cpu >"$tmp/$kind.cpu5"
	printf '| %-9s | %6s, %6s | %5s/s = %.2fx peak, %d%% of the quota: p50 %s ms, p99 %s ms (%s) | %5s/s = %.2fx peak: p99 %s ms | %s | %s | %s s | %s, %s; %s | %s, %s; %s | %s; %s |\n' \
		"$kind" "$peak" "$peak2" "$calm" "$(awk -v c="$calm" -v p="$peak" 'BEGIN {print c / p}')" \
		"$(awk -v s="$calm_share" 'BEGIN {printf "%d", s * 100}')" "$calm_p50" "$calm_p99" "$calm_codes" "$b_rate" \
		"$(awk -v a="$b_rate" -v b="$peak" -v c="$peak2" 'BEGIN {print 2 * a / (b + c)}')" "$b_p99" "$b_codes" "$b_bad" "$after" \
		"$(svc_cpu "$tmp/$kind.cpu0" "$tmp/$kind.cpu1" "$svc" $((peak * secs)))" \
		"$(svc_cpu "$tmp/$kind.cpu4" "$tmp/$kind.cpu5" "$svc" $((peak2 * secs)))" \
		"$(svc_cpu "$tmp/$kind.cpu2" "$tmp/$kind.cpu3" "$svc" $((b_rate * secs)))" \
		"$(split_per "$s0" "$s1" $((peak * secs)))" "$(split_per "$s4" "$s5" $((peak2 * secs)))" \
		"$(split_per "$s2" "$s3" $((b_rate * secs)))" \
		"$(pace_of "$t0" "$t1"), $(pace_of "$t4" "$t5")" "$(pace_of "$t2" "$t3")"
}

printf 'GET %s/api/menu/items/%s\nAuthorization: Bearer %s\n\n' "$GALLEY_URL" "$item" "$TOKEN" >"$tmp/read.targets"
printf 'POST %s/api/orders\nAuthorization: Bearer %s\nContent-Type: application/json\n@%s\n\n' \
	"$GALLEY_URL" "$TOKEN" "$tmp/order.json" >"$tmp/place.targets"
post=$(bench_post_script "$TOKEN" "$one")

echo "menu's pools at ${read_quota}% of a core for reads, orders' pools at ${place_quota}% for placements; nginx and the rest on the rest of CPU 0"
echo
echo "| request   | peak/s, before and after | calm (normal: half the peak, or less to stay within half the quota; open loop) | burst (twice the first peak, open loop): goodput against the peaks' mean | statuses in the burst | 503s without Retry-After | back to calm p99 after | the service's CPU a request served, and its share of a core: peaks; burst | that CPU, requests + what they set off (workers' main threads + the others): peaks; burst | the machine's pace on CPU 0 (pace.c: its fixed user/system call work's CPU): peaks; burst |"
echo "|-----------|--------------------------|----------------------------------------|-----------------------------------|-----------------------|--------------------------|------------------------|------------------------------------------------------------|------------------------------------|------------------------------------|"
if [ "${GALLEY_OVERLOAD_ONLY:-}" != place ]; then
	quota menu "$read_quota"
	one read menu "$GALLEY_URL/api/menu/items/$item" "$read_quota" -H "Authorization: Bearer $TOKEN"
fi
# The placements' peak with two connections per orders worker: each worker busy and one
# request waiting for it, so the peak is what the workers serve. More would stand in a queue
# longer than a placement, which the workers refuse (lib/admit.h) and the closed loop would
# retry at once: it would measure that contention, not what the stack serves.
workers=$((GALLEY_ORDERS_POOLS * GALLEY_ORDERS_WORKERS))
quota orders "$place_quota"
conns=$((2 * workers)) one place orders "$GALLEY_URL/api/orders" "$place_quota" -s "$post"
api POST /api/auth/logout "$TOKEN" >/dev/null || true
api POST /api/auth/logout "$ADMIN" >/dev/null || true
