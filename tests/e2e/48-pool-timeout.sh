#!/usr/bin/env bash
# The request timeout (GALLEY_REQUEST_TIMEOUT_S, fcgi/pool/pool.h): menu's pools restart with 2 s
# (bin/galley scale, one pool at a time, as an operator would), a request is held (its
# worker stopped with SIGSTOP while it waits on suppliers, whose workers are stopped too):
# nginx answers the client 504 in the API's error shape at 2 s and does not retry the POST;
# galley-pool kills the worker a second later, logs it, counts it in timed_out and starts a
# new one at once; the item was never acknowledged and was never created. Then menu's pools
# go back to the stack's default.
set -euo pipefail
# shellcheck source=tests/e2e/lib.sh
source "$(dirname "$0")/lib.sh"

SVC=menu
POOLS=$(svc_pools "$SVC")
galley() { "$GALLEY_TOP/bin/galley" "$@" >>"$_GL_TMP/galley.out" 2>&1; }
check "bin/galley scale restarts $SVC's pools with GALLEY_MENU_REQUEST_TIMEOUT_S=2" \
	env GALLEY_MENU_REQUEST_TIMEOUT_S=2 "$GALLEY_TOP/bin/galley" scale "$SVC" "$POOLS"
check "each $SVC pool's status says request_timeout_s 2" pools_all "$SVC" ".request_timeout_s == 2 and .timed_out == 0"
check "nginx gives $SVC's requests 2 s" grep -q 'fastcgi_read_timeout 2s;' "$GALLEY_RUN/nginx/locations-public.conf"

hold_workers suppliers
trace=$(od -An -N16 -tx1 /dev/urandom | tr -d ' \n')
name="Timed out $trace"
start=${EPOCHREALTIME/./}
curl -s -o "$_GL_TMP/held.body" -w '%{http_code}' --max-time 30 -X POST \
	-H 'Content-Type: application/json' -H "Authorization: Bearer $AUTH_TOKEN" \
	-H "traceparent: 00-$trace-00f067aa0ba902b7-01" \
	--data-binary "{\"name\":\"$name\",\"price_cents\":100,\"supplier_id\":\"5eed00000000000000000001\"}" \
	"$GALLEY_URL/api/menu/items" >"$_GL_TMP/held.code" &
client=$!

# held: the pool and pid of the worker on our request.
held() {
	local n p
	for ((n = 1; n <= POOLS; n++)); do
		p=$(pool_status "$SVC" "$n" | jq -e --arg id "$trace" \
			'.processes[] | select(.state == "busy" and .request.request_id == $id) | .pid') &&
			{ POOL=$n VICTIM=$p; return 0; }
	done
	return 1
}
POOL="" VICTIM=""
check "a $SVC worker is on the request" wait_until 10 held
if [[ -n $VICTIM ]]; then
	note_kill "$VICTIM" "$SVC-$POOL" worker # galley-pool kills it: bin/galley test expects that
	kill -STOP "$VICTIM"
fi
release_workers
wait "$client" || true
took=$(((${EPOCHREALTIME/./} - start) / 1000))
STATUS=$(cat "$_GL_TMP/held.code" 2>/dev/null || true) BODY=$(cat "$_GL_TMP/held.body" 2>/dev/null || true)
expect_error 504 upstream_timeout "the client gets 504 upstream_timeout"
expect_json '.error.message == "the service did not answer in time"' "from nginx (errors.conf), at its read timeout"
STATUS="$took ms" BODY=""
check "after about 2 s" test "$took" -lt 3500
line=$(grep -F "\"request_id\":\"$trace\"" "$GALLEY_RUN/logs/nginx-access.log" | tail -n 1 || true)
STATUS="" BODY=$line
expect_json '.status == 504 and .upstream_status == "504"' "nginx asked one pool once (no retry of the POST)"

gone() { ! kill -0 "$VICTIM" 2>/dev/null || [[ $(cut -d' ' -f3 "/proc/$VICTIM/stat" 2>/dev/null) == Z ]]; }
check "galley-pool killed the held worker ($VICTIM)" wait_until 5 gone
check "and replaced it: $SVC-$POOL has all its workers again" wait_until 10 pool_full "$SVC" "$POOL" "${VICTIM:-0}"
back() {
	BODY=$(pool_status "$SVC" "$POOL") &&
		jq -e '.timed_out == 1 and .idle == .workers and .respawned == 0' >/dev/null <<<"$BODY"
}
STATUS=""
check "$SVC-$POOL counts timed_out 1, all its workers idle" wait_until 10 back
BODY=$(grep -F "\"request_id\":\"$trace\"" "$GALLEY_RUN/logs/$SVC-$POOL.log" | grep '"msg":"request timeout' || true)
expect_json '.level == "error" and .route == "/api/menu/items" and .waiting_on == "http suppliers" and
	.worker == '"${VICTIM:-0}" "galley-pool logged the kill with the route, request id and what it waited on"

# Nothing acknowledged is lost: the client never got a 201, and no such item exists.
BODY=$(mongo_find menu items "{\"name\":\"$name\"}" || echo error)
expect_json 'type == "array" and length == 0' "the timed-out POST created no item"

check "bin/galley scale gives $SVC's pools the default again" \
	env GALLEY_MENU_REQUEST_TIMEOUT_S= "$GALLEY_TOP/bin/galley" scale "$SVC" "$POOLS"
check "each $SVC pool's status says request_timeout_s 30" pools_all "$SVC" ".request_timeout_s == 30"
created() { req POST /api/menu/items '{"name":"After the timeout","price_cents":100,"supplier_id":"5eed00000000000000000001"}'; [[ $STATUS == 201 ]]; }
check "menu creates items again" wait_until 20 created
req DELETE "/api/menu/items/$(jq -r .id <<<"$BODY")"
done_testing
