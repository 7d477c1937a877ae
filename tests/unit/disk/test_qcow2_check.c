/* SPDX-License-Identifier: MIT */
/*
 * qcow2_check(): clean images check clean (made by qcow2_create and, when
 * installed, by qemu-img); leaks, too-low refcounts, wrong COPIED flags,
 * out-of-file and overlapping entries injected by editing the file are
 * reported, and repaired only where repair is safe; garbage and truncated
 * files give errors, and randomly damaged metadata never crashes the check.
 *
 * The image editing here is an independent, minimal qcow2 writer (header
 * fields by offset, qcow2.txt), so the test does not trust the code under
 * test to build its inputs.
 */
#include <endian.h>
#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <setjmp.h>
#include <cmocka.h>

#include "devices/disk/qcow2.h"

struct fixture {
	char dir[256];
};

struct layout {
	unsigned int cbits, order;
	uint64_t cs, l1_off, rt_off, file_size;
};

static char *path_in(struct fixture *f, const char *name)
{
	static __thread char buf[512];

	snprintf(buf, sizeof(buf), "%s/%s", f->dir, name);
	return buf;
}

static int rm_one(const char *p, const struct stat *st, int flag, struct FTW *ftw)
{
	return remove(p);
}

static int setup(void **state)
{
	struct fixture *f = calloc(1, sizeof(*f));
	const char *tmp = getenv("TMPDIR");

	assert_non_null(f);
	snprintf(f->dir, sizeof(f->dir), "%s/qcow2chk.XXXXXX", tmp && *tmp ? tmp : "/tmp");
	assert_non_null(mkdtemp(f->dir));
	*state = f;
	return 0;
}

static int teardown(void **state)
{
	struct fixture *f = *state;

	nftw(f->dir, rm_one, 8, FTW_DEPTH | FTW_PHYS);
	free(f);
	return 0;
}

static bool have_qemu_img(void)
{
	return system("qemu-img --version >/dev/null 2>&1") == 0;
}

static int run(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

static int run(const char *fmt, ...)
{
	char cmd[1024];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(cmd, sizeof(cmd), fmt, ap);
	va_end(ap);
	return system(cmd);
}

static uint64_t rd64(int fd, uint64_t off)
{
	uint64_t v = 0;

	assert_int_equal(pread(fd, &v, 8, (off_t)off), 8);
	return be64toh(v);
}

static void wr64(int fd, uint64_t off, uint64_t v)
{
	v = htobe64(v);
	assert_int_equal(pwrite(fd, &v, 8, (off_t)off), 8);
}

static uint32_t rd32(int fd, uint64_t off)
{
	uint32_t v = 0;

	assert_int_equal(pread(fd, &v, 4, (off_t)off), 4);
	return be32toh(v);
}

static struct layout get_layout(int fd)
{
	struct layout l;
	struct stat st;

	assert_int_equal(fstat(fd, &st), 0);
	l.cbits = rd32(fd, 20);
	l.cs = 1ULL << l.cbits;
	l.l1_off = rd64(fd, 40);
	l.rt_off = rd64(fd, 48);
	l.order = rd32(fd, 4) >= 3 ? rd32(fd, 96) : 4;
	l.file_size = (uint64_t)st.st_size;
	return l;
}

/* Refcount of host cluster idx: sub-byte widths are packed from the least
 * significant bit (qcow2.txt "refcount_order"). */
static uint64_t refcount_rw(const char *path, uint64_t idx, bool set, uint64_t val)
{
	int fd = open(path, O_RDWR);
	struct layout l;
	uint64_t per, rb, bits, byte, v = 0;
	uint8_t b[8] = { 0 };
	unsigned int n;

	assert_true(fd >= 0);
	l = get_layout(fd);
	bits = 1ULL << l.order;
	per = l.cs * 8 / bits;
	rb = rd64(fd, l.rt_off + 8 * (idx / per)) & ~511ULL;
	assert_true(rb != 0);
	idx %= per;
	byte = rb + idx * bits / 8;
	n = bits >= 8 ? (unsigned int)(bits / 8) : 1;
	assert_int_equal(pread(fd, b, n, (off_t)byte), (ssize_t)n);
	if (bits < 8) {
		unsigned int shift = (unsigned int)((idx * bits) % 8);
		uint8_t mask = (uint8_t)(((1U << bits) - 1) << shift);

		v = (b[0] & mask) >> shift;
		b[0] = (uint8_t)((b[0] & ~mask) | ((val << shift) & mask));
	} else {
		for (unsigned int i = 0; i < n; i++)
			v = (v << 8) | b[i];
		for (unsigned int i = 0; i < n; i++)
			b[i] = (uint8_t)(val >> (8 * (n - 1 - i)));
	}
	if (set)
		assert_int_equal(pwrite(fd, b, n, (off_t)byte), (ssize_t)n);
	close(fd);
	return v;
}

static void set_refcount(const char *path, uint64_t idx, uint64_t val)
{
	refcount_rw(path, idx, true, val);
}

static uint64_t get_refcount(const char *path, uint64_t idx)
{
	return refcount_rw(path, idx, false, 0);
}

/*
 * Map guest cluster `gidx` (< entries of one L2 table) to a new data cluster
 * filled with `pattern`, appending the L2 table (if L1[0] has none) and the
 * data at the end of the file, as a writer would. Returns the data offset.
 */
static uint64_t add_data_cluster(const char *path, uint64_t gidx, uint8_t pattern)
{
	int fd = open(path, O_RDWR);
	struct layout l;
	uint64_t l2, data, end;
	uint8_t *buf;

	assert_true(fd >= 0);
	l = get_layout(fd);
	assert_true(gidx < l.cs / 8);
	buf = malloc(l.cs);
	assert_non_null(buf);
	end = (l.file_size + l.cs - 1) & ~(l.cs - 1);
	l2 = rd64(fd, l.l1_off) & QCOW2_OFFSET_MASK;
	if (!l2) {
		l2 = end;
		end += l.cs;
		memset(buf, 0, l.cs);
		assert_int_equal(pwrite(fd, buf, l.cs, (off_t)l2), (ssize_t)l.cs);
		wr64(fd, l.l1_off, l2 | QCOW2_OFLAG_COPIED);
		close(fd);
		set_refcount(path, l2 >> l.cbits, 1);
		fd = open(path, O_RDWR);
		assert_true(fd >= 0);
	}
	data = end;
	memset(buf, pattern, l.cs);
	assert_int_equal(pwrite(fd, buf, l.cs, (off_t)data), (ssize_t)l.cs);
	wr64(fd, l2 + 8 * gidx, data | QCOW2_OFLAG_COPIED);
	close(fd);
	free(buf);
	set_refcount(path, data >> l.cbits, 1);
	return data;
}

static uint64_t l2_entry_offset(const char *path, uint64_t gidx)
{
	int fd = open(path, O_RDONLY);
	struct layout l;
	uint64_t l2;

	assert_true(fd >= 0);
	l = get_layout(fd);
	l2 = rd64(fd, l.l1_off) & QCOW2_OFFSET_MASK;
	close(fd);
	assert_true(l2 != 0);
	return l2 + 8 * gidx;
}

static void poke64(const char *path, uint64_t off, uint64_t v)
{
	int fd = open(path, O_RDWR);

	assert_true(fd >= 0);
	wr64(fd, off, v);
	close(fd);
}

static uint64_t peek64(const char *path, uint64_t off)
{
	int fd = open(path, O_RDONLY);
	uint64_t v;

	assert_true(fd >= 0);
	v = rd64(fd, off);
	close(fd);
	return v;
}

static void make_image(const char *path, uint64_t size, unsigned int cbits)
{
	struct qcow2_create_opts o = { .size = size, .cluster_bits = cbits };
	char err[256] = "";

	if (qcow2_create(path, &o, err, sizeof(err)) != 0)
		fail_msg("qcow2_create: %s", err);
}

struct reports {
	unsigned int lines;
	unsigned int progress_calls;
	bool progress_bad;
	char last[256];
};

static void on_report(void *opaque, const char *line)
{
	struct reports *r = opaque;

	r->lines++;
	snprintf(r->last, sizeof(r->last), "%s", line);
}

static void on_progress(void *opaque, uint64_t done, uint64_t total)
{
	struct reports *r = opaque;

	r->progress_calls++;
	if (done > total)
		r->progress_bad = true;
}

static int check(const char *path, enum qcow2_repair mode, struct qcow2_check_result *res,
		 struct reports *rep)
{
	struct qcow2_check_opts o = {
		.repair = mode, .report = on_report, .progress = on_progress, .opaque = rep
	};
	char err[256] = "";
	int ret;

	memset(rep, 0, sizeof(*rep));
	ret = qcow2_check_image(path, &o, res, err, sizeof(err));
	if (ret < 0) {
		/* An error always says which file. */
		assert_non_null(strstr(err, path));
	}
	return ret;
}

static void assert_clean(const char *path)
{
	struct qcow2_check_result r;
	struct reports rep;

	assert_int_equal(check(path, QCOW2_REPAIR_NONE, &r, &rep), 0);
	if (r.corruptions || r.leaks)
		fail_msg("%s: %llu corruptions, %llu leaks; last: %s", path,
			 (unsigned long long)r.corruptions, (unsigned long long)r.leaks, rep.last);
	assert_int_equal(rep.lines, 0);
}

static void test_clean_vmm_created(void **state)
{
	struct fixture *f = *state;
	struct qcow2_check_result r;
	struct reports rep;
	char *p = path_in(f, "new.qcow2");

	make_image(p, 1ULL << 30, 0);
	assert_int_equal(check(p, QCOW2_REPAIR_NONE, &r, &rep), 0);
	assert_int_equal(r.corruptions, 0);
	assert_int_equal(r.leaks, 0);
	assert_int_equal(r.allocated_clusters, 0);
	assert_int_equal(r.total_clusters, (1ULL << 30) / 65536);
	assert_true(rep.progress_calls > 0);
	assert_false(rep.progress_bad);
	/* The image ends at its last metadata cluster. */
	assert_true(r.image_end_offset >= 4 * 65536 && r.image_end_offset % 65536 == 0);

	/* Small clusters: many L1 clusters, still clean. */
	make_image(path_in(f, "small.qcow2"), 64ULL << 20, 9);
	assert_clean(path_in(f, "small.qcow2"));
}

static void test_clean_with_data(void **state)
{
	struct fixture *f = *state;
	struct qcow2_check_result r;
	struct reports rep;
	char *p = path_in(f, "data.qcow2");

	make_image(p, 1ULL << 30, 12);
	add_data_cluster(p, 0, 0x11);
	add_data_cluster(p, 7, 0x22);
	assert_int_equal(check(p, QCOW2_REPAIR_NONE, &r, &rep), 0);
	assert_int_equal(r.corruptions, 0);
	assert_int_equal(r.leaks, 0);
	assert_int_equal(r.allocated_clusters, 2);
}

static void test_clean_qemu_img(void **state)
{
	struct fixture *f = *state;
	struct qcow2_check_result r;
	struct reports rep;
	static const char *const opts[] = {
		"",
		"-o compat=0.10",
		"-o cluster_size=4096",
		"-o cluster_size=2M",
		"-o cluster_size=4096,refcount_bits=1",
		"-o refcount_bits=64",
	};

	if (!have_qemu_img())
		skip();
	for (size_t i = 0; i < sizeof(opts) / sizeof(opts[0]); i++) {
		char name[32];
		const char *p;

		snprintf(name, sizeof(name), "q%zu.qcow2", i);
		p = path_in(f, name);
		assert_int_equal(run("qemu-img create -q -f qcow2 %s %s 256M", opts[i], p), 0);
		assert_int_equal(run("qemu-io -c 'write -P 0x5a 0 1M' -c 'write -P 1 100M 8k' %s "
				     ">/dev/null",
				     p),
				 0);
		assert_int_equal(check(p, QCOW2_REPAIR_NONE, &r, &rep), 0);
		if (r.corruptions || r.leaks)
			fail_msg("qemu-img %s: %s", opts[i], rep.last);
		assert_true(r.allocated_clusters > 0);
		assert_int_equal(run("qemu-img check -q %s", p), 0);
	}
}

static void test_leaks_reported_and_repaired(void **state)
{
	struct fixture *f = *state;
	struct qcow2_check_result r;
	struct reports rep;
	char *p = path_in(f, "leak.qcow2");
	uint64_t data, end_cl;
	struct stat st;

	make_image(p, 1ULL << 30, 12);
	data = add_data_cluster(p, 3, 0x33);
	/* Two leaked clusters inside the file, one past its end (where the
	 * driver reserves clusters before the file grows): that one costs no
	 * space and qemu-img does not count it, so it is reported apart. */
	assert_int_equal(stat(p, &st), 0);
	end_cl = (uint64_t)st.st_size / 4096;
	assert_int_equal(truncate(p, (off_t)(end_cl + 2) * 4096), 0);
	set_refcount(p, end_cl, 1);
	set_refcount(p, end_cl + 1, 1);
	set_refcount(p, end_cl + 9, 1);

	assert_int_equal(check(p, QCOW2_REPAIR_NONE, &r, &rep), 0);
	assert_int_equal(r.leaks, 2);
	assert_int_equal(r.corruptions, 0);
	assert_int_equal(r.leaks_fixed, 0);
	assert_int_equal(rep.lines, 3);
	assert_non_null(strstr(rep.last, "1 clusters past the end of the file"));
	assert_int_equal(get_refcount(p, end_cl), 1); /* a check alone writes nothing */

	assert_int_equal(check(p, QCOW2_REPAIR_LEAKS, &r, &rep), 0);
	assert_int_equal(r.leaks_fixed, 2);
	assert_int_equal(get_refcount(p, end_cl), 0);
	assert_int_equal(get_refcount(p, end_cl + 9), 0);
	assert_int_equal(get_refcount(p, data >> 12), 1); /* used clusters untouched */
	assert_clean(p);

	/* Only a reservation past EOF: clean by qemu-img's measure, yet -r
	 * leaks clears it. */
	set_refcount(p, end_cl + 4, 1);
	assert_int_equal(check(p, QCOW2_REPAIR_NONE, &r, &rep), 0);
	assert_int_equal(r.leaks + r.corruptions, 0);
	assert_int_equal(rep.lines, 1);
	assert_int_equal(check(p, QCOW2_REPAIR_LEAKS, &r, &rep), 0);
	assert_int_equal(get_refcount(p, end_cl + 4), 0);
	assert_clean(p);
}

static void test_refcount_too_low(void **state)
{
	struct fixture *f = *state;
	struct qcow2_check_result r;
	struct reports rep;
	char *p = path_in(f, "low.qcow2");
	uint64_t data;

	make_image(p, 1ULL << 30, 12);
	data = add_data_cluster(p, 0, 0x44);
	set_refcount(p, data >> 12, 0);

	assert_int_equal(check(p, QCOW2_REPAIR_NONE, &r, &rep), 0);
	assert_int_equal(r.corruptions, 1);
	assert_int_equal(r.leaks, 0);
	/* -r leaks does not touch a corruption. */
	assert_int_equal(check(p, QCOW2_REPAIR_LEAKS, &r, &rep), 0);
	assert_int_equal(r.corruptions_fixed, 0);
	assert_int_equal(get_refcount(p, data >> 12), 0);

	assert_int_equal(check(p, QCOW2_REPAIR_ALL, &r, &rep), 0);
	assert_int_equal(r.corruptions, 1);
	assert_int_equal(r.corruptions_fixed, 1);
	assert_int_equal(get_refcount(p, data >> 12), 1);
	assert_clean(p);
}

static void test_copied_flag(void **state)
{
	struct fixture *f = *state;
	struct qcow2_check_result r;
	struct reports rep;
	char *p = path_in(f, "copied.qcow2");
	uint64_t data, e_off;
	bool ok;

	make_image(p, 1ULL << 30, 12);
	data = add_data_cluster(p, 5, 0x55);
	e_off = l2_entry_offset(p, 5);
	poke64(p, e_off, data); /* COPIED cleared although the refcount is 1 */

	assert_int_equal(check(p, QCOW2_REPAIR_NONE, &r, &rep), 0);
	assert_int_equal(r.corruptions, 1);
	assert_non_null(strstr(rep.last, "COPIED"));
	ok = qcow2_check(p, true, &r, NULL, NULL, rep.last, sizeof(rep.last)) == 0;
	assert_true(ok);
	assert_int_equal(r.corruptions_fixed, 1);
	assert_int_equal(peek64(p, e_off), data | QCOW2_OFLAG_COPIED);
	assert_clean(p);
}

static uint8_t *slurp(const char *path, size_t *len)
{
	int fd = open(path, O_RDONLY);
	struct stat st;
	uint8_t *buf;

	assert_true(fd >= 0 && fstat(fd, &st) == 0);
	*len = (size_t)st.st_size;
	buf = malloc(*len ? *len : 1);
	assert_non_null(buf);
	assert_int_equal(pread(fd, buf, *len, 0), (ssize_t)*len);
	close(fd);
	return buf;
}

/* Damage that repair must refuse: the file must not change at all. */
static void assert_unrepairable(const char *path)
{
	struct qcow2_check_result r;
	struct reports rep;
	size_t len1, len2;
	uint8_t *before = slurp(path, &len1), *after;

	assert_int_equal(check(path, QCOW2_REPAIR_ALL, &r, &rep), 0);
	assert_true(r.corruptions >= 1);
	assert_int_equal(r.corruptions_fixed, 0);
	assert_int_equal(r.leaks_fixed, 0);
	assert_non_null(strstr(rep.last, "Not repairing"));
	after = slurp(path, &len2);
	assert_int_equal(len1, len2);
	assert_memory_equal(before, after, len1);
	free(before);
	free(after);
}

static void test_l2_entry_past_eof(void **state)
{
	struct fixture *f = *state;
	struct qcow2_check_result r;
	struct reports rep;
	char *p = path_in(f, "eof.qcow2");

	make_image(p, 1ULL << 30, 12);
	add_data_cluster(p, 0, 0x66);
	poke64(p, l2_entry_offset(p, 1), (1ULL << 40) | QCOW2_OFLAG_COPIED);
	assert_int_equal(check(p, QCOW2_REPAIR_NONE, &r, &rep), 0);
	assert_int_equal(r.corruptions, 1);
	assert_non_null(strstr(rep.last, "past the end"));
	assert_unrepairable(p);

	/* An unaligned data offset is corrupt too. */
	make_image(path_in(f, "unal.qcow2"), 1ULL << 30, 12);
	p = path_in(f, "unal.qcow2");
	add_data_cluster(p, 0, 0x66);
	poke64(p, l2_entry_offset(p, 2), 0x1200 | QCOW2_OFLAG_COPIED);
	assert_int_equal(check(p, QCOW2_REPAIR_NONE, &r, &rep), 0);
	assert_int_equal(r.corruptions, 1);
	assert_non_null(strstr(rep.last, "aligned"));
}

static void test_overlapping_metadata(void **state)
{
	struct fixture *f = *state;
	struct qcow2_check_result r;
	struct reports rep;
	char *p = path_in(f, "overlap.qcow2");
	int fd;
	struct layout l;

	make_image(p, 1ULL << 30, 12);
	add_data_cluster(p, 0, 0x77);
	fd = open(p, O_RDONLY);
	assert_true(fd >= 0);
	l = get_layout(fd);
	close(fd);
	/* A guest cluster mapped onto the refcount table: a guest write
	 * there would rewrite refcounts. */
	poke64(p, l2_entry_offset(p, 1), l.rt_off | QCOW2_OFLAG_COPIED);
	assert_int_equal(check(p, QCOW2_REPAIR_NONE, &r, &rep), 0);
	assert_true(r.corruptions >= 1);
	assert_unrepairable(p);
}

static void write_file(const char *path, const void *buf, size_t len)
{
	int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0644);

	assert_true(fd >= 0);
	assert_int_equal(write(fd, buf, len), (ssize_t)len);
	close(fd);
}

static void test_garbage_and_truncated(void **state)
{
	struct fixture *f = *state;
	struct qcow2_check_result r;
	struct reports rep;
	uint8_t junk[10000], hdr[4096];
	char *p;
	int fd;

	srand(1);
	for (size_t i = 0; i < sizeof(junk); i++)
		junk[i] = (uint8_t)rand();
	write_file(path_in(f, "junk"), junk, sizeof(junk));
	assert_true(check(path_in(f, "junk"), QCOW2_REPAIR_NONE, &r, &rep) < 0);

	write_file(path_in(f, "empty"), junk, 0);
	assert_true(check(path_in(f, "empty"), QCOW2_REPAIR_ALL, &r, &rep) < 0);

	assert_int_equal(check(path_in(f, "missing"), QCOW2_REPAIR_NONE, &r, &rep), -ENOENT);

	/* A real header whose tables were cut off. */
	p = path_in(f, "full.qcow2");
	make_image(p, 1ULL << 30, 0);
	fd = open(p, O_RDONLY);
	assert_true(fd >= 0);
	assert_int_equal(pread(fd, hdr, sizeof(hdr), 0), (ssize_t)sizeof(hdr));
	close(fd);
	write_file(path_in(f, "cut.qcow2"), hdr, sizeof(hdr));
	assert_true(check(path_in(f, "cut.qcow2"), QCOW2_REPAIR_NONE, &r, &rep) < 0);
	write_file(path_in(f, "cut2.qcow2"), hdr, 60);
	assert_true(check(path_in(f, "cut2.qcow2"), QCOW2_REPAIR_NONE, &r, &rep) < 0);
}

/*
 * Random damage to the metadata of a small image with data: the check must
 * either run or fail cleanly, and a repair must leave an image that a
 * second check can still read (ASan/UBSan watch for everything else).
 */
static void test_random_damage(void **state)
{
	struct fixture *f = *state;
	struct qcow2_check_result r;
	struct reports rep;
	char *base = strdup(path_in(f, "base.qcow2"));
	char *p = strdup(path_in(f, "fuzz.qcow2"));
	uint8_t *img;
	struct stat st;
	int fd, ran = 0;

	assert_non_null(base);
	assert_non_null(p);
	make_image(base, 8ULL << 20, 9);
	add_data_cluster(base, 0, 0x12);
	add_data_cluster(base, 3, 0x34);
	assert_clean(base);
	fd = open(base, O_RDONLY);
	assert_true(fd >= 0 && fstat(fd, &st) == 0);
	img = malloc((size_t)st.st_size);
	assert_non_null(img);
	assert_int_equal(pread(fd, img, (size_t)st.st_size, 0), st.st_size);
	close(fd);

	srand(42);
	for (int iter = 0; iter < 300; iter++) {
		uint8_t *copy = malloc((size_t)st.st_size);
		int flips = 1 + rand() % 4, ret;

		assert_non_null(copy);
		memcpy(copy, img, (size_t)st.st_size);
		for (int k = 0; k < flips; k++) {
			/* Mostly the header fields, else anywhere (tables). */
			size_t at = rand() % 2 ? (size_t)(rand() % 112)
					       : (size_t)rand() % (size_t)st.st_size;

			copy[at] ^= (uint8_t)(1 + rand() % 255);
		}
		write_file(p, copy, (size_t)st.st_size);
		free(copy);
		ret = check(p, iter % 3 ? QCOW2_REPAIR_NONE : QCOW2_REPAIR_ALL, &r, &rep);
		if (ret == 0) {
			ran++;
			assert_true(r.leaks_fixed <= r.leaks);
			assert_true(r.corruptions_fixed <= r.corruptions);
			(void)check(p, QCOW2_REPAIR_NONE, &r, &rep);
		}
		unlink(p);
	}
	/* Flips in data and in unused header bytes leave a checkable image. */
	assert_true(ran > 30);
	free(img);
	free(base);
	free(p);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_clean_vmm_created, setup, teardown),
		cmocka_unit_test_setup_teardown(test_clean_with_data, setup, teardown),
		cmocka_unit_test_setup_teardown(test_clean_qemu_img, setup, teardown),
		cmocka_unit_test_setup_teardown(test_leaks_reported_and_repaired, setup, teardown),
		cmocka_unit_test_setup_teardown(test_refcount_too_low, setup, teardown),
		cmocka_unit_test_setup_teardown(test_copied_flag, setup, teardown),
		cmocka_unit_test_setup_teardown(test_l2_entry_past_eof, setup, teardown),
		cmocka_unit_test_setup_teardown(test_overlapping_metadata, setup, teardown),
		cmocka_unit_test_setup_teardown(test_garbage_and_truncated, setup, teardown),
		cmocka_unit_test_setup_teardown(test_random_damage, setup, teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
