#!/usr/bin/env bash
# The whole test suite: install dependencies, build with AddressSanitizer and
# UndefinedBehaviorSanitizer in build/, run `make check`. .ci/run runs this.
set -euo pipefail
top=$(cd "$(dirname "$0")/.." && pwd)
"$top/scripts/deps.sh"
cd "$top"
autoreconf -fi >/dev/null 2>&1 || autoreconf -fi
mkdir -p build && cd build
[ -f Makefile ] || ../configure --enable-sanitizers >/dev/null
rc=0
make -j"$(nproc)" >/dev/null && make -j"$(nproc)" check || rc=$?
# The quick start builds with -O2 (scripts/start.sh), where gcc warns about
# things the sanitizer build does not see; -Werror makes that a broken
# README, so the optimised binary must compile here too.
if [ $rc -eq 0 ]; then
	mkdir -p "$top/build-release"
	(cd "$top/build-release" && { [ -f Makefile ] || ../configure CFLAGS="-O2 -g" >/dev/null; } &&
	 make -j"$(nproc)" strand >/dev/null) || { echo "optimised build (scripts/start.sh) failed"; rc=1; }
fi
for f in $(find tests -name '*.log' 2>/dev/null | sort); do
	case "$f" in test-suite.log) continue ;; esac
	if [ $rc -ne 0 ] && grep -q '^:test-result: \(FAIL\|ERROR\)' "${f%.log}.trs" 2>/dev/null; then
		echo "==== $f"; tail -n 150 "$f"
	fi
done
# The summary line CI reads: "N passed, N failed".
if [ -f test-suite.log ]; then
	trs=$(find tests -name '*.trs')
	# shellcheck disable=SC2086
	pass=$(cat $trs | grep -c '^:test-result: PASS' || true)
	# shellcheck disable=SC2086
	fail=$(cat $trs | grep -c '^:test-result: \(FAIL\|ERROR\)' || true)
	# shellcheck disable=SC2086
	skip=$(cat $trs | grep -c '^:test-result: SKIP' || true)
	echo "suites: $pass passed, $fail failed, $skip skipped"
fi
exit $rc
