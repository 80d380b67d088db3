#!/usr/bin/env bash
# nginx caches the auth check's "yes" for at most 1 s under an HMAC of the token
# (nginx.conf.in, public.conf.in; issue 14). What must hold: the cache is used, and it never
# makes a token live longer than the session: logout and a demotion are seen by the very
# next request; a forged, truncated or altered token is never answered from it; many
# distinct tokens stay within its bounds.
. "$(dirname "$0")/lib.sh"

cache="$GALLEY_RUN/nginx/cache/auth"
# signed_up NAME: a new customer, signed in (TOKEN). Register and sign-in share nginx's
# per-address limit (GALLEY_AUTH_RATE, burst 10), which the script before this one may
# have used up: a 429 is waited out (a refused request does not use the budget).
signed_up() {
	_gl_signed_up() { customer "$1" && [[ -n $TOKEN ]]; }
	wait_until 15 _gl_signed_up "$1"
}
# edge_key TOKEN: the entry's key, as nginx (set_hmac_sha256) and fcgi/auth/secret.c make it.
edge_key() {
	python3 -c 'import hmac,hashlib,sys; print(hmac.new(b"galley-auth-cache", sys.argv[1].encode(), hashlib.sha256).hexdigest())' "$1"
}
# cached TOKEN: nginx holds an entry for it (each cache file starts with "KEY: <key>").
cached() { grep -rqs --text "^KEY: $(edge_key "$1")$" "$cache"; }
entries() { find "$cache" -type f 2>/dev/null | wc -l; }

# 1. A signed-in request leaves an entry named by the token's HMAC, and no file in the
#    cache holds the token itself.
signed_up Cache
t1=$TOKEN
AUTH_TOKEN=$t1 req GET /api/auth/me
expect_status 200 "a signed-in customer reads its account"
check "nginx cached the check under the token's HMAC" cached "$t1"
check "no cache file holds the token" bash -c '! grep -rqs --text "$1" "$2"' _ "$t1" "$cache"

# 2. Logout: the next request, right after its answer, is refused (the entry was purged,
#    not left to expire). Three times, each with the entry fresh just before the logout.
for i in 1 2 3; do
	signed_up "Bye$i"
	t=$TOKEN
	AUTH_TOKEN=$t req GET /api/auth/me
	cached "$t" || echo "# round $i: no entry before the logout"
	AUTH_TOKEN=$t req POST /api/auth/logout
	expect_status 204 "round $i: logout"
	AUTH_TOKEN=$t req GET /api/auth/me
	expect_error 401 unauthenticated "round $i: the next request after logout is 401"
	check "round $i: the entry is gone" bash -c '! grep -rqs --text "^KEY: $1$" "$2"' _ "$(edge_key "$t")" "$cache"
done

# 3. A role change: promoted to staff, the user reads suppliers; demoted, the very next
#    request is 403 although its "yes, staff" was cached a moment before.
signed_up Role
t2=$TOKEN
AUTH_TOKEN=$t2 req GET /api/auth/me
uid=$(jq -r .id <<<"$BODY")
req PATCH "/api/auth/users/$uid" '{"role":"staff"}'
expect_status 200 "the admin promotes the user to staff"
AUTH_TOKEN=$t2 req GET "/api/suppliers?limit=1"
expect_status 200 "as staff it lists suppliers"
check "that answer came with a cached staff check" cached "$t2"
req PATCH "/api/auth/users/$uid" '{"role":"customer"}'
expect_status 200 "the admin demotes it again"
AUTH_TOKEN=$t2 req GET "/api/suppliers?limit=1"
expect_error 403 forbidden "the next request after the demotion is 403"
AUTH_TOKEN=$t2 req GET /api/auth/me
expect_json '.role == "customer"' "and the account says customer"

# 4. Tokens that are not the cached one, sent right after it was cached: every one asks
#    the auth service and is refused.
AUTH_TOKEN=$t1 req GET /api/auth/me
expect_status 200 "the customer's token is cached again"
last=${t1: -1}
other=$([[ $last == 0 ]] && echo 1 || echo 0)
for bad in "${t1:0:63}" "${t1:0:63}$other" "${t1}0" "${t1^^}" "x$t1"; do
	AUTH_TOKEN= req GET /api/auth/me -H "Authorization: Bearer $bad"
	expect_error 401 unauthenticated "a token altered to '${bad:0:6}…${bad: -3}' (${#bad} chars) is 401"
done
AUTH_TOKEN= req GET /api/auth/me -H "Authorization: bearer   $t1"
expect_status 200 "the same token, spelled as the service accepts it, still works"

# 5. Many distinct tokens. Forged ones are never stored; 10,000 live sessions (written
#    straight into the auth service's session cache) are each answered right, and the
#    cache stays inside its configured bounds (keys zone and max_size in nginx.conf).
conf="$GALLEY_RUN/nginx/nginx.conf"
check "the cache has an explicit keys zone and max_size" \
	bash -c 'grep -Eq "keys_zone=galley_auth_cache:[0-9]+m" "$1" && grep -Eq "max_size=64m" "$1"' _ "$conf"
before=$(entries)
python3 - "$GALLEY_URL" 2000 forged >"$GALLEY_RUN/logs/e2e-61-forged.txt" <<'EOF' &
import http.client, os, sys, threading, urllib.parse
url, n, kind = sys.argv[1], int(sys.argv[2]), sys.argv[3]
u = urllib.parse.urlsplit(url)
counts, lock = {}, threading.Lock()
def run(part):
    c = http.client.HTTPConnection(u.hostname, u.port, timeout=30)
    for i in range(part, n, 8):
        c.request("GET", "/api/auth/me", headers={"Authorization": "Bearer " + os.urandom(32).hex()})
        r = c.getresponse(); r.read()
        with lock: counts[r.status] = counts.get(r.status, 0) + 1
ts = [threading.Thread(target=run, args=(p,)) for p in range(8)]
[t.start() for t in ts]; [t.join() for t in ts]
print(" ".join("%d:%d" % kv for kv in sorted(counts.items())))
EOF
wait $!
check "2,000 forged tokens are all 401 ($(cat "$GALLEY_RUN/logs/e2e-61-forged.txt"))" \
	grep -qx '401:2000' "$GALLEY_RUN/logs/e2e-61-forged.txt"
check "and none was cached ($before entries before, $(entries) after)" test "$(entries)" -le "$before"

# 10,000 sessions of the demoted user: "<user id> <role> <expires>" under
# galley:auth:session:<BLAKE2b-256 of the token> (fcgi/auth/sessions.c), 60 s to live.
python3 - "$uid" "$GALLEY_RUN/logs/e2e-61-tokens.txt" <<'EOF' | rcli --pipe >/dev/null
import hashlib, os, sys, time
uid, out = sys.argv[1], sys.argv[2]
exp = int(time.time()) + 3600
with open(out, "w") as f:
    for _ in range(10000):
        t = os.urandom(32).hex()
        f.write(t + "\n")
        k = "galley:auth:session:" + hashlib.blake2b(t.encode(), digest_size=32).hexdigest()
        v = "%s customer %d" % (uid, exp)
        sys.stdout.write("*5\r\n$3\r\nSET\r\n$%d\r\n%s\r\n$%d\r\n%s\r\n$2\r\nEX\r\n$2\r\n60\r\n" % (len(k), k, len(v), v))
EOF
python3 - "$GALLEY_URL" "$GALLEY_RUN/logs/e2e-61-tokens.txt" "$uid" >"$GALLEY_RUN/logs/e2e-61-live.txt" <<'EOF' &
import http.client, json, sys, threading, urllib.parse
url, path, uid = sys.argv[1], sys.argv[2], sys.argv[3]
toks = open(path).read().split()
u = urllib.parse.urlsplit(url)
counts, lock = {}, threading.Lock()
def run(part):
    c = http.client.HTTPConnection(u.hostname, u.port, timeout=30)
    for t in toks[part::8]:
        c.request("GET", "/api/auth/me", headers={"Authorization": "Bearer " + t})
        r = c.getresponse(); b = r.read()
        # Another user's answer and an error are different failures: say which.
        if r.status != 200: k = "status-%d" % r.status
        elif json.loads(b).get("id") == uid: k = "right"
        else: k = "other-user"
        with lock: counts[k] = counts.get(k, 0) + 1
ts = [threading.Thread(target=run, args=(p,)) for p in range(8)]
[t.start() for t in ts]; [t.join() for t in ts]
counts.setdefault("right", 0); counts.setdefault("other-user", 0)
print(" ".join("%s:%d" % kv for kv in sorted(counts.items())))
EOF
wait $!
check "10,000 distinct live tokens are each answered as their user ($(cat "$GALLEY_RUN/logs/e2e-61-live.txt"))" \
	grep -qx 'other-user:0 right:10000' "$GALLEY_RUN/logs/e2e-61-live.txt"
n=$(entries)
kb=$(du -sk "$cache" | cut -f1)
check "the cache holds at most one entry per token ($n) within max_size ($kb KiB <= 64 MiB)" \
	test "$n" -le $((before + 10000)) -a "$kb" -le 65536
AUTH_TOKEN=$t1 req GET /api/auth/me
expect_status 200 "the first customer's token still works after the flood"
AUTH_TOKEN=$t2 req GET "/api/suppliers?limit=1"
expect_error 403 forbidden "and the demoted user is still refused"

done_testing
