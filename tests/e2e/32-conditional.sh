#!/usr/bin/env bash
# Conditional GETs (issue 14): every GET of one resource, and the menu, carries a strong
# ETag (a digest of the body, lib/etag.h) and Cache-Control: private, no-cache; the same
# GET with If-None-Match naming that tag (alone, in a list, weak, or *) answers 304 with
# no body; any other tag, or a change to the resource, answers 200 with a new tag. The
# 304 comes after every check a 200 would pass: another customer's order is still 404,
# a 404 has no tag, a role that may not read still gets 403. Writes, errors and tokens
# are Cache-Control: no-store. A 304 counts as a 304 in nginx's log, the service's log
# and the metrics.
. "$(dirname "$0")/lib.sh"

TAG_RE='^"[0-9a-f]{32}"$'
fake=0123456789abcdef01234567

etag() { sed -n 's/^[Ee][Tt][Aa][Gg]: *//p' <<<"$HEADERS" | head -n 1; }
no_header() { ! grep -qi "^$1:" <<<"$HEADERS"; }
# inm PATH VALUE: GET PATH with If-None-Match: VALUE, as AUTH_TOKEN
inm() { req GET "$1" -H "If-None-Match: $2"; }

# conditional WHAT PATH: the rules on one resource, as AUTH_TOKEN; sets TAG to its tag
conditional() {
	local what=$1 path=$2 body
	req GET "$path"
	expect_status 200 "$what: GET answers 200"
	expect_header ETag "$TAG_RE" "$what: with a strong ETag"
	expect_header Cache-Control '^private, no-cache$' "$what: and Cache-Control: private, no-cache"
	body=$BODY TAG=$(etag)

	inm "$path" "$TAG"
	expect_status 304 "$what: If-None-Match with its tag answers 304"
	check "$what: the 304 has no body" test -z "$BODY"
	check "$what: nor a Content-Type" no_header Content-Type
	expect_header ETag "^$TAG\$" "$what: the 304 carries the same ETag"
	expect_header Cache-Control '^private, no-cache$' "$what: and the same Cache-Control"
	expect_header X-Request-Id '^[0-9a-f]{32}$' "$what: and a request id"
	inm "$path" "\"x\", $TAG"
	expect_status 304 "$what: a list holding the tag: 304"
	inm "$path" "W/$TAG"
	expect_status 304 "$what: its weak form: 304 (If-None-Match compares weakly)"
	inm "$path" '*'
	expect_status 304 "$what: * while it exists: 304"
	inm "$path" '"0123456789abcdef0123456789abcdef"'
	expect_status 200 "$what: another tag: 200"
	check "$what: with the whole body" test "$BODY" = "$body"
	expect_header ETag "^$TAG\$" "$what: and the same ETag"
}

# changed WHAT PATH OLD: the old tag no longer matches; sets TAG to the new one, and leaves
# BODY the 200's body (what the checks after it read), not the 304's empty one
changed() {
	local fresh
	inm "$2" "$3"
	expect_status 200 "$1: the old tag answers 200"
	expect_json 'type == "object"' "$1: with the body"
	fresh=$BODY
	TAG=$(etag)
	check "$1: and a new ETag ($3 -> $TAG)" bash -c '[[ $1 =~ $2 && $1 != "$3" ]]' _ "$TAG" "$TAG_RE" "$3"
	inm "$2" "$TAG"
	expect_status 304 "$1: the new tag answers 304"
	BODY=$fresh
}

# ---------------------------------------------------------------- the things to read
check "an item in stock" stocked_item "Conditional tart" 450 50
item=$ITEM supplier=$SUPPLIER
check "a customer" customer cond
alice=$TOKEN
AUTH_TOKEN=$alice req GET /api/auth/me
alice_customer=$(jq -r .customer_id <<<"$BODY")
check "another customer" customer condbob
bob=$TOKEN

# ---------------------------------------------------------------- menu
conditional "an item" "/api/menu/items/$item"
inm "/api/menu/items/$item" "$TAG"
expect_header X-Cache '^hit$' "an item's 304 is served from the Redis cache"
item_tag=$TAG
AUTH_TOKEN=$alice conditional "the menu, as a customer" /api/menu
menu_tag=$TAG
AUTH_TOKEN=$alice conditional "an item, as a customer" "/api/menu/items/$item"
check "a customer gets the tag staff get (the same bytes)" test "$TAG" = "$item_tag"
req PATCH "/api/menu/items/$item" '{"price_cents":475}'
expect_status 200 "PATCH the item"
expect_header Cache-Control '^no-store$' "a write's answer is no-store"
check "and has no ETag" no_header ETag
changed "the item after PATCH" "/api/menu/items/$item" "$item_tag"
expect_json '.price_cents == 475 and .version == 2' "the item after PATCH: the new price and version"
AUTH_TOKEN=$alice changed "the menu after the item's PATCH" /api/menu "$menu_tag"
expect_json "any(.items[]; .id == \"$item\" and .price_cents == 475)" "the menu after the PATCH: the new price"

# ---------------------------------------------------------------- suppliers, customers, stock
conditional "a supplier" "/api/suppliers/$supplier"
req PATCH "/api/suppliers/$supplier" '{"name":"Conditional renamed"}'
changed "the supplier after PATCH" "/api/suppliers/$supplier" "$TAG"

conditional "a customer record, as staff" "/api/customers/$alice_customer"
staff_tag=$TAG
AUTH_TOKEN=$alice conditional "a customer's own record" "/api/customers/$alice_customer"
own_tag=$TAG
req PATCH "/api/customers/$alice_customer" '{"phone":"+49 30 32"}'
changed "the record after PATCH, as staff" "/api/customers/$alice_customer" "$staff_tag"
AUTH_TOKEN=$alice changed "the own record after PATCH" "/api/customers/$alice_customer" "$own_tag"
expect_json '.phone == "+49 30 32"' "the own record after PATCH: the new phone"

conditional "a stock level" "/api/stock/$item"
req PUT "/api/stock/$item" '{"on_hand":60}'
changed "the stock level after PUT" "/api/stock/$item" "$TAG"
expect_json '.on_hand == 60' "the stock level after PUT: the new count"

# ---------------------------------------------------------------- auth/me
check "a user whose role changes" customer condrole
carl=$TOKEN
AUTH_TOKEN=$carl req GET /api/auth/me
carl_id=$(jq -r .id <<<"$BODY")
AUTH_TOKEN=$carl conditional "/api/auth/me" /api/auth/me
req PATCH "/api/auth/users/$carl_id" '{"role":"staff"}'
expect_status 200 "an admin makes it staff"
AUTH_TOKEN=$carl changed "/api/auth/me after a role change" /api/auth/me "$TAG"
expect_json '.role == "staff"' "/api/auth/me after a role change: says staff"

# ---------------------------------------------------------------- orders, payments, kitchen
AUTH_TOKEN=$alice req POST /api/orders "{\"lines\":[{\"item_id\":\"$item\",\"qty\":1}]}"
expect_status 201 "alice orders one tart"
order=$(jq -r .id <<<"$BODY")
AUTH_TOKEN=$alice conditional "an order, as its owner" "/api/orders/$order"
order_tag=$TAG
conditional "an order, as staff" "/api/orders/$order"

# Authorization comes before the 304: bob holds alice's tag and still cannot read it.
for v in "$order_tag" '*'; do
	AUTH_TOKEN=$bob inm "/api/orders/$order" "$v"
	expect_error 404 not_found "another customer with If-None-Match: $v still gets 404"
	check "and no ETag" no_header ETag
	expect_header Cache-Control '^no-store$' "and Cache-Control: no-store"
done
AUTH_TOKEN=$bob inm "/api/customers/$alice_customer" '*'
expect_error 404 not_found "another customer's record with If-None-Match: * is 404"
AUTH_TOKEN=$alice inm "/api/stock/$item" '*'
expect_error 403 forbidden "a customer reading stock with If-None-Match: * is 403"
AUTH_TOKEN= inm "/api/orders/$order" "$order_tag"
expect_error 401 unauthenticated "no token with the right tag is 401"

AUTH_TOKEN=$alice req POST /api/payments "{\"order_id\":\"$order\",\"payment_method\":\"pm_card_visa\"}"
expect_status 201 "alice pays"
not_pending() { AUTH_TOKEN=$alice req GET "/api/orders/$1" && ! jq -e '.status == "pending_payment"' >/dev/null <<<"$BODY"; }
check "the order moves on" wait_until 10 not_pending "$order"
# Paid, it goes on to preparing and ready by itself: compare tags once it rests at ready
# (until it is handed over), or the 304 check races the kitchen.
order_ready() { AUTH_TOKEN=$alice req GET "/api/orders/$1" && jq -e '.status == "ready"' >/dev/null <<<"$BODY"; }
check "and rests at ready" wait_until 20 order_ready "$order"
AUTH_TOKEN=$alice changed "the order once paid and ready" "/api/orders/$order" "$order_tag"

ticket_ready() { req GET "/api/kitchen/tickets/$order" && jq -e '.status == "ready"' >/dev/null <<<"$BODY"; }
check "its kitchen ticket becomes ready" wait_until 20 ticket_ready
conditional "a kitchen ticket" "/api/kitchen/tickets/$order"
req POST "/api/kitchen/tickets/$order/complete"
expect_status 200 "staff hand it over"
changed "the ticket once handed over" "/api/kitchen/tickets/$order" "$TAG"
expect_json '.status == "completed"' "the ticket once handed over: completed"

# A payment changes when it is refunded: an order of 5 takes the kitchen 5 s, time to cancel.
AUTH_TOKEN=$alice req POST /api/orders "{\"lines\":[{\"item_id\":\"$item\",\"qty\":5}]}"
paid=$(jq -r .id <<<"$BODY")
AUTH_TOKEN=$alice req POST /api/payments "{\"order_id\":\"$paid\",\"payment_method\":\"pm_card_visa\"}"
expect_status 201 "alice pays a second order"
AUTH_TOKEN=$alice conditional "a payment, as its owner" "/api/payments/$paid"
pay_tag=$TAG
AUTH_TOKEN=$bob inm "/api/payments/$paid" "$pay_tag"
expect_error 404 not_found "another customer holding the payment's tag gets 404"
check "the order is paid" wait_until 10 not_pending "$paid"
AUTH_TOKEN=$alice req POST "/api/orders/$paid/cancel"
expect_status 200 "alice cancels it before it is ready"
refunded() { AUTH_TOKEN=$alice req GET "/api/payments/$paid" && jq -e '.status == "refunded"' >/dev/null <<<"$BODY"; }
check "the payment is refunded" wait_until 10 refunded
AUTH_TOKEN=$alice changed "the payment once refunded" "/api/payments/$paid" "$pay_tag"

# Lists are tagged the same way (the writer tags every GET's 200).
AUTH_TOKEN=$alice conditional "alice's order list" /api/orders

# ---------------------------------------------------------------- what gets no tag
inm "/api/menu/items/$fake" '*'
expect_error 404 not_found "a missing item with If-None-Match: * is 404, not 304"
check "a 404 has no ETag" no_header ETag
expect_header Cache-Control '^no-store$' "and is no-store"
AUTH_TOKEN= req GET /api/menu/healthz
check "a health probe has no ETag" no_header ETag
expect_header Cache-Control '^no-store$' "and is no-store"
email="condreg$RANDOM$RANDOM@e2e.example"
AUTH_TOKEN= req POST /api/auth/register "{\"email\":\"$email\",\"password\":\"password9\",\"name\":\"Reg\"}"
expect_status 201 "register"
expect_header Cache-Control '^no-store$' "a register's answer is no-store"
check "sign in" login "$email" password9
expect_header Cache-Control '^no-store$' "a login's answer (a token) is no-store"
check "and has no ETag" no_header ETag

# ---------------------------------------------------------------- odd If-None-Match
req GET "/api/menu/items/$item"
TAG=$(etag)
inm "/api/menu/items/$item" "$(printf '"x", %.0s' $(seq 1 200))$TAG"
expect_status 200 "If-None-Match over 1 KiB is ignored: 200, not an error"
for v in 'garbage' "$TAG junk" 'W/' '"unterminated' "${TAG//\"/}" "$(printf '\xc3\xa9')"; do
	inm "/api/menu/items/$item" "$v"
	expect_status 200 "If-None-Match: $v is no match: 200"
done
req HEAD "/api/menu/items/$item" -H "If-None-Match: $TAG"
expect_status 304 "HEAD with the tag: 304"

# ---------------------------------------------------------------- counted as 304
inm "/api/suppliers/$supplier" '*'
expect_status 304 "a supplier's 304"
rid=$(sed -n 's/^[Xx]-[Rr]equest-[Ii]d: *//p' <<<"$HEADERS")
logged_304() { grep -F "\"request_id\":\"$rid\"" "$@" 2>/dev/null | grep -q '"status":304'; }
check "nginx's access log says 304" wait_until 5 logged_304 "$GALLEY_RUN/logs/nginx-access.log"
check "so does the service's log line" wait_until 5 logged_304 "$GALLEY_RUN"/logs/suppliers-*.log
key='galley_http_requests_total{service="suppliers",route="/api/suppliers/{id}",method="GET",status="304"}'
counted() { curl -s "$GALLEY_INTERNAL_URL/metrics" | grep -qF "$key "; }
check "the metrics count it under status=\"304\"" wait_until 5 counted
done_testing
