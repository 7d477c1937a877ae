/* SPDX-License-Identifier: MIT */
/* The e820 map for small and large guests. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include "firmware/e820.h"
#include "fw_test.h"
#include "base/layout.h"

#define GiB (1ULL << 30)
#define MiB (1ULL << 20)

static void assert_entry(const struct e820_entry *e, uint64_t addr, uint64_t size, uint32_t type)
{
	assert_int_equal(e->addr, addr);
	assert_int_equal(e->size, size);
	assert_int_equal(e->type, type);
}

/* A real (malloc'd) 2 MiB guest. */
static void test_small_ram(void **state)
{
	struct fw_fake_guest g;
	struct e820_entry map[E820_MAX_ENTRIES];
	int n;

	(void)state;
	assert_int_equal(fw_fake_guest_init(&g, FW_TEST_RAM_SIZE), 0);
	n = e820_build(&g.gm, map, E820_MAX_ENTRIES);
	assert_int_equal(n, 3);
	assert_entry(&map[0], 0, 0x9fc00, E820_TYPE_RAM);
	assert_entry(&map[1], 0x9fc00, 0x100000 - 0x9fc00, E820_TYPE_RESERVED);
	assert_entry(&map[2], 0x100000, FW_TEST_RAM_SIZE - 0x100000, E820_TYPE_RAM);
	/* The ACPI and MP tables' home is reserved. */
	assert_true(map[1].addr <= LAYOUT_ACPI_START &&
		    map[1].addr + map[1].size >= LAYOUT_BIOS_END);
	fw_fake_guest_destroy(&g);
}

/*
 * A 5 GiB guest laid out as gm_init does: 3 GiB below the hole, 2 GiB at
 * 4 GiB. e820_build only looks at the region table, so the struct is built
 * by hand (gm_add_region would need host memory of that size).
 */
static void test_large_ram(void **state)
{
	static uint8_t dummy;
	struct guest_mem gm = {
		.regions = {
			{ .gpa = 0, .size = LAYOUT_MMIO_HOLE_START, .host = &dummy },
			{ .gpa = LAYOUT_HIGH_RAM_START, .size = 2 * GiB, .host = &dummy },
		},
		.nregions = 2,
		.ram_size = 5 * GiB,
	};
	struct e820_entry map[E820_MAX_ENTRIES];
	uint64_t ram = 0;
	int n, i;

	(void)state;
	n = e820_build(&gm, map, E820_MAX_ENTRIES);
	assert_int_equal(n, 4);
	assert_entry(&map[0], 0, 0x9fc00, E820_TYPE_RAM);
	assert_entry(&map[1], 0x9fc00, 0x60400, E820_TYPE_RESERVED);
	assert_entry(&map[2], 1 * MiB, 3 * GiB - 1 * MiB, E820_TYPE_RAM);
	assert_entry(&map[3], 4 * GiB, 2 * GiB, E820_TYPE_RAM);
	/* Sorted, not overlapping, and nothing inside the MMIO hole. */
	for (i = 0; i < n; i++) {
		if (i > 0)
			assert_true(map[i - 1].addr + map[i - 1].size <= map[i].addr);
		assert_false(map[i].addr < LAYOUT_MMIO_HOLE_END &&
			     map[i].addr + map[i].size > LAYOUT_MMIO_HOLE_START);
		if (map[i].type == E820_TYPE_RAM)
			ram += map[i].size;
	}
	/* All RAM but the 0x9fc00..1M hole is usable. */
	assert_int_equal(ram, 5 * GiB - (1 * MiB - 0x9fc00));
}

/* Regions listed out of address order still give a sorted map. */
static void test_unsorted_regions(void **state)
{
	static uint8_t dummy;
	struct guest_mem gm = {
		.regions = {
			{ .gpa = 8 * GiB, .size = 1 * GiB, .host = &dummy },
			{ .gpa = 0, .size = 64 * MiB, .host = &dummy },
			{ .gpa = 4 * GiB, .size = 1 * GiB, .host = &dummy },
		},
		.nregions = 3,
	};
	struct e820_entry map[E820_MAX_ENTRIES];

	(void)state;
	assert_int_equal(e820_build(&gm, map, E820_MAX_ENTRIES), 5);
	assert_entry(&map[2], 1 * MiB, 63 * MiB, E820_TYPE_RAM);
	assert_entry(&map[3], 4 * GiB, 1 * GiB, E820_TYPE_RAM);
	assert_entry(&map[4], 8 * GiB, 1 * GiB, E820_TYPE_RAM);
}

static void test_errors(void **state)
{
	static uint8_t dummy;
	struct guest_mem gm = {
		.regions = { { .gpa = 0, .size = 1 * MiB, .host = &dummy },
			     { .gpa = 4 * GiB, .size = 1 * GiB, .host = &dummy } },
		.nregions = 2,
	};
	struct e820_entry map[E820_MAX_ENTRIES];

	(void)state;
	/* Low RAM must reach past 1 MiB + a page (the kernel goes at 1 MiB). */
	assert_int_equal(e820_build(&gm, map, E820_MAX_ENTRIES), -EINVAL);
	gm.regions[0].size = 1 * MiB + 0xfff;
	assert_int_equal(e820_build(&gm, map, E820_MAX_ENTRIES), -EINVAL);
	gm.regions[0].size = 1 * MiB + 0x1000;
	assert_int_equal(e820_build(&gm, map, E820_MAX_ENTRIES), 4);
	/* Too small an output array. */
	assert_int_equal(e820_build(&gm, map, 3), -ENOSPC);
	assert_int_equal(e820_build(&gm, map, 2), -ENOSPC);
	assert_int_equal(e820_build(&gm, map, 0), -ENOSPC);
	/* No RAM at 0. */
	gm.regions[0].gpa = 2 * GiB;
	assert_int_equal(e820_build(&gm, map, E820_MAX_ENTRIES), -EINVAL);
	gm.nregions = 0;
	assert_int_equal(e820_build(&gm, map, E820_MAX_ENTRIES), -EINVAL);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_small_ram),
		cmocka_unit_test(test_large_ram),
		cmocka_unit_test(test_unsorted_regions),
		cmocka_unit_test(test_errors),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
