#!/usr/bin/env bash
# A whole pool killed mid-traffic (galley-pool and its workers) costs no GET: nginx moves the
# traffic to the service's other pools. Nothing restarts a dead pool by itself (galley-pool
# is what re-forks, and it is gone): `bin/galley status` shows it DOWN until
# `bin/galley restart-pool SVC N`, which this test runs at the end. (bin/galley test also
# restores any pool a test killed on purpose before the next test.)
set -euo pipefail
# shellcheck source=tests/e2e/lib.sh
source "$(dirname "$0")/lib.sh"

N=${E2E_LOOP_REQUESTS:-200}
SVC=menu

if (($(svc_pools "$SVC") < 2)); then
	echo "1..0 # SKIP needs 2 or more $SVC pools"
	exit 0
fi

req GET /api/menu
expect_status 200 "GET /api/menu before the fault"

out="$GALLEY_RUN/tmp/51-pools.$$"
mkdir -p "$out"
for ((i = 0; i < N; i++)); do
	curl -s -o /dev/null -w '%{http_code}\n' --max-time 10 \
		-H "Authorization: Bearer $AUTH_TOKEN" "$GALLEY_URL/api/menu" || echo 000
done >"$out/codes" &
loop=$!
at_least() { (($(wc -l <"$1") >= $2)); }

check "the loop got going" wait_until 30 at_least "$out/codes" $((N / 3))
victim=$(pool_pid "$SVC" 1)
check "killed pool $SVC-1 (group $victim)" kill_pool "$SVC" 1
wait "$loop" || true

total=$(wc -l <"$out/codes")
bad=$(grep -cv '^200$' "$out/codes" || true)
STATUS="$bad non-200 of $total" BODY=$(sort "$out/codes" | uniq -c | tr '\n' ' ')
check "all $N GETs answered" test "$total" -eq "$N"
check "every GET answered 200 while a pool died" test "$bad" -eq 0

gone() { ! kill -0 "$victim" 2>/dev/null || [[ $(cut -d' ' -f3 "/proc/$victim/stat" 2>/dev/null) == Z ]]; }
check "pool $SVC-1 stays dead" wait_until 5 gone
req GET /api/menu/readyz
expect_status 200 "menu readyz with one pool dead"
req GET /api/menu
expect_json '.items | length > 0' "the menu still lists items with one pool dead"

galley() { "$GALLEY_TOP/bin/galley" "$@" >/dev/null 2>&1; }
STATUS="" BODY=""
check "bin/galley status reports the dead pool" bash -c '! "$0" status >/dev/null 2>&1' "$GALLEY_TOP/bin/galley"
check "bin/galley restart-pool $SVC 1" galley restart-pool "$SVC" 1
check "bin/galley status is healthy again" galley status
check "pool $SVC-1 has its workers again" \
	test "$(pool_workers "$SVC" 1 | wc -l)" -eq "$(svc_workers "$SVC")"

# Every pool at once: both killed, then both started again while clients keep asking. nginx
# takes a pool out for 2 s after a failure (max_fails=1 fail_timeout=2s); with every pool
# out it answered 502 "no live upstreams" without asking any, even once they were back. The
# same sockets as backups (never taken out) are asked then: the service answers the moment
# its pools are back.
for n in 1 2; do kill_pool "$SVC" "$n"; done
both_gone() { [[ ! -S $GALLEY_RUN/sock/$SVC-1.sock || -z $(pool_workers "$SVC" 1) ]] &&
	[[ ! -S $GALLEY_RUN/sock/$SVC-2.sock || -z $(pool_workers "$SVC" 2) ]]; }
check "both $SVC pools killed" wait_until 5 both_gone
req GET /api/menu
down_shape() { [[ $STATUS == 50[234] ]] && jq -e '(.error.code | type == "string") and (.error.message | type == "string")' >/dev/null <<<"$BODY"; }
check "with every pool dead: 502, 503 or 504 in the API's error shape ($STATUS)" down_shape
(galley restart-pool "$SVC" 1 & galley restart-pool "$SVC" 2 & wait) &
restarting=$!
# Clients keep asking while the pools come back, so nginx has just marked both out.
while kill -0 "$restarting" 2>/dev/null; do
	curl -s -o /dev/null --max-time 5 -H "Authorization: Bearer $AUTH_TOKEN" "$GALLEY_URL/api/menu" || true
done
wait "$restarting" || true
req GET /api/menu
check "the first GET once both pools are back answers 200 (not 502)" test "$STATUS" = 200
check "pools $SVC-1 and $SVC-2 have their workers again" \
	test "$(pool_workers "$SVC" 1 | wc -l) $(pool_workers "$SVC" 2 | wc -l)" = "$(svc_workers "$SVC") $(svc_workers "$SVC")"
rm -rf "$out"
done_testing
