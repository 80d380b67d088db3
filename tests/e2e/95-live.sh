#!/usr/bin/env bash
# Live views: GET /live/orders streams order events as Server-Sent Events
# (nginx's nchan, fed by the orders service): staff get every order's, a
# customer only its own; no token, no stream. The dashboard's files are
# served at /, and an API path no service claims is still the API's 404.
. "$(dirname "$0")/lib.sh"

stream() { # TOKEN FILE [CURL ARGS]: subscribe in the background for 25 s, appending to FILE
	local token=$1 file=$2
	shift 2
	curl -sN --max-time 25 -H 'Accept: text/event-stream' -H "Authorization: Bearer $token" \
		"$@" "$GALLEY_URL/live/orders" >"$file" 2>/dev/null &
}
types_in() { # FILE ORDER: the types of ORDER's events in the stream FILE
	sed -n 's/^data: //p' "$1" | jq -r --arg o "$2" 'select(.data.order_id == $o or .data.id == $o) | .type' | paste -sd' '
}

AUTH_TOKEN= req GET /live/orders -H 'Accept: text/event-stream'
expect_error 401 unauthenticated "no token: 401"
AUTH_TOKEN=bogus req GET /live/orders -H 'Accept: text/event-stream'
expect_error 401 unauthenticated "a bad token: 401"

check "setup: an item in stock" stocked_item "Live bun" 300 10
bun=$ITEM
customer fay
fay=$TOKEN
customer gus
gus=$TOKEN

tmp=$(mktemp -d)
stream "$ADMIN_TOKEN" "$tmp/staff"
stream "$fay" "$tmp/fay"
# gus also names the staff channel himself: nginx replaces that header with his own channel.
stream "$gus" "$tmp/gus" -H 'X-Galley-Channel: orders'
connected() { grep -q '^: hi' "$tmp/staff" && grep -q '^: hi' "$tmp/fay" && grep -q '^: hi' "$tmp/gus"; }
check "three subscribers are connected" wait_until 10 connected
check "as text/event-stream" bash -c "curl -s -o /dev/null -w '%{content_type}' --max-time 2 -H 'Accept: text/event-stream' -H 'Authorization: Bearer $fay' '$GALLEY_URL/live/orders' | grep -q text/event-stream"

AUTH_TOKEN=$fay req POST /api/orders "{\"lines\":[{\"item_id\":\"$bun\",\"qty\":1}]}"
order=$(jq -r .id <<<"$BODY")
AUTH_TOKEN=$fay req POST /api/payments "{\"order_id\":\"$order\",\"payment_method\":\"pm_card_visa\"}"
expect_status 201 "fay pays an order"
ready_in() { [[ $(types_in "$1" "$order") == *order.ready* ]]; }
check "fay's stream shows her order to ready" wait_until 20 ready_in "$tmp/fay"
# Orders follows the stream in parallel: a late order.paid may be published after
# order.preparing, or, when the order was past it already, not at all. Each event carries
# the order's version and status once followed, so a view keeping the newest version never
# shows a step back: by version, the statuses only go forward, from pending to ready.
steps_in() { # FILE ORDER: ORDER's statuses in its events, sorted by the version they carry
	sed -n 's/^data: //p' "$1" | jq -sr --arg o "$2" '[.[] | select(.data.order_id == $o or .data.id == $o) |
		{v: .data.version, s: .data.status}] | sort_by(.v) | map(.s) | join(" ")'
}
forward() { # STEPS: statuses that never go back, pending_payment first and ready last
	local rank="pending_payment paid preparing ready" last=-1 s r
	[[ $1 == pending_payment* && $1 == *ready ]] || return 1
	for s in $1; do
		r=$(awk -v s="$s" '{ for (i = 1; i <= NF; i++) if ($i == s) print i }' <<<"$rank")
		[[ -n $r ]] && ((r > last)) || return 1
		last=$r
	done
}
check "every event carries the order's version and status" bash -c \
	"sed -n 's/^data: //p' '$tmp/fay' | jq -se '[.[] | select(.data.order_id == \"$order\" or .data.id == \"$order\")] | length > 0 and all((.data.version | type == \"number\") and (.data.status | type == \"string\"))' >/dev/null"
STATUS="$(steps_in "$tmp/fay" "$order") (events: $(types_in "$tmp/fay" "$order"))" BODY=""
check "by version the order only goes forward, pending to ready" forward "$(steps_in "$tmp/fay" "$order")"
check "the staff stream shows it too" wait_until 10 ready_in "$tmp/staff"
check "each message is a whole event {id, type, occurred_at, data}" bash -c \
	"sed -n 's/^data: //p' '$tmp/fay' | jq -e 'has(\"id\") and has(\"type\") and has(\"occurred_at\") and has(\"data\")' >/dev/null"
check "gus's stream has none of fay's events" test -z "$(types_in "$tmp/gus" "$order")"
kill $(jobs -p) 2>/dev/null
wait

# A burst: orders posts the events its consumers follow in batches (fcgi/orders/live.c), and
# every one of them still reaches the staff's stream and its owner's, none another's.
fay_user=$(AUTH_TOKEN=$fay req GET "/api/orders/$order" && jq -r .user_id <<<"$BODY")
check "setup: another item in stock" stocked_item "Live burst" 120 100
burst_item=$ITEM
stream "$ADMIN_TOKEN" "$tmp/staff2"
stream "$fay" "$tmp/fay2"
stream "$gus" "$tmp/gus2"
connected2() { grep -q '^: hi' "$tmp/staff2" && grep -q '^: hi' "$tmp/fay2" && grep -q '^: hi' "$tmp/gus2"; }
check "three subscribers again" wait_until 10 connected2
placing=()
for i in $(seq 1 24); do
	curl -s --max-time 30 -H 'Content-Type: application/json' -H "Authorization: Bearer $fay" \
		-H "Idempotency-Key: live-burst-$i-$$" \
		--data-binary "{\"lines\":[{\"item_id\":\"$burst_item\",\"qty\":1}]}" \
		"$GALLEY_URL/api/orders" >"$tmp/placed.$i" &
	placing+=($!)
done
wait "${placing[@]}"

cat "$tmp"/placed.* | jq -r 'select(.status == "pending_payment") | .id' | sort >"$tmp/burst"
STATUS="$(wc -l <"$tmp/burst") placed" BODY=""
check "24 orders placed at once" test "$(wc -l <"$tmp/burst")" = 24
created_in() { # FILE: the order ids of the order.created events in stream FILE
	sed -n 's/^data: //p' "$1" | jq -r 'select(.type == "order.created") | .data.id // .data.order_id' | sort -u
}
all_created() { [ -z "$(comm -23 "$tmp/burst" <(created_in "$1"))" ]; }
check "the staff's stream has every one's order.created" wait_until 10 all_created "$tmp/staff2"
check "fay's stream has every one's too" wait_until 10 all_created "$tmp/fay2"
check "gus's stream has none of them" test -z "$(comm -12 "$tmp/burst" <(created_in "$tmp/gus2"))"

# The live server takes a post only as a whole array of {user, event}, the owner a 24-hex id,
# 64 events at most (nginx/live.js): anything else is refused, and nothing of it published.
live_post() { # BODY: POST it where orders posts (the internal listener); the status
	curl -s -o /dev/null -w '%{http_code}' --max-time 5 -H 'Content-Type: application/json' \
		--data-binary "$1" "$GALLEY_INTERNAL_URL/.galley/live/orders"
}
mark=$(newid)
ev() { printf '{"id":"%s","type":"order.note","occurred_at":"2026-01-01T00:00:00Z","data":{"id":"%s"}}' "$1" "$1"; }
check "an event not in an array: 400" test "$(live_post "{\"event\":$(ev "$mark")}")" = 400
check "an array with an owner that is no id: 400, the good event beside it unpublished" \
	test "$(live_post "[{\"event\":$(ev "$mark")},{\"user\":\"../orders\",\"event\":$(ev "$mark")}]")" = 400
many=$(for i in $(seq 1 65); do printf '{"event":%s}\n' "$(ev "$mark")"; done | jq -sc .)
check "65 events in one post: 400" test "$(live_post "$many")" = 400
check "not JSON: 400" test "$(live_post "[{")" = 400
two=$(newid)
check "two events, one of them fay's: 201" \
	test "$(live_post "[{\"event\":$(ev "$two")},{\"user\":\"$fay_user\",\"event\":$(ev "$mark")}]")" = 201
old=$(newid)
check "one event alone, its owner in ?user= (an orders process from before batches): 201" \
	test "$(curl -s -o /dev/null -w '%{http_code}' --max-time 5 -H 'Content-Type: application/json' \
		--data-binary "$(ev "$old")" "$GALLEY_INTERNAL_URL/.galley/live/orders?user=$fay_user")" = 201
check "... but not with an owner that is no id: 400" \
	test "$(curl -s -o /dev/null -w '%{http_code}' --max-time 5 -H 'Content-Type: application/json' \
		--data-binary "$(ev "$mark")" "$GALLEY_INTERNAL_URL/.galley/live/orders?user=nope")" = 400
on_fay_old() { grep -q "\"$old\"" "$tmp/fay2" && grep -q "\"$old\"" "$tmp/staff2"; }
check "... and it reaches fay's stream and the staff's" wait_until 10 on_fay_old
on_staff() { grep -q "\"$two\"" "$tmp/staff2" && grep -q "\"$mark\"" "$tmp/staff2"; }
check "both reach the staff's stream" wait_until 10 on_staff
check "the refused posts published nothing (the marked event is on it once)" \
	test "$(grep -c "\"$mark\"" "$tmp/staff2")" = 1
on_fay() { grep -q "\"$mark\"" "$tmp/fay2"; }
check "fay's event reaches her stream" wait_until 10 on_fay
check "the other, no one's, does not" bash -c "! grep -q '\"$two\"' '$tmp/fay2'"
kill $(jobs -p) 2>/dev/null
wait

# The dashboard, and the API's own 404 next to it.
req GET /
expect_status 200 "the dashboard is served at /"
expect_header Content-Type 'text/html' "as HTML"
req GET /app.js
expect_header Content-Type 'text/javascript' "its script as JavaScript (browsers run modules only then)"
req GET /api/nosuchservice/items
expect_error 404 not_found "an API path no service claims: the API's 404, not the page"
rm -rf "$tmp"
done_testing
