// SPDX-License-Identifier: MIT
/*
 * A minimal /init for the boot test's small initramfs: a freestanding static
 * x86-64 ELF of a few KiB, no libc. It does what the busybox /init does:
 * mounts proc, sys and devtmpfs, prints "vmm-guest: init running" and powers
 * the machine off (reboot(2) with LINUX_REBOOT_CMD_POWER_OFF: ACPI S5, vmm
 * exit status 0).
 *
 * Why it exists: the busybox initramfs is 2 MiB, and unpacking it costs ~8 s
 * (a third of the boot) on PVM hosts (the guest kernel's code is interpreted),
 * where guest user space cannot make system calls anyway: its first syscall
 * faults and the kernel panics ("Attempted to kill init!"). With this /init
 * the same kernel path is exercised (the ELF is loaded and entered) for
 * almost nothing.
 *
 * Build: gcc -Os -static -nostdlib -ffreestanding -fno-stack-protector
 *        -fno-pie -no-pie -o init mini-init.c
 */

#define SYS_write  1
#define SYS_mount  165
#define SYS_reboot 169
#define SYS_exit   60

#include "../tools/exec-init/linux_syscall.h"

static void say(const char *s)
{
	sys5(SYS_write, 1, (long)s, (long)str_len(s), 0, 0);
}

void _start(void) __attribute__((noreturn));
void _start(void)
{
	/* The kernel opened /dev/console as fds 0-2 before starting us. */
	sys5(SYS_mount, (long)"proc", (long)"/proc", (long)"proc", 0, 0);
	sys5(SYS_mount, (long)"sysfs", (long)"/sys", (long)"sysfs", 0, 0);
	sys5(SYS_mount, (long)"devtmpfs", (long)"/dev", (long)"devtmpfs", 0, 0);
	say("vmm-guest: init running (mini-init)\n");
	say("vmm-guest: powering off\n");
	sys5(SYS_reboot, LINUX_REBOOT_MAGIC1, LINUX_REBOOT_MAGIC2, LINUX_REBOOT_CMD_POWER_OFF, 0,
	     0);
	/* Only reached when reboot(2) fails: init exiting panics the kernel. */
	say("vmm-guest: power-off failed\n");
	for (;;)
		sys5(SYS_exit, 1, 0, 0, 0, 0);
}
