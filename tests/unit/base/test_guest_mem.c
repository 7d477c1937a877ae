/* SPDX-License-Identifier: MIT */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "base/guest_mem.h"
#include "base/layout.h"

static void test_slice_bounds(void **state)
{
	struct guest_mem gm = { 0 };
	uint8_t *a = calloc(1, 0x1000), *b = calloc(1, 0x1000);

	(void)state;
	assert_int_equal(gm_add_region(&gm, 0, 0x1000, a), 0);
	assert_int_equal(gm_add_region(&gm, 0x10000, 0x1000, b), 0);
	assert_ptr_equal(gm_slice(&gm, 0, 0x1000), a);
	assert_ptr_equal(gm_slice(&gm, 0xfff, 1), a + 0xfff);
	assert_ptr_equal(gm_slice(&gm, 0x1000, 0), NULL); /* just past the end */
	assert_null(gm_slice(&gm, 0xfff, 2));		  /* straddles the end */
	assert_null(gm_slice(&gm, 0x800, 0x1000));
	assert_null(gm_slice(&gm, 0x2000, 1)); /* a gap */
	assert_ptr_equal(gm_slice(&gm, 0x10800, 0x800), b + 0x800);
	/* lengths that wrap around the address space */
	assert_null(gm_slice(&gm, 0x10, UINT64_MAX));
	assert_null(gm_slice(&gm, UINT64_MAX, 2));
	assert_null(gm_slice(&gm, 0x10001, UINT64_MAX - 0x10000));
	assert_int_equal(gm_low_ram_end(&gm), 0x1000);
	gm_destroy(&gm);
	free(a);
	free(b);
}

static void test_add_region_rules(void **state)
{
	struct guest_mem gm = { 0 };
	uint8_t buf[64];

	(void)state;
	assert_int_equal(gm_add_region(&gm, 0, 0, buf), -EINVAL);
	assert_int_equal(gm_add_region(&gm, 0, 64, NULL), -EINVAL);
	assert_int_equal(gm_add_region(&gm, UINT64_MAX - 10, 64, buf), -EINVAL);
	assert_int_equal(gm_add_region(&gm, 0x100, 64, buf), 0);
	assert_int_equal(gm_add_region(&gm, 0x120, 64, buf), -EEXIST);
	assert_int_equal(gm_add_region(&gm, 0xe0, 64, buf), -EEXIST);
	assert_int_equal(gm_add_region(&gm, 0x140, 64, buf), 0);
	assert_int_equal(gm_add_region(&gm, 0x200, 64, buf), 0);
	assert_int_equal(gm_add_region(&gm, 0x300, 64, buf), 0);
	assert_int_equal(gm_add_region(&gm, 0x400, 64, buf), -ENOSPC);
	assert_int_equal(gm.ram_size, 4 * 64);
}

static void test_read_write(void **state)
{
	struct guest_mem gm = { 0 };
	uint8_t *ram = calloc(1, 4096);
	uint32_t v = 0x12345678, r = 0;

	(void)state;
	assert_int_equal(gm_add_region(&gm, 0x1000, 4096, ram), 0);
	assert_int_equal(gm_write(&gm, 0x1ffc, &v, 4), 0);
	assert_int_equal(gm_read(&gm, 0x1ffc, &r, 4), 0);
	assert_int_equal(r, v);
	assert_int_equal(gm_write(&gm, 0x1ffe, &v, 4), -EFAULT);
	assert_int_equal(gm_read(&gm, 0xfff, &r, 4), -EFAULT);
	free(ram);
}

static void test_init_splits_around_hole(void **state)
{
	struct guest_mem gm;
	uint64_t hole = 64ULL << 20; /* a small hole so the test maps little */

	(void)state;
	/* below the hole: one region */
	assert_int_equal(gm_init(&gm, 32ULL << 20, hole, hole + (16ULL << 20), false, NULL, 0), 0);
	assert_int_equal(gm.nregions, 1);
	assert_int_equal(gm.regions[0].size, 32ULL << 20);
	gm_destroy(&gm);
	/* larger: RAM continues above the hole */
	assert_int_equal(gm_init(&gm, 96ULL << 20, hole, hole + (16ULL << 20), false, NULL, 0), 0);
	assert_int_equal(gm.nregions, 2);
	assert_int_equal(gm.regions[0].gpa, 0);
	assert_int_equal(gm.regions[0].size, hole);
	assert_int_equal(gm.regions[1].gpa, hole + (16ULL << 20));
	assert_int_equal(gm.regions[1].size, 32ULL << 20);
	assert_int_equal(gm.ram_size, 96ULL << 20);
	assert_null(gm_slice(&gm, hole, 1)); /* the hole is not RAM */
	*(volatile uint8_t *)gm_slice(&gm, hole + (16ULL << 20), 1) = 1;
	gm_destroy(&gm);
	/* the real layout: 4 GiB of RAM leaves 1 GiB above 4 GiB */
	assert_int_equal(gm_init(&gm, 4ULL << 30, LAYOUT_MMIO_HOLE_START, LAYOUT_MMIO_HOLE_END,
				 false, NULL, 0),
			 0);
	assert_int_equal(gm.regions[1].gpa, 4ULL << 30);
	assert_int_equal(gm.regions[1].size, 1ULL << 30);
	gm_destroy(&gm);
}

/* Each refusal says why in one line (base/err.h). */
static void test_init_says_why(void **state)
{
	struct guest_mem gm;
	uint64_t hole = 64ULL << 20;
	char err[256];

	(void)state;
	assert_int_equal(gm_init(&gm, 0, hole, hole, false, err, sizeof(err)), -EINVAL);
	assert_string_equal(err, "no guest RAM (size 0)");
	assert_int_equal(gm_init(&gm, 32ULL << 20, hole, hole - 1, false, err, sizeof(err)),
			 -EINVAL);
	assert_string_equal(err, "the MMIO hole ends at 0x3ffffff, before it starts");
	assert_int_equal(gm_init(&gm, (2ULL << 20) + 4096, hole, hole, true, err, sizeof(err)),
			 -EINVAL);
	assert_string_equal(
		err, "2101248 bytes of guest RAM are not a whole number of 2 MiB huge pages");
	/* more than any address space: mmap refuses it, nothing is left mapped */
	assert_int_equal(gm_init(&gm, 1ULL << 60, 1ULL << 61, 1ULL << 61, false, err, sizeof(err)),
			 -ENOMEM);
	assert_string_equal(err,
			    "cannot map 1099511627776 MiB of guest RAM: Cannot allocate memory");
	assert_int_equal(gm.nregions, 0);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_slice_bounds),
		cmocka_unit_test(test_add_region_rules),
		cmocka_unit_test(test_read_write),
		cmocka_unit_test(test_init_splits_around_hole),
		cmocka_unit_test(test_init_says_why),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
