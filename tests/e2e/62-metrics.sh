#!/usr/bin/env bash
# GET /metrics on nginx's internal listener (API.md): Prometheus text for every service,
# summed over all its pools and processes (lib/metrics.h). Each count is checked against
# what this script itself did: N requests make exactly N more, wherever they were served.
. "$(dirname "$0")/lib.sh"

scrape() { curl -s "$GALLEY_INTERNAL_URL/metrics" >"$tmp/m"; }
# metric NAME{LABELS}: its value in the last scrape, 0 when absent.
metric() { awk -v k="$1" '$1 == k { v = $2 } END { print v + 0 }' "$tmp/m"; }
# equals_after NAME WANT: scrape until NAME == WANT (counts arrive within about a second).
equals_after() { scrape && [[ $(metric "$1") == "$2" ]]; }
at_least_after() { scrape && (($(metric "$1") >= $2)); }

tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT

curl -s -D "$tmp/h" -o "$tmp/m" "$GALLEY_INTERNAL_URL/metrics"
check "GET /metrics answers 200" grep -q '^HTTP/1.1 200' "$tmp/h"
check "as Prometheus text 0.0.4" grep -qi '^Content-Type: text/plain; version=0.0.4' "$tmp/h"
req GET /metrics
check "not on the public port (404)" test "$STATUS" = 404

# The exposition format: every sample line is NAME{LABELS} VALUE, every family is typed
# once and its samples are together (Prometheus rejects a family seen twice).
bad=$(grep -Ev '^(#|$)' "$tmp/m" | grep -Evc '^[a-zA-Z_:][a-zA-Z0-9_:]*(\{([a-zA-Z_][a-zA-Z0-9_]*="[^"\\]*",?)*\})? -?[0-9]+(\.[0-9]+)?$')
check "every sample line is well-formed ($bad are not)" test "$bad" = 0
dups=$(grep '^# TYPE' "$tmp/m" | awk '{print $3}' | sort | uniq -d | wc -l)
check "every family is typed once" test "$dups" = 0
split=$(grep -v '^#' "$tmp/m" | sed -E 's/[{ ].*//; s/_(bucket|sum|count)$//' | uniq | sort | uniq -d | wc -l)
check "each family's samples are together" test "$split" = 0

# Requests: 20 reads of one supplier that is not there, answered by whichever pool nginx
# picks; the total counts all 20.
ghost=5eed0000000000000000beef
key="galley_http_requests_total{service=\"suppliers\",route=\"/api/suppliers/{id}\",method=\"GET\",status=\"404\"}"
scrape
before=$(metric "$key")
for _ in $(seq 1 20); do req GET "/api/suppliers/$ghost"; done
check "the 20 reads count 20, summed over the pools" wait_until 10 equals_after "$key" $((before + 20))
pools=$(grep -F "/api/suppliers/$ghost" "$GALLEY_RUN/logs/nginx-access.log" |
	jq -r .upstream | sort -u | grep -c 'suppliers-[0-9]*\.sock')
check "served by more than one pool ($pools), yet counted once each" test "$pools" -ge 2

h='service="suppliers",route="/api/suppliers/{id}"'
inf=$(metric "galley_http_request_duration_seconds_bucket{$h,le=\"+Inf\"}")
count=$(metric "galley_http_request_duration_seconds_count{$h}")
check "the latency histogram's +Inf bucket is its count ($inf, $count)" test "$inf" = "$count"
rising=$(grep -F "galley_http_request_duration_seconds_bucket{$h," "$tmp/m" |
	awk '{ if ($2 + 0 < last) bad = 1; last = $2 + 0 } END { print bad + 0 }')
check "its buckets never fall" test "$rising" = 0

procs=$(($(svc_pools menu) * $(svc_workers menu)))
check "galley_processes{service=menu} is every worker of every pool ($procs)" \
	wait_until 15 equals_after 'galley_processes{service="menu"}' "$procs"

# The cache: a write drops the entry, the next read loads it (a miss), the one after is
# served from Redis (a hit).
req POST /api/suppliers "{\"name\":\"Metric supplier\",\"email\":\"metric$RANDOM$RANDOM@supplier.example\"}"
supplier=$(jq -r .id <<<"$BODY")
item_body="{\"name\":\"Metric pie\",\"price_cents\":300,\"supplier_id\":\"$supplier\"}"
make_item() { req POST /api/menu/items "$item_body"; [[ $STATUS == 201 ]]; }
check "an item to read" wait_until 15 make_item
item=$(jq -r .id <<<"$BODY")
# Round trips: menu has no tick work and follows no stream, so its MongoDB finds are its
# reads' own: a miss costs one, a hit none.
finds='galley_db_ops_total{service="menu",op="find"}'
redis_ops='galley_redis_ops_total{service="menu"}'
scrape
hits=$(metric 'galley_cache_hits_total{service="menu"}')
misses=$(metric 'galley_cache_misses_total{service="menu"}')
found=$(metric "$finds")
rops=$(metric "$redis_ops")
req GET "/api/menu/items/$item"
check "a read after the write is one miss" wait_until 10 equals_after 'galley_cache_misses_total{service="menu"}' $((misses + 1))
check "which cost menu one MongoDB round trip (find: $found → $(metric "$finds"))" wait_until 10 equals_after "$finds" $((found + 1))
req GET "/api/menu/items/$item"
check "and the next one is one hit" wait_until 10 equals_after 'galley_cache_hits_total{service="menu"}' $((hits + 1))
check "which cost none (find stays $((found + 1)))" equals_after "$finds" $((found + 1))
check "Redis round trips are counted ($rops → $(metric "$redis_ops"))" at_least_after "$redis_ops" $((rops + 2))

# An order: orders asks customers once who the caller is, and publishes one order.created,
# which every group reads.
req PUT "/api/stock/$item" '{"on_hand":5}'
customer metrics
ctoken=$TOKEN
out='galley_outbound_requests_total{service="orders",target="customers",outcome="ok"}'
pub='galley_events_published_total{service="orders",stream="orders",type="order.created"}'
scrape
calls=$(metric "$out")
published=$(metric "$pub")
AUTH_TOKEN=$ctoken req POST /api/orders "{\"lines\":[{\"item_id\":\"$item\",\"qty\":1}]}"
expect_status 201 "an order is placed"
check "orders' calls to customers count one more" wait_until 10 equals_after "$out" $((calls + 1))
check "order.created counts as one event published" wait_until 10 equals_after "$pub" $((published + 1))
lag_zero() { scrape && [[ $(grep -c '^galley_events_consumer_lag{' "$tmp/m") -gt 0 ]] &&
	! grep '^galley_events_consumer_lag{' "$tmp/m" | grep -qv ' 0$'; }
check "every consumer group catches up (lag 0)" wait_until 20 lag_zero
check "each group of both streams followed is there (kitchen, orders, payments, reports, stock; orders)" \
	test "$(grep -c '^galley_events_consumer_lag{' "$tmp/m")" = 6
# A scrape reads the groups of the streams consumers name (galley:consumer:streams), and scans
# none of the store's keys: that would cost the store more the more it holds.
scans() {
	local n
	n=$(scli INFO commandstats | sed -n 's/^cmdstat_scan:calls=\([0-9]*\),.*/\1/p')
	echo "${n:-0}"
}
before=$(scans)
scrape
check "a scrape scans none of the store's keys (SCAN calls $before and $(scans))" \
	test "$(scans)" = "$before"

# nginx's own counters are its own route (each replica answers for itself), not in /metrics,
# and grow with its requests.
scrape
check "/metrics holds galley's totals, not nginx's counters" bash -c "! grep -q '^nginx_' '$tmp/m'"
scrape_nginx() { curl -s -D "$tmp/h" "$GALLEY_INTERNAL_URL/metrics/nginx" >"$tmp/m"; }
scrape_nginx
n1=$(metric nginx_http_requests_total)
check "GET /metrics/nginx is Prometheus text" grep -qi '^content-type: text/plain; version=0.0.4' "$tmp/h"
check "with every nginx family and its type" test "$(grep -c '^# TYPE nginx_' "$tmp/m")" -eq 7
req GET /api/menu
scrape_nginx
n2=$(metric nginx_http_requests_total)
check "nginx_http_requests_total grows ($n1 → $n2)" test "$n2" -gt "$n1"
check "nginx's stub_status itself is not a route" test "$(curl -s -o /dev/null -w '%{http_code}' "$GALLEY_INTERNAL_URL/.galley/nginx-status")" = 404

# The dashboard's System page reads the same totals and the pools' status through the public
# server (GET /api/system/metrics, /api/system/pools): staff and admins only, GET only, and a
# role header from the client counts for nothing.
req GET /api/system/metrics
expect_status 200 "an admin reads /api/system/metrics"
check "it is the Prometheus text of /metrics" grep -q '^galley_http_requests_total{' <<<"$BODY"
req GET /api/system/pools
expect_status 200 "an admin reads /api/system/pools"
expect_json '.services | keys | length == 9' "it lists every service"
expect_header 'Content-Type' '^application/json' "as JSON"
AUTH_TOKEN= req GET /api/system/pools
expect_error 401 unauthenticated "without a token: 401"
customer System
cust=$TOKEN
AUTH_TOKEN=$cust req GET /api/system/metrics
expect_error 403 forbidden "a customer may not read the metrics"
AUTH_TOKEN=$cust req GET /api/system/pools -H 'X-Galley-Role: admin'
expect_error 403 forbidden "nor the pools, whatever role header it sends"
req POST /api/system/pools '{}'
expect_error 405 method_not_allowed "POST: 405"
req GET /api/system/other
expect_error 404 not_found "another /api/system/ path: 404"

# A circuit: with suppliers down, menu's circuit to it opens and /metrics shows it; once
# suppliers is back, the circuit's open time passes and it is shown closed.
for n in $(seq 1 "$(svc_pools suppliers)"); do kill_pool suppliers "$n"; done
for _ in 1 2 3 4 5 6 7; do req POST /api/menu/items "$item_body"; done
open='galley_breaker_open{service="menu",target="suppliers"}'
check "menu's circuit to suppliers shows open" wait_until 10 at_least_after "$open" 1
for n in $(seq 1 "$(svc_pools suppliers)"); do "$GALLEY_TOP/bin/galley" restart-pool suppliers "$n" >/dev/null; done
check "and closed again once its open time has passed" wait_until 20 equals_after "$open" 0
check "menu makes items again" wait_until 20 make_item
# Each menu process has a circuit of its own, and one that served none of the requests
# since may still be open for a moment: restart menu's pools so that no later test meets it.
for n in $(seq 1 "$(svc_pools menu)"); do "$GALLEY_TOP/bin/galley" restart-pool menu "$n" >/dev/null; done
check "menu's pools restarted make items" wait_until 20 make_item

done_testing
