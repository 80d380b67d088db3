#!/usr/bin/env bash
# Every menu route of API.md, including the supplier check over HTTP through nginx.
. "$(dirname "$0")/lib.sh"

req POST /api/suppliers "{\"name\":\"Menu supplier\",\"email\":\"m$RANDOM$RANDOM@menu.example\"}"
sup=$(jq -r .id <<<"$BODY")

req POST /api/menu/items "{\"name\":\"Soup of the day\",\"price_cents\":650,\"supplier_id\":\"$sup\"}"
expect_status 201 "POST /api/menu/items creates an item"
expect_json ".name == \"Soup of the day\" and .price_cents == 650 and .supplier_id == \"$sup\"" "with the given fields"
expect_json '.currency == "EUR" and .available == true and .tags == [] and .description == "" and .version == 1' "and the documented defaults"
expect_json 'keys == (["available","currency","description","id","name","price_cents","supplier_id","tags","version"])' "exactly the fields of API.md"
item=$(jq -r .id <<<"$BODY")

req POST /api/menu/items "{\"name\":\"Ghost\",\"price_cents\":100,\"supplier_id\":\"0123456789abcdef01234567\"}"
expect_error 400 validation_failed "an item naming no existing supplier is refused"
expect_json '.error.field == "supplier_id"' "naming supplier_id as the field"

req GET "/api/menu/items/$item"
expect_status 200 "GET /api/menu/items/{id} reads it"
expect_json ".id == \"$item\" and .price_cents == 650" "with its fields"

req GET /api/menu
expect_status 200 "GET /api/menu lists the available items"
expect_json "any(.items[]; .id == \"$item\")" "including the new one"

req PATCH "/api/menu/items/$item" '{"available":false,"tags":["soup","hot"],"price_cents":700}'
expect_status 200 "PATCH changes several fields"
expect_json '.available == false and .tags == ["soup","hot"] and .price_cents == 700 and .version == 2' "all of them, version 2"
req GET /api/menu
expect_json "all(.items[]; .id != \"$item\")" "an unavailable item leaves the menu at once"
req GET "/api/menu/items/$item"
expect_json '.available == false and .price_cents == 700' "and reads back changed"

req PATCH "/api/menu/items/$item" '{"supplier_id":"0123456789abcdef01234567"}'
expect_error 400 validation_failed "PATCH to a missing supplier is refused"
req PATCH "/api/menu/items/$item" '{"available":true}' -H 'If-Match: 1'
expect_error 409 conflict "PATCH with a stale If-Match is refused"
req PATCH "/api/menu/items/$item" '{"available":true}' -H 'If-Match: "2"'
expect_status 200 "PATCH with the current version (ETag form) succeeds"
req GET /api/menu
expect_json "any(.items[]; .id == \"$item\" and .price_cents == 700)" "the item is back on the menu with its new price"

req DELETE "/api/menu/items/$item"
expect_status 204 "DELETE removes the item"
req GET "/api/menu/items/$item"
expect_error 404 not_found "the deleted item is gone"
req GET /api/menu
expect_json "all(.items[]; .id != \"$item\")" "and off the menu"

# The largest item every field limit allows fits the body cap, however a client escapes it
# (issue 15: 1763 characters, each a pizza sent as a surrogate pair, \ud83c\udf55, is 21 KB
# and met the 16 KiB cap with 413). One character more is 400, not 413.
big_item() { # PIZZAS_IN_NAME
	python3 - "$1" "$sup" <<'PY'
import sys
n, sup = int(sys.argv[1]), sys.argv[2]
p = "\\ud83c\\udf55"
esc = lambda k: "".join("\\u%04x" % ord(c) for c in k)
print('{"%s":"%s","%s":"%s","%s":0,"%s":"%s","%s":"%s","%s":false,"%s":[%s]}' % (
    esc("name"), p * n, esc("description"), p * 1000, esc("price_cents"),
    esc("currency"), esc("EUR"), esc("supplier_id"), esc(sup), esc("available"),
    esc("tags"), ",".join('"%s"' % (p * 32) for _ in range(20))))
PY
}
big_item 120 >"$GALLEY_RUN/tmp/big-item.json"
check "the largest item is over 21 KB escaped" test "$(wc -c <"$GALLEY_RUN/tmp/big-item.json")" -gt 21000
req POST /api/menu/items "@$GALLEY_RUN/tmp/big-item.json"
expect_status 201 "the largest valid item, worst-case escaped, is made"
expect_json '(.name | length) == 120 and (.description | length) == 1000 and (.tags | length) == 20 and all(.tags[]; length == 32)' "whole"
big=$(jq -r .id <<<"$BODY")
req PATCH "/api/menu/items/$big" "@$GALLEY_RUN/tmp/big-item.json"
expect_status 200 "and changed to itself by PATCH"
big_item 121 >"$GALLEY_RUN/tmp/big-item.json"
req POST /api/menu/items "@$GALLEY_RUN/tmp/big-item.json"
expect_error 400 validation_failed "one character more is a validation error, not 413"
expect_json '.error.field == "name"' "naming the field"
rm -f "$GALLEY_RUN/tmp/big-item.json"
req DELETE "/api/menu/items/$big"

req GET /api/menu/healthz
expect_status 200 "menu healthz answers"
req GET /api/menu/readyz
expect_status 200 "menu readyz answers 200 with MongoDB and Redis up"
done_testing
