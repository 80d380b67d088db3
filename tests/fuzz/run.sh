#!/usr/bin/env bash
# tests/fuzz/run.sh: build the libFuzzer harnesses (tests/fuzz/<name>.c) in build-fuzz/ and run
# each for a bounded time over its seeds (tests/data/fuzz/<name>/). TAP: one line per harness,
# "not ok" on any crash, sanitizer report (ASan, UBSan, leaks), hang or failed invariant.
#
#   tests/fuzz/run.sh                        every harness, 60 s in all (what bin/galley test runs)
#   tests/fuzz/run.sh --seconds 600 dispatch one harness for ten minutes
#   tests/fuzz/run.sh --seconds 0            replay the seeds only (regressions), no fuzzing
#
# The corpus each run grows stays in build-fuzz/corpus/<name>/ (the next run starts from it);
# a crashing input is written to build-fuzz/crashes/<name>-crash-<sha1>, with the command that
# replays it. Nothing is written to the source tree: to keep a crash as a regression seed,
# copy it into tests/data/fuzz/<name>/ once the bug is fixed.
set -uo pipefail

TOP=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
BUILD=${GALLEY_FUZZ_BUILD:-$TOP/build-fuzz}
SECONDS_TOTAL=60
ALL=(dispatch valid doc trace idem events provider)

usage() {
	sed -n '2,14s/^# \{0,1\}//p' "${BASH_SOURCE[0]}"
	echo "harnesses: ${ALL[*]}"
}

picked=()
while (($# > 0)); do
	case $1 in
	--seconds)
		[[ ${2:-} =~ ^[0-9]+$ ]] || { usage >&2; exit 2; }
		SECONDS_TOTAL=$2
		shift 2
		;;
	-h | --help) usage; exit 0 ;;
	-*) usage >&2; exit 2 ;;
	*)
		[[ " ${ALL[*]} " == *" $1 "* ]] || { echo "no harness named $1" >&2; usage >&2; exit 2; }
		picked+=("$1")
		shift
		;;
	esac
done
((${#picked[@]} > 0)) || picked=("${ALL[@]}")

# A missing compiler is a failure, never a skip.
if ! command -v clang >/dev/null; then
	echo "Bail out! clang is missing (Debian: apt-get install clang libclang-rt-14-dev)"
	exit 1
fi
mkdir -p "$BUILD"
if ! make -C "$BUILD" -f "$TOP/tests/fuzz/Makefile" TOP="$TOP" -j"$(nproc)" "${picked[@]}" \
	>"$BUILD/make.out" 2>&1; then
	tail -n 30 "$BUILD/make.out" | sed 's/^/# /'
	echo "Bail out! the harnesses did not build (see ${BUILD#"$TOP"/}/make.out)"
	exit 1
fi

# Each harness gets an equal share of the time (at least a second unless 0: replay only).
per=$((SECONDS_TOTAL / ${#picked[@]}))
((per > 0 || SECONDS_TOTAL == 0)) || per=1
# Sanitizers: stop at the first report (the build has -fno-sanitize-recover=all), with a stack.
export ASAN_OPTIONS="detect_leaks=1:abort_on_error=0:symbolize=1"
export UBSAN_OPTIONS="print_stacktrace=1:halt_on_error=1"

n=0 failed=0
for h in "${picked[@]}"; do
	n=$((n + 1))
	seeds="$TOP/tests/data/fuzz/$h"
	corpus="$BUILD/corpus/$h"
	log="$BUILD/$h.log"
	mkdir -p "$corpus" "$BUILD/crashes"
	args=(-close_fd_mask=2 -timeout=10 -rss_limit_mb=2048 -print_final_stats=1
		-artifact_prefix="$BUILD/crashes/$h-")
	if ((per > 0)); then
		args+=(-max_total_time="$per" "$corpus" "$seeds")
	else
		args+=(-runs=0 "$seeds") # libFuzzer replays the corpus, then stops
	fi
	rc=0
	"$BUILD/$h" "${args[@]}" >"$log" 2>&1 || rc=$?
	runs=$(grep -aoE 'stat::number_of_executed_units: [0-9]+' "$log" | grep -oE '[0-9]+$' || true)
	if ((rc == 0)) && ! grep -aqE 'ERROR: (Address|Leak|Undefined)Sanitizer|runtime error:' "$log"; then
		echo "ok $n - fuzz $h: ${runs:-?} inputs in ${per}s, no crash"
		continue
	fi
	failed=$((failed + 1))
	artifact=$(grep -aoE "Test unit written to [^ ]+" "$log" | tail -n 1 | sed 's/.* //')
	echo "not ok $n - fuzz $h: exit $rc${artifact:+, input in ${artifact#"$TOP"/}}"
	grep -aE 'ERROR:|SUMMARY:|runtime error:|invariant failed|^    #[0-9]' "$log" | head -n 25 |
		sed 's/^/#   /'
	echo "#   log: ${log#"$TOP"/}${artifact:+; replay: ${BUILD#"$TOP"/}/$h ${artifact#"$TOP"/}}"
done
echo "1..$n"
((failed == 0))
