// SPDX-License-Identifier: MIT
/*
 * memtouch: writes a byte to every 4 KiB page of the RAM the e820 map lists
 * above 2 MiB (below 4 GiB, which start.S maps), so that the host has to
 * back all of the guest's RAM; then exits with status 0. The --mem-limit
 * test runs it with more --mem than the limit: vmm must be stopped by its
 * cgroup before the guest gets to the end.
 */
#include "lib/guest.h"

int guest_main(uint64_t zero_page);

int guest_main(uint64_t zero_page)
{
	const uint8_t *bp = phys(zero_page);
	unsigned int n = bp[BP_E820_ENTRIES], i;
	uint64_t touched = 0;

	if (n > BP_E820_MAX)
		n = BP_E820_MAX;
	for (i = 0; i < n; i++) {
		const uint8_t *e = bp + BP_E820_TABLE + i * 20;
		uint64_t addr = *(const uint64_t *)e;
		uint64_t end = addr + *(const uint64_t *)(e + 8);

		if (*(const uint32_t *)(e + 16) != 1) /* RAM */
			continue;
		if (addr < (2ULL << 20))
			addr = 2ULL << 20; /* the guest itself, its stack and tables */
		if (end > (4ULL << 30))
			end = 4ULL << 30;
		for (; addr + 4096 <= end; addr += 4096, touched++)
			*(volatile uint8_t *)phys(addr) = 1;
	}
	printf("memtouch: touched %lu MiB\n", touched >> 8);
	return 0;
}
