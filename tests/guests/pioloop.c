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
	uint64_t n = 0, i;

	if (!cmdline_get_uint(bp_cmdline(zero_page), "n", &n))
		n = 0;
	for (i = 0; i < n; i++)
		outb(0x80, 0);
	return 0;
}
