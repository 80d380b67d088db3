#!/bin/sh
# galley's Prometheus config and alerting rules (docker/prometheus/), with Debian's promtool
# (the prometheus package, in bin/galley's PACKAGES). TAP, one line per check, run by make
# check: the config loads (with its rule files), the rules load, the rules' unit tests
# (alerts.test.yml) pass, and every alert has a test where it fires and one where it must
# not. Without promtool every check fails: it is a test dependency, not an option.
# By hand: cd build && srcdir=.. ../tests/unit/alerts.sh
dir=${srcdir:-.}/docker/prometheus
n=0
fail=0

check() { # check DESCRIPTION COMMAND...: one TAP line; the command's output as comments
	desc=$1
	shift
	n=$((n + 1))
	if out=$("$@" 2>&1); then
		echo "ok $n - $desc"
	else
		fail=1
		echo "not ok $n - $desc"
		printf '%s\n' "$out" | sed 's/^/#   /'
	fi
}

promtool_in_dir() { # rule_files and the test's rule_files are relative to the folder
	if ! command -v promtool >/dev/null 2>&1; then
		echo "promtool not found: install Debian's prometheus package (bin/galley's PACKAGES)"
		return 1
	fi
	(cd "$dir" && promtool "$@")
}

# Every alert of alerts.yml has a test where it fires and one where it must not fire.
every_alert_tested() {
	python3 - "$dir/alerts.yml" "$dir/alerts.test.yml" <<'EOF'
import sys
import yaml

rules = yaml.safe_load(open(sys.argv[1], encoding="utf-8"))
tests = yaml.safe_load(open(sys.argv[2], encoding="utf-8"))
alerts = [r["alert"] for g in rules["groups"] for r in g["rules"] if "alert" in r]
cases = [c for t in tests["tests"] for c in t.get("alert_rule_test", [])]
fires = {c["alertname"] for c in cases if c.get("exp_alerts")}
silent = {c["alertname"] for c in cases if not c.get("exp_alerts")}
missing = [(a, what) for a in alerts for what, seen in (("fires", fires), ("does not fire", silent)) if a not in seen]
for a, what in missing:
    print("%s: no test where it %s" % (a, what))
unknown = sorted((fires | silent) - set(alerts))
if unknown:
    print("tests of alerts alerts.yml does not have: %s" % unknown)
if not alerts:
    print("alerts.yml has no alert")
sys.exit(1 if missing or unknown or not alerts else 0)
EOF
}

check "promtool check config docker/prometheus/prometheus.yml (its rule files load)" promtool_in_dir check config prometheus.yml
check "promtool check rules docker/prometheus/alerts.yml" promtool_in_dir check rules alerts.yml
check "promtool test rules docker/prometheus/alerts.test.yml" promtool_in_dir test rules alerts.test.yml
check "every alert of alerts.yml has a test where it fires and one where it must not" every_alert_tested
echo "1..$n"
exit $fail
