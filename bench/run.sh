#!/usr/bin/env bash
# bench/run.sh — `make bench`: strand against its references on this
# machine, in one run, printed as one table of ratios (docs/BENCHMARKS.md).
#
#   strand     an optimised build (-O2, no sanitizers) in build-bench/,
#              driven by `strand bench` (libcurl multi, keep-alive) and by
#              wrk, so no figure rests on our own client alone
#   Redis      redis-server with AOF (appendfsync everysec): XADD pipelined
#              and XRANGE COUNT 1000, both by redis-benchmark
#   bare MHD   bench/mhd_bare: libmicrohttpd with strand's options that
#              reads and drops the same POST bodies: the HTTP ceiling
#   nginx      a large file over sendfile: the zero-copy ceiling
#   a cluster  `strand cluster up --brokers 3` (a private etcd and three
#              `strand serve --etcd`, default settings) for the replicated
#              rows: acks=all with replication factor 3 and min ISR 2, sent
#              to each partition's leader (`strand bench --leaders`, routed
#              by metadata as libstrand routes) and sent to one broker that
#              relays, both against the single-node acks=1 of the same round
#
# The machine is shared, so absolute figures drift by 2x from one minute to
# the next. All servers run at once (idle while another is measured) and
# each of BENCH_ROUNDS rounds measures every strand figure right beside its
# reference; the table shows the best round of each side (the least
# disturbed one, as `timeit` takes the minimum) and the ratio of every round
# (same round, strand over reference), so the spread is in plain sight.
#
# References come from Debian (redis-server, redis-tools, nginx-light, wrk)
# and are installed here when missing, never by scripts/deps.sh: CI does
# not need them. Every server listens on 127.0.0.1 on a free port with its
# data in a temp dir and is stopped at exit.
#
# Then the failover trials (`strand bench failover`, also alone as
# `bench/run.sh failover`, i.e. `make bench-failover`): three brokers with
# their default settings, an acks=all producer (libstrand) writing
# throughout, the partition's leader killed -9 BENCH_FAILOVER_TRIALS times
# (default 10) and restarted; the time from each kill to the next
# acknowledged write, every trial, the median and the max against the
# 5 s aim.
#
# Environment: BENCH_SECONDS (per wrk/redis measurement, default 5),
# BENCH_RECORDS (records of the produce runs, default 3000000),
# BENCH_PARTITIONS (default 2), BENCH_ROUNDS (default 3),
# BENCH_FAILOVER_TRIALS (default 10), BENCH_KEEP=1 keeps the temp dir.
set -euo pipefail

top=$(cd "$(dirname "$0")/.." && pwd)
SECS=${BENCH_SECONDS:-5}
RECORDS=${BENCH_RECORDS:-3000000}
PARTS=${BENCH_PARTITIONS:-2}
ROUNDS=${BENCH_ROUNDS:-3}
FTRIALS=${BENCH_FAILOVER_TRIALS:-10}
MODE=${1:-all}
SIZE=100
BATCH=1000
case $MODE in all|failover) ;; *) echo "usage: bench/run.sh [failover]" >&2; exit 2 ;; esac

say() { echo "bench: $*" >&2; }
load_start=$(cut -d' ' -f1-3 /proc/loadavg)   # the machine is shared: say how busy

# ---- references from Debian, only when missing ----------------------------
need=""
if [ "$MODE" = all ]; then
command -v redis-server >/dev/null || need="$need redis-server"
command -v redis-benchmark >/dev/null || need="$need redis-tools"
command -v nginx >/dev/null || [ -x /usr/sbin/nginx ] || need="$need nginx-light"
command -v wrk >/dev/null || need="$need wrk"
command -v jq >/dev/null || need="$need jq"
fi
if [ -n "$need" ]; then
	say "installing$need"
	SUDO=""; [ "$(id -u)" -eq 0 ] || SUDO="sudo"
	export DEBIAN_FRONTEND=noninteractive
	$SUDO apt-get -o DPkg::Lock::Timeout=600 update -qq
	# shellcheck disable=SC2086
	$SUDO apt-get -o DPkg::Lock::Timeout=600 install -y -qq --no-install-recommends $need >/dev/null
fi
NGINX=$(command -v nginx || echo /usr/sbin/nginx)
command -v etcd >/dev/null || { echo "bench: no etcd (scripts/deps.sh installs etcd-server)" >&2; exit 1; }

# ---- an optimised strand and the bare MHD server --------------------------
say "building an optimised strand in build-bench/"
cd "$top"
[ -x configure ] || autoreconf -fi >/dev/null 2>&1
mkdir -p build-bench
cd build-bench
if [ ! -f Makefile ] || grep -q -- '--enable-sanitizers' config.status 2>/dev/null; then
	../configure CFLAGS="-O2 -g" >/dev/null
fi
make -j"$(nproc)" strand bench/mhd_bare >/dev/null
STRAND=$top/build-bench/strand
BARE=$top/build-bench/bench/mhd_bare

tmp=$(mktemp -d "${TMPDIR:-/tmp}/strand-bench.XXXXXX")
chmod 755 "$tmp"
pids=()
cleanup() {
	local p
	for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done
	for p in "${pids[@]}"; do wait "$p" 2>/dev/null || true; done
	[ -d "$tmp/cluster" ] && "$STRAND" cluster down --dir "$tmp/cluster" >/dev/null 2>&1
	[ "${BENCH_KEEP:-0}" = 1 ] || rm -rf "$tmp"
}
trap cleanup EXIT INT TERM

# failover_trials: `strand bench failover` (its own etcd and brokers, under
# $tmp/failover); every trial's line, then the median and max against 5 s.
failover_trials() {
	local out kvline med max
	say "failover: $FTRIALS trials of kill -9 of the leader, default settings"
	out=$("$STRAND" bench failover --trials "$FTRIALS" --dir "$tmp/failover" --kv \
		2> "$tmp/failover.err") || { cat "$tmp/failover.err" >&2; echo "$out"; exit 1; }
	kvline=$(echo "$out" | tail -n 1)
	med=$(kv failover_median_ms "$kvline")
	max=$(kv failover_max_ms "$kvline")
	echo
	echo "failover — $(date -u '+%Y-%m-%d %H:%M UTC'), kill -9 of a partition's leader (3 brokers," \
		"rf 3, min ISR 2, default settings) -> the next acks=all write acknowledged (libstrand)"
	echo "$out" | grep '^trial '
	printf "%-44s %10s  %-34s %10s %8s %-8s %-6s\n" "failover, median ms ($(kv trials "$kvline") trials)" \
		"$med" "max $max ms, min $(kv failover_min_ms "$kvline") ms" "" "" "<= 5000" \
		"$(awk -v a="$med" -v b="$max" 'BEGIN {print (a <= 5000 && b <= 5000 ? "met" : "MISSED")}')"
	echo "producer: $(kv acked "$kvline") writes acknowledged, $(kv failed "$kvline") failed;" \
		"load $(cut -d' ' -f1-3 /proc/loadavg) at end"
}

# A free TCP port on 127.0.0.1 (nobody answers a connect there).
free_port() {
	local p
	while :; do
		p=$((20000 + RANDOM % 12000))   # below the ephemeral range (32768-)
		if ! (exec 3<>"/dev/tcp/127.0.0.1/$p") 2>/dev/null; then
			echo "$p"
			return
		fi
	done
}

# wait_file FILE: until a port file appears (30 s).
wait_file() {
	local i
	for i in $(seq 600); do [ -s "$1" ] && return 0; sleep 0.05; done
	echo "bench: $1 never appeared" >&2
	exit 1
}

# ---- request bodies and wrk scripts -----------------------------------------
value='"'$(head -c $((SIZE - 2)) /dev/zero | tr '\0' 'a')'"'
{
	printf '{"records":['
	for i in $(seq $BATCH); do
		[ "$i" -gt 1 ] && printf ','
		printf '{"value":%s}' "$value"
	done
	printf ']}'
} > "$tmp/body1000.json"
printf '{"records":[{"value":%s}]}' "$value" > "$tmp/body1.json"
for b in body1000 body1; do
	cat > "$tmp/$b.lua" <<EOF
wrk.method = "POST"
wrk.headers["Content-Type"] = "application/json"
local f = io.open("$tmp/$b.json", "rb")
wrk.body = f:read("*a")
f:close()
EOF
done

# wrk_run OUTVAR ARGS...: run wrk, set OUTVAR_rps and OUTVAR_mbs (1e6 B/s).
wrk_run() {
	local var=$1 out
	shift
	out=$(wrk -d"${SECS}s" "$@")
	echo "$out" > "$tmp/wrk-$var.txt"
	if echo "$out" | grep -q 'Non-2xx'; then
		echo "bench: wrk $var got errors:" >&2
		echo "$out" >&2
		exit 1
	fi
	printf -v "${var}_rps" '%s' "$(echo "$out" | awk '/^Requests\/sec:/ {print $2}')"
	printf -v "${var}_mbs" '%s' "$(echo "$out" | awk '/^Transfer\/sec:/ {
		v = $2; u = substr(v, length(v) - 1); n = v + 0
		m = u == "GB" ? 1073741824 : u == "MB" ? 1048576 : u == "KB" ? 1024 : 1
		printf "%.1f", n * m / 1e6 }')"
}

# curl_rate VAR URL [CURL ARGS...]: MB/s (1e6 B/s) of 8 downloads of URL in a row
# by curl to /dev/null; sets VAR. The sendfile comparison: one big response
# each, the same client for nginx and strand.
curl_rate() {
	local var=$1 url=$2 i
	shift 2
	printf -v "$var" '%s' "$(for i in 1 2 3 4 5 6 7 8; do
		curl -s -o /dev/null -w '%{size_download} %{time_total}\n' "$@" "$url"
	done | awk '{b += $1; t += $2} END {printf "%.1f", (t > 0 ? b / t / 1e6 : 0)}')"
}

# kv VAR KEY: a key=value field of the last `strand bench --kv` output.
kv() { echo "$2" | tr ' ' '\n' | awk -F= -v k="$1" '$1 == k {print $2}'; }

# sb NAME ARGS...: `strand bench ... --kv` against strand; sets NAME (the line).
sb() {
	local var=$1 out
	shift
	out=$("$STRAND" bench "$@" --url "$SURL" --kv --quiet)
	echo "$out" > "$tmp/sb-$var.txt"
	printf -v "$var" '%s' "$out"
}

if [ "$MODE" = failover ]; then
	failover_trials
	exit 0
fi

# ---- every server up at once, idle while another is measured ---------------
say "starting strand, bare libmicrohttpd, Redis (AOF everysec) and nginx"
"$STRAND" serve --listen 127.0.0.1:0 --port-file "$tmp/strand.port" \
	--data-dir "$tmp/strand" 2> "$tmp/strand.log" &
pids+=($!)
"$BARE" "$tmp/bare.port" &
pids+=($!)
# (their ephemeral ports first, then the fixed ones: no collision)
wait_file "$tmp/strand.port"
wait_file "$tmp/bare.port"
RPORT=$(free_port)
mkdir -p "$tmp/redis"
redis-server --bind 127.0.0.1 --port "$RPORT" --dir "$tmp/redis" --appendonly yes \
	--appendfsync everysec --save '' --daemonize no --logfile "$tmp/redis.log" &
pids+=($!)
NPORT=$(free_port)
mkdir -p "$tmp/www" "$tmp/nginx"
dd if=/dev/zero of="$tmp/www/big" bs=1M count=64 status=none
user_line=""; [ "$(id -u)" -eq 0 ] && user_line="user root;"
cat > "$tmp/nginx.conf" <<EOF
$user_line
daemon off;
worker_processes $(nproc);
pid $tmp/nginx/nginx.pid;
error_log $tmp/nginx/error.log;
events { worker_connections 1024; }
http {
	access_log off;
	sendfile on;
	tcp_nopush on;
	client_body_temp_path $tmp/nginx/body;
	server { listen 127.0.0.1:$NPORT; root $tmp/www; }
}
EOF
"$NGINX" -c "$tmp/nginx.conf" -p "$tmp/nginx" 2>/dev/null &
pids+=($!)
SURL=http://127.0.0.1:$(cat "$tmp/strand.port")
BURL=http://127.0.0.1:$(cat "$tmp/bare.port")
NURL=http://127.0.0.1:$NPORT
# up_within SECONDS CMD...: until CMD succeeds, or give up loudly.
up_within() {
	local end=$((SECONDS + $1))
	shift
	until "$@" >/dev/null 2>&1; do
		[ "$SECONDS" -lt "$end" ] || { say "never came up: $*"; exit 1; }
		sleep 0.05
	done
}
# the replicated rows' cluster (detached processes with pid files in
# $tmp/cluster, stopped by `strand cluster down` at exit)
"$STRAND" cluster up --brokers 3 --dir "$tmp/cluster" > "$tmp/cluster.txt"
C1=$(awk '$1 == "broker" && $2 == 1 {print $3}' "$tmp/cluster.txt")
C2=$(awk '$1 == "broker" && $2 == 2 {print $3}' "$tmp/cluster.txt")
# repl_topic NAME: a topic of 3 partitions (one led by each broker), replication
# factor 3, min_insync_replicas 2, created through broker 1; returns once every
# partition has a leader and all three replicas in its ISR (60 s).
repl_topic() {
	local end=$((SECONDS + 60))
	curl -sf -o /dev/null -XPOST "$C1/v1/topics" -H 'Content-Type: application/json' \
		-d "{\"name\":\"$1\",\"partitions\":3,\"replication_factor\":3,\"configs\":{\"min_insync_replicas\":2}}"
	until curl -sf "$C1/v1/topics/$1" | jq -e '[.partitions[] | select(.leader >= 0 and
		(.isr | length) == 3)] | length == 3' >/dev/null 2>&1; do
		[ "$SECONDS" -lt "$end" ] || { say "topic $1: no leader or ISR of 3 within 60 s"; exit 1; }
		sleep 0.1
	done
}
up_within 30 redis-cli -p "$RPORT" ping
up_within 30 curl -sf -o /dev/null "$NURL/big" -r 0-0
# (the topic is created first: wrk's first requests must not be 404s)
curl -s -o /dev/null -XPOST "$SURL/v1/topics" -H 'Content-Type: application/json' \
	-d "{\"name\":\"wrk\",\"partitions\":$PARTS}"
rvalue=$(head -c $SIZE /dev/zero | tr '\0' 'a')
# redis-benchmark runs a fixed count: size it to about SECS seconds.
rb() { timeout 300 redis-benchmark -h 127.0.0.1 -p "$RPORT" --csv "$@" | tail -n 1 | cut -d, -f2 | tr -d '"'; }
probe=$(rb -n 200000 -c 8 -P 100 XADD bench '*' v "$rvalue")
xadd_n=$(awk -v r="$probe" -v s="$SECS" 'BEGIN {printf "%d", r * s}')
probe=$(rb -n 2000 -c 8 XRANGE bench - + COUNT $BATCH)
xrange_n=$(awk -v r="$probe" -v s="$SECS" 'BEGIN {printf "%d", r * s + 1}')

# keep NAME VALUE [min]: one round's figure; best[NAME] keeps the highest
# (the lowest with "min": latencies), all[NAME] every round's.
declare -A best all
keep() {
	local v=${2:-0}
	all[$1]="${all[$1]:-}${all[$1]:+ }$v"
	if [ -z "${best[$1]:-}" ] || awk -v a="$v" -v b="${best[$1]}" -v m="${3:-max}" \
		'BEGIN {exit !(m == "min" ? a < b : a > b)}'; then
		best[$1]=$v
		[ -n "${4:-}" ] && printf -v "best_${1}" '%s' "$4"
	fi
	return 0
}

# One round measures every figure once, strand and its references one after
# the other, so a neighbour's load shows in both sides of the next ratio.
round() {
	local r=$1 v
	say "round $r of $ROUNDS: strand bench"
	sb s_json produce --topic "bench$r" --create --partitions "$PARTS" --records "$RECORDS" \
		--record-size $SIZE --batch $BATCH --acks 1 --connections 8
	keep s_json "$(kv records_per_s "$s_json")" max "$s_json"
	say "round $r: Redis"
	keep r_xadd "$(rb -n "$xadd_n" -c 8 -P 100 XADD bench '*' v "$rvalue")"
	sb s_bin produce --topic "bench$r" --format binary --records "$RECORDS" --record-size $SIZE \
		--batch $BATCH --acks 1 --connections 8
	keep s_bin "$(kv records_per_s "$s_bin")" max "$s_bin"
	sb s_fjson consume --topic "bench$r" --batch $BATCH --connections 8
	keep s_fjson "$(kv records_per_s "$s_fjson")" max "$s_fjson"
	v=$(rb -n "$xrange_n" -c 8 XRANGE bench - + COUNT $BATCH)
	keep r_xrange "$(awk -v r="$v" -v b=$BATCH 'BEGIN {printf "%.0f", r * b}')"
	sb s_fbin consume --topic "bench$r" --format binary --connections 8
	keep s_fbin "$(kv records_per_s "$s_fbin")" max "$s_fbin"
	say "round $r: wrk against strand and bare libmicrohttpd"
	wrk_run w_one -t1 -c32 -s "$tmp/body1.lua" "$SURL/v1/topics/wrk/records?acks=1"
	keep w_one "$w_one_rps"
	wrk_run b_one -t1 -c32 -s "$tmp/body1.lua" "$BURL/v1/topics/wrk/records?acks=1"
	keep b_one "$b_one_rps"
	wrk_run w_json -t1 -c8 -s "$tmp/body1000.lua" "$SURL/v1/topics/wrk/records?acks=1"
	keep w_json "$w_json_rps"
	wrk_run b_json -t1 -c8 -s "$tmp/body1000.lua" "$BURL/v1/topics/wrk/records?acks=1"
	keep b_json "$b_json_rps"
	wrk_run w_fjson -t1 -c8 "$SURL/v1/topics/bench$r/partitions/0/records?offset=0&max_records=$BATCH"
	keep w_fjson "$w_fjson_rps"
	fbin_url="$SURL/v1/topics/bench$r/partitions/0/records?offset=0&max_bytes=4194304"
	fbin_next=$(curl -s -D - -o /dev/null -H 'Accept: application/vnd.strand.batch' "$fbin_url" |
		awk -F': ' 'tolower($1) == "strand-next-offset" {print $2 + 0}')
	wrk_run w_fbin -t1 -c4 -H 'Accept: application/vnd.strand.batch' "$fbin_url"
	keep w_fbin "$(awk -v r="$w_fbin_rps" -v n="${fbin_next:-0}" 'BEGIN {printf "%.0f", r * n}')"
	say "round $r: sendfile, strand and nginx"
	curl_rate v "$SURL/v1/topics/bench$r/partitions/0/records?offset=0&max_bytes=67108864" \
		-H 'Accept: application/vnd.strand.batch'
	keep s_sendfile "$v"
	curl_rate v "$NURL/big"
	keep n_sendfile "$v"
	say "round $r: one record per POST, acks=all, end to end"
	sb s_one produce --topic "one$r" --create --partitions "$PARTS" --records 100000 \
		--record-size $SIZE --batch 1 --acks 1 --connections 32
	keep s_one "$(kv requests_per_s "$s_one")"
	sb s_ack1 produce --topic "acks$r" --create --partitions "$PARTS" --records 1000000 \
		--record-size $SIZE --batch 100 --acks 1 --connections 64
	keep s_ack1 "$(kv records_per_s "$s_ack1")"
	sb s_ackall produce --topic "acks$r" --records 1000000 --record-size $SIZE --batch 100 \
		--acks all --connections 64
	keep s_ackall "$(kv records_per_s "$s_ackall")" max "$s_ackall"
	say "round $r: replicated acks=all, 3 brokers"
	repl_topic "repl$r"
	SURL=$C1 sb s_repl produce --topic "repl$r" --leaders --records 1000000 --record-size $SIZE \
		--batch 100 --acks all --connections 64
	keep s_repl "$(kv records_per_s "$s_repl")" max "$s_repl"
	SURL=$C2 sb s_relay produce --topic "repl$r" --records 1000000 --record-size $SIZE \
		--batch 100 --acks all --connections 64
	keep s_relay "$(kv records_per_s "$s_relay")" max "$s_relay"
	sb s_e2e e2e --topic "e2e$r" --create --partitions "$PARTS" --rate 10000 --duration 10 \
		--record-size $SIZE --batch 10 --acks 1 --connections 4
	keep e2e_p99 "$(kv p99_ms "$s_e2e")" min "$s_e2e"
}

for r in $(seq "$ROUNDS"); do round "$r"; done

# ---- the table ---------------------------------------------------------------------
f() { awk -v x="$1" 'BEGIN {printf "%.0f", x}'; }
mul() { awk -v a="$1" -v b="$2" 'BEGIN {printf "%.0f", a * b}'; }
body1000=$(wc -c < "$tmp/body1000.json")
# the figures as the table shows them (wrk's requests/s times records or bytes)
for k in w_json b_json; do
	all[${k}_mb]=$(for v in ${all[$k]}; do awk -v r="$v" -v s="$body1000" 'BEGIN {printf "%.1f ", r * s / 1e6}'; done)
	all[$k]=$(for v in ${all[$k]}; do mul "$v" $BATCH; printf ' '; done)
done
all[w_fjson]=$(for v in ${all[w_fjson]}; do mul "$v" $BATCH; printf ' '; done)
maxof() { echo "$1" | tr ' ' '\n' | awk 'NF {if (m == "" || $1 > m) m = $1} END {print m + 0}'; }
# row WHAT STRAND_KEY REF_NAME REF_KEY TARGET: the best of the rounds on each
# side, and the ratio of every round (same round's strand over reference).
row() {
	local a b ratio ok rounds
	a=$(maxof "${all[$2]}")
	b=$(maxof "${all[$4]}")
	ratio=$(awk -v a="$a" -v b="$b" 'BEGIN {if (b > 0) printf "%.2f", a / b; else print "-"}')
	ok=$(awk -v r="$ratio" -v t="$5" 'BEGIN {if (t == "-") print ""; else if (r + 0 >= t + 0) print "met"; else print "MISSED"}')
	rounds=$(paste -d' ' <(echo "${all[$2]}" | tr ' ' '\n' | awk NF) <(echo "${all[$4]}" | tr ' ' '\n' | awk NF) |
		awk '{printf "%s%.2f", (NR > 1 ? " " : ""), ($2 > 0 ? $1 / $2 : 0)}')
	printf "%-44s %10s  %-34s %10s %7sx %-8s %-6s %s\n" "$1" "$(f "$a")" "$3" "$(f "$b")" "$ratio" \
		"$([ "$5" = - ] && echo "" || echo ">= ${5}x")" "$ok" "$rounds"
}
cpu=$(awk -F': ' '/model name/ {print $2; exit}' /proc/cpuinfo)
echo
echo "strand bench — $(date -u '+%Y-%m-%d %H:%M UTC'), $(nproc) x ${cpu:-unknown CPU}," \
	"load $load_start at start, $(cut -d' ' -f1-3 /proc/loadavg) at end," \
	"${SIZE}-byte values, $PARTS partitions, best of $ROUNDS interleaved rounds"
printf "%-44s %10s  %-34s %10s %8s %-8s %-6s %s\n" "strand figure (records/s unless stated)" "strand" \
	"reference" "ref" "ratio" "target" "" "ratio per round"
row "produce JSON 1000/req acks=1 (strand bench)" s_json "Redis XADD -P 100 (rec/s)" r_xadd 4
row "produce JSON 1000/req acks=1 (wrk)" w_json "Redis XADD -P 100 (rec/s)" r_xadd 4
row "produce binary 1000/batch acks=1" s_bin "Redis XADD -P 100 (rec/s)" r_xadd 10
row "fetch JSON 1000/req (strand bench)" s_fjson "Redis XRANGE COUNT 1000 (rec/s)" r_xrange 1
row "fetch JSON 1000/req (wrk, same offset)" w_fjson "Redis XRANGE COUNT 1000 (rec/s)" r_xrange 1
row "fetch binary 1 MiB/req (strand bench)" s_fbin "Redis XRANGE COUNT 1000 (rec/s)" r_xrange 5
row "fetch binary 4 MiB/req (wrk, same offset)" w_fbin "Redis XRANGE COUNT 1000 (rec/s)" r_xrange 5
row "fetch binary 64 MiB/req (curl) MB/s" s_sendfile "nginx sendfile 64 MiB (curl, MB/s)" n_sendfile -
row "one record per POST, requests/s (wrk)" w_one "bare MHD, same body (req/s, wrk)" b_one 0.5
row "one record per POST (strand bench)" s_one "bare MHD, same body (req/s, wrk)" b_one -
row "produce JSON 1000/req, wrk, MB/s in" w_json_mb "bare MHD, same body (MB/s in)" b_json_mb -
row "acks=all, 64 producers, 100/req" s_ackall "same with acks=1 (rec/s)" s_ack1 0.3
row "replicated x3 acks=all, to leaders" s_repl "1 broker acks=1, as above (rec/s)" s_ack1 0.3
row "replicated x3 acks=all, any broker relays" s_relay "1 broker acks=1, as above (rec/s)" s_ack1 -
p99=${best[e2e_p99]}
printf "%-44s %10s\n" "end-to-end 10k rec/s via long poll, p50 ms" "$(kv p50_ms "$best_e2e_p99")"
printf "%-44s %10s  %-34s %10s %8s %-8s %-6s %s\n" "end-to-end 10k rec/s via long poll, p99 ms" "$p99" \
	"(best round)" "" "" "<= 5 ms" "$(awk -v p="$p99" 'BEGIN {print (p <= 5 ? "met" : "MISSED")}')" \
	"p99 per round: ${all[e2e_p99]}"
printf "%-44s %10s\n" "end-to-end 10k rec/s via long poll, p99.9 ms" "$(kv p999_ms "$best_e2e_p99")"
echo
echo "latency ms (strand bench, per request, best round): produce JSON p50/p99/p99.9" \
	"$(kv p50_ms "$best_s_json")/$(kv p99_ms "$best_s_json")/$(kv p999_ms "$best_s_json");" \
	"binary $(kv p50_ms "$best_s_bin")/$(kv p99_ms "$best_s_bin")/$(kv p999_ms "$best_s_bin");" \
	"acks=all $(kv p50_ms "$best_s_ackall")/$(kv p99_ms "$best_s_ackall")/$(kv p999_ms "$best_s_ackall");" \
	"replicated acks=all $(kv p50_ms "$best_s_repl")/$(kv p99_ms "$best_s_repl")/$(kv p999_ms "$best_s_repl")"
echo "MB/s of values (best round): produce JSON $(kv mb_per_s "$best_s_json"), binary $(kv mb_per_s "$best_s_bin")," \
	"fetch JSON $(kv mb_per_s "$best_s_fjson"), binary $(kv mb_per_s "$best_s_fbin")"

# the failover trials last: their own cluster, every other server idle
failover_trials
