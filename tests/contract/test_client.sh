#!/usr/bin/env bash
# A TypeScript client generated from openapi.yaml drives a live broker end to
# end (issue #7, item 3): openapi-typescript writes the types into gen/ (never
# committed: generated anew on every run), tsc type-checks the scenario
# (client/*.mts) against them and compiles it, and Node's test runner runs it
# against a broker it starts itself ($STRAND_BIN, port 0, temp data).
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
top=$(cd "$here/../.." && pwd)
export STRAND_BIN=${STRAND_BIN:-$PWD/strand}
"$here/npm-deps.sh"
bin="$here/node_modules/.bin"
rm -rf "$here/gen"
mkdir -p "$here/gen"
# --default-non-nullable false: a member with a default is optional to send
"$bin/openapi-typescript" "$top/openapi.yaml" --default-non-nullable false \
	-o "$here/gen/strand.d.ts"
"$bin/tsc" -p "$here/client/tsconfig.json"
node --test "$here/gen/out/client/"
