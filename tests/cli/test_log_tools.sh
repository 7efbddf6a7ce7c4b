#!/bin/sh
# test_log_tools.sh — `strand log bench`, `check` and `dump` on a real
# partition directory: bench writes one, check accepts it, dump reads back
# every offset in order; then a flipped byte inside a batch, a garbage tail
# and a torn tail must each make check fail naming the file and the byte.
#
# Automake test: exit 0 pass, 1 fail, 77 skip. STRAND_BIN is the binary.
set -u

STRAND=${STRAND_BIN:-./strand}
if [ ! -x "$STRAND" ]; then
	echo "SKIP: no strand binary at $STRAND (set STRAND_BIN)"
	exit 77
fi

tmp=$(mktemp -d "${TMPDIR:-/tmp}/strand-logtools.XXXXXX") || exit 99
trap 'rm -rf "$tmp"' EXIT INT TERM

RECORDS=20000
BATCH=1000
BATCHES=$((RECORDS / BATCH))
FIRST=00000000000000000000.log

fail() {
	echo "FAIL: $*"
	exit 1
}

# expect WHAT EXPECTED GOT
expect() {
	[ "$2" = "$3" ] || fail "$1: expected [$2], got [$3]"
}

# contains WHAT FILE STRING: FILE must hold STRING
contains() {
	grep -F -q -- "$3" "$2" || fail "$1: expected output containing [$3], got [$(cat "$2")]"
}

# The `"name":N` number of a JSON line.
json_num() {
	sed -n "s/.*\"$1\":\\([0-9-]*\\).*/\\1/p"
}

# ---- bench writes a partition directory ------------------------------------
# 1000 records of 100-byte values make batches of ~110 kB: four per
# 500000-byte segment, so the log rolls into several segments.
log="$tmp/p0"
"$STRAND" log bench "$log" --records $RECORDS --value-size 100 --batch $BATCH \
	--segment-bytes 500000 >"$tmp/bench.out" 2>"$tmp/bench.err"
rc=$?
cat "$tmp/bench.out"
expect "bench exit status (stderr: $(cat "$tmp/bench.err"))" 0 $rc
last=$(tail -n 1 "$tmp/bench.out")
echo "$last" | grep -E -q '^append: [0-9]+ records/s [0-9]+\.[0-9] MB/s; read: [0-9]+ records/s [0-9]+\.[0-9] MB/s$' ||
	fail "bench last line: expected 'append: N records/s X MB/s; read: N records/s X MB/s', got [$last]"
# segment files, and the last one (glob order is offset order: 20 digits each)
segments=0
lastseg=
for f in "$log"/*.log; do
	[ -f "$f" ] || continue
	segments=$((segments + 1))
	lastseg=${f##*/}
done
[ "$segments" -ge 3 ] || fail "bench with --segment-bytes 500000: expected several segments, got $segments ($(ls "$log"))"

# bench refuses a directory that already holds something
"$STRAND" log bench "$log" --records 10 --value-size 1 >/dev/null 2>"$tmp/err"
expect "bench into a non-empty directory: exit status" 2 $?

# ---- check accepts it -------------------------------------------------------
"$STRAND" log check "$log" >"$tmp/check.out" 2>"$tmp/check.err"
expect "check of the bench directory: exit status (stderr: $(cat "$tmp/check.err"))" 0 $?
contains "check summary" "$tmp/check.out" "$segments segments, $BATCHES batches, $RECORDS records"

# ---- dump reads every record, in offset order ------------------------------
"$STRAND" log dump "$log" >"$tmp/dump.out" 2>"$tmp/dump.err"
expect "dump exit status (stderr: $(cat "$tmp/dump.err"))" 0 $?
expect "dump line count" $RECORDS "$(wc -l <"$tmp/dump.out" | tr -d ' ')"
bad=$(json_num offset <"$tmp/dump.out" | awk '$1 != NR - 1 { print "line " NR ": offset " $1; exit }')
expect "dump offsets 0..$((RECORDS - 1)) in order (first mismatch)" "" "$bad"
bad=$(grep -v -c '^{"offset":[0-9]*,"timestamp":[0-9]*,"key":null,"value":"[a-z]\{100\}","headers":{}}$' "$tmp/dump.out")
expect "dump lines not of the form {offset,timestamp,key:null,value:100 letters,headers:{}}" 0 "$bad"
if command -v python3 >/dev/null 2>&1; then
	python3 -c 'import json, sys
for n, line in enumerate(sys.stdin, 1):
    json.loads(line)' <"$tmp/dump.out" || fail "dump output is not one JSON object per line"
fi

"$STRAND" log dump --batches "$log" >"$tmp/batches.out" 2>"$tmp/batches.err"
expect "dump --batches exit status (stderr: $(cat "$tmp/batches.err"))" 0 $?
expect "dump --batches line count" $BATCHES "$(wc -l <"$tmp/batches.out" | tr -d ' ')"
expect "dump --batches: batches with crc_valid false" 0 "$(grep -c '"crc_valid":false' "$tmp/batches.out")"
expect "dump --batches: last batch's last_offset" $((RECORDS - 1)) \
	"$(tail -n 1 "$tmp/batches.out" | json_num last_offset)"

# one segment file works too
"$STRAND" log dump "$log/$FIRST" >"$tmp/seg.out" 2>"$tmp/seg.err"
expect "dump of $FIRST: exit status (stderr: $(cat "$tmp/seg.err"))" 0 $?
expect "dump of $FIRST: first offset" 0 "$(head -n 1 "$tmp/seg.out" | json_num offset)"

# ---- a flipped byte in the records of the first segment's second batch -----
cp -R "$log" "$tmp/flip"
pos=$(sed -n 2p "$tmp/batches.out" | json_num position)
case "$pos" in
'' | *[!0-9]* | 0) fail "no position for the second batch in [$(sed -n 2p "$tmp/batches.out")]" ;;
esac
at=$((pos + 61 + 500))     # past the 61-byte header, inside the records
old=$(od -An -tu1 -j $at -N1 "$tmp/flip/$FIRST" | tr -d ' ')
if [ "$old" = 90 ]; then new=Y; else new=Z; fi
printf '%s' "$new" | dd of="$tmp/flip/$FIRST" bs=1 seek=$at conv=notrunc 2>/dev/null ||
	fail "could not write byte $at of $tmp/flip/$FIRST"
"$STRAND" log check "$tmp/flip" >"$tmp/out" 2>"$tmp/err"
rc=$?
[ $rc -eq 1 ] || fail "check after flipping byte $at: expected exit status 1, got $rc (stdout: $(cat "$tmp/out"))"
contains "check after flipping byte $at" "$tmp/err" "$FIRST: byte $pos: crc mismatch"
# dump shows the first batch, then stops at the bad one
"$STRAND" log dump "$tmp/flip" >"$tmp/out" 2>"$tmp/err"
rc=$?
[ $rc -ne 0 ] || fail "dump after flipping byte $at: expected a non-zero exit status, got 0"
expect "dump after flipping byte $at: records before the bad batch" $BATCH "$(wc -l <"$tmp/out" | tr -d ' ')"
contains "dump after flipping byte $at" "$tmp/err" "$FIRST: byte $pos:"
# --batches shows it, flagged
"$STRAND" log dump --batches "$tmp/flip" >"$tmp/out" 2>"$tmp/err"
expect "dump --batches after flipping byte $at: exit status" 0 $?
expect "dump --batches after flipping byte $at: second batch's crc_valid" '"crc_valid":false' \
	"$(sed -n 2p "$tmp/out" | grep -o '"crc_valid":[a-z]*')"

# ---- a garbage tail after the last batch ------------------------------------
cp -R "$log" "$tmp/garbage"
size=$(wc -c <"$tmp/garbage/$lastseg" | tr -d ' ')
printf 'this is not a record batch, just bytes a crash or a bad disk left behind\n' \
	>>"$tmp/garbage/$lastseg"
"$STRAND" log check "$tmp/garbage" >"$tmp/out" 2>"$tmp/err"
rc=$?
[ $rc -eq 1 ] || fail "check with a garbage tail: expected exit status 1, got $rc"
contains "check with a garbage tail" "$tmp/err" "$lastseg: byte $size:"

# ---- a torn tail: fewer bytes than a batch header ---------------------------
cp -R "$log" "$tmp/torn"
head -c 30 "$log/$FIRST" >>"$tmp/torn/$lastseg"
"$STRAND" log check "$tmp/torn" >"$tmp/out" 2>"$tmp/err"
rc=$?
[ $rc -eq 1 ] || fail "check with a torn tail: expected exit status 1, got $rc"
contains "check with a torn tail" "$tmp/err" "$lastseg: byte $size: torn tail"

# ---- a missing index is only a note ------------------------------------------
cp -R "$log" "$tmp/noindex"
rm "$tmp/noindex/${FIRST%.log}.index"
"$STRAND" log check "$tmp/noindex" >"$tmp/out" 2>"$tmp/err"
expect "check without $FIRST's .index: exit status (stderr: $(cat "$tmp/err"))" 0 $?
contains "check without $FIRST's .index" "$tmp/err" "note:"

# ---- usage errors ------------------------------------------------------------
"$STRAND" log bench "$tmp/new" --records -5 --value-size 100 >/dev/null 2>"$tmp/err"
expect "bench --records -5: exit status" 2 $?
contains "bench --records -5" "$tmp/err" "--records must be"
"$STRAND" log bench "$tmp/new" --records 10 --value-size 1x >/dev/null 2>"$tmp/err"
expect "bench --value-size 1x: exit status" 2 $?
"$STRAND" no-such-command >/dev/null 2>"$tmp/err"
expect "unknown command: exit status" 2 $?
contains "unknown command" "$tmp/err" "usage:"

echo "PASS: log bench/check/dump"
exit 0
