#!/bin/sh
# test_consume.sh — `strand consume` and `strand group` against a real
# broker, fed by `strand produce`: without a group, every partition from the
# beginning (exactly N lines, each produced line once) and from the end (only
# what comes after); with a group, two runs of --count split the records
# with no line twice (the first run's commit at exit is where the second
# starts); --format json keeps keys; `strand group list|describe` show the group.
#
# Automake test: exit 0 pass, 1 fail, 77 skip. STRAND_BIN is the binary.
set -u

STRAND=${STRAND_BIN:-./strand}
[ -x "$STRAND" ] || { echo "SKIP: no strand binary at $STRAND"; exit 77; }
for tool in curl jq; do
	command -v $tool >/dev/null || { echo "SKIP: $tool not installed"; exit 77; }
done

tmp=$(mktemp -d "${TMPDIR:-/tmp}/strand-consume.XXXXXX") || exit 99
pid=""
cpid=""
cleanup() {
	[ -n "$cpid" ] && kill "$cpid" 2>/dev/null && wait "$cpid" 2>/dev/null
	[ -n "$pid" ] && kill "$pid" 2>/dev/null && wait "$pid" 2>/dev/null
	rm -rf "$tmp"
}
trap cleanup EXIT INT TERM

# shellcheck source=tests/cli/lib.sh
. "$(dirname "$0")/lib.sh"
serve_start

N=3000
"$STRAND" topic create lines --partitions 3 --config value_format=string --broker "$B" \
	2>"$tmp/create.err" || fail "topic create"
seq 1 $N | sed 's/.*/k&:line-&/' | "$STRAND" produce lines --broker "$B" --key-separator : \
	2>"$tmp/produce.err" || fail "produce"

# no group, from the beginning: exactly N lines, each produced line once
timeout 60 "$STRAND" consume lines --broker "$B" --from-beginning --count $N \
	>"$tmp/all.out" 2>"$tmp/all.err" || fail "consume --from-beginning"
expect "lines read" $N "$(wc -l <"$tmp/all.out" | tr -d ' ')"
expect "distinct lines" $N "$(sort -u "$tmp/all.out" | wc -l | tr -d ' ')"
seq 1 $N | sed 's/^/line-/' | sort >"$tmp/want"
sort "$tmp/all.out" | cmp -s - "$tmp/want" || fail "consumed lines differ from the produced ones"

# no group, from the end: only what is produced after it started
timeout 60 "$STRAND" consume lines --broker "$B" --count 1 >"$tmp/tail.out" 2>"$tmp/tail.err" &
cpid=$!
# the tail has found its end offsets once a record produced now reaches it
until_ok 30 sh -c "echo probe-\$(date +%s%N) | '$STRAND' produce lines --broker '$B' --partition 0 2>/dev/null; \
	grep -q probe '$tmp/tail.out'" || fail "consume from the end saw nothing"
wait "$cpid" || fail "consume from the end failed"
cpid=""
grep -q '^line-' "$tmp/tail.out" && fail "consume from the end printed old records"

# --format json: topic, partition, offset, key, value
timeout 60 "$STRAND" consume lines --broker "$B" --from-beginning --count 1 --format json \
	>"$tmp/json.out" 2>"$tmp/json.err" || fail "consume --format json"
key=$(jq -r .key <"$tmp/json.out")
value=$(jq -r .value <"$tmp/json.out")
expect "json key matches value" "line-${key#k}" "$value"
expect "json topic" lines "$(jq -r .topic <"$tmp/json.out")"

# a group: two runs with --count split the records, none twice
timeout 60 "$STRAND" consume lines --broker "$B" --group g1 --from-beginning --count 1000 \
	>"$tmp/g1.out" 2>"$tmp/g1.err" || fail "consume --group (first run)"
expect "first group run" 1000 "$(wc -l <"$tmp/g1.out" | tr -d ' ')"
total=$(curl -sf "$B/v1/topics/lines" | jq '[.partitions[].high_watermark] | add')
rest=$((total - 1000))
timeout 60 "$STRAND" consume lines --broker "$B" --group g1 --from-beginning --count $rest \
	>"$tmp/g2.out" 2>"$tmp/g2.err" || fail "consume --group (second run)"
expect "second group run" $rest "$(wc -l <"$tmp/g2.out" | tr -d ' ')"
expect "group runs overlap" 0 "$(sort "$tmp/g1.out" "$tmp/g2.out" | uniq -d | wc -l | tr -d ' ')"
expect "group lag after both runs" 0 "$(curl -sf "$B/v1/groups/g1" | jq .lag)"

# strand group list / describe
"$STRAND" group list --broker "$B" >"$tmp/glist.out" 2>"$tmp/glist.err" || fail "group list"
grep -q "^g1	state=Empty" "$tmp/glist.out" || fail "group list: $(cat "$tmp/glist.out")"
"$STRAND" group describe g1 --broker "$B" >"$tmp/gdesc.out" 2>"$tmp/gdesc.err" || fail "group describe"
expect "describe lag" 0 "$(jq .lag <"$tmp/gdesc.out")"
"$STRAND" group describe nosuch --broker "$B" >/dev/null 2>"$tmp/gnone.err" && fail "describe of a missing group succeeded"
"$STRAND" consume lines --broker "$B" --format xml >/dev/null 2>&1
expect "bad --format exit status" 2 $?
echo "PASS: consume (no group, group, json, from the end), group list/describe"
