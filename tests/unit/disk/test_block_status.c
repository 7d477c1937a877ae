/* SPDX-License-Identifier: MIT */
/*
 * disk_block_status for every format vmm-img creates: after a few writes,
 * walking the disk's status must (1) cover every written byte with DATA,
 * (2) promise ZERO only where reads do return zeros, and (3) say ZERO for
 * most of the disk (a driver that answered DATA everywhere would pass (1)
 * and (2) and fail this). Then the backing chain: an overlay's unallocated
 * clusters take the status of its backing file, zeros past the backing
 * file's end.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <unistd.h>

#include "devices/disk/disk.h"
#include "devices/disk/format.h"
#include "tests/unit/disk/qcow2_harness.h"

#define MIB	  (1ULL << 20)
#define DISK_SIZE (256 * MIB)

/* Where the test writes (offset, length): inside a block, across a block
 * boundary, and the disk's last sectors. */
static const uint64_t writes[][2] = {
	{ 3 * MIB + 4096, 8192 },
	{ 100 * MIB - 4096, 12288 },
	{ DISK_SIZE - 4 * MIB - 1024, 1024 },
};

static struct disk *make_image(struct fx *f, const char *fmt, const char *options)
{
	struct disk_create_opts co = { .size = DISK_SIZE, .options = options };
	struct disk_open_opts oo = { .format = fmt };
	char *path = qh_path(f, fmt);
	struct disk *d = NULL;

	assert_int_equal(disk_format_find(fmt)->create(path, &co, f->err, sizeof(f->err)), 0);
	assert_int_equal(disk_open(path, &oo, &d, f->err, sizeof(f->err)), 0);
	return d;
}

static bool is_zero(const uint8_t *p, size_t n)
{
	for (size_t i = 0; i < n; i++)
		if (p[i])
			return false;
	return true;
}

/* Walk [0, d->size): checks (1)..(3) of the header; returns the DATA bytes. */
static uint64_t walk(struct disk *d, uint64_t nwrites, const uint64_t (*w)[2])
{
	uint64_t off = 0, data = 0, n;
	enum disk_status kind;
	uint8_t *buf = malloc(MIB);

	assert_non_null(buf);
	while (off < d->size) {
		assert_int_equal(disk_block_status(d, off, d->size - off, &kind, &n), 0);
		assert_true(n >= DISK_SECTOR_SIZE && n <= d->size - off);
		assert_int_equal(n % DISK_SECTOR_SIZE, 0);
		assert_true(kind == DISK_STATUS_DATA || kind == DISK_STATUS_ZERO);
		if (kind == DISK_STATUS_DATA) {
			data += n;
		} else {
			for (uint64_t i = 0; i < nwrites; i++) /* (1) */
				assert_false(w[i][0] < off + n && off < w[i][0] + w[i][1]);
			for (uint64_t p = off; p < off + n; p += MIB) { /* (2) */
				size_t len = off + n - p < MIB ? off + n - p : MIB;

				assert_int_equal(disk_pread(d, buf, len, p), 0);
				assert_true(is_zero(buf, len));
			}
		}
		off += n;
	}
	free(buf);
	return data;
}

static void check_format(struct fx *f, const char *fmt, const char *options)
{
	struct disk *d = make_image(f, fmt, options);
	uint8_t *pat = malloc(16384);
	uint64_t data;

	assert_non_null(pat);
	memset(pat, 0xa5, 16384);
	/* A new image: all zeros, one answer per stretch at most per block. */
	assert_int_equal(walk(d, 0, writes), 0);
	for (size_t i = 0; i < sizeof(writes) / sizeof(writes[0]); i++)
		assert_int_equal(disk_pwrite(d, pat, writes[i][1], writes[i][0]), 0);
	data = walk(d, sizeof(writes) / sizeof(writes[0]), writes);
	/* (3): the written blocks (at most 2 MiB each here: a write across a
	 * boundary allocates two) and nothing else. */
	print_message("%s: %llu KiB of data reported\n", fmt, (unsigned long long)(data >> 10));
	assert_true(data > 0 && data <= 4 * 2 * MIB);
	/* The status of a range that starts inside the data. */
	{
		enum disk_status kind;
		uint64_t n;

		assert_int_equal(disk_block_status(d, writes[0][0], 4096, &kind, &n), 0);
		assert_int_equal(kind, DISK_STATUS_DATA);
		assert_int_equal(n, 4096);
		assert_int_equal(disk_block_status(d, 0, 0, &kind, &n), -EINVAL);
		assert_int_equal(disk_block_status(d, 1, 512, &kind, &n), -EINVAL);
		assert_int_equal(disk_block_status(d, d->size - 512, 1024, &kind, &n), -EINVAL);
	}
	free(pat);
	disk_close(d);
}

static void test_raw(void **state)
{
	check_format(*state, "raw", NULL);
}

static void test_qcow2(void **state)
{
	check_format(*state, "qcow2", NULL);
}

static void test_qed(void **state)
{
	check_format(*state, "qed", NULL);
}

static void test_vdi(void **state)
{
	check_format(*state, "vdi", NULL);
}

static void test_vpc(void **state)
{
	check_format(*state, "vpc", NULL);
}

static void test_vhdx(void **state)
{
	check_format(*state, "vhdx", "block_size=1M");
}

static void test_vmdk(void **state)
{
	check_format(*state, "vmdk", NULL);
}

/* A qcow2 overlay over an 8 MiB raw file with data in its first 64 KiB,
 * the overlay 32 MiB with one cluster of its own at 16 MiB. */
static void test_backing_chain(void **state)
{
	struct fx *f = *state;
	struct disk_create_opts co = { .size = 32 * MIB, .backing_format = "raw" };
	char *base = qh_path(f, "base.raw"), *top = qh_path(f, "top.qcow2");
	struct disk *d = NULL;
	enum disk_status kind;
	uint8_t pat[4096];
	uint64_t n;
	int fd;

	memset(pat, 0x5a, sizeof(pat));
	fd = open(base, O_RDWR | O_CREAT | O_EXCL, 0600);
	assert_true(fd >= 0);
	assert_int_equal(ftruncate(fd, 8 * MIB), 0);
	for (int i = 0; i < 16; i++)
		assert_int_equal(pwrite(fd, pat, sizeof(pat), i * 4096), 4096);
	close(fd);
	co.backing_file = base;
	assert_int_equal(disk_format_find("qcow2")->create(top, &co, f->err, sizeof(f->err)), 0);
	assert_int_equal(disk_open(top, NULL, &d, f->err, sizeof(f->err)), 0);
	assert_int_equal(disk_pwrite(d, pat, sizeof(pat), 16 * MIB), 0);

	/* the backing file's data, through the overlay: DATA, and it ends
	 * where the backing file's data ends or sooner */
	assert_int_equal(disk_block_status(d, 0, d->size, &kind, &n), 0);
	assert_int_equal(kind, DISK_STATUS_DATA);
	assert_true(n >= 4096 && n <= 64 * 1024);
	/* a hole of the backing file */
	assert_int_equal(disk_block_status(d, 4 * MIB, 1 * MIB, &kind, &n), 0);
	assert_int_equal(kind, DISK_STATUS_ZERO);
	assert_int_equal(n, 1 * MIB);
	/* past the backing file's end: zeros, up to the overlay's own cluster */
	assert_int_equal(disk_block_status(d, 8 * MIB, d->size - 8 * MIB, &kind, &n), 0);
	assert_int_equal(kind, DISK_STATUS_ZERO);
	assert_int_equal(n, 8 * MIB);
	assert_int_equal(disk_block_status(d, 16 * MIB, 1 * MIB, &kind, &n), 0);
	assert_int_equal(kind, DISK_STATUS_DATA);
	assert_int_equal(n, 64 * 1024);
	/* a run that crosses the backing file's end is cut there */
	assert_int_equal(disk_block_status(d, 7 * MIB, 2 * MIB, &kind, &n), 0);
	assert_int_equal(kind, DISK_STATUS_ZERO);
	assert_int_equal(n, 1 * MIB);
	disk_close(d);

	/* opened without its backing file (vmm-img info): zeros */
	assert_int_equal(disk_open(top,
				   &(struct disk_open_opts){ .readonly = true, .no_backing = true },
				   &d, f->err, sizeof(f->err)),
			 0);
	assert_int_equal(disk_block_status(d, 0, 1 * MIB, &kind, &n), 0);
	assert_int_equal(kind, DISK_STATUS_ZERO);
	disk_close(d);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_raw, qh_setup, qh_teardown),
		cmocka_unit_test_setup_teardown(test_qcow2, qh_setup, qh_teardown),
		cmocka_unit_test_setup_teardown(test_qed, qh_setup, qh_teardown),
		cmocka_unit_test_setup_teardown(test_vdi, qh_setup, qh_teardown),
		cmocka_unit_test_setup_teardown(test_vpc, qh_setup, qh_teardown),
		cmocka_unit_test_setup_teardown(test_vhdx, qh_setup, qh_teardown),
		cmocka_unit_test_setup_teardown(test_vmdk, qh_setup, qh_teardown),
		cmocka_unit_test_setup_teardown(test_backing_chain, qh_setup, qh_teardown),
	};

	return cmocka_run_group_tests_name("block_status", tests, NULL, NULL);
}
