// SPDX-License-Identifier: MIT
/*
 * tally: the snapshot test guest. Prints "count 0" .. "count N-1" with a
 * pause after each (`count=N`, default 60; `delay=US`, default 20000) and
 * ends through debug-exit with a status computed from every step, so a run
 * restored from a snapshot part-way must print the rest of the lines and
 * end with the same status as an uninterrupted run. The running hash
 * lives in a register and in memory (both must survive a restore), and
 * each step also checks that the TSC did not run backwards. `touch=MIB`
 * first writes to every page of MIB MiB of RAM from 16 MiB up (bench/snapshot.py:
 * file size and save time against touched memory).
 */
#include "lib/guest.h"

int guest_main(uint64_t zero_page);

static volatile uint64_t hash_in_ram = 1469598103934665603ULL;

int guest_main(uint64_t zero_page)
{
	const char *cmdline = bp_cmdline(zero_page);
	uint64_t n = 60, delay = 20000, touch = 0, i, last_tsc = 0;
	register uint64_t hash_in_reg = 7;

	cmdline_get_uint(cmdline, "count", &n);
	cmdline_get_uint(cmdline, "delay", &delay);
	cmdline_get_uint(cmdline, "touch", &touch);
	/* one word per 4 KiB page: what makes a page hold data, in few
	 * instructions (ring-0 code is interpreted on PVM hosts) */
	for (i = 0; i < (touch << 20) / 4096; i++)
		*(volatile uint64_t *)phys((16ULL << 20) + i * 4096) = i + 1;
	for (i = 0; i < n; i++) {
		uint64_t tsc = rdtsc();

		if (tsc < last_tsc) {
			printf("tally: the TSC went backwards at step %lu\n", i);
			return GS_BAD_CONFIG;
		}
		last_tsc = tsc;
		hash_in_ram = (hash_in_ram ^ i) * 1099511628211ULL;
		hash_in_reg = hash_in_reg * 31 + i;
		printf("count %lu\n", i);
		delay_us(delay);
	}
	printf("tally: done\n");
	/* 32..95: clear of vmm's statuses 0..5 and the guest lib's 10..18 */
	return 32 + (int)((hash_in_ram ^ hash_in_reg) % 64);
}
