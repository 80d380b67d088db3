#!/usr/bin/env bash
# The public server over TLS and HTTP/2 (nginx/tls.conf.in), as an operator turns it on
# with GALLEY_TLS_CERT and GALLEY_TLS_KEY. bin/galley test makes a self-signed certificate
# for 127.0.0.1 with openssl and starts the test stack with it on a free port
# (GALLEY_TLS_URL); curl trusts exactly that certificate (--cacert), so every answer here
# also proves that nginx serves the operator's certificate.
. "$(dirname "$0")/lib.sh"

if [[ -z ${GALLEY_TLS_URL:-} || -z ${GALLEY_TLS_CERT:-} ]]; then
	check "GALLEY_TLS_URL and GALLEY_TLS_CERT name the stack's TLS port and certificate (bin/galley test turns TLS on)" false
	done_testing
fi

# tls [curl args...] PATH: sets STATUS to "<HTTP version> <status>", BODY, HEADERS.
tls() {
	local path=${*: -1} out
	out=$(curl -sS --max-time 10 --cacert "$GALLEY_TLS_CERT" -D "$_GL_TMP/tls-headers" -o "$_GL_TMP/tls-body" \
		-w '%{http_version} %{http_code}' "${@:1:$#-1}" "$GALLEY_TLS_URL$path" 2>"$_GL_TMP/tls-err") || true
	STATUS=${out:-"curl failed"}
	BODY=$(cat "$_GL_TMP/tls-body" 2>/dev/null; cat "$_GL_TMP/tls-err")
	HEADERS=$(tr -d '\r' <"$_GL_TMP/tls-headers" 2>/dev/null)
	rm -f "$_GL_TMP"/tls-*
}

tls --http2 /api/menu/healthz
expect_status "2 200" "GET /api/menu/healthz over HTTP/2 and TLS"
expect_header X-Request-Id '^[0-9a-f]{32}$' "it carries X-Request-Id"
expect_header Content-Security-Policy "default-src 'self'" "and the server's security headers"

tls --http2 /api/menu
expect_status "2 401" "a protected route without a token: 401 over HTTP/2"
expect_json '.error.code == "unauthenticated" and (.error.message | length > 0)' "in the API's error shape"
expect_header WWW-Authenticate '^Bearer' "with WWW-Authenticate"

tls --http2 -H "Authorization: Bearer $AUTH_TOKEN" /api/menu
expect_status "2 200" "the same route with the admin's token: 200 over HTTP/2"
expect_json '.items | type == "array"' "the menu's items"

tls --http2 -H "Authorization: Bearer $AUTH_TOKEN" /api/no-such-service
expect_status "2 404" "an unknown path over HTTP/2: 404"
expect_json '.error.code == "not_found"' "nginx's own error in the API's shape (errors.conf)"
big="$_GL_TMP/big"
head -c 2000000 /dev/zero | tr '\0' a >"$big"
tls --http2 -H "Authorization: Bearer $AUTH_TOKEN" -H 'Content-Type: application/json' --data-binary "@$big" /api/menu/items
expect_status "2 413" "a 2 MB body over HTTP/2: 413"
expect_json '.error.code == "body_too_large"' "in the API's shape"
rm -f "$big"

# The live view streams over HTTP/2 too (the dashboard on an https page).
tls --http2 -N --max-time 2 -H 'Accept: text/event-stream' -H "Authorization: Bearer $AUTH_TOKEN" /live/orders
expect_status "2 200" "GET /live/orders over HTTP/2: 200"
expect_header Content-Type '^text/event-stream' "an event stream"

# Both TLS versions of tls.conf.in's ssl_protocols, and HTTP/1.1 for clients without h2.
tls --http2 --tlsv1.2 --tls-max 1.2 /api/menu/healthz
expect_status "2 200" "TLS 1.2"
tls --http2 --tlsv1.3 /api/menu/healthz
expect_status "2 200" "TLS 1.3"
tls --http1.1 /api/menu/healthz
expect_status "1.1 200" "HTTP/1.1 over TLS"

# The plain port is unchanged: HTTP/1.1 without TLS.
STATUS=$(curl -sS -o /dev/null --max-time 5 -w '%{http_version} %{http_code}' "$GALLEY_URL/api/menu/healthz" 2>&1)
expect_status "1.1 200" "the plain port still answers HTTP/1.1"
done_testing
