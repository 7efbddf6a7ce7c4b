#!/usr/bin/env bash
# The HTTP integration suite again, through Prism's validating proxy
# (`prism proxy openapi.yaml <server> --errors`; issue #7 item 2). Each test
# binary's harness puts a proxy in front of every broker it starts
# (tests/api/harness.c, contract mode) and records what it saw in one log:
#   VALIDATED  the answer went through the proxy and matched the spec
#   REFUSED    the spec refuses the request, and so did the server
#   DIRECT     Prism cannot carry it intact: sent to the server, with the reason
#   VIOLATION  the server and the spec disagree (either direction)
# Fails on any VIOLATION or any failing test. tests/contract/README.md lists
# the suites left out and why.
set -euo pipefail
top=$(cd "$(dirname "$0")/../.." && pwd)
builddir=$(dirname "${STRAND_BIN:-./strand}")
"$top/tests/contract/npm-deps.sh"
export STRAND_CONTRACT_PRISM="$top/tests/contract/node_modules/.bin/prism"
export STRAND_CONTRACT_SPEC="$top/openapi.yaml"
# kept in the build tree for a look after the run
mkdir -p "$builddir/tests/contract"
export STRAND_CONTRACT_LOG="$builddir/tests/contract/contract.log"
: >"$STRAND_CONTRACT_LOG"

# The suites whose requests go through tests/api/harness.c's http_request.
suites="test_http_topics test_http_records test_http_groups test_auth test_static test_crash test_disk_full"
failed=""
for t in $suites; do
	bin="$builddir/tests/api/$t"
	[ -x "$bin" ] || { echo "contract: $bin is not built"; exit 99; }
	rc=0
	echo "==== $t (through the proxy)"
	# test_crash: 3 kill -9 rounds, not 20: each restart also restarts Prism
	# (seconds), and every kind of request it makes is in the first rounds
	STRAND_CRASH_ITERATIONS=3 "$bin" || rc=$?
	if [ "$rc" -eq 77 ]; then
		echo "contract: $t skipped itself (exit 77)"
	elif [ "$rc" -ne 0 ]; then
		failed="$failed $t"
	fi
done

log="$STRAND_CONTRACT_LOG"
count() { grep -c "^$1 " "$log" || true; }
echo "==== contract summary"
echo "validated by the proxy: $(count VALIDATED)"
echo "refused by spec and server alike: $(count REFUSED)"
echo "sent direct (Prism cannot carry them intact): $(count DIRECT)"
grep '^DIRECT ' "$log" | sed 's/^DIRECT [A-Z]* [^:]*: //' | sort | uniq -c | sort -rn || true
violations=$(count VIOLATION)
echo "violations: $violations"
if [ "$violations" -ne 0 ]; then
	grep '^VIOLATION ' "$log" | head -n 100
fi
if [ "$(count VALIDATED)" -eq 0 ]; then
	echo "contract: nothing went through the proxy"
	exit 1
fi
if [ -n "$failed" ] || [ "$violations" -ne 0 ]; then
	echo "contract: FAILED${failed:+ (suites:$failed)}"
	exit 1
fi
