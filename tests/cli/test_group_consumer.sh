#!/bin/sh
# test_group_consumer.sh — the curl-only consumers against a real
# `strand serve`: the shell loop of README.md ("A consumer in a shell
# loop", run as written but for the broker URL) and scripts/group-consumer.sh.
# The two members share a topic and together print every record; the README
# one is stopped (it leaves) and the other takes over its partitions,
# printing what is produced next; the group ends with lag 0.
#
# Automake test: exit 0 pass, 1 fail, 77 skip. STRAND_BIN is the binary.
set -u

STRAND=${STRAND_BIN:-./strand}
here=$(cd "$(dirname "$0")" && pwd)
CONSUMER="$here/../../scripts/group-consumer.sh"
README="$here/../../README.md"
if [ ! -x "$STRAND" ]; then
	echo "SKIP: no strand binary at $STRAND (set STRAND_BIN)"
	exit 77
fi
for tool in curl jq; do
	command -v $tool >/dev/null || { echo "SKIP: $tool not installed"; exit 77; }
done

tmp=$(mktemp -d "${TMPDIR:-/tmp}/strand-consumer.XXXXXX") || exit 99
pids=""
cleanup() {
	for p in $pids; do kill "$p" 2>/dev/null; done
	wait 2>/dev/null
	rm -rf "$tmp"
}
trap cleanup EXIT INT TERM

fail() {
	echo "FAIL: $*"
	[ -f "$tmp/server.log" ] && tail -20 "$tmp/server.log"
	exit 1
}

# until SECONDS COMMAND...: run COMMAND until it succeeds or SECONDS pass
until_ok() {
	limit=$(($(date +%s) + $1)); shift
	while ! "$@"; do
		[ "$(date +%s)" -lt "$limit" ] || return 1
		sleep 0.1
	done
}

"$STRAND" serve --listen 127.0.0.1:0 --data-dir "$tmp/data" --port-file "$tmp/port" \
	>"$tmp/server.log" 2>&1 &
pids="$pids $!"
until_ok 30 test -s "$tmp/port" || fail "server did not start"
B="http://127.0.0.1:$(cat "$tmp/port")"
until_ok 30 curl -sf -o /dev/null "$B/healthz" || fail "server not healthy"

curl -sf -o /dev/null -X POST "$B/v1/topics" -H 'Content-Type: application/json' \
	-d '{"name":"orders","partitions":4}' || fail "create topic"

# produce FIRST COUNT: values FIRST..FIRST+COUNT-1, keyed so they spread
produce() {
	jq -cn --argjson f "$1" --argjson n "$2" \
		'{records: [range($f; $f + $n) | {key: "k\(.)", value: .}]}' |
	curl -sf -o /dev/null -X POST "$B/v1/topics/orders/records" \
		-H 'Content-Type: application/json' -d @- || fail "produce"
}

# have N: the consumers printed every value 0..N-1 (at least once)
have() {
	[ "$(cat "$tmp"/out.* 2>/dev/null | jq -s --argjson n "$1" \
		'[.[].value] | unique | map(select(. < $n)) | length')" = "$1" ]
}

# the README's loop, verbatim but for its first line (the broker URL)
awk '/^## A consumer in a shell loop/ { on = 1 } on && /^```sh/ { code = 1; next }
     code && /^```/ { exit } code' "$README" >"$tmp/readme-consumer.sh"
grep -q 'members' "$tmp/readme-consumer.sh" || fail "no shell loop found in README.md"
sed -i "1s|^B=[^ ]*|B=$B|" "$tmp/readme-consumer.sh"
(cd "$tmp" && exec sh ./readme-consumer.sh) >"$tmp/out.1" 2>"$tmp/err.1" &
c1=$!
pids="$pids $c1"
SESSION_TIMEOUT_MS=5000 "$CONSUMER" "$B" billing orders >"$tmp/out.2" 2>"$tmp/err.2" &
c2=$!
pids="$pids $c2"

produce 0 40
until_ok 60 have 40 || fail "two consumers did not print all 40 records: $(cat "$tmp"/out.* | wc -l) lines"
# both members took part once the group settled
until_ok 30 sh -c "curl -s $B/v1/groups/billing | jq -e '.state == \"Stable\" and (.members | length) == 2' >/dev/null" ||
	fail "group not Stable with 2 members: $(curl -s "$B/v1/groups/billing")"

# stop one: it leaves; the other takes all four partitions
kill -TERM "$c1"
wait "$c1" 2>/dev/null
until_ok 30 sh -c "curl -s $B/v1/groups/billing | jq -e '(.members | length) == 1 and .state == \"Stable\"' >/dev/null" ||
	fail "the stopped consumer did not leave: $(curl -s "$B/v1/groups/billing")"
produce 40 40
until_ok 60 have 80 || fail "the remaining consumer did not print records 40..79"
until_ok 30 sh -c "curl -s $B/v1/groups/billing/offsets | jq -e '.lag == 0 and (.offsets | length) == 4' >/dev/null" ||
	fail "committed offsets do not reach the end: $(curl -s "$B/v1/groups/billing/offsets")"
kill -TERM "$c2"
wait "$c2" 2>/dev/null
echo "PASS: $(cat "$tmp"/out.* | wc -l) records printed by the README's and the script's curl consumers (80 produced)"
exit 0
