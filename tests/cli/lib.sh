# lib.sh — helpers shared by the CLI script tests (sourced, not run):
#   fail MSG              print FAIL, the tail of every $tmp/*.err, exit 1
#   expect WHAT WANT GOT  fail unless WANT = GOT
#   until_ok SECS CMD...  rerun CMD until it succeeds or SECS pass (1)
#   serve_start           `strand serve` on a run-time port with data in
#                         $tmp: sets pid and B (its URL), fails if not healthy
# Needs STRAND (the binary) and tmp (the test's temp dir).

fail() {
	echo "FAIL: $*"
	for f in "$tmp"/*.err; do [ -f "$f" ] && { echo "== $f"; tail -5 "$f"; }; done
	exit 1
}
expect() {
	[ "$2" = "$3" ] || fail "$1: expected [$2], got [$3]"
}
until_ok() {
	limit=$(($(date +%s) + $1)); shift
	while ! "$@"; do
		[ "$(date +%s)" -lt "$limit" ] || return 1
		sleep 0.1
	done
}
serve_start() {
	"$STRAND" serve --listen 127.0.0.1:0 --data-dir "$tmp/data" --port-file "$tmp/port" \
		>"$tmp/server.log" 2>&1 &
	pid=$!
	until_ok 30 test -s "$tmp/port" || fail "server did not start"
	B="http://127.0.0.1:$(cat "$tmp/port")"
	until_ok 30 curl -sf -o /dev/null "$B/healthz" || fail "server not healthy"
}
