#!/usr/bin/env bash
# Quick start 1: install what is needed, build vmm and a small Linux guest
# (kernel + busybox initramfs, cached in ~/.cache/vmm), and boot it with
# 2 vCPUs on the serial console. Ctrl-A x quits.
set -euo pipefail
cd "$(dirname "$0")/.."
./scripts/install-deps.sh
./scripts/build.sh build
./guest-images/build-all.sh
# shellcheck disable=SC1091
. "${VMM_CACHE:-$HOME/.cache/vmm}/current.env"
echo "demo: booting $KERNEL with $INITRD (Ctrl-A x quits)"
if [ -e /sys/module/kvm_pvm ]; then
  echo "demo: this host's KVM is PVM: guest user space cannot run here, so the kernel"
  echo "demo: boots to /init and then panics; vmm reports that as exit status 4."
fi
set +e
build/vmm --kernel "$KERNEL" --initrd "$INITRD" --mem 512M --cpus 2 \
  --cmdline "console=ttyS0 panic=-1 ${VMM_DEMO_CMDLINE:-}" "$@"
status=$?
echo "demo: vmm exited with status $status"
exit $status
