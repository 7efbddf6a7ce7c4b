#!/bin/sh
# test_fuzz.sh — every libFuzzer target (fuzz/) for FUZZ_CHECK_SECONDS
# (default 8) from its seed corpus, built with clang under ASan and UBSan
# in build-fuzz/ beside the test's build tree. Every seed, including the
# regression inputs of past findings, is replayed first; any finding fails.
# `make fuzz FUZZ_SECONDS=N` runs them longer.
#
# Automake test: exit 0 pass, 1 fail, 77 skip (no clang), 99 hard error.
set -u
src=${srcdir:-.}
top=$(cd "$src" && pwd) || exit 99
FUZZ_SECONDS=${FUZZ_CHECK_SECONDS:-8} FUZZ_BUILD=$PWD/build-fuzz \
	exec "$top/scripts/fuzz.sh"
