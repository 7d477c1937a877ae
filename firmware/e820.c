/* SPDX-License-Identifier: MIT */
/*
 * The e820 map (ACPI 6.4 chapter 15, "System Address Map Interfaces"; Linux
 * takes it from boot_params.e820_table). vmm has no BIOS, but the first
 * megabyte keeps the PC's shape because Linux expects it: the EBDA and the
 * 0xa0000..0xfffff legacy area are not RAM, and the ACPI RSDP and MP
 * floating pointer live in that reserved area where Linux scans for them.
 */
#include "firmware/e820.h"

#include <errno.h>

#include "base/layout.h"

static int e820_add(struct e820_entry *out, unsigned int max, unsigned int *n, uint64_t addr,
		    uint64_t size, uint32_t type)
{
	if (*n >= max)
		return -ENOSPC;
	out[*n] = (struct e820_entry){ .addr = addr, .size = size, .type = type };
	(*n)++;
	return 0;
}

int e820_build(const struct guest_mem *gm, struct e820_entry *out, unsigned int max)
{
	const struct gm_region *low = NULL;
	uint64_t next_gpa = 0;
	unsigned int i, n = 0;
	int ret;

	for (i = 0; i < gm->nregions; i++)
		if (gm->regions[i].gpa == 0)
			low = &gm->regions[i];
	/* The kernel goes at 1 MiB: the low region must reach past it. */
	if (!low || low->size < LAYOUT_KERNEL_START + 0x1000)
		return -EINVAL;

	ret = e820_add(out, max, &n, 0, LAYOUT_EBDA_START, E820_TYPE_RAM);
	if (ret < 0)
		return ret;
	ret = e820_add(out, max, &n, LAYOUT_EBDA_START, LAYOUT_BIOS_END - LAYOUT_EBDA_START,
		       E820_TYPE_RESERVED);
	if (ret < 0)
		return ret;
	ret = e820_add(out, max, &n, LAYOUT_KERNEL_START, low->size - LAYOUT_KERNEL_START,
		       E820_TYPE_RAM);
	if (ret < 0)
		return ret;

	/*
	 * The other regions (RAM above 4 GiB) in address order. Regions never
	 * overlap (gm_add_region refuses it), so picking the lowest region
	 * above the previous one each time yields a sorted map.
	 */
	next_gpa = low->size;
	for (;;) {
		const struct gm_region *best = NULL;

		for (i = 0; i < gm->nregions; i++) {
			const struct gm_region *r = &gm->regions[i];

			if (r == low || r->size == 0 || r->gpa < next_gpa)
				continue;
			if (!best || r->gpa < best->gpa)
				best = r;
		}
		if (!best)
			break;
		ret = e820_add(out, max, &n, best->gpa, best->size, E820_TYPE_RAM);
		if (ret < 0)
			return ret;
		/* gm_add_region refuses regions that wrap; a hand-built struct
		 * might not, so stop rather than start over at 0. */
		if (__builtin_add_overflow(best->gpa, best->size, &next_gpa))
			break;
	}
	return (int)n;
}
