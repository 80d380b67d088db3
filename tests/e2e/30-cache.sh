#!/usr/bin/env bash
# Cache-aside as DESIGN.md says: a miss then a hit, a TTL on every entry, and
# the cached copy gone before a write's response is sent.
. "$(dirname "$0")/lib.sh"


req POST /api/suppliers "{\"name\":\"Cache supplier\",\"email\":\"c$RANDOM$RANDOM@cache.example\"}"
sup=$(jq -r .id <<<"$BODY")
req GET "/api/suppliers/$sup"
expect_header X-Cache '^miss$' "the first read of a supplier is a miss"
req GET "/api/suppliers/$sup"
expect_header X-Cache '^hit$' "the second is a hit"
expect_json ".id == \"$sup\"" "and serves the same supplier"
ttl=$(rcli TTL "galley:suppliers:supplier:$sup")
check "the cached supplier has a TTL of at most 300 s (got $ttl)" test "$ttl" -gt 0 -a "$ttl" -le 300

req PATCH "/api/suppliers/$sup" '{"name":"Renamed"}'
check "after PATCH the cached copy is already gone" test "$(rcli EXISTS "galley:suppliers:supplier:$sup")" = 0
req GET "/api/suppliers/$sup"
expect_header X-Cache '^miss$' "the next read is a miss"
expect_json '.name == "Renamed"' "and sees the change"

req POST /api/menu/items "{\"name\":\"Cached item\",\"price_cents\":100,\"supplier_id\":\"$sup\"}"
item=$(jq -r .id <<<"$BODY")
req GET "/api/menu/items/$item"
expect_header X-Cache '^miss$' "an item read starts with a miss"
req GET "/api/menu/items/$item"
expect_header X-Cache '^hit$' "then hits"
req GET /api/menu
req GET /api/menu
expect_header X-Cache '^hit$' "the whole menu is cached too"
expect_json "any(.items[]; .id == \"$item\")" "and holds the item"

req PATCH "/api/menu/items/$item" '{"price_cents":250}'
check "PATCH drops the item's cached copy" test "$(rcli EXISTS "galley:menu:item:$item")" = 0
check "PATCH drops the cached menu" test "$(rcli EXISTS galley:menu:available)" = 0
req GET /api/menu
expect_json "any(.items[]; .id == \"$item\" and .price_cents == 250)" "the menu shows the new price at once"
req GET "/api/menu/items/$item"
expect_json '.price_cents == 250' "and so does the item"

req GET "/api/menu/items/$item"
req DELETE "/api/menu/items/$item"
check "DELETE drops the cached copy" test "$(rcli EXISTS "galley:menu:item:$item")" = 0
req GET "/api/menu/items/$item"
expect_error 404 not_found "a deleted item is not served from the cache"
# A read that found nothing stores nothing, and frees the key's loader lock: left to expire
# (3 s), it made every read of the key meanwhile wait 200 ms for a load that never came.
check "a read that found nothing leaves no loader's lock behind" \
	test "$(rcli EXISTS "galley:menu:item:$item:lock")" = 0
check "nor a cached answer" test "$(rcli EXISTS "galley:menu:item:$item")" = 0

# No stampede: many concurrent misses on one key load it once and all get the item.
req POST /api/menu/items "{\"name\":\"Popular\",\"price_cents\":100,\"supplier_id\":\"$sup\"}"
pop=$(jq -r .id <<<"$BODY")
out=$(mktemp)
for i in $(seq 1 20); do
	curl -s -o /dev/null -w '%{http_code}\n' -H "Authorization: Bearer $AUTH_TOKEN" \
		"$GALLEY_URL/api/menu/items/$pop" >>"$out" &
done
wait
check "20 concurrent first reads all answer 200 ($(sort "$out" | uniq -c | tr -s ' \n' ' '))" \
	test "$(grep -c '^200$' "$out")" = 20
rm -f "$out"
done_testing
