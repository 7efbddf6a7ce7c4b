#!/usr/bin/env bash
# Install what strand needs to build and test on Debian (run as root).
# Idempotent: skips apt when every package is already installed.
set -euo pipefail
PKGS="build-essential autoconf automake pkg-config libmicrohttpd-dev libcjson-dev
      libcurl4-openssl-dev check curl"
# openssl: tests/api/test_tls and tests/cluster/test_cluster_secure (through the
# cluster harness) make their own CA and server certificate with it
PKGS="$PKGS openssl"
# jq: the curl-only consumer example (scripts/group-consumer.sh) and its test
PKGS="$PKGS jq"
# etcd-server: cluster mode's coordination store (src/cluster/etcd.c talks to
# its v3 JSON gateway); the cluster tests start a private etcd on loopback
PKGS="$PKGS etcd-server"
# chromium: the dashboard's browser tests (tests/www/), driven by npm's
# playwright-core, which downloads no browser of its own
PKGS="$PKGS chromium"
# node and npm build the dashboard (www/, `npm ci`); the machine image may
# carry them from elsewhere, so only ask Debian when they are absent
command -v node >/dev/null 2>&1 || PKGS="$PKGS nodejs"
command -v npm >/dev/null 2>&1 || PKGS="$PKGS npm"
# libtool: libstrand (src/client/) is built and installed as a shared library
PKGS="$PKGS libtool"
# clang, libfuzzer-14-dev, libclang-rt-14-dev: the libFuzzer targets under ASan and
# UBSan (scripts/fuzz.sh, `make fuzz`, tests/fuzz/test_fuzz.sh in make check)
PKGS="$PKGS clang libfuzzer-14-dev libclang-rt-14-dev"
missing=""
for p in $PKGS; do
	dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing="$missing $p"
done
if [ -n "$missing" ]; then
	echo "deps: installing$missing"
	export DEBIAN_FRONTEND=noninteractive
	apt-get update -qq
	# shellcheck disable=SC2086
	apt-get install -y -qq --no-install-recommends $missing
fi
# npm tools of the contract tests (Redocly CLI, Prism, openapi-typescript):
# `npm ci` from tests/contract/package-lock.json, skipped when installed
"$(dirname "$0")/../tests/contract/npm-deps.sh"
