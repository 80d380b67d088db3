#!/usr/bin/env bash
# What does a /metrics scrape cost, and does it grow with what the store holds (issue 13, "flat
# with data")? In one run: S scrapes on the stack as it is, then S more with N keys added to the
# store (a day of a store at 100 orders a second holds tens of millions), then the keys removed.
# Each phase: the mean time a scrape takes, the store's CPU a scrape (/proc) and its commands a
# scrape (INFO commandstats), SCANs named apart. A Prometheus scrapes every 15 s or so.
#
# usage: bin/galley up; tests/bench/metrics.sh [keys] [scrapes]
set -euo pipefail
top=$(cd "$(dirname "$0")/../.." && pwd)
keys=${1:-1000000}
scrapes=${2:-20}

. "$top/tests/bench/lib.sh"
bench_stack metrics.sh
store_pid=$(cat "$GALLEY_RUN/pids/store.pid")
# The store's CPU so far, in ms; its commands so far (all, and SCANs).
store_ms() { awk -v hz="$(getconf CLK_TCK)" '{ print int(($14 + $15) * 1000 / hz) }' "/proc/$store_pid/stat"; }
calls() { bench_store INFO commandstats | awk -F'[=,:]' -v c="${1:-}" '
	/^cmdstat_/ && (c == "" || $1 == "cmdstat_" c) { n += $3 } END { print n + 0 }'; }

# phase NAME: S scrapes one after another, and what they cost.
phase() {
	local secs=0 t ms0 ms1 all0 all1 scan0 scan1 i
	ms0=$(store_ms) all0=$(calls) scan0=$(calls scan)
	for ((i = 0; i < scrapes; i++)); do
		# curl's own time for the request, not the time to start curl (~20 ms here).
		t=$(curl -sf -o /dev/null -w '%{time_total}' "$GALLEY_INTERNAL_URL/metrics") ||
			{ echo "metrics.sh: a scrape failed" >&2; exit 1; }
		secs=$(echo "$secs + $t" | bc -l)
	done
	ms1=$(store_ms) all1=$(calls) scan1=$(calls scan)
	# The two INFO calls of each reading count themselves: 2 a reading, not the scrape's.
	printf '| %-26s | %9s | %8.1f ms | %8.2f ms | %9.1f | %7.1f |\n' "$1" "$(bench_store DBSIZE)" \
		"$(echo "$secs * 1000 / $scrapes" | bc -l)" "$(echo "($ms1 - $ms0) / $scrapes" | bc -l)" \
		"$(echo "($all1 - $all0 - 2) / $scrapes" | bc -l)" "$(echo "($scan1 - $scan0) / $scrapes" | bc -l)"
}

# fill OP: OP (SET or UNLINK) on galley:bench:fill:1..N, 50,000 a script, so that no script
# holds the store for long.
fill() {
	local from
	for ((from = 1; from <= keys; from += 50000)); do
		bench_store EVAL "for i = tonumber(ARGV[2]), math.min(tonumber(ARGV[3]), tonumber(ARGV[2]) + 49999) do
			if ARGV[1] == 'SET' then redis.call('SET', 'galley:bench:fill:' .. i, 'x')
			else redis.call('UNLINK', 'galley:bench:fill:' .. i) end end" 0 "$1" "$from" "$keys" >/dev/null
	done
}
bench_tmp
trap 'fill UNLINK; bench_cleanup' EXIT

echo "| the store holds            |      keys |   a scrape  | store CPU a scrape | store commands a scrape | of them SCAN |"
echo "|----------------------------|----------:|------------:|------------:|----------:|--------:|"
phase "what the stack holds"
fill SET
phase "$keys keys more"
