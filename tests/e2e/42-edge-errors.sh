#!/usr/bin/env bash
# Every error nginx itself answers is the API's JSON error (nginx/errors.conf), on /api/ and
# /live/ of the public server and on the internal one: each request is sent as raw bytes
# over TCP (tests/e2e/rawhttp.py), since curl cannot send most of them, and the status
# line, Content-Type, the body's .error.code and .error.message and X-Request-Id are
# checked. Before errors.conf had these pages, nginx answered its HTML page to a header
# too large (400), an unknown Transfer-Encoding (501), `HTTP/2.0` on this port (505), a
# broken chunked body sent without a token (400, after the 401 page), and the live server
# an empty 403 to a request that is not a subscription. A client that stalls gets no
# answer at all: nginx closes the connection after client_header_timeout or
# client_body_timeout (10 s, nginx.conf.in).
. "$(dirname "$0")/lib.sh"
shopt -s lastpipe # `printf ... | raw` sets raw's variables in this shell, not a subshell

rawhttp=$GALLEY_TOP/tests/e2e/rawhttp.py
public=${GALLEY_URL#http://}
internal=${GALLEY_INTERNAL_URL#http://}
tmp="$GALLEY_RUN/tmp/42-edge.$$"
mkdir -p "$tmp"
auth="Authorization: Bearer $AUTH_TOKEN"$'\r\n'
big=$(head -c 9000 /dev/zero | tr '\0' a) # past large_client_header_buffers' 8k

# raw [--to HOST:PORT] [rawhttp options] < request: send the bytes to the public server (or
# HOST:PORT); sets STATUS (000 when no status line came), STATUS_LINE, HEADERS, BODY, END
# (response, eof, reset or timeout), BYTES, SECONDS.
raw() {
	local to=$public out
	if [[ ${1:-} == --to ]]; then
		to=$2
		shift 2
	fi
	out=$(python3 "$rawhttp" "$to" "$@") || out='{}'
	_raw_parse "$out"
}
_raw_parse() {
	STATUS=$(jq -r '.status // "000"' <<<"$1")
	STATUS_LINE=$(jq -r '.status_line // ""' <<<"$1")
	HEADERS=$(jq -r '(.headers // {}) | to_entries[] | "\(.key): \(.value)"' <<<"$1")
	BODY=$(jq -r '.body // ""' <<<"$1")
	END=$(jq -r '.end // "none"' <<<"$1")
	BYTES=$(jq -r '.bytes // -1' <<<"$1")
	SECONDS_TAKEN=$(jq -r '.seconds // -1' <<<"$1")
}

# nginx_error STATUS CODE DESC: the answer is STATUS with the API's error CODE, as JSON,
# with a request id. (The body is read with `jq -n 'input | ...'`: plain `jq -e` (1.6)
# passes an empty body, which is what the live server's 403 had.)
nginx_error() {
	check "$3: status line HTTP/1.1 $1 (got '$STATUS_LINE')" bash -c '[[ $0 == "HTTP/1.1 $1"* ]]' "$STATUS_LINE" "$1"
	check "$3: the body is the API's error, code $2" \
		jq -n -e --arg c "$2" 'input | .error.code == $c and (.error.message | type == "string" and length > 0)' <<<"$BODY"
	expect_header Content-Type '^application/json' "$3: Content-Type application/json"
	expect_header X-Request-Id '^[0-9a-f]{32}$' "$3: X-Request-Id"
}

# no_answer DESC: the server closed the connection without sending a byte, within the 10 s
# of nginx.conf.in's timeouts (nginx's default, 60 s, would fail this).
no_answer() {
	STATUS="$END after ${SECONDS_TAKEN}s, $BYTES bytes" BODY=$(head -c 300 <<<"$HEADERS$BODY")
	check "$1: the connection ends without an answer" bash -c '[[ $0 == eof || $0 == reset ]] && (($1 == 0))' "$END" "$BYTES"
	check "$1: within 14 s" awk -v s="$SECONDS_TAKEN" 'BEGIN { exit !(s >= 0 && s < 14) }'
}

# The clients that stall, started first and read at the end: each waits for nginx's timeout.
printf 'GET /api/menu HTTP/1.1\r\nHost: x\r\n' |
	python3 "$rawhttp" "$public" --wait 20 >"$tmp/stall-headers" &
printf 'POST /api/menu/items HTTP/1.1\r\nHost: x\r\n%sContent-Type: application/json\r\nContent-Length: 100\r\n\r\n{"name"' "$auth" |
	python3 "$rawhttp" "$public" --wait 20 >"$tmp/stall-body-api" &
printf 'POST /live/orders HTTP/1.1\r\nHost: x\r\n%sContent-Length: 100\r\n\r\n{"a"' "$auth" |
	python3 "$rawhttp" "$public" --wait 20 >"$tmp/stall-body-live" &

# 494 -> 431: a header line past 8k, many headers past 4 x 8k in all; anonymous or not.
printf 'GET /api/menu HTTP/1.1\r\nHost: x\r\nX-Big: %s\r\n\r\n' "$big" | raw
nginx_error 431 validation_failed "a 9k header on /api/"
printf 'GET /api/menu HTTP/1.1\r\nHost: x\r\n%sCookie: a=%s\r\n\r\n' "$auth" "$big" | raw
nginx_error 431 validation_failed "a 9k cookie on /api/ with a token"
many=$(for i in 1 2 3 4 5; do printf 'X-Many-%d: %s\r\n' "$i" "${big:0:7000}"; done)
printf 'GET /api/menu HTTP/1.1\r\nHost: x\r\n%s\r\n\r\n' "$many" | raw
nginx_error 431 validation_failed "five 7k headers (35k) on /api/"
printf 'GET /live/orders HTTP/1.1\r\nHost: x\r\nAccept: text/event-stream\r\nX-Big: %s\r\n\r\n' "$big" | raw
nginx_error 431 validation_failed "a 9k header on /live/"

# 400: a request line nginx cannot read.
printf 'GET /api/menu HTTP/1.x\r\nHost: x\r\n\r\n' | raw
nginx_error 400 validation_failed "a bad HTTP version in the request line on /api/"
printf 'GET /api/menu junk HTTP/1.1\r\nHost: x\r\n\r\n' | raw
nginx_error 400 validation_failed "a request line of four words on /api/"
printf 'GET /live/orders\x01 HTTP/1.1\r\nHost: x\r\n\r\n' | raw
nginx_error 400 validation_failed "a control byte in the request line on /live/"

# 400: a broken chunk. With a token the body is read for the service; without one it is
# read to be thrown away after the 401 page, or after a 404 page, which made the 400 a
# second error (recursive_error_pages, errors.conf).
bad_chunk='Transfer-Encoding: chunked\r\nContent-Type: application/json\r\n\r\nzz\r\n{}\r\n0\r\n\r\n'
printf "POST /api/menu/items HTTP/1.1\r\nHost: x\r\n%s$bad_chunk" "$auth" | raw
nginx_error 400 validation_failed "a broken chunk on /api/ with a token"
printf "POST /api/menu/items HTTP/1.1\r\nHost: x\r\n$bad_chunk" | raw
nginx_error 400 validation_failed "a broken chunk on /api/ without a token"
printf "POST /api/no-such-service HTTP/1.1\r\nHost: x\r\n%s$bad_chunk" "$auth" | raw
nginx_error 400 validation_failed "a broken chunk on an /api/ path nobody serves"
printf "POST /live/orders HTTP/1.1\r\nHost: x\r\n%s$bad_chunk" "$auth" | raw
nginx_error 400 validation_failed "a broken chunk on /live/ with a token"
printf "POST /live/orders HTTP/1.1\r\nHost: x\r\n$bad_chunk" | raw
nginx_error 400 validation_failed "a broken chunk on /live/ without a token"

# 411: nginx (since 1.3.9) sends none. A POST with neither Content-Length nor
# Transfer-Encoding has no body: it reaches the service, which says so in its own JSON.
printf 'POST /api/menu/items HTTP/1.1\r\nHost: x\r\n%sContent-Type: application/json\r\nConnection: close\r\n\r\n' "$auth" | raw
nginx_error 400 invalid_json "a POST without Content-Length or Transfer-Encoding (HTTP/1.1)"
printf 'POST /api/menu/items HTTP/1.0\r\nHost: x\r\n%sContent-Type: application/json\r\n\r\n{"name":"x"}' "$auth" | raw
nginx_error 400 invalid_json "an HTTP/1.0 POST without Content-Length: its bytes are not a body"

# 413: a Content-Length past client_max_body_size (1m), and a chunked body that grows past it.
for path in /api/menu/items /live/orders; do
	printf 'POST %s HTTP/1.1\r\nHost: x\r\n%sContent-Type: application/json\r\nContent-Length: 2000000\r\n\r\n{' "$path" "$auth" | raw
	nginx_error 413 body_too_large "Content-Length 2000000 on ${path%/*}/"
done
printf 'POST /api/menu/items HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: 2000000\r\n\r\n{' | raw
nginx_error 413 body_too_large "Content-Length 2000000 on /api/ without a token"
chunked_body() { # 40 chunks of 64 KiB: 2.5 MB
	local chunk i
	chunk=$(head -c 65536 /dev/zero | tr '\0' a)
	for ((i = 0; i < 40; i++)); do printf '10000\r\n%s\r\n' "$chunk"; done
	printf '0\r\n\r\n'
}
for path in /api/menu/items /live/orders; do
	{
		printf 'POST %s HTTP/1.1\r\nHost: x\r\n%sContent-Type: application/json\r\nTransfer-Encoding: chunked\r\n\r\n' "$path" "$auth"
		chunked_body
	} | raw
	nginx_error 413 body_too_large "a chunked body growing past 1m on ${path%/*}/"
done

# 414: a request line past 8k.
printf 'GET /api/menu?q=%s HTTP/1.1\r\nHost: x\r\n%s\r\n' "$big" "$auth" | raw
nginx_error 414 validation_failed "a 9k URI on /api/"
printf 'GET /live/orders?q=%s HTTP/1.1\r\nHost: x\r\n\r\n' "$big" | raw
nginx_error 414 validation_failed "a 9k URI on /live/"

# 501: a Transfer-Encoding nginx does not decode.
for path in /api/menu/items /live/orders; do
	printf 'POST %s HTTP/1.1\r\nHost: x\r\n%sTransfer-Encoding: gzip\r\n\r\n' "$path" "$auth" | raw
	nginx_error 501 not_implemented "Transfer-Encoding: gzip on ${path%/*}/"
done

# 505: an HTTP/2.0 request line on this HTTP/1 port.
for path in / /api/menu /live/orders; do
	printf 'GET %s HTTP/2.0\r\nHost: x\r\n\r\n' "$path" | raw
	nginx_error 505 http_version_not_supported "GET $path HTTP/2.0"
done

# 403 from the live server (a request that is not a subscription), in the API's shape.
printf 'GET /live/orders HTTP/1.1\r\nHost: x\r\n%sAccept: application/json\r\n\r\n' "$auth" | raw
nginx_error 403 forbidden "GET /live/orders without Accept: text/event-stream"
printf 'POST /live/orders HTTP/1.1\r\nHost: x\r\n%sContent-Type: application/json\r\nContent-Length: 2\r\n\r\n{}' "$auth" | raw
nginx_error 403 forbidden "POST /live/orders"
printf 'GET /live/orders HTTP/1.1\r\nHost: x\r\n%sAccept: text/event-stream\r\n\r\n' "$auth" | raw --wait 2
check "GET /live/orders as an event stream still streams (got $STATUS_LINE)" \
	bash -c '[[ $0 == "HTTP/1.1 200"* ]] && grep -qi "^content-type: text/event-stream" <<<"$1"' "$STATUS_LINE" "$HEADERS"

# The internal server includes the same pages.
printf 'GET /metrics HTTP/1.1\r\nHost: x\r\nX-Big: %s\r\n\r\n' "$big" | raw --to "$internal"
nginx_error 431 validation_failed "a 9k header on the internal server"
printf 'POST /internal/stock/reservations HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: gzip\r\n\r\n' | raw --to "$internal"
nginx_error 501 not_implemented "Transfer-Encoding: gzip on the internal server"
printf 'GET /metrics HTTP/2.0\r\nHost: x\r\n\r\n' | raw --to "$internal"
nginx_error 505 http_version_not_supported "HTTP/2.0 on the internal server"

# A body cut short (the client shuts its side after 4 of 100 bytes): nginx logs 499 and
# sends nothing.
printf 'POST /api/menu/items HTTP/1.1\r\nHost: x\r\n%sContent-Type: application/json\r\nContent-Length: 100\r\n\r\n{"a"' "$auth" |
	raw --half-close --wait 5
STATUS="$END, $BYTES bytes" BODY=$(head -c 300 <<<"$HEADERS$BODY")
check "a body cut short: the connection ends without an answer" bash -c '[[ $0 == eof || $0 == reset ]] && (($1 == 0))' "$END" "$BYTES"

# With error pages after error pages, the auth check keeps its own single page: every auth
# pool down is still 503 "cannot check tokens" (not a 401).
kill_pool auth 1
kill_pool auth 2
auth_gone() { [[ -z $(pool_workers auth 1) && -z $(pool_workers auth 2) ]]; }
check "both auth pools killed" wait_until 5 auth_gone
# A token of the right shape that nobody was given: no answer of the check is cached for it.
unknown=$(head -c 32 /dev/urandom | od -An -tx1 | tr -d ' \n')
printf 'GET /api/menu HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer %s\r\n\r\n' "$unknown" | raw
nginx_error 503 upstream_unavailable "a token while no auth pool answers"
for n in 1 2; do
	check "auth pool $n restarts" "$GALLEY_TOP/bin/galley" restart-pool auth "$n"
done
req GET /api/auth/me
expect_status 200 "the token works again"

# The stalled clients: no answer, and not 60 s of waiting.
wait
_raw_parse "$(cat "$tmp/stall-headers")"
no_answer "headers that stop coming (client_header_timeout)"
_raw_parse "$(cat "$tmp/stall-body-api")"
no_answer "a body on /api/ that stops coming (client_body_timeout)"
_raw_parse "$(cat "$tmp/stall-body-live")"
no_answer "a body on /live/ that stops coming (client_body_timeout)"

rm -rf "$tmp"
done_testing
