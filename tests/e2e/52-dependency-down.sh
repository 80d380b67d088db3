#!/usr/bin/env bash
# A service whose dependency is down answers 503 upstream_unavailable (never
# a 500, never a hang), fails fast while its circuit breaker is open, and
# recovers by itself once the dependency is back.
. "$(dirname "$0")/lib.sh"

item='{"name":"Needs a supplier","price_cents":100,"supplier_id":"5eed00000000000000000001"}'
for n in $(seq 1 "$(svc_pools suppliers)"); do kill_pool suppliers "$n"; done
for i in 1 2 3 4 5 6 7; do
	req POST /api/menu/items "$item"
	expect_error 503 upstream_unavailable "menu answers 503 while suppliers is down (try $i)"
	expect_header Retry-After '^1$' "with Retry-After: 1 (try $i)"
done
req GET /api/menu
expect_status 200 "reads that need no supplier still work"
for n in $(seq 1 "$(svc_pools suppliers)"); do
	check "suppliers pool $n restarts" "$GALLEY_TOP/bin/galley" restart-pool suppliers "$n"
done
created() { req POST /api/menu/items "$item"; [[ $STATUS == 201 ]]; }
check "menu creates items again once suppliers is back (breakers close by themselves)" wait_until 20 created
req DELETE "/api/menu/items/$(jq -r .id <<<"$BODY")"
done_testing
