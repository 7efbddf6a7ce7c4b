#!/bin/sh
# test_client_tls_auth.sh — libstrand against an HTTPS broker that wants
# bearer tokens (docs/SECURITY.md): with ssl.ca.location and
# sasl.oauthbearer.token `strand produce` and `strand topic` work; without
# the CA the TLS check fails (TLS), without the token the broker refuses
# (UNAUTHORIZED), and a wrong CA is refused too.
#
# Automake test: exit 0 pass, 1 fail, 77 skip. STRAND_BIN is the binary.
set -u

STRAND=${STRAND_BIN:-./strand}
[ -x "$STRAND" ] || { echo "SKIP: no strand binary at $STRAND"; exit 77; }
for tool in curl jq openssl; do
	command -v $tool >/dev/null || { echo "SKIP: $tool not installed"; exit 77; }
done

tmp=$(mktemp -d "${TMPDIR:-/tmp}/strand-clienttls.XXXXXX") || exit 99
pid=""
cleanup() {
	[ -n "$pid" ] && kill "$pid" 2>/dev/null && wait "$pid" 2>/dev/null
	rm -rf "$tmp"
}
trap cleanup EXIT INT TERM
fail() {
	echo "FAIL: $*"
	tail -5 "$tmp/server.log"
	exit 1
}
until_ok() {
	limit=$(($(date +%s) + $1)); shift
	while ! "$@"; do
		[ "$(date +%s)" -lt "$limit" ] || return 1
		sleep 0.1
	done
}

# a CA, a server certificate for 127.0.0.1, and a second CA that signed nothing
( cd "$tmp" &&
  openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes \
	-keyout ca.key -out ca.pem -days 2 -subj /CN=strand-test-ca &&
  openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes \
	-keyout other.key -out other.pem -days 2 -subj /CN=other-ca &&
  openssl req -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes \
	-keyout server.key -out server.csr -subj /CN=127.0.0.1 &&
  printf 'subjectAltName=IP:127.0.0.1\n' > san.ext &&
  openssl x509 -req -in server.csr -CA ca.pem -CAkey ca.key -CAcreateserial \
	-out server.pem -days 2 -extfile san.ext ) >"$tmp/openssl.log" 2>&1 || fail "openssl"
TOKEN=alice-token-0123456789
echo "$TOKEN alice" >"$tmp/tokens"

"$STRAND" serve --listen 127.0.0.1:0 --data-dir "$tmp/data" --port-file "$tmp/port" \
	--tls-cert "$tmp/server.pem" --tls-key "$tmp/server.key" --auth-file "$tmp/tokens" \
	>"$tmp/server.log" 2>&1 &
pid=$!
until_ok 30 test -s "$tmp/port" || fail "server did not start"
B="https://127.0.0.1:$(cat "$tmp/port")"
until_ok 30 curl -sf --cacert "$tmp/ca.pem" -o /dev/null "$B/healthz" || fail "server not healthy"

X="-X ssl.ca.location=$tmp/ca.pem -X sasl.oauthbearer.token=$TOKEN"
# shellcheck disable=SC2086
"$STRAND" topic create secure --partitions 2 --broker "$B" $X 2>"$tmp/create.err" ||
	fail "topic create over TLS with a token: $(cat "$tmp/create.err")"
# shellcheck disable=SC2086
seq 1 500 | "$STRAND" produce secure --broker "$B" $X 2>"$tmp/produce.err" ||
	fail "produce over TLS with a token: $(cat "$tmp/produce.err")"
grep -q "500 records delivered" "$tmp/produce.err" || fail "produce: $(cat "$tmp/produce.err")"
n=$(curl -sf --cacert "$tmp/ca.pem" -H "Authorization: Bearer $TOKEN" "$B/v1/topics/secure" |
	jq '[.partitions[].high_watermark] | add')
[ "$n" = 500 ] || fail "stored $n records, expected 500"

echo 1 | "$STRAND" produce secure --broker "$B" -X sasl.oauthbearer.token=$TOKEN \
	-X ssl.ca.location="$tmp/other.pem" 2>"$tmp/wrongca.err" && fail "a wrong CA was accepted"
grep -q "TLS\|certificate" "$tmp/wrongca.err" || fail "wrong CA: $(cat "$tmp/wrongca.err")"
echo 1 | "$STRAND" produce secure --broker "$B" -X ssl.ca.location="$tmp/ca.pem" \
	2>"$tmp/notoken.err" && fail "no token was accepted"
grep -q "unauthorized\|UNAUTHORIZED\|bearer token" "$tmp/notoken.err" || fail "no token: $(cat "$tmp/notoken.err")"
"$STRAND" topic list --broker "$B" -X ssl.ca.location="$tmp/ca.pem" \
	-X sasl.oauthbearer.token=wrong-token-0123456789 2>"$tmp/badtoken.err" && fail "a bad token was accepted"
grep -q UNAUTHORIZED "$tmp/badtoken.err" || fail "bad token: $(cat "$tmp/badtoken.err")"
echo "PASS"
exit 0
