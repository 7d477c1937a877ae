/* SPDX-License-Identifier: MIT */
/*
 * The QED driver: the header parser on good and hostile bytes, create
 * (options, backing files), allocation (tables and clusters appended, none
 * on rewrite), zero clusters, copy-on-write over a backing file, the
 * need-check flag (set while allocations are not yet flushed, a dirty image
 * repaired at open), check of hostile tables, and qemu-img reading ours.
 */
#include <endian.h>
#include <errno.h>
#include <fcntl.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cmocka.h>

#include "devices/disk/format.h"
#include "devices/disk/qed.h"
#include "tests/unit/disk/qcow2_harness.h"

#define CS 65536U

static void create(struct fx *f, const char *name, uint64_t size, const char *backing,
		   const char *bfmt, const char *options)
{
	struct disk_create_opts o = {
		.size = size, .backing_file = backing, .backing_format = bfmt, .options = options
	};
	int ret = disk_format_find("qed")->create(qh_path(f, name), &o, f->err, sizeof(f->err));

	if (ret)
		print_error("create: %s\n", f->err);
	assert_int_equal(ret, 0);
}

static uint64_t features(struct fx *f, const char *name)
{
	uint64_t v;
	int fd = open(qh_path(f, name), O_RDONLY);

	assert_int_equal(pread(fd, &v, 8, QED_OFF_FEATURES), 8);
	close(fd);
	return le64toh(v);
}

static void put(uint8_t *b, size_t off, size_t width, uint64_t v)
{
	v = htole64(v);
	memcpy(b + off, &v, width);
}

static void test_header(void **state)
{
	static const struct {
		size_t off, width;
		uint64_t val;
		int ret;
		const char *msg;
	} bad[] = {
		{ 0, 4, 0x12345678, -EINVAL, "bad magic" },
		{ 4, 4, 1000, -EINVAL, "cluster size 1000" },
		{ 4, 4, 2048, -EINVAL, "cluster size 2048" },
		{ 4, 4, 128U << 20, -EINVAL, "cluster size" },
		{ 8, 4, 3, -EINVAL, "table size 3" },
		{ 8, 4, 32, -EINVAL, "table size 32" },
		{ 12, 4, 0, -EINVAL, "header size 0" },
		{ 12, 4, 1U << 20, -EINVAL, "header size" },
		{ 16, 8, 1ULL << 8, -ENOTSUP, "unsupported QED features: 0x100" },
		{ 40, 8, 4096, -EINVAL, "L1 table offset" },
		{ 40, 8, 0, -EINVAL, "L1 table offset" },
		{ 40, 8, 1ULL << 40, -EINVAL, "L1 table offset" },
		{ 48, 8, 1000, -EINVAL, "image size 1000" },
		{ 48, 8, 1ULL << 62, -EINVAL, "image size" },
		{ 0x3c, 4, 5000, -EINVAL, "backing file name offset" },
		{ 0x38, 4, 8, -EINVAL, "backing file name offset" },
		{ 0x3c, 4, 0, -EINVAL, "backing file name length 0" },
	};
	struct fx *f = *state;
	struct qed_header h;
	uint8_t good[4096], b[4096];
	uint64_t fs;
	int fd;

	create(f, "h.qed", 10 * MiB, "base.raw", "raw", NULL);
	fs = qh_fsize(qh_path(f, "h.qed"));
	assert_int_equal(fs, 5 * CS);
	fd = open(qh_path(f, "h.qed"), O_RDONLY);
	assert_int_equal(pread(fd, good, sizeof(good), 0), sizeof(good));
	close(fd);
	assert_int_equal(qed_probe(good, sizeof(good)), 100);
	assert_int_equal(qed_header_parse(good, sizeof(good), fs, &h, f->err, sizeof(f->err)), 0);
	assert_int_equal(h.cluster_size, CS);
	assert_int_equal(h.table_size, 4);
	assert_int_equal(h.image_size, 10 * MiB);
	assert_int_equal(h.l1_table_offset, CS);
	assert_string_equal(h.backing_file, "base.raw");
	assert_int_equal(h.features, QED_F_BACKING_FILE | QED_F_BACKING_FORMAT_NO_PROBE);
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		int ret;

		memcpy(b, good, sizeof(b));
		put(b, bad[i].off, bad[i].width, bad[i].val);
		f->err[0] = '\0';
		ret = qed_header_parse(b, sizeof(b), fs, &h, f->err, sizeof(f->err));
		if (ret != bad[i].ret || !strstr(f->err, bad[i].msg))
			print_error("case %zu: %d '%s' (want '%s')\n", i, ret, f->err, bad[i].msg);
		assert_int_equal(ret, bad[i].ret);
		assert_non_null(strstr(f->err, bad[i].msg));
	}
	/* a NUL inside the backing name; a file shorter than the L1 table */
	memcpy(b, good, sizeof(b));
	b[66] = 0;
	assert_int_equal(qed_header_parse(b, sizeof(b), fs, &h, f->err, sizeof(f->err)), -EINVAL);
	assert_non_null(strstr(f->err, "NUL"));
	assert_int_equal(qed_header_parse(good, sizeof(good), 4 * CS, &h, f->err, sizeof(f->err)),
			 -EINVAL);
	assert_int_equal(qed_header_parse(good, 32, fs, &h, f->err, sizeof(f->err)), -EINVAL);
	assert_int_equal(qed_probe(good, 32), 0);
	/* options */
	{
		struct disk_create_opts o = { .size = MiB, .options = "table_size=3" };
		const struct disk_format *qed = disk_format_find("qed");

		assert_int_equal(qed->create(qh_path(f, "x.qed"), &o, f->err, sizeof(f->err)),
				 -EINVAL);
		o.options = "subformat=x";
		assert_int_equal(qed->create(qh_path(f, "x.qed"), &o, f->err, sizeof(f->err)),
				 -EINVAL);
		assert_non_null(strstr(f->err, "subformat"));
	}
}

static void check_result(struct fx *f, const char *name, enum disk_repair rep,
			 struct disk_check_result *r)
{
	struct disk_check_opts o = { .repair = rep };

	memset(r, 0, sizeof(*r));
	assert_int_equal(
		disk_format_find("qed")->check(qh_path(f, name), &o, r, f->err, sizeof(f->err)), 0);
}

static void test_alloc(void **state)
{
	struct fx *f = *state;
	const char *p = qh_path(f, "a.qed");
	uint8_t w[8192], r[3 * CS];
	struct disk_check_result res;
	struct disk *d;
	uint64_t s0;

	/* table_size=2: QEMU 7.2 cannot open its own table_size=1 images */
	create(f, "a.qed", 2048 * MiB, NULL, NULL, "cluster_size=64k,table_size=2");
	s0 = qh_fsize(p);
	assert_int_equal(s0, 3 * CS);
	d = qh_open(f, "a.qed", false);
	assert_string_equal(d->format, "qed");
	memset(r, 0xaa, sizeof(r));
	assert_int_equal(disk_pread(d, r, sizeof(r), 5 * MiB), 0);
	assert_true(qh_all_bytes(r, sizeof(r), 0));
	/* one L2 table (2 clusters) and two clusters (the write straddles them) */
	qh_fill(w, sizeof(w), 1);
	assert_int_equal(disk_pwrite(d, w, sizeof(w), CS - 4096), 0);
	assert_int_equal(qh_fsize(p), s0 + 4 * CS);
	assert_true(features(f, "a.qed") & QED_F_NEED_CHECK);
	assert_int_equal(disk_pwrite(d, w, sizeof(w), CS - 4096), 0);
	assert_int_equal(qh_fsize(p), s0 + 4 * CS);
	assert_int_equal(disk_pread(d, r, 2 * CS, 0), 0);
	assert_true(qh_all_bytes(r, CS - 4096, 0));
	assert_memory_equal(r + CS - 4096, w, sizeof(w));
	assert_true(qh_all_bytes(r + CS + 4096, CS - 4096, 0));
	/* a flush clears the need-check flag */
	assert_int_equal(disk_flush(d), 0);
	assert_false(features(f, "a.qed") & QED_F_NEED_CHECK);
	/* a second L2 table (16384 clusters, 1 GiB, each) */
	assert_int_equal(disk_pwrite(d, w, 4096, 1500 * MiB), 0);
	assert_int_equal(qh_fsize(p), s0 + 7 * CS);
	disk_close(d);
	assert_false(features(f, "a.qed") & QED_F_NEED_CHECK);
	check_result(f, "a.qed", DISK_REPAIR_NONE, &res);
	assert_int_equal(res.corruptions, 0);
	assert_int_equal(res.leaks, 0);
	assert_int_equal(res.allocated_clusters, 3);
	if (qh_have_qemu_img())
		assert_int_equal(qh_sh("qemu-img check -q '%s' && qemu-io -c 'read -P 0 0 %u' "
				       "-c 'read -P 0 %u 4096' '%s' >/dev/null",
				       p, CS - 4096, 1500 * 1024 * 1024 + 4096, p),
				 0);
}

/* Copy-on-write over a raw backing file: a partial write keeps the rest of
 * the cluster; a zero cluster (entry 1) reads zeros over the backing. */
static void test_backing(void **state)
{
	struct fx *f = *state;
	uint8_t *base = malloc(4 * CS), w[4096], r[4 * CS];
	struct disk *d;
	int fd;

	qh_fill(base, 4 * CS, 9);
	fd = open(qh_path(f, "base.raw"), O_RDWR | O_CREAT, 0644);
	assert_int_equal(pwrite(fd, base, 4 * CS, 0), 4 * CS);
	close(fd);
	create(f, "o.qed", 0, "base.raw", "raw", NULL);
	d = qh_open(f, "o.qed", false);
	assert_int_equal(d->size, 4 * CS);
	assert_non_null(d->backing);
	qh_fill(w, sizeof(w), 2);
	assert_int_equal(disk_pwrite(d, w, sizeof(w), CS + 512), 0);
	memcpy(base + CS + 512, w, sizeof(w));
	assert_int_equal(disk_pread(d, r, 4 * CS, 0), 0);
	assert_memory_equal(r, base, 4 * CS);
	/* write-zeroes of a whole cluster over the backing file */
	assert_int_equal(qh_zreq(d, DISK_WRITE_ZEROES, 2 * CS, CS, false), 0);
	memset(base + 2 * CS, 0, CS);
	assert_int_equal(disk_pread(d, r, 4 * CS, 0), 0);
	assert_memory_equal(r, base, 4 * CS);
	disk_close(d);
	d = qh_open(f, "o.qed", true);
	assert_int_equal(disk_pread(d, r, 4 * CS, 0), 0);
	assert_memory_equal(r, base, 4 * CS);
	disk_close(d);
	if (qh_have_qemu_img()) {
		fd = open(qh_path(f, "want.raw"), O_RDWR | O_CREAT, 0644);
		assert_int_equal(pwrite(fd, base, 4 * CS, 0), 4 * CS);
		close(fd);
		assert_int_equal(qh_sh("cd '%s' && qemu-img check -q o.qed && qemu-img compare -q "
				       "o.qed want.raw",
				       f->dir),
				 0);
	}
	/* a backing file whose format is not recorded: probed as raw */
	create(f, "o2.qed", 0, "base.raw", NULL, NULL);
	d = qh_open(f, "o2.qed", true);
	assert_string_equal(d->backing->format, "raw");
	disk_close(d);
	free(base);
}

/* A process that allocates and dies without flushing leaves the flag set;
 * the next writable open checks (repairing a bad entry) and clears it. */
static void test_need_check(void **state)
{
	struct fx *f = *state;
	struct disk_check_result res;
	uint8_t w[4096], r[4096];
	struct disk *d;
	pid_t pid;
	int st, fd;
	uint64_t l1, bad = htole64(7 * CS + 4096);

	create(f, "n.qed", 16 * MiB, NULL, NULL, NULL);
	qh_fill(w, sizeof(w), 3);
	pid = fork();
	if (pid == 0) {
		struct disk *cd = qh_open(f, "n.qed", false);

		if (disk_pwrite(cd, w, sizeof(w), 3 * CS) || disk_pwrite(cd, w, sizeof(w), 9 * CS))
			_exit(1);
		_exit(0); /* no flush, no close */
	}
	assert_int_equal(waitpid(pid, &st, 0), pid);
	assert_int_equal(WEXITSTATUS(st), 0);
	assert_true(features(f, "n.qed") & QED_F_NEED_CHECK);
	/* corrupt the second cluster's entry: unaligned */
	fd = open(qh_path(f, "n.qed"), O_RDWR);
	assert_int_equal(pread(fd, &l1, 8, CS), 8);
	assert_int_equal(pwrite(fd, &bad, 8, (off_t)le64toh(l1) + 9 * 8), 8);
	close(fd);
	check_result(f, "n.qed", DISK_REPAIR_NONE, &res);
	assert_int_equal(res.corruptions, 1);
	/* read-only: no repair, the bad cluster is an I/O error, not a crash */
	d = qh_open(f, "n.qed", true);
	assert_int_equal(disk_pread(d, r, sizeof(r), 9 * CS), -EIO);
	disk_close(d);
	/* writable: repaired (the entry cleared), flag cleared */
	d = qh_open(f, "n.qed", false);
	assert_false(features(f, "n.qed") & QED_F_NEED_CHECK);
	assert_int_equal(disk_pread(d, r, sizeof(r), 3 * CS), 0);
	assert_memory_equal(r, w, sizeof(w));
	assert_int_equal(disk_pread(d, r, sizeof(r), 9 * CS), 0);
	assert_true(qh_all_bytes(r, sizeof(r), 0));
	disk_close(d);
	check_result(f, "n.qed", DISK_REPAIR_NONE, &res);
	assert_int_equal(res.corruptions, 0);
	assert_int_equal(res.leaks, 1); /* the cleared entry's cluster */

	/* dirty again, and two guest clusters share one host cluster: repair
	 * cannot fix that, so the image opens read-only only */
	fd = open(qh_path(f, "n.qed"), O_RDWR);
	{
		uint64_t e3, feat = htole64(QED_F_NEED_CHECK);

		assert_int_equal(pread(fd, &e3, 8, (off_t)le64toh(l1) + 3 * 8), 8);
		assert_int_equal(pwrite(fd, &e3, 8, (off_t)le64toh(l1) + 5 * 8), 8);
		assert_int_equal(pwrite(fd, &feat, 8, QED_OFF_FEATURES), 8);
	}
	close(fd);
	assert_int_equal(disk_open(qh_path(f, "n.qed"), NULL, &d, f->err, sizeof(f->err)), -EROFS);
	assert_non_null(strstr(f->err, "n.qed: image was not closed cleanly"));
	d = qh_open(f, "n.qed", true);
	assert_int_equal(disk_pread(d, r, sizeof(r), 5 * CS), 0);
	assert_memory_equal(r, w, sizeof(w));
	disk_close(d);
}

/* Hostile L1/L2 entries: one line, -EIO for that range only. */
static void test_hostile(void **state)
{
	struct fx *f = *state;
	uint8_t w[4096], r[4096];
	struct disk *d;
	uint64_t l1, e;
	int fd;

	create(f, "b.qed", 16 * MiB, NULL, NULL, NULL);
	d = qh_open(f, "b.qed", false);
	qh_fill(w, sizeof(w), 4);
	assert_int_equal(disk_pwrite(d, w, sizeof(w), 0), 0);
	disk_close(d);
	fd = open(qh_path(f, "b.qed"), O_RDWR);
	assert_int_equal(pread(fd, &l1, 8, CS), 8);
	e = htole64(1ULL << 40); /* a cluster past the end of the file */
	assert_int_equal(pwrite(fd, &e, 8, (off_t)le64toh(l1) + 8), 8);
	close(fd);
	d = qh_open(f, "b.qed", true);
	assert_int_equal(disk_pread(d, r, sizeof(r), CS), -EIO);
	assert_int_equal(disk_pread(d, r, sizeof(r), 0), 0);
	assert_memory_equal(r, w, sizeof(w));
	disk_close(d);
	/* the L1 entry past the end */
	fd = open(qh_path(f, "b.qed"), O_RDWR);
	assert_int_equal(pwrite(fd, &e, 8, CS), 8);
	close(fd);
	d = qh_open(f, "b.qed", true);
	assert_int_equal(disk_pread(d, r, sizeof(r), 0), -EIO);
	disk_close(d);
}

/* A raw image opened without format= stays raw: a guest write that would
 * make sector 0 probe as QED is refused (format.h's probe rule). */
static void test_probed_raw_guard(void **state)
{
	struct fx *f = *state;
	uint8_t hdr[4096];
	int fd;

	create(f, "h.qed", 4 * 1024 * 1024, NULL, NULL, NULL);
	fd = open(qh_path(f, "h.qed"), O_RDONLY);
	assert_int_equal(pread(fd, hdr, sizeof(hdr), 0), sizeof(hdr));
	close(fd);
	qh_probed_raw_refuses(f, hdr);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_header, qh_setup, qh_teardown),
		cmocka_unit_test_setup_teardown(test_alloc, qh_setup, qh_teardown),
		cmocka_unit_test_setup_teardown(test_backing, qh_setup, qh_teardown),
		cmocka_unit_test_setup_teardown(test_need_check, qh_setup, qh_teardown),
		cmocka_unit_test_setup_teardown(test_probed_raw_guard, qh_setup, qh_teardown),
		cmocka_unit_test_setup_teardown(test_hostile, qh_setup, qh_teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
