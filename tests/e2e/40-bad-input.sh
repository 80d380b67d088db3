#!/usr/bin/env bash
# Hostile and broken input: each gets a 4xx with the API's error body, never a
# 5xx, and the stack keeps serving.
. "$(dirname "$0")/lib.sh"

req POST /api/suppliers "{\"name\":\"Bad input supplier\",\"email\":\"b$RANDOM$RANDOM@bad.example\"}"
sup=$(jq -r .id <<<"$BODY")
good="\"name\":\"x\",\"price_cents\":100,\"supplier_id\":\"$sup\""

req POST /api/menu/items '{"name": "x", '
expect_error 400 invalid_json "malformed JSON"
expect_json '.error.message | test("line 1, column")' "the message says where"
req POST /api/menu/items '[1, 2, 3]'
expect_error 400 invalid_json "an array where an object is due"
req POST /api/menu/items '"just a string"'
expect_error 400 invalid_json "a bare string"
req POST /api/menu/items "{$good, \"name\": \"twice\"}"
expect_error 400 invalid_json "a duplicated key"
req POST /api/menu/items "{$good, \"colour\": \"red\"}"
expect_error 400 validation_failed "an unknown field"
expect_json '.error.field == "colour"' "naming the field"
req POST /api/menu/items "{$good, \"\$where\": \"1\"}"
expect_error 400 validation_failed "a \$-prefixed key at the top"
req POST /api/menu/items "{$good, \"tags\": [{\"\$gt\": \"\"}]}"
expect_error 400 validation_failed "a \$-prefixed key nested in an array"
req POST /api/suppliers '{"name":"x","email":"a@b.example","address":{"a.b":1}}'
expect_error 400 validation_failed "a dotted key nested in an object"
req POST /api/menu/items "{\"name\":\"x\",\"price_cents\":\"100\",\"supplier_id\":\"$sup\"}"
expect_error 400 validation_failed "a string where an integer is due"
req POST /api/menu/items "{\"name\":\"x\",\"price_cents\":1.5,\"supplier_id\":\"$sup\"}"
expect_error 400 validation_failed "a fraction where an integer is due"
req POST /api/menu/items "{\"name\":42,\"price_cents\":100,\"supplier_id\":\"$sup\"}"
expect_error 400 validation_failed "a number where a string is due"
req POST /api/menu/items "{\"name\":\"x\",\"price_cents\":100,\"supplier_id\":\"$sup\",\"available\":\"yes\"}"
expect_error 400 validation_failed "a string where a boolean is due"
req POST /api/menu/items "{\"name\":\"x\",\"price_cents\":-1,\"supplier_id\":\"$sup\"}"
expect_error 400 validation_failed "a negative price"
req POST /api/menu/items "{\"name\":\"x\",\"price_cents\":99999999999999999999,\"supplier_id\":\"$sup\"}"
expect_error 400 invalid_json "a price too big for any integer"
req POST /api/menu/items "{\"name\":\"x\",\"price_cents\":10000001,\"supplier_id\":\"$sup\"}"
expect_error 400 validation_failed "a price over the limit"
req POST /api/menu/items "{\"price_cents\":100,\"supplier_id\":\"$sup\"}"
expect_error 400 validation_failed "a missing required field"
expect_json '.error.field == "name"' "naming it"
req POST /api/menu/items "{\"name\":\"$(printf 'n%.0s' $(seq 1 121))\",\"price_cents\":100,\"supplier_id\":\"$sup\"}"
expect_error 400 validation_failed "a name over 120 characters"
req POST /api/menu/items "{$good, \"currency\": \"euro\"}"
expect_error 400 validation_failed "a currency that is not ISO 4217"
req POST /api/menu/items "{\"name\":\"x\",\"price_cents\":100,\"supplier_id\":\"not-an-id\"}"
expect_error 400 validation_failed "a supplier_id that is not an ObjectId"
req POST /api/suppliers '{"name":"x","email":"not an email"}'
expect_error 400 validation_failed "an email that is not one"
req PATCH "/api/menu/items/5eed00000000000000000101" '{}'
expect_error 400 validation_failed "a PATCH that changes nothing"

# NUL bytes and invalid UTF-8 in strings.
req POST /api/suppliers '{"name":"a\u0000b","email":"x@y.example"}'
expect_error 400 invalid_json "an escaped NUL in a string"
bad=$(mktemp)
printf '{"name":"a\xff\xfeb","email":"x@y.example"}' >"$bad"
req POST /api/suppliers "@$bad"
expect_error 400 invalid_json "invalid UTF-8 in a string"
expect_json '.error.message | test("^[ -~]*$")' "the message echoes no raw bytes"
printf '{"name":"a\0b","email":"x@y.example"}' >"$bad"
req POST /api/suppliers "@$bad"
expect_error 400 invalid_json "a raw NUL byte in the body"

# Sizes: a route's own cap, and nginx's cap for everything.
head -c 20000 /dev/zero | tr '\0' a | sed 's/^/{"name":"/; s/$/"}/' >"$bad"
req POST /api/suppliers "@$bad"
expect_error 413 body_too_large "a body over the route's 16 KiB cap"
head -c 10485760 /dev/zero | tr '\0' a >"$bad"
req POST /api/menu/items "@$bad"
expect_error 413 body_too_large "a 10 MB body"
rm -f "$bad"

# Content-Type.
STATUS=$(curl -s -o /dev/null -w '%{http_code}' -X POST --data-binary '{"name":"x","email":"x@y.example"}' -H 'Content-Type: text/plain' \
	-H "Authorization: Bearer $AUTH_TOKEN" "$GALLEY_URL/api/suppliers")
check "a wrong Content-Type is 415 (got $STATUS)" test "$STATUS" = 415
STATUS=$(curl -s -o /dev/null -w '%{http_code}' -X POST --data-binary '{"name":"x","email":"x@y.example"}' -H 'Content-Type:' \
	-H "Authorization: Bearer $AUTH_TOKEN" "$GALLEY_URL/api/suppliers")
check "a missing Content-Type is 415 (got $STATUS)" test "$STATUS" = 415

# Paths, methods, queries.
req GET /api/menu/items/123
expect_error 400 validation_failed "an id that is not an ObjectId"
req GET /api/menu/items/zzzzzzzzzzzzzzzzzzzzzzzz
expect_error 400 validation_failed "an id of 24 non-hex characters"
req GET /api/menu/nope
expect_error 404 not_found "an unknown route inside a service"
req GET /api/nothing-here
expect_error 404 not_found "an unknown route outside every service"
req PUT /api/menu/items/5eed00000000000000000101 '{"name":"x"}'
expect_error 405 method_not_allowed "a wrong method"
expect_header Allow 'GET.*PATCH.*DELETE' "405 lists the allowed methods"
req GET "/api/suppliers?limit=0"
expect_error 400 validation_failed "limit=0"
req GET "/api/suppliers?limit=100000"
expect_error 400 validation_failed "limit=100000"
req GET "/api/suppliers?limit=abc"
expect_error 400 validation_failed "limit=abc"
req GET "/api/suppliers?after=xyz"
expect_error 400 validation_failed "after= that is not an id"
req GET "/api/suppliers?sort=name"
expect_error 400 validation_failed "an unknown query parameter"
req GET "/api/suppliers?limit=%zz"
expect_error 400 validation_failed "a broken percent escape"
BODY=$(curl -s -X GET --data-binary 'x' -H 'Content-Type: application/json' \
	-H "Authorization: Bearer $AUTH_TOKEN" "$GALLEY_URL/api/menu/items/5eed00000000000000000101")
check "a body on a GET is refused" jq -e '.error.code == "validation_failed"' <<<"$BODY"

# Still serving.
req GET /api/menu
expect_status 200 "the menu still serves after all of that"
req GET /api/suppliers/readyz
expect_status 200 "suppliers is still ready"
done_testing
