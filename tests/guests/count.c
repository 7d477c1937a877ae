// SPDX-License-Identifier: MIT
/*
 * count: counts for the pause tests (tests/guests/test_pause.c, the QMP
 * test). The count lives at guest-physical COUNT_ADDR, where the host reads
 * it while the VM is paused, and every `print=K` counts a line "count N"
 * goes to the console (0, the default: never), so a test that sees only the
 * console can tell a frozen guest from a running one. With `n=N` the guest
 * exits with status 0 after N counts (0, the default: never).
 */
#include "lib/guest.h"

/* Mirrors test_pause.c: above the guest image at 1 MiB, below 16 MiB. */
#define COUNT_ADDR 0x200000ULL

int guest_main(uint64_t zero_page);

int guest_main(uint64_t zero_page)
{
	const char *cmdline = bp_cmdline(zero_page);
	volatile uint64_t *count = phys(COUNT_ADDR);
	uint64_t n = 0, every = 0, left, i;

	cmdline_get_uint(cmdline, "n", &n);
	cmdline_get_uint(cmdline, "print", &every);
	con_puts("count: counting\n");
	left = every;
	for (i = 1;; i++) {
		*count = i;
		/* a countdown, not i % every: ring-0 code is interpreted on
		 * PVM hosts and a division is the slowest thing in the loop */
		if (every && --left == 0) {
			printf("count %lu\n", i);
			left = every;
		}
		if (n && i >= n)
			return 0;
	}
}
