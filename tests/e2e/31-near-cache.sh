#!/usr/bin/env bash
# Near copies (lib/near.h): each worker keeps what it read from the Redis cache and answers
# a warm read from memory, and Redis's client tracking keeps those copies true: a write
# through any worker, a change made in Redis by anyone, and a Redis restart are all seen by
# the next read on every worker.
. "$(dirname "$0")/lib.sh"

workers=$(($(svc_pools menu) * $(svc_workers menu)))
# reads N PATH: N reads, one at a time, so nginx spreads them over every menu worker.
reads() {
	local i
	for ((i = 0; i < $1; i++)); do
		curl -s -H "Authorization: Bearer $AUTH_TOKEN" "$GALLEY_URL$2"
		echo
	done
}
gets() { rcli INFO commandstats | sed -n 's/^cmdstat_get:calls=\([0-9]*\),.*/\1/p'; }

req POST /api/suppliers "{\"name\":\"Near supplier\",\"email\":\"n$RANDOM$RANDOM@near.example\"}"
sup=$(jq -r .id <<<"$BODY")
req POST /api/menu/items "{\"name\":\"Near soup\",\"price_cents\":500,\"supplier_id\":\"$sup\"}"
item=$(jq -r .id <<<"$BODY")
key="galley:menu:item:$item"

# 1. Warm on every worker, then 100 more reads cost (almost) no Redis GET.
reads $((workers * 4)) "/api/menu/items/$item" >/dev/null
before=$(gets)
out=$(reads 100 "/api/menu/items/$item")
after=$(gets)
check "100 warm reads all answer the item" test "$(jq -s 'map(select(.price_cents == 500)) | length' <<<"$out")" = 100
# Other processes' background work may GET a little (session checks are near copies too).
check "and ask Redis for it far less than once each ($((after - before)) GETs in all)" \
	test $((after - before)) -lt 30

# 2. A write through the API: every later read, on any worker, sees it.
req PATCH "/api/menu/items/$item" '{"price_cents":650}'
expect_status 200 "a price change"
out=$(reads $((workers * 4)) "/api/menu/items/$item")
check "every read after it, over every worker, shows 650" \
	test "$(jq -s 'map(select(.price_cents == 650)) | length' <<<"$out")" = $((workers * 4))

# 3. A change made in Redis by someone else entirely (here redis-cli): Redis tells every
#    worker that holds a copy, and the next reads show the new value, not their copy.
reads $((workers * 4)) "/api/menu/items/$item" >/dev/null
forged=$(rcli GET "$key" | jq -c '.name = "Changed in Redis"')
check "the cached copy is replaced in Redis directly" test "$(rcli SET "$key" "$forged" KEEPTTL)" = OK
out=$(reads $((workers * 4)) "/api/menu/items/$item")
check "every read shows what Redis now holds" \
	test "$(jq -s 'map(select(.name == "Changed in Redis")) | length' <<<"$out")" = $((workers * 4))
check "and a delete in Redis is seen too" test "$(rcli DEL "$key")" = 1
out=$(reads $((workers * 4)) "/api/menu/items/$item")
check "every read is the item as stored again" \
	test "$(jq -s 'map(select(.name == "Near soup" and .price_cents == 650)) | length' <<<"$out")" = $((workers * 4))

# 4. Redis restarts empty: the copies from before are dropped, not served.
reads $((workers * 4)) "/api/menu/items/$item" >/dev/null
check "Redis restarts" "$GALLEY_TOP/bin/galley" restart-redis
check "menu is ready again" wait_until 10 ready menu 200
req PATCH "/api/menu/items/$item" '{"price_cents":700}'
expect_status 200 "a price change right after the restart"
out=$(reads $((workers * 4)) "/api/menu/items/$item")
check "every read shows it" \
	test "$(jq -s 'map(select(.price_cents == 700)) | length' <<<"$out")" = $((workers * 4))

req DELETE "/api/menu/items/$item"
done_testing
