#!/usr/bin/env bash
# What many connections and hostile clients cost (issue 11 "Bounded memory"):
# an optimised strand on a free loopback port with a temporary data dir; a
# topic of ~16 MiB; then bench/connections (10,000 idle keep-alive
# connections, 1,000 parked long polls, 500 slow clients) reports the
# broker's RSS at each step and a normal client's p50/p99 before and while
# the slow clients misbehave. Usage: bench/connections.sh [--idle N] [--parked M] [--slow S]
set -euo pipefail
top=$(cd "$(dirname "$0")/.." && pwd)
cd "$top"
[ -f configure ] || autoreconf -fi >/dev/null 2>&1
mkdir -p build-release
(cd build-release && { [ -f Makefile ] || ../configure CFLAGS="-O2 -g" >/dev/null; } && make -j"$(nproc)" strand >/dev/null)
work=$(mktemp -d /tmp/strand-conn-XXXXXX)
pid=""
trap '[ -n "$pid" ] && { kill "$pid" 2>/dev/null; wait "$pid" 2>/dev/null; }; rm -rf "$work"' EXIT
cc -O2 -Wall -Werror -o "$work/connections" bench/connections.c
ulimit -n "$(ulimit -Hn)"
./build-release/strand serve --listen 127.0.0.1:0 --port-file "$work/port" --data-dir "$work/data" \
	--max-connections-per-client 20000 --max-connections 15000 --idle-timeout-s 600 ${STRAND_SERVE_ARGS:-} \
	>"$work/server.log" 2>&1 &
pid=$!
for _ in $(seq 500); do [ -s "$work/port" ] && break; sleep 0.02; done
port=$(cat "$work/port")
B=http://127.0.0.1:$port
curl -sf -XPOST "$B/v1/topics" -H 'Content-Type: application/json' -d '{"name":"conn","partitions":1}' >/dev/null
# 16 requests of 1000 records of ~1 KiB: ~16 MiB to fetch and tail
python3 - "$work/body.json" <<'PY'
import json, sys
json.dump({"records": [{"value": "v" * 1000} for _ in range(1000)]}, open(sys.argv[1], "w"))
PY
for _ in $(seq 16); do
	curl -sf -XPOST "$B/v1/topics/conn/partitions/0/records?acks=1" -H 'Content-Type: application/json' \
		--data-binary @"$work/body.json" >/dev/null
done
"$work/connections" --port "$port" --pid "$pid" --topic conn --hw 16000 "$@"
