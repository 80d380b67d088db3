#!/usr/bin/env bash
# Redis killed (SIGKILL) under a steady load of order placements and reads, then started
# again, empty (the stack's Redis keeps nothing on disk): while it is down placements go on
# (or fail 503, never 500), readyz says Redis, and the events of the orders placed
# meanwhile are in the store (the other Redis, untouched); after its return the stack serves normally again
# within seconds, caching resumes, and every order is announced, those placed while it
# was away too. Afterwards every acknowledged order is there and the item's stock is
# exact (lib.sh, load_verify).
set -euo pipefail
# shellcheck source=tests/e2e/lib.sh
source "$(dirname "$0")/lib.sh"

redis_pid() { cat "$GALLEY_RUN/pids/redis.pid"; }
redis_gone() { ! kill -0 "$(redis_pid)" 2>/dev/null; }
cached() {
	AUTH_TOKEN=$LOAD_TOKEN req GET "/api/menu/items/$LOAD_ITEM"
	[[ $STATUS == 200 ]] && grep -qi "^x-cache: hit" <<<"$HEADERS"
}

load_start 500
check "the item is read from the cache" wait_until 10 cached

check "Redis is killed (SIGKILL)" kill -KILL "$(redis_pid)"
check "and gone" wait_until 10 redis_gone
down=$(load_mark)
for svc in orders menu; do
	check "$svc readyz answers 503 while it is down" wait_until 10 ready "$svc" 503
	expect_json '.error.code == "upstream_unavailable" and (.error.message | test("redis"; "i"))' "naming Redis"
done
check "orders are placed while Redis is down" wait_until 30 load_seen 201 5 "$down"
AUTH_TOKEN=$LOAD_TOKEN req GET "/api/menu/items/$LOAD_ITEM"
expect_status 200 "the item is read while Redis is down"
expect_header X-Cache '^miss$' "from MongoDB (a miss)"

check "bin/galley restart-redis starts it again" "$GALLEY_TOP/bin/galley" restart-redis
back=$(load_mark)
# Placed while Redis was away: their order.created went to the store as always.
meanwhile=$(sed -n "$((down + 1)),${back}p" "$LOAD_DIR/placed" | awk '$1 == 201 {print $2}' | xargs)
for svc in orders menu; do
	check "$svc readyz is 200 again within 15 s" wait_until 15 ready "$svc" 200
done
check "caching resumes within 15 s" wait_until 15 cached
check "orders are placed after its return" wait_until 20 load_seen 201 5 "$back"
load_stop
load_verify '201|503'
check "the $(wc -w <<<"$meanwhile") orders placed while Redis was down were announced" \
	load_announced "$meanwhile"
done_testing
