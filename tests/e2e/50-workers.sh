#!/usr/bin/env bash
# A worker killed mid-traffic costs no request: nginx retries the GET on another pool, and
# galley-pool forks a replacement so the pool is back to full strength.
set -euo pipefail
# shellcheck source=tests/e2e/lib.sh
source "$(dirname "$0")/lib.sh"

N=${E2E_LOOP_REQUESTS:-200} # per loop; two loops run side by side

req GET /api/suppliers
expect_status 200 "GET /api/suppliers before the faults"
sid=$(jq -r '.items[0].id // empty' <<<"$BODY" 2>/dev/null || true)
check "a seeded supplier exists" test -n "$sid"
: "${sid:=000000000000000000000000}"

# get_loop PATH OUT: N GETs in a row, one status code a line in OUT.
get_loop() {
	local i
	for ((i = 0; i < N; i++)); do
		curl -s -o /dev/null -w '%{http_code}\n' --max-time 10 \
			-H "Authorization: Bearer $AUTH_TOKEN" "$GALLEY_URL$1" || echo 000
	done >"$2"
}
lines() { wc -l <"$1" 2>/dev/null || echo 0; }
at_least() { (($(lines "$1") >= $2)); }

out="$GALLEY_RUN/tmp/50-workers.$$"
mkdir -p "$out"
get_loop /api/menu "$out/menu" &
menu_loop=$!
get_loop "/api/suppliers/$sid" "$out/suppliers" &
suppliers_loop=$!

# Midway, not at a fixed time: once each loop has done a third of its requests.
check "the loops got going" wait_until 30 at_least "$out/menu" $((N / 3))
wait_until 30 at_least "$out/suppliers" $((N / 3)) || true
menu_victim=$(kill_worker menu 1 || true)
suppliers_victim=$(kill_worker suppliers 1 || true)
check "killed a menu worker ($menu_victim)" test -n "$menu_victim"
check "killed a suppliers worker ($suppliers_victim)" test -n "$suppliers_victim"

wait "$menu_loop" "$suppliers_loop" || true
for svc in menu suppliers; do
	total=$(lines "$out/$svc")
	bad=$(grep -cv '^200$' "$out/$svc" || true)
	STATUS="$bad non-200 of $total" BODY=$(sort "$out/$svc" | uniq -c | tr '\n' ' ')
	check "all $N GETs of $svc answered" test "$total" -eq "$N"
	check "every GET of $svc answered 200 while a worker was killed" test "$bad" -eq 0
done

STATUS="" BODY=""
check "galley-pool replaced the menu worker" wait_until 15 pool_full menu 1 "${menu_victim:-0}"
check "galley-pool replaced the suppliers worker" wait_until 15 pool_full suppliers 1 "${suppliers_victim:-0}"

req GET /api/menu/readyz
expect_status 200 "menu readyz after the faults"
req GET /api/suppliers/readyz
expect_status 200 "suppliers readyz after the faults"
rm -rf "$out"
done_testing
