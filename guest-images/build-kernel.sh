#!/bin/sh
# SPDX-License-Identifier: MIT
#
# Build the test guest's Linux 6.1 kernel (vmlinux and bzImage) from Debian's
# linux-source-6.1: `make tinyconfig`, then the fragment guest-images/kernel.config.
#
# The result is cached outside the work tree in
#   ${VMM_CACHE:-$HOME/.cache/vmm}/kernel-<hash>/{vmlinux,bzImage,config}
# where <hash> covers the fragment, this script and the linux-source package
# version, so editing either rebuilds and an unchanged setup costs nothing.
# The build happens in a temporary directory that is renamed into place only
# when complete: an interrupted build never leaves a half-filled cache entry.
#
# Environment: VMM_CACHE (cache root), JOBS (make -j, default nproc),
# VMM_KEEP_KERNEL_TREE=1 (keep the build tree next to the cache entry).
# Prints "KERNEL=<vmlinux>" and "BZIMAGE=<bzImage>" as its last two lines.
set -eu

here=$(cd "$(dirname "$0")" && pwd)
fragment="$here/kernel.config"
self="$here/build-kernel.sh"
src_tar=/usr/src/linux-source-6.1.tar.xz
cache=${VMM_CACHE:-$HOME/.cache/vmm}
jobs=${JOBS:-$(nproc)}

die() {
	echo "build-kernel.sh: error: $*" >&2
	exit 1
}

if ! version=$(dpkg-query -W -f='${Version}' linux-source-6.1 2>/dev/null) ||
   [ -z "$version" ] || [ ! -f "$src_tar" ]; then
	die "linux-source-6.1 is not installed ($src_tar missing); run scripts/install-deps.sh (or: apt-get install linux-source-6.1)"
fi
for tool in make gcc flex bison bc lz4 xz tar sha256sum; do
	command -v "$tool" >/dev/null 2>&1 ||
		die "'$tool' not found; run scripts/install-deps.sh"
done
[ -f /usr/include/libelf.h ] || die "libelf-dev is missing (objtool needs it); run scripts/install-deps.sh"

hash=$({ cat "$fragment" "$self"; printf 'linux-source-6.1 %s\n' "$version"; } |
	sha256sum | cut -c1-16)
out="$cache/kernel-$hash"

if [ -f "$out/vmlinux" ] && [ -f "$out/bzImage" ]; then
	echo "build-kernel.sh: cached kernel (linux-source-6.1 $version) in $out" >&2
	echo "KERNEL=$out/vmlinux"
	echo "BZIMAGE=$out/bzImage"
	exit 0
fi

mkdir -p "$cache"
tmp=$(mktemp -d "$cache/kernel-$hash.tmp.XXXXXX")
cleanup() {
	if [ "${VMM_KEEP_KERNEL_TREE:-0}" != 1 ]; then
		rm -rf "$tmp"
	fi
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

start=$(date +%s)
echo "build-kernel.sh: building linux-source-6.1 $version in $tmp (make -j$jobs)" >&2
tar -xf "$src_tar" -C "$tmp"
tree="$tmp/linux-source-6.1"
[ -d "$tree" ] || die "unexpected layout of $src_tar (no linux-source-6.1/)"

log="$tmp/build.log"
# The temporary tree is removed on exit; keep the log of a failed build.
fail_log() {
	tail -n 40 "$log" >&2
	cp "$log" "$cache/kernel-$hash.failed.log"
}
(
	cd "$tree"
	make ARCH=x86_64 tinyconfig
	# -m: merge only; olddefconfig then resolves dependencies and defaults.
	scripts/kconfig/merge_config.sh -m .config "$fragment"
	make ARCH=x86_64 olddefconfig
) >"$log" 2>&1 || { fail_log; die "configuring failed (log: $cache/kernel-$hash.failed.log)"; }

# Every option the fragment sets must survive olddefconfig; a silently dropped
# option (a missing dependency) would otherwise show up only as a boot failure.
missing=$(grep -E '^(CONFIG_[A-Za-z0-9_]+=|# CONFIG_[A-Za-z0-9_]+ is not set)' "$fragment" |
	while IFS= read -r line; do
		case "$line" in
		"# "*)
			opt=${line#\# }
			opt=${opt%% *}
			! grep -q "^$opt=" "$tree/.config" || echo "  $opt should be unset"
			;;
		*)
			grep -qxF "$line" "$tree/.config" || echo "  $line"
			;;
		esac
	done)
if [ -n "$missing" ]; then
	echo "build-kernel.sh: warning: options of kernel.config not in the final .config:" >&2
	echo "$missing" >&2
fi

# vmlinux (tests load the ELF directly) and bzImage (for users) in one make.
if ! (cd "$tree" && make ARCH=x86_64 -j"$jobs" vmlinux bzImage) >>"$log" 2>&1; then
	fail_log
	die "kernel build failed (log: $cache/kernel-$hash.failed.log)"
fi

stage="$tmp/out"
mkdir -p "$stage"
cp "$tree/vmlinux" "$stage/vmlinux"
cp "$tree/arch/x86/boot/bzImage" "$stage/bzImage"
cp "$tree/.config" "$stage/config"
cp "$tree/System.map" "$stage/System.map"
printf 'linux-source-6.1 %s\n' "$version" >"$stage/version"
cp "$log" "$stage/build.log"
rm -rf "$out"
mv "$stage" "$out"

end=$(date +%s)
echo "build-kernel.sh: built in $((end - start)) s: $out ($(du -h "$out/vmlinux" | cut -f1) vmlinux, $(du -h "$out/bzImage" | cut -f1) bzImage)" >&2
echo "KERNEL=$out/vmlinux"
echo "BZIMAGE=$out/bzImage"
