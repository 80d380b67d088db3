#!/usr/bin/env bash
# Scaling by pools under load: bin/galley scale adds and removes pools of a
# running service, and changes its workers per pool, while clients keep
# reading items and placing orders: no request fails, and the stack ends with
# the pools asked for. Last of the scripts: it leaves the stack's shape changed.
. "$(dirname "$0")/lib.sh"

pools_of() { "$GALLEY_TOP/bin/galley" status | grep -cE "^  $1-[0-9]+ +pid [0-9]+ +up"; }
workers_of() { "$GALLEY_TOP/bin/galley" status | grep -E "^  $1-$2 " | grep -oE '[0-9]+/[0-9]+ workers'; }

req POST /api/suppliers "{\"name\":\"Scale supplier\",\"email\":\"scale$RANDOM$RANDOM@supplier.example\"}"
supplier=$(jq -r .id <<<"$BODY")
req POST /api/menu/items "{\"name\":\"Scale tart\",\"price_cents\":350,\"supplier_id\":\"$supplier\"}"
tart=$(jq -r .id <<<"$BODY")
req PUT "/api/stock/$tart" '{"on_hand":100000}'
email="ida$RANDOM$RANDOM@scale.example"
AUTH_TOKEN= req POST /api/auth/register "{\"email\":\"$email\",\"password\":\"password9\",\"name\":\"Ida\"}"
login "$email" password9
ida=$TOKEN

tmp=$(mktemp -d)
place_loop() {
	while [[ ! -e $tmp/stop ]]; do
		curl -s -o /dev/null -w '%{http_code}\n' --max-time 10 -X POST "$GALLEY_URL/api/orders" \
			-H "Authorization: Bearer $ida" -H 'Content-Type: application/json' \
			-d "{\"lines\":[{\"item_id\":\"$tart\",\"qty\":1}]}" >>"$tmp/placed"
	done
}
read_loop() { # PATH FILE
	while [[ ! -e $tmp/stop ]]; do
		curl -s -o /dev/null -w '%{http_code}\n' --max-time 10 "$GALLEY_URL$1" \
			-H "Authorization: Bearer $ida" >>"$tmp/$2"
	done
}
place_loop &
read_loop "/api/menu/items/$tart" items &
read_loop /api/menu menu &
read_loop "/api/orders?limit=5" orders &
flowing() { [[ -s $tmp/placed && -s $tmp/items && -s $tmp/orders ]]; }
check "the load runs" wait_until 10 flowing

scale() { local t=$SECONDS rc=0; "$GALLEY_TOP/bin/galley" scale "$@" >>"$tmp/scale.log" 2>&1 || rc=$?; echo "scale $*: $((SECONDS - t)) s" >>"$tmp/times"; return $rc; }
check "orders: 2 → 3 pools" scale orders 3
check "3 pools run" test "$(pools_of orders)" = 3
check "orders: 3 → 2 pools of 1 worker (each pool restarted in turn)" scale orders 2 1
check "2 pools run" test "$(pools_of orders)" = 2
check "of 1 worker each" test "$(workers_of orders 1) $(workers_of orders 2)" = "1/1 workers 1/1 workers"
check "menu: 2 → 3 pools" scale menu 3
check "3 pools run" test "$(pools_of menu)" = 3
touch "$tmp/stop"
wait
echo "# answers: placed $(sort "$tmp/placed" | uniq -c | tr '\n' ' '); items $(sort "$tmp/items" | uniq -c | tr '\n' ' '); menu $(sort "$tmp/menu" | uniq -c | tr '\n' ' '); orders $(sort "$tmp/orders" | uniq -c | tr '\n' ' ')"
check "every placement succeeded ($(wc -l <"$tmp/placed"))" bash -c "! grep -qvx 201 '$tmp/placed'"
check "every item read succeeded ($(wc -l <"$tmp/items"))" bash -c "! grep -qvx 200 '$tmp/items'"
check "every menu read succeeded ($(wc -l <"$tmp/menu"))" bash -c "! grep -qvx 200 '$tmp/menu'"
check "every orders list succeeded ($(wc -l <"$tmp/orders"))" bash -c "! grep -qvx 200 '$tmp/orders'"
check "the recorded shape is what was asked" bash -c "grep -qx 'GALLEY_ORDERS_POOLS=2' '$GALLEY_RUN/env' && grep -qx 'GALLEY_ORDERS_WORKERS=1' '$GALLEY_RUN/env' && grep -qx 'GALLEY_MENU_POOLS=3' '$GALLEY_RUN/env'"
sed "s/^/# /" "$tmp/times"
rm -rf "$tmp"
done_testing
