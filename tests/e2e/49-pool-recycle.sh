#!/usr/bin/env bash
# Recycling (GALLEY_MAX_REQUESTS, fcgi/pool/pool.h): suppliers' pools restart with 5 requests per
# worker (bin/galley scale); 300 reads, 8 at a time, all answer 200 while every worker is
# replaced many times over; galley-pool counts them as recycled, not as crashes, and the
# workers' pids have all changed. Then suppliers' pools go back to the stack's default.
set -euo pipefail
# shellcheck source=tests/e2e/lib.sh
source "$(dirname "$0")/lib.sh"

SVC=suppliers
POOLS=$(svc_pools "$SVC")
N=300
check "bin/galley scale restarts $SVC's pools with GALLEY_SUPPLIERS_MAX_REQUESTS=5" \
	env GALLEY_SUPPLIERS_MAX_REQUESTS=5 "$GALLEY_TOP/bin/galley" scale "$SVC" "$POOLS"
check "each $SVC pool's status says max_requests 5" pools_all "$SVC" ".max_requests == 5 and .recycled == 0 and .respawned == 0"
old=$(for ((n = 1; n <= POOLS; n++)); do pool_workers "$SVC" "$n"; done | sort)
accepted=$(pool_sum "$SVC" accepted)

seq "$N" | xargs -P 8 -I{} curl -s -o /dev/null -w '%{http_code}\n' --max-time 30 \
	-H "Authorization: Bearer $AUTH_TOKEN" "$GALLEY_URL/api/suppliers?limit=5" >"$_GL_TMP/codes" || true
total=$(wc -l <"$_GL_TMP/codes")
bad=$(grep -cvx 200 "$_GL_TMP/codes" || true)
STATUS="$bad non-200 of $total" BODY=$(sort "$_GL_TMP/codes" | uniq -c | xargs)
check "all $N reads answered" test "$total" -eq "$N"
check "every read answered 200 while the workers were recycled" test "$bad" -eq 0

recycled=$(pool_sum "$SVC" recycled)
respawned=$(pool_sum "$SVC" respawned)
STATUS="recycled $recycled, respawned $respawned" BODY=""
check "galley-pool recycled workers (at least $((N / 5 / 2)))" test "$recycled" -ge $((N / 5 / 2))
check "none counted as a crash" test "$respawned" -eq 0
now=$(for ((n = 1; n <= POOLS; n++)); do pool_workers "$SVC" "$n"; done | sort)
STATUS="old: $(xargs <<<"$old"); now: $(xargs <<<"$now")"
check "no worker of before is left" test -z "$(comm -12 <(echo "$old") <(echo "$now"))"
after=$(pool_sum "$SVC" accepted)
STATUS="$accepted -> $after"
check "accepted counts the recycled workers' requests too ($N more at least)" test "$after" -ge $((accepted + N))

check "bin/galley scale gives $SVC's pools the default again" \
	env GALLEY_SUPPLIERS_MAX_REQUESTS= "$GALLEY_TOP/bin/galley" scale "$SVC" "$POOLS"
check "each $SVC pool's status says max_requests 0" pools_all "$SVC" ".max_requests == 0"
done_testing
