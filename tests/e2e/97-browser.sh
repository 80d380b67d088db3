#!/usr/bin/env bash
# The dashboard in a real browser: tests/browser/run.mjs drives Debian's chromium
# (headless) with playwright-core against the stack and prints TAP, with axe-core's
# accessibility check of each view; screenshots go to $GALLEY_RUN/logs/browser/
# (bin/galley test installs chromium, Node.js, playwright-core and axe-core: ensure_browser).
. "$(dirname "$0")/lib.sh"
modules=$GALLEY_TOP/tests/browser/node_modules
if [[ ! -x /usr/bin/chromium || ! -d $modules/playwright-core || ! -d $modules/axe-core ]]; then
	echo "Bail out! no chromium, playwright-core or axe-core: run bin/galley test (it installs them)"
	exit 1
fi
export GALLEY_BROWSER_OUT=$GALLEY_RUN/logs/browser
mkdir -p "$GALLEY_BROWSER_OUT"
exec node "$GALLEY_TOP/tests/browser/run.mjs"
