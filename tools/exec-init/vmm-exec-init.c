// SPDX-License-Identifier: MIT
/*
 * vmm-exec-init: the guest's PID 1 for `vmm --exec CMD`.
 *
 * vmm boots the kernel with a tiny initramfs holding only this program
 * (vmm-exec-init.cpio, made at build time) and rdinit=/vmm-exec-init, plus
 * the words of exec_args.h on the command line. It:
 *   1. mounts the virtio-9p share tagged $vmm_root read-only on /newroot (the
 *      host's / or a --share DIR);
 *   2. mounts proc, sysfs, devtmpfs and a tmpfs on /tmp and /run inside it
 *      (the 9p root is read-only: the tmpfs is where CMD can write);
 *   3. chroots into it and runs /bin/sh -c "$vmm_exec" as its child, with a
 *      plain environment;
 *   4. writes CMD's exit status (exec_status_from_wait) as one byte to the
 *      debug-exit port $vmm_exit_port (through ioperm(2)), which ends vmm
 *      with that status (see finish() for when it cannot).
 * Its own failures print one line and end with EXEC_STATUS_INIT_FAILED.
 *
 * Why from an initramfs and not init= on the 9p root: with --share DIR the
 * root is a directory that does not contain this program, and the same path
 * serves both cases. Why freestanding (no libc): it is a few KiB, needs no
 * static libc on the build machine, and does only a dozen system calls.
 *
 * On PVM hosts guest user space cannot make system calls (docs/pvm.md): the
 * kernel gets as far as "Run /vmm-exec-init as init process", then this
 * program's first syscall faults. Elsewhere it runs as described.
 */
#include "exec_args.h"
#include "linux_syscall.h"

#define SYS_write  1
#define SYS_wait4  61
#define SYS_fork   57
#define SYS_execve 59
#define SYS_exit   60
#define SYS_chdir  80
#define SYS_mkdir  83
#define SYS_sync   162
#define SYS_mount  165
#define SYS_chroot 161
#define SYS_reboot 169
#define SYS_ioperm 173

#define MS_RDONLY 1UL
#define MS_NOSUID 2UL
#define MS_NODEV  4UL

#define ENOENT 2
#define ENODEV 19

long init_main(long *sp);

/* The kernel enters with argc at the stack pointer, then argv, NULL, envp,
 * NULL; the stack is 16-byte aligned at entry. */
__asm__(".globl _start\n"
	"_start:\n"
	"	xor %ebp, %ebp\n"
	"	mov %rsp, %rdi\n"
	"	and $-16, %rsp\n"
	"	call init_main\n"
	"	hlt\n");

/* One line on stderr (the console) from up to four pieces. */
static void say(const char *a, const char *b, const char *c, const char *d)
{
	const char *parts[] = { a, b, c, d, "\n" };
	unsigned int i;

	for (i = 0; i < sizeof(parts) / sizeof(parts[0]); i++)
		if (parts[i])
			sys5(SYS_write, 2, (long)parts[i], (long)str_len(parts[i]), 0, 0);
}

/*
 * Hand the status to vmm and stop; never returns. Without ioperm(2) (a
 * kernel without CONFIG_X86_IOPL_IOPERM) the status cannot reach vmm: then
 * a status of 0 powers off (vmm: 0) and any other ends PID 1, a kernel
 * panic (vmm: 4 with pvpanic), so that a failure never looks like success.
 */
static void finish(unsigned int port, int status)
{
	unsigned char v = (unsigned char)status;

	sys5(SYS_sync, 0, 0, 0, 0, 0);
	if (port && sys5(SYS_ioperm, port, 1, 1, 0, 0) == 0)
		__asm__ volatile("outb %0, %w1" : : "a"(v), "Nd"((unsigned short)port));
	else if (port)
		say("vmm-exec-init: warning: ioperm failed (CONFIG_X86_IOPL_IOPERM?): the exact "
		    "status "
		    "is lost",
		    0, 0, 0);
	/* Still here: not vmm, no debug-exit device, or no ioperm. */
	if (status == 0)
		sys5(SYS_reboot, LINUX_REBOOT_MAGIC1, LINUX_REBOOT_MAGIC2,
		     LINUX_REBOOT_CMD_POWER_OFF, 0, 0);
	for (;;)
		sys5(SYS_exit, status, 0, 0, 0, 0); /* PID 1 exiting: a kernel panic */
}

static void mount_in_root(const char *what, const char *where, const char *type,
			  unsigned long flags, const char *data)
{
	long ret = sys5(SYS_mount, (long)what, (long)where, (long)type, (long)flags, (long)data);

	/* A --share DIR need not have /proc or /tmp: CMD runs without them. */
	if (ret < 0)
		say("vmm-exec-init: warning: cannot mount ", type, " on ",
		    where + sizeof("/newroot") - 1); /* the path inside the new root */
}

long init_main(long *sp)
{
	long argc = sp[0];
	char **envp = (char **)(sp + argc + 2);
	static char *const sh_env[] = {
		"PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin",
		"HOME=/tmp",
		"TERM=dumb",
		(char *)0,
	};
	const char *port_s = exec_env_get(envp, EXEC_ARG_EXIT_PORT);
	const char *root = exec_env_get(envp, EXEC_ARG_ROOT);
	char *cmd = (char *)exec_env_get(envp, EXEC_ARG_CMD);
	unsigned int port = 0;
	int wstatus = 0;
	long pid, ret;

	if (exec_parse_port(port_s, &port) < 0)
		say("vmm-exec-init: warning: no ", EXEC_ARG_EXIT_PORT, "=: the status is lost", 0);
	if (!root || !cmd || exec_arg_decode(cmd) < 0) {
		say("vmm-exec-init: error: no ", EXEC_ARG_ROOT,
		    "= or a bad vmm_exec= (start me with vmm --exec)", 0);
		finish(port, EXEC_STATUS_INIT_FAILED);
	}
	sys5(SYS_mkdir, (long)"/newroot", 0755, 0, 0, 0);
	ret = sys5(SYS_mount, (long)root, (long)"/newroot", (long)"9p", MS_RDONLY,
		   (long)"trans=virtio,version=9p2000.L");
	if (ret == -ENODEV) {
		say("vmm-exec-init: error: this kernel has no 9p file system "
		    "(CONFIG_NET_9P_VIRTIO, CONFIG_9P_FS): --exec needs one",
		    0, 0, 0);
		finish(port, EXEC_STATUS_INIT_FAILED);
	}
	if (ret < 0) {
		say("vmm-exec-init: error: cannot mount the 9p share '", root,
		    ret == -ENOENT ? "' (no such tag)" : "'", 0);
		finish(port, EXEC_STATUS_INIT_FAILED);
	}
	mount_in_root("proc", "/newroot/proc", "proc", MS_NOSUID | MS_NODEV, 0);
	mount_in_root("sysfs", "/newroot/sys", "sysfs", MS_NOSUID | MS_NODEV, 0);
	mount_in_root("devtmpfs", "/newroot/dev", "devtmpfs", MS_NOSUID, 0);
	mount_in_root("tmpfs", "/newroot/tmp", "tmpfs", MS_NOSUID | MS_NODEV, "mode=1777");
	mount_in_root("tmpfs", "/newroot/run", "tmpfs", MS_NOSUID | MS_NODEV, "mode=755");
	if (sys5(SYS_chdir, (long)"/newroot", 0, 0, 0, 0) < 0 ||
	    sys5(SYS_chroot, (long)".", 0, 0, 0, 0) < 0 ||
	    sys5(SYS_chdir, (long)"/", 0, 0, 0, 0) < 0) {
		say("vmm-exec-init: error: cannot enter the 9p root", 0, 0, 0);
		finish(port, EXEC_STATUS_INIT_FAILED);
	}

	pid = sys5(SYS_fork, 0, 0, 0, 0, 0);
	if (pid == 0) {
		char *const argv[] = { "sh", "-c", cmd, (char *)0 };

		sys5(SYS_execve, (long)"/bin/sh", (long)argv, (long)sh_env, 0, 0);
		say("vmm-exec-init: error: cannot run /bin/sh in the 9p root", 0, 0, 0);
		sys5(SYS_exit, 127, 0, 0, 0, 0);
	}
	if (pid < 0) {
		say("vmm-exec-init: error: fork failed", 0, 0, 0);
		finish(port, EXEC_STATUS_INIT_FAILED);
	}
	/* As PID 1 we also reap CMD's orphans; CMD's own status is the one. */
	for (;;) {
		ret = sys5(SYS_wait4, -1, (long)&wstatus, 0, 0, 0);
		if (ret == pid || ret < 0)
			break;
	}
	finish(port, ret == pid ? exec_status_from_wait(wstatus) : EXEC_STATUS_INIT_FAILED);
	return 0;
}
