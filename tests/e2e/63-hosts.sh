#!/usr/bin/env bash
# Pools on other hosts (README, Pools on other hosts), with hosts simulated by network
# namespaces that this script makes (tests/e2e/hosts.sh: a bridge, veth pairs, 127.A.B.0/24
# addresses, a CPU quota each) and a stack of its own on their private address (free ports,
# in a folder of the test stack's run folder). Hosts 1-3 each run a pool of menu and of
# orders (bin/galley pool-run), added with `bin/galley scale SVC --hosts` while the local
# pools go (`scale SVC 0`); host 4 runs none. Checked: the pools file's rules (a public
# address, a duplicate, an unknown service are refused with a clear message); the internal
# listener answers the pools' hosts and refuses host 4 (403); then, under a steady load of
# placements and reads, host 2 is cut off (its veth down): placements and reads go on through
# hosts 1 and 3, nginx stops sending to host 2 (few of the requests since the cut even tried
# it), the requests that failed are at most the ones in flight (one per load loop), and
# after its veth is up again host 2 serves its share again. Afterwards every acknowledged
# order is there, listed once and announced once, the stock is exact and every order
# settles (lib.sh, load_verify); no sanitizer report in the stack's logs.
set -euo pipefail

if ((EUID != 0)); then
	echo "1..0 # SKIP needs root (ip netns, cgroups)"
	exit 0
fi
here=$(cd "$(dirname "$0")" && pwd)
# shellcheck source=tests/e2e/hosts.sh
source "$here/hosts.sh"
hosts_run=${GALLEY_RUN:-$here/../../.run}/hosts-$$
cleanup() {
	[[ $(type -t _gl_load_end) == function ]] && _gl_load_end
	hosts_cleanup
}
trap cleanup EXIT
trap 'exit 143' INT TERM

# The test stack's shape and servers are not this stack's: its own Redis, store, MongoDB,
# ports; no TLS; one local pool of each service, two workers.
for v in $(compgen -v GALLEY_); do
	case $v in
	GALLEY_*_POOLS | GALLEY_*_WORKERS | GALLEY_MONGO_URI | GALLEY_REDIS_URL | GALLEY_STORE_URL | \
		GALLEY_TLS_* | GALLEY_PAYMENT_API | GALLEY_LIVE_PORT | GALLEY_URL | GALLEY_INTERNAL_URL) unset "$v" ;;
	esac
done
hosts_make 4 || {
	echo "Bail out! could not make the hosts (ip netns, veth, cgroup v1 cpu)"
	exit 1
}
if ! hosts_stack_up "$hosts_run" GALLEY_POOLS=1 GALLEY_WORKERS=2 GALLEY_NGINX_WORKERS=2 >"$hosts_run.up.log" 2>&1; then
	echo "Bail out! the stack on $HOSTS_PRIVATE did not come up"
	sed 's/^/# /' "$hosts_run.up.log" | tail -n 20
	exit 1
fi
set -a
# shellcheck disable=SC1091
source "$hosts_run/env"
set +a
# shellcheck source=tests/e2e/lib.sh
source "$here/lib.sh"
galley() { "$GALLEY_TOP/bin/galley" "$@"; }
quiet() { "$@" >/dev/null 2>&1; }

# ---------------------------------------------------------------- the pools file's rules

bad_file() { # bad_file LINE...: up with a pools file of these lines refuses, naming it
	local f=$hosts_run/bad-pools out
	printf '%s\n' "$@" >"$f"
	out=$(GALLEY_RUN=$hosts_run/bad GALLEY_POOLS_FILE=$f galley up --no-build 2>&1) && return 1
	BODY=$out
	echo "# $out"
}
bad_file "# a comment" "menu 8.8.8.8:9000"
check "a pool on a public address is refused" grep -q 'must never be public' <<<"$BODY"
bad_file "menu ${HOST_ADDR[1]}:9000" "orders ${HOST_ADDR[1]}:9000"
check "an address listed twice is refused" grep -q 'listed twice' <<<"$BODY"
bad_file "nosuch ${HOST_ADDR[1]}:9000"
check "an unknown service is refused" grep -q "no service 'nosuch'" <<<"$BODY"
bad_file "menu ${HOST_ADDR[1]}"
check "an address without a port is refused" grep -q 'HOST:PORT' <<<"$BODY"
check "and none of them started anything" test ! -e "$hosts_run/bad/pids/nginx.pid"
check "scale --hosts refuses a public address too" bash -c "! '$GALLEY_TOP/bin/galley' scale menu --hosts 1.2.3.4:9000 2>/dev/null"

# ---------------------------------------------------------------- pools on hosts 1-3

menu_addrs="" orders_addrs=""
for i in 1 2 3; do
	check "host $i runs a menu pool (bin/galley pool-run)" host_pool "$i" menu 9000
	check "host $i runs an orders pool" host_pool "$i" orders 9010
	menu_addrs+="${menu_addrs:+,}${HOST_ADDR[i]}:9000"
	orders_addrs+="${orders_addrs:+,}${HOST_ADDR[i]}:9010"
done
check "bin/galley scale menu --hosts (3 hosts)" quiet galley scale menu --hosts "$menu_addrs"
check "bin/galley scale orders --hosts (3 hosts)" quiet galley scale orders --hosts "$orders_addrs"
check "bin/galley scale menu 0: no local menu pool" quiet galley scale menu 0
check "bin/galley scale orders 0" quiet galley scale orders 0
check "menu readyz is 200 through the hosts" ready menu 200
check "orders readyz is 200" ready orders 200
BODY=$(galley status 2>&1 || true)
check "bin/galley status lists the pools on other hosts, up" \
	test "$(grep -cE "^  (menu|orders) +127\.[0-9.]+:(9000|9010) +up" <<<"$BODY")" = 6
# GET /pools asks each remote pool's manager on the next port (its status).
BODY=$(curl -s "http://127.0.0.1:$GALLEY_INTERNAL_PORT/pools")
expect_json "[.services.menu.pools[] | select(.up and (.name | test(\"^menu/127[.0-9]+:9000$\")))] | length == 3" "GET /pools shows the 3 menu pools on other hosts, up"
expect_json ".services.orders.pools_up == 3 and .services.orders.pools_down == 0" "and the 3 orders pools (none local now)"

# The internal listener: the pools' hosts may call it, host 4 (no pool) may not.
internal() { ip netns exec "${HOST_NS[$1]}" curl -s -o /dev/null -w '%{http_code}' --max-time 5 \
	"http://$HOSTS_PRIVATE:$GALLEY_INTERNAL_PORT/metrics"; }
STATUS=$(internal 1)
check "the internal listener answers host 1 (a pools' host)" test "$STATUS" = 200
STATUS=$(internal 4)
check "and refuses host 4, not in the pools file (403)" test "$STATUS" = 403

# ---------------------------------------------------------------- host 2 cut off under load

log=$GALLEY_RUN/logs/nginx-access.log
# since LINE ADDR: lines of the access log after LINE whose final upstream is ADDR, answered 2xx.
served_by() {
	tail -n +"$(($1 + 1))" "$log" | jq -r --arg a "$2" \
		'select((.upstream | split(", ") | last) == $a and (.status | tostring | test("^2"))) | .uri' 2>/dev/null | wc -l
}
# share_of I N [LINE]: host I's menu and orders pools each answered N requests after LINE.
share_of() {
	(($(served_by "${3:-0}" "${HOST_ADDR[$1]}:9000") >= $2 && $(served_by "${3:-0}" "${HOST_ADDR[$1]}:9010") >= $2))
}
load_start 500
trap cleanup EXIT # load_start put its own in place: this one ends the load too
every_share() { share_of 1 3 && share_of 2 3 && share_of 3 3; }
check "every host serves reads and placements" wait_until 30 every_share

cut_line=$(wc -l <"$log")
cut_mark=$(load_mark)
cut_reads=$(wc -l <"$LOAD_DIR/reads")
check "host 2 is cut off (its veth down)" host_cut 2
check "orders are placed after the cut" wait_until 60 load_seen 201 15 "$cut_mark"
check "hosts 1 and 3 serve after the cut" share_of 1 5 "$cut_line"
check "host 3 too" share_of 3 5 "$cut_line"
# Every request since the cut, and those that tried host 2 (its address anywhere in the
# upstream list: a connect that timed out, then the next pool).
since=$(tail -n +"$((cut_line + 1))" "$log" | jq -c 'select(.upstream | test("900[01]"))' | wc -l)
tried=$(tail -n +"$((cut_line + 1))" "$log" | grep -cF "\"${HOST_ADDR[2]}:900" || true)
echo "# since the cut: $since requests to menu and orders, $tried of them tried host 2"
# Round robin would send it a third. One failure takes it out for fail_timeout (2 s), after
# which each nginx worker tries it once more, per upstream (menu's, orders'): at most that
# many tries over the seconds the log spans since the cut, whatever the load's rate.
span=$(tail -n +"$((cut_line + 1))" "$log" | jq -r .time | sed -n '1p;$p' | xargs -n1 date +%s -d | xargs |
	awk '{ print $2 - $1 + 1 }')
bound=$((${GALLEY_NGINX_WORKERS:-2} * 2 * (span / 2 + 1)))
STATUS="$tried of $since in ${span}s, bound $bound"
check "nginx stops sending to host 2 (a try per fail_timeout per nginx worker at most: $STATUS)" \
	test "$tried" -le "$bound" -a $((tried * 3)) -lt "$since"
failed_places=$(tail -n +"$((cut_mark + 1))" "$LOAD_DIR/placed" | { grep -vc '^201 ' || true; })
failed_reads=$(tail -n +"$((cut_reads + 1))" "$LOAD_DIR/reads" | { grep -vcx 200 || true; })
echo "# failed since the cut: $failed_places placements, $failed_reads reads"
STATUS="$failed_places placements, $failed_reads reads"
check "failed requests are only those in flight at the cut (one per load loop at most)" \
	test "$failed_places" -le 1 -a "$failed_reads" -le 1

back_line=$(wc -l <"$log")
back_mark=$(load_mark)
check "host 2's veth is up again" host_back 2
check "host 2 gets its share back (menu and orders answer from it)" wait_until 60 share_of 2 5 "$back_line"
check "orders are placed after it is back" wait_until 30 load_seen 201 10 "$back_mark"
load_stop
load_verify '201|502|503|504|000'

once_listed() { [[ -z $(jq -r .id "$LOAD_DIR/orders" | sort | uniq -d) ]]; }
check "every order is listed once" once_listed
# announced_once: each order of the load has exactly one order.created in the stream.
announced_once() {
	scli --raw XRANGE galley:events:orders - + | { grep -F '"type":"order.created"' || true; } |
		jq -r --arg i "$LOAD_ITEM" 'select(.data.lines[0].item_id == $i) | .data.id' | sort | uniq -d >"$LOAD_DIR/twice"
	[[ ! -s $LOAD_DIR/twice ]]
}
check "no order was announced twice" announced_once

# The stack's logs, its hosts' pools included, once all is stopped (a leak is reported at
# exit): no sanitizer report, no process died.
logs=$GALLEY_RUN/logs
hosts_cleanup
STATUS=$(grep -lE 'AddressSanitizer|LeakSanitizer|runtime error:|exited on signal' "$logs"/*.log 2>/dev/null | xargs || true)
check "no sanitizer report and no worker died (the stack's and the hosts' logs)" test -z "$STATUS"
done_testing
