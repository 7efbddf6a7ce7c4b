#!/usr/bin/env bash
# Build strand's libFuzzer targets (fuzz/*.c) with clang under ASan and
# UBSan and run each from its seed corpus (fuzz/corpus/<target>/).
#
#   scripts/fuzz.sh [TARGET...]        all targets when none is named
#   FUZZ_SECONDS=N   seconds per target (default 60)
#   FUZZ_RUNS=N      stop after N executions instead (e.g. 10000000)
#   FUZZ_BUILD=DIR   build tree (default build-fuzz/ at the top)
#
# The seed corpus is only read: what a run discovers goes to a temporary
# directory and is dropped. A finding (crash, leak, sanitizer report,
# failed check, timeout) is kept in $FUZZ_BUILD/findings/<target>/ and
# the script exits 1; replay it with `$FUZZ_BUILD/fuzz/<target> FILE`.
# Prints one line per target: executions, seconds, exec/s.
# Exits 0 (no finding), 1 (finding or build failure), 77 (no clang: skip).
set -uo pipefail
top=$(cd "$(dirname "$0")/.." && pwd)
seconds=${FUZZ_SECONDS:-60}
runs=${FUZZ_RUNS:-}
bdir=${FUZZ_BUILD:-$top/build-fuzz}
all="fuzz_batch fuzz_records_json fuzz_records_ndjson fuzz_recovery fuzz_route fuzz_client"
targets=${*:-$all}

if ! command -v clang >/dev/null 2>&1; then
	echo "fuzz: SKIP: no clang (scripts/deps.sh installs it)"
	exit 77
fi
mkdir -p "$bdir" || exit 1
if [ ! -f "$bdir/Makefile" ]; then
	[ -x "$top/configure" ] || (cd "$top" && autoreconf -fi >/dev/null 2>&1) || exit 1
	(cd "$bdir" && "$top/configure" CC=clang --enable-fuzzing >"$bdir/configure.out" 2>&1) || {
		echo "fuzz: configure failed:"; tail -n 30 "$bdir/configure.out"; exit 1; }
fi
make -C "$bdir" -j2 fuzz-targets >"$bdir/make.out" 2>&1 || {
	echo "fuzz: build failed:"; tail -n 40 "$bdir/make.out"; exit 1; }

rc=0
for t in $targets; do
	bin=$bdir/fuzz/$t
	[ -x "$bin" ] || { echo "fuzz: no target $t"; rc=1; continue; }
	work=$(mktemp -d "${TMPDIR:-/tmp}/strand-$t.XXXXXX") || exit 1
	mkdir -p "$bdir/findings/$t"
	if [ -n "$runs" ]; then limit="-runs=$runs"; else limit="-max_total_time=$seconds"; fi
	start=$(date +%s)
	"$bin" "$limit" -timeout=20 -rss_limit_mb=2048 -print_final_stats=1 \
		-artifact_prefix="$bdir/findings/$t/" "$work" "$top/fuzz/corpus/$t" \
		>"$bdir/$t.out" 2>&1
	status=$?
	took=$(( $(date +%s) - start ))
	execs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$bdir/$t.out" | tail -n 1)
	rate=$(sed -n 's/^stat::average_exec_per_sec: *//p' "$bdir/$t.out" | tail -n 1)
	rm -rf "$work"
	if [ $status -ne 0 ]; then
		echo "fuzz: $t: FINDING after ${execs:-?} executions (exit $status):"
		grep -E 'ERROR|SUMMARY|check failed|runtime error|Test unit written' "$bdir/$t.out" | head -n 20
		rc=1
	else
		echo "fuzz: $t: ${execs:-?} executions in ${took} s (${rate:-?} exec/s), no finding"
	fi
done
exit $rc
