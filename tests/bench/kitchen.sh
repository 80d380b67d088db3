#!/usr/bin/env bash
# Does the kitchen keep up (issue 13)?  N orders are placed, then paid all at once: their
# order.paid events (as the payments service writes them) are added to the stream in one
# script, so the burst is not paced by the provider.  Measured with the kitchen taking no
# time: from that moment until the last order.ready is in the stream, and until the orders
# service shows every one of them ready.
#
# usage: GALLEY_KITCHEN_SECONDS_PER_ITEM=0 bin/galley up; tests/bench/kitchen.sh [orders]
set -euo pipefail
top=$(cd "$(dirname "$0")/../.." && pwd)
n=${1:-1000}

. "$top/tests/bench/lib.sh"
bench_stack kitchen.sh
bench_tmp
tmp=$BENCH_TMP
bench_tokens
item=$(bench_item "Kitchen burst" 150)
# The Redis with the event streams: the store (before it, the one Redis).
streams_url=${GALLEY_STORE_URL:-$GALLEY_REDIS_URL}

echo "placing $n orders..." >&2
bench_place "$n" "$TOKEN" "$item" >"$tmp/placed"
jq -c 'select(.status == "pending_payment") | {id: "", type: "order.paid",
	occurred_at: (now | todate), request_id: "bench",
	data: {order_id: .id, reservation_id: .reservation_id, payment_id: .id, customer_id: .customer_id,
	       user_id: .user_id, total_cents: .total_cents, currency: .currency,
	       lines: [.lines[] | {item_id, name, qty}]}}' "$tmp/placed" >"$tmp/events.raw"
got=$(wc -l <"$tmp/events.raw")
[ "$got" = "$n" ] || { echo "kitchen.sh: only $got of $n orders were placed" >&2; exit 1; }
# Each event its own id (24 hex), as events have.
while read -r e; do
	jq -c --arg id "$(head -c 12 /dev/urandom | od -An -tx1 | tr -d ' \n')" '.id = $id' <<<"$e"
done <"$tmp/events.raw" >"$tmp/events"
jq -r '.data.order_id' "$tmp/events" | sort >"$tmp/ids"
# order.ready entries added since the burst (only the burst's orders move then), counted into
# $ready as they come: each look reads only the entries after the last one seen, so the
# watching does not load the store with the whole burst's entries four times a second.
ready=0
ready_count() {
	local out id
	out=$(bench_store --raw XRANGE galley:events:orders "($last" + COUNT 10000)
	id=$(grep -E '^[0-9]+-[0-9]+$' <<<"$out" | tail -n 1 || true)
	[ -z "$id" ] || last=$id
	ready=$((ready + $(grep -cF '"type":"order.ready"' <<<"$out" || true)))
}
# The placements' own aftermath first: their events handled by every group and the orders
# written to MongoDB (the kept projection), or the burst would be measured with it.
bench_settle kitchen.sh 60
bench_cpu >"$tmp/cpu0"
t0=$(now_ms)
last="$t0-0"
# One MULTI/EXEC adds them all, written in one go: the burst arrives at once.
python3 - "$streams_url" "$tmp/events" <<'PY'
import json, socket, sys, urllib.parse
u = urllib.parse.urlparse(sys.argv[1])
def resp(*args):
    out = [b"*%d\r\n" % len(args)]
    for a in args:
        b = a.encode()
        out.append(b"$%d\r\n%s\r\n" % (len(b), b))
    return b"".join(out)
cmds = [resp("SELECT", (u.path or "/0").lstrip("/") or "0"), resp("MULTI")]
for line in open(sys.argv[2]):
    e = json.loads(line)
    cmds.append(resp("XADD", "galley:events:orders", "*", "id", e["id"], "type", e["type"], "event", line.strip()))
cmds.append(resp("EXEC"))
s = socket.create_connection((u.hostname, u.port or 6379))
s.sendall(b"".join(cmds))
s.shutdown(socket.SHUT_WR)  # the server reads everything, runs it, then sees the end
while s.recv(65536):
    pass
s.close()
PY
while :; do
	ready_count
	[ "$ready" -ge "$n" ] && break
	(($(now_ms) - t0 < 120000)) || { echo "kitchen.sh: $ready of $n ready after 120 s" >&2; break; }
	sleep 0.25
done
t1=$(now_ms)
bench_cpu >"$tmp/cpu1"
# Every order read back through the API as ready: one GET each, over 8 connections (a curl
# each, for an eighth of them: one connection alone took 1-3 s a round under the burst's load,
# which the time below then counted), and each round asks again only for those not ready yet.
cp "$tmp/ids" "$tmp/waiting"
all_ready() {
	local part
	[ -s "$tmp/waiting" ] || return 0
	rm -f "$tmp"/part.*
	split -n r/8 "$tmp/waiting" "$tmp/part."
	for part in "$tmp"/part.*; do
		sed "s|^|url = $GALLEY_URL/api/orders/|" "$part" >"$part.urls"
		curl -sS -H "Authorization: Bearer $TOKEN" -K "$part.urls" >"$part.got" 2>/dev/null &
	done
	wait
	# Only ids seen ready leave the list: an error body keeps its id waiting.
	cat "$tmp"/part.*.got | jq -r 'select(.status == "ready") | .id' 2>/dev/null | sort >"$tmp/seen" || true
	comm -23 "$tmp/waiting" "$tmp/seen" >"$tmp/left"
	mv "$tmp/left" "$tmp/waiting"
	[ ! -s "$tmp/waiting" ]
}
until all_ready; do (($(now_ms) - t0 < 180000)) || { echo "kitchen.sh: not every order shows ready" >&2; exit 1; }; sleep 0.25; done
t2=$(now_ms)
echo "| paid orders at once | last order.ready after | ready/s | every order read back as ready (one GET each) after |"
echo "|---------------------|-----------------------|---------|-----------------------------------------------------|"
printf '| %19d | %18d ms | %7d | %48d ms |\n' "$n" $((t1 - t0)) $((n * 1000 / (t1 - t0 > 0 ? t1 - t0 : 1))) $((t2 - t0))
echo "CPU until the last order.ready (share of one core): $(bench_cpu_share "$tmp/cpu0" "$tmp/cpu1" "$(awk -v ms=$((t1 - t0)) 'BEGIN { print ms / 1000 }')")"
echo "the stack's CPU per order, paid to ready: $(bench_cpu_per "$tmp/cpu0" "$tmp/cpu1" "$n")"
echo "context switches per order, paid to ready: $(bench_switches_per "$tmp/cpu0" "$tmp/cpu1" "$n")"
