#!/usr/bin/env bash
# tests/run.sh: every test, what `bin/galley test` runs (and so CI: .ci/run). It builds
# build-asan/ (sanitizers) and runs `make check` there, runs each libFuzzer harness
# (tests/fuzz/run.sh, GALLEY_FUZZ_SECONDS in all), starts a fresh stack on free ports in a temp
# folder (bin/galley up --no-build, with Jaeger, stripe-mock and TLS of its own), runs
# tests/e2e/[0-9][0-9]-*.sh against it, stops it, and checks the logs for sanitizer reports
# and processes that died. Before that stack, it runs every service's workers under valgrind
# (tests/leaks.sh, a stack of its own). The last line is "N passed, M failed"; exits non-zero
# on any failure. GALLEY_TEST_ONLY=fuzz or =leaks runs that step alone. `bin/galley help`
# lists what else it reads and what it ignores (GALLEY_RUN, GALLEY_PORT, external servers,
# TLS settings).
#   usage: bin/galley test [--help]      (or tests/run.sh)
set -euo pipefail
# shellcheck source=../bin/galley.d/base.sh
source "$(dirname "$(readlink -f "${BASH_SOURCE[0]}")")/../bin/galley.d/base.sh"

T_PASSED=0 T_FAILED=0
t_fail() { # a step that could not run counts as one failure
	T_FAILED=$((T_FAILED + 1))
	printf 'FAIL: %s\n' "$*"
}

# count_unit_results DIR: add the tap-driver results of every .trs under DIR.
count_unit_results() {
	local pass fail skip
	pass=$(cat /dev/null $(find "$1" -name '*.trs') | grep -cE '^:test-result: (PASS|XFAIL)' || true)
	fail=$(cat /dev/null $(find "$1" -name '*.trs') | grep -cE '^:test-result: (FAIL|XPASS|ERROR)' || true)
	skip=$(cat /dev/null $(find "$1" -name '*.trs') | grep -cE '^:test-result: SKIP' || true)
	say "unit tests: $pass passed, $fail failed, $skip skipped"
	T_PASSED=$((T_PASSED + pass))
	T_FAILED=$((T_FAILED + fail))
	UNIT_FAILED=$fail
}

test_unit() {
	local dir="$TOP/build-asan"
	# A build failure stops the run: nothing after it could test the code.
	(build "$dir" --enable-sanitizers --enable-werror) || {
		t_fail "build of build-asan"
		return 1
	}
	find "$dir" -name '*.trs' -delete
	say "make check in build-asan"
	local rc=0
	make -C "$dir" -j"$(nproc)" check >"$dir/check.out" 2>&1 || rc=$?
	# Only what needs a look; every result is in build-asan/check.out and the .log files.
	grep -E '^(FAIL|XPASS|ERROR|SKIP):' "$dir/check.out" || true
	UNIT_FAILED=0
	count_unit_results "$dir"
	if ((rc != 0 && UNIT_FAILED == 0)); then
		tail -n 30 "$dir/check.out"
		t_fail "make check exited $rc without a failing test (see build-asan/check.out)"
	fi
}

# The libFuzzer harnesses, GALLEY_FUZZ_SECONDS in all (tests/fuzz/run.sh builds build-fuzz/
# with clang): one result per harness, counted as an e2e script's are.
test_fuzz() {
	local out="$TOP/build-fuzz/run.out" rc=0
	mkdir -p "$TOP/build-fuzz"
	say "fuzzing for ${GALLEY_FUZZ_SECONDS:-60}s (tests/fuzz/run.sh)"
	"$TOP/tests/fuzz/run.sh" --seconds "${GALLEY_FUZZ_SECONDS:-60}" </dev/null 2>&1 | tee "$out" ||
		rc=${PIPESTATUS[0]}
	count_tap "$out" "$rc" tests/fuzz/run.sh
}

# Every service's workers under valgrind (tests/leaks.sh, a stack of its own), counted as an
# e2e script's results are.
test_leaks() {
	local out rc=0
	out=$(mktemp "${TMPDIR:-/tmp}/galley-leaks-out.XXXXXX")
	say "every service under valgrind (tests/leaks.sh)"
	bash "$TOP/tests/leaks.sh" </dev/null 2>&1 | tee "$out" || rc=${PIPESTATUS[0]}
	count_tap "$out" "$rc" tests/leaks.sh
	rm -f "$out"
}

# count_tap OUT RC NAME: add the TAP results in OUT ("ok N", "not ok N" lines) of NAME, which
# exited RC; a failure with no failing test in OUT counts as one.
count_tap() {
	local ok notok
	ok=$(grep -cE '^ok [0-9]+' "$1" || true)
	notok=$(grep -cE '^not ok [0-9]+' "$1" || true)
	T_PASSED=$((T_PASSED + ok))
	T_FAILED=$((T_FAILED + notok))
	(($2 == 0 || notok > 0)) || t_fail "$3 exited $2 without a failing test"
}

# Workers log {"msg":"serving"} at start and {"msg":"stopping"} at a clean exit, with their
# pid. A pid that served and never stopped died abnormally, unless a test killed it on
# purpose (tests/e2e/lib.sh records those in $RUN/expected-kills).
check_crashes() {
	local run=$1 log pid bad=0 expected
	expected=$(awk '{print $1}' "$run/expected-kills" 2>/dev/null || true)
	for log in "$run"/logs/*.log; do
		[[ -e $log ]] || continue
		case ${log##*/} in nginx-access.log | live-access.log | provider-sim.log | e2e-* | down.log) continue ;; esac
		if grep -nE 'AddressSanitizer|LeakSanitizer|runtime error:' "$log" >/dev/null; then
			t_fail "sanitizer report in ${log##*/}:"
			grep -nE -A12 'AddressSanitizer|LeakSanitizer|runtime error:' "$log" | head -n 60
			bad=1
		fi
		if grep -nE 'died to often|exited on signal' "$log" >/dev/null; then
			t_fail "process died in ${log##*/}:"
			grep -nE 'died to often|exited on signal' "$log" | head -n 20
			bad=1
		fi
	done
	for log in $(for s in ${GALLEY_SERVICES:-}; do ls "$run"/logs/"$s"-*.log 2>/dev/null; done); do
		for pid in $(grep '"msg":"serving"' "$log" | grep -oE '"pid":[0-9]+' | cut -d: -f2 | sort -u); do
			# One grep: with pipefail, `grep | grep -q` fails when the first is cut short by
			# SIGPIPE (the consumer thread may log after "stopping").
			grep -qE "\"pid\":$pid[,}].*\"msg\":\"stopping\"" "$log" && continue
			grep -qx "$pid" <<<"$expected" && continue
			if grep -q "^SIGKILL $pid " "$run/logs/down.log" 2>/dev/null; then
				t_fail "worker $pid in ${log##*/} hung at shutdown: no exit ${STOP_TIMEOUT}s after SIGTERM + SIGUSR1"
				continue
			fi
			t_fail "worker $pid in ${log##*/} died without stopping cleanly (signal or crash):"
			grep -E "\"pid\":$pid[,}]" "$log" | tail -n 3
			bad=1
		done
	done
	return "$bad"
}

# restore_pools AFTER: a pool a test killed on purpose comes back so the next test has full
# capacity; a pool or server that died otherwise is a failure.
restore_pools() {
	local n
	for n in nginx "${NON_POOL_SERVERS[@]}"; do
		component_pid "$n" >/dev/null || t_fail "$n is not running after $1"
	done
	for n in $(pool_names); do
		component_pid "$n" >/dev/null && continue
		if grep -qE "^[0-9]+ $n pool\$" "$RUN/expected-kills" 2>/dev/null; then
			"$SELF" restart-pool "${n%-*}" "${n##*-}" >/dev/null ||
				t_fail "could not restart pool $n after $1"
		else
			t_fail "pool $n died during $1"
		fi
	done
}

TEST_RUN=""
test_on_exit() {
	[[ -n $TEST_RUN ]] && GALLEY_RUN=$TEST_RUN "$SELF" down >/dev/null 2>&1
	stop_jaeger
	return 0
}

# start_jaeger: Jaeger (all-in-one, spans in memory) on free loopback ports, for the test
# stack to export its spans to (OTEL_EXPORTER_OTLP_ENDPOINT) and tests/e2e/96-tracing.sh to
# read them back (GALLEY_JAEGER_URL, its query API). Not in $RUN/pids: it is not part of the
# stack `up` starts and `down` stops, but the test's, started before it and stopped after.
JAEGER_PID=""
start_jaeger() {
	local bin=$1 p ports=() args try
	for try in 1 2 3; do
		ports=()
		for p in 1 2 3 4 5 6 7 8 9 10 11 12; do pick_port && ports+=("127.0.0.1:$FREE_PORT"); done
		args=(--collector.otlp.enabled=true --collector.otlp.http.host-port="${ports[0]}"
			--collector.otlp.grpc.host-port="${ports[1]}" --query.http-server.host-port="${ports[2]}"
			--query.grpc-server.host-port="${ports[3]}" --collector.http-server.host-port="${ports[4]}"
			--collector.grpc-server.host-port="${ports[5]}" --admin.http.host-port="${ports[6]}"
			--http-server.host-port="${ports[7]}"
			--processor.jaeger-compact.server-host-port="${ports[8]}"
			--processor.jaeger-binary.server-host-port="${ports[9]}"
			--processor.zipkin-compact.server-host-port="${ports[10]}" --memory.max-traces=100000)
		SPAN_STORAGE_TYPE=memory setsid "$bin" "${args[@]}" </dev/null >>"$RUN/logs/e2e-jaeger.log" 2>&1 &
		JAEGER_PID=$!
		export GALLEY_JAEGER_URL="http://${ports[2]}"
		export OTEL_EXPORTER_OTLP_ENDPOINT="http://${ports[0]}"
		wait_for 30 jaeger_ready "${ports[0]#*:}" && return 0
		stop_jaeger
		say "Jaeger did not start (logs/e2e-jaeger.log); trying other ports"
	done
	return 1
}
jaeger_ready() {
	pid_alive "$JAEGER_PID" && port_in_use "$1" &&
		curl -s --max-time 2 "$GALLEY_JAEGER_URL/api/services" | jq -e 'has("data")' >/dev/null 2>&1
}
jaeger_gone() { ! pid_alive "$JAEGER_PID"; }
stop_jaeger() {
	[[ -n $JAEGER_PID ]] || return 0
	kill -TERM -- "-$JAEGER_PID" 2>/dev/null
	wait_for 10 jaeger_gone || kill -KILL -- "-$JAEGER_PID" 2>/dev/null
	wait "$JAEGER_PID" 2>/dev/null
	JAEGER_PID=""
	return 0
}

run_tests() {
	load_config
	unset GALLEY_MONGO_URI GALLEY_REDIS_URL GALLEY_STORE_URL
	local started=$SECONDS
	ensure_deps
	case ${GALLEY_TEST_ONLY:-} in
	fuzz | leaks)
		"test_$GALLEY_TEST_ONLY"
		printf '%d passed, %d failed\n' "$T_PASSED" "$T_FAILED"
		exit $((T_FAILED > 0))
		;;
	esac
	ensure_browser
	UNIT_FAILED=0
	if ! test_unit; then
		printf '%d passed, %d failed\n' "$T_PASSED" "$T_FAILED"
		exit 1
	fi
	test_fuzz

	# tests/e2e/80-payments.sh checks the provider calls' shapes against stripe-mock.
	GALLEY_STRIPE_MOCK=$(stripe_mock_binary) || exit 1
	export GALLEY_STRIPE_MOCK
	# tests/e2e/99-kill-audit.sh places orders at a fixed rate with vegeta.
	GALLEY_VEGETA=$(vegeta_binary) || exit 1
	export GALLEY_VEGETA
	# The stack exports its spans to Jaeger; tests/e2e/96-tracing.sh reads them back.
	local jaeger
	jaeger=$(jaeger_binary) || exit 1
	# Before the test stack's settings are exported: leaks.sh starts a stack of its own.
	test_leaks
	unset OTEL_EXPORTER_OTLP_ENDPOINT OTEL_SERVICE_NAME
	TEST_RUN=$(mktemp -d "${TMPDIR:-/tmp}/galley-test.XXXXXX")
	RUN=$TEST_RUN
	export GALLEY_RUN=$TEST_RUN GALLEY_BUILD=$TOP/build-asan GALLEY_PORT=0 GALLEY_INTERNAL_PORT=0
	export GALLEY_BIND=127.0.0.1 GALLEY_POOLS=2 GALLEY_WORKERS=2 GALLEY_LOG_LEVEL=info
	# Short reservations, so tests/e2e/35-stock.sh sees one expire.
	export GALLEY_RESERVATION_TTL=${GALLEY_RESERVATION_TTL:-20}
	# A quick kitchen and a short provider timeout, so whole orders finish within seconds.
	export GALLEY_KITCHEN_SECONDS_PER_ITEM=${GALLEY_KITCHEN_SECONDS_PER_ITEM:-1}
	export GALLEY_PAYMENT_TIMEOUT_MS=${GALLEY_PAYMENT_TIMEOUT_MS:-2000}
	# A payment the provider never answers is given up within the test (80-payments).
	export GALLEY_PAYMENT_GIVE_UP_S=${GALLEY_PAYMENT_GIVE_UP_S:-45}
	unset GALLEY_PAYMENT_KEY # the simulated provider: its outcomes are what is tested
	export GALLEY_NGINX_WORKERS=2
	# The sanitizer build serves a placement several times slower, and the e2e scripts fire
	# bursts of up to 30 writes at once at a service's 4 workers (70-orders' races): a burst
	# bound 10x the default keeps those bursts a burst (lib/admit.h; 57-overload reads it).
	export GALLEY_QUEUE_BURST_MS=${GALLEY_QUEUE_BURST_MS:-1000}
	# Sanitizer reports go to stderr, i.e. the pool logs, which are checked at the end.
	export ASAN_OPTIONS="detect_leaks=1:abort_on_error=0:handle_abort=1"
	export UBSAN_OPTIONS="print_stacktrace=1:halt_on_error=1"
	# Whatever happens below, the stack goes down.
	trap test_on_exit EXIT
	trap 'exit 130' INT TERM

	mkdir -p "$RUN/logs" "$RUN/tls"
	# TLS and HTTP/2 on a free port, with a self-signed certificate made for this run
	# (tests/e2e/43-tls.sh): the test stack is configured like an operator's with TLS.
	unset GALLEY_TLS_CERT GALLEY_TLS_KEY GALLEY_TLS_PORT
	if ! openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes -days 2 \
		-subj /CN=127.0.0.1 -addext subjectAltName=IP:127.0.0.1,DNS:localhost \
		-keyout "$RUN/tls/key.pem" -out "$RUN/tls/cert.pem" >"$RUN/logs/e2e-openssl.log" 2>&1; then
		t_fail "openssl could not make the test stack's certificate (see $RUN/logs/e2e-openssl.log)"
		printf '%d passed, %d failed\n' "$T_PASSED" "$T_FAILED"
		exit 1
	fi
	export GALLEY_TLS_CERT=$RUN/tls/cert.pem GALLEY_TLS_KEY=$RUN/tls/key.pem GALLEY_TLS_PORT=0
	if ! start_jaeger "$jaeger"; then
		t_fail "Jaeger did not start (see $RUN/logs/e2e-jaeger.log)"
		printf '%d passed, %d failed\n' "$T_PASSED" "$T_FAILED"
		exit 1
	fi
	say "Jaeger: spans to $OTEL_EXPORTER_OTLP_ENDPOINT, query API at $GALLEY_JAEGER_URL"
	say "starting the test stack in $RUN"
	if ! "$SELF" up --no-build; then
		t_fail "the test stack did not come up (logs in $RUN/logs)"
		printf '%d passed, %d failed\n' "$T_PASSED" "$T_FAILED"
		exit 1
	fi
	set -a
	# shellcheck disable=SC1091
	source "$RUN/env"
	set +a
	NON_POOL_SERVERS=()
	[[ -e $RUN/pids/mongo.pid ]] && NON_POOL_SERVERS+=(mongo)
	[[ -e $RUN/pids/redis.pid ]] && NON_POOL_SERVERS+=(redis)
	[[ -e $RUN/pids/store.pid ]] && NON_POOL_SERVERS+=(store)

	local script name out rc
	for script in "$TOP"/tests/e2e/[0-9][0-9]-*.sh; do
		[[ -e $script ]] || continue
		name=${script##*/}
		out="$RUN/logs/e2e-${name%.sh}.log"
		echo "# $name"
		rc=0
		(cd "$TOP" && timeout -k 5 300 bash "$script" </dev/null 2>&1) | tee "$out" ||
			rc=${PIPESTATUS[0]}
		count_tap "$out" "$rc" "$name"
		restore_pools "$name"
	done

	say "stopping the test stack"
	"$SELF" down || t_fail "bin/galley down"
	TEST_RUN=""
	stop_jaeger
	check_crashes "$RUN" || true
	say "logs: $RUN/logs; took $((SECONDS - started))s"
	printf '%d passed, %d failed\n' "$T_PASSED" "$T_FAILED"
	((T_FAILED == 0))
}

case ${1:-} in
"") run_tests ;;
-h | --help) sed -n '2,/^set -e/{/^set -e/d;s/^# \{0,1\}//;p}' "$0" ;;
*)
	sed -n '/^#   usage:/s/^#   //p' "$0" >&2
	exit 2
	;;
esac
