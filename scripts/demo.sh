#!/usr/bin/env bash
# Quick start 1: install what is needed, build vmm and a small Linux guest
# (kernel + busybox initramfs, cached in ~/.cache/vmm), and boot it with
# 2 vCPUs on the serial console, with a NIC on user networking (the kernel
# gets 10.0.2.15 by DHCP: ip=dhcp). Ctrl-A x quits.
set -euo pipefail
cd "$(dirname "$0")/.."
# The guest images are cached in ${VMM_CACHE:-$HOME/.cache/vmm}; CI may run
# with HOME unset.
export HOME=${HOME:-$(getent passwd "$(id -u)" | cut -d: -f6)}
./scripts/install-deps.sh
./scripts/build.sh build
./guest-images/build-all.sh
# shellcheck disable=SC1091
. "${VMM_CACHE:-$HOME/.cache/vmm}/current.env"
# pci=off: the guest kernel has PCI built in (its ACPI code needs it) but
# vmm's machine has no PCI bus. vmm.shell: the busybox /init starts a shell.
cmdline="console=ttyS0 panic=-1 pci=off ip=dhcp"
initrd=$INITRD
if [ -e /sys/module/kvm_pvm ]; then
  echo "demo: this host's KVM is PVM: guest ring-0 code is interpreted (the boot takes"
  echo "demo: ~30 s) and guest user space cannot run, so the kernel boots to /init and"
  echo "demo: then panics; vmm reports that as exit status 4. See docs/pvm.md."
  initrd=$INITRD_MINI
else
  cmdline="$cmdline vmm.shell"
fi
echo "demo: booting $KERNEL with $initrd (Ctrl-A x quits)"
set +e
build/vmm --kernel "$KERNEL" --initrd "$initrd" --mem 512M --cpus 2 --net user \
  --cmdline "$cmdline ${VMM_DEMO_CMDLINE:-}" "$@"
status=$?
echo "demo: vmm exited with status $status"
exit $status
