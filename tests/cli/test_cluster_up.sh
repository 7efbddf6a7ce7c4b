#!/bin/sh
# test_cluster_up.sh — `strand cluster up --brokers 3` as a new user runs
# it: a private etcd and three brokers on run-time ports. /v1/cluster on any
# broker lists three live brokers and one controller; the controller is
# killed (-9: no goodbye, its lease must run out) and another broker is
# elected within a deadline; `strand cluster start --broker I` brings it
# back on its URL and it rejoins; `strand cluster down` stops everything.
# Then `cluster up --secure`: https URLs verified with DIR/pki/ca.pem, 401
# without the admin token, an RF=3 topic takes acks=all produces through
# every broker (relays authenticate as brokers), the admin token is refused
# on /v1/internal/, and a restarted broker comes back secure.
#
# Automake test: exit 0 pass, 1 fail, 77 skip. STRAND_BIN is the binary.
set -u

STRAND=${STRAND_BIN:-./strand}
if [ ! -x "$STRAND" ]; then
	echo "SKIP: no strand binary at $STRAND (set STRAND_BIN)"
	exit 77
fi
for tool in curl jq "${STRAND_ETCD_BIN:-etcd}"; do
	command -v "$tool" >/dev/null || { echo "SKIP: $tool not installed"; exit 77; }
done

tmp=$(mktemp -d "${TMPDIR:-/tmp}/strand-cluster.XXXXXX") || exit 99
cleanup() {
	"$STRAND" cluster down --dir "$tmp/c" >/dev/null 2>&1
	"$STRAND" cluster down --dir "$tmp/s" >/dev/null 2>&1
	rm -rf "$tmp"
}
trap cleanup EXIT INT TERM

fail() {
	echo "FAIL: $*"
	for f in "$tmp"/c/broker-*/strand.log "$tmp/c/etcd.log" "$tmp"/s/broker-*/strand.log; do
		[ -f "$f" ] && { echo "--- $f"; tail -15 "$f"; }
	done
	exit 1
}

now_ms() { date +%s%3N; }

# until SECONDS COMMAND...: run COMMAND until it succeeds or SECONDS pass
until_ok() {
	limit=$(($(date +%s) + $1)); shift
	while ! "$@"; do
		[ "$(date +%s)" -lt "$limit" ] || return 1
		sleep 0.05
	done
}

# gone PID: the process has exited (a zombie holds nothing). kill -9 returns
# before it has: a killed broker's exit (threads, a sanitizer's address
# space) takes a while on a loaded machine, and `cluster start` refuses a
# broker whose pid still runs.
gone() {
	[ ! -e "/proc/$1" ] || grep -q '^State:[[:space:]]*Z' "/proc/$1/status" 2>/dev/null
}

"$STRAND" cluster up --brokers 3 --dir "$tmp/c" >"$tmp/up.out" 2>"$tmp/up.err" ||
	{ cat "$tmp/up.err"; fail "cluster up"; }
grep -q '^etcd http://127.0.0.1:' "$tmp/up.out" || fail "no etcd URL printed"
[ "$(grep -c '^broker [123] http://127.0.0.1:[0-9]*$' "$tmp/up.out")" = 3 ] ||
	{ cat "$tmp/up.out"; fail "three broker URLs expected"; }
url() { awk -v id="$1" '$1 == "broker" && $2 == id { print $3 }' "$tmp/up.out"; }
for i in 1 2 3; do
	test -s "$tmp/c/broker-$i.pid" || fail "no pid file for broker $i"
done
test -s "$tmp/c/etcd.pid" || fail "no etcd pid file"

# cluster_is URL BROKERS: /v1/cluster lists BROKERS (ids, space-separated)
# and a controller among them
cluster_is() {
	curl -sf "$1/v1/cluster" >"$tmp/cluster.json" || return 1
	ids=$(jq -r '[.brokers[] | select(.alive) | .id] | map(tostring) | join(" ")' "$tmp/cluster.json")
	ctl=$(jq -r '.controller' "$tmp/cluster.json")
	[ "$ids" = "$2" ] || return 1
	case " $2 " in *" $ctl "*) return 0 ;; esac
	return 1
}

until_ok 10 cluster_is "$(url 1)" "1 2 3" || { cat "$tmp/cluster.json"; fail "1 2 3 and a controller"; }
# every broker sees the same cluster
cid=$(jq -r .cluster_id "$tmp/cluster.json")
controller=$(jq -r .controller "$tmp/cluster.json")
for i in 2 3; do
	curl -sf "$(url $i)/v1/cluster" | jq -e --arg cid "$cid" --argjson c "$controller" \
		'.cluster_id == $cid and .controller == $c and (.brokers | length) == 3' >/dev/null ||
		fail "broker $i sees another cluster"
done
jq -e --arg u "$(url 2)" '.brokers[] | select(.id == 2) | .url == $u' "$tmp/cluster.json" \
	>/dev/null || fail "broker 2 advertises another URL"

# each broker's own view in /metrics: a valid lease, and only the controller
# says so. /v1/cluster read etcd, where the controller key exists a moment
# before its winner has read the answer to its campaign: wait (deadline) for
# each broker's own view to agree.
metrics_agree() {
	curl -sf "$(url "$1")/metrics" >"$tmp/metrics" || return 1
	grep -qx 'strand_cluster_lease_valid 1' "$tmp/metrics" &&
		grep -qx "strand_cluster_controller $2" "$tmp/metrics"
}
for i in 1 2 3; do
	want=0
	[ "$i" = "$controller" ] && want=1
	until_ok 10 metrics_agree "$i" "$want" || { grep '^strand_cluster_' "$tmp/metrics"
		fail "broker $i: a valid lease and strand_cluster_controller $want expected"; }
done

# kill the controller without a goodbye: its lease (4 s) must run out
survivors=$(echo 1 2 3 | tr ' ' '\n' | grep -vx "$controller" | tr '\n' ' ' | sed 's/ $//')
other=$(echo "$survivors" | cut -d' ' -f1)
start=$(now_ms)
pid=$(cat "$tmp/c/broker-$controller.pid")
kill -9 "$pid" || fail "kill the controller"
until_ok 15 cluster_is "$(url "$other")" "$survivors" ||
	{ cat "$tmp/cluster.json"; fail "no new controller among $survivors within 15 s"; }
took=$(($(now_ms) - start))
new=$(jq -r .controller "$tmp/cluster.json")
echo "controller $controller killed; broker $new elected after $took ms"

# start the killed broker again: same URL (its port), it rejoins the cluster
until_ok 10 gone "$pid" || fail "broker $controller (pid $pid) still runs 10 s after kill -9"
"$STRAND" cluster start --broker "$controller" --dir "$tmp/c" >"$tmp/start.out" 2>"$tmp/start.err" ||
	{ cat "$tmp/start.err"; fail "cluster start --broker $controller"; }
[ "$(cat "$tmp/start.out")" = "broker $controller $(url "$controller")" ] ||
	{ cat "$tmp/start.out"; fail "broker $controller restarted on another URL"; }
until_ok 15 cluster_is "$(url "$controller")" "1 2 3" ||
	{ cat "$tmp/cluster.json"; fail "broker $controller did not rejoin within 15 s"; }
"$STRAND" cluster start --broker "$controller" --dir "$tmp/c" >/dev/null 2>"$tmp/start.err" &&
	fail "a second start of a running broker succeeded"
grep -q "already runs" "$tmp/start.err" || { cat "$tmp/start.err"; fail "no 'already runs' error"; }
"$STRAND" cluster start --broker 9 --dir "$tmp/c" >/dev/null 2>"$tmp/start.err" &&
	fail "start of a broker that never ran succeeded"

"$STRAND" cluster down --dir "$tmp/c" >"$tmp/down.out" || fail "cluster down"
grep -q "stopped 4 processes" "$tmp/down.out" || { cat "$tmp/down.out"; fail "three brokers and etcd to stop"; }
for f in "$tmp"/c/*.pid; do
	[ -e "$f" ] && fail "pid file $f left behind"
done

# ---- --secure: TLS from a private CA, tokens, ACLs, broker tokens ----
command -v openssl >/dev/null || { echo "PASS (--secure skipped: no openssl)"; exit 0; }
"$STRAND" cluster up --brokers 3 --dir "$tmp/s" --secure >"$tmp/up.out" 2>"$tmp/up.err" ||
	{ cat "$tmp/up.err"; fail "cluster up --secure"; }
grep -q '^etcd https://127.0.0.1:' "$tmp/up.out" || fail "no https etcd URL printed"
[ "$(grep -c '^broker [123] https://127.0.0.1:[0-9]*$' "$tmp/up.out")" = 3 ] ||
	{ cat "$tmp/up.out"; fail "three https broker URLs expected"; }
ca=$(awk '$1 == "ca" { print $2 }' "$tmp/up.out")
tokfile=$(awk '$1 == "admin-token" { print $2 }' "$tmp/up.out")
[ -s "$ca" ] && [ -s "$tokfile" ] || { cat "$tmp/up.out"; fail "no CA or admin token path"; }
[ "$(stat -c %a "$tokfile")" = 600 ] || fail "admin token file not mode 600"
auth="Authorization: Bearer $(cat "$tokfile")"
sc() { curl -s -o "$tmp/body" -w '%{http_code}' --cacert "$ca" "$@"; }
[ "$(sc "$(url 1)/v1/cluster")" = 401 ] || fail "no token should be 401"
secure_cluster_is() {
	curl -sf --cacert "$ca" -H "$auth" "$1/v1/cluster" >"$tmp/cluster.json" || return 1
	[ "$(jq '[.brokers[] | select(.alive)] | length' "$tmp/cluster.json")" = 3 ]
}
until_ok 10 secure_cluster_is "$(url 1)" || { cat "$tmp/cluster.json"; fail "secure: 3 live brokers"; }
created() {
	[ "$(sc -H "$auth" -H 'Content-Type: application/json' -X POST "$(url 1)/v1/topics" \
		-d '{"name":"sec","partitions":1,"replication_factor":3}')" = 201 ]
}
until_ok 10 created || { cat "$tmp/body"; fail "secure: create an RF=3 topic"; }
produced() {
	[ "$(sc -H "$auth" -H 'Content-Type: application/json' -X POST \
		"$(url "$1")/v1/topics/sec/partitions/0/records?acks=all" -d '{"records":[{"value":1}]}')" = 200 ]
}
for i in 1 2 3; do
	until_ok 15 produced "$i" || { cat "$tmp/body"; fail "secure: acks=all through broker $i"; }
done
[ "$(sc -H "$auth" -H 'Content-Type: application/json' -X POST "$(url 1)/v1/internal/replica/fetch" \
	-d '{"broker_id":2,"partitions":[]}')" = 403 ] || { cat "$tmp/body"; fail "admin token on internal"; }
pid=$(cat "$tmp/s/broker-2.pid")
kill -9 "$pid"
until_ok 10 gone "$pid" || fail "secure: broker 2 (pid $pid) still runs 10 s after kill -9"
"$STRAND" cluster start --broker 2 --dir "$tmp/s" >"$tmp/start.out" 2>"$tmp/start.err" ||
	{ cat "$tmp/start.err"; fail "secure: cluster start --broker 2"; }
[ "$(cat "$tmp/start.out")" = "broker 2 $(url 2)" ] || { cat "$tmp/start.out"; fail "secure restart URL"; }
"$STRAND" cluster down --dir "$tmp/s" >"$tmp/down.out" || fail "secure cluster down"
grep -q "stopped 4 processes" "$tmp/down.out" || { cat "$tmp/down.out"; fail "secure: 4 to stop"; }
echo "PASS"
exit 0
