#!/bin/sh
# test_client_cli.sh — the libstrand subcommands against a real broker:
# `strand topic create|list|describe|delete`, `strand produce` (stdin lines,
# keys split at --key-separator, --partition, --acks 0), and the dead-letter
# path: records the broker refuses for good (RECORD_TOO_LARGE) are written to
# dead.letter.path, and `strand replay` delivers them once the topic allows them.
#
# Automake test: exit 0 pass, 1 fail, 77 skip. STRAND_BIN is the binary.
set -u

STRAND=${STRAND_BIN:-./strand}
[ -x "$STRAND" ] || { echo "SKIP: no strand binary at $STRAND"; exit 77; }
for tool in curl jq; do
	command -v $tool >/dev/null || { echo "SKIP: $tool not installed"; exit 77; }
done

tmp=$(mktemp -d "${TMPDIR:-/tmp}/strand-clientcli.XXXXXX") || exit 99
pid=""
cleanup() {
	[ -n "$pid" ] && kill "$pid" 2>/dev/null && wait "$pid" 2>/dev/null
	rm -rf "$tmp"
}
trap cleanup EXIT INT TERM

# shellcheck source=tests/cli/lib.sh
. "$(dirname "$0")/lib.sh"
hw() {  # hw TOPIC PARTITION
	curl -sf "$B/v1/topics/$1" | jq ".partitions[$2].high_watermark"
}

serve_start

# ---- topic ----
"$STRAND" topic create orders --partitions 3 --config key_format=string --config value_format=string \
	--broker "$B" 2>"$tmp/create.err" ||
	fail "topic create"
"$STRAND" topic create orders --broker "$B" 2>"$tmp/exists.err" && fail "second create succeeded"
grep -q TOPIC_EXISTS "$tmp/exists.err" || fail "second create: no TOPIC_EXISTS in $(cat "$tmp/exists.err")"
"$STRAND" topic list --broker "$B" >"$tmp/list.out" || fail "topic list"
grep -q "^orders	partitions=3	replication_factor=1$" "$tmp/list.out" ||
	fail "topic list: $(cat "$tmp/list.out")"
"$STRAND" topic describe orders --json --broker "$B" >"$tmp/describe.out" || fail "topic describe"
expect "describe partitions" 3 "$(jq '.partitions | length' "$tmp/describe.out")"
"$STRAND" topic describe nosuch --broker "$B" 2>"$tmp/nosuch.err" && fail "describe nosuch succeeded"
grep -q UNKNOWN_TOPIC "$tmp/nosuch.err" || fail "describe nosuch: $(cat "$tmp/nosuch.err")"
"$STRAND" topic create "bad/name" --broker "$B" 2>/dev/null; expect "bad name exit" 2 $?

# ---- produce ----
i=0
while [ $i -lt 1000 ]; do echo "key$((i % 10)):value$i"; i=$((i + 1)); done >"$tmp/lines"
"$STRAND" produce orders --broker "$B" --key-separator : <"$tmp/lines" 2>"$tmp/produce.err" ||
	fail "produce"
grep -q "1000 records delivered" "$tmp/produce.err" || fail "produce: $(cat "$tmp/produce.err")"
expect "records stored" 1000 $(( $(hw orders 0) + $(hw orders 1) + $(hw orders 2) ))
# one key, one partition: key3's records are all where its first one is
p3=""
for p in 0 1 2; do
	curl -sf "$B/v1/topics/orders/partitions/$p/records?offset=0&max_records=1000" >"$tmp/p$p.json"
	n=$(jq '[.records[] | select(.key == "key3")] | length' "$tmp/p$p.json")
	[ "$n" -gt 0 ] && { [ -z "$p3" ] || fail "key3 on partitions $p3 and $p"; p3=$p; expect "key3 records" 100 "$n"; }
done
[ -n "$p3" ] || fail "key3 not found"
# values in order within the partition
first=$(jq -r '[.records[] | select(.key == "key3") | .value] | first' "$tmp/p$p3.json")
expect "first key3 value" value3 "$first"

printf 'a\nb\nc\n' | "$STRAND" produce orders --broker "$B" --partition 2 --acks 0 2>"$tmp/acks0.err" ||
	fail "produce --acks 0"
until_ok 10 sh -c "[ \$(curl -sf '$B/v1/topics/orders' | jq '.partitions[2].high_watermark') -ge 3 ]" ||
	fail "acks=0 records not stored"
"$STRAND" produce orders --broker "$B" --partition 9 </dev/null 2>/dev/null; expect "empty stdin" 0 $?
echo x | "$STRAND" produce orders --broker "$B" --partition 9 2>"$tmp/part.err" && fail "partition 9 accepted"
grep -q "unknown partition" "$tmp/part.err" || fail "partition 9: $(cat "$tmp/part.err")"

# ---- dead letters and replay ----
"$STRAND" topic create small --config max_message_bytes=100 --config value_format=string --broker "$B" 2>"$tmp/small.err" ||
	fail "create small"
big=$(printf '%0300d' 7)
printf 'k1:%s\nk2:%s\n' "$big" "$big" |
	"$STRAND" produce small --broker "$B" --key-separator : -X dead.letter.path="$tmp/dead" \
	2>"$tmp/dead.err" && fail "too large records delivered"
grep -q RECORD_TOO_LARGE "$tmp/dead.err" || fail "dead: $(cat "$tmp/dead.err")"
expect "dead letters" 2 "$(wc -l <"$tmp/dead")"
expect "dead letter error" RECORD_TOO_LARGE "$(head -1 "$tmp/dead" | jq -r .error)"
expect "dead letter key" "$(printf k1 | base64)" "$(head -1 "$tmp/dead" | jq -r .key)"
curl -sf -X PATCH -H 'Content-Type: application/json' -d '{"configs":{"max_message_bytes":100000}}' \
	"$B/v1/topics/small" >/dev/null || fail "raise max_message_bytes"
"$STRAND" replay "$tmp/dead" --broker "$B" 2>"$tmp/replay.err" || fail "replay"
grep -q "2 records delivered" "$tmp/replay.err" || fail "replay: $(cat "$tmp/replay.err")"
expect "replayed" 2 "$(hw small 0)"
curl -sf "$B/v1/topics/small/partitions/0/records?offset=0" >"$tmp/small.json"
expect "replayed value" "$big" "$(jq -r '.records[0].value' "$tmp/small.json")"
echo "not json" >"$tmp/bad"
"$STRAND" replay "$tmp/bad" --broker "$B" 2>"$tmp/badreplay.err" && fail "bad file replayed"
grep -q "line 1" "$tmp/badreplay.err" || fail "bad replay: $(cat "$tmp/badreplay.err")"

"$STRAND" topic delete small --broker "$B" 2>/dev/null || fail "topic delete"
"$STRAND" topic list --broker "$B" | grep -q '^small' && fail "small still listed"
echo "PASS"
exit 0
