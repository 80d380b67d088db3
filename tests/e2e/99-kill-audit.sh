#!/usr/bin/env bash
# The fault audit (issue 13): orders placed at a fixed rate (an open loop: vegeta, every
# answer kept) and half of the acknowledged ones paid as they come, while the cache Redis,
# the store Redis and the MongoDB-wire server are each killed with SIGKILL and started
# again in turn. Then, once everything has settled (the unpaid orders expired), an audit
# of what was promised:
#   - no answer was a 500: a placement answered 201, or 503/504 with the API's error body;
#   - every 201 placement's order is stored (GET /api/orders/{id}) and every stored order
#     was announced exactly once (order.created in the store's galley:events:orders), and
#     nothing else was announced for the item; MongoDB ends up with every order, paid or
#     cancelled as the API says, and a succeeded payment for exactly the paid ones;
#   - stock is conserved: the item's on_hand at the start = sold (the paid orders' units,
#     one each) + available + reserved, nothing reserved once the unpaid orders expired;
#   - every paid order was paid by one of our payments and captured once at the provider
#     (the simulated provider's log: one payment intent, keyed by the order), and every
#     capture is of a paid order: none charged twice, none charged and then cancelled.
# The placements are kept in $GALLEY_RUN/logs/e2e-99-kill-audit-placements.json (vegeta's
# JSON lines: status, body in base64, time) and the payments' in
# e2e-99-kill-audit-payments.json.
# The helpers below run through check and wait_until, which shellcheck does not follow.
# shellcheck disable=SC2317
set -euo pipefail
# shellcheck source=tests/e2e/lib.sh
source "$(dirname "$0")/lib.sh"

# Modest: the sanitizer build on two cores serves a placement several times slower.
RATE=${GALLEY_AUDIT_RATE:-25}
UNITS=100000
started_ms=$(now_ms)

vegeta=$(vegeta_path) || vegeta=""
check "vegeta is installed (tests/common.sh, vegeta_path)" test -x "$vegeta"
[[ -x $vegeta ]] || done_testing

_gl_load_setup "$UNITS"
item=$LOAD_ITEM
dir=$LOAD_DIR
results=$dir/placements.json
printf '{"lines":[{"item_id":"%s","qty":1}]}' "$item" >"$dir/order.json"
printf 'POST %s/api/orders\nAuthorization: Bearer %s\nContent-Type: application/json\n@%s\n' \
	"$GALLEY_URL" "$LOAD_TOKEN" "$dir/order.json" >"$dir/targets"
: >"$results"
payments=$dir/payments.json
: >"$payments"

# mark: how many placements have answered so far.
mark() { wc -l <"$results"; }
# seen CODES N [MARK]: N or more placements after the first MARK answered one of CODES (a
# regex of statuses).
seen() {
	local n
	n=$(tail -n +"$((${3:-0} + 1))" "$results" | grep -cE "\"code\":($1)," || true)
	((n >= $2))
}
paid_seen() { # N [MARK]: N or more payments after the first MARK answered 201
	local n
	n=$(tail -n +"$((${2:-0} + 1))" "$payments" | grep -cE '"code":201,' || true)
	((n >= $1))
}
paid_mark() { wc -l <"$payments"; }
# since M P: the placements' and the payments' answers after marks M and P, by status.
since() {
	echo "placements $(tail -n +"$(($1 + 1))" "$results" | grep -oE '"code":[0-9]+' | cut -d: -f2 | sort | uniq -c | xargs)," \
		"payments $(tail -n +"$(($2 + 1))" "$payments" | grep -oE '"code":[0-9]+' | cut -d: -f2 | sort | uniq -c | xargs)"
}

# The payer: every other acknowledged order, as its 201 arrives, is paid by its customer
# (pm_card_visa: the simulated provider authorizes and captures); the rest expire unpaid.
# vegeta again, at most at the placements' rate, reading its targets as they come (-lazy):
# a payment is sent the moment its order is acknowledged (a loop of curl and jq in bash
# fell 20 s behind on a loaded machine, and paid only expired orders). It follows the
# placements' results until their encoder is gone, then ends; its own results are kept
# like theirs, and every target sent in $dir/pay-targets.
payer() {
	tail -n +1 -F --pid="$enc_pid" "$results" 2>/dev/null |
		jq --unbuffered -nc --arg u "$GALLEY_URL/api/payments" 'foreach (inputs | select(.code == 201) |
			(.body | @base64d | fromjson? | .id) // empty) as $o (0; . + 1; select(. % 2 == 1) |
			{method: "POST", url: $u, body: ({order_id: $o, payment_method: "pm_card_visa"} | tojson | @base64)})' |
		tee "$dir/pay-targets" |
		"$vegeta" attack -lazy -format=json -rate="$RATE/1s" -duration=0 -timeout=30s \
			-header "Authorization: Bearer $LOAD_TOKEN" -header 'Content-Type: application/json' |
		"$vegeta" encode -to=json -output="$payments" || true
	# A file, not a pid: a child that exited is a zombie until waited for, and kill -0 finds it.
	touch "$dir/payer.done"
}

atk_pid="" enc_pid=""
# stop_load: vegeta stops sending on SIGTERM, waits for the answers in flight and writes
# them; the encoder and then the payer end when their input does.
stop_load() {
	[[ -z $atk_pid ]] || kill -TERM "$atk_pid" 2>/dev/null || true
	[[ -z $atk_pid ]] || wait "$atk_pid" 2>/dev/null || true
	[[ -z $enc_pid ]] || wait "$enc_pid" 2>/dev/null || true
	atk_pid="" enc_pid=""
}
keep_logs() {
	cp "$results" "$GALLEY_RUN/logs/e2e-99-kill-audit-placements.json" 2>/dev/null || true
	cp "$payments" "$GALLEY_RUN/logs/e2e-99-kill-audit-payments.json" 2>/dev/null || true
}
# A script that ends early leaves no load behind (the payer ends with the encoder), and
# neither does one killed (bin/galley test's timeout): the load has a bound of its own.
trap 'stop_load; keep_logs' EXIT
trap 'exit 143' INT TERM

mkfifo "$dir/pipe"
"$vegeta" encode -to=json -output="$results" <"$dir/pipe" &
enc_pid=$!
"$vegeta" attack -rate="$RATE/1s" -duration=240s -timeout=30s -targets="$dir/targets" -format=http \
	>"$dir/pipe" &
atk_pid=$!
payer &
check "orders are placed at $RATE/s" wait_until 20 seen 201 20
check "and paid as they are placed" wait_until 20 paid_seen 3

# ---------------------------------------------------------------- the cache Redis
pid_gone() { ! kill -0 "$1" 2>/dev/null; }
pid=$(cat "$GALLEY_RUN/pids/redis.pid")
check "the cache Redis is killed (SIGKILL)" kill -KILL "$pid"
check "and gone" wait_until 10 pid_gone "$pid"
check "orders readyz answers 503 while it is down" wait_until 10 ready orders 503
m=$(mark) p=$(paid_mark)
check "placements go on while it is down" wait_until 20 seen 201 10 "$m"
check "bin/galley restart-redis starts it again" "$GALLEY_TOP/bin/galley" restart-redis
check "orders readyz is 200 again within 15 s" wait_until 15 ready orders 200
echo "# while the cache Redis was down: $(since "$m" "$p")"
m=$(mark)
check "placements go on after its return" wait_until 20 seen 201 10 "$m"

# ---------------------------------------------------------------- the store
pid=$(cat "$GALLEY_RUN/pids/store.pid")
check "the store Redis is killed (SIGKILL)" kill -KILL "$pid"
check "and gone" wait_until 10 pid_gone "$pid"
m=$(mark) p=$(paid_mark)
check "placements are refused with 503 while it is down" wait_until 20 seen 503 3 "$m"
check "bin/galley restart-redis starts it again, from its AOF" "$GALLEY_TOP/bin/galley" restart-redis
check "orders readyz is 200 again within 15 s" wait_until 15 ready orders 200
echo "# while the store was down: $(since "$m" "$p")"
m=$(mark) p=$(paid_mark)
check "placements go on after its return" wait_until 20 seen 201 10 "$m"
check "and payments" wait_until 20 paid_seen 3 "$p"

# ---------------------------------------------------------------- the MongoDB-wire server
pid=$(cat "$GALLEY_RUN/pids/mongo.pid")
check "the MongoDB-wire server is killed (SIGKILL)" kill -KILL "$pid"
check "and gone" wait_until 10 pid_gone "$pid"
check "orders readyz answers 503 while it is down" wait_until 10 ready orders 503
m=$(mark) p=$(paid_mark)
check "placements go on while it is down, into the store" wait_until 20 seen 201 5 "$m"
check "bin/galley restart-mongo starts it again on the same data" "$GALLEY_TOP/bin/galley" restart-mongo
check "orders readyz is 200 again within 15 s" wait_until 15 ready orders 200
echo "# while MongoDB was down: $(since "$m" "$p")"
m=$(mark) p=$(paid_mark)
check "placements go on after its return" wait_until 20 seen 201 25 "$m"
check "and payments" wait_until 20 paid_seen 3 "$p"

# ---------------------------------------------------------------- the answers
stop_load
check "the payer has paid what it was given" wait_until 60 test -e "$dir/payer.done"
keep_logs
placed=$(mark)
STATUS=$(jq -r .code "$results" | sort | uniq -c | xargs) BODY=""
echo "# placements at $RATE/s: $placed ($STATUS)"
STATUS=$(jq -r '.code' "$results" | { grep -vxE '201|503|504' || true; } | sort | uniq -c | xargs)
check "no placement answered 500: each 201, 503 or 504" test -z "$STATUS"
STATUS=$(jq -r 'select(.code == 503 or .code == 504) | select(((.body // "" | @base64d | fromjson?) // null |
	(.error.code | type == "string" and length > 0) and (.error.message | type == "string" and length > 0))
	| not) | .seq' "$results" | head -n 5 | xargs)
check "every 503 and 504 carries the API's error body" test -z "$STATUS"
# The payments' results: those sent (vegeta ends on the end of its targets: what it reads
# then is no request, and has no url).
jq -c 'select(.url != "")' "$payments" >"$dir/paid"
STATUS=$(jq -r '.code' "$dir/paid" | sort | uniq -c | xargs) BODY=""
echo "# payments: $(wc -l <"$dir/paid") ($STATUS; $(jq -r '(.body | @base64d | fromjson? | .status // .error.code) // "-"' \
	"$dir/paid" | sort | uniq -c | xargs))"
STATUS=$(jq -r '.code' "$dir/paid" | { grep -vxE '201|422|503|504' || true; } | sort | uniq -c | xargs)
check "no payment answered 500: each 201, 422 (expired meanwhile), 503 or 504" test -z "$STATUS"
STATUS=$(jq -r 'select(.code != 201) | select(((.body // "" | @base64d | fromjson?) // null |
	(.error.code | type == "string" and length > 0) and (.error.message | type == "string" and length > 0))
	| not) | .seq' "$dir/paid" | head -n 5 | xargs)
check "every refusal carries the API's error body" test -z "$STATUS"
jq -r 'select(.code == 201) | .body | @base64d | fromjson | .id' "$results" | sort >"$dir/acked"
jq -r '.body | @base64d | fromjson | .order_id' "$dir/pay-targets" | sort -u >"$dir/attempted"
jq -r 'select(.code == 201) | .body | @base64d | fromjson | select(.status == "succeeded") | .order_id' "$dir/paid" |
	sort -u >"$dir/paid201"
STATUS=$(($(wc -l <"$dir/paid") - $(wc -l <"$dir/attempted")))
check "one payment sent per order to pay ($(wc -l <"$dir/attempted"))" test "$STATUS" = 0

req GET "/api/stock/$item"
echo "# stock when the load stopped: $BODY"
expect_json ".on_hand <= $UNITS and .reserved <= .on_hand and .available == .on_hand - .reserved and .available >= 0" \
	"none oversold when the load stops"

# ---------------------------------------------------------------- settled
# Every unpaid order expires (GALLEY_RESERVATION_TTL, 20 s on the test stack) and frees its
# unit, and so does every reservation made for an order never stored; every payment is
# final (one the provider did not answer in time is retried by the tick).
settled() {
	_gl_orders "$dir/orders" || return 1
	jq -se 'all(.status != "pending_payment")' "$dir/orders" >/dev/null || return 1
	req GET "/api/stock/$item"
	[[ $STATUS == 200 ]] && jq -e '.reserved == 0' <<<"$BODY" >/dev/null
}
check "everything settles: no order pending, nothing reserved" \
	wait_until $((${GALLEY_RESERVATION_TTL:-900} + 60)) settled
stock=$BODY
jq -r .id "$dir/orders" | sort >"$dir/stored"
jq -r 'select(.status | test("^(paid|preparing|ready|completed)$")) | .id' "$dir/orders" | sort >"$dir/paid_orders"
echo "# orders: $(wc -l <"$dir/stored") stored ($(jq -r '.status + (if .cancel_reason then "/" + .cancel_reason else "" end)' \
	"$dir/orders" | sort | uniq -c | xargs)), $(wc -l <"$dir/acked") acknowledged"

# Every payment we made is final: succeeded for a paid order, else failed or none (404).
# One curl for all of them (one a second would take minutes on a loaded machine).
payments_final() {
	mkdir -p "$dir/pay"
	rm -f "$dir/pay"/*
	while read -r o; do
		printf 'url = "%s/api/payments/%s"\noutput = "%s"\n' "$GALLEY_URL" "$o" "$dir/pay/$o"
	done <"$dir/attempted" >"$dir/pay.cfg"
	curl -s --max-time 10 -K "$dir/pay.cfg" -H "Authorization: Bearer $LOAD_TOKEN" -w '%{http_code}\n' \
		>"$dir/pay.codes" 2>/dev/null || true
	STATUS=$(sort "$dir/pay.codes" | uniq -c | xargs)
	! grep -qvxE '200|404' "$dir/pay.codes" || return 1
	cat /dev/null "$dir"/pay/* | jq -r '"\(.id) \(.status) \(.amount_cents)"' >"$dir/pay.final" 2>/dev/null || return 1
	! grep -q ' processing ' "$dir/pay.final"
}
check "every payment made is final (none processing)" wait_until 60 payments_final

# ---------------------------------------------------------------- stored, announced
# Every acknowledged order, read by its id.
while read -r o; do printf 'url = "%s/api/orders/%s"\noutput = "/dev/null"\n' "$GALLEY_URL" "$o"; done <"$dir/acked" >"$dir/gets"
curl -s --max-time 10 -K "$dir/gets" -H "Authorization: Bearer $LOAD_TOKEN" -w '%{http_code} %{url_effective}\n' \
	>"$dir/got" 2>/dev/null || true
STATUS=$(awk '$1 != 200' "$dir/got" | head -n 5 | xargs) BODY=""
lost=$(($(wc -l <"$dir/acked") - $(grep -c '^200 ' "$dir/got" || true)))
check "every acknowledged order is stored: GET /api/orders/{id} 200 ($(wc -l <"$dir/acked"), $lost not)" test "$lost" = 0
STATUS=$(comm -23 "$dir/acked" "$dir/stored" | head -n 5 | xargs)
check "and in its customer's orders" test -z "$STATUS"
STATUS=$(jq -r --arg i "$item" 'select(.lines != [.lines[0]] or .lines[0].item_id != $i or .lines[0].qty != 1) | .id' \
	"$dir/orders" | head -n 5 | xargs)
check "each one line, one unit of the item" test -z "$STATUS"
echo "# stored without a 201 to their client (it saw 503/504): $(comm -13 "$dir/acked" "$dir/stored" | wc -l)"

# MongoDB, the durable truth, ends up with what the API says (an order, or a payment, lives
# in the store first and reaches MongoDB in batches, lib/kept.h): every stored order, paid
# or cancelled as the API has it (the kitchen may still move a paid one on), and a
# succeeded payment for exactly the paid orders.
paid_or() { # ORDER DOCUMENTS, one a line -> "ID paid" or "ID STATUS"
	jq -r '"\(.id) \(if .status | test("^(paid|preparing|ready|completed)$") then "paid" else .status end)"'
}
paid_or <"$dir/orders" | sort >"$dir/classes"
# by_ids SERVICE COLL IDS-FILE: the documents of those ids, one a line (mongo_find answers the
# first batch only, 101 documents: asked 100 ids at a time).
by_ids() {
	local part
	rm -f "$dir/ids."*
	split -l 100 "$3" "$dir/ids."
	for part in "$dir/ids."*; do
		mongo_find "$1" "$2" "{\"_id\":{\"\$in\":$(jq -Rnc '[inputs | {"$oid": .}]' <"$part")}}" | jq -c '.[]' ||
			return 1
	done
}
in_mongo() {
	by_ids orders orders "$dir/stored" | jq -c '.id = ._id."$oid"' | paid_or | sort >"$dir/mongo.orders"
	by_ids payments payments "$dir/attempted" | jq -r 'select(.status == "succeeded") | ._id."$oid"' |
		sort >"$dir/mongo.paid"
	STATUS=$(diff "$dir/classes" "$dir/mongo.orders" | grep '^[<>]' | head -n 4 | xargs)
	STATUS+=$(diff "$dir/paid_orders" "$dir/mongo.paid" | grep '^[<>]' | head -n 4 | xargs)
	[[ -z $STATUS ]]
}
BODY=""
check "MongoDB holds every stored order as the API has it, and a succeeded payment for each paid one" \
	wait_until 30 in_mongo

# created: the order.created events of the item since this script began, one order id a line
# (repeats kept).
created() {
	scli --raw XRANGE galley:events:orders "$started_ms" + | { grep -F '"type":"order.created"' || true; } |
		jq -r --arg i "$item" 'select(.data.lines[0].item_id == $i) | .data.id' | sort >"$dir/created"
}
# The relay of the events staged while the store was away may lag a moment.
announced() { created && [[ -z $(comm -23 "$dir/stored" <(sort -u "$dir/created")) ]]; }
check "every stored order was announced (order.created)" wait_until 30 announced
STATUS=$(comm -23 "$dir/stored" <(sort -u "$dir/created") | head -n 5 | xargs)
[[ -z $STATUS ]] || echo "# not announced: $STATUS"
STATUS=$(uniq -d "$dir/created" | head -n 5 | xargs)
check "no order was announced twice" test -z "$STATUS"
STATUS=$(comm -13 "$dir/stored" <(sort -u "$dir/created") | head -n 5 | xargs)
check "nothing was announced that is not stored" test -z "$STATUS"

# ---------------------------------------------------------------- stock
sold=$(wc -l <"$dir/paid_orders")
BODY=$stock STATUS=""
echo "# stock: $BODY; $sold sold (paid orders, one unit each) of $UNITS"
expect_json ".on_hand + $sold == $UNITS and .available == .on_hand and .reserved == 0" \
	"stock conserved: $UNITS on hand at the start = $sold sold + available + reserved (0)"

# ---------------------------------------------------------------- payments, captures
# The provider's captures: "ORDER INTENT" a call, the order from the capture's
# Idempotency-Key ("<order>-capture"); only this customer's orders.
jq -r 'select(.status == 200 and (.uri | test("^/v1/payment_intents/[^/]+/capture$"))) |
	"\(.idempotency_key | sub("-capture$"; "")) \(.uri | split("/")[3])"' \
	"$GALLEY_RUN/logs/provider-sim.log" 2>/dev/null | awk 'NR == FNR {ours[$1] = 1; next} $1 in ours' \
	"$dir/stored" - >"$dir/captures" || true
sort -u "$dir/captures" | awk '{print $1}' | sort >"$dir/charges" # one line per intent captured
cut -d' ' -f1 "$dir/charges" | sort -u >"$dir/captured"
echo "# provider: $(wc -l <"$dir/captures") capture calls, $(wc -l <"$dir/charges") payment intents captured, for $(wc -l <"$dir/captured") orders"
STATUS=$(uniq -d "$dir/charges" | head -n 5 | xargs) BODY=""
check "no order charged twice (one payment intent captured per order)" test -z "$STATUS"
STATUS=$(awk '{sub("^pi_sim_", "", $2); if ($1 != $2) print $1}' "$dir/captures" | sort -u | head -n 5 | xargs)
check "each capture is of the intent keyed by its order" test -z "$STATUS"
STATUS=$(comm -23 "$dir/paid_orders" "$dir/captured" | head -n 5 | xargs)
check "every paid order was captured" test -z "$STATUS"
STATUS=$(comm -13 "$dir/paid_orders" "$dir/captured" | head -n 5 | xargs)
check "every capture is of a paid order (none charged and then cancelled)" test -z "$STATUS"
STATUS=$(comm -23 "$dir/paid_orders" "$dir/attempted" | head -n 5 | xargs)
check "every paid order was paid by one of our payments" test -z "$STATUS"
STATUS=$(comm -23 "$dir/paid201" "$dir/paid_orders" | head -n 5 | xargs)
check "every payment answered 201 succeeded is of a paid order" test -z "$STATUS"
STATUS=$(awk '$2 == "succeeded" {print $1}' "$dir/pay.final" | sort | comm -3 - "$dir/paid_orders" | head -n 5 | xargs)
check "the succeeded payments are exactly the paid orders'" test -z "$STATUS"
STATUS=$(awk '$2 == "succeeded" && $3 != 400 {print $1}' "$dir/pay.final" | head -n 5 | xargs)
check "each for the order's total (400 cents)" test -z "$STATUS"
# A payment refused with 503/504 may still have gone through (504: the provider's answer
# came too late, and the payment is retried by the tick): which, and what the client read.
jq -r 'select(.code != 201) | "\(.code) \(.body | @base64d | fromjson? | .error.message)"' "$dir/paid" |
	sed 's/^/# refused: /'
echo "# refused and yet paid: $(($(wc -l <"$dir/paid_orders") - $(wc -l <"$dir/paid201")))"

echo "# placed $placed ($(wc -l <"$dir/acked") acknowledged, $(wc -l <"$dir/stored") stored), paid $sold" \
	"(payments: $(wc -l <"$dir/paid") made, $(wc -l <"$dir/paid201") answered 201 succeeded), captured $(wc -l <"$dir/captured"),"\
	"expired $(jq -r 'select(.cancel_reason == "expired") | .id' "$dir/orders" | wc -l)"
done_testing
