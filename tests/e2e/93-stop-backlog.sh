#!/usr/bin/env bash
# A stop does not wait for a backlog (lib/stop.h). Hundreds of unpaid orders expire at
# once: the orders tick cancels them from its due list, stock's reaper frees their
# reservations and announces reservation.expired, which every orders process consumes.
# While that backlog is being worked off, the orders and stock pools are stopped and
# started again (bin/galley scale): each stop ends within GALLEY_STOP_TIMEOUT (a short one),
# with no SIGKILL, and the backlog is still finished afterwards: every order cancelled as expired,
# every unit free again. Leaves the stack's shape as it found it.
. "$(dirname "$0")/lib.sh"

if ((${GALLEY_RESERVATION_TTL:-900} > 40)); then
	echo "Bail out! this script needs a stack with GALLEY_RESERVATION_TTL <= 40 (bin/galley test uses 20)"
	exit 1
fi
N=${GALLEY_BACKLOG_ORDERS:-400}
# A stop waits for the request and the one item in hand, well under a second; a batch of
# the backlog (50 due orders, or 50 events, at a few hundred ms each under load) would not
# fit. So the stops here get a bound a little above the first and far below the second.
STOP_S=4

_gl_load_setup "$N"
tmp=$_GL_TMP/backlog
mkdir -p "$tmp"

# N one-unit orders, 4 at a time, none ever paid.
place_one() {
	curl -s -o /dev/null -w '%{http_code}\n' --max-time 20 -X POST "$GALLEY_URL/api/orders" \
		-H "Authorization: Bearer $LOAD_TOKEN" -H 'Content-Type: application/json' \
		-d "{\"lines\":[{\"item_id\":\"$LOAD_ITEM\",\"qty\":1}]}"
}
export -f place_one
export GALLEY_URL LOAD_TOKEN LOAD_ITEM
seq "$N" | xargs -P 4 -I{} bash -c place_one >"$tmp/placed"
STATUS=$(sort "$tmp/placed" | uniq -c | xargs) BODY=""
# On a busy machine a few may time out (504): stored or not, _gl_settled accounts for them.
check "unpaid orders placed: at least $((N * 3 / 4)) of $N, none answered 500" \
	bash -c "(( \$(grep -cx 201 '$tmp/placed') >= $((N * 3 / 4)) )) && ! grep -qx 500 '$tmp/placed'"

# The backlog is being worked: some orders are cancelled already, most are not yet.
count() { jq -s --arg s "$1" '[.[] | select(.status == $s)] | length' "$tmp/orders"; }
working() {
	_gl_orders "$tmp/orders" || return 1
	(($(count cancelled) > 0))
}
check "their time comes: the first are cancelled" \
	wait_until $((${GALLEY_RESERVATION_TTL:-900} + 30)) working
left=$(count pending_payment)
echo "# backlog when the stops begin: $left of $N orders still to cancel"
check "a backlog is left to stop in the middle of (>= $((N / 4)))" test "$left" -ge $((N / 4))

sigkills() { grep -c '^SIGKILL ' "$GALLEY_RUN/logs/down.log" 2>/dev/null || true; }
before=$(sigkills)
stops() { # SVC all|one: a pool added and removed; all: then every pool restarted, twice
	local svc=$1 pools workers t shapes
	pools=$(svc_pools "$svc")
	workers=$(svc_workers "$svc")
	shapes=("$((pools + 1)) $workers" "$pools $workers")
	[[ $2 == all ]] && shapes+=("$pools 1" "$pools $workers")
	for shape in "${shapes[@]}"; do
		t=$SECONDS
		# shellcheck disable=SC2086
		GALLEY_STOP_TIMEOUT=$STOP_S "$GALLEY_TOP/bin/galley" scale "$svc" $shape >>"$tmp/scale.log" 2>&1 || return 1
		echo "# scale $svc $shape: $((SECONDS - t)) s" >>"$tmp/times"
	done
}
check "orders: a pool added and removed, every pool restarted twice" stops orders all
check "stock: a pool added and removed" stops stock one
cat "$tmp/times"
STATUS="$(($(sigkills) - before)) SIGKILLs: $(tail -n +"$((before + 1))" "$GALLEY_RUN/logs/down.log" 2>/dev/null | xargs)"
BODY=""
check "every stop ended within GALLEY_STOP_TIMEOUT ($STOP_S s), no SIGKILL" \
	test "$(sigkills)" = "$before"
check "the shape is as it was" bash -c "[[ \$(grep -c . <(ls '$GALLEY_RUN'/pids/orders-*.pid)) == $(svc_pools orders) ]]"

# What the stopped processes left is done by the others: every order expired, every unit free.
check "the backlog is finished: every order cancelled as expired, every unit free" \
	wait_until 180 _gl_settled
req GET "/api/stock/$LOAD_ITEM"
echo "# stock afterwards: $BODY"
done_testing
