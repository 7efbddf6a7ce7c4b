#!/bin/sh
# test_topic_describe.sh — `strand topic describe` against a single node:
# the partitions table (leader 0, epoch 0, replicas 0, ISR 0, nothing out of
# sync, log start / high watermark / log end) and the replicas table (broker
# 0 leads every partition, in sync, its log end offset against the high
# watermark: a broker alone in its cluster is the leader, so the answer's
# own log end offset is its), and --json printing the broker's answer.
# Then, against a canned answer (python3's http.server, when there is
# python3) of a cluster whose leader knows its followers' log end offsets
# (replica_states, issue 10): a replica out of the ISR is marked in both
# tables and each replica's log end offset is put against the high
# watermark (-1, unknown to the broker asked, shows "-"); a partition
# without a leader says "none".
#
# Automake test: exit 0 pass, 1 fail, 77 skip. STRAND_BIN is the binary.
set -u

STRAND=${STRAND_BIN:-./strand}
[ -x "$STRAND" ] || { echo "SKIP: no strand binary at $STRAND"; exit 77; }
for tool in curl jq; do
	command -v $tool >/dev/null || { echo "SKIP: $tool not installed"; exit 77; }
done

tmp=$(mktemp -d "${TMPDIR:-/tmp}/strand-describe.XXXXXX") || exit 99
pid=""
cleanup() {
	[ -n "$pid" ] && kill "$pid" 2>/dev/null && wait "$pid" 2>/dev/null
	rm -rf "$tmp"
}
trap cleanup EXIT INT TERM

# shellcheck source=tests/cli/lib.sh
. "$(dirname "$0")/lib.sh"

serve_start
"$STRAND" topic create orders --partitions 3 --broker "$B" 2>"$tmp/create.err" || fail "topic create"
curl -sf -X POST -H 'Content-Type: application/json' "$B/v1/topics/orders/partitions/1/records" \
	-d '{"records":[{"value":1},{"value":2},{"value":3}]}' >/dev/null || fail "produce"

"$STRAND" topic describe orders --broker "$B" >"$tmp/describe.out" 2>"$tmp/describe.err" ||
	fail "topic describe"
cat "$tmp/describe.out"
expect "heading" "topic orders: 3 partitions, replication factor 1" "$(head -1 "$tmp/describe.out")"
# the partitions table: the block after the first blank line, up to the next
partitions() { awk 'BEGIN { b = 0 } /^$/ { b++; next } b == 1' "$tmp/describe.out"; }
replicas() { awk 'BEGIN { b = 0 } /^$/ { b++; next } b == 2' "$tmp/describe.out"; }
expect "partitions head" "PARTITION LEADER EPOCH REPLICAS ISR OUT OF SYNC LOG START HIGH WATERMARK LOG END" \
	"$(partitions | head -1 | tr -s ' ')"
expect "partition rows" "0 0 0 0 0 - 0 0 0
1 0 0 0 0 - 0 3 3
2 0 0 0 0 - 0 0 0" "$(partitions | tail -n +2 | tr -s ' ')"
expect "replicas head" "PARTITION REPLICA ROLE ISR LOG END VS HIGH WATERMARK" \
	"$(replicas | head -1 | tr -s ' ')"
expect "replica rows" "0 0 leader in sync 0 at
1 0 leader in sync 3 at
2 0 leader in sync 0 at" "$(replicas | tail -n +2 | tr -s ' ')"
# columns line up: every row of a table starts its second column at the same place
[ "$(partitions | awk '{ match($0, /^[^ ]+ +/); print RLENGTH }' | sort -u | wc -l)" = 1 ] ||
	fail "partition columns do not line up"

# --json is the broker's answer, as GET /v1/topics/orders gives it
"$STRAND" topic describe orders --json --broker "$B" >"$tmp/describe.json" || fail "describe --json"
curl -sf "$B/v1/topics/orders" >"$tmp/get.json" || fail "GET topic"
expect "--json is the answer" "$(jq -S -c 'del(.partitions[].size_bytes)' "$tmp/get.json")" \
	"$(jq -S -c 'del(.partitions[].size_bytes)' "$tmp/describe.json")"
expect "--json partition 1" '{"leader":0,"leader_epoch":0,"replicas":[0],"isr":[0],"high_watermark":3}' \
	"$(jq -c '.partitions[1] | {leader, leader_epoch, replicas, isr, high_watermark}' "$tmp/describe.json")"

"$STRAND" topic describe nosuch --broker "$B" >/dev/null 2>"$tmp/nosuch.err" && fail "describe nosuch succeeded"
grep -q UNKNOWN_TOPIC "$tmp/nosuch.err" || fail "describe nosuch: $(cat "$tmp/nosuch.err")"

command -v python3 >/dev/null || { echo "PASS: single node (no python3: replica_states not tried)"; exit 0; }
cat >"$tmp/topic.json" <<'JSON'
{"name":"t","replication_factor":3,"configs":{},"partitions":[
 {"partition":0,"leader":2,"leader_epoch":4,"replicas":[1,2,3],"isr":[2,3],
  "log_start_offset":5,"high_watermark":90,"log_end_offset":100,"size_bytes":1,
  "replica_states":[{"broker":2,"log_end_offset":100,"in_isr":true},
                    {"broker":3,"log_end_offset":90,"in_isr":true},
                    {"broker":1,"log_end_offset":40,"in_isr":false}]},
 {"partition":1,"leader":-1,"leader_epoch":7,"replicas":[3,1,2],"isr":[],
  "log_start_offset":0,"high_watermark":0,"log_end_offset":0,"size_bytes":0,
  "replica_states":[{"broker":3,"log_end_offset":-1,"in_isr":false}]}]}
JSON
cat >"$tmp/cluster.json" <<'JSON'
{"cluster_id":"c","controller":2,"brokers":[{"id":1,"url":"u1","alive":false},
 {"id":2,"url":"u2","alive":true},{"id":3,"url":"u3","alive":true}]}
JSON
python3 - "$tmp" >"$tmp/canned.err" 2>&1 <<'PY' &
import http.server, sys
d = sys.argv[1]
class H(http.server.BaseHTTPRequestHandler):
    def do_GET(self):
        f = {"/v1/topics/t": "topic.json", "/v1/cluster": "cluster.json"}.get(self.path)
        body = open(f"{d}/{f}", "rb").read() if f else b"{}"
        self.send_response(200 if f else 404)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)
s = http.server.HTTPServer(("127.0.0.1", 0), H)
open(f"{d}/canned.port.tmp", "w").write(str(s.server_port))
__import__("os").rename(f"{d}/canned.port.tmp", f"{d}/canned.port")
s.serve_forever()
PY
canned=$!
until_ok 10 test -s "$tmp/canned.port" || { kill $canned; fail "canned server did not start"; }
"$STRAND" topic describe t --broker "http://127.0.0.1:$(cat "$tmp/canned.port")" >"$tmp/describe.out" \
	2>"$tmp/canned-describe.err"
st=$?
kill $canned; wait $canned 2>/dev/null
expect "describe of the canned answer" 0 $st
cat "$tmp/describe.out"
expect "cluster partition rows" "0 2 4 1,2,3 2,3 1 5 90 100
1 none 7 3,1,2 - 3,1,2 0 0 0" "$(partitions | tail -n +2 | tr -s ' ')"
expect "cluster replica rows" "0 1 follower OUT OF SYNC 40 50 below
0 2 leader in sync 100 10 above
0 3 follower in sync 90 at
1 3 follower OUT OF SYNC - -
1 1 follower OUT OF SYNC - -
1 2 follower OUT OF SYNC - -" "$(replicas | tail -n +2 | tr -s ' ')"
echo "PASS: topic describe on a single node (table and --json) and of replica_states"
