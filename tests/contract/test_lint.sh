#!/usr/bin/env bash
# openapi.yaml passes Redocly CLI's lint under the ruleset in redocly.yaml
# with no error and no warning (issue #7, item 1). The ruleset demands,
# among others, an example on every request and response body, valid
# examples, 401/403 on every operation that needs a token, and problem+json
# on every error answer.
set -euo pipefail
top=$(cd "$(dirname "$0")/../.." && pwd)
"$top/tests/contract/npm-deps.sh"
export REDOCLY_TELEMETRY=off REDOCLY_SUPPRESS_UPDATE_NOTICE=true NO_COLOR=1
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
cd "$top"
rc=0
tests/contract/node_modules/.bin/redocly lint openapi.yaml --config redocly.yaml \
	--format=json >"$tmp/lint.json" 2>"$tmp/lint.err" || rc=$?
# Redocly exits 0 on warnings: count both from its report.
totals=$(node -e '
const r = JSON.parse(require("fs").readFileSync(process.argv[1], "utf8"));
console.log(r.totals.errors + " " + r.totals.warnings);
for (const p of r.problems)
  console.error(`${p.severity}: ${p.ruleId}: ${p.message} at ${p.location.map(l => l.pointer).join(", ")}`);
' "$tmp/lint.json") || { echo "lint: no report"; cat "$tmp/lint.err"; exit 1; }
read -r errors warnings <<<"$totals"
echo "redocly lint openapi.yaml: $errors errors, $warnings warnings (exit $rc)"
if [ "$rc" -ne 0 ] || [ "$errors" -ne 0 ] || [ "$warnings" -ne 0 ]; then
	tests/contract/node_modules/.bin/redocly lint openapi.yaml --config redocly.yaml --format=stylish 2>&1 | tail -n 80
	exit 1
fi
