#!/usr/bin/env bash
# Install the Debian 12 packages vmm needs to build, test and build its
# guest images. Idempotent: does nothing when everything is present.
set -euo pipefail

PACKAGES=(
  build-essential meson ninja-build pkg-config python3
  libcmocka-dev libfdt-dev libslirp-dev libaio-dev
  # snapshots: dtc shows a snapshot's state (the tests check that it can)
  device-tree-compiler
  acpica-tools clang-format
  # storage: libFuzzer targets (clang + its runtime), qemu-img for interop tests
  # and the root disk image, mke2fs for the ext4 root file system
  clang libclang-rt-dev qemu-utils e2fsprogs
  # compressed qcow2 clusters: deflate and zstd
  zlib1g-dev libzstd-dev
  # guest images: the kernel from Debian's sources, busybox for the initramfs
  linux-source-6.1 busybox-static flex bison bc libelf-dev libssl-dev cpio xz-utils lz4
  rsync kmod
  # networking: ip(8) for the tap test's namespace and bridge
  iproute2
  # VDE: libvdeplug for --net vde; vde_switch, vde_plug and its slirp plugin
  # for the tests' internal and NAT networks
  libvdeplug-dev vde-switch vdeplug libvdeplug-slirp
  # interop: a QEMU microvm guest on the same VDE switch as a vmm guest
  qemu-system-x86
  # the stream backend's interop test with passt (user-mode networking over
  # QEMU's stream protocol); util-linux's unshare for the namespaces
  passt util-linux
  # the sandbox: per-thread seccomp filters
  libseccomp-dev
  # (qemu-system-x86, above, also runs QEMU's own stream, dgram and multicast
  # netdevs between vmm guests: qemu-system-x86_64 -M none, no QEMU guest)
  # QMP (--api-sock): jansson parses the JSON; socat drives one exchange in
  # the QMP test as a user would
  libjansson-dev socat
)

missing=()
for p in "${PACKAGES[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if [ ${#missing[@]} -eq 0 ]; then
  echo "install-deps: all ${#PACKAGES[@]} packages present"
  exit 0
fi
echo "install-deps: installing ${missing[*]}"
SUDO=""
if [ "$(id -u)" -ne 0 ]; then
  command -v sudo >/dev/null || { echo "install-deps: need root (or sudo) to install: ${missing[*]}" >&2; exit 1; }
  SUDO=sudo
fi
export DEBIAN_FRONTEND=noninteractive
$SUDO apt-get update -q
$SUDO apt-get install -y -q --no-install-recommends "${missing[@]}"
