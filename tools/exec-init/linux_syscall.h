/* SPDX-License-Identifier: MIT */
/*
 * Raw Linux x86-64 system calls for the project's libc-free guest inits
 * (tools/exec-init/vmm-exec-init.c, guest-images/mini-init.c): the
 * `syscall` instruction with up to five arguments in the kernel's registers
 * (rdi, rsi, rdx, r10, r8); rcx and r11 are clobbered by the instruction.
 * Returns the kernel's result: a negative errno on failure.
 */
#ifndef TOOLS_EXEC_INIT_LINUX_SYSCALL_H
#define TOOLS_EXEC_INIT_LINUX_SYSCALL_H

static inline long sys5(long n, long a, long b, long c, long d, long e)
{
	long ret;
	register long r10 __asm__("r10") = d;
	register long r8 __asm__("r8") = e;

	__asm__ volatile("syscall"
			 : "=a"(ret)
			 : "a"(n), "D"(a), "S"(b), "d"(c), "r"(r10), "r"(r8)
			 : "rcx", "r11", "memory");
	return ret;
}

static inline unsigned long str_len(const char *s)
{
	unsigned long n = 0;

	while (s[n])
		n++;
	return n;
}

#define LINUX_REBOOT_MAGIC1	   0xfee1deadL
#define LINUX_REBOOT_MAGIC2	   672274793L
#define LINUX_REBOOT_CMD_POWER_OFF 0x4321fedcL

#endif /* TOOLS_EXEC_INIT_LINUX_SYSCALL_H */
