/* SPDX-License-Identifier: MIT */
/*
 * The qcow2 driver: header parsing (good and every kind of bad), create and
 * reopen, allocation on first write (and not on rewrite), zero and
 * unallocated clusters, backing files (fall-through reads, copy-on-write of
 * partial clusters), discard and write-zeroes, concurrent writes into one
 * new cluster, refcount block and table growth, corrupt tables, and interop
 * with qemu-img (open its images; ours pass `qemu-img check` and convert to
 * the same raw bytes). Image files live in a private mkdtemp directory.
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
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "devices/disk/disk.h"
#include "devices/disk/qcow2.h"
#include "devices/disk/qcow2_priv.h"

#define MiB (1024ULL * 1024)

struct fx {
	char dir[256];
	char err[512];
};

static int setup(void **state)
{
	struct fx *f = calloc(1, sizeof(*f));
	const char *tmp = getenv("TMPDIR");

	if (!f)
		return -1;
	snprintf(f->dir, sizeof(f->dir), "%s/qcow2-XXXXXX", tmp ? tmp : "/tmp");
	if (!mkdtemp(f->dir))
		return -1;
	*state = f;
	return 0;
}

static int teardown(void **state)
{
	struct fx *f = *state;
	char cmd[300];

	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", f->dir);
	if (system(cmd) != 0)
		return -1;
	free(f);
	return 0;
}

static char *path(struct fx *f, const char *name)
{
	static __thread char p[8][400];
	static __thread int i;
	char *s = p[i++ % 8];

	snprintf(s, 400, "%s/%s", f->dir, name);
	return s;
}

static uint64_t fsize(const char *p)
{
	struct stat st;

	assert_int_equal(stat(p, &st), 0);
	return (uint64_t)st.st_size;
}

static void mk(struct fx *f, const char *name, uint64_t size, unsigned int cbits,
	       const char *backing, const char *bfmt)
{
	struct qcow2_create_opts o = {
		.size = size, .cluster_bits = cbits, .backing_file = backing, .backing_format = bfmt
	};
	int ret = qcow2_create(path(f, name), &o, f->err, sizeof(f->err));

	if (ret)
		print_error("create: %s\n", f->err);
	assert_int_equal(ret, 0);
}

static struct disk *op(struct fx *f, const char *name, bool ro)
{
	struct disk_open_opts o = { .readonly = ro, .engine = DISK_ENGINE_AUTO };
	struct disk *d = NULL;
	int ret = disk_open(path(f, name), &o, &d, f->err, sizeof(f->err));

	if (ret)
		print_error("open: %s\n", f->err);
	assert_int_equal(ret, 0);
	return d;
}

static void fill(uint8_t *b, size_t n, unsigned int seed)
{
	for (size_t i = 0; i < n; i++)
		b[i] = (uint8_t)(seed * 31 + i * 7 + (i >> 9));
}

static bool all(const uint8_t *b, size_t n, uint8_t v)
{
	for (size_t i = 0; i < n; i++)
		if (b[i] != v)
			return false;
	return true;
}

static bool have_qemu_img(void)
{
	return system("qemu-img --version >/dev/null 2>&1") == 0;
}

static int sh(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static int sh(const char *fmt, ...)
{
	char cmd[2048];
	va_list ap;
	int st;

	va_start(ap, fmt);
	vsnprintf(cmd, sizeof(cmd), fmt, ap);
	va_end(ap);
	st = system(cmd);
	return WIFEXITED(st) ? WEXITSTATUS(st) : -1;
}

/* ---- header parsing ---- */

static uint8_t *good_header(struct fx *f, uint64_t *fs)
{
	uint8_t *buf = calloc(1, 65536);
	int fd;

	mk(f, "h.qcow2", 20ULL << 30, 0, "base.img", "raw");
	fd = open(path(f, "h.qcow2"), O_RDONLY);
	assert_true(fd >= 0);
	assert_int_equal(pread(fd, buf, 65536, 0), 65536);
	close(fd);
	*fs = fsize(path(f, "h.qcow2"));
	unlink(path(f, "h.qcow2"));
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
	/* compression type zstd with its bit: unsupported, named */
	memcpy(b, good, 65536);
	put(b, 72, 8, QCOW2_INCOMPAT_COMPRESSION);
	b[104] = 1;
	assert_int_equal(qcow2_header_parse(b, 4096, fs, &h, f->err, sizeof(f->err)), -ENOTSUP);
	assert_non_null(strstr(f->err, "compression type 1"));
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
		mk(f, name, size, cb, NULL, NULL);
		fd = open(path(f, name), O_RDONLY);
		assert_true(pread(fd, b, 4096, 0) > 0);
		close(fd);
		assert_int_equal(qcow2_header_parse(b, 4096, fsize(path(f, name)), &h, f->err,
						    sizeof(f->err)),
				 0);
		assert_int_equal(h.cluster_bits, cb);
		/* offset -> L1 index: one L1 entry per cs * cs/8 bytes */
		assert_int_equal(h.l1_size, (size + per_l2 - 1) / per_l2);
		/* write at the start, across an L2 boundary and at the end */
		d = op(f, name, false);
		fill(b, 8192, cb);
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
		d = op(f, name, true);
		assert_int_equal(disk_pread(d, rd, 8192, 0), 0);
		assert_memory_equal(rd, b, 8192);
		assert_int_equal(disk_pread(d, rd, 8192, size / 4 + 40960), 0);
		assert_true(all(rd, 8192, 0));
		disk_close(d);
		unlink(path(f, name));
		free(b);
		free(rd);
	}
}

/* ---- allocation ---- */

static void test_alloc(void **state)
{
	struct fx *f = *state;
	uint8_t w[4096], r[65536 * 2];
	struct disk *d;
	uint64_t s0, s1;
	const char *p = path(f, "a.qcow2");

	mk(f, "a.qcow2", 64 * MiB, 16, NULL, NULL);
	s0 = fsize(p);
	assert_int_equal(s0, 4 * 65536);
	d = op(f, "a.qcow2", false);
	assert_int_equal(d->size, 64 * MiB);
	assert_string_equal(d->format, "qcow2");
	/* unallocated reads as zeros */
	memset(r, 0xaa, sizeof(r));
	assert_int_equal(disk_pread(d, r, sizeof(r), 10 * MiB), 0);
	assert_true(all(r, sizeof(r), 0));
	/* first write: one L2 table (written whole) and one data cluster, of
	 * which only the guest's 4 KiB are written (fresh clusters are holes) */
	fill(w, sizeof(w), 1);
	assert_int_equal(disk_pwrite(d, w, 4096, 8192), 0);
	s1 = fsize(p);
	assert_int_equal(s1, s0 + 65536 + 8192 + 4096);
	/* rewrite, and a write elsewhere in the same cluster: no growth */
	assert_int_equal(disk_pwrite(d, w, 4096, 8192), 0);
	assert_int_equal(disk_pwrite(d, w, 4096, 0), 0);
	assert_int_equal(fsize(p), s1);
	assert_int_equal(disk_pread(d, r, 65536, 0), 0);
	assert_memory_equal(r, w, 4096);
	assert_true(all(r + 4096, 4096, 0));
	assert_memory_equal(r + 8192, w, 4096);
	assert_true(all(r + 12288, 65536 - 12288, 0));
	/* a second cluster: one more */
	assert_int_equal(disk_pwrite(d, w, 4096, 65536), 0);
	assert_int_equal(fsize(p), s0 + 2 * 65536 + 4096);
	assert_int_equal(disk_flush(d), 0);
	disk_close(d);
	d = op(f, "a.qcow2", true);
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

	mk(f, "big.qcow2", 64 * MiB, 12, NULL, NULL); /* 4K clusters: 2 MiB per L2 */
	d = op(f, "big.qcow2", false);
	fill(w, n, 3);
	assert_int_equal(disk_pwrite(d, w, n, 1 * MiB + 512), 0);
	assert_int_equal(disk_pread(d, r, n, 1 * MiB + 512), 0);
	assert_memory_equal(r, w, n);
	disk_close(d);
	free(w);
	free(r);
}

struct inflight {
	int done, err;
};

static void if_done(struct disk_req *req, int ret)
{
	struct inflight *c = req->opaque;

	c->done++;
	if (ret)
		c->err = ret;
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

	mk(f, "if.qcow2", 16 * MiB, 16, NULL, NULL);
	assert_int_equal(disk_open(path(f, "if.qcow2"), &o, &d, f->err, sizeof(f->err)), 0);
	fill(buf, N * 4096, 9);
	for (int i = 0; i < N; i++) {
		iov[i] = (struct iovec){ buf + i * 4096, 4096 };
		req[i] = (struct disk_req){ .op = DISK_WRITE,
					    .offset = 5 * 65536 + i * 4096,
					    .len = 4096,
					    .iov = &iov[i],
					    .iovcnt = 1,
					    .done = if_done,
					    .opaque = &c };
		assert_int_equal(disk_submit(d, &req[i]), 0);
	}
	assert_int_equal(c.done, 0); /* never inside submit */
	s0 = fsize(path(f, "if.qcow2"));
	disk_drain(d);
	assert_int_equal(c.done, N);
	assert_int_equal(c.err, 0);
	assert_int_equal(disk_pread(d, r, 65536, 5 * 65536), 0);
	assert_memory_equal(r, buf, 65536);
	/* L2 table + exactly one data cluster */
	assert_true(fsize(path(f, "if.qcow2")) <= 6 * 65536);
	(void)s0;
	disk_close(d);
	free(buf);
	free(r);
}

/* ---- backing files ---- */

static void make_raw(struct fx *f, const char *name, size_t n, unsigned int seed, uint8_t **data)
{
	uint8_t *b = malloc(n);
	int fd = open(path(f, name), O_RDWR | O_CREAT | O_TRUNC, 0644);

	fill(b, n, seed);
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
	mk(f, "ov.qcow2", 2 * MiB, 16, "base.raw", "raw");
	d = op(f, "ov.qcow2", false);
	assert_non_null(d->backing);
	assert_int_equal(disk_pread(d, r, 3 * 65536, 65536), 0);
	assert_memory_equal(r, base + 65536, 3 * 65536);
	/* reads past the backing file's end are zeros */
	memset(r, 0xaa, 2 * 65536);
	assert_int_equal(disk_pread(d, r, 2 * 65536, 1 * MiB - 65536), 0);
	assert_memory_equal(r, base + 1 * MiB - 65536, 65536);
	assert_true(all(r + 65536, 65536, 0));
	/* a partial write copies the rest of the cluster from the backing file */
	fill(w, sizeof(w), 77);
	assert_int_equal(disk_pwrite(d, w, 4096, 3 * 65536 + 8192), 0);
	/* and a write spanning two clusters: COW head and tail */
	assert_int_equal(disk_pwrite(d, w, 4096, 6 * 65536 - 2048), 0);
	disk_close(d);
	d = op(f, "ov.qcow2", true);
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
		int fd = open(path(f, "base.raw"), O_RDONLY);

		assert_int_equal(pread(fd, r, 65536, 3 * 65536), 65536);
		assert_memory_equal(r, base + 3 * 65536, 65536);
		close(fd);
	}
	/* a qcow2 chain: overlay of the overlay, relative names, probed format */
	mk(f, "top.qcow2", 0, 16, "ov.qcow2", NULL);
	d = op(f, "top.qcow2", true);
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

	mk(f, "orphan.qcow2", 1 * MiB, 16, "nonexistent.raw", "raw");
	assert_int_not_equal(disk_open(path(f, "orphan.qcow2"), NULL, &d, f->err, sizeof(f->err)),
			     0);
	assert_non_null(strstr(f->err, "backing file"));
	/* a loop: an image that is its own backing file. Read-write, the
	 * image lock refuses the second open; read-only, the chain cap does. */
	mk(f, "loop.qcow2", 1 * MiB, 16, "loop.qcow2", "qcow2");
	assert_true(disk_open(path(f, "loop.qcow2"), NULL, &d, f->err, sizeof(f->err)) < 0);
	{
		struct disk_open_opts o = { .readonly = true };

		assert_int_equal(disk_open(path(f, "loop.qcow2"), &o, &d, f->err, sizeof(f->err)),
				 -ELOOP);
	}
}

/* ---- discard / write zeroes ---- */

static int zreq(struct disk *d, enum disk_op opc, uint64_t off, uint64_t len, bool unmap)
{
	struct inflight c = { 0 };
	struct disk_req req = {
		.op = opc, .offset = off, .len = len, .unmap = unmap, .done = if_done, .opaque = &c
	};
	int ret = disk_submit(d, &req);

	if (ret)
		return ret;
	disk_drain(d);
	assert_int_equal(c.done, 1);
	return c.err;
}

static void test_discard_zeroes(void **state)
{
	struct fx *f = *state;
	uint8_t *base, *w = malloc(4 * 65536), *r = malloc(4 * 65536);
	struct disk *d;

	fill(w, 4 * 65536, 11);
	/* no backing: discard punches, write-zeroes partial writes zeros */
	mk(f, "z.qcow2", 4 * MiB, 16, NULL, NULL);
	d = op(f, "z.qcow2", false);
	assert_true(d->can_discard);
	assert_int_equal(disk_pwrite(d, w, 4 * 65536, 0), 0);
	assert_int_equal(zreq(d, DISK_DISCARD, 65536, 65536, false), 0);
	assert_int_equal(zreq(d, DISK_WRITE_ZEROES, 2 * 65536 + 4096, 8192, false), 0);
	assert_int_equal(zreq(d, DISK_WRITE_ZEROES, 3 * 65536, 65536, true), 0);
	/* on unallocated space: nothing to do */
	assert_int_equal(zreq(d, DISK_WRITE_ZEROES, 1 * MiB, 1 * MiB, false), 0);
	assert_int_equal(zreq(d, DISK_DISCARD, 1 * MiB, 4096, false), 0);
	assert_int_equal(disk_pread(d, r, 4 * 65536, 0), 0);
	assert_memory_equal(r, w, 65536);
	assert_true(all(r + 65536, 65536, 0));
	assert_memory_equal(r + 2 * 65536, w + 2 * 65536, 4096);
	assert_true(all(r + 2 * 65536 + 4096, 8192, 0));
	assert_memory_equal(r + 2 * 65536 + 12288, w + 2 * 65536 + 12288, 65536 - 12288);
	assert_true(all(r + 3 * 65536, 65536, 0));
	disk_close(d);

	/* over a backing file: write-zeroes sets the zero flag (v3), a partial
	 * one allocates with the rest copied from the backing file */
	make_raw(f, "zb.raw", 1 * MiB, 6, &base);
	mk(f, "zo.qcow2", 1 * MiB, 16, "zb.raw", "raw");
	d = op(f, "zo.qcow2", false);
	assert_int_equal(zreq(d, DISK_WRITE_ZEROES, 65536, 2 * 65536, false), 0);
	assert_int_equal(zreq(d, DISK_WRITE_ZEROES, 4 * 65536 + 512, 1024, false), 0);
	assert_int_equal(zreq(d, DISK_DISCARD, 6 * 65536, 65536, false), 0);
	disk_close(d);
	d = op(f, "zo.qcow2", true);
	assert_int_equal(disk_pread(d, r, 4 * 65536, 0), 0);
	assert_memory_equal(r, base, 65536);
	assert_true(all(r + 65536, 2 * 65536, 0));
	assert_memory_equal(r + 3 * 65536, base + 3 * 65536, 65536);
	assert_int_equal(disk_pread(d, r, 3 * 65536, 4 * 65536), 0);
	assert_memory_equal(r, base + 4 * 65536, 512);
	assert_true(all(r + 512, 1024, 0));
	assert_memory_equal(r + 1536, base + 4 * 65536 + 1536, 65536 - 1536);
	assert_memory_equal(r + 2 * 65536, base + 6 * 65536, 65536); /* discard: old data */
	disk_close(d);
	/* a zero cluster then written partially: the rest stays zero */
	d = op(f, "zo.qcow2", false);
	assert_int_equal(disk_pwrite(d, w, 4096, 65536 + 4096), 0);
	assert_int_equal(disk_pread(d, r, 65536, 65536), 0);
	assert_true(all(r, 4096, 0));
	assert_memory_equal(r + 4096, w, 4096);
	assert_true(all(r + 8192, 65536 - 8192, 0));
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
	mk(f, "rc.qcow2", 64 * MiB, 9, NULL, NULL);
	d = op(f, "rc.qcow2", false);
	for (unsigned int i = 0; i < 192; i++) {
		fill(w, n, i);
		assert_int_equal(disk_pwrite(d, w, n, (uint64_t)i * n), 0);
	}
	disk_close(d);
	d = op(f, "rc.qcow2", true);
	for (unsigned int i = 0; i < 192; i += 17) {
		fill(w, n, i);
		assert_int_equal(disk_pread(d, r, n, (uint64_t)i * n), 0);
		assert_memory_equal(r, w, n);
	}
	disk_close(d);
	if (have_qemu_img())
		assert_int_equal(sh("qemu-img check -q '%s'", path(f, "rc.qcow2")), 0);
	free(w);
	free(r);
}

/* ---- bad images ---- */

static void test_bad_tables(void **state)
{
	struct fx *f = *state;
	uint8_t w[4096], e[8];
	struct disk *d = NULL;
	int fd;

	mk(f, "bad.qcow2", 4 * MiB, 16, NULL, NULL);
	d = op(f, "bad.qcow2", false);
	fill(w, sizeof(w), 2);
	assert_int_equal(disk_pwrite(d, w, 4096, 0), 0);
	disk_close(d);
	/* L1 entry 0 -> past the end of the file */
	fd = open(path(f, "bad.qcow2"), O_RDWR);
	q2_put_be64(e, (1ULL << 40) | QCOW2_OFLAG_COPIED);
	assert_int_equal(pwrite(fd, e, 8, 3 * 65536), 8);
	close(fd);
	d = op(f, "bad.qcow2", true);
	assert_int_equal(disk_pread(d, w, 4096, 0), -EIO);
	disk_close(d);
	/* L1 fine, L2 entry unaligned */
	fd = open(path(f, "bad.qcow2"), O_RDWR);
	q2_put_be64(e, 4 * 65536 | QCOW2_OFLAG_COPIED);
	assert_int_equal(pwrite(fd, e, 8, 3 * 65536), 8);
	q2_put_be64(e, 5 * 65536 + 4096);
	assert_int_equal(pwrite(fd, e, 8, 4 * 65536), 8);
	close(fd);
	d = op(f, "bad.qcow2", true);
	assert_int_equal(disk_pread(d, w, 4096, 0), -EIO);
	/* the rest of the disk still works */
	assert_int_equal(disk_pread(d, w, 4096, 65536), 0);
	/* compressed cluster: unsupported */
	disk_close(d);
	fd = open(path(f, "bad.qcow2"), O_RDWR);
	q2_put_be64(e, QCOW2_OFLAG_COMPRESSED | (5 * 65536));
	assert_int_equal(pwrite(fd, e, 8, 4 * 65536), 8);
	close(fd);
	d = op(f, "bad.qcow2", true);
	assert_int_equal(disk_pread(d, w, 4096, 0), -ENOTSUP);
	disk_close(d);

	/* dirty and corrupt bits: read-only only */
	for (int bit = 0; bit < 2; bit++) {
		fd = open(path(f, "bad.qcow2"), O_RDWR);
		q2_put_be64(e, 1ULL << bit);
		assert_int_equal(pwrite(fd, e, 8, 72), 8);
		close(fd);
		assert_int_equal(disk_open(path(f, "bad.qcow2"), NULL, &d, f->err, sizeof(f->err)),
				 -EROFS);
		assert_non_null(strstr(f->err, bit ? "corrupt" : "check -r all"));
		d = op(f, "bad.qcow2", true);
		disk_close(d);
	}
	/* autoclear bits are cleared on a read-write open */
	fd = open(path(f, "bad.qcow2"), O_RDWR);
	q2_put_be64(e, 0);
	assert_int_equal(pwrite(fd, e, 8, 72), 8);
	q2_put_be64(e, 3);
	assert_int_equal(pwrite(fd, e, 8, 88), 8);
	close(fd);
	d = op(f, "bad.qcow2", false);
	disk_close(d);
	fd = open(path(f, "bad.qcow2"), O_RDONLY);
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

	if (!have_qemu_img()) {
		printf("SKIP: qemu-img not installed\n");
		skip();
	}
	fill(w, 256 * 1024, 21);
	/* images qemu-img makes: default, small clusters, v2, with backing */
	assert_int_equal(sh("cd '%s' && qemu-img create -q -f qcow2 q1.qcow2 1G && "
			    "qemu-img create -q -f qcow2 -o cluster_size=4096 q2.qcow2 100M && "
			    "qemu-img create -q -f qcow2 -o compat=0.10 q3.qcow2 100M && "
			    "qemu-img create -q -f qcow2 -b q3.qcow2 -F qcow2 q4.qcow2",
			    f->dir),
			 0);
	for (int i = 1; i <= 4; i++) {
		char name[16];

		snprintf(name, sizeof(name), "q%d.qcow2", i);
		d = op(f, name, false);
		assert_int_equal(disk_pwrite(d, w, 256 * 1024, 3 * MiB + 4096), 0);
		assert_int_equal(disk_pwrite(d, w, 4096, 50 * MiB), 0);
		assert_int_equal(zreq(d, DISK_WRITE_ZEROES, 3 * MiB + 65536, 65536, false), 0);
		assert_int_equal(disk_pread(d, r, 256 * 1024, 3 * MiB + 4096), 0);
		assert_memory_equal(r, w, 60 * 1024);
		disk_close(d);
		assert_int_equal(sh("qemu-img check -q '%s/%s'", f->dir, name), 0);
	}
	/* what we wrote reads back the same through qemu-img */
	assert_int_equal(sh("cd '%s' && qemu-img convert -O raw q1.qcow2 q1.raw", f->dir), 0);
	{
		int fd = open(path(f, "q1.raw"), O_RDONLY);

		assert_int_equal(pread(fd, r, 256 * 1024, 3 * MiB + 4096), 256 * 1024);
		assert_memory_equal(r, w, 60 * 1024);
		assert_true(all(r + 60 * 1024, 65536, 0));
		assert_memory_equal(r + 124 * 1024, w + 124 * 1024, 132 * 1024);
		close(fd);
	}
	/* a vmm-created image with data, checked and converted by qemu-img,
	 * byte for byte against a raw image written the same way */
	mk(f, "v.qcow2", 64 * MiB, 16, NULL, NULL);
	d = op(f, "v.qcow2", false);
	{
		int fd = open(path(f, "v.ref"), O_RDWR | O_CREAT, 0644);

		assert_int_equal(ftruncate(fd, 64 * MiB), 0);
		for (unsigned int i = 0; i < 40; i++) {
			uint64_t off = ((uint64_t)i * 7919 * 4096) % (64 * MiB - 256 * 1024);

			fill(w, 256 * 1024, i);
			assert_int_equal(disk_pwrite(d, w, 20 * 1024, off), 0);
			assert_int_equal(pwrite(fd, w, 20 * 1024, (off_t)off), 20 * 1024);
		}
		close(fd);
	}
	disk_close(d);
	assert_int_equal(sh("qemu-img check -q '%s/v.qcow2'", f->dir), 0);
	assert_int_equal(
		sh("cd '%s' && qemu-img convert -O raw v.qcow2 v.raw && cmp -s v.raw v.ref",
		   f->dir),
		0);
	/* a compressed image: opens, the compressed cluster is refused */
	assert_int_equal(sh("cd '%s' && qemu-img convert -c -O qcow2 v.ref c.qcow2", f->dir), 0);
	d = op(f, "c.qcow2", true);
	assert_int_equal(disk_pread(d, r, 4096, 0), -ENOTSUP);
	disk_close(d);
	free(w);
	free(r);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_header_good, setup, teardown),
		cmocka_unit_test_setup_teardown(test_header_bad, setup, teardown),
		cmocka_unit_test_setup_teardown(test_create_geometry, setup, teardown),
		cmocka_unit_test_setup_teardown(test_alloc, setup, teardown),
		cmocka_unit_test_setup_teardown(test_big_io, setup, teardown),
		cmocka_unit_test_setup_teardown(test_inflight_same_cluster, setup, teardown),
		cmocka_unit_test_setup_teardown(test_backing, setup, teardown),
		cmocka_unit_test_setup_teardown(test_backing_missing, setup, teardown),
		cmocka_unit_test_setup_teardown(test_discard_zeroes, setup, teardown),
		cmocka_unit_test_setup_teardown(test_refcount_growth, setup, teardown),
		cmocka_unit_test_setup_teardown(test_bad_tables, setup, teardown),
		cmocka_unit_test_setup_teardown(test_qemu_interop, setup, teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
