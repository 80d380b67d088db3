#!/usr/bin/env bash
# galley-pool's status (GET / on sock/SVC-N.status, fcgi/pool/pool.h): every field is there;
# accepted counts exactly the requests sent; a request held by a dependency that does not
# answer (every suppliers worker stopped with SIGSTOP: menu's POST /api/menu/items asks
# suppliers about the supplier) shows its worker busy, with the route's pattern, the request
# id the client's traceparent gave it, a running time that grows and what it waits on; and
# the pool's slow log names it exactly once.
set -euo pipefail
# shellcheck source=tests/e2e/lib.sh
source "$(dirname "$0")/lib.sh"

SVC=menu
fields='["service","pool","listen","pid","started_at","uptime_s","workers","active","idle",
	"accepted","max_active","max_children_reached","listen_queue","max_listen_queue",
	"listen_queue_len","slow_requests","timed_out","recycled","respawned","slow_ms",
	"request_timeout_s","max_requests","processes"]'
for ((n = 1; n <= $(svc_pools "$SVC"); n++)); do
	STATUS="" BODY=$(pool_status "$SVC" "$n" || true)
	expect_json "keys_unsorted == $fields" "$SVC-$n's status has every field, in order"
	expect_json ".service == \"$SVC\" and .pool == $n and .pid == $(pool_pid "$SVC" "$n") and
		.listen == \"unix:$GALLEY_RUN/sock/$SVC-$n.sock\"" "$SVC-$n's status names its pool"
	expect_json ".workers == $(svc_workers "$SVC") and (.processes | length) == .workers and
		.active + .idle == .workers" "$SVC-$n: every worker is serving"
	expect_json '[.processes[] | keys_unsorted == ["pid","state","requests","started_at","request"]
		and (.state | IN("starting","idle","busy"))] | all' "$SVC-$n: each process's fields"
	expect_json '.listen_queue_len == 1024 and (.listen_queue | type) == "number"' \
		"$SVC-$n: the listen queue (NETLINK_SOCK_DIAG) and its backlog"
	expect_json '.slow_ms == 1000 and .request_timeout_s == 30 and .max_requests == 0' \
		"$SVC-$n: the default settings"
done

# accepted: exactly the requests the pools were sent.
before=$(pool_sum "$SVC" accepted)
for ((i = 0; i < 20; i++)); do
	req GET /api/menu
	[[ $STATUS == 200 ]] || break
done
expect_status 200 "20 GET /api/menu"
after=$(pool_sum "$SVC" accepted)
STATUS="$before -> $after" BODY=""
check "accepted grew by exactly 20 over $SVC's pools" test "$after" -eq $((before + 20))

# A held request.
slow_before=$(pool_sum "$SVC" slow_requests)
hold_workers suppliers
trace=$(od -An -N16 -tx1 /dev/urandom | tr -d ' \n')
item='{"name":"Held by suppliers","price_cents":100,"supplier_id":"5eed00000000000000000001"}'
curl -s -o "$_GL_TMP/held.body" -w '%{http_code}' --max-time 30 -X POST \
	-H 'Content-Type: application/json' -H "Authorization: Bearer $AUTH_TOKEN" \
	-H "traceparent: 00-$trace-00f067aa0ba902b7-01" --data-binary "$item" \
	"$GALLEY_URL/api/menu/items" >"$_GL_TMP/held.code" &
client=$!

# held_now: the busy process serving our request, as JSON, in HELD.
held_now() {
	local n
	for ((n = 1; n <= $(svc_pools "$SVC"); n++)); do
		HELD=$(pool_status "$SVC" "$n" | jq -ce --arg id "$trace" \
			'.processes[] | select(.state == "busy" and .request.request_id == $id)') &&
			return 0
	done
	return 1
}
HELD=""
check "a $SVC worker shows busy with the held request" wait_until 10 held_now
STATUS="" BODY=$HELD
expect_json '.request.method == "POST" and .request.route == "/api/menu/items"' \
	"the held request's method and route pattern"
expect_json '.request.waiting_on == "http suppliers"' "it waits on the call to suppliers"
first=$(jq -r .request.running_ms <<<"$HELD")
grows() { held_now && (($(jq -r .request.running_ms <<<"$HELD") > first)); }
check "its running_ms grows (from $first)" wait_until 1.5 grows
wait "$client" || true
release_workers
STATUS=$(cat "$_GL_TMP/held.code" 2>/dev/null || true) BODY=$(cat "$_GL_TMP/held.body" 2>/dev/null || true)
gave_up() { _gl_is_error 503 upstream_unavailable || _gl_is_error 504 upstream_timeout; }
check "the held POST answers 503 or 504 in the API's error shape once menu gives up on suppliers" gave_up

# The slow log: one line for it, in the pool's log, with where it waited.
slow_lines() {
	cat "$GALLEY_RUN"/logs/"$SVC"-*.log | grep -F "\"request_id\":\"$trace\"" | grep -c '"msg":"slow request' || true
}
STATUS="" BODY=$(cat "$GALLEY_RUN"/logs/"$SVC"-*.log | grep -F "\"request_id\":\"$trace\"" | grep '"msg":"slow request' || true)
check "the slow log names the held request once" test "$(slow_lines)" -eq 1
expect_json '.level == "warn" and .service == "menu" and .route == "/api/menu/items" and
	.waiting_on == "http suppliers" and .running_ms >= 1000' "the slow line's fields"
slow_after=$(pool_sum "$SVC" slow_requests)
STATUS="$slow_before -> $slow_after" BODY=""
check "slow_requests counted it" test "$slow_after" -ge $((slow_before + 1))

# Leave menu as it was: its circuit to suppliers closes by itself.
created() { req POST /api/menu/items '{"name":"After the hold","price_cents":100,"supplier_id":"5eed00000000000000000001"}'; [[ $STATUS == 201 ]]; }
check "menu creates items again once suppliers answers" wait_until 20 created
req DELETE "/api/menu/items/$(jq -r .id <<<"$BODY")"

# The same counters as Prometheus text, per pool on its status socket and for every pool at
# once on nginx's internal listener (GET /metrics/pools); every pool's JSON by service (GET
# /pools) with the service's sums.
m=$(curl -sf --max-time 2 --unix-socket "$GALLEY_RUN/sock/$SVC-1.status" http://pool/metrics || true)
STATUS="" BODY=$m
check "a pool's GET /metrics is Prometheus text with its labels" grep -q "^galley_pool_accepted_total{service=\"$SVC\",pool=\"1\"} [0-9]" <<<"$m"
check "with one TYPE line per family" test "$(grep -c '^# TYPE galley_pool_' <<<"$m")" -eq "$(grep -c '^galley_pool_' <<<"$m")"
all=$(curl -s "$GALLEY_INTERNAL_URL/metrics/pools")
every_pool() {
	local svc n
	for svc in $(jq -r '.services | keys[]' <<<"$(curl -s "$GALLEY_INTERNAL_URL/pools")"); do
		for ((n = 1; n <= $(svc_pools "$svc"); n++)); do
			grep -q "^galley_pool_workers{service=\"$svc\",pool=\"$n\"} " <<<"$all" || return 1
		done
	done
}
check "GET /metrics/pools holds every pool of every service" every_pool
check "each family's TYPE once, its samples together" bash -c 'awk '"'"'/^# TYPE/ { if (seen[$3]++) exit 1 } /^galley_pool_/ { f = $1; sub(/\{.*/, "", f); if (f != last && done[f]++) exit 1; last = f }'"'"' <<<"$1"' _ "$all"
n_pools=$(svc_pools "$SVC")
GALLEY_URL=$GALLEY_INTERNAL_URL req GET /pools
expect_status 200 "GET /pools on the internal listener"
expect_json ".services.$SVC.pools_up == $n_pools and .services.$SVC.pools_down == 0" "every pool of $SVC is up"
expect_json ".services.$SVC | .workers == ([.pools[].workers] | add) and .accepted == ([.pools[].accepted] | add)" "the service's counts are its pools' sums"
expect_json "[.services.$SVC.pools[].name] == [range(1; $n_pools + 1) | \"$SVC/\\(.)\"]" "each pool named <service>/<number>"
done_testing
