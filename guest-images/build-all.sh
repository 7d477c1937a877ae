#!/bin/sh
# SPDX-License-Identifier: MIT
#
# Build (or reuse from the cache) the test guest: kernel and initramfs.
# Writes ${VMM_CACHE:-$HOME/.cache/vmm}/current.env with
#   KERNEL=<vmlinux>  BZIMAGE=<bzImage>  INITRD=<busybox initramfs.cpio>
#   INITRD_MINI=<initramfs whose /init is mini-init.c (the boot test on PVM hosts)>
#   ROOTFS=<qcow2 image of a small ext4 root file system (root=/dev/vda)>
# (source it from a shell) and prints the same lines.
set -eu

here=$(cd "$(dirname "$0")" && pwd)
cache=${VMM_CACHE:-$HOME/.cache/vmm}

kernel_out=$("$here/build-kernel.sh")
initrd_out=$("$here/build-initramfs.sh")
mini=$(printf '%s\n' "$initrd_out" | sed -n 's/^INITRD_MINI=//p')
rootfs_out=$("$here/build-rootfs.sh" "$mini")

mkdir -p "$cache"
env_tmp=$(mktemp "$cache/current.env.XXXXXX")
{
	printf '%s\n' "$kernel_out" | grep -E '^(KERNEL|BZIMAGE)='
	printf '%s\n' "$initrd_out" | grep -E '^INITRD(_MINI)?='
	printf '%s\n' "$rootfs_out" | grep -E '^ROOTFS='
} >"$env_tmp"
mv "$env_tmp" "$cache/current.env"
cat "$cache/current.env"
echo "build-all.sh: wrote $cache/current.env" >&2
