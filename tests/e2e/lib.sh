# tests/e2e/lib.sh: sourced by every tests/e2e/NN-<area>.sh. Curl + jq against a running
# stack, TAP output (`ok N - ...`). It sets no shell options: every helper is safe under
# `set -euo pipefail` and never fails the script by itself.
#
# Environment (bin/galley test exports it; by hand, after `bin/galley up`, lib.sh reads
# $GALLEY_RUN/env, default <repo>/.run/env):
#   GALLEY_URL, GALLEY_INTERNAL_URL   http://127.0.0.1:PORT of nginx's public / internal server
#   GALLEY_RUN    the run folder (pids/, sock/, logs/)     GALLEY_TOP    the repo root
#   GALLEY_REDIS_URL, GALLEY_MONGO_URI                      GALLEY_BUILD  the build folder used
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
# API:
#   req METHOD PATH [BODY|@FILE|@-|""] [curl args...]   sets STATUS, BODY, HEADERS (CR
#                            stripped); a body gets Content-Type: application/json; "" = no
#                            body, and so is a third argument that starts like a curl option
#                            (`req GET /x -H 'A: b'`); adds Authorization: Bearer $AUTH_TOKEN
#                            when it is non-empty
#   login EMAIL PASSWORD                      POST /api/auth/login (anonymous): sets TOKEN to
#                            the token, or "" and returns 1 on failure; STATUS, BODY as req
#   customer NAME                             register a new customer (a fresh email) and
#                            sign it in: TOKEN as login
#   check "desc" CMD ARGS...                 ok/not ok on CMD's exit status
#   expect_status CODE "desc"                 STATUS == CODE
#   expect_json 'JQ_BOOLEAN_EXPR' "desc"      jq -e on BODY
#   expect_error CODE ERROR_CODE "desc"       STATUS, .error.code, non-empty .error.message
#   expect_header 'Name' 'regex' "desc"       a Name: header (any case) whose value matches
#   wait_until TIMEOUT_S CMD ARGS...          poll CMD every 0.1 s; non-zero on timeout
#   fire N FILE PATH BODY                     N simultaneous POSTs of BODY to PATH (public,
#                            with AUTH_TOKEN), in the background, each appending its status
#                            code to FILE; `wait` for them
#   done_testing                              prints 1..N; exits 1 if any failed, else 0
# Fault helpers:
#   pool_pid SVC N        the pool's multiwatch pid       pool_workers SVC N   its live workers
#   kill_worker SVC N [PID]   SIGKILL one worker (default: the first)
#   kill_pool SVC N           SIGKILL the whole pool (its process group)
#   Kill only through these (or note_kill): bin/galley test counts every other death of a
#   service process as a crash.

if [[ -z ${GALLEY_URL:-} ]]; then
	_gl_top=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
	_gl_env="${GALLEY_RUN:-$_gl_top/.run}/env"
	if [[ ! -f $_gl_env ]]; then
		echo "Bail out! no GALLEY_URL and no $_gl_env: run bin/galley up (or bin/galley test)"
		exit 1
	fi
	set -a
	# shellcheck disable=SC1090
	source "$_gl_env"
	set +a
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
_gl_jq() { jq -e "$1" >/dev/null 2>&1 <<<"$BODY"; }

expect_error() {
	check "$3" _gl_is_error "$1" "$2"
}
_gl_is_error() {
	[[ $STATUS == "$1" ]] &&
		jq -e --arg c "$2" '.error.code == $c and (.error.message | type == "string" and length > 0)' \
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

wait_until() {
	local ms end
	ms=$(awk -v t="$1" 'BEGIN { printf "%d", t * 1000 }')
	shift
	end=$((${EPOCHREALTIME/./} / 1000 + ms))
	until "$@"; do
		((${EPOCHREALTIME/./} / 1000 < end)) || return 1
		sleep 0.1
	done
	return 0
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

# pool_workers SVC N: the live (not zombie) children of the pool's multiwatch, one a line.
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
	# bin/galley starts each pool with setsid: its pid is the group of multiwatch + workers.
	kill -KILL -- "-$pid"
}

# svc_pools SVC, svc_workers SVC: the stack's shape.
svc_pools() { local v="GALLEY_${1^^}_POOLS"; echo "${!v:-${GALLEY_POOLS:-2}}"; }
svc_workers() { local v="GALLEY_${1^^}_WORKERS"; echo "${!v:-${GALLEY_WORKERS:-2}}"; }
