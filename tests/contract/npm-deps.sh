#!/usr/bin/env bash
# Install tests/contract's npm packages (Redocly CLI, Prism, openapi-typescript,
# openapi-fetch, TypeScript) exactly as package-lock.json pins them, with
# `npm ci`. Run by scripts/deps.sh and by every contract test, so a bare
# `make check` installs them too. Idempotent: a stamp of the lock's hash
# skips the install when node_modules already matches; flock keeps parallel
# test jobs from installing at the same time. Install scripts are not run:
# none of these packages needs one (the only one, @scarf/scarf, reports
# downloads over the network).
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
command -v npm >/dev/null || { echo "npm-deps: node and npm are needed (Debian: nodejs)" >&2; exit 1; }
exec 9<"$here/package-lock.json"
flock 9
want=$(sha256sum "$here/package-lock.json" | cut -d' ' -f1)
stamp="$here/node_modules/.strand-lock-sha256"
if [ -f "$stamp" ] && [ "$(cat "$stamp")" = "$want" ]; then
	exit 0
fi
echo "npm-deps: npm ci in $here"
(cd "$here" && npm ci --no-audit --no-fund --ignore-scripts --loglevel=error)
echo "$want" >"$stamp"
