#!/usr/bin/env bash
# tests/leaks.sh: every service's workers under valgrind's memcheck, through a workload of
# e2e scripts; what `bin/galley test` runs before its e2e stack. It builds build/ (no
# sanitizers: valgrind cannot run an ASan binary), starts a stack of its own in a temp folder
# with one pool of one worker per service, each worker run under valgrind
# (GALLEY_WORKER_WRAP), runs the scripts below against it, stops it (the workers free what
# they hold and valgrind reports as each exits) and reads valgrind's report of every worker.
# TAP on stdout: one result per script (it passes with its workers under valgrind) and one
# per service (no memory error and nothing lost, definitely, indirectly or possibly, in any
# of its workers). The stack's logs and valgrind's reports stay in the temp folder, named at
# the end.
#   usage: tests/leaks.sh [E2E_SCRIPT...]   (names in tests/e2e/, default: the list below)
#
# The scripts: every service's routes, good and bad input, the dependencies' faults (Redis
# stopped, the MongoDB-wire server killed, the provider slow or down), and workers killed
# and replaced, where an error path could leak (a killed worker writes no report; one
# killed on purpose, as tests/e2e/lib.sh records, is not counted). Left out: those that
# need a service's second pool (70-orders kills stock's only one and reads its level), test
# the bounded queue itself (57-overload) or send one worker thousands of requests, each
# 10-50x slower under valgrind (61-auth-cache's 10,000 tokens).
set -euo pipefail
# shellcheck source=../bin/galley.d/base.sh
source "$(dirname "$(readlink -f "${BASH_SOURCE[0]}")")/../bin/galley.d/base.sh"

LEAK_SCRIPTS=(05-openapi 10-suppliers 15-idempotency 20-menu 25-customers 30-cache 31-near-cache
	32-conditional 40-bad-input 41-hostile 55-redis-down 58-mongo-down 60-auth 71-order-lookups 75-events
	76-kept 80-payments 85-kitchen 88-reports 90-fulfilment)

N=0 FAILED=0
tap() { # tap OK|FAIL DESCRIPTION
	N=$((N + 1))
	if [[ $1 == OK ]]; then
		printf 'ok %d - %s\n' "$N" "$2"
	else
		FAILED=$((FAILED + 1))
		printf 'not ok %d - %s\n' "$N" "$2"
	fi
}

LEAK_RUN=""
leaks_on_exit() {
	[[ -n $LEAK_RUN ]] && GALLEY_RUN=$LEAK_RUN "$SELF" down >/dev/null 2>&1
	return 0
}

# worker_report LOG: what valgrind's LOG says, as "pid binary errors" ("-" for errors when the
# report has no summary: the worker never finished).
worker_report() {
	local pid bin errors
	pid=$(basename "$1" .log)
	bin=$(grep -m1 -oE 'Command: \S+' "$1" | cut -d' ' -f2)
	errors=$(grep -oE 'ERROR SUMMARY: [0-9]+' "$1" | grep -oE '[0-9]+$' || true)
	echo "$pid ${bin##*/} ${errors:--}"
}

# served RUN SVC: how many requests nginx sent to SVC's pool, from its access log.
served() {
	grep -c "\"upstream\":\"unix:$1/sock/$2-1.sock\"" "$1/logs/nginx-access.log" || true
}

main() {
	local scripts=("$@") s out rc svc log n bad run pid bin errors
	((${#scripts[@]} > 0)) || scripts=("${LEAK_SCRIPTS[@]}")
	for s in "${scripts[@]}"; do
		[[ -f $TOP/tests/e2e/${s%.sh}.sh ]] || die "leaks: no tests/e2e/${s%.sh}.sh"
	done
	command -v valgrind >/dev/null || die "leaks: valgrind is not installed (bin/galley up installs it)"

	# The test stack's settings are not this one's: one plain stack, no TLS, no tracing.
	unset GALLEY_MONGO_URI GALLEY_REDIS_URL GALLEY_STORE_URL GALLEY_TLS_CERT GALLEY_TLS_KEY \
		GALLEY_TLS_PORT GALLEY_POOLS_FILE GALLEY_PRIVATE_ADDR GALLEY_HA OTEL_EXPORTER_OTLP_ENDPOINT \
		OTEL_SERVICE_NAME ASAN_OPTIONS UBSAN_OPTIONS
	unset $(compgen -v | grep -E '^GALLEY_[A-Z_]+_(POOLS|WORKERS)$' || true)
	LEAK_RUN=$(mktemp -d "${TMPDIR:-/tmp}/galley-leaks.XXXXXX")
	mkdir -p "$LEAK_RUN/valgrind"
	export GALLEY_RUN=$LEAK_RUN GALLEY_BUILD=$TOP/build GALLEY_PORT=0 GALLEY_INTERNAL_PORT=0
	export GALLEY_BIND=127.0.0.1 GALLEY_POOLS=1 GALLEY_WORKERS=1 GALLEY_PAYMENTS_WORKERS=1
	export GALLEY_LOG_LEVEL=info GALLEY_NGINX_WORKERS=2
	# As bin/galley test's stack (tests/run.sh): what the scripts expect of it.
	export GALLEY_RESERVATION_TTL=20 GALLEY_KITCHEN_SECONDS_PER_ITEM=1 GALLEY_PAYMENT_TIMEOUT_MS=2000
	export GALLEY_PAYMENT_GIVE_UP_S=45
	# A worker under valgrind serves a request 10-50x slower: a write queued behind one is
	# not refused for waiting (lib/admit.h), and the workers get time to write their
	# reports when the stack stops.
	export GALLEY_QUEUE_WAIT_MS=0 GALLEY_STOP_TIMEOUT=60
	# One worker a service and nginx's budget of requests in flight is a multiple of the
	# workers (GALLEY_INFLIGHT_PER_WORKER, nginx.conf.in): at the default 8, the 20 reads
	# 30-cache sends at once, each 10-50x slower, overlapped past it and met 503.
	# The budget is what 57-overload tests, on a stack of its own; here it stays above what
	# any script sends at once.
	export GALLEY_INFLIGHT_PER_WORKER=64
	# Errors for every kind of lost block; the reachable ones (held until exit by a
	# library) are not leaks. --track-origins=yes tells where an uninitialised value came
	# from, at twice the cost: add it when looking into one.
	export GALLEY_WORKER_WRAP="$(command -v valgrind) --leak-check=full --show-leak-kinds=definite,indirect,possible --errors-for-leak-kinds=definite,indirect,possible --num-callers=30 --log-file=$LEAK_RUN/valgrind/%p.log"
	trap leaks_on_exit EXIT
	trap 'exit 130' INT TERM

	build "$TOP/build" --enable-werror >&2
	# tests/e2e/80-payments.sh checks the provider calls' shapes with this program against
	# stripe-mock (bin/galley test's e2e stack has it from make check).
	make -C "$TOP/build" tests/unit/payments/provider >"$LEAK_RUN/make-provider.out" 2>&1 ||
		die "leaks: make tests/unit/payments/provider failed ($LEAK_RUN/make-provider.out)"
	[[ -n ${GALLEY_STRIPE_MOCK:-} ]] || GALLEY_STRIPE_MOCK=$(stripe_mock_binary)
	export GALLEY_STRIPE_MOCK
	say "starting a stack with every worker under valgrind in $LEAK_RUN" >&2
	if ! "$SELF" up --no-build >"$LEAK_RUN/up.out" 2>&1; then
		cat "$LEAK_RUN/up.out" >&2
		tap FAIL "a stack with every worker under valgrind comes up (logs in $LEAK_RUN/logs)"
		printf '1..%d\n' "$N"
		return 1
	fi
	set -a
	# shellcheck disable=SC1091
	source "$LEAK_RUN/env"
	set +a
	for s in "${scripts[@]}"; do
		s=${s%.sh}
		out="$LEAK_RUN/logs/e2e-$s.log"
		rc=0
		(cd "$TOP" && timeout -k 5 300 bash "tests/e2e/$s.sh" </dev/null >"$out" 2>&1) || rc=$?
		if ((rc == 0)) && ! grep -q '^not ok' "$out"; then
			tap OK "tests/e2e/$s.sh passes with every worker under valgrind ($(grep -c '^ok' "$out") checks)"
		else
			tap FAIL "tests/e2e/$s.sh passes with every worker under valgrind (exit $rc; $out)"
			grep -A3 '^not ok\|^Bail out' "$out" | head -n 20 | sed 's/^/# /'
		fi
	done
	"$SELF" down >"$LEAK_RUN/down.out" 2>&1 || tap FAIL "bin/galley down ($LEAK_RUN/down.out)"
	run=$LEAK_RUN
	LEAK_RUN="" # down: nothing left for the exit trap to stop

	find_services
	for svc in "${SERVICES[@]}"; do
		n=0 bad=""
		for log in "$run"/valgrind/*.log; do
			[[ -e $log ]] || continue
			read -r pid bin errors < <(worker_report "$log")
			[[ $bin == "galley-$svc" ]] || continue
			# A worker a script killed on purpose (tests/e2e/lib.sh) left no summary.
			[[ $errors == - ]] && grep -q "^$pid " "$run/expected-kills" 2>/dev/null && continue
			n=$((n + 1))
			[[ $errors == 0 ]] || bad+=" $log"
		done
		if ((n > 0)) && [[ -z $bad ]]; then
			tap OK "galley-$svc under valgrind: no memory error, nothing lost ($n worker report(s), $(served "$run" "$svc") requests in nginx's access log)"
		else
			tap FAIL "galley-$svc under valgrind: no memory error, nothing lost ($n worker report(s);${bad:- none})"
			for log in $bad; do
				# A report without a summary: the worker died before valgrind could write it.
				grep -q 'ERROR SUMMARY' "$log" || echo "# $log: no summary (the worker did not exit cleanly)"
				grep -E '^==[0-9]+== ' "$log" | sed -n '/HEAP SUMMARY/q;p' | sed '1,6d' | head -n 60 | sed 's/^/# /'
				grep -E -A25 'are (definitely|indirectly|possibly) lost' "$log" | head -n 60 | sed 's/^/# /'
			done
		fi
	done
	printf '1..%d\n' "$N"
	say "valgrind's reports: $run/valgrind/; the stack's logs: $run/logs/" >&2
	((FAILED == 0))
}

case ${1:-} in
-h | --help) sed -n '2,/^set -e/{/^set -e/d;s/^# \{0,1\}//;p}' "$0" ;;
*) main "$@" ;;
esac
