#!/usr/bin/env bash
# The dashboard in a real browser: tests/browser/run.mjs drives Debian's chromium
# (headless) with playwright-core against the stack and prints TAP; screenshots go to
# $GALLEY_RUN/logs/browser/ (bin/galley test installs chromium, Node.js and
# playwright-core: ensure_browser).
. "$(dirname "$0")/lib.sh"
if [[ ! -x /usr/bin/chromium || ! -d $GALLEY_TOP/tests/browser/node_modules/playwright-core ]]; then
	echo "Bail out! no chromium or playwright-core: run bin/galley test (it installs them)"
	exit 1
fi
export GALLEY_BROWSER_OUT=$GALLEY_RUN/logs/browser
mkdir -p "$GALLEY_BROWSER_OUT"
exec node "$GALLEY_TOP/tests/browser/run.mjs"
