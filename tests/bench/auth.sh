#!/usr/bin/env bash
# What does checking the token cost per request, and so what could caching
# nginx's auth_request subrequest buy at most?  Same cached item read, same
# run, two doors:
#   public    nginx -> auth_request (/_auth: Redis GET of the session) -> menu
#   internal  nginx -> menu, identity given as headers (no subrequest)
# usage: bin/galley up; tests/bench/auth.sh [seconds-per-run]
set -euo pipefail
top=$(cd "$(dirname "$0")/../.." && pwd)
run=${GALLEY_RUN:-$top/.run}
secs=${1:-5}
[ -f "$run/env" ] || { echo "auth.sh: no stack in $run: run bin/galley up first" >&2; exit 2; }
set -a; . "$run/env"; set +a
pass=$(cat "$GALLEY_ADMIN_PASSWORD_FILE")
login=$(curl -s -X POST "$GALLEY_URL/api/auth/login" -H 'Content-Type: application/json' \
	--data-binary "{\"email\":\"$GALLEY_ADMIN_EMAIL\",\"password\":\"$pass\"}")
token=$(jq -r .token <<<"$login")
uid=$(jq -r .user.id <<<"$login")
item=$(curl -s -H "Authorization: Bearer $token" "$GALLEY_URL/api/menu" | jq -r '.items[0].id')
bench() { # name url headers...
	local name=$1 url=$2 out
	shift 2
	out=$(wrk -t2 -c8 -d"${secs}s" --latency "$@" "$url" 2>&1)
	printf '| %-34s | %8s | %9s | %9s |\n' "$name" "$(awk '/Requests\/sec/ {print int($2)}' <<<"$out")" \
		"$(awk '$1 == "50%" {print $2}' <<<"$out")" "$(awk '$1 == "99%" {print $2}' <<<"$out")"
}
echo "| door (8 connections, ${secs}s)            |    req/s |       p50 |       p99 |"
echo "|------------------------------------|----------|-----------|-----------|"
bench "public: token checked by auth_request" "$GALLEY_URL/api/menu/items/$item" -H "Authorization: Bearer $token"
bench "internal: identity headers, no check" "$GALLEY_INTERNAL_URL/api/menu/items/$item" -H "X-User-Id: $uid" -H "X-User-Role: admin"
curl -s -o /dev/null -X POST -H "Authorization: Bearer $token" "$GALLEY_URL/api/auth/logout"
