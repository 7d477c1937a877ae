/* SPDX-License-Identifier: MIT */
/*
 * The qcow2 driver's I/O: create and reopen, allocation on first write (and
 * not on rewrite), zero and unallocated clusters, concurrent writes into one
 * new cluster, backing files (fall-through reads, copy-on-write of partial
 * clusters), discard and write-zeroes, refcount block and table growth.
 * Header parsing and interop: test_qcow2_format.c.
 */
#include <errno.h>
#include <fcntl.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "tests/unit/disk/qcow2_harness.h"

/* ---- allocation ---- */

static void test_alloc(void **state)
{
	struct fx *f = *state;
	uint8_t w[4096], r[65536 * 2];
	struct disk *d;
	uint64_t s0, s1;
	const char *p = qh_path(f, "a.qcow2");

	qh_create(f, "a.qcow2", 64 * MiB, 16, NULL, NULL);
	s0 = qh_fsize(p);
	assert_int_equal(s0, 4 * 65536);
	d = qh_open(f, "a.qcow2", false);
	assert_int_equal(d->size, 64 * MiB);
	assert_string_equal(d->format, "qcow2");
	/* unallocated reads as zeros */
	memset(r, 0xaa, sizeof(r));
	assert_int_equal(disk_pread(d, r, sizeof(r), 10 * MiB), 0);
	assert_true(qh_all_bytes(r, sizeof(r), 0));
	/* first write: one L2 table (written whole) and one data cluster, of
	 * which only the guest's 4 KiB are written (fresh clusters are holes) */
	qh_fill(w, sizeof(w), 1);
	assert_int_equal(disk_pwrite(d, w, 4096, 8192), 0);
	s1 = qh_fsize(p);
	assert_int_equal(s1, s0 + 65536 + 8192 + 4096);
	/* rewrite, and a write elsewhere in the same cluster: no growth */
	assert_int_equal(disk_pwrite(d, w, 4096, 8192), 0);
	assert_int_equal(disk_pwrite(d, w, 4096, 0), 0);
	assert_int_equal(qh_fsize(p), s1);
	assert_int_equal(disk_pread(d, r, 65536, 0), 0);
	assert_memory_equal(r, w, 4096);
	assert_true(qh_all_bytes(r + 4096, 4096, 0));
	assert_memory_equal(r + 8192, w, 4096);
	assert_true(qh_all_bytes(r + 12288, 65536 - 12288, 0));
	/* a second cluster: one more */
	assert_int_equal(disk_pwrite(d, w, 4096, 65536), 0);
	assert_int_equal(qh_fsize(p), s0 + 2 * 65536 + 4096);
	assert_int_equal(disk_flush(d), 0);
	disk_close(d);
	d = qh_open(f, "a.qcow2", true);
	assert_int_equal(disk_pread(d, r, 4096, 65536), 0);
	assert_memory_equal(r, w, 4096);
	assert_int_equal(disk_pwrite(d, w, 4096, 0), -EROFS);
	disk_close(d);
}

/* A multi-cluster write into fresh space is one contiguous run; reads back
 * across cluster and L2-table boundaries. */
static void test_big_io(void **state)
{
	struct fx *f = *state;
	size_t n = 3 * MiB + 4096;
	uint8_t *w = malloc(n), *r = malloc(n);
	struct disk *d;

	qh_create(f, "big.qcow2", 64 * MiB, 12, NULL, NULL); /* 4K clusters: 2 MiB per L2 */
	d = qh_open(f, "big.qcow2", false);
	qh_fill(w, n, 3);
	assert_int_equal(disk_pwrite(d, w, n, 1 * MiB + 512), 0);
	assert_int_equal(disk_pread(d, r, n, 1 * MiB + 512), 0);
	assert_memory_equal(r, w, n);
	disk_close(d);
	free(w);
	free(r);
}

/* Many writes in flight into one new cluster: allocated once, nothing lost. */
static void test_inflight_same_cluster(void **state)
{
	struct fx *f = *state;
	struct disk_open_opts o = { .engine = DISK_ENGINE_THREADS };
	enum { N = 16 };
	struct disk_req req[N];
	struct iovec iov[N];
	uint8_t *buf = malloc(N * 4096), *r = malloc(65536);
	struct inflight c = { 0 };
	struct disk *d;
	uint64_t s0;

	qh_create(f, "if.qcow2", 16 * MiB, 16, NULL, NULL);
	assert_int_equal(disk_open(qh_path(f, "if.qcow2"), &o, &d, f->err, sizeof(f->err)), 0);
	qh_fill(buf, N * 4096, 9);
	for (int i = 0; i < N; i++) {
		iov[i] = (struct iovec){ buf + i * 4096, 4096 };
		req[i] = (struct disk_req){ .op = DISK_WRITE,
					    .offset = 5 * 65536 + i * 4096,
					    .len = 4096,
					    .iov = &iov[i],
					    .iovcnt = 1,
					    .done = qh_req_done,
					    .opaque = &c };
		assert_int_equal(disk_submit(d, &req[i]), 0);
	}
	assert_int_equal(c.done, 0); /* never inside submit */
	s0 = qh_fsize(qh_path(f, "if.qcow2"));
	disk_drain(d);
	assert_int_equal(c.done, N);
	assert_int_equal(c.err, 0);
	assert_int_equal(disk_pread(d, r, 65536, 5 * 65536), 0);
	assert_memory_equal(r, buf, 65536);
	/* L2 table + exactly one data cluster */
	assert_true(qh_fsize(qh_path(f, "if.qcow2")) <= 6 * 65536);
	(void)s0;
	disk_close(d);
	free(buf);
	free(r);
}

/* ---- backing files ---- */

static void make_raw(struct fx *f, const char *name, size_t n, unsigned int seed, uint8_t **data)
{
	uint8_t *b = malloc(n);
	int fd = open(qh_path(f, name), O_RDWR | O_CREAT | O_TRUNC, 0644);

	qh_fill(b, n, seed);
	assert_true(fd >= 0);
	assert_int_equal(write(fd, b, n), (ssize_t)n);
	close(fd);
	*data = b;
}

static void test_backing(void **state)
{
	struct fx *f = *state;
	uint8_t *base, *r = malloc(4 * 65536), w[4096];
	struct disk *d;

	/* backing (raw, 1 MiB) shorter than the overlay (2 MiB) */
	make_raw(f, "base.raw", 1 * MiB, 5, &base);
	qh_create(f, "ov.qcow2", 2 * MiB, 16, "base.raw", "raw");
	d = qh_open(f, "ov.qcow2", false);
	assert_non_null(d->backing);
	assert_int_equal(disk_pread(d, r, 3 * 65536, 65536), 0);
	assert_memory_equal(r, base + 65536, 3 * 65536);
	/* reads past the backing file's end are zeros */
	memset(r, 0xaa, 2 * 65536);
	assert_int_equal(disk_pread(d, r, 2 * 65536, 1 * MiB - 65536), 0);
	assert_memory_equal(r, base + 1 * MiB - 65536, 65536);
	assert_true(qh_all_bytes(r + 65536, 65536, 0));
	/* a partial write copies the rest of the cluster from the backing file */
	qh_fill(w, sizeof(w), 77);
	assert_int_equal(disk_pwrite(d, w, 4096, 3 * 65536 + 8192), 0);
	/* and a write spanning two clusters: COW head and tail */
	assert_int_equal(disk_pwrite(d, w, 4096, 6 * 65536 - 2048), 0);
	disk_close(d);
	d = qh_open(f, "ov.qcow2", true);
	assert_int_equal(disk_pread(d, r, 65536, 3 * 65536), 0);
	assert_memory_equal(r, base + 3 * 65536, 8192);
	assert_memory_equal(r + 8192, w, 4096);
	assert_memory_equal(r + 12288, base + 3 * 65536 + 12288, 65536 - 12288);
	assert_int_equal(disk_pread(d, r, 2 * 65536, 5 * 65536), 0);
	assert_memory_equal(r, base + 5 * 65536, 65536 - 2048);
	assert_memory_equal(r + 65536 - 2048, w, 4096);
	assert_memory_equal(r + 65536 + 2048, base + 6 * 65536 + 2048, 65536 - 2048);
	disk_close(d);
	/* the backing file itself was not touched */
	{
		int fd = open(qh_path(f, "base.raw"), O_RDONLY);

		assert_int_equal(pread(fd, r, 65536, 3 * 65536), 65536);
		assert_memory_equal(r, base + 3 * 65536, 65536);
		close(fd);
	}
	/* a qcow2 backing file whose format the overlay does not record is not
	 * probed: qcow2 can name further files (format.h) */
	qh_create(f, "top0.qcow2", 0, 16, "ov.qcow2", NULL);
	d = NULL;
	assert_int_equal(disk_open(qh_path(f, "top0.qcow2"), NULL, &d, f->err, sizeof(f->err)),
			 -EPERM);
	assert_non_null(strstr(f->err, "refusing to probe it"));
	/* a qcow2 chain: overlay of the overlay, relative names, recorded format */
	qh_create(f, "top.qcow2", 0, 16, "ov.qcow2", "qcow2");
	d = qh_open(f, "top.qcow2", true);
	assert_int_equal(d->size, 2 * MiB);
	assert_int_equal(disk_pread(d, r, 65536, 3 * 65536), 0);
	assert_memory_equal(r + 8192, w, 4096);
	assert_memory_equal(r, base + 3 * 65536, 8192);
	disk_close(d);
	free(base);
	free(r);
}

static void test_backing_missing(void **state)
{
	struct fx *f = *state;
	struct disk *d = NULL;

	qh_create(f, "orphan.qcow2", 1 * MiB, 16, "nonexistent.raw", "raw");
	assert_int_not_equal(
		disk_open(qh_path(f, "orphan.qcow2"), NULL, &d, f->err, sizeof(f->err)), 0);
	assert_non_null(strstr(f->err, "backing file"));
	/* a loop: an image that is its own backing file. Read-write, the
	 * image lock refuses the second open; read-only, the chain cap does. */
	qh_create(f, "loop.qcow2", 1 * MiB, 16, "loop.qcow2", "qcow2");
	assert_true(disk_open(qh_path(f, "loop.qcow2"), NULL, &d, f->err, sizeof(f->err)) < 0);
	{
		struct disk_open_opts o = { .readonly = true };

		assert_int_equal(
			disk_open(qh_path(f, "loop.qcow2"), &o, &d, f->err, sizeof(f->err)),
			-ELOOP);
	}
}

/* ---- discard / write zeroes ---- */

static void test_discard_zeroes(void **state)
{
	struct fx *f = *state;
	uint8_t *base, *w = malloc(4 * 65536), *r = malloc(4 * 65536);
	struct disk *d;

	qh_fill(w, 4 * 65536, 11);
	/* no backing: discard punches, write-zeroes partial writes zeros */
	qh_create(f, "z.qcow2", 4 * MiB, 16, NULL, NULL);
	d = qh_open(f, "z.qcow2", false);
	assert_true(d->can_discard);
	assert_int_equal(disk_pwrite(d, w, 4 * 65536, 0), 0);
	assert_int_equal(qh_zreq(d, DISK_DISCARD, 65536, 65536, false), 0);
	assert_int_equal(qh_zreq(d, DISK_WRITE_ZEROES, 2 * 65536 + 4096, 8192, false), 0);
	assert_int_equal(qh_zreq(d, DISK_WRITE_ZEROES, 3 * 65536, 65536, true), 0);
	/* on unallocated space: nothing to do */
	assert_int_equal(qh_zreq(d, DISK_WRITE_ZEROES, 1 * MiB, 1 * MiB, false), 0);
	assert_int_equal(qh_zreq(d, DISK_DISCARD, 1 * MiB, 4096, false), 0);
	assert_int_equal(disk_pread(d, r, 4 * 65536, 0), 0);
	assert_memory_equal(r, w, 65536);
	assert_true(qh_all_bytes(r + 65536, 65536, 0));
	assert_memory_equal(r + 2 * 65536, w + 2 * 65536, 4096);
	assert_true(qh_all_bytes(r + 2 * 65536 + 4096, 8192, 0));
	assert_memory_equal(r + 2 * 65536 + 12288, w + 2 * 65536 + 12288, 65536 - 12288);
	assert_true(qh_all_bytes(r + 3 * 65536, 65536, 0));
	disk_close(d);

	/* over a backing file: write-zeroes sets the zero flag (v3), a partial
	 * one allocates with the rest copied from the backing file */
	make_raw(f, "zb.raw", 1 * MiB, 6, &base);
	qh_create(f, "zo.qcow2", 1 * MiB, 16, "zb.raw", "raw");
	d = qh_open(f, "zo.qcow2", false);
	assert_int_equal(qh_zreq(d, DISK_WRITE_ZEROES, 65536, 2 * 65536, false), 0);
	assert_int_equal(qh_zreq(d, DISK_WRITE_ZEROES, 4 * 65536 + 512, 1024, false), 0);
	assert_int_equal(qh_zreq(d, DISK_DISCARD, 6 * 65536, 65536, false), 0);
	disk_close(d);
	d = qh_open(f, "zo.qcow2", true);
	assert_int_equal(disk_pread(d, r, 4 * 65536, 0), 0);
	assert_memory_equal(r, base, 65536);
	assert_true(qh_all_bytes(r + 65536, 2 * 65536, 0));
	assert_memory_equal(r + 3 * 65536, base + 3 * 65536, 65536);
	assert_int_equal(disk_pread(d, r, 3 * 65536, 4 * 65536), 0);
	assert_memory_equal(r, base + 4 * 65536, 512);
	assert_true(qh_all_bytes(r + 512, 1024, 0));
	assert_memory_equal(r + 1536, base + 4 * 65536 + 1536, 65536 - 1536);
	assert_memory_equal(r + 2 * 65536, base + 6 * 65536, 65536); /* discard: old data */
	disk_close(d);
	/* a zero cluster then written partially: the rest stays zero */
	d = qh_open(f, "zo.qcow2", false);
	assert_int_equal(disk_pwrite(d, w, 4096, 65536 + 4096), 0);
	assert_int_equal(disk_pread(d, r, 65536, 65536), 0);
	assert_true(qh_all_bytes(r, 4096, 0));
	assert_memory_equal(r + 4096, w, 4096);
	assert_true(qh_all_bytes(r + 8192, 65536 - 8192, 0));
	disk_close(d);
	free(base);
	free(w);
	free(r);
}

/* ---- refcount structure growth ---- */

static void test_refcount_growth(void **state)
{
	struct fx *f = *state;
	size_t n = 64 * 1024;
	uint8_t *w = malloc(n), *r = malloc(n);
	struct disk *d;

	/* 512-byte clusters: a refcount block covers 256 clusters (128 KiB)
	 * and the one-cluster refcount table 64 blocks (8 MiB). Writing 12
	 * MiB needs new refcount blocks and a bigger table. */
	qh_create(f, "rc.qcow2", 64 * MiB, 9, NULL, NULL);
	d = qh_open(f, "rc.qcow2", false);
	for (unsigned int i = 0; i < 192; i++) {
		qh_fill(w, n, i);
		assert_int_equal(disk_pwrite(d, w, n, (uint64_t)i * n), 0);
	}
	disk_close(d);
	d = qh_open(f, "rc.qcow2", true);
	for (unsigned int i = 0; i < 192; i += 17) {
		qh_fill(w, n, i);
		assert_int_equal(disk_pread(d, r, n, (uint64_t)i * n), 0);
		assert_memory_equal(r, w, n);
	}
	disk_close(d);
	if (qh_have_qemu_img())
		assert_int_equal(qh_sh("qemu-img check -q '%s'", qh_path(f, "rc.qcow2")), 0);
	free(w);
	free(r);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_alloc, qh_setup, qh_teardown),
		cmocka_unit_test_setup_teardown(test_big_io, qh_setup, qh_teardown),
		cmocka_unit_test_setup_teardown(test_inflight_same_cluster, qh_setup, qh_teardown),
		cmocka_unit_test_setup_teardown(test_backing, qh_setup, qh_teardown),
		cmocka_unit_test_setup_teardown(test_backing_missing, qh_setup, qh_teardown),
		cmocka_unit_test_setup_teardown(test_discard_zeroes, qh_setup, qh_teardown),
		cmocka_unit_test_setup_teardown(test_refcount_growth, qh_setup, qh_teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
