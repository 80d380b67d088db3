# tests/e2e/lib.sh: sourced by every tests/e2e/NN-<area>.sh. Curl + jq against a running
# stack, TAP output (`ok N - ...`). It sets no shell options: every helper is safe under
# `set -euo pipefail` and never fails the script by itself.
#
# Environment (bin/galley test exports it; by hand, after `bin/galley up`, lib.sh reads
# $GALLEY_RUN/env, default <repo>/.run/env):
#   GALLEY_URL, GALLEY_INTERNAL_URL   http://127.0.0.1:PORT of nginx's public / internal server
#   GALLEY_RUN    the run folder (pids/, sock/, logs/)     GALLEY_TOP    the repo root
#   GALLEY_REDIS_URL, GALLEY_STORE_URL, GALLEY_MONGO_URI                     GALLEY_BUILD  the build folder used
#   GALLEY_<SVC>_POOLS, GALLEY_<SVC>_WORKERS                the stack's shape
#   GALLEY_ADMIN_EMAIL [admin@galley.local], and GALLEY_ADMIN_PASSWORD or else the file
#   GALLEY_ADMIN_PASSWORD_FILE [$GALLEY_RUN/admin-password]: the first admin (bin/galley up)
#
# Signing in: when sourced, lib.sh signs in as that admin and sets ADMIN_TOKEN and
# AUTH_TOKEN to its token; if it cannot, it prints "Bail out! cannot sign in as the admin"
# and exits 1. Every req sends AUTH_TOKEN as a bearer token, so a script runs as the admin
# unless it says otherwise, per call (`AUTH_TOKEN= req GET /api/menu` is anonymous,
# `AUTH_TOKEN=$other req ...` another user) or for good (AUTH_TOKEN=$other). Raw curl calls
# on protected routes must add -H "Authorization: Bearer $AUTH_TOKEN" themselves.
#
# API (and tests/common.sh's: wait_until, stocked_item, newid, free_port, now_ms):
#   req METHOD PATH [BODY|@FILE|@-|""] [curl args...]   sets STATUS, BODY, HEADERS (CR
#                            stripped); a body gets Content-Type: application/json; "" = no
#                            body, and so is a third argument that starts like a curl option
#                            (`req GET /x -H 'A: b'`); adds Authorization: Bearer $AUTH_TOKEN
#                            when it is non-empty
#   login EMAIL PASSWORD                      POST /api/auth/login (anonymous): sets TOKEN to
#                            the token, or "" and returns 1 on failure; STATUS, BODY as req
#   level ITEM                                GET /api/stock/ITEM: STATUS, BODY as req
#   customer NAME                             register a new customer (a fresh email) and
#                            sign it in: TOKEN as login
#   check "desc" CMD ARGS...                 ok/not ok on CMD's exit status
#   expect_status CODE "desc"                 STATUS == CODE
#   expect_json 'JQ_BOOLEAN_EXPR' "desc"      jq -e on BODY
#   expect_error CODE ERROR_CODE "desc"       STATUS, .error.code, non-empty .error.message
#   expect_header 'Name' 'regex' "desc"       a Name: header (any case) whose value matches
#   fire N FILE PATH BODY                     N simultaneous POSTs of BODY to PATH (public,
#                            with AUTH_TOKEN), in the background, each appending its status
#                            code to FILE; `wait` for them
#   done_testing                              prints 1..N; exits 1 if any failed, else 0
# Fault helpers:
#   pool_pid SVC N        the pool's galley-pool pid      pool_workers SVC N   its live workers
#   pool_status SVC N     the pool's status JSON (galley-pool's status socket, fcgi/pool/pool.h)
#   pools_all SVC JQ      every pool's status satisfies the jq boolean JQ
#   hold_workers SVC, release_workers   SIGSTOP every worker of SVC / SIGCONT them (at exit too)
#   pool_sum SVC FIELD    FIELD of the status summed over SVC's pools (fails if one is mute)
#   kill_worker SVC N [PID]   SIGKILL one worker (default: the first)
#   kill_pool SVC N           SIGKILL the whole pool (its process group)
#   kill_busy SVC worker|pool [TIMEOUT_S]   SIGKILL a worker, or its pool, the moment it is
#                            serving a request; prints "N PID"
#   Kill only through these (or note_kill): bin/galley test counts every other death of a
#   service process as a crash.
#   pool_full SVC N [GONE]    the pool has all its workers, GONE (a killed pid) not among them
#   svc_pools SVC, svc_workers SVC   the stack's shape
#   rcli ARGS...              redis-cli against the stack's Redis (the cache)
#   scli ARGS...              redis-cli against the store (the Redis with the event streams)
#   ready SVC CODE            GET /api/SVC/readyz (anonymous) answers CODE
#   load_start, load_seen, load_mark, load_stop, load_verify, load_announced:
#                            a steady load of placements and reads under a fault, and the
#                            counts afterwards (see "load under faults" below)

# shellcheck source=../common.sh
source "$(dirname "${BASH_SOURCE[0]}")/../common.sh"
if [[ -z ${GALLEY_URL:-} ]] && ! stack_env; then
	echo "Bail out! no GALLEY_URL and no $STACK_ENV: run bin/galley up (or bin/galley test)"
	exit 1
fi
: "${GALLEY_TOP:=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)}"

TESTS_RUN=0
TESTS_FAILED=0
STATUS=""
BODY=""
HEADERS=""
_GL_TMP="$GALLEY_RUN/tmp/e2e-$$"
mkdir -p "$_GL_TMP"

req() {
	local method=$1 path=$2 body=${3-}
	shift 2
	# A third argument that is a curl option (-H, --header, ...) starts the curl args: no body.
	if [[ $body =~ ^--?[A-Za-z] ]]; then
		body=""
	elif (($# > 0)); then
		shift
	fi
	local args=(-sS --max-time 10 -o "$_GL_TMP/body" -D "$_GL_TMP/headers" -w '%{http_code}')
	if [[ $method == HEAD ]]; then args+=(--head); else args+=(-X "$method"); fi
	# --data-binary reads the file for @path and sends anything else as is.
	[[ -n $body ]] && args+=(-H 'Content-Type: application/json' --data-binary "$body")
	[[ -n ${AUTH_TOKEN:-} ]] && args+=(-H "Authorization: Bearer $AUTH_TOKEN")
	: >"$_GL_TMP/body"
	: >"$_GL_TMP/headers"
	STATUS=$(curl "${args[@]}" "$@" "$GALLEY_URL$path" 2>"$_GL_TMP/curl.err") || true
	[[ -n $STATUS ]] || STATUS=000
	BODY=$(cat "$_GL_TMP/body")
	HEADERS=$(tr -d '\r' <"$_GL_TMP/headers")
	if [[ $STATUS == 000 ]]; then BODY="curl: $(cat "$_GL_TMP/curl.err")"; fi
	return 0
}

login() {
	local body
	TOKEN=""
	body=$(jq -cn --arg e "$1" --arg p "$2" '{email: $e, password: $p}') || return 1
	# The body on stdin, not on curl's command line: the password stays out of ps.
	AUTH_TOKEN= req POST /api/auth/login @- <<<"$body"
	[[ $STATUS == 200 ]] || return 1
	TOKEN=$(jq -r '.token // empty' 2>/dev/null <<<"$BODY") || TOKEN=""
	[[ $TOKEN =~ ^[0-9a-f]{64}$ ]] || {
		TOKEN=""
		return 1
	}
	return 0
}

level() { req GET "/api/stock/$1"; }

customer() {
	local email="$1$RANDOM$RANDOM@e2e.example"
	AUTH_TOKEN= req POST /api/auth/register "{\"email\":\"$email\",\"password\":\"password9\",\"name\":\"$1\"}"
	login "$email" password9
}

_gl_ok() {
	TESTS_RUN=$((TESTS_RUN + 1))
	echo "ok $TESTS_RUN - $1"
}

_gl_not_ok() {
	TESTS_RUN=$((TESTS_RUN + 1))
	TESTS_FAILED=$((TESTS_FAILED + 1))
	echo "not ok $TESTS_RUN - $1"
	printf '# STATUS=%s BODY=%s\n' "$STATUS" "$(printf '%s' "$BODY" | head -c 300 | tr '\n' ' ')"
}

check() {
	local desc=$1
	shift
	# The command's own output is not TAP: keep it out of the stream.
	if "$@" >/dev/null; then _gl_ok "$desc"; else _gl_not_ok "$desc"; fi
	return 0
}

expect_status() {
	check "$2" test "$STATUS" = "$1"
}

expect_json() {
	check "$2" _gl_jq "$1"
}
# `-n` and `input`: jq 1.6's -e exits 0 on an empty body, which must fail.
_gl_jq() { jq -e -n "input | ($1)" >/dev/null 2>&1 <<<"$BODY"; }

expect_error() {
	check "$3" _gl_is_error "$1" "$2"
}
_gl_is_error() {
	[[ $STATUS == "$1" ]] &&
		jq -e -n --arg c "$2" 'input | .error.code == $c and (.error.message | type == "string" and length > 0)' \
			>/dev/null 2>&1 <<<"$BODY"
}

expect_header() {
	check "$3" _gl_has_header "$1" "$2"
}
_gl_has_header() {
	local name=${1,,} line value
	while IFS= read -r line; do
		[[ ${line,,} == "$name:"* ]] || continue
		value=${line#*:}
		value=${value#"${value%%[![:space:]]*}"}
		[[ $value =~ $2 ]] && return 0
	done <<<"$HEADERS"
	return 1
}

fire() {
	local n=$1 file=$2 path=$3 body=$4 i
	for ((i = 0; i < n; i++)); do
		curl -s -o /dev/null -w '%{http_code}\n' --max-time 30 -X POST -H 'Content-Type: application/json' \
			${AUTH_TOKEN:+-H "Authorization: Bearer $AUTH_TOKEN"} --data-binary "$body" \
			"$GALLEY_URL$path" >>"$file" &
	done
}

done_testing() {
	echo "1..$TESTS_RUN"
	rm -rf "$_GL_TMP"
	((TESTS_FAILED == 0)) || exit 1
	exit 0
}

# Everything runs as the admin unless a script says otherwise.
AUTH_TOKEN=""
_gl_pw=${GALLEY_ADMIN_PASSWORD:-}
_gl_pw_file=${GALLEY_ADMIN_PASSWORD_FILE:-$GALLEY_RUN/admin-password}
if [[ -z $_gl_pw && -r $_gl_pw_file ]]; then _gl_pw=$(<"$_gl_pw_file"); fi
if ! login "${GALLEY_ADMIN_EMAIL:-admin@galley.local}" "$_gl_pw"; then
	echo "Bail out! cannot sign in as the admin"
	printf '# %s: POST /api/auth/login answered %s %s\n' "${GALLEY_ADMIN_EMAIL:-admin@galley.local}" \
		"$STATUS" "$(printf '%s' "$BODY" | head -c 200 | tr '\n' ' ')"
	[[ -n $_gl_pw ]] || echo "# no password: GALLEY_ADMIN_PASSWORD is unset and $_gl_pw_file is not readable"
	rm -rf "$_GL_TMP"
	exit 1
fi
ADMIN_TOKEN=$TOKEN
AUTH_TOKEN=$TOKEN
unset _gl_pw _gl_pw_file
STATUS="" BODY="" HEADERS=""

# ---------------------------------------------------------------- fault helpers

pool_pid() {
	cat "$GALLEY_RUN/pids/$1-$2.pid" 2>/dev/null
}

# pool_workers SVC N: the live (not zombie) children of the pool's galley-pool, one a line.
pool_workers() {
	local pid p
	pid=$(pool_pid "$1" "$2") || return 0
	for p in $(pgrep -P "$pid" 2>/dev/null); do
		[[ $(cut -d' ' -f3 "/proc/$p/stat" 2>/dev/null) == [RSD] ]] && echo "$p"
	done
	return 0
}

# note_kill PID SVC-N pool|worker: tell bin/galley test that this death is on purpose.
note_kill() {
	echo "$1 $2 $3" >>"$GALLEY_RUN/expected-kills"
}

pool_status() {
	curl -sf --max-time 2 --unix-socket "$GALLEY_RUN/sock/$1-$2.status" http://pool/
}

pool_sum() {
	local n v total=0
	for ((n = 1; n <= $(svc_pools "$1"); n++)); do
		v=$(pool_status "$1" "$n" | jq -e ".$2") || return 1
		total=$((total + v))
	done
	echo "$total"
}

# pools_all SVC JQ: every pool of SVC has a status for which the jq boolean JQ holds.
pools_all() {
	local n
	for ((n = 1; n <= $(svc_pools "$1"); n++)); do
		pool_status "$1" "$n" | jq -e "$2" >/dev/null || return 1
	done
}

# hold_workers SVC: SIGSTOP every worker of SVC (a dependency that never answers);
# release_workers: SIGCONT them, also run at exit so no test leaves them stopped.
_GL_HELD=()
hold_workers() {
	local n p
	for ((n = 1; n <= $(svc_pools "$1"); n++)); do
		for p in $(pool_workers "$1" "$n"); do _GL_HELD+=("$p"); done
	done
	trap release_workers EXIT
	kill -STOP "${_GL_HELD[@]}"
}
release_workers() {
	((${#_GL_HELD[@]} == 0)) || kill -CONT "${_GL_HELD[@]}" 2>/dev/null || true
	_GL_HELD=()
}

kill_worker() {
	local pid=${3:-}
	[[ -n $pid ]] || pid=$(pool_workers "$1" "$2" | head -n 1)
	[[ -n $pid ]] || return 1
	note_kill "$pid" "$1-$2" worker
	kill -KILL "$pid"
	echo "$pid"
}

kill_pool() {
	local pid p
	pid=$(pool_pid "$1" "$2") || return 1
	kill -0 "$pid" 2>/dev/null || return 0 # dead already (an earlier script killed it)
	for p in $(pool_workers "$1" "$2"); do note_kill "$p" "$1-$2" worker; done
	note_kill "$pid" "$1-$2" pool
	# bin/galley starts each pool with setsid: its pid is the group of galley-pool + workers.
	kill -KILL -- "-$pid"
}

# svc_pools SVC, svc_workers SVC: the stack's shape.
svc_pools() { local v="GALLEY_${1^^}_POOLS"; echo "${!v:-${GALLEY_POOLS:-2}}"; }
svc_workers() { local v="GALLEY_${1^^}_WORKERS"; echo "${!v:-${GALLEY_WORKERS:-2}}"; }

# pool_full SVC N [GONE]: the pool has its full count of workers, GONE (a killed pid) not
# among them.
pool_full() {
	local now
	now=$(pool_workers "$1" "$2")
	(($(wc -w <<<"$now") == $(svc_workers "$1"))) && ! grep -qx "${3:-0}" <<<"$now"
}

# kill_busy SVC worker|pool [TIMEOUT_S]: SIGKILL, the moment one of SVC's workers is
# serving a request (its main thread blocked in a call other than accept: waiting on
# MongoDB, on another service, for the request), that worker or its whole pool, so that
# the kill lands mid-request; prints "N PID" (the pool, the worker). Non-zero when no
# worker was busy within TIMEOUT_S seconds (default 15).
kill_busy() {
	local svc=$1 what=$2 end n p w i call group
	local -A pool_of=() group_of=()
	end=$((${EPOCHREALTIME/./} / 1000 + ${3:-15} * 1000))
	while ((${EPOCHREALTIME/./} / 1000 < end)); do
		# Who is who, asked again now and then (galley-pool replaces a worker that died).
		pool_of=() group_of=()
		for ((n = 1; n <= $(svc_pools "$svc"); n++)); do
			group_of[$n]=$(pool_pid "$svc" "$n")
			for p in $(pool_workers "$svc" "$n"); do pool_of[$p]=$n; done
		done
		# Then only builtins between seeing a worker busy and killing it.
		for ((i = 0; i < 100; i++)); do
			for p in "${!pool_of[@]}"; do
				call=""
				read -r call _ <"/proc/$p/syscall" 2>/dev/null || continue
				# 43 accept, 288 accept4 (x86-64); "running": on a CPU, maybe between two.
				[[ $call == 43 || $call == 288 || $call == running || -z $call ]] && continue
				n=${pool_of[$p]}
				group=${group_of[$n]}
				if [[ $what == pool ]]; then
					kill -KILL -- "-$group" || return 1
					note_kill "$group" "$svc-$n" pool
					for w in "${!pool_of[@]}"; do
						[[ ${pool_of[$w]} == "$n" ]] && note_kill "$w" "$svc-$n" worker
					done
				else
					kill -KILL "$p" || return 1
					note_kill "$p" "$svc-$n" worker
				fi
				echo "$n $p"
				return 0
			done
			sleep 0.01
		done
	done
	return 1
}

rcli() { _gl_cli "$GALLEY_REDIS_URL" galley-cache "$@"; }
scli() { _gl_cli "$GALLEY_STORE_URL" galley-store "$@"; }
# _gl_cli URL MASTER ARGS...: redis-cli on URL, or, on a stack with Sentinels (up --ha), on
# the primary they name MASTER now (URL's db).
_gl_cli() {
	local url=$1 m=$2 s a=""
	shift 2
	if [[ -n ${GALLEY_REDIS_SENTINELS:-} ]]; then
		a=$(sentinel_primary "$m") && url="redis://$a/${url##*/}"
	fi
	redis-cli -u "$url" --no-auth-warning "$@"
}
# sentinel_primary MASTER: host:port of MASTER's primary, from the first Sentinel that answers.
sentinel_primary() {
	local s a
	for s in ${GALLEY_REDIS_SENTINELS//,/ }; do
		a=$(redis-cli -h "${s%:*}" -p "${s##*:}" --raw SENTINEL get-master-addr-by-name "$1" 2>/dev/null | paste -sd:) || continue
		[[ $a == *:* ]] && { echo "$a"; return 0; }
	done
	return 1
}
# mongo_run SERVICE COMMAND: COMMAND (a JSON object, extended JSON inside) run on the
# database galley_SERVICE in MongoDB itself (galley-sql -p), past the service; its answer,
# and galley-sql's status.
mongo_run() {
	local d rc=0
	d=$(mktemp -d)
	mkdir -p "$d/$1"
	printf '{"commands": [%s]}\n' "$2" >"$d/$1/1.json"
	"$GALLEY_BUILD/sql/galley-sql" -p "$GALLEY_MONGO_URI" "$d" 2>/dev/null || rc=$?
	rm -rf "$d"
	return "$rc"
}
# mongo_find SERVICE COLL FILTER: the documents of galley_SERVICE.COLL that match FILTER,
# as a JSON array read from MongoDB itself, not the API.
mongo_find() { mongo_run "$1" "{\"find\": \"$2\", \"filter\": $3}" | jq -c '.cursor.firstBatch'; }
# mongo_insert SERVICE COLL DOC: DOC inserted into galley_SERVICE.COLL in MongoDB alone (a
# document from before the store, say); the answer ({n: 1, ok: 1}).
mongo_insert() { mongo_run "$1" "{\"insert\": \"$2\", \"documents\": [$3]}"; }
# ready SVC CODE: GET /api/SVC/readyz (anonymous) answers CODE.
ready() { AUTH_TOKEN= req GET "/api/$1/readyz"; [[ $STATUS == "$2" ]]; }

# ---------------------------------------------------------------- load under faults

# A steady load under a fault: one client placing orders of one unit of an item of its own,
# with a known stock, and one reading that item; every answer logged. Afterwards
# load_verify counts what must hold.
#   load_start UNITS    a new supplier and item (LOAD_ITEM) with UNITS units in stock
#                       (LOAD_UNITS), a new customer (LOAD_TOKEN) who places the orders, and
#                       both loops, in the background, until orders flow; their logs in
#                       LOAD_DIR: placed ("STATUS ORDER_ID|ERROR_CODE|- RETRY_AFTER|-" a
#                       line), reads ("STATUS" or "STATUS RETRY_AFTER" a line)
#   load_mark           how many placements have answered so far
#   load_seen CODES N [MARK]   N or more placements after the first MARK answered one of
#                       CODES (a regex of statuses: '201', '50[234]')
#   load_stop           stops both loops and prints their counts as comments
#   load_verify CODES   the checks afterwards:
#     - no 500 (placements, reads); every placement answered one of CODES
#     - every order still pending holds its unit: reserved >= their number, <= on_hand
#     - every acknowledged (201) order is there, the customer's, for one unit of the item
#     - everything settles: every order stored, acknowledged or not (a client that saw
#       502/503/504 cannot know), expires unpaid and frees its unit, and so does every
#       reservation made for an order never stored: reserved 0, on_hand UNITS, none lost
#       (GALLEY_RESERVATION_TTL: the test stack's is 20 s; by hand, start the stack with
#       it short too)
#     - every stored order was announced (order.created)
#     LOAD_ACKED, LOAD_STORED: the ids of the acknowledged and of all stored orders.
#   load_announced IDS  every order of IDS (ids, space-separated) has its order.created
#                       in galley:events:orders
_gl_load_setup() {
	LOAD_UNITS=$1
	LOAD_DIR="$_GL_TMP/load"
	mkdir -p "$LOAD_DIR"
	rm -f "$LOAD_DIR"/*
	check "an item to sell, $LOAD_UNITS in stock" stocked_item "Load pie" 400 "$LOAD_UNITS"
	LOAD_ITEM=$ITEM
	customer loader
	LOAD_TOKEN=$TOKEN
	check "a customer to order it" test -n "$LOAD_TOKEN"
}

_gl_place_loop() {
	local code ra
	while [[ ! -e $LOAD_DIR/stop ]] && kill -0 $$ 2>/dev/null; do
		code=$(curl -s -o "$LOAD_DIR/body" -w '%{http_code} %header{retry-after}' --max-time 10 -X POST \
			"$GALLEY_URL/api/orders" -H "Authorization: Bearer $LOAD_TOKEN" \
			-H 'Content-Type: application/json' \
			-d "{\"lines\":[{\"item_id\":\"$LOAD_ITEM\",\"qty\":1}]}") || true
		ra=${code#* } code=${code%% *}
		echo "${code:-000} $(jq -r '.id // .error.code // "-"' "$LOAD_DIR/body" 2>/dev/null || echo -) ${ra:--}" \
			>>"$LOAD_DIR/placed"
		sleep 0.05
	done
}

_gl_read_loop() {
	while [[ ! -e $LOAD_DIR/stop ]] && kill -0 $$ 2>/dev/null; do
		# "200", or "503 1": a refusal with its Retry-After
		curl -s -o /dev/null -w '%{http_code} %header{retry-after}\n' --max-time 10 "$GALLEY_URL/api/menu/items/$LOAD_ITEM" \
			-H "Authorization: Bearer $LOAD_TOKEN" | sed 's/ $//' >>"$LOAD_DIR/reads" || true
		sleep 0.05
	done
}

load_start() {
	_gl_load_setup "$1"
	: >"$LOAD_DIR/placed"
	: >"$LOAD_DIR/reads"
	_gl_place_loop &
	_GL_LOAD_PIDS="$!"
	_gl_read_loop &
	_GL_LOAD_PIDS+=" $!"
	# A script that ends early must not leave the loops behind (they hold its output open).
	trap '_gl_load_end' EXIT
	check "orders flow" wait_until 20 load_seen 201 5
}

_gl_load_end() {
	touch "$LOAD_DIR/stop" 2>/dev/null || true
	# shellcheck disable=SC2086
	[[ -z ${_GL_LOAD_PIDS:-} ]] || wait $_GL_LOAD_PIDS 2>/dev/null || true
	_GL_LOAD_PIDS=""
}

load_mark() { wc -l <"$LOAD_DIR/placed"; }

load_seen() {
	(($(tail -n +"$((${3:-0} + 1))" "$LOAD_DIR/placed" | grep -cE "^($1) ") >= $2))
}

load_stop() {
	_gl_load_end || true
	echo "# placements: $(cut -d' ' -f1 "$LOAD_DIR/placed" | sort | uniq -c | xargs)"
	echo "# reads: $(sort "$LOAD_DIR/reads" | uniq -c | xargs)"
}

# _gl_orders: every order of LOAD_TOKEN's customer, one JSON object a line, into FILE.
_gl_orders() {
	local after="" page
	: >"$1"
	while :; do
		AUTH_TOKEN=$LOAD_TOKEN req GET "/api/orders?limit=200${after:+&after=$after}"
		[[ $STATUS == 200 ]] || return 1
		jq -c '.items[]' <<<"$BODY" >>"$1"
		page=$(jq -r '.next // empty' <<<"$BODY")
		[[ -n $page ]] || return 0
		after=$page
	done
}

# _gl_settled: every order of the load expired unpaid and freed its unit: reserved 0.
_gl_settled() {
	_gl_orders "$LOAD_DIR/orders" || return 1
	jq -se 'all(.status == "cancelled" and .cancel_reason == "expired")' "$LOAD_DIR/orders" >/dev/null || return 1
	req GET "/api/stock/$LOAD_ITEM"
	[[ $STATUS == 200 ]] && jq -e --argjson u "$LOAD_UNITS" '.on_hand == $u and .reserved == 0' <<<"$BODY" >/dev/null
}

# load_announced IDS: every order of IDS has its order.created in galley:events:orders.
load_announced() {
	local created
	created=$(scli --raw XRANGE galley:events:orders - + | { grep -F '"type":"order.created"' || true; } |
		jq -r --arg i "$LOAD_ITEM" 'select(.data.lines[0].item_id == $i) | .data.id' | sort -u) || return 1
	comm -23 <(tr ' ' '\n' <<<"$1" | grep . | sort -u) <(echo "$created") | grep -q . && return 1
	return 0
}

load_verify() {
	local o lost=0 n holding stored
	check "no placement answered 500" bash -c "! grep -q '^500 ' '$LOAD_DIR/placed'"
	check "no read answered 500" bash -c "! grep -qx 500 '$LOAD_DIR/reads'"
	STATUS=$(cut -d' ' -f1 "$LOAD_DIR/placed" | { grep -vxE "$1" || true; } | sort | uniq -c | xargs)
	BODY=""
	check "every placement answered one of $1" test -z "$STATUS"
	# The orders, then the stock: an order pending a while longer still holds its unit then.
	holding=$(($(date +%s) + 3))
	check "the customer's orders are listed" _gl_orders "$LOAD_DIR/orders"
	holding=$(jq -s --argjson t "$holding" '[.[] | select(.status == "pending_payment" and
		(.expires_at | fromdateiso8601) > $t)] | length' "$LOAD_DIR/orders")
	req GET "/api/stock/$LOAD_ITEM"
	echo "# pending orders not about to expire: $holding; stock $BODY"
	expect_json ".reserved >= $holding and .reserved <= .on_hand and .on_hand == $LOAD_UNITS" \
		"every pending order holds its unit ($holding), none oversold"
	LOAD_ACKED=$(awk '$1 == 201 {print $2}' "$LOAD_DIR/placed" | xargs)
	n=$(wc -w <<<"$LOAD_ACKED")
	for o in $LOAD_ACKED; do
		AUTH_TOKEN=$LOAD_TOKEN req GET "/api/orders/$o"
		[[ $STATUS == 200 ]] && jq -e --arg i "$LOAD_ITEM" \
			'.lines == [.lines[0]] and .lines[0].item_id == $i and .lines[0].qty == 1' \
			<<<"$BODY" >/dev/null || lost=$((lost + 1))
	done
	STATUS="$lost of $n" BODY=""
	check "every acknowledged order is there ($n)" test "$lost" = 0
	# Then time settles the rest: every order expires unpaid (the tick finds it by the
	# "pending" due list in the store) and so does every reservation made for an order
	# never stored (the "holds" due list).
	check "everything settles: every order expired unpaid and freed its unit (none lost)" \
		wait_until $((${GALLEY_RESERVATION_TTL:-900} + 45)) _gl_settled
	LOAD_STORED=$(jq -r .id "$LOAD_DIR/orders" | xargs)
	stored=$(wc -w <<<"$LOAD_STORED")
	echo "# orders acknowledged $n, stored $stored ($((stored - n)) without a 201 to their client); stock $BODY"
	STATUS=$(comm -23 <(tr ' ' '\n' <<<"$LOAD_ACKED" | sort) <(tr ' ' '\n' <<<"$LOAD_STORED" | sort) | xargs)
	BODY=""
	check "the customer's orders include every acknowledged one" test -z "$STATUS"
	check "every stored order was announced (order.created)" wait_until 30 load_announced "$LOAD_STORED"
}
