#!/usr/bin/env bash
# What does an order cost from paid to handed over, with a kitchen that takes time?  The
# other benches run the kitchen at 0 s an item, where paid, preparing and ready fall within
# the one second a kept document waits before it is written to MongoDB (lib/kept.h), so they
# never see a document written again at each step.  Here N orders are placed (not counted),
# then paid 8 at a time, made ready by a kitchen at GALLEY_KITCHEN_SECONDS_PER_ITEM, and
# handed over by staff (POST /api/kitchen/tickets/{id}/complete, 8 at a time); the stack's
# CPU is counted from the first payment until every order is completed and everything it set
# off is handled and written (bench_settle), and again less what the stack spends idle over
# that time (measured for 5 s before).  A rate is not the point (the kitchen's time
# sets it): the CPU an order costs, and FerretDB's ("mongo") most of all.
#
# usage: GALLEY_KITCHEN_SECONDS_PER_ITEM=1 GALLEY_KITCHEN_STAFF=8 bin/galley up;
#        tests/bench/whole.sh [orders]
set -euo pipefail
top=$(cd "$(dirname "$0")/../.." && pwd)
n=${1:-400}

. "$top/tests/bench/lib.sh"
bench_stack whole.sh
bench_tmp
tmp=$BENCH_TMP
bench_tokens
item=$(bench_item "Whole order" 120)

echo "placing $n orders..." >&2
bench_place "$n" "$TOKEN" "$item" | jq -r 'select(.status == "pending_payment") | .id' >"$tmp/orders"
got=$(wc -l <"$tmp/orders")
[ "$got" = "$n" ] || { echo "whole.sh: only $got of $n orders were placed" >&2; exit 1; }
bench_settle whole.sh 60

# each METHOD PATH-FORMAT BODY-FORMAT TOKEN: one request an order of $tmp/orders (%s its id),
# 8 at a time from one curl (a curl and a shell an order cost the client more than the stack
# its request, and would pace the run); "STATUS" a line on stdout.
each() {
	local id sep=""
	while read -r id; do
		printf '%surl = "%s%s"\nrequest = "%s"\nheader = "Authorization: Bearer %s"\n' \
			"$sep" "$GALLEY_URL" "${2//%s/$id}" "$1" "$4"
		[ -z "$3" ] || printf 'header = "Content-Type: application/json"\ndata = "%s"\n' "${3//%s/$id}"
		printf 'output = "/dev/null"\nwrite-out = "%%{http_code}\\n"\n'
		sep=$'next\n'
	done <"$tmp/orders" >"$tmp/each.conf"
	curl -sS --parallel --parallel-max 8 -K "$tmp/each.conf"
}

# in_status STATUS: how many orders the store lists in STATUS (the staff's list's set, lib/kept.h;
# a fresh stack has no others): a look that costs the stack next to nothing, unlike reading
# every order through the API at each look.
in_status() { bench_store ZCARD "galley:kept:orders:orders:by:$1"; }
all_in() { [ "$(in_status "$1")" -ge "$n" ]; }

# What the stack spends idle, to take out of the counts below.
i0=$(now_ms)
bench_cpu >"$tmp/idle0"
sleep 5
bench_cpu >"$tmp/idle1"
i1=$(now_ms)

t0=$(now_ms)
bench_cpu >"$tmp/cpu0"
each POST /api/payments '{\"order_id\":\"%s\",\"payment_method\":\"pm_card_visa\"}' "$TOKEN" >"$tmp/paid"
paid=$(grep -cx 201 "$tmp/paid" || true)
[ "$paid" = "$n" ] || echo "whole.sh: $paid of $n payments answered 201" >&2
t1=$(now_ms)
wait_until 300 all_in ready || echo "whole.sh: not every order ready after 300 s ($(in_status ready) of $n)" >&2
t2=$(now_ms)
each POST /api/kitchen/tickets/%s/complete "" "$ADMIN" >"$tmp/completed"
done_n=$(grep -cx 200 "$tmp/completed" || true)
wait_until 60 all_in completed || echo "whole.sh: not every order completed after 60 s" >&2
bench_settle whole.sh 120
t3=$(now_ms)
bench_cpu >"$tmp/cpu1"
# What the API says of them, once counted.
shown=$(GALLEY_URL=$GALLEY_URL token=$TOKEN xargs -P 8 -I{} sh -c \
	'curl -sS -H "Authorization: Bearer $token" "$GALLEY_URL/api/orders/{}"; echo' <"$tmp/orders" |
	jq -r .status | sort | uniq -c | xargs)

echo "machine: $(nproc) cores; $n orders, the kitchen at ${GALLEY_KITCHEN_SECONDS_PER_ITEM:-30} s an item, ${GALLEY_KITCHEN_STAFF:-2} cooks a kitchen process"
echo "paid in $(((t1 - t0) / 1000)).$(((t1 - t0) / 100 % 10)) s, all ready $(((t2 - t0) / 1000)).$(((t2 - t0) / 100 % 10)) s after the first payment; $done_n handed over (the API shows: $shown); all settled $(((t3 - t0) / 1000)).$(((t3 - t0) / 100 % 10)) s after it"
echo "the stack's CPU per order, paid to handed over and written: $(bench_cpu_per "$tmp/cpu0" "$tmp/cpu1" "$n")"
echo "the same less what the stack spends idle: $(bench_cpu_per_busy "$tmp/idle0" "$tmp/idle1" $((i1 - i0)) "$tmp/cpu0" "$tmp/cpu1" $((t3 - t0)) "$n")"
echo "context switches per order: $(bench_switches_per "$tmp/cpu0" "$tmp/cpu1" "$n")"
