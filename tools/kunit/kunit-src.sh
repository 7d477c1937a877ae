#!/bin/sh
# SPDX-License-Identifier: MIT
#
# Unpack Debian's linux-source-6.1 once, for kunit.py (tools/kunit/README.md),
# into ${VMM_CACHE:-$HOME/.cache/vmm}/kunit-src-<hash>/linux-source-6.1, where
# <hash> covers the package version and this script. The tree is only read
# (kunit.py builds with O=<build dir>), so every kunit build shares it. It is
# unpacked into a temporary directory and renamed into place when complete, so
# an interrupted unpack never leaves a half tree.
#
# Prints "KUNIT_SRC=<tree>" and "KUNIT_BUILD=<build dir>" as its last lines:
# the build directory to hand kunit.py's --build_dir, in the cache too, keyed
# by the same version and by the kconfig fragment of tools/kunit/vmm_x86_64.py; kunit.py itself rebuilds incrementally inside it.
set -eu

here=$(cd "$(dirname "$0")" && pwd)
src_tar=/usr/src/linux-source-6.1.tar.xz
cache=${VMM_CACHE:-$HOME/.cache/vmm}

die() {
	echo "kunit-src.sh: error: $*" >&2
	exit 1
}

if ! version=$(dpkg-query -W -f='${Version}' linux-source-6.1 2>/dev/null) ||
   [ -z "$version" ] || [ ! -f "$src_tar" ]; then
	die "linux-source-6.1 is not installed ($src_tar missing); run scripts/install-deps.sh (or: apt-get install linux-source-6.1)"
fi

# Bump the "layout" word when this script changes what it unpacks.
src_hash=$(printf 'layout 1 linux-source-6.1 %s\n' "$version" | sha256sum | cut -c1-16)
# Only the kconfig lines: editing a comment must not cost a kernel build.
build_hash=$({ printf '%s\n' "$src_hash"; grep -E '^(# )?CONFIG_' "$here/vmm_x86_64.py"; } |
	sha256sum | cut -c1-16)
src="$cache/kunit-src-$src_hash"

if [ ! -f "$src/linux-source-6.1/Makefile" ]; then
	mkdir -p "$cache"
	tmp=$(mktemp -d "$cache/kunit-src-$src_hash.tmp.XXXXXX")
	trap 'rm -rf "$tmp"' EXIT
	echo "kunit-src.sh: unpacking linux-source-6.1 $version into $src" >&2
	tar -xf "$src_tar" -C "$tmp"
	[ -f "$tmp/linux-source-6.1/Makefile" ] || die "unexpected layout of $src_tar"
	# Another run may have finished first: keep its tree.
	mv -T "$tmp" "$src" 2>/dev/null || rm -rf "$tmp"
	trap - EXIT
fi
echo "KUNIT_SRC=$src/linux-source-6.1"
echo "KUNIT_BUILD=$cache/kunit-build-$build_hash"
