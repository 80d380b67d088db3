#!/usr/bin/env bash
# Idempotency-Key on creating POSTs: a repeat returns the first response and
# creates nothing new, also when the copies arrive at the same time.
. "$(dirname "$0")/lib.sh"

key="k-$RANDOM$RANDOM"
email="idem$RANDOM$RANDOM@idem.example"
body="{\"name\":\"Once\",\"email\":\"$email\"}"
req POST /api/suppliers "$body" -H "Idempotency-Key: $key"
expect_status 201 "the first POST with a key creates"
first=$(jq -r .id <<<"$BODY")
req POST /api/suppliers "$body" -H "Idempotency-Key: $key"
expect_status 201 "a repeat with the same key and body answers 201 again"
expect_json ".id == \"$first\"" "with the first response (the same id)"
req POST /api/suppliers "{\"name\":\"Twice\",\"email\":\"x$email\"}" -H "Idempotency-Key: $key"
expect_error 409 conflict "the same key with another body is a conflict"
req GET "/api/suppliers?limit=200"
count=$(jq --arg e "$email" '[.items[] | select(.email == $e)] | length' <<<"$BODY")
next=$(jq -r .next <<<"$BODY")
while [ "$next" != null ]; do
	req GET "/api/suppliers?limit=200&after=$next"
	count=$((count + $(jq --arg e "$email" '[.items[] | select(.email == $e)] | length' <<<"$BODY")))
	next=$(jq -r .next <<<"$BODY")
done
check "exactly one supplier was created (got $count)" test "$count" = 1

req POST /api/suppliers "{\"name\":\"x\",\"email\":\"y$email\"}" -H "Idempotency-Key: $(printf 'k%.0s' $(seq 1 65))"
expect_error 400 validation_failed "a key over 64 characters is refused"

# Simultaneous copies: one creates, the others replay it or are told it is in progress.
key2="c-$RANDOM$RANDOM"
item="{\"name\":\"Race\",\"price_cents\":100,\"supplier_id\":\"$first\"}"
dir=$(mktemp -d)
for i in $(seq 1 8); do
	curl -s -o "$dir/$i.body" -w '%{http_code}\n' -X POST -H 'Content-Type: application/json' \
		-H "Authorization: Bearer $AUTH_TOKEN" -H "Idempotency-Key: $key2" --data-binary "$item" "$GALLEY_URL/api/menu/items" >"$dir/$i.code" &
done
wait
codes=$(cat "$dir"/*.code | sort | uniq -c | tr '\n' ' ')
check "8 simultaneous copies answer only 201 or 409 ($codes)" bash -c '! cat "$1"/*.code | grep -vqE "^(201|409)$"' _ "$dir"
ids=$(for i in $(seq 1 8); do [ "$(cat "$dir/$i.code")" = 201 ] && jq -r .id "$dir/$i.body"; done | sort -u)
check "every 201 names the same item ($(echo $ids))" test "$(wc -w <<<"$ids")" = 1
req GET /api/menu
made=$(jq '[.items[] | select(.name == "Race" and .supplier_id == "'"$first"'")] | length' <<<"$BODY")
check "exactly one item was created (got $made)" test "$made" = 1
rm -rf "$dir"
done_testing
