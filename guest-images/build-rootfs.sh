#!/bin/sh
# SPDX-License-Identifier: MIT
#
# Build the test guest's root disk: a small ext4 file system in a qcow2
# image, for booting with root=/dev/vda (tests/linux/boot_test.py --root-disk).
#
#   build-rootfs.sh INITRD_MINI
#
# The file system holds /sbin/init (the mini-init from the small initramfs,
# taken out of INITRD_MINI: it mounts proc/sys/dev, prints "vmm-guest: init
# running" and powers off), empty /dev /proc /sys, and /etc/vmm-rootfs as a
# marker. No root privileges: mke2fs -d copies a staging directory into the
# new file system (owners forced to root with -E root_owner). The raw file
# system is turned into qcow2 by qemu-img -- the reference implementation,
# so the Linux test checks that vmm reads what QEMU's tools write.
#
# Cached in ${VMM_CACHE:-$HOME/.cache/vmm}/rootfs-<hash>.qcow2, <hash>
# covering this script and the mini initramfs. Prints "ROOTFS=<path>" last.
set -eu

here=$(cd "$(dirname "$0")" && pwd)
self="$here/build-rootfs.sh"
cache=${VMM_CACHE:-$HOME/.cache/vmm}
mini=${1:?usage: build-rootfs.sh INITRD_MINI}

die() {
	echo "build-rootfs.sh: error: $*" >&2
	exit 1
}

[ -f "$mini" ] || die "$mini not found (build-initramfs.sh makes it)"
for tool in mke2fs qemu-img cpio; do
	command -v $tool >/dev/null 2>&1 || PATH=$PATH:/sbin:/usr/sbin
	command -v $tool >/dev/null 2>&1 || die "$tool not found; run scripts/install-deps.sh"
done

hash=$({ cat "$self"; sha256sum <"$mini"; } | sha256sum | cut -c1-16)
out="$cache/rootfs-$hash.qcow2"
if [ -f "$out" ]; then
	echo "build-rootfs.sh: cached root disk in $out" >&2
	echo "ROOTFS=$out"
	exit 0
fi

mkdir -p "$cache"
tmp=$(mktemp -d "$cache/rootfs-$hash.tmp.XXXXXX")
trap 'rm -rf "$tmp"' EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

root="$tmp/root"
mkdir -p "$root/sbin" "$root/dev" "$root/proc" "$root/sys" "$root/etc" "$root/tmp"
(cd "$tmp" && cpio --quiet -i --to-stdout init <"$mini" >"$root/sbin/init") ||
	die "cannot extract /init from $mini"
chmod 0755 "$root/sbin/init"
echo "vmm test root file system" >"$root/etc/vmm-rootfs"
find "$root" -exec touch -h -d @0 {} +

# 32 MiB, 4 KiB blocks; a fixed UUID and hash seed keep the bytes reproducible.
E2FSPROGS_FAKE_TIME=1 mke2fs -q -t ext4 -b 4096 -L vmmroot \
	-U 6d6d7600-0000-4000-8000-000000000001 \
	-E root_owner=0:0,hash_seed=6d6d7600-0000-4000-8000-000000000002 \
	-d "$root" "$tmp/root.raw" 32M || die "mke2fs failed"
qemu-img convert -f raw -O qcow2 "$tmp/root.raw" "$tmp/root.qcow2" || die "qemu-img convert failed"
mv "$tmp/root.qcow2" "$out"
echo "build-rootfs.sh: built $out ($(du -k "$out" | cut -f1) KiB allocated, 32 MiB ext4)" >&2
echo "ROOTFS=$out"
