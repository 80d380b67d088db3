#!/usr/bin/env bash
# What checking the token costs per request, now that nginx caches the check's "yes" for
# 1 s (nginx.conf.in, issue 14). Same run, same stack, wrk with C connections:
#   hello      nginx -> FastCGI hello (tests/bench/hello.c, W workers): the bare round trip
#   healthz    nginx -> a menu pool's /api/menu/healthz: galley's own bare round trip
#   public     GET /api/menu/items/{id} with a customer's token: auth_request (answered
#              from nginx's cache) -> menu -> Redis GET
#   internal   the same read on the internal listener, identity as headers, no check:
#              the ceiling of any caching of the check
# usage: bin/galley up (a plain build); tests/bench/auth.sh [seconds-per-run] [connections]
set -euo pipefail
top=$(cd "$(dirname "$0")/../.." && pwd)
run=${GALLEY_RUN:-$top/.run}
secs=${1:-5}
conns=${2:-8}
[ -f "$run/env" ] || { echo "auth.sh: no stack in $run: run bin/galley up first" >&2; exit 2; }
set -a; . "$run/env"; set +a
. "$top/tests/bench/lib.sh"
bench_tmp
bench_baseline "${GALLEY_MENU_WORKERS:-${GALLEY_WORKERS:-2}}"
bench_tokens
item=$(bench_item "Edge broth" 300)
uid=$(api GET /api/auth/me "$TOKEN" | jq -r .id)

echo "| $conns connections, ${secs}s                          |    req/s |       p50 |       p99 | errors |"
echo "|------------------------------------------|----------|-----------|-----------|--------|"
rows=$(
	bench_row "hello (bare nginx -> FastCGI)" "$conns" "$secs" "http://127.0.0.1:$P_HELLO/"
	bench_row "healthz (nginx -> menu pool)" "$conns" "$secs" "$GALLEY_URL/api/menu/healthz"
	bench_row "public: item, token checked (cached)" "$conns" "$secs" "$GALLEY_URL/api/menu/items/$item" \
		-H "Authorization: Bearer $TOKEN"
	bench_row "internal: item, no check" "$conns" "$secs" "$GALLEY_INTERNAL_URL/api/menu/items/$item" \
		-H "X-User-Id: $uid" -H "X-User-Role: customer"
)
echo "$rows"
rate() { awk -F'|' -v n="$1" 'index($2, n) {print $3 + 0}' <<<"$rows"; }
awk -v h="$(rate hello)" -v z="$(rate healthz)" -v p="$(rate public)" -v i="$(rate internal)" 'BEGIN {
	printf "\nratios: public/hello %.2f, public/healthz %.2f, public/internal %.2f, internal/hello %.2f\n",
		p / h, p / z, p / i, i / h }'
api POST /api/auth/logout "$TOKEN" >/dev/null || true
api POST /api/auth/logout "$ADMIN" >/dev/null || true
