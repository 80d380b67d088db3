#!/usr/bin/env bash
# Stock: counts, all-or-nothing reservations that never oversell (also with a
# pool killed in the middle of the race), one reservation per order, expiry
# after GALLEY_RESERVATION_TTL, a commit that sells once, and a line released at most once.
. "$(dirname "$0")/lib.sh"
# Expiry is waited for: the stack must hold reservations briefly (bin/galley test: 20 s).
if ((${GALLEY_RESERVATION_TTL:-900} > 40)); then
	echo "Bail out! this script needs a stack with GALLEY_RESERVATION_TTL <= 40 (bin/galley test uses 20)"
	exit 1
fi

internal() { # METHOD PATH [BODY]: a call between services, on the internal listener
	local out
	out=$(curl -sS --max-time 20 -X "$1" -H 'Content-Type: application/json' ${3:+--data-binary "$3"} \
		-w '\n%{http_code}' "$GALLEY_INTERNAL_URL$2")
	STATUS=${out##*$'\n'}
	BODY=${out%$'\n'*}
}
reserve() { internal POST /internal/stock/reservations "{\"order_id\":\"$1\",\"lines\":$2}"; }

a=$(newid) b=$(newid)
level "$a"
expect_json ".item_id == \"$a\" and .on_hand == 0 and .reserved == 0 and .available == 0" "an item never counted has no stock"
req PUT "/api/stock/$a" '{"on_hand":5}'
expect_json '.on_hand == 5 and .available == 5' "PUT sets the count"
req PUT "/api/stock/$b" '{"on_hand":1}'

order=$(newid)
reserve "$order" "[{\"item_id\":\"$a\",\"qty\":2}]"
expect_status 201 "a reservation is made"
expect_json ".order_id == \"$order\" and .lines[0].qty == 2 and (.expires_at | test(\"Z$\")) and .state == \"holding\"" "with its lines and expiry"
res=$(jq -r .id <<<"$BODY")
reserve "$order" "[{\"item_id\":\"$a\",\"qty\":2}]"
expect_json ".id == \"$res\"" "the same order again gets the same reservation"
level "$a"
expect_json '.reserved == 2 and .available == 3' "and nothing is reserved twice"
req PUT "/api/stock/$a" '{"on_hand":1}'
expect_error 409 conflict "the count may not go below what is reserved"

reserve "$(newid)" "[{\"item_id\":\"$a\",\"qty\":2},{\"item_id\":\"$b\",\"qty\":2}]"
expect_error 409 insufficient_stock "one short line refuses the whole reservation"
expect_json '.error.message | test("lines\\[1\\]")' "naming the line"
level "$a"
expect_json '.reserved == 2' "the lines before it took nothing"

internal POST "/internal/stock/reservations/$res/release"
expect_json '.state == "released"' "a reservation is released"
level "$a"
expect_json '.reserved == 0 and .available == 5' "its units are free"
# An ended reservation is written to MongoDB by the stock's tick (fcgi/stock/project.c), read
# in one round trip with the others it finds marked.
res_in_mongo() {
	mongo_find stock reservations "{\"_id\":{\"\$oid\":\"$1\"}}" | jq -e -n --arg o "$2" --arg s "$3" \
		'input | length == 1 and .[0].state == $s and .[0].order_id["$oid"] == $o and .[0].lines[0].qty == 2' >/dev/null
}
check "the released reservation reaches MongoDB, released, with its order and lines" \
	wait_until 10 res_in_mongo "$res" "$order" released
reserve "$(newid)" "[{\"item_id\":\"$a\",\"qty\":1}]"
internal POST "/internal/stock/reservations/$res/release"
level "$a"
expect_json '.reserved == 1' "releasing it again frees nothing more"

# A commit (a payment's) sells the units: they leave on_hand and reserved, once. It is an
# end like the others: a release after it is refused, and so is a commit after a release.
c=$(newid)
req PUT "/api/stock/$c" '{"on_hand":5}'
corder=$(newid)
reserve "$corder" "[{\"item_id\":\"$c\",\"qty\":2}]"
cres=$(jq -r .id <<<"$BODY")
internal POST "/internal/stock/reservations/$cres/commit"
expect_status 200 "a reservation is committed"
expect_json ".id == \"$cres\" and .order_id == \"$corder\" and .state == \"committed\" and .lines == [{\"item_id\":\"$c\",\"qty\":2}] and (.expires_at | test(\"Z$\"))" \
	"answering the reservation as it is now: committed, its order, lines and expiry"
level "$c"
expect_json '.on_hand == 3 and .reserved == 0 and .available == 3' "its units are sold: gone from on_hand and reserved"
internal POST "/internal/stock/reservations/$cres/commit"
expect_json '.state == "committed"' "committing it again answers committed ($STATUS)"
level "$c"
expect_json '.on_hand == 3 and .reserved == 0' "and sells nothing twice"
internal POST "/internal/stock/reservations/$cres/release"
expect_error 422 invalid_state "a committed reservation is not released"
reserve "$(newid)" "[{\"item_id\":\"$c\",\"qty\":1}]"
rres=$(jq -r .id <<<"$BODY")
internal POST "/internal/stock/reservations/$rres/release"
internal POST "/internal/stock/reservations/$rres/commit"
expect_error 422 invalid_state "a released reservation is not committed"
level "$c"
expect_json '.on_hand == 3 and .reserved == 0' "and neither moves a unit"
internal POST "/internal/stock/reservations/$(newid)/commit"
expect_error 404 not_found "a commit of no reservation: 404"
# A day after it ended the store has it no more, and MongoDB answers for it.
check "the committed reservation reaches MongoDB" wait_until 10 res_in_mongo "$cres" "$corder" committed
scli DEL "galley:stock:res:$cres" >/dev/null
internal POST "/internal/stock/reservations/$cres/commit"
expect_json ".id == \"$cres\" and .state == \"committed\" and .lines[0].qty == 2" \
	"once only MongoDB has it, a commit again answers it committed ($STATUS)"
level "$c"
expect_json '.on_hand == 3 and .reserved == 0' "and sells nothing"

for bad in "[{\"item_id\":\"$a\",\"qty\":0}]" "[{\"item_id\":\"$a\",\"qty\":-1}]" "[{\"item_id\":\"$a\",\"qty\":1001}]" \
	"[{\"item_id\":\"$a\",\"qty\":1},{\"item_id\":\"$a\",\"qty\":1}]" "[]" "[{\"item_id\":\"nope\",\"qty\":1}]"; do
	reserve "$(newid)" "$bad"
	check "lines $bad is refused with 400 ($STATUS)" test "$STATUS" = 400
done
many=$(for i in $(seq 1 101); do printf '{"item_id":"%s","qty":1},' "$(newid)"; done)
reserve "$(newid)" "[${many%,}]"
check "101 lines are refused with 400 ($STATUS)" test "$STATUS" = 400
req POST /internal/stock/reservations '{}'
expect_error 404 not_found "reservations are not reachable from outside"

# The race: 30 clients for 10 units get exactly 10.
race() { # ITEM DIR
	for i in $(seq 1 30); do
		curl -s -o /dev/null -w '%{http_code}\n' --max-time 30 -X POST -H 'Content-Type: application/json' \
			--data-binary "{\"order_id\":\"$(newid)\",\"lines\":[{\"item_id\":\"$1\",\"qty\":1}]}" \
			"$GALLEY_INTERNAL_URL/internal/stock/reservations" >>"$2/codes" &
	done
}
c=$(newid)
req PUT "/api/stock/$c" '{"on_hand":10}'
dir=$(mktemp -d)
race "$c" "$dir"
wait
won=$(grep -cx 201 "$dir/codes" || true)
check "exactly 10 of 30 racing reservations succeed (got $won; $(sort "$dir/codes" | uniq -c | tr '\n' ' '))" test "$won" = 10
check "the others are told insufficient_stock" test "$(grep -cx 409 "$dir/codes")" = 20
level "$c"
expect_json '.reserved == 10 and .available == 0' "the count agrees: 10 reserved, none left"

# Again with a stock pool killed in the middle: never more than the units.
d=$(newid)
req PUT "/api/stock/$d" '{"on_hand":10}'
: >"$dir/codes"
race "$d" "$dir"
kill_pool stock 1
wait
won=$(grep -cx 201 "$dir/codes" || true)
level "$d"
reserved=$(jq .reserved <<<"$BODY")
check "with a pool killed: at most 10 succeed (got $won; $(sort "$dir/codes" | uniq -c | tr '\n' ' '))" test "$won" -le 10
check "never oversold: reserved $reserved <= 10, and it covers every success" test "$reserved" -le 10 -a "$reserved" -ge "$won"
rm -rf "$dir"

# Expiry: after GALLEY_RESERVATION_TTL the units are free again, by themselves.
e=$(newid)
req PUT "/api/stock/$e" '{"on_hand":2}'
reserve "$(newid)" "[{\"item_id\":\"$e\",\"qty\":2}]"
old=$(jq -r .id <<<"$BODY")
level "$e"
expect_json '.available == 0' "a reservation holds the units"
freed() { level "$e"; jq -e '.available == 2' <<<"$BODY" >/dev/null; }
check "after the reservation's time they are free again" wait_until 60 freed
reserve "$(newid)" "[{\"item_id\":\"$e\",\"qty\":1}]"
internal POST "/internal/stock/reservations/$old/release"
expect_json '.state == "expired"' "the expired reservation says so"
level "$e"
expect_json '.reserved == 1' "and releasing it now frees nothing twice"

# A line is released once, whoever asks and however often: five releases at once,
# and a release retried after one that did its work but could not record it.
stock_sql() { mongo_run stock "$1" >/dev/null; } # COMMAND-JSON: run on the stock database
f=$(newid)
req PUT "/api/stock/$f" '{"on_hand":5}'
reserve "$(newid)" "[{\"item_id\":\"$f\",\"qty\":1}]"
reserve "$(newid)" "[{\"item_id\":\"$f\",\"qty\":2}]"
r2=$(jq -r .id <<<"$BODY")
for i in 1 2 3 4 5; do
	curl -s -o /dev/null -X POST "$GALLEY_INTERNAL_URL/internal/stock/reservations/$r2/release" &
done
wait
level "$f"
expect_json '.reserved == 1' "five releases at once free the line once"
check "a reservation is set back to holding, as if marking it released had failed" stock_sql \
	"{\"update\": \"reservations\", \"updates\": [{\"q\": {\"_id\": {\"\$oid\": \"$r2\"}}, \"u\": {\"\$set\": {\"state\": \"holding\"}}}]}"
internal POST "/internal/stock/reservations/$r2/release"
expect_json '.state == "released"' "releasing it again completes the record"
level "$f"
expect_json '.reserved == 1' "and frees nothing twice"

AUTH_TOKEN= req POST /api/auth/register "{\"email\":\"st$RANDOM$RANDOM@stock.example\",\"password\":\"password9\",\"name\":\"S\"}"
AUTH_TOKEN= req POST /api/auth/login "{\"email\":\"$(jq -r .email <<<"$BODY")\",\"password\":\"password9\"}"
AUTH_TOKEN=$(jq -r .token <<<"$BODY") req GET "/api/stock/$a"
expect_error 403 forbidden "a customer may not read stock"
done_testing
