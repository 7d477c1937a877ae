/* SPDX-License-Identifier: MIT */
/*
 * The qcow2 format: header parsing (good and every kind of bad), the
 * geometry of created images, corrupt tables, and interop with qemu-img
 * (open its images; ours pass `qemu-img check` and convert to the same raw
 * bytes). The driver's I/O: test_qcow2_io.c.
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

#include "devices/disk/qcow2_priv.h"
#include "tests/unit/disk/qcow2_harness.h"

/* ---- header parsing ---- */

static uint8_t *good_header(struct fx *f, uint64_t *fs)
{
	uint8_t *buf = calloc(1, 65536);
	int fd;

	qh_create(f, "h.qcow2", 20ULL << 30, 0, "base.img", "raw");
	fd = open(qh_path(f, "h.qcow2"), O_RDONLY);
	assert_true(fd >= 0);
	assert_int_equal(pread(fd, buf, 65536, 0), 65536);
	close(fd);
	*fs = qh_fsize(qh_path(f, "h.qcow2"));
	unlink(qh_path(f, "h.qcow2"));
	return buf;
}

static void test_header_good(void **state)
{
	struct fx *f = *state;
	struct qcow2_header h;
	uint64_t fs;
	uint8_t *b = good_header(f, &fs);

	/* 20 GiB: header, refcount table, one refcount block, L1 (4 clusters) */
	assert_int_equal(fs, 4 * 65536);
	assert_int_equal(qcow2_header_parse(b, 4096, fs, &h, f->err, sizeof(f->err)), 0);
	assert_int_equal(h.version, 3);
	assert_int_equal(h.cluster_bits, 16);
	assert_int_equal(h.size, 20ULL << 30);
	assert_int_equal(h.l1_size, 40); /* 20 GiB / 512 MiB per L2 table */
	assert_int_equal(h.refcount_order, 4);
	assert_int_equal(h.header_length, 112);
	assert_string_equal(h.backing_file, "base.img");
	assert_string_equal(h.backing_format, "raw");
	free(b);
}

struct bad {
	unsigned int off, width; /* field to overwrite (width 0: truncate to off) */
	uint64_t val;
	int ret;
	const char *msg;
};

static void put(uint8_t *b, unsigned int off, unsigned int w, uint64_t v)
{
	if (w == 1)
		b[off] = (uint8_t)v;
	else if (w == 4)
		q2_put_be32(b + off, (uint32_t)v);
	else
		q2_put_be64(b + off, v);
}

static void test_header_bad(void **state)
{
	static const struct bad cases[] = {
		{ 0, 4, 0x12345678, -EINVAL, "bad magic" },
		{ 4, 4, 1, -ENOTSUP, "version 1" },
		{ 4, 4, 4, -ENOTSUP, "version 4" },
		{ 20, 4, 8, -EINVAL, "cluster_bits 8" },
		{ 20, 4, 22, -EINVAL, "cluster_bits 22" },
		{ 24, 8, 1000, -EINVAL, "multiple of 512" },
		{ 24, 8, 1ULL << 60, -EINVAL, "too large" },
		{ 32, 4, 1, -ENOTSUP, "encryption (AES)" },
		{ 32, 4, 2, -ENOTSUP, "encryption (LUKS)" },
		{ 36, 4, 39, -EINVAL, "too small" },
		{ 36, 4, 5000000, -EINVAL, "L1 table too large" },
		{ 40, 8, 3 * 65536 + 8, -EINVAL, "L1 table offset" },
		{ 40, 8, 1ULL << 40, -EINVAL, "past the end" },
		{ 48, 8, 0, -EINVAL, "refcount table offset" },
		{ 48, 8, 1ULL << 40, -EINVAL, "past the end" },
		{ 56, 4, 0, -EINVAL, "refcount table size" },
		{ 56, 4, 1000, -EINVAL, "refcount table size" },
		{ 60, 4, 1, -ENOTSUP, "internal snapshots" },
		{ 72, 8, 1ULL << 5, -ENOTSUP, "unknown incompatible feature bit 5" },
		{ 72, 8, 1ULL << 40, -ENOTSUP, "bit 40" },
		{ 72, 8, QCOW2_INCOMPAT_DATA_FILE, -ENOTSUP, "external data file" },
		{ 72, 8, QCOW2_INCOMPAT_EXTL2, -ENOTSUP, "extended L2" },
		{ 72, 8, QCOW2_INCOMPAT_COMPRESSION, -EINVAL, "compression_type is 0" },
		{ 96, 4, 7, -EINVAL, "refcount_order 7" },
		{ 100, 4, 100, -EINVAL, "header_length" },
		{ 100, 4, 108 + 1, -EINVAL, "header_length" },
		{ 100, 4, 1 << 20, -EINVAL, "header_length" },
		{ 104, 1, 1, -EINVAL, "compression_type 1" },
		{ 16, 4, 2000, -EINVAL, "backing file name length" },
		{ 8, 8, 65530, -EINVAL, "outside the header" },
		{ 116, 4, 60000, -EINVAL, "overruns" }, /* backing fmt ext length */
		{ 112, 4, QCOW2_EXT_CRYPTO, -ENOTSUP, "encryption" },
		{ 112, 4, QCOW2_EXT_DATA_FILE, -ENOTSUP, "external data file" },
		{ 116, 4, 40, -EINVAL, "too long" },
		{ 50, 0, 0, -EINVAL, "too short" },
	};
	struct fx *f = *state;
	struct qcow2_header h;
	uint64_t fs;
	uint8_t *good = good_header(f, &fs), *b = malloc(65536);

	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		const struct bad *c = &cases[i];
		size_t len = 4096;
		int ret;

		memcpy(b, good, 65536);
		if (c->width)
			put(b, c->off, c->width, c->val);
		else
			len = c->off;
		f->err[0] = '\0';
		ret = qcow2_header_parse(b, len, c->width ? fs : len, &h, f->err, sizeof(f->err));
		if (ret != c->ret || !strstr(f->err, c->msg))
			print_error("case %zu: ret %d (want %d) msg '%s' (want '%s')\n", i, ret,
				    c->ret, f->err, c->msg);
		assert_int_equal(ret, c->ret);
		assert_non_null(strstr(f->err, c->msg));
	}
	/* compression type zstd with its bit: accepted; an unknown type:
	 * unsupported, named */
	memcpy(b, good, 65536);
	put(b, 72, 8, QCOW2_INCOMPAT_COMPRESSION);
	b[104] = QCOW2_COMPRESSION_ZSTD;
	assert_int_equal(qcow2_header_parse(b, 4096, fs, &h, f->err, sizeof(f->err)), 0);
	assert_int_equal(h.compression_type, QCOW2_COMPRESSION_ZSTD);
	b[104] = 2;
	assert_int_equal(qcow2_header_parse(b, 4096, fs, &h, f->err, sizeof(f->err)), -ENOTSUP);
	assert_non_null(strstr(f->err, "compression type 2"));
	/* file shorter than the tables it claims */
	assert_int_equal(qcow2_header_parse(good, 4096, 2 * 65536, &h, f->err, sizeof(f->err)),
			 -EINVAL);
	/* a feature name table names an unknown bit */
	memcpy(b, good, 65536);
	put(b, 72, 8, 1ULL << 9);
	put(b, 112, 4, QCOW2_EXT_FEATURE_TABLE);
	put(b, 116, 4, 48);
	memset(b + 120, 0, 48);
	b[121] = 9;
	strcpy((char *)b + 122, "frobnication");
	put(b, 168, 8, 0);
	put(b, 8, 8, 0); /* no backing name */
	assert_int_equal(qcow2_header_parse(b, 4096, fs, &h, f->err, sizeof(f->err)), -ENOTSUP);
	assert_non_null(strstr(f->err, "frobnication"));
	/* version 2 header (72 bytes, no extensions needed) */
	memcpy(b, good, 65536);
	put(b, 4, 4, 2);
	memset(b + 72, 0, 200);
	put(b, 8, 8, 0);
	assert_int_equal(qcow2_header_parse(b, 4096, fs, &h, f->err, sizeof(f->err)), 0);
	assert_int_equal(h.version, 2);
	assert_int_equal(h.refcount_order, 4);
	free(b);
	free(good);
}

static void test_create_geometry(void **state)
{
	struct fx *f = *state;

	for (unsigned int cb = 9; cb <= 21; cb++) {
		uint64_t cs = 1ULL << cb, size = 1ULL << 30, per_l2 = cs * (cs / 8);
		uint8_t *b = malloc(cs < 8192 ? 8192 : cs), *rd = malloc(8192);
		struct qcow2_header h;
		struct disk *d;
		char name[32];
		int fd;

		snprintf(name, sizeof(name), "g%u.qcow2", cb);
		qh_create(f, name, size, cb, NULL, NULL);
		fd = open(qh_path(f, name), O_RDONLY);
		assert_true(pread(fd, b, 4096, 0) > 0);
		close(fd);
		assert_int_equal(qcow2_header_parse(b, 4096, qh_fsize(qh_path(f, name)), &h, f->err,
						    sizeof(f->err)),
				 0);
		assert_int_equal(h.cluster_bits, cb);
		/* offset -> L1 index: one L1 entry per cs * cs/8 bytes */
		assert_int_equal(h.l1_size, (size + per_l2 - 1) / per_l2);
		/* write at the start, across an L2 boundary and at the end */
		d = qh_open(f, name, false);
		qh_fill(b, 8192, cb);
		assert_int_equal(disk_pwrite(d, b, 8192, 0), 0);
		if (per_l2 < size)
			assert_int_equal(disk_pwrite(d, b, 8192, per_l2 - 4096), 0);
		assert_int_equal(disk_pwrite(d, b, 8192, size - 8192), 0);
		assert_int_equal(disk_pread(d, rd, 8192, size - 8192), 0);
		assert_memory_equal(rd, b, 8192);
		if (per_l2 < size) {
			assert_int_equal(disk_pread(d, rd, 8192, per_l2 - 4096), 0);
			assert_memory_equal(rd, b, 8192);
		}
		disk_close(d);
		d = qh_open(f, name, true);
		assert_int_equal(disk_pread(d, rd, 8192, 0), 0);
		assert_memory_equal(rd, b, 8192);
		assert_int_equal(disk_pread(d, rd, 8192, size / 4 + 40960), 0);
		assert_true(qh_all_bytes(rd, 8192, 0));
		disk_close(d);
		unlink(qh_path(f, name));
		free(b);
		free(rd);
	}
}

/* ---- bad images ---- */

static void test_bad_tables(void **state)
{
	struct fx *f = *state;
	uint8_t w[4096], e[8];
	struct disk *d = NULL;
	int fd;

	qh_create(f, "bad.qcow2", 4 * MiB, 16, NULL, NULL);
	d = qh_open(f, "bad.qcow2", false);
	qh_fill(w, sizeof(w), 2);
	assert_int_equal(disk_pwrite(d, w, 4096, 0), 0);
	disk_close(d);
	/* L1 entry 0 -> past the end of the file */
	fd = open(qh_path(f, "bad.qcow2"), O_RDWR);
	q2_put_be64(e, (1ULL << 40) | QCOW2_OFLAG_COPIED);
	assert_int_equal(pwrite(fd, e, 8, 3 * 65536), 8);
	close(fd);
	d = qh_open(f, "bad.qcow2", true);
	assert_int_equal(disk_pread(d, w, 4096, 0), -EIO);
	disk_close(d);
	/* L1 fine, L2 entry unaligned */
	fd = open(qh_path(f, "bad.qcow2"), O_RDWR);
	q2_put_be64(e, 4 * 65536 | QCOW2_OFLAG_COPIED);
	assert_int_equal(pwrite(fd, e, 8, 3 * 65536), 8);
	q2_put_be64(e, 5 * 65536 + 4096);
	assert_int_equal(pwrite(fd, e, 8, 4 * 65536), 8);
	close(fd);
	d = qh_open(f, "bad.qcow2", true);
	assert_int_equal(disk_pread(d, w, 4096, 0), -EIO);
	/* the rest of the disk still works */
	assert_int_equal(disk_pread(d, w, 4096, 65536), 0);
	/* compressed cluster whose bytes are not compressed data: -EIO */
	disk_close(d);
	fd = open(qh_path(f, "bad.qcow2"), O_RDWR);
	q2_put_be64(e, QCOW2_OFLAG_COMPRESSED | (5 * 65536));
	assert_int_equal(pwrite(fd, e, 8, 4 * 65536), 8);
	close(fd);
	d = qh_open(f, "bad.qcow2", true);
	assert_int_equal(disk_pread(d, w, 4096, 0), -EIO);
	disk_close(d);

	/* dirty and corrupt bits: read-only only */
	for (int bit = 0; bit < 2; bit++) {
		fd = open(qh_path(f, "bad.qcow2"), O_RDWR);
		q2_put_be64(e, 1ULL << bit);
		assert_int_equal(pwrite(fd, e, 8, 72), 8);
		close(fd);
		assert_int_equal(
			disk_open(qh_path(f, "bad.qcow2"), NULL, &d, f->err, sizeof(f->err)),
			-EROFS);
		assert_non_null(strstr(f->err, bit ? "corrupt" : "check -r all"));
		d = qh_open(f, "bad.qcow2", true);
		disk_close(d);
	}
	/* autoclear bits are cleared on a read-write open */
	fd = open(qh_path(f, "bad.qcow2"), O_RDWR);
	q2_put_be64(e, 0);
	assert_int_equal(pwrite(fd, e, 8, 72), 8);
	q2_put_be64(e, 3);
	assert_int_equal(pwrite(fd, e, 8, 88), 8);
	close(fd);
	d = qh_open(f, "bad.qcow2", false);
	disk_close(d);
	fd = open(qh_path(f, "bad.qcow2"), O_RDONLY);
	assert_int_equal(pread(fd, e, 8, 88), 8);
	close(fd);
	assert_int_equal(q2_be64(e), 0);
}

/* ---- qemu-img interop ---- */

static void test_qemu_interop(void **state)
{
	struct fx *f = *state;
	uint8_t *w = malloc(256 * 1024), *r = malloc(256 * 1024);
	struct disk *d;

	if (!qh_have_qemu_img()) {
		printf("SKIP: qemu-img not installed\n");
		skip();
	}
	qh_fill(w, 256 * 1024, 21);
	/* images qemu-img makes: default, small clusters, v2, with backing */
	assert_int_equal(qh_sh("cd '%s' && qemu-img create -q -f qcow2 q1.qcow2 1G && "
			       "qemu-img create -q -f qcow2 -o cluster_size=4096 q2.qcow2 100M && "
			       "qemu-img create -q -f qcow2 -o compat=0.10 q3.qcow2 100M && "
			       "qemu-img create -q -f qcow2 -b q3.qcow2 -F qcow2 q4.qcow2",
			       f->dir),
			 0);
	for (int i = 1; i <= 4; i++) {
		char name[16];

		snprintf(name, sizeof(name), "q%d.qcow2", i);
		d = qh_open(f, name, false);
		assert_int_equal(disk_pwrite(d, w, 256 * 1024, 3 * MiB + 4096), 0);
		assert_int_equal(disk_pwrite(d, w, 4096, 50 * MiB), 0);
		assert_int_equal(qh_zreq(d, DISK_WRITE_ZEROES, 3 * MiB + 65536, 65536, false), 0);
		assert_int_equal(disk_pread(d, r, 256 * 1024, 3 * MiB + 4096), 0);
		assert_memory_equal(r, w, 60 * 1024);
		disk_close(d);
		assert_int_equal(qh_sh("qemu-img check -q '%s/%s'", f->dir, name), 0);
	}
	/* what we wrote reads back the same through qemu-img */
	assert_int_equal(qh_sh("cd '%s' && qemu-img convert -O raw q1.qcow2 q1.raw", f->dir), 0);
	{
		int fd = open(qh_path(f, "q1.raw"), O_RDONLY);

		assert_int_equal(pread(fd, r, 256 * 1024, 3 * MiB + 4096), 256 * 1024);
		assert_memory_equal(r, w, 60 * 1024);
		assert_true(qh_all_bytes(r + 60 * 1024, 65536, 0));
		assert_memory_equal(r + 124 * 1024, w + 124 * 1024, 132 * 1024);
		close(fd);
	}
	/* a vmm-created image with data, checked and converted by qemu-img,
	 * byte for byte against a raw image written the same way */
	qh_create(f, "v.qcow2", 64 * MiB, 16, NULL, NULL);
	d = qh_open(f, "v.qcow2", false);
	{
		int fd = open(qh_path(f, "v.ref"), O_RDWR | O_CREAT, 0644);

		assert_int_equal(ftruncate(fd, 64 * MiB), 0);
		for (unsigned int i = 0; i < 40; i++) {
			uint64_t off = ((uint64_t)i * 7919 * 4096) % (64 * MiB - 256 * 1024);

			qh_fill(w, 256 * 1024, i);
			assert_int_equal(disk_pwrite(d, w, 20 * 1024, off), 0);
			assert_int_equal(pwrite(fd, w, 20 * 1024, (off_t)off), 20 * 1024);
		}
		close(fd);
	}
	disk_close(d);
	assert_int_equal(qh_sh("qemu-img check -q '%s/v.qcow2'", f->dir), 0);
	assert_int_equal(
		qh_sh("cd '%s' && qemu-img convert -O raw v.qcow2 v.raw && cmp -s v.raw v.ref",
		      f->dir),
		0);
	/* a compressed image (zlib and zstd) reads as its source */
	assert_int_equal(qh_sh("cd '%s' && qemu-img convert -c -O qcow2 v.ref c.qcow2 && "
			       "qemu-img convert -c -O qcow2 -o compression_type=zstd v.ref "
			       "cz.qcow2",
			       f->dir),
			 0);
	for (int i = 0; i < 2; i++) {
		int fd = open(qh_path(f, "v.ref"), O_RDONLY);

		d = qh_open(f, i ? "cz.qcow2" : "c.qcow2", true);
		for (uint64_t off = 0; off < 64 * MiB; off += 256 * 1024) {
			assert_int_equal(disk_pread(d, r, 256 * 1024, off), 0);
			assert_int_equal(pread(fd, w, 256 * 1024, (off_t)off), 256 * 1024);
			assert_memory_equal(r, w, 256 * 1024);
		}
		close(fd);
		disk_close(d);
	}
	free(w);
	free(r);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_header_good, qh_setup, qh_teardown),
		cmocka_unit_test_setup_teardown(test_header_bad, qh_setup, qh_teardown),
		cmocka_unit_test_setup_teardown(test_create_geometry, qh_setup, qh_teardown),
		cmocka_unit_test_setup_teardown(test_bad_tables, qh_setup, qh_teardown),
		cmocka_unit_test_setup_teardown(test_qemu_interop, qh_setup, qh_teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
