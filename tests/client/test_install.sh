#!/usr/bin/env bash
# `make install` into a temporary prefix, then build tests/client/installed_api.c
# the way a user would: only the installed strand.h, libstrand.so and
# strand.pc, found through `pkg-config --cflags --libs strand`.
set -euo pipefail
: "${abs_top_builddir:?}" "${abs_top_srcdir:?}"
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
prefix="$tmp/prefix"

# the parent make's jobserver is not ours to use
env -u MAKEFLAGS -u MFLAGS make -C "$abs_top_builddir" install prefix="$prefix" >"$tmp/install.log" 2>&1 ||
	{ tail -n 40 "$tmp/install.log"; echo "make install failed"; exit 1; }
for f in lib/libstrand.so include/strand.h lib/pkgconfig/strand.pc bin/strand; do
	[ -e "$prefix/$f" ] || { echo "not installed: $f"; ls -R "$prefix"; exit 1; }
done
# only the public names are exported
if nm -D --defined-only "$prefix/lib/libstrand.so" | awk '{print $3}' | grep -v '^strand_' | grep -q .; then
	echo "libstrand.so exports non-strand_ symbols:"
	nm -D --defined-only "$prefix/lib/libstrand.so" | awk '{print $3}' | grep -v '^strand_' | head
	exit 1
fi

export PKG_CONFIG_PATH="$prefix/lib/pkgconfig"
flags=$(pkg-config --define-variable=prefix="$prefix" --cflags --libs strand)
case "$flags" in *"$prefix"*) ;; *) echo "pkg-config flags do not point into the prefix: $flags"; exit 1 ;; esac
# CFLAGS/LDFLAGS of the build (sanitizers: the program must link their runtime too)
# shellcheck disable=SC2086
${CC:-cc} ${CFLAGS:-} -std=c11 -Wall -Wextra -Werror -o "$tmp/installed_api" \
	"$abs_top_srcdir/tests/client/installed_api.c" $flags ${LDFLAGS:-}
LD_LIBRARY_PATH="$prefix/lib" "$tmp/installed_api"
