# SPDX-License-Identifier: MIT
#
# A kunit.py --qemu_config that runs the KUnit kernel under vmm instead of
# QEMU. From a kernel tree:
#
#   python3 tools/testing/kunit/kunit.py run \
#       --qemu_config=<vmm>/tools/kunit/vmm_x86_64.py --kunitconfig=lib/kunit
#
# kunit.py runs `qemu-system-<qemu_arch>` found on PATH with QEMU's flags
# (-nodefaults -m 1024 -kernel K -append ... -no-reboot -nographic -serial
# stdio, then extra_qemu_params). This file puts its own directory first on
# PATH and names qemu_arch 'vmm', so what runs is tools/kunit/qemu-system-vmm:
# a small shim that translates those flags and execs vmm (found as $VMM, else
# build/vmm of this checkout, else `vmm` on PATH). QEMU is never run, whether
# or not it is installed: no qemu-system-x86_64 is looked up at all.
#
# kunit.py appends kunit_shutdown=reboot to the command line: after the last
# test the kernel reboots, and vmm ends on a guest reset (exit status 3),
# which is what QEMU's -no-reboot does.
#
# The kernel booted is the ELF vmlinux, not arch/x86/boot/bzImage: vmm loads
# the ELF's PT_LOAD segments and enters its 64-bit entry directly, skipping
# the bzImage's decompressor, which on PVM hosts (where guest ring-0 code is
# interpreted) costs more than the tests themselves; see tools/kunit/README.md
# for the measurements. kunit.py builds vmlinux in any case (bzImage is made
# from it), so nothing is built for nothing.
import os

from qemu_config import QemuArchParams

_HERE = os.path.dirname(os.path.abspath(__file__))
if os.environ.get('PATH', '').split(os.pathsep)[0] != _HERE:
	os.environ['PATH'] = _HERE + os.pathsep + os.environ.get('PATH', os.defpath)

QEMU_ARCH = QemuArchParams(linux_arch='x86_64',
			   kconfig='''
CONFIG_SERIAL_8250=y
CONFIG_SERIAL_8250_CONSOLE=y
CONFIG_SERIAL_8250_NR_UARTS=1
CONFIG_SERIAL_8250_RUNTIME_UARTS=1
CONFIG_PRINTK_TIME=y
CONFIG_HYPERVISOR_GUEST=y
CONFIG_PARAVIRT=y
CONFIG_KVM_GUEST=y
CONFIG_IO_DELAY_NONE=y
CONFIG_UNWINDER_FRAME_POINTER=y
CONFIG_HZ_100=y
CONFIG_PREEMPT_NONE=y
CONFIG_SLAB=y
CONFIG_INIT_STACK_NONE=y
CONFIG_EXPERT=y
# CONFIG_SLUB is not set
# CONFIG_ACPI is not set
# CONFIG_PCI is not set
# CONFIG_BLOCK is not set
# CONFIG_FTRACE is not set
# CONFIG_DMI is not set
# CONFIG_MTRR is not set
# CONFIG_CPU_MITIGATIONS is not set
# CONFIG_STACKPROTECTOR is not set
# CONFIG_IA32_EMULATION is not set
# CONFIG_X86_5LEVEL is not set
# CONFIG_RANDOMIZE_BASE is not set
# CONFIG_X86_MCE is not set
# CONFIG_MICROCODE is not set
# CONFIG_SUSPEND is not set
# CONFIG_INPUT is not set
# CONFIG_SERIO is not set
# CONFIG_VT is not set
# CONFIG_LEGACY_PTYS is not set
# CONFIG_USB_SUPPORT is not set
# CONFIG_HWMON is not set
# CONFIG_HW_RANDOM is not set
# CONFIG_POWER_SUPPLY is not set
# CONFIG_X86_PLATFORM_DEVICES is not set
# CONFIG_IOMMU_SUPPORT is not set
# CONFIG_VHOST_MENU is not set
# CONFIG_SWAP is not set''',
			   qemu_arch='vmm',
			   kernel_path='vmlinux',
			   # panic=-1: a crashed kernel reboots at once (pvpanic has
			   # told vmm first), so kunit.py sees the end, not its timeout.
			   # tsc=reliable, no_timer_check: no TSC or timer checks, which
			   # spin in interpreted code on PVM hosts. pci=off: vmm has no
			   # PCI bus to probe.
			   kernel_command_line='console=ttyS0 panic=-1 tsc=reliable no_timer_check pci=off',
			   extra_qemu_params=[])
