/* SPDX-License-Identifier: MIT */
/*
 * qcow2 compressed clusters: deflate and zstd round trips (and what they
 * refuse), compressed writes packed into shared host clusters, reads,
 * copy-on-write of a compressed cluster on a guest write (the old sectors
 * released after a flush: the image checks clean, no leaks), write-zeroes
 * over compressed data, hostile descriptors, and interop with qemu-img.
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

#define CS 65536U

/* Compressible but not trivial: text-like runs that differ per cluster. */
static void fill_text(uint8_t *b, size_t n, unsigned int seed)
{
	for (size_t i = 0; i < n; i++)
		b[i] = (uint8_t)('a' + (seed + i / 64) % 26);
}

/* Incompressible: an xorshift stream. */
static void fill_random(uint8_t *b, size_t n, uint64_t seed)
{
	uint64_t x = seed * 0x9e3779b97f4a7c15ULL + 1;

	for (size_t i = 0; i < n; i++) {
		x ^= x << 13;
		x ^= x >> 7;
		x ^= x << 17;
		b[i] = (uint8_t)x;
	}
}

static void test_codec(void **state)
{
	uint8_t *in = malloc(CS), *c = malloc(2 * CS), *out = malloc(CS);
	size_t clen;

	(void)state;
	for (uint8_t type = 0; type <= QCOW2_COMPRESSION_ZSTD; type++) {
		fill_text(in, CS, type);
		assert_int_equal(qcow2_compress(type, in, CS, c, CS - 1, &clen), 0);
		assert_true(clen < CS / 4);
		/* whole sectors are read: trailing bytes are ignored */
		memset(c + clen, 0x5a, 1024);
		assert_int_equal(qcow2_decompress(type, c, clen + 1024, out, CS), 0);
		assert_memory_equal(in, out, CS);
		/* truncated data, or data for a smaller cluster: -EIO */
		assert_int_equal(qcow2_decompress(type, c, clen / 2, out, CS), -EIO);
		assert_int_equal(qcow2_decompress(type, c, clen, out, 2 * CS), -EIO);
		/* garbage: -EIO */
		fill_random(c, 4096, 9);
		assert_int_equal(qcow2_decompress(type, c, 4096, out, CS), -EIO);
		/* what does not shrink does not fit */
		fill_random(in, CS, type + 1);
		assert_int_equal(qcow2_compress(type, in, CS, c, CS - 1, &clen), -ENOSPC);
	}
	assert_int_equal(qcow2_decompress(2, c, 10, out, CS), -EINVAL);
	assert_int_equal(qcow2_compress(2, in, CS, c, CS, &clen), -EINVAL);
	free(in);
	free(c);
	free(out);
}

static void create_typed(struct fx *f, const char *name, uint64_t size, uint8_t type)
{
	struct qcow2_create_opts o = { .size = size, .compression_type = type };

	assert_int_equal(qcow2_create(qh_path(f, name), &o, f->err, sizeof(f->err)), 0);
}

static void check_clean(struct fx *f, const char *name)
{
	struct qcow2_check_result res;

	assert_int_equal(
		qcow2_check(qh_path(f, name), false, &res, NULL, NULL, f->err, sizeof(f->err)), 0);
	if (res.corruptions || res.leaks)
		print_error("%s: %llu corruptions, %llu leaks\n", name,
			    (unsigned long long)res.corruptions, (unsigned long long)res.leaks);
	assert_int_equal(res.corruptions, 0);
	assert_int_equal(res.leaks, 0);
}

/* 16 clusters: text (compresses), random (stored plain), zeros (skipped). */
#define NCL 16
static void write_image(struct fx *f, const char *name, uint8_t type, uint8_t *ref)
{
	struct disk *d;

	create_typed(f, name, NCL * CS + 4096, type);
	d = qh_open(f, name, false);
	memset(ref, 0, NCL * CS + 4096);
	for (unsigned int i = 0; i < NCL; i++) {
		if (i % 4 == 3)
			continue;
		if (i % 4 == 2)
			fill_random(ref + i * CS, CS, i);
		else
			fill_text(ref + i * CS, CS, i);
		assert_int_equal(qcow2_write_compressed(d, i * CS, ref + i * CS, CS), 0);
	}
	/* the last, partial cluster of the disk */
	fill_text(ref + NCL * CS, 4096, 77);
	assert_int_equal(qcow2_write_compressed(d, NCL * CS, ref + NCL * CS, 4096), 0);
	/* misuse: unaligned, short, or over allocated data */
	assert_int_equal(qcow2_write_compressed(d, 512, ref, CS), -EINVAL);
	assert_int_equal(qcow2_write_compressed(d, 0, ref, 4096), -EINVAL);
	assert_int_equal(qcow2_write_compressed(d, 0, ref, CS), -EEXIST);
	assert_int_equal(disk_flush(d), 0);
	disk_close(d);
}

static void read_all(struct fx *f, const char *name, const uint8_t *ref)
{
	uint8_t *r = malloc(NCL * CS + 4096);
	struct disk *d = qh_open(f, name, true);

	/* whole, and in small unaligned pieces (the one-cluster cache) */
	assert_int_equal(disk_pread(d, r, NCL * CS + 4096, 0), 0);
	assert_memory_equal(r, ref, NCL * CS + 4096);
	memset(r, 0, NCL * CS);
	for (uint64_t off = 512; off + 3584 <= NCL * CS; off += 3584)
		assert_int_equal(disk_pread(d, r + off, 3584, off), 0);
	assert_memory_equal(r + 512, ref + 512, 3584 * ((NCL * CS - 512) / 3584));
	disk_close(d);
	free(r);
}

static void test_write_read(void **state)
{
	struct fx *f = *state;
	uint8_t *ref = malloc(NCL * CS + 4096);

	for (uint8_t type = 0; type <= QCOW2_COMPRESSION_ZSTD; type++) {
		const char *name = type ? "zstd.qcow2" : "zlib.qcow2";

		write_image(f, name, type, ref);
		/* packed: 8 text clusters and the tail share very few host
		 * clusters; 4 random ones are stored whole */
		assert_true(qh_fsize(qh_path(f, name)) < (4 + 4 + 2 + 1) * (uint64_t)CS);
		read_all(f, name, ref);
		check_clean(f, name);
		if (qh_have_qemu_img()) {
			assert_int_equal(qh_sh("qemu-img check -q '%s'", qh_path(f, name)), 0);
			assert_int_equal(qh_sh("cd '%s' && qemu-img convert -O raw %s %s.raw",
					       f->dir, name, name),
					 0);
			{
				int fd =
					open(qh_path(f, type ? "zstd.qcow2.raw" : "zlib.qcow2.raw"),
					     O_RDONLY);
				uint8_t *r = malloc(NCL * CS + 4096);

				assert_int_equal(pread(fd, r, NCL * CS + 4096, 0), NCL * CS + 4096);
				assert_memory_equal(r, ref, NCL * CS + 4096);
				close(fd);
				free(r);
			}
		}
	}
	free(ref);
}

/* Guest writes into compressed clusters: copied to new clusters, the rest
 * of each cluster kept; after close every old sector is released. */
static void test_cow(void **state)
{
	struct fx *f = *state;
	uint8_t *ref = malloc(NCL * CS + 4096), w[8192];
	struct disk *d;

	for (uint8_t type = 0; type <= QCOW2_COMPRESSION_ZSTD; type++) {
		const char *name = type ? "zstd.qcow2" : "zlib.qcow2";

		write_image(f, name, type, ref);
		d = qh_open(f, name, false);
		for (unsigned int i = 0; i < NCL; i++) {
			uint64_t off = i * CS + (i * 4096) % CS;

			qh_fill(w, sizeof(w), i);
			if (off + sizeof(w) > (i + 1) * CS)
				off = (i + 1) * CS - sizeof(w);
			assert_int_equal(disk_pwrite(d, w, sizeof(w), off), 0);
			memcpy(ref + off, w, sizeof(w));
			if (i == NCL / 2)
				assert_int_equal(disk_flush(d), 0);
		}
		/* write-zeroes over the compressed tail cluster */
		assert_int_equal(qh_zreq(d, DISK_WRITE_ZEROES, NCL * CS, 4096, false), 0);
		memset(ref + NCL * CS, 0, 4096);
		disk_close(d);
		read_all(f, name, ref);
		check_clean(f, name);
		if (qh_have_qemu_img())
			assert_int_equal(qh_sh("qemu-img check -q '%s'", qh_path(f, name)), 0);
	}
	free(ref);
}

/* qemu-img's compressed images: a guest writes into them, QEMU reads it. */
static void test_qemu_cow(void **state)
{
	struct fx *f = *state;
	uint8_t *ref = malloc(NCL * CS), w[4096];
	struct disk *d;
	int fd;

	if (!qh_have_qemu_img()) {
		print_message("skipped: qemu-img not installed\n");
		free(ref);
		return;
	}
	for (unsigned int i = 0; i < NCL; i++)
		fill_text(ref + i * CS, CS, i);
	fd = open(qh_path(f, "src.raw"), O_RDWR | O_CREAT, 0644);
	assert_int_equal(pwrite(fd, ref, NCL * CS, 0), NCL * CS);
	close(fd);
	assert_int_equal(qh_sh("cd '%s' && qemu-img convert -c -O qcow2 -o compression_type=zstd "
			       "src.raw q.qcow2",
			       f->dir),
			 0);
	d = qh_open(f, "q.qcow2", false);
	for (unsigned int i = 0; i < NCL; i += 3) {
		qh_fill(w, sizeof(w), i);
		assert_int_equal(disk_pwrite(d, w, sizeof(w), i * CS + 512 * i), 0);
		memcpy(ref + i * CS + 512 * i, w, sizeof(w));
	}
	disk_close(d);
	fd = open(qh_path(f, "src.raw"), O_RDWR);
	assert_int_equal(pwrite(fd, ref, NCL * CS, 0), NCL * CS);
	close(fd);
	assert_int_equal(qh_sh("cd '%s' && qemu-img check -q q.qcow2 && "
			       "qemu-img compare -q -f qcow2 -F raw q.qcow2 src.raw",
			       f->dir),
			 0);
	free(ref);
}

/* Descriptors pointing outside the image, into the header, or at bytes
 * that are not compressed data: -EIO for that cluster, nothing else. */
static void test_hostile(void **state)
{
	struct fx *f = *state;
	uint8_t *ref = malloc(NCL * CS + 4096), r[4096], e[8];
	uint64_t l2 = 0, ent;
	struct disk *d;
	int fd;

	write_image(f, "h.qcow2", QCOW2_COMPRESSION_ZLIB, ref);
	fd = open(qh_path(f, "h.qcow2"), O_RDWR);
	/* the L1 table's first entry names the L2 table (layout of qcow2_create) */
	assert_int_equal(pread(fd, e, 8, 3 * CS), 8);
	l2 = q2_be64(e) & QCOW2_OFFSET_MASK;
	assert_true(l2 != 0);
	assert_int_equal(pread(fd, e, 8, (off_t)l2), 8);
	ent = q2_be64(e);
	assert_true(ent & QCOW2_OFLAG_COMPRESSED);
	{
		const uint64_t bad[] = {
			QCOW2_OFLAG_COMPRESSED | (1ULL << 40),		    /* past the end */
			QCOW2_OFLAG_COMPRESSED | 100,			    /* the header */
			QCOW2_OFLAG_COMPRESSED | (255ULL << 54) | (3 * CS), /* the L1 table */
			QCOW2_OFLAG_COMPRESSED | l2,			    /* the L2 table */
		};

		for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
			q2_put_be64(e, bad[i]);
			assert_int_equal(pwrite(fd, e, 8, (off_t)l2), 8);
			d = qh_open(f, "h.qcow2", true);
			assert_int_equal(disk_pread(d, r, 4096, 0), -EIO);
			assert_int_equal(disk_pread(d, r, 4096, CS), 0);
			assert_memory_equal(r, ref + CS, 4096);
			disk_close(d);
		}
	}
	close(fd);
	free(ref);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_codec),
		cmocka_unit_test_setup_teardown(test_write_read, qh_setup, qh_teardown),
		cmocka_unit_test_setup_teardown(test_cow, qh_setup, qh_teardown),
		cmocka_unit_test_setup_teardown(test_qemu_cow, qh_setup, qh_teardown),
		cmocka_unit_test_setup_teardown(test_hostile, qh_setup, qh_teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
