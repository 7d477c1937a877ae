/* SPDX-License-Identifier: MIT */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "base/bus.h"

struct fake_dev {
	uint64_t last_off;
	uint32_t last_len;
	uint8_t last_data[8];
	unsigned int reads, writes;
};

static void fake_read(void *opaque, uint64_t off, void *data, uint32_t len)
{
	struct fake_dev *d = opaque;

	d->reads++;
	d->last_off = off;
	d->last_len = len;
	memset(data, (int)(0x10 + off), len);
}

static void fake_write(void *opaque, uint64_t off, const void *data, uint32_t len)
{
	struct fake_dev *d = opaque;

	d->writes++;
	d->last_off = off;
	d->last_len = len;
	memcpy(d->last_data, data, len);
}

static const struct bus_dev_ops fake_ops = { .read = fake_read, .write = fake_write };

/* Register with an error buffer; the reason is left in `why`. */
static char why[BUS_ERR_MAX];

static int reg(struct bus *bus, uint64_t base, uint64_t len, const struct bus_dev_ops *ops,
	       struct fake_dev *d, const char *name)
{
	why[0] = '\0';
	return bus_register(bus, base, len, ops, d, NULL, name, why, sizeof(why));
}

static void test_register_rules(void **state)
{
	struct fake_dev d = { 0 };
	struct bus bus;

	(void)state;
	bus_init(&bus, "test");
	assert_int_equal(reg(&bus, 0x100, 0, &fake_ops, &d, "zero"), -EINVAL);
	assert_string_equal(why, "zero length");
	assert_int_equal(reg(&bus, UINT64_MAX - 1, 4, &fake_ops, &d, "wrap"), -EINVAL);
	assert_string_equal(why, "0x4 bytes at 0xfffffffffffffffe wrap past the end");
	assert_int_equal(reg(&bus, 0x100, 0x10, NULL, &d, "noops"), -EINVAL);
	assert_string_equal(why, "no access handlers");
	assert_int_equal(reg(&bus, 0x100, 0x10, &fake_ops, &d, "a"), 0);
	assert_string_equal(why, ""); /* untouched on success */
	/* overlaps: inside, straddling either end, covering; the reason names
	 * the device in the way and its range */
	assert_int_equal(reg(&bus, 0x104, 2, &fake_ops, &d, "in"), -EEXIST);
	assert_string_equal(why, "it overlaps a at 0x100..0x10f");
	assert_int_equal(reg(&bus, 0xf8, 0x10, &fake_ops, &d, "lo"), -EEXIST);
	assert_int_equal(reg(&bus, 0x10f, 0x10, &fake_ops, &d, "hi"), -EEXIST);
	assert_int_equal(reg(&bus, 0x0, 0x1000, &fake_ops, &d, "all"), -EEXIST);
	assert_string_equal(why, "it overlaps a at 0x100..0x10f");
	/* adjacent ranges are fine */
	assert_int_equal(reg(&bus, 0xf0, 0x10, &fake_ops, &d, "below"), 0);
	assert_int_equal(reg(&bus, 0x110, 0x10, &fake_ops, &d, "above"), 0);
	/* the first overlapped range in address order is the one named */
	assert_int_equal(reg(&bus, 0xf8, 0x20, &fake_ops, &d, "wide"), -EEXIST);
	assert_string_equal(why, "it overlaps below at 0xf0..0xff");
	/* the last byte of the address space can be registered */
	assert_int_equal(reg(&bus, UINT64_MAX, 1, &fake_ops, &d, "top"), 0);
	assert_int_equal(bus.nranges, 4);
	assert_string_equal(bus_find(&bus, 0xf5)->name, "below");
	assert_string_equal(bus_find(&bus, 0x10f)->name, "a");
	assert_string_equal(bus_find(&bus, 0x110)->name, "above");
	assert_string_equal(bus_find(&bus, UINT64_MAX)->name, "top");
	assert_null(bus_find(&bus, 0x120));
	assert_null(bus_find(&bus, 0xef));
	/* no buffer is fine too (base/err.h) */
	assert_int_equal(bus_register(&bus, 0x104, 2, &fake_ops, &d, NULL, "in", NULL, 0), -EEXIST);
	bus_destroy(&bus);
}

static void test_dispatch_offsets(void **state)
{
	struct fake_dev d = { 0 };
	struct bus bus;
	uint8_t buf[8];
	uint32_t v = 0xdeadbeef;

	(void)state;
	bus_init(&bus, "test");
	assert_int_equal(reg(&bus, 0x3f8, 8, &fake_ops, &d, "uart"), 0);
	assert_int_equal(bus_read(&bus, 0x3fd, buf, 1), 0);
	assert_int_equal(d.last_off, 5);
	assert_int_equal(buf[0], 0x15);
	assert_int_equal(bus_write(&bus, 0x3fc, &v, 4), 0);
	assert_int_equal(d.last_off, 4);
	assert_int_equal(d.last_len, 4);
	assert_memory_equal(d.last_data, &v, 4);
	assert_int_equal(bus_unclaimed(&bus), 0);
	bus_destroy(&bus);
}

static void test_unclaimed_and_straddle(void **state)
{
	struct fake_dev d = { 0 };
	struct bus bus;
	uint8_t buf[4] = { 0 };

	(void)state;
	bus_init(&bus, "test");
	assert_int_equal(reg(&bus, 0x100, 4, &fake_ops, &d, "dev"), 0);
	/* nobody there: all-ones and counted */
	assert_int_equal(bus_read(&bus, 0x200, buf, 4), -ENOENT);
	assert_memory_equal(buf, "\xff\xff\xff\xff", 4);
	assert_int_equal(bus_write(&bus, 0x200, buf, 1), -ENOENT);
	/* 4 bytes at offset 2 of a 4-byte device straddles its end */
	memset(buf, 0, sizeof(buf));
	assert_int_equal(bus_read(&bus, 0x102, buf, 4), -EINVAL);
	assert_memory_equal(buf, "\xff\xff\xff\xff", 4);
	assert_int_equal(bus_write(&bus, 0x103, buf, 2), -EINVAL);
	assert_int_equal(d.reads + d.writes, 0);
	assert_int_equal(bus_unclaimed(&bus), 4);
	bus_destroy(&bus);
}

static void test_many_ranges_sorted(void **state)
{
	struct fake_dev d = { 0 };
	struct bus bus;
	int i;

	(void)state;
	bus_init(&bus, "test");
	/* registered out of order; lookup must still find each */
	for (i = 31; i >= 0; i--)
		assert_int_equal(reg(&bus, (uint64_t)i * 0x100, 0x10, &fake_ops, &d, "r"), 0);
	for (i = 0; i < 32; i++) {
		assert_non_null(bus_find(&bus, (uint64_t)i * 0x100 + 0xf));
		assert_int_equal(bus_find(&bus, (uint64_t)i * 0x100)->base, (uint64_t)i * 0x100);
		assert_null(bus_find(&bus, (uint64_t)i * 0x100 + 0x10));
	}
	bus_destroy(&bus);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_register_rules),
		cmocka_unit_test(test_dispatch_offsets),
		cmocka_unit_test(test_unclaimed_and_straddle),
		cmocka_unit_test(test_many_ranges_sorted),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
