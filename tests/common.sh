# tests/common.sh: what tests/e2e/lib.sh and tests/bench/lib.sh share, sourced by both. It sets
# no shell options: every helper is safe under `set -euo pipefail`.
#   stack_env                 the running stack's env into the environment (exported):
#                             $GALLEY_RUN/env, else <repo>/.run/env (bin/galley up writes it);
#                             fails when there is none, STACK_ENV naming where it looked
#   now_ms                    the wall clock in milliseconds
#   wait_until TIMEOUT_S CMD ARGS...   poll CMD every 0.1 s; non-zero on timeout (TIMEOUT_S may
#                             have a fraction)
#   free_port                 prints a TCP port in 20000-32767 nothing listens on (127.0.0.1):
#                             below Linux's default ephemeral range (32768-60999), where an
#                             outgoing connection could hold it between the check and the bind
#   newid                     prints a new random id, 24 hex digits (an ObjectId's shape)
#   stocked_item NAME PRICE ON_HAND [TOKEN]   as TOKEN (an admin's; default ADMIN_TOKEN) a new
#                             supplier and a menu item of it, NAME at PRICE cents, ON_HAND in
#                             stock: ITEM is its id, SUPPLIER the supplier's; STATUS and BODY
#                             the last answer's. The item is asked for until made (an earlier
#                             fault may leave menu's circuit to suppliers open for seconds:
#                             503); fails if it never is (15 s), or a step fails
#   vegeta_path               prints the path of vegeta (the open-loop load tool): $GALLEY_VEGETA
#                             (bin/galley test sets it), else bin/galley's vegeta_binary, which
#                             installs the pinned version once (bin/galley.d/install.sh)

stack_env() {
	STACK_ENV="${GALLEY_RUN:-$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)/.run}/env"
	[[ -f $STACK_ENV ]] || return 1
	set -a
	# shellcheck disable=SC1090
	source "$STACK_ENV"
	set +a
}

now_ms() { echo $((${EPOCHREALTIME/./} / 1000)); }

wait_until() {
	local ms end
	ms=$(awk -v t="$1" 'BEGIN { printf "%d", t * 1000 }')
	shift
	end=$(($(now_ms) + ms))
	until "$@"; do
		(($(now_ms) < end)) || return 1
		sleep 0.1
	done
	return 0
}

free_port() {
	local p
	while :; do
		p=$((20000 + RANDOM % 12768))
		(exec 3<>"/dev/tcp/127.0.0.1/$p") 2>/dev/null || {
			echo "$p"
			return
		}
	done
}

newid() { head -c 12 /dev/urandom | od -An -tx1 | tr -d ' \n'; }

stocked_item() {
	local token=${4-${ADMIN_TOKEN:-}}
	ITEM="" SUPPLIER=""
	_t_call POST /api/suppliers "$token" "{\"name\":\"$1 supplier\",\"email\":\"s$RANDOM$RANDOM@supplier.example\"}"
	[[ $STATUS == 201 ]] || return 1
	SUPPLIER=$(jq -r .id <<<"$BODY")
	wait_until 15 _t_made_item "$1" "$2" "$token" || return 1
	ITEM=$(jq -r .id <<<"$BODY")
	_t_call PUT "/api/stock/$ITEM" "$token" "{\"on_hand\":$3}"
	[[ $STATUS == 200 ]]
}
_t_made_item() {
	_t_call POST /api/menu/items "$3" "{\"name\":\"$1\",\"price_cents\":$2,\"supplier_id\":\"$SUPPLIER\"}"
	[[ $STATUS == 201 ]]
}

# _t_call METHOD PATH TOKEN [BODY]: one call to the stack ($GALLEY_URL) as TOKEN (none when
# empty) with BODY as JSON: STATUS (000: no answer) and BODY, the answer's.
_t_call() {
	local out
	out=$(curl -sS --max-time 10 -X "$1" ${3:+-H "Authorization: Bearer $3"} \
		${4:+-H 'Content-Type: application/json' --data-binary "$4"} -w '\n%{http_code}' "$GALLEY_URL$2" 2>/dev/null) || true
	STATUS=${out##*$'\n'} BODY=${out%$'\n'*}
	[[ -n $STATUS ]] || STATUS=000
}

vegeta_path() {
	if [[ -x ${GALLEY_VEGETA:-} ]]; then
		echo "$GALLEY_VEGETA"
		return 0
	fi
	# In a shell of its own: bin/galley's parts set their own globals and exit on failure.
	bash -c 'set -euo pipefail; source "$1/bin/galley.d/base.sh"; vegeta_binary' _ \
		"$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
}
