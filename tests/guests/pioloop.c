// SPDX-License-Identifier: MIT
/*
 * pioloop: a benchmark guest (bench/exit_roundtrip.py). Writes to port 0x80
 * (vmm's POST-code sink on the PIO bus) `n=N` times, then exits with status 0.
 * Every write is one VM exit to vmm's vCPU thread and back through the bus.
 */
#include "lib/guest.h"

int guest_main(uint64_t zero_page);

int guest_main(uint64_t zero_page)
{
	uint64_t n = 0;
	uint32_t count;

	if (!cmdline_get_uint(bp_cmdline(zero_page), "n", &n) || n == 0)
		return 0;
	if (n > 0xffffffffu) {
		printf("pioloop: n=%lu is more than 2^32-1\n", n);
		return GS_BAD_CONFIG;
	}
	count = (uint32_t)n;
	/* The same three instructions as bench/kvm_bare_loop.c's guest, so the
	 * comparison is of the exit paths, not of the guests' loops. */
	__asm__ volatile("1: outb %%al, $0x80\n\t"
			 "dec %%ecx\n\t"
			 "jnz 1b"
			 : "+c"(count)
			 : "a"(0)
			 : "memory");
	return 0;
}
