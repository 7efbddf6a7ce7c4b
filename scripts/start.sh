#!/usr/bin/env bash
# Quick start: install dependencies, build an optimised strand and the
# dashboard (npm ci + bundle into build-release/www/dist) in build-release/,
# and run a single-node broker on 127.0.0.1:8080 with its data in ./data;
# open http://127.0.0.1:8080/ for the dashboard.
# Extra arguments go to `strand serve` (e.g. --listen 0.0.0.0:8080).
set -euo pipefail
top=$(cd "$(dirname "$0")/.." && pwd)
"$top/scripts/deps.sh"
cd "$top"
autoreconf -fi >/dev/null 2>&1 || autoreconf -fi
mkdir -p build-release && cd build-release
[ -f Makefile ] || ../configure CFLAGS="-O2 -g" >/dev/null
make -j"$(nproc)" >/dev/null   # all: strand and, with node and npm, www/dist
[ -f www/dist/index.html ] || echo "start: the dashboard was not built (no node/npm?): / lists the API" >&2
cd "$top"
exec ./build-release/strand serve --data-dir ./data "$@"
