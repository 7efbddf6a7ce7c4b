#!/bin/sh
# test_bench.sh — a smoke test of `strand bench`: against a real broker on a
# free port, tiny runs of produce (JSON, binary, acks=all), consume (JSON,
# binary) and e2e must finish, count exactly the records moved and report
# sane non-zero rates and latencies. No timing is asserted (a loaded
# machine must not fail it); `make bench` is where speed is measured.
# With etcd, `--leaders` is run against `strand cluster up --brokers 3`, and
# one trial of `strand bench failover`.
#
# Automake test: exit 0 pass, 1 fail, 77 skip, 99 hard error.
set -u

STRAND=${STRAND_BIN:-./strand}
if [ ! -x "$STRAND" ]; then
	echo "SKIP: no strand binary at $STRAND (set STRAND_BIN)"
	exit 77
fi

tmp=$(mktemp -d "${TMPDIR:-/tmp}/strand-bench-test.XXXXXX") || exit 99
pid=
cleanup() {
	[ -n "$pid" ] && kill "$pid" 2>/dev/null && wait "$pid" 2>/dev/null
	[ -d "$tmp/cluster" ] && "$STRAND" cluster down --dir "$tmp/cluster" >/dev/null 2>&1
	rm -rf "$tmp"
}
trap cleanup EXIT INT TERM

fail() {
	echo "FAIL: $*"
	[ -f "$tmp/serve.log" ] && { echo "---- broker log"; cat "$tmp/serve.log"; }
	exit 1
}

"$STRAND" serve --listen 127.0.0.1:0 --port-file "$tmp/port" --data-dir "$tmp/data" \
	2>"$tmp/serve.log" &
pid=$!
i=0
while [ ! -s "$tmp/port" ]; do
	i=$((i + 1))
	[ $i -le 400 ] || fail "the broker did not write its port file within 20 s"
	kill -0 "$pid" 2>/dev/null || fail "the broker exited at start"
	sleep 0.05
done
URL=http://127.0.0.1:$(cat "$tmp/port")

# kv KEY LINE: the value of KEY in a --kv summary line
kv() {
	echo "$2" | tr ' ' '\n' | sed -n "s/^$1=//p"
}

# run NAME EXPECTED_RECORDS ARGS...: run strand bench --kv, check the summary
run() {
	name=$1 want=$2
	shift 2
	out=$("$STRAND" bench "$@" --url "$URL" --kv --quiet 2>"$tmp/err") ||
		fail "$name: exit status $? (stderr: $(cat "$tmp/err"); stdout: $out)"
	echo "$name: $out"
	[ "$(kv errors "$out")" = 0 ] || fail "$name: expected errors=0 in [$out]"
	if [ "$want" != any ]; then
		[ "$(kv records "$out")" = "$want" ] || fail "$name: expected records=$want in [$out]"
	fi
	for k in records records_per_s mb_per_s p50_ms p99_ms p999_ms; do
		v=$(kv $k "$out")
		awk -v v="$v" 'BEGIN { exit !(v + 0 > 0) }' ||
			fail "$name: expected $k > 0, got [$v] in [$out]"
	done
	awk -v a="$(kv p50_ms "$out")" -v b="$(kv p99_ms "$out")" -v c="$(kv p999_ms "$out")" \
		-v m="$(kv max_ms "$out")" 'BEGIN { exit !(a <= b && b <= c && c <= m) }' ||
		fail "$name: expected p50 <= p99 <= p99.9 <= max in [$out]"
}

run "produce json" 3000 produce --topic t --create --partitions 2 --records 3000 \
	--batch 100 --connections 3
run "produce binary" 2000 produce --topic t --format binary --records 2000 --batch 50 \
	--record-size 40
run "produce acks=all" 500 produce --topic t --records 500 --batch 10 --acks all \
	--connections 8
run "consume json" 5500 consume --topic t --batch 300 --connections 2
run "consume binary" 5500 consume --topic t --format binary --fetch-bytes 20000
run "e2e" any e2e --topic e --create --partitions 2 --rate 2000 --duration 1 --batch 5

# bad usage is refused with status 2
"$STRAND" bench produce --acks 2 >/dev/null 2>&1
[ $? -eq 2 ] || fail "bench --acks 2: expected exit status 2"
"$STRAND" bench nosuchmode >/dev/null 2>&1
[ $? -eq 2 ] || fail "bench nosuchmode: expected exit status 2"
"$STRAND" bench failover --trials 0 >/dev/null 2>&1
[ $? -eq 2 ] || fail "bench failover --trials 0: expected exit status 2"
# an unknown topic without --create fails cleanly
"$STRAND" bench produce --url "$URL" --topic nope --records 10 --quiet >/dev/null 2>"$tmp/err" &&
	fail "produce to an unknown topic: expected a failure"
grep -q "use --create" "$tmp/err" || fail "unknown topic: expected a hint, got [$(cat "$tmp/err")]"
# --leaders in a real cluster (`strand cluster up`: etcd and three brokers):
# every request goes to its partition's leader with Strand-Route: direct, so a
# wrong route would be a 421 and count as an error
if command -v etcd >/dev/null 2>&1; then
	kill "$pid" 2>/dev/null && wait "$pid" 2>/dev/null
	pid=
	"$STRAND" cluster up --brokers 3 --dir "$tmp/cluster" >"$tmp/cluster.txt" 2>"$tmp/err" ||
		fail "strand cluster up: $(cat "$tmp/err")"
	URL=$(awk '$1 == "broker" && $2 == 1 {print $3}' "$tmp/cluster.txt")
	run "cluster produce --leaders" 3000 produce --topic c --create --partitions 3 \
		--records 3000 --batch 100 --acks all --leaders
	run "cluster consume --leaders" 3000 consume --topic c --leaders
	"$STRAND" cluster down --dir "$tmp/cluster" >/dev/null
	# one failover trial: a leader killed, a write acknowledged again, the
	# broker back in the ISR; the summary names what happened (no timing
	# asserted beyond "some", a loaded machine must not fail it)
	out=$("$STRAND" bench failover --trials 1 --dir "$tmp/failover" --kv 2>"$tmp/err") ||
		fail "bench failover: exit status $? (stderr: $(cat "$tmp/err"); stdout: $out)"
	echo "$out"
	echo "$out" | grep -q '^trial  1: killed broker [1-3] (leader' ||
		fail "bench failover: no trial line in [$out]"
	last=$(echo "$out" | tail -n 1)
	[ "$(kv trials "$last")" = 1 ] || fail "bench failover: expected trials=1 in [$last]"
	[ "$(kv failed "$last")" = 0 ] || fail "bench failover: expected failed=0 in [$last]"
	for k in failover_median_ms acked; do
		awk -v v="$(kv $k "$last")" 'BEGIN { exit !(v + 0 > 0) }' ||
			fail "bench failover: expected $k > 0 in [$last]"
	done
else
	echo "no etcd: the --leaders cluster case is skipped"
fi
echo "PASS"
exit 0
