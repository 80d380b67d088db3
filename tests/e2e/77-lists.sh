#!/usr/bin/env bash
# Staff's lists and the kitchen's board are served from the store's sets (lib/kept_list.c),
# not from a query that FerretDB answers by reading the whole collection; what still queries
# MongoDB (a search by name, say) is bounded in the server (lib/db.c, page_query: maxTimeMS,
# 2.5 x GALLEY_DB_TIMEOUT_MS).
#
# An order moves from one status's list to the next with the write that changes it, on
# staff's lists and on the customer's own (its orders' set, filtered by status). 20,000
# orders are put into MongoDB behind galley's back and the orders' pools restart with
# GALLEY_ORDERS_DB_TIMEOUT_MS=60 (a query may run 150 ms in the server): a search by name is
# answered 504 in the API's error shape and the log says the server stopped it, while the
# status lists are answered 200 from the store (without the seeded orders, which no write
# listed). Then the sets are lost as a store that came back empty loses them: lists query
# MongoDB until the tick has built them again from one cursor, and the seeded orders are
# listed under their status. Then they go, and the pools get the default back.
set -euo pipefail
# shellcheck source=tests/e2e/lib.sh
source "$(dirname "$0")/lib.sh"

SVC=orders
POOLS=$(svc_pools "$SVC")
built() { [[ $(scli EXISTS galley:kept:orders:orders:listed) == 1 ]]; }
check "the orders' sets are built (a fresh stack's first tick)" wait_until 20 built
# The ids of a list's page, one a line; ID_LIST PATH.
ids() { req GET "$1" && jq -r '.items[].id' <<<"$BODY"; }

# ---------------------------------------------------------------- one order's way
req POST /api/suppliers "{\"name\":\"Lists supplier\",\"email\":\"lists$RANDOM$RANDOM@supplier.example\"}"
supplier=$(jq -r .id <<<"$BODY")
req POST /api/menu/items "{\"name\":\"Tea\",\"price_cents\":300,\"supplier_id\":\"$supplier\"}"
tea=$(jq -r .id <<<"$BODY")
req PUT "/api/stock/$tea" '{"on_hand":5}'
customer lists
carol=$TOKEN
AUTH_TOKEN=$carol req POST /api/orders "{\"lines\":[{\"item_id\":\"$tea\",\"qty\":1}]}"
expect_status 201 "an order is placed"
order=$(jq -r .id <<<"$BODY")
# The last page of a status's list holds the newest orders: page through to the end.
listed_under() { # STATUS [AFTER]: is the order on that status's list (after AFTER)?
	local after=${2:-} page
	while :; do
		req GET "/api/orders?status=$1&limit=200${after:+&after=$after}"
		[[ $STATUS == 200 ]] || return 1
		jq -e --arg s "$1" 'all(.items[]; .status == $s)' <<<"$BODY" >/dev/null || return 1
		page=$BODY
		jq -e --arg o "$order" 'any(.items[]; .id == $o)' <<<"$page" >/dev/null && return 0
		after=$(jq -r '.next // empty' <<<"$page")
		[[ -n $after ]] || return 1
	done
}
check "staff find it on the pending_payment list" listed_under pending_payment
not_paid() { ! listed_under paid; }
check "and not on the paid list" not_paid
AUTH_TOKEN=$carol req GET "/api/orders?status=pending_payment"
expect_json "[.items[].id] == [\"$order\"] and .next == null" \
	"the customer's own pending_payment list holds it (its orders' set, by status)"
AUTH_TOKEN=$carol req GET "/api/orders?status=paid"
expect_json '.items == [] and .next == null' "and its paid list is empty"
req GET "/api/orders?status=pending_payment&id_prefix=$order"
expect_json "[.items[].id] == [\"$order\"] and .next == null" \
	"staff find it by its whole id and its status (the set's range of the prefix)"
req GET "/api/orders?status=pending_payment&id_prefix=${order:0:20}&after=$order"
expect_json '.items == [] and .next == null' "and nothing after it within the prefix"
AUTH_TOKEN=$carol req GET "/api/orders?id_prefix=${order:0:16}"
expect_json "[.items[].id] == [\"$order\"]" "the customer finds it by a part of its id"
AUTH_TOKEN=$carol req POST /api/payments "{\"order_id\":\"$order\",\"payment_method\":\"pm_card_visa\"}"
expect_status 201 "it is paid"
left_pending() { ! listed_under pending_payment; }
check "it has left the pending_payment list" wait_until 10 left_pending
AUTH_TOKEN=$carol req GET "/api/orders?status=pending_payment"
expect_json '.items == [] and .next == null' "and the customer's own"
AUTH_TOKEN=$carol req GET "/api/orders"
expect_json "[.items[].id] == [\"$order\"] and .items[0].status != \"pending_payment\"" \
	"whose whole list holds it, paid or further on"
on_a_later_list() { listed_under paid || listed_under preparing || listed_under ready; }
check "and is on the list of its status now" wait_until 10 on_a_later_list
req GET "/api/orders?limit=200"
all_after=""
while jq -e '.next != null' <<<"$BODY" >/dev/null; do
	all_after=$(jq -r .next <<<"$BODY")
	req GET "/api/orders?limit=200&after=$all_after"
done
expect_json "any(.items[]; .id == \"$order\")" "the last page of all orders holds it"

# ---------------------------------------------------------------- 20,000 behind galley's back
python3 - "$_GL_TMP/seed" <<'EOF'
import json, os, sys
d = sys.argv[1] + "/orders"
os.makedirs(d, exist_ok=True)
cmds = [{"insert": "orders", "ordered": False, "documents": [
    {"_id": {"$oid": "5eed%04x%016x" % (b, i)}, "status": "paid", "seeded_by": "77-lists",
     "customer_name": "Seeded", "lines": [], "total_cents": 100, "version": 1}
    for i in range(1000)]} for b in range(20)]
with open(d + "/1.json", "w") as f:
    json.dump({"commands": cmds}, f)
EOF
seeded() { mongo_run orders '{"count": "orders", "query": {"seeded_by": "77-lists"}}' | jq -r .n; }
check "20,000 orders are put into MongoDB beside the stack's" \
	"$GALLEY_BUILD/sql/galley-sql" -p "$GALLEY_MONGO_URI" "$_GL_TMP/seed"
check "all of them ($(seeded))" test "$(seeded)" = 20000

check "bin/galley scale restarts $SVC's pools with GALLEY_ORDERS_DB_TIMEOUT_MS=60" \
	env GALLEY_ORDERS_DB_TIMEOUT_MS=60 "$GALLEY_TOP/bin/galley" scale "$SVC" "$POOLS"
req GET "/api/orders?customer_name=nobody&limit=50"
expect_error 504 upstream_timeout "a search by name, longer than 150 ms in the server, is answered 504"
# grep reads the files itself: cat | grep -q fails under pipefail when grep stops first.
stopped() { grep -qs 'operation exceeded time limit' "$GALLEY_RUN"/logs/orders-*.log; }
check "the orders' log says that the server stopped the query" stopped
req GET "/api/orders?status=paid&limit=50"
expect_status 200 "the paid list is answered from the store all the same"
expect_json 'all(.items[]; .status == "paid" and (has("seeded_by") | not))' \
	"with the stack's paid orders only: no write listed the seeded ones"
req GET "/api/kitchen/tickets?status=paid&limit=50"
expect_status 200 "and so is the kitchen's board"

check "bin/galley scale gives $SVC's pools the default again" \
	env GALLEY_ORDERS_DB_TIMEOUT_MS= "$GALLEY_TOP/bin/galley" scale "$SVC" "$POOLS"

# ---------------------------------------------------------------- the sets lost, built again
sets=$(scli --scan --pattern 'galley:kept:orders:orders:by:*' | tr '\n' ' ')
# shellcheck disable=SC2086 # the sets' names, one word each
check "the orders' sets and their mark are removed" \
	scli DEL galley:kept:orders:orders:listed galley:kept:orders:orders:all $sets
req GET "/api/orders?status=paid&limit=50"
expect_status 200 "the paid list is answered while they are built (from MongoDB until they are)"
expect_json '(.items | length) == 50 and all(.items[]; .status == "paid")' "a full page of paid orders"
check "the tick builds the sets again" wait_until 60 built
grep_log() { grep -Eqs "kept lists: [0-9]{5,} orders listed by status" "$GALLEY_RUN"/logs/orders-*.log; }
check "and says how many it listed" grep_log
check "all 20,000 seeded ids are on the paid set" \
	test "$(scli ZLEXCOUNT galley:kept:orders:orders:by:paid '[5eed' '(5eee')" = 20000
req GET "/api/orders?status=paid&limit=50"
expect_json '(.items | length) == 50 and all(.items[]; .status == "paid" and .seeded_by == "77-lists")' \
	"the paid list's first page is of seeded orders now (their ids sort first)"
expect_json '.next == .items[49].id' "and goes on after its last"
# After the seeded ids (each a read by _id in MongoDB: the store has no copy of them).
later_after_seeded() {
	local s
	for s in paid preparing ready; do listed_under $s 5eee00000000000000000000 && return 0; done
	return 1
}
check "our order is back on the list of its status" later_after_seeded

check "the seeded orders go" \
	mongo_run orders '{"delete": "orders", "deletes": [{"q": {"seeded_by": "77-lists"}, "limit": 0}]}'
check "none is left ($(seeded))" test "$(seeded)" = 0
on_set() { scli ZLEXCOUNT galley:kept:orders:orders:by:paid '[5eed' '(5eee'; }
req GET "/api/orders?status=paid&limit=50"
expect_status 200 "the paid list, whose first 20,000 ids name orders gone"
expect_json 'all(.items[]; has("seeded_by") | not) and (.next | type) == "string"' \
	"skips them, and says where to go on"
check "the ids it found gone are off the set ($(on_set) of 20,000 left)" test "$(on_set)" -lt 20000
check "the rest go too" scli ZREMRANGEBYLEX galley:kept:orders:orders:by:paid '[5eed' '(5eee'
check "and off the set of all" scli ZREMRANGEBYLEX galley:kept:orders:orders:all '[5eed' '(5eee'
done_testing
