/* SPDX-License-Identifier: MIT */
/*
 * The e820 memory map: what the BIOS's INT 15h/E820 would report, handed to
 * Linux in boot_params.e820_table (Linux boot protocol, zero-page 0x2d0).
 */
#ifndef FIRMWARE_E820_H
#define FIRMWARE_E820_H

#include <stdint.h>

#include "base/guest_mem.h"

#define E820_TYPE_RAM	   1
#define E820_TYPE_RESERVED 2
#define E820_TYPE_ACPI	   3

#define E820_MAX_ENTRIES 16

struct e820_entry {
	uint64_t addr;
	uint64_t size;
	uint32_t type;
};

/*
 * Build the map for `gm` (regions as laid out by gm_init and base/layout.h):
 * RAM below the EBDA, the EBDA and BIOS area (0x9fc00..0xfffff, holding the
 * ACPI and MP tables) reserved, RAM from 1 MiB to the top of low RAM, RAM
 * above 4 GiB if any. Returns the number of entries (sorted, not
 * overlapping) or a negative errno (-ENOSPC if `max` is too small, -EINVAL
 * if the low region is smaller than 1 MiB + 1 page).
 */
int e820_build(const struct guest_mem *gm, struct e820_entry *out, unsigned int max)
	__attribute__((warn_unused_result));

#endif /* FIRMWARE_E820_H */
