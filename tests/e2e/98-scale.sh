#!/usr/bin/env bash
# Scaling by pools under load: bin/galley scale adds and removes pools of a
# running service, and changes its workers per pool, while clients keep
# reading items and placing orders: no request fails (a placement refused with
# Retry-After is placed when sent again, as README's clients do), and the stack ends
# with the pools asked for. Last of the scripts: it leaves the stack's shape changed.
. "$(dirname "$0")/lib.sh"

# pools_of SVC: its pools whose galley-pool is alive; workers_of SVC N: pool N's live workers.
pools_of() {
	local f n=0
	for f in "$GALLEY_RUN/pids/$1"-*.pid; do kill -0 "$(cat "$f" 2>/dev/null)" 2>/dev/null && n=$((n + 1)); done
	echo "$n"
}
workers_of() { pool_workers "$1" "$2" | wc -l; }

check "setup: an item in stock" stocked_item "Scale tart" 350 100000
tart=$ITEM
customer ida
ida=$TOKEN

tmp=$(mktemp -d)
crashes_before=$(grep -c 'exited on signal' "$GALLEY_RUN/logs/nginx-error.log" || true)
# A live stream open through the reloads: nginx's old workers close it after
# worker_shutdown_timeout and exit cleanly (the live server, never reloaded, holds nchan).
curl -sN --max-time 60 -H 'Accept: text/event-stream' -H "Authorization: Bearer $ida" \
	"$GALLEY_URL/live/orders" >"$tmp/live" 2>/dev/null &
live_pid=$!
# A client as README's "Overload" asks: a placement refused with 503 and Retry-After (its
# pool's one worker busy past the bound on waiting, lib/admit.h: while a pool of one worker
# restarts, the other serves every placement and every orders list alone) is sent again
# after that many seconds with the same Idempotency-Key, at most 5 times. Its last answer is
# what counts; each refusal is counted and printed.
place_loop() {
	local key code tries
	while [[ ! -e $tmp/stop ]]; do
		key=$(newid)
		for ((tries = 0; tries < 6; tries++)); do
			code=$(curl -s -D "$tmp/head" -o "$tmp/body" -w '%{http_code}' --max-time 10 -X POST \
				"$GALLEY_URL/api/orders" -H "Authorization: Bearer $ida" -H "Idempotency-Key: $key" \
				-H 'Content-Type: application/json' -d "{\"lines\":[{\"item_id\":\"$tart\",\"qty\":1}]}")
			[[ $code == 503 ]] && grep -qi '^Retry-After: ' "$tmp/head" || break
			echo "# 503 $(date +%T.%N | cut -c1-12) $(head -c 200 "$tmp/body")" >>"$tmp/refused"
			sleep "$(tr -d '\r' <"$tmp/head" | awk -F': ' 'tolower($1) == "retry-after" { print $2 }')"
		done
		echo "$code" >>"$tmp/placed"
		[[ $code == 201 ]] || echo "# $code $(date +%T.%N | cut -c1-12) $(head -c 300 "$tmp/body")" >>"$tmp/unplaced"
	done
}
read_loop() { # PATH FILE
	while [[ ! -e $tmp/stop ]]; do
		curl -s -o /dev/null -w '%{http_code}\n' --max-time 10 "$GALLEY_URL$1" \
			-H "Authorization: Bearer $ida" >>"$tmp/$2"
	done
}
place_loop &
read_loop "/api/menu/items/$tart" items &
read_loop /api/menu menu &
read_loop "/api/orders?limit=5" orders &
flowing() { [[ -s $tmp/placed && -s $tmp/items && -s $tmp/orders ]]; }
check "the load runs" wait_until 10 flowing

scale() { local t=$SECONDS s rc=0; s=$(date +%T); "$GALLEY_TOP/bin/galley" scale "$@" >>"$tmp/scale.log" 2>&1 || rc=$?; echo "scale $*: from $s, $((SECONDS - t)) s" >>"$tmp/times"; return $rc; }
check "orders: 2 → 3 pools" scale orders 3
check "3 pools run" test "$(pools_of orders)" = 3
check "orders: 3 → 2 pools of 1 worker (each pool restarted in turn)" scale orders 2 1
check "2 pools run" test "$(pools_of orders)" = 2
check "of 1 worker each" test "$(workers_of orders 1) $(workers_of orders 2)" = "1 1"
check "menu: 2 → 3 pools" scale menu 3
check "3 pools run" test "$(pools_of menu)" = 3
touch "$tmp/stop"
kill "$live_pid" 2>/dev/null || true
wait
echo "# answers: placed $(sort "$tmp/placed" | uniq -c | tr '\n' ' '); items $(sort "$tmp/items" | uniq -c | tr '\n' ' '); menu $(sort "$tmp/menu" | uniq -c | tr '\n' ' '); orders $(sort "$tmp/orders" | uniq -c | tr '\n' ' ')"
check "every placement succeeded ($(wc -l <"$tmp/placed"))" bash -c "! grep -qvx 201 '$tmp/placed'"
[[ ! -s $tmp/unplaced ]] || cat "$tmp/unplaced"
echo "# refused and placed when sent again: $(cat "$tmp/refused" 2>/dev/null | wc -l)"
[[ ! -s $tmp/refused ]] || head -n 5 "$tmp/refused"
check "every item read succeeded ($(wc -l <"$tmp/items"))" bash -c "! grep -qvx 200 '$tmp/items'"
check "every menu read succeeded ($(wc -l <"$tmp/menu"))" bash -c "! grep -qvx 200 '$tmp/menu'"
check "every orders list succeeded ($(wc -l <"$tmp/orders"))" bash -c "! grep -qvx 200 '$tmp/orders'"
check "the recorded shape is what was asked" bash -c "grep -qx 'GALLEY_ORDERS_POOLS=2' '$GALLEY_RUN/env' && grep -qx 'GALLEY_ORDERS_WORKERS=1' '$GALLEY_RUN/env' && grep -qx 'GALLEY_MENU_POOLS=3' '$GALLEY_RUN/env'"
crashes=$(($(grep -c 'exited on signal' "$GALLEY_RUN/logs/nginx-error.log" || true) - crashes_before))
check "no nginx worker crashed in the reloads ($crashes)" test "$crashes" = 0
procs() { [[ $(curl -s "$GALLEY_INTERNAL_URL/metrics" | awk -v k="galley_processes{service=\"$1\"}" '$1 == k { print $2 }') == "$2" ]]; }
check "/metrics counts the new shape: orders 2×1 processes" wait_until 20 procs orders 2
check "and menu 3×2" wait_until 20 procs menu 6
sed "s/^/# /" "$tmp/times"
rm -rf "$tmp"
done_testing
