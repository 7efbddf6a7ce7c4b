#!/bin/sh
# test_topic_describe_cluster.sh — `strand topic describe` in a cluster of
# three brokers on a private etcd (`strand cluster up`, run-time ports): a
# topic with replication factor 3 created through one broker, 60 records
# produced with acks=all, is described the same by every broker — the
# partition states from etcd, and the high watermarks and every replica's
# log end offset from each partition's leader, asked by a broker that does
# not lead it — each
# partition led by its preferred replica (the first), epoch 0; the replicas table has one row per replica (leader/follower,
# in sync) whose log end offset is the leader's knowledge (replica_states)
# when the answer has it, else "-". The table is checked against the
# --json answer row by row. Then the leader of a partition dies without a
# goodbye (kill -9): once its lease runs out the controller elects the next
# in-sync replica, and describe shows the new leader, epoch 1 and the dead
# broker out of sync in both tables.
#
# Automake test: exit 0 pass, 1 fail, 77 skip. STRAND_BIN is the binary.
set -u

STRAND=${STRAND_BIN:-./strand}
[ -x "$STRAND" ] || { echo "SKIP: no strand binary at $STRAND"; exit 77; }
for tool in curl jq "${STRAND_ETCD_BIN:-etcd}"; do
	command -v "$tool" >/dev/null || { echo "SKIP: $tool not installed"; exit 77; }
done

tmp=$(mktemp -d "${TMPDIR:-/tmp}/strand-describe-cluster.XXXXXX") || exit 99
cleanup() {
	"$STRAND" cluster down --dir "$tmp/c" >/dev/null 2>&1
	rm -rf "$tmp"
}
trap cleanup EXIT INT TERM

# shellcheck source=tests/cli/lib.sh
. "$(dirname "$0")/lib.sh"

"$STRAND" cluster up --brokers 3 --dir "$tmp/c" >"$tmp/up.out" 2>"$tmp/up.err" || fail "cluster up"
url() { awk -v id="$1" '$1 == "broker" && $2 == id { print $3 }' "$tmp/up.out"; }
three_alive() {
	curl -sf "$(url "$1")/v1/cluster" |
		jq -e '([.brokers[] | select(.alive)] | length) == 3 and .controller > 0' >/dev/null
}
for i in 1 2 3; do
	until_ok 15 three_alive "$i" || fail "broker $i does not see three live brokers"
done

"$STRAND" topic create orders --partitions 3 --replication-factor 3 --broker "$(url 2)" \
	2>"$tmp/create.err" || fail "topic create"
# 60 records, acks=all: every replica of every partition has some
produce() {
	curl -sf -X POST "$(url 2)/v1/topics/orders/records?acks=all" -H 'Content-Type: application/json' \
		-d '{"records":[{"value":1},{"value":2},{"value":3},{"value":4},{"value":5},{"value":6}]}' \
		>/dev/null
}
for n in 1 2 3 4 5 6 7 8 9 10; do until_ok 15 produce || fail "produce $n"; done

# the rows the tables must have, from the --json answer (jq as the model)
model() {
	jq -r '.partitions[] |
		(.isr) as $isr | ([.replicas[] | select(. as $r | $isr | index($r) | not)]) as $out |
		[.partition, (if .leader < 0 then "none" else .leader end), .leader_epoch,
		 (.replicas | join(",")), (.isr | join(",")),
		 (if ($out | length) == 0 then "-" else ($out | join(",")) end),
		 .log_start_offset, .high_watermark, .log_end_offset] | map(tostring) | join(" ")' "$1"
}
model_replicas() {
	jq -r '.partitions[] | . as $p | .replicas[] | . as $r |
		(($p.replica_states // []) | map(select(.broker == $r and .log_end_offset >= 0)) | first) as $s |
		[$p.partition, $r, (if $r == $p.leader then "leader" else "follower" end),
		 ((($p.replica_states // []) | map(select(.broker == $r)) | first) as $any |
		  if ($any != null and $any.in_isr != null) then $any.in_isr else ($p.isr | index($r) != null) end
		  | if . then "in sync" else "OUT OF SYNC" end),
		 (if $s == null then "-" else $s.log_end_offset end),
		 (if $s == null then "-"
		  elif $s.log_end_offset > $p.high_watermark then "\($s.log_end_offset - $p.high_watermark) above"
		  elif $s.log_end_offset < $p.high_watermark then "\($p.high_watermark - $s.log_end_offset) below"
		  else "at" end)] | map(tostring) | join(" ")' "$1"
}
partitions() { awk 'BEGIN { b = 0 } /^$/ { b++; next } b == 1' "$1" | tail -n +2 | tr -s ' '; }
replicas() { awk 'BEGIN { b = 0 } /^$/ { b++; next } b == 2' "$1" | tail -n +2 | tr -s ' '; }

# described_as I NAME: the table through broker I (NAME.out) is the model of
# the --json answer taken right after it (NAME.json). The state moves on its
# own (a leader shrinks the ISR of a follower that stopped fetching), so a
# pair taken across a change may differ: callers retry until one agrees.
described_as() {
	"$STRAND" topic describe orders --broker "$(url "$1")" >"$tmp/$2.out" 2>"$tmp/$2.err" || return 1
	"$STRAND" topic describe orders --json --broker "$(url "$1")" >"$tmp/$2.json" || return 1
	[ "$(head -1 "$tmp/$2.out")" = "topic orders: 3 partitions, replication factor 3" ] &&
		[ "$(model "$tmp/$2.json")" = "$(partitions "$tmp/$2.out")" ] &&
		[ "$(model_replicas "$tmp/$2.json")" = "$(replicas "$tmp/$2.out")" ]
}
for i in 1 2 3; do
	until_ok 30 described_as "$i" "d$i" || {
		cat "$tmp/d$i.out"; model "$tmp/d$i.json"; model_replicas "$tmp/d$i.json"
		fail "broker $i: the table is not its --json answer"
	}
	expect "broker $i: 9 replica rows" 9 "$(replicas "$tmp/d$i.out" | wc -l)"
done
cat "$tmp/d1.out"

# the state itself: preferred leaders at epoch 0, in the ISR (followers that
# do not fetch may have left it); leaders spread over the brokers
jq -e '[.partitions[] | select(.leader == .replicas[0] and .leader_epoch == 0 and
	(.replicas | length) == 3 and (.leader as $l | .isr | index($l)) != null)] | length == 3' "$tmp/d1.json" >/dev/null ||
	fail "partition states: $(jq -c .partitions "$tmp/d1.json")"
expect "one leader per broker" "1 2 3" "$(jq -r '[.partitions[].leader] | sort | map(tostring) | join(" ")' "$tmp/d1.json")"
# every broker shows the same leaders, epochs and replicas
for i in 2 3; do
	expect "broker $i agrees" "$(partitions "$tmp/d1.out" | cut -d' ' -f1-4)" \
		"$(partitions "$tmp/d$i.out" | cut -d' ' -f1-4)"
done
# and, through a follower too, the same high watermarks and every replica's
# log end offset as through the leader: a broker asks each partition's
# leader for what only it knows. 60 records (or more: a produce whose answer
# was an error may have been appended, and was sent again) committed, every
# LEO known.
same_everywhere() {
	for i in 1 2 3; do
		described_as "$i" "s$i" || return 1
	done
	for i in 2 3; do
		[ "$(partitions "$tmp/s1.out")" = "$(partitions "$tmp/s$i.out")" ] &&
			[ "$(replicas "$tmp/s1.out")" = "$(replicas "$tmp/s$i.out")" ] || return 1
	done
	jq -e '([.partitions[].high_watermark] | add) >= 60' "$tmp/s1.json" >/dev/null &&
		jq -e '[.partitions[].replica_states[] | select(.log_end_offset < 0)] | length == 0' \
			"$tmp/s1.json" >/dev/null
}
until_ok 30 same_everywhere || {
	for i in 1 2 3; do echo "== through broker $i"; cat "$tmp/s$i.out"; done
	fail "describe through a follower differs from describe through the leader"
}
echo "through every broker:"; cat "$tmp/s3.out"

# the leader of a partition broker 2 does not lead dies
victim=$(jq -r '[.partitions[] | select(.leader != 2)][0].partition' "$tmp/d2.json")
dead=$(jq -r --argjson p "$victim" '.partitions[$p].leader' "$tmp/d2.json")
kill -9 "$(cat "$tmp/c/broker-$dead.pid")" || fail "kill broker $dead"
reelected() {
	"$STRAND" topic describe orders --broker "$(url 2)" >"$tmp/after.out" 2>"$tmp/after.err" || return 1
	partitions "$tmp/after.out" | awk -v p="$victim" -v d="$dead" \
		'$1 == p && $2 != d && $2 != "none" && $3 == 1 && ("," $6 ",") ~ ("," d ",") { ok = 1 } END { exit !ok }'
}
until_ok 30 reelected || { cat "$tmp/after.out"; fail "partition $victim: no new leader after broker $dead died"; }
cat "$tmp/after.out"
replicas "$tmp/after.out" | grep -qx "$victim $dead follower OUT OF SYNC .*" ||
	fail "partition $victim: broker $dead not marked out of sync"
until_ok 30 described_as 2 after2 || {
	cat "$tmp/after2.out"; model "$tmp/after2.json"; fail "after: the table is not the --json answer"
}
echo "PASS: topic describe in a cluster of three, before and after a leader dies"
