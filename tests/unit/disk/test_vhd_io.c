/* SPDX-License-Identifier: MIT */
/*
 * The VHD and VHDX drivers through the public API: a fixed VHD's first
 * sector cannot become a footer (the probed-raw guard), data written to
 * every kind of image reads back after a reopen, a write spanning two
 * blocks allocates both, and an explicit format= opens a fixed VHD that
 * probes as raw; a differencing VHD's block reads the parent wherever its
 * bitmap bit is clear, also after other blocks became wholly its own (the
 * driver then stops reading their bitmaps).
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include <errno.h>
#include <stdio.h>
#include <unistd.h>

#include "devices/disk/disk.h"
#include "devices/disk/format.h"
#include "base/log.h"

struct fx {
	char dir[64];
	char img[128];
	char err[256];
};

static int setup(void **state)
{
	struct fx *f = calloc(1, sizeof(*f));

	snprintf(f->dir, sizeof(f->dir), "%s/vhd-io.XXXXXX",
		 getenv("TMPDIR") ? getenv("TMPDIR") : "/tmp");
	assert_non_null(mkdtemp(f->dir));
	*state = f;
	return 0;
}

static int teardown(void **state)
{
	struct fx *f = *state;

	unlink(f->img);
	rmdir(f->dir);
	free(f);
	return 0;
}

static struct disk *make(struct fx *f, const char *fmt, const char *opts, bool ro)
{
	const struct disk_format *df = disk_format_find(fmt);
	struct disk_create_opts co = { .size = 8 << 20, .options = opts };
	struct disk_open_opts oo = { .readonly = ro, .format = fmt };
	struct disk *d = NULL;

	snprintf(f->img, sizeof(f->img), "%s/img", f->dir);
	if (access(f->img, F_OK) != 0)
		assert_int_equal(df->create(f->img, &co, f->err, sizeof(f->err)), 0);
	assert_int_equal(disk_open(f->img, &oo, &d, f->err, sizeof(f->err)), 0);
	return d;
}

static void test_fixed_vhd_sector0_guard(void **state)
{
	struct fx *f = *state;
	struct disk *d = make(f, "vpc", "subformat=fixed,force_size=on", false);
	uint8_t buf[4096] = "conectix";

	assert_int_equal(d->size, 8 << 20);
	assert_int_equal(disk_pwrite(d, buf, sizeof(buf), 0), -EPERM);
	memcpy(buf, "harmless", 8);
	assert_int_equal(disk_pwrite(d, buf, sizeof(buf), 0), 0);
	memcpy(buf, "conectix", 8); /* elsewhere it is just data */
	assert_int_equal(disk_pwrite(d, buf, sizeof(buf), 4096), 0);
	disk_close(d);
}

static void roundtrip(struct fx *f, const char *fmt, const char *opts)
{
	struct disk *d = make(f, fmt, opts, false);
	size_t n = 3 << 20; /* spans two 2 MiB VHD blocks / several VHDX ones */
	uint8_t *w = malloc(n), *r = malloc(n);

	for (size_t i = 0; i < n; i++)
		w[i] = (uint8_t)(i * 31 + 7);
	assert_int_equal(disk_pwrite(d, w, n, 1 << 20), 0);
	assert_int_equal(disk_flush(d), 0);
	disk_close(d);
	d = make(f, fmt, opts, true);
	assert_int_equal(disk_pread(d, r, n, 1 << 20), 0);
	assert_memory_equal(w, r, n);
	assert_int_equal(disk_pread(d, r, 1 << 20, 0), 0); /* never written: zeros */
	for (size_t i = 0; i < 1 << 20; i++)
		assert_int_equal(r[i], 0);
	disk_close(d);
	unlink(f->img);
	free(w);
	free(r);
}

static void test_roundtrips(void **state)
{
	struct fx *f = *state;

	roundtrip(f, "vpc", "subformat=dynamic");
	roundtrip(f, "vhd", "subformat=fixed");
	roundtrip(f, "vhdx", "subformat=dynamic,block_size=1M");
	roundtrip(f, "vhdx", "subformat=fixed");
}

/* Sector s of the 2 MiB block `blk` reads `want` (one byte pattern). */
static void assert_sector(struct disk *d, uint64_t off, uint8_t want)
{
	uint8_t r[512];

	assert_int_equal(disk_pread(d, r, sizeof(r), off), 0);
	for (size_t i = 0; i < sizeof(r); i++)
		assert_int_equal(r[i], want);
}

static void diff_check(struct disk *d)
{
	const uint64_t b = 2 << 20;

	assert_sector(d, 0, 0xc1); /* block 0: all ours */
	assert_sector(d, b - 512, 0xc1);
	assert_sector(d, b, 0xc2); /* block 1: ours but the last sector */
	assert_sector(d, 2 * b - 1024, 0xc2);
	assert_sector(d, 2 * b - 512, 0xa0); /* the parent's */
	assert_sector(d, 2 * b, 0xa0);	     /* block 2: never written */
}

static void test_vhd_differencing_bitmaps(void **state)
{
	struct fx *f = *state;
	const uint64_t b = 2 << 20;
	struct disk_create_opts co = { .backing_file = "img", .backing_format = "vpc" };
	struct disk_open_opts oo = { .format = "vpc" };
	char child[160];
	struct disk *d = make(f, "vpc", "subformat=dynamic", false);
	uint8_t *buf = malloc(b);

	memset(buf, 0xa0, b);
	for (uint64_t off = 0; off < 6 << 20; off += b)
		assert_int_equal(disk_pwrite(d, buf, b, off), 0);
	disk_close(d);
	snprintf(child, sizeof(child), "%s/child", f->dir);
	assert_int_equal(disk_format_find("vpc")->create(child, &co, f->err, sizeof(f->err)), 0);
	assert_int_equal(disk_open(child, &oo, &d, f->err, sizeof(f->err)), 0);
	memset(buf, 0xc1, b);
	assert_int_equal(disk_pwrite(d, buf, b, 0), 0); /* block 0 whole: full */
	memset(buf, 0xc2, b);
	assert_int_equal(disk_pwrite(d, buf, b - 512, b), 0);
	diff_check(d);
	/* Rewriting sectors that are ours already changes no bitmap, and the
	 * full block keeps reading as ours. */
	assert_int_equal(disk_pwrite(d, buf, 4096, b), 0);
	memset(buf, 0xc1, b);
	assert_int_equal(disk_pwrite(d, buf, 4096, 0), 0);
	diff_check(d);
	disk_close(d);
	oo.readonly = true; /* a fresh open learns it all from the file */
	assert_int_equal(disk_open(child, &oo, &d, f->err, sizeof(f->err)), 0);
	diff_check(d);
	disk_close(d);
	unlink(child);
	free(buf);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_fixed_vhd_sector0_guard, setup, teardown),
		cmocka_unit_test_setup_teardown(test_roundtrips, setup, teardown),
		cmocka_unit_test_setup_teardown(test_vhd_differencing_bitmaps, setup, teardown),
	};

	log_set_level(LOG_ERROR);
	return cmocka_run_group_tests(tests, NULL, NULL);
}
