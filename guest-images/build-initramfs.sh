#!/bin/sh
# SPDX-License-Identifier: MIT
#
# Build the test guest's initramfs: an *uncompressed* newc cpio archive with
# Debian's busybox-static and a small /init. Uncompressed because unpacking a
# gzip archive costs about 100 s on PVM hosts, where the guest kernel's code is
# interpreted. No root privileges: the archive is written by `cpio -o -H newc`
# from a staging directory with every owner forced to root (-R 0:0). /dev is
# empty; the kernel's built-in default initramfs already provides
# /dev/console (usr/default_cpio_list) and /init mounts devtmpfs over /dev.
#
# /init mounts proc, sys and dev, prints "vmm-guest: init running" (the boot
# test looks for it), starts a shell when the command line holds "vmm.shell",
# and powers the machine off (ACPI S5: vmm exits with status 0).
#
# It also builds a second, tiny archive whose /init is mini-init.c (a static
# ELF of a few KiB that mounts, prints the same line and powers off): the boot
# test uses it on PVM hosts, where guest user space cannot run anyway and
# unpacking busybox's 2 MiB costs ~8 s of interpreted kernel code (a third
# of the boot; measured on an idle 2-core host, more when it is busy).
#
# Cached in ${VMM_CACHE:-$HOME/.cache/vmm}/initramfs-<hash>.cpio and
# initramfs-mini-<hash>.cpio, <hash> covering this script, mini-init.c (and the
# syscall header it shares with vmm-exec-init) and the
# busybox binary. Prints "INITRD=<path>" and "INITRD_MINI=<path>" last.
set -eu

here=$(cd "$(dirname "$0")" && pwd)
self="$here/build-initramfs.sh"
busybox=/bin/busybox
cache=${VMM_CACHE:-$HOME/.cache/vmm}

die() {
	echo "build-initramfs.sh: error: $*" >&2
	exit 1
}

[ -x "$busybox" ] || die "$busybox missing; run scripts/install-deps.sh (or: apt-get install busybox-static)"
# The guest has no dynamic loader: the binary must be static.
if command -v file >/dev/null 2>&1 &&
   ! LC_ALL=C file -L "$busybox" | grep -q 'statically linked'; then
	die "$busybox is not statically linked; install busybox-static (not busybox)"
fi
command -v cpio >/dev/null 2>&1 || die "cpio not found; run scripts/install-deps.sh"

command -v gcc >/dev/null 2>&1 || die "gcc not found; run scripts/install-deps.sh"

hash=$({ cat "$self" "$here/mini-init.c" "$here/../tools/exec-init/linux_syscall.h"; sha256sum <"$busybox"; } | sha256sum | cut -c1-16)
out="$cache/initramfs-$hash.cpio"
out_mini="$cache/initramfs-mini-$hash.cpio"
if [ -f "$out" ] && [ -f "$out_mini" ]; then
	echo "build-initramfs.sh: cached initramfs in $out and $out_mini" >&2
	echo "INITRD=$out"
	echo "INITRD_MINI=$out_mini"
	exit 0
fi

mkdir -p "$cache"
tmp=$(mktemp -d "$cache/initramfs-$hash.tmp.XXXXXX")
trap 'rm -rf "$tmp"' EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

root="$tmp/root"
mkdir -p "$root/bin" "$root/sbin" "$root/dev" "$root/proc" "$root/sys" \
	"$root/tmp" "$root/root" "$root/etc"
cp "$busybox" "$root/bin/busybox"
for applet in $("$busybox" --list); do
	[ "$applet" = busybox ] || ln -s busybox "$root/bin/$applet"
done

cat >"$root/init" <<'EOF'
#!/bin/sh
# vmm test guest init (guest-images/build-initramfs.sh)
mount -t proc proc /proc
mount -t sysfs sysfs /sys
mount -t devtmpfs devtmpfs /dev 2>/dev/null
echo "vmm-guest: init running"
echo "vmm-guest: $(grep -c '^processor' /proc/cpuinfo) CPUs online, kernel $(uname -r)"
if grep -qw vmm.shell /proc/cmdline; then
	echo "vmm-guest: starting a shell; exit it to power off"
	setsid cttyhack sh
fi
echo "vmm-guest: powering off"
poweroff -f
EOF
chmod 0755 "$root/init"

mini="$tmp/mini"
mkdir -p "$mini/dev" "$mini/proc" "$mini/sys"
gcc -Os -Wall -Wextra -Werror -static -nostdlib -ffreestanding -fno-stack-protector -fno-pie -no-pie \
	-fno-asynchronous-unwind-tables -Wl,--build-id=none -s \
	-o "$mini/init" "$here/mini-init.c" || die "compiling mini-init.c failed"

# Fixed timestamps and a sorted file list: the same inputs give the same bytes.
# $1: staging directory, $2: output archive.
mkcpio() {
	find "$1" -exec touch -h -d @0 {} +
	(cd "$1" && find . -mindepth 1 | LC_ALL=C sort | cpio --quiet -o -H newc -R 0:0) \
		>"$2.tmp" || die "cpio failed"
	mv "$2.tmp" "$2"
}
mkcpio "$root" "$tmp/initramfs.cpio"
mkcpio "$mini" "$tmp/initramfs-mini.cpio"
mv "$tmp/initramfs-mini.cpio" "$out_mini"
mv "$tmp/initramfs.cpio" "$out"

echo "build-initramfs.sh: built $out ($(du -h "$out" | cut -f1)) and $out_mini ($(du -h "$out_mini" | cut -f1)), uncompressed newc" >&2
echo "INITRD=$out"
echo "INITRD_MINI=$out_mini"
