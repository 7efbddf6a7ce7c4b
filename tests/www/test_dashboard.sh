#!/bin/sh
# test_dashboard.sh — the dashboard's browser tests (dashboard.test.mjs,
# node's test runner): Debian's chromium driven by npm's playwright-core
# against real brokers the test starts on run-time ports. make check runs
# it from the build directory; screenshots go to tests/www/screenshots/
# there. Without chromium, node or the built dashboard it skips (77), except
# under CI, where a missing piece is a hard error (99): scripts/deps.sh and
# `make` provide all three.
set -u
here=$(cd "$(dirname "$0")" && pwd)
top=$(cd "$here/../.." && pwd)
missing() {
	echo "test_dashboard: $1"
	if [ "${CI:-}" = true ]; then exit 99; fi
	exit 77
}
CHROMIUM=${CHROMIUM:-$(command -v chromium || true)}
[ -n "$CHROMIUM" ] || missing "no chromium (scripts/deps.sh installs it)"
command -v node >/dev/null 2>&1 || missing "no node (scripts/deps.sh installs it)"
PLAYWRIGHT_CORE="$top/www/node_modules/playwright-core"
[ -d "$PLAYWRIGHT_CORE" ] || missing "no $PLAYWRIGHT_CORE (make runs npm ci in www/)"
WWW_DIST=${WWW_DIST:-$PWD/www/dist}
[ -f "$WWW_DIST/index.html" ] || missing "no built dashboard in $WWW_DIST (make www)"
STRAND_BIN=${STRAND_BIN:-$PWD/strand}
SCREENSHOT_DIR=${SCREENSHOT_DIR:-$PWD/tests/www/screenshots}
export CHROMIUM PLAYWRIGHT_CORE WWW_DIST STRAND_BIN SCREENSHOT_DIR
exec node --test --test-reporter=spec "$here/dashboard.test.mjs"
