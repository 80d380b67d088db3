#!/usr/bin/env bash
# Redis is never the only copy of anything (DESIGN.md): with it down, reads
# come from MongoDB (a cache failure is a miss), writes still work, signed-in
# tokens still work (sessions live in MongoDB), and readyz says which
# dependency is missing. When it is back, caching resumes by itself.
. "$(dirname "$0")/lib.sh"

redis_up() { [[ $(redis-cli -u "$GALLEY_REDIS_URL" --no-auth-warning ping 2>/dev/null) == PONG ]]; }
redis_down() { ! redis_up; }

req GET /api/menu
item=$(jq -r '.items[0].id' <<<"$BODY")
req GET "/api/menu/items/$item"
req GET "/api/menu/items/$item"
expect_header X-Cache '^hit$' "before the fault the item is cached"
price=$(jq -r .price_cents <<<"$BODY")

check "Redis is stopped" kill -TERM "$(cat "$GALLEY_RUN/pids/redis.pid")"
check "and gone" wait_until 10 redis_down

req GET "/api/menu/items/$item"
expect_status 200 "a signed-in read works with Redis down (token checked against MongoDB)"
expect_header X-Cache '^miss$' "served from MongoDB, as a miss"
req GET /api/menu
expect_status 200 "the menu is served too"
req PATCH "/api/menu/items/$item" "{\"price_cents\":$((price + 1))}"
expect_status 200 "a write works with Redis down"
req GET "/api/menu/items/$item"
expect_json ".price_cents == $((price + 1))" "and the next read sees it"
check "menu readyz answers 503 while Redis is down" ready menu 503
expect_json '.error.code == "upstream_unavailable" and (.error.message | test("redis"))' "naming Redis"
login "$GALLEY_ADMIN_EMAIL" "$(cat "${GALLEY_ADMIN_PASSWORD_FILE:-/dev/null}" 2>/dev/null || echo "${GALLEY_ADMIN_PASSWORD:-}")"
check "signing in works with Redis down" test -n "$TOKEN"
AUTH_TOKEN=$TOKEN req GET /api/auth/me
expect_json '.role == "admin"' "and the new token works"

check "bin/galley restart-redis brings it back" "$GALLEY_TOP/bin/galley" restart-redis
check "menu readyz is 200 again within seconds" wait_until 10 ready menu 200
# Each worker reconnects on its own (at most one try a second), so poll for a hit.
cached() { req GET "/api/menu/items/$item"; grep -qi '^x-cache: hit' <<<"$HEADERS"; }
check "caching resumes by itself within seconds" wait_until 10 cached
expect_json ".price_cents == $((price + 1))" "with the current price"
req PATCH "/api/menu/items/$item" "{\"price_cents\":$price}"
done_testing
