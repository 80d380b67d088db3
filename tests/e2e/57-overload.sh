#!/usr/bin/env bash
# The edge's bounded queue (nginx.conf.in, service.conf.in; issue 14): a service takes at
# most its budget of requests in flight (pools x workers x GALLEY_INFLIGHT_PER_WORKER); the
# next one is refused at once with 503, Retry-After and the API's error body, instead of
# waiting without bound. Made deterministic by stopping (SIGSTOP) every menu worker: the
# requests let in wait in the pools' sockets, the rest must be refused while they wait;
# then the workers go on (SIGCONT) and every request let in is answered, a read however long
# it waited. Then orders' workers are held with one placement more than they are queued: the
# one that waited behind the others longer than a burst may is refused by the worker
# (lib/admit.h) with 503 and Retry-After, does nothing, and its retry with the same
# Idempotency-Key is placed.
. "$(dirname "$0")/lib.sh"

# burst SVC: how long a request may wait for SVC's workers while the queue is new, in ms.
burst_ms() {
	local v="GALLEY_${1^^}_QUEUE_BURST_MS"
	echo "${!v:-${GALLEY_QUEUE_BURST_MS:-100}}"
}
# waited_past SVC: sleep until whatever is queued for SVC's workers now has waited longer than
# its burst bound (the subject here is time itself: what is refused is what waited too long).
waited_past() {
	sleep "$(awk -v b="$(burst_ms "$1")" 'BEGIN {print b / 1000 + 0.3}')"
}

stocked_item "Overload soup" 450 5 || echo "Bail out! no item to read"
limit=$(grep -A3 'location ^~ /api/menu/ {' "$GALLEY_RUN/nginx/locations-public.conf" |
	sed -n 's/.*limit_conn galley_inflight \([0-9]*\);.*/\1/p')
check "menu's public routes have a budget ($limit)" test -n "$limit"
expected=$(($(svc_pools menu) * $(svc_workers menu) * ${GALLEY_INFLIGHT_PER_WORKER:-8}))
check "the budget is pools x workers x per-worker ($expected)" test "${limit:-0}" -eq "$expected"
extra=20
total=$((limit + extra))

stopped=()
resume() { ((${#stopped[@]} == 0)) || kill -CONT "${stopped[@]}" 2>/dev/null; stopped=(); }
trap resume EXIT
for ((n = 1; n <= $(svc_pools menu); n++)); do
	for p in $(pool_workers menu "$n"); do stopped+=("$p"); done
done
check "every menu worker is found (${#stopped[@]})" \
	test "${#stopped[@]}" -eq $(($(svc_pools menu) * $(svc_workers menu)))
kill -STOP "${stopped[@]}"

dir=$(mktemp -d "$GALLEY_RUN/overload.XXXXXX")
for ((i = 0; i < total; i++)); do
	curl -s -D "$dir/h$i" -o "$dir/b$i" -w '%{http_code}' --max-time 60 \
		-H "Authorization: Bearer $AUTH_TOKEN" "$GALLEY_URL/api/menu/items/$ITEM" >"$dir/s$i" &
done
refused() { grep -lx 503 "$dir"/s* 2>/dev/null | wc -l; }
# The refusals come while the workers are still stopped: nothing waits for them.
wait_until 20 bash -c '(($(grep -lx 503 "$1"/s* 2>/dev/null | wc -l) >= $2))' _ "$dir" "$extra"
check "with menu's workers stopped, $extra of $total requests are refused at once ($(refused))" \
	test "$(refused)" -eq "$extra"
bad=0
for f in $(grep -lx 503 "$dir"/s* 2>/dev/null); do
	i=${f##*/s}
	grep -qi '^Retry-After: 1' "$dir/h$i" &&
		grep -qi '^Content-Type: application/json' "$dir/h$i" &&
		grep -qi '^X-Request-Id: ' "$dir/h$i" &&
		jq -e '.error.code == "upstream_unavailable" and (.error.message | length > 0)' \
			"$dir/b$i" >/dev/null || bad=$((bad + 1))
done
check "every refusal is a 503 JSON error with Retry-After and X-Request-Id ($bad not)" test "$bad" -eq 0

# Now every request let in waits longer than a burst may; reads are served all the same (a
# worker refuses only writes by their wait, lib/app.c).
waited_past menu
resume
wait
ok_n=$(grep -lx 200 "$dir"/s* | wc -l)
other=$(for f in "$dir"/s*; do cat "$f" && echo; done | sort | uniq -c | awk '{printf "%s x%s ", $2, $1}')
check "once the workers go on, every read let in is answered 200, however long it waited ($ok_n of $limit; all: $other)" \
	test "$ok_n" -eq "$limit"
check "nothing else: only 200 and 503 ($other)" \
	test "$(grep -lvx -e 200 -e 503 "$dir"/s* | wc -l)" -eq 0
req GET "/api/menu/items/$ITEM"
expect_status 200 "afterwards a read is answered as usual"
rm -rf "$dir"

# Placements that wait for orders' stopped workers: as many as there are workers came to a
# free worker (each was waiting in accept) and are placed; the one more waited behind them,
# longer than a burst may, and is refused before it is looked at: no order, no unit held; the
# client's retry with the same Idempotency-Key is placed.
n=$(($(svc_pools orders) * $(svc_workers orders)))
stocked_item "Overload pie" 300 $((n + 1)) || echo "Bail out! no item to order"
pie=$ITEM
customer eater
eater=$TOKEN
order="{\"lines\":[{\"item_id\":\"$pie\",\"qty\":1}]}"
place_dir=$(mktemp -d "$GALLEY_RUN/overload.XXXXXX")
hold_workers orders
for ((i = 0; i <= n; i++)); do
	curl -s -D "$place_dir/h$i" -o "$place_dir/b$i" -w '%{http_code}' --max-time 60 -X POST \
		-H "Authorization: Bearer $eater" -H 'Content-Type: application/json' \
		-H "Idempotency-Key: overload-$i-$pie" --data-binary "$order" "$GALLEY_URL/api/orders" \
		>"$place_dir/s$i" &
done
queued() { (($(pool_sum orders listen_queue) >= n + 1)); }
check "$((n + 1)) placements wait for orders' $n stopped workers" wait_until 10 queued
waited_past orders
release_workers
wait
placed=$(grep -lx 201 "$place_dir"/s* | wc -l)
late=$(grep -lx 503 "$place_dir"/s* | head -n 1)
other=$(for f in "$place_dir"/s*; do cat "$f" && echo; done | sort | uniq -c | awk '{printf "%s x%s ", $2, $1}')
check "$n came to a free worker and are placed, however long they waited ($other)" test "$placed" -eq "$n"
check "the one behind them is refused ($other)" test -n "$late" -a "$(grep -lx 503 "$place_dir"/s* | wc -l)" -eq 1
i=${late##*/s}
STATUS=503 BODY=$(cat "$place_dir/b${i:-x}" 2>/dev/null)
expect_error 503 upstream_unavailable "a placement that waited too long for a worker is refused"
expect_json '.error.message | test("waited [0-9]+ ms")' "it says how long it waited"
check "with Retry-After: 1" grep -qi '^Retry-After: 1' "$place_dir/h${i:-x}"
# Shedding load is policy, not a fault: orders logs it at info, as nginx logs its own
# refusals, so that an error line still means something to look into. The line is written
# before the reply.
rid=$(awk 'tolower($1) == "x-request-id:" {print $2}' "$place_dir/h${i:-x}" | tr -d '\r')
its_lines() { grep -hF "\"request_id\":\"${rid:-none}\"" "$GALLEY_RUN"/logs/orders-*.log || true; }
check "orders logs no error for the refusal" \
	test -n "$rid" -a -z "$(its_lines | jq -r 'select(.level == "error") | .msg')"
case ${GALLEY_LOG_LEVEL:-info} in
debug | info)
	check "it logs it at info, with how long it waited" test -n \
		"$(its_lines | jq -r 'select(.level == "info" and (.msg | test("waited [0-9]+ ms"))) | .msg')"
	;;
esac
AUTH_TOKEN=$eater req GET /api/orders
expect_json ".items | length == $n" "no order was made for it"
req GET "/api/stock/$pie"
expect_json ".reserved == $n and .available == 1" "no unit is held for it"
AUTH_TOKEN=$eater req POST /api/orders "$order" -H "Idempotency-Key: overload-$i-$pie"
expect_status 201 "the retry with the same Idempotency-Key is placed"
AUTH_TOKEN=$eater req GET /api/orders
expect_json ".items | length == $((n + 1))" "one more order"
rm -rf "$place_dir"

done_testing
