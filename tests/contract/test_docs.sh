#!/bin/sh
# test_docs.sh — /docs renders the API reference in Debian's chromium
# (docs.test.mjs, node's test runner; playwright-core from www/node_modules,
# as the dashboard's browser tests use it) against a broker it starts on a
# run-time port. Screenshots go to tests/contract/screenshots/ of the build
# tree. Without chromium, node, playwright-core or the built page it skips
# (77), except under CI, where a missing piece is a hard error (99):
# scripts/deps.sh and `make` provide them all.
set -u
here=$(cd "$(dirname "$0")" && pwd)
top=$(cd "$here/../.." && pwd)
missing() {
	echo "test_docs: $1"
	if [ "${CI:-}" = true ]; then exit 99; fi
	exit 77
}
CHROMIUM=${CHROMIUM:-$(command -v chromium || true)}
[ -n "$CHROMIUM" ] || missing "no chromium (scripts/deps.sh installs it)"
command -v node >/dev/null 2>&1 || missing "no node (scripts/deps.sh installs it)"
PLAYWRIGHT_CORE="$top/www/node_modules/playwright-core"
[ -d "$PLAYWRIGHT_CORE" ] || missing "no $PLAYWRIGHT_CORE (make runs npm ci in www/)"
[ -f "$PWD/apiref/dist/index.html" ] || missing "no built reference page in $PWD/apiref/dist (make apiref)"
STRAND_BIN=${STRAND_BIN:-$PWD/strand}
SPEC="$top/openapi.yaml"
SCREENSHOT_DIR=${SCREENSHOT_DIR:-$PWD/tests/contract/screenshots}
export CHROMIUM PLAYWRIGHT_CORE STRAND_BIN SPEC SCREENSHOT_DIR
exec node --test "$here/docs.test.mjs"
