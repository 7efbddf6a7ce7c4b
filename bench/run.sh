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
#
# References come from Debian (redis-server, redis-tools, nginx-light, wrk)
# and are installed here when missing, never by scripts/deps.sh: CI does
# not need them. Every server listens on 127.0.0.1 on a free port with its
# data in a temp dir and is stopped at exit.
#
# Environment: BENCH_SECONDS (per wrk/redis measurement, default 5),
# BENCH_RECORDS (records of the produce runs, default 3000000),
# BENCH_PARTITIONS (default 2), BENCH_KEEP=1 keeps the temp dir.
set -euo pipefail

top=$(cd "$(dirname "$0")/.." && pwd)
SECS=${BENCH_SECONDS:-5}
RECORDS=${BENCH_RECORDS:-3000000}
PARTS=${BENCH_PARTITIONS:-2}
SIZE=100
BATCH=1000

say() { echo "bench: $*" >&2; }
load_start=$(cut -d' ' -f1-3 /proc/loadavg)   # the machine is shared: say how busy

# ---- references from Debian, only when missing ----------------------------
need=""
command -v redis-server >/dev/null || need="$need redis-server"
command -v redis-benchmark >/dev/null || need="$need redis-tools"
command -v nginx >/dev/null || [ -x /usr/sbin/nginx ] || need="$need nginx-light"
command -v wrk >/dev/null || need="$need wrk"
if [ -n "$need" ]; then
	say "installing$need"
	SUDO=""; [ "$(id -u)" -eq 0 ] || SUDO="sudo"
	export DEBIAN_FRONTEND=noninteractive
	$SUDO apt-get -o DPkg::Lock::Timeout=600 update -qq
	# shellcheck disable=SC2086
	$SUDO apt-get -o DPkg::Lock::Timeout=600 install -y -qq --no-install-recommends $need >/dev/null
fi
NGINX=$(command -v nginx || echo /usr/sbin/nginx)

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
	[ "${BENCH_KEEP:-0}" = 1 ] || rm -rf "$tmp"
}
trap cleanup EXIT INT TERM

# A free TCP port on 127.0.0.1 (nobody answers a connect there).
free_port() {
	local p
	while :; do
		p=$((20000 + RANDOM % 40000))
		if ! (exec 3<>"/dev/tcp/127.0.0.1/$p") 2>/dev/null; then
			echo "$p"
			return
		fi
	done
}

# wait_file FILE: until a port file appears (10 s).
wait_file() {
	local i
	for i in $(seq 200); do [ -s "$1" ] && return 0; sleep 0.05; done
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

# ---- strand ---------------------------------------------------------------
say "strand"
"$STRAND" serve --listen 127.0.0.1:0 --port-file "$tmp/strand.port" \
	--data-dir "$tmp/strand" 2> "$tmp/strand.log" &
pids+=($!)
wait_file "$tmp/strand.port"
SURL=http://127.0.0.1:$(cat "$tmp/strand.port")

sb s_json produce --topic bench --create --partitions "$PARTS" --records "$RECORDS" \
	--record-size $SIZE --batch $BATCH --acks 1 --connections 8
sb s_bin produce --topic bench --format binary --records "$RECORDS" --record-size $SIZE \
	--batch $BATCH --acks 1 --connections 8
sb s_fjson consume --topic bench --batch $BATCH --connections 8
sb s_fbin consume --topic bench --format binary --connections 8
sb s_one produce --topic one --create --partitions "$PARTS" --records 100000 \
	--record-size $SIZE --batch 1 --acks 1 --connections 32
sb s_ack1 produce --topic acks --create --partitions "$PARTS" --records 1000000 \
	--record-size $SIZE --batch 100 --acks 1 --connections 64
sb s_ackall produce --topic acks --records 1000000 --record-size $SIZE --batch 100 \
	--acks all --connections 64
sb s_e2e e2e --topic e2e --create --partitions "$PARTS" --rate 10000 --duration 10 \
	--record-size $SIZE --batch 10 --acks 1 --connections 4

say "strand under wrk"
# (the topic is created first: wrk's first requests must not be 404s)
curl -s -o /dev/null -XPOST "$SURL/v1/topics" -H 'Content-Type: application/json' \
	-d "{\"name\":\"wrk\",\"partitions\":$PARTS}"
wrk_run w_json -t1 -c8 -s "$tmp/body1000.lua" "$SURL/v1/topics/wrk/records?acks=1"
wrk_run w_one -t1 -c32 -s "$tmp/body1.lua" "$SURL/v1/topics/wrk/records?acks=1"
wrk_run w_fjson -t1 -c8 "$SURL/v1/topics/bench/partitions/0/records?offset=0&max_records=$BATCH"
fbin_url="$SURL/v1/topics/bench/partitions/0/records?offset=0&max_bytes=4194304"
fbin_next=$(curl -s -D - -o /dev/null -H 'Accept: application/vnd.strand.batch' "$fbin_url" |
	awk -F': ' 'tolower($1) == "strand-next-offset" {print $2 + 0}')
wrk_run w_fbin -t1 -c4 -H 'Accept: application/vnd.strand.batch' "$fbin_url"
curl_rate s_sendfile "$SURL/v1/topics/bench/partitions/0/records?offset=0&max_bytes=67108864" \
	-H 'Accept: application/vnd.strand.batch'
kill "${pids[-1]}"; wait "${pids[-1]}" 2>/dev/null || true

# ---- bare libmicrohttpd -------------------------------------------------------
say "bare libmicrohttpd"
"$BARE" "$tmp/bare.port" &
pids+=($!)
wait_file "$tmp/bare.port"
BURL=http://127.0.0.1:$(cat "$tmp/bare.port")
wrk_run b_one -t1 -c32 -s "$tmp/body1.lua" "$BURL/v1/topics/wrk/records?acks=1"
wrk_run b_json -t1 -c8 -s "$tmp/body1000.lua" "$BURL/v1/topics/wrk/records?acks=1"
kill "${pids[-1]}"; wait "${pids[-1]}" 2>/dev/null || true

# ---- Redis Streams --------------------------------------------------------------
say "Redis Streams (AOF everysec)"
RPORT=$(free_port)
mkdir -p "$tmp/redis"
redis-server --bind 127.0.0.1 --port "$RPORT" --dir "$tmp/redis" --appendonly yes \
	--appendfsync everysec --save '' --daemonize no --logfile "$tmp/redis.log" &
pids+=($!)
for i in $(seq 200); do redis-cli -p "$RPORT" ping >/dev/null 2>&1 && break; sleep 0.05; done
rvalue=$(head -c $SIZE /dev/zero | tr '\0' 'a')
# redis-benchmark runs a fixed count: size it to about SECS seconds.
rb() { redis-benchmark -h 127.0.0.1 -p "$RPORT" --csv "$@" | tail -n 1 | cut -d, -f2 | tr -d '"'; }
probe=$(rb -n 200000 -c 8 -P 100 XADD bench '*' v "$rvalue")
r_xadd=$(rb -n "$(awk -v r="$probe" -v s="$SECS" 'BEGIN {printf "%d", r * s}')" \
	-c 8 -P 100 XADD bench '*' v "$rvalue")
probe=$(rb -n 2000 -c 8 XRANGE bench - + COUNT $BATCH)
r_xrange_rps=$(rb -n "$(awk -v r="$probe" -v s="$SECS" 'BEGIN {printf "%d", r * s + 1}')" \
	-c 8 XRANGE bench - + COUNT $BATCH)
r_xrange=$(awk -v r="$r_xrange_rps" -v b=$BATCH 'BEGIN {printf "%.0f", r * b}')
kill "${pids[-1]}"; wait "${pids[-1]}" 2>/dev/null || true

# ---- nginx (sendfile) -----------------------------------------------------------
say "nginx sendfile"
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
for i in $(seq 200); do curl -s -o /dev/null "http://127.0.0.1:$NPORT/big" -r 0-0 && break; sleep 0.05; done
curl_rate n_sendfile "http://127.0.0.1:$NPORT/big"
kill "${pids[-1]}"; wait "${pids[-1]}" 2>/dev/null || true

# ---- the table ---------------------------------------------------------------------
f() { awk -v x="$1" 'BEGIN {printf "%.0f", x}'; }
mul() { awk -v a="$1" -v b="$2" 'BEGIN {printf "%.0f", a * b}'; }
row() {  # what strand_value ref_name ref_value target_ratio unit
	local ratio ok
	ratio=$(awk -v a="$2" -v b="$4" 'BEGIN {if (b > 0) printf "%.2f", a / b; else print "-"}')
	ok=$(awk -v r="$ratio" -v t="$5" 'BEGIN {if (t == "-") print ""; else if (r + 0 >= t + 0) print "met"; else print "MISSED"}')
	printf "%-44s %12s  %-30s %12s  %7sx %8s %s\n" "$1" "$(f "$2")" "$3" "$(f "$4")" "$ratio" \
		"$([ "$5" = - ] && echo "" || echo ">= ${5}x")" "$ok"
}
cpu=$(awk -F': ' '/model name/ {print $2; exit}' /proc/cpuinfo)
echo
echo "strand bench — $(date -u '+%Y-%m-%d %H:%M UTC'), $(nproc) x ${cpu:-unknown CPU}," \
	"load $load_start at start, $(cut -d' ' -f1-3 /proc/loadavg) at end," \
	"${SIZE}-byte values, $PARTS partitions"
printf "%-44s %12s  %-30s %12s  %8s %8s\n" "strand figure (records/s unless stated)" "strand" \
	"reference" "ref" "ratio" "target"
row "produce JSON 1000/req acks=1 (strand bench)" "$(kv records_per_s "$s_json")" \
	"Redis XADD -P 100 (rec/s)" "$r_xadd" 4
row "produce JSON 1000/req acks=1 (wrk)" "$(mul "$w_json_rps" $BATCH)" \
	"Redis XADD -P 100 (rec/s)" "$r_xadd" 4
row "produce binary 1000/batch acks=1" "$(kv records_per_s "$s_bin")" \
	"Redis XADD -P 100 (rec/s)" "$r_xadd" 10
row "fetch JSON 1000/req (strand bench)" "$(kv records_per_s "$s_fjson")" \
	"Redis XRANGE COUNT 1000 (rec/s)" "$r_xrange" 1
row "fetch JSON 1000/req (wrk, same offset)" "$(mul "$w_fjson_rps" $BATCH)" \
	"Redis XRANGE COUNT 1000 (rec/s)" "$r_xrange" 1
row "fetch binary 1 MiB/req (strand bench)" "$(kv records_per_s "$s_fbin")" \
	"Redis XRANGE COUNT 1000 (rec/s)" "$r_xrange" 5
row "fetch binary 4 MiB/req (wrk, same offset)" "$(mul "$w_fbin_rps" "${fbin_next:-0}")" \
	"Redis XRANGE COUNT 1000 (rec/s)" "$r_xrange" -
row "fetch binary 64 MiB/req (curl) MB/s" "$s_sendfile" "nginx sendfile 64 MiB (curl, MB/s)" \
	"$n_sendfile" -
row "one record per POST, requests/s (wrk)" "$w_one_rps" "bare MHD, same body (req/s)" \
	"$b_one_rps" 0.5
row "one record per POST (strand bench)" "$(kv requests_per_s "$s_one")" \
	"bare MHD, same body (req/s)" "$b_one_rps" -
row "produce JSON 1000/req, wrk, MB/s in" "$(awk -v r="$w_json_rps" -v s="$(wc -c < "$tmp/body1000.json")" 'BEGIN {print r * s / 1e6}')" \
	"bare MHD, same body (MB/s in)" "$(awk -v r="$b_json_rps" -v s="$(wc -c < "$tmp/body1000.json")" 'BEGIN {print r * s / 1e6}')" -
row "acks=all, 64 producers, 100/req" "$(kv records_per_s "$s_ackall")" \
	"same with acks=1 (rec/s)" "$(kv records_per_s "$s_ack1")" 0.3
printf "%-44s %12s  %s\n" "end-to-end 10k rec/s via long poll, p50 ms" "$(kv p50_ms "$s_e2e")" ""
printf "%-44s %12s  %s\n" "end-to-end 10k rec/s via long poll, p99 ms" "$(kv p99_ms "$s_e2e")" \
	"target <= 5 ms: $(awk -v p="$(kv p99_ms "$s_e2e")" 'BEGIN {print (p <= 5 ? "met" : "MISSED")}')"
printf "%-44s %12s\n" "end-to-end 10k rec/s via long poll, p99.9 ms" "$(kv p999_ms "$s_e2e")"
echo
echo "latency ms (strand bench, per request): produce JSON p50/p99/p99.9" \
	"$(kv p50_ms "$s_json")/$(kv p99_ms "$s_json")/$(kv p999_ms "$s_json");" \
	"binary $(kv p50_ms "$s_bin")/$(kv p99_ms "$s_bin")/$(kv p999_ms "$s_bin");" \
	"acks=all $(kv p50_ms "$s_ackall")/$(kv p99_ms "$s_ackall")/$(kv p999_ms "$s_ackall")"
echo "MB/s of values: produce JSON $(kv mb_per_s "$s_json"), binary $(kv mb_per_s "$s_bin")," \
	"fetch JSON $(kv mb_per_s "$s_fjson"), binary $(kv mb_per_s "$s_fbin")"
