/* SPDX-License-Identifier: MIT */
/*
 * qcow2: creating an image (qemu-img create -f qcow2). The layout is
 * qemu-img's, version 3 with 16-bit refcounts, so that every image we make
 * opens in QEMU and passes `qemu-img check`. See qcow2.txt "Header" and
 * "Host cluster management" in QEMU's docs/interop.
 */
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "base/err.h"
#include "devices/disk/qcow2_priv.h"

/* The virtual size of an existing image to use as a backing file, when the
 * caller asked for size 0: a qcow2 header's size, else the file size. */
static int backing_size(const char *path, const char *fmt, uint64_t *size, char *err, size_t errlen)
{
	uint8_t buf[4096];
	struct stat st;
	ssize_t n;
	int fd, ret = 0;

	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return err_set(err, errlen, -errno, "%s: cannot open backing file: %s", path,
			       strerror(errno));
	if (fstat(fd, &st) < 0) {
		ret = err_set(err, errlen, -errno, "%s: %s", path, strerror(errno));
		goto out;
	}
	n = pread(fd, buf, sizeof(buf), 0);
	if (n < 0) {
		ret = err_set(err, errlen, -errno, "%s: %s", path, strerror(errno));
		goto out;
	}
	if ((!fmt || !strcmp(fmt, "qcow2")) && n >= 4 && q2_be32(buf) == QCOW2_MAGIC) {
		struct qcow2_header bh;
		char e[256];

		ret = qcow2_header_parse(buf, (size_t)n, (uint64_t)st.st_size, &bh, e, sizeof(e));
		if (ret) {
			ret = err_set(err, errlen, ret, "%s: %s", path, e);
			goto out;
		}
		*size = bh.size;
	} else {
		*size = (uint64_t)st.st_size & ~(uint64_t)(DISK_SECTOR_SIZE - 1);
	}
out:
	close(fd);
	return ret;
}

/* Where qcow2_create() puts the metadata, in clusters of `cs` bytes:
 * header, refcount table, refcount blocks, L1 table. */
struct create_layout {
	uint64_t cs;
	uint64_t l1_entries;
	uint64_t rt_cl, rb_cl, l1_cl;
	uint64_t rb_entries; /* refcounts per block */
	uint64_t total;	     /* clusters in use: all of the above */
};

/* The cluster size and the backing names, which must fit the header cluster. */
static int create_check_opts(const struct qcow2_create_opts *o, unsigned int cbits, char *err,
			     size_t errlen)
{
	size_t blen = o->backing_file ? strlen(o->backing_file) : 0;
	size_t flen = o->backing_format ? strlen(o->backing_format) : 0;

	if (cbits < QCOW2_MIN_CLUSTER_BITS || cbits > QCOW2_MAX_CLUSTER_BITS)
		return err_set(err, errlen, -EINVAL, "cluster size must be 512 bytes .. 2 MiB");
	if (o->compression_type > QCOW2_COMPRESSION_ZSTD)
		return err_set(err, errlen, -EINVAL, "unknown compression type %u",
			       o->compression_type);
	if (o->backing_file && (blen == 0 || blen > 1023))
		return err_set(err, errlen, -EINVAL, "backing file name must be 1..1023 bytes");
	if (flen >= 32)
		return err_set(err, errlen, -EINVAL, "backing format name too long");
	if (flen && !o->backing_file)
		return err_set(err, errlen, -EINVAL, "backing format given without a backing file");
	if (QCOW2_CREATE_HEADER_LEN + 16 + ((flen + 7) & ~7UL) + 8 + blen > (1ULL << cbits))
		return err_set(err, errlen, -EINVAL,
			       "backing file name does not fit the header cluster");
	return 0;
}

/*
 * Layout (like qemu-img): cluster 0 header (+ extensions, backing name),
 * then the refcount table, the refcount blocks and the L1 table. Everything
 * is sized so the refcount blocks cover all of these clusters; the refcount
 * table covers those blocks. A 20 GiB image with 64 KiB clusters is four
 * clusters (256 KiB).
 */
static int create_layout(uint64_t size, unsigned int cbits, struct create_layout *l, char *err,
			 size_t errlen)
{
	uint64_t cs = 1ULL << cbits;

	if (size % DISK_SECTOR_SIZE)
		return err_set(err, errlen, -EINVAL, "size must be a multiple of 512 bytes");
	l->cs = cs;
	l->l1_entries = (size + (cs * (cs / 8)) - 1) / (cs * (cs / 8));
	if (size > (1ULL << 56) || l->l1_entries * 8 > QCOW2_MAX_L1_BYTES)
		return err_set(err, errlen, -EINVAL, "size too large for %" PRIu64 "-byte clusters",
			       cs);
	l->l1_cl = (l->l1_entries * 8 + cs - 1) / cs;
	if (l->l1_cl == 0)
		l->l1_cl = 1;
	l->rb_entries = cs * 8 / 16; /* refcount_order 4: 16-bit entries */
	l->rt_cl = 1;
	l->rb_cl = 1;
	/* Fixed point: enough blocks for every metadata cluster, enough table
	 * for every block. */
	for (;;) {
		uint64_t need_rb, need_rt;

		l->total = 1 + l->rt_cl + l->rb_cl + l->l1_cl;
		need_rb = (l->total + l->rb_entries - 1) / l->rb_entries;
		need_rt = (need_rb * 8 + cs - 1) / cs;
		if (need_rb <= l->rb_cl && need_rt <= l->rt_cl)
			break;
		l->rb_cl = need_rb > l->rb_cl ? need_rb : l->rb_cl;
		l->rt_cl = need_rt > l->rt_cl ? need_rt : l->rt_cl;
	}
	if (l->rt_cl * cs > QCOW2_MAX_REFTABLE_BYTES)
		return err_set(err, errlen, -EINVAL, "image metadata too large");
	return 0;
}

/* Cluster 0 (qcow2.txt "Header"): the header, the backing format extension,
 * the end-of-extensions marker and the backing file name. buf: cs bytes of
 * zeros. */
static int create_write_header(int fd, uint8_t *buf, const struct create_layout *l,
			       unsigned int cbits, uint64_t size, const struct qcow2_create_opts *o)
{
	size_t blen = o->backing_file ? strlen(o->backing_file) : 0;
	size_t flen = o->backing_format ? strlen(o->backing_format) : 0;
	size_t off = QCOW2_CREATE_HEADER_LEN;

	q2_put_be32(buf, QCOW2_MAGIC);
	q2_put_be32(buf + 4, 3);
	q2_put_be32(buf + 20, cbits);
	q2_put_be64(buf + 24, size);
	q2_put_be32(buf + 36, (uint32_t)l->l1_entries);
	q2_put_be64(buf + 40, (1 + l->rt_cl + l->rb_cl) * l->cs);
	q2_put_be64(buf + 48, l->cs);
	q2_put_be32(buf + 56, (uint32_t)l->rt_cl);
	q2_put_be32(buf + 96, 4);
	q2_put_be32(buf + 100, QCOW2_CREATE_HEADER_LEN);
	/* zlib is the default and needs no feature bit; anything else does
	 * (qcow2.txt "compression type"). */
	buf[104] = o->compression_type;
	if (o->compression_type != QCOW2_COMPRESSION_ZLIB)
		q2_put_be64(buf + QCOW2_HDR_INCOMPAT_OFF, QCOW2_INCOMPAT_COMPRESSION);
	if (flen) {
		q2_put_be32(buf + off, QCOW2_EXT_BACKING_FMT);
		q2_put_be32(buf + off + 4, (uint32_t)flen);
		memcpy(buf + off + 8, o->backing_format, flen);
		off += 8 + ((flen + 7) & ~7UL);
	}
	off += 8; /* end-of-extensions marker: already zero */
	if (blen) {
		q2_put_be64(buf + 8, off);
		q2_put_be32(buf + 16, (uint32_t)blen);
		memcpy(buf + off, o->backing_file, blen);
	}
	return q2_pwrite(fd, buf, l->cs, 0);
}

/* The refcount table (entry i -> refcount block i) and the refcount blocks,
 * in which clusters [0, total) have refcount 1. buf: cs bytes of scratch. */
static int create_write_refcounts(int fd, uint8_t *buf, const struct create_layout *l)
{
	uint64_t cs = l->cs;
	int ret;

	memset(buf, 0, cs);
	for (uint64_t i = 0; i < l->rb_cl; i++) {
		q2_put_be64(buf + (i % (cs / 8)) * 8, (1 + l->rt_cl + i) * cs);
		if ((i + 1) % (cs / 8) == 0 || i + 1 == l->rb_cl) {
			ret = q2_pwrite(fd, buf, cs, (1 + i / (cs / 8)) * cs);
			if (ret)
				return ret;
			memset(buf, 0, cs);
		}
	}
	for (uint64_t b = 0; b < l->rb_cl; b++) {
		memset(buf, 0, cs);
		for (uint64_t i = 0; i < l->rb_entries && b * l->rb_entries + i < l->total; i++)
			q2_rc_set(buf, 4, i, 1);
		ret = q2_pwrite(fd, buf, cs, (1 + l->rt_cl + b) * cs);
		if (ret)
			return ret;
	}
	return 0;
}

int qcow2_create(const char *path, const struct qcow2_create_opts *o, char *err, size_t errlen)
{
	unsigned int cbits = o->cluster_bits ? o->cluster_bits : QCOW2_DEFAULT_CLUSTER_BITS;
	struct create_layout l = { 0 };
	uint64_t size = o->size;
	uint8_t *buf = NULL;
	int fd, ret;

	ret = create_check_opts(o, cbits, err, errlen);
	if (ret)
		return ret;
	if (size == 0 && o->backing_file) {
		char *bp = disk_resolve_path(path, o->backing_file);

		if (!bp)
			return err_set(err, errlen, -ENOMEM, "out of memory");
		ret = backing_size(bp, o->backing_format, &size, err, errlen);
		free(bp);
		if (ret)
			return ret;
	}
	ret = create_layout(size, cbits, &l, err, errlen);
	if (ret)
		return ret;

	fd = open(path, O_RDWR | O_CREAT | O_EXCL | O_CLOEXEC, 0644);
	if (fd < 0)
		return err_set(err, errlen, -errno, "%s: %s", path, strerror(errno));
	buf = calloc(1, l.cs);
	if (!buf) {
		ret = err_set(err, errlen, -ENOMEM, "out of memory");
		goto fail;
	}
	ret = create_write_header(fd, buf, &l, cbits, size, o);
	if (ret == 0)
		ret = create_write_refcounts(fd, buf, &l);
	if (ret)
		goto io_fail;
	/* L1 table: all zeros, so extending the file is enough. */
	if (ftruncate(fd, (off_t)(l.total * l.cs)) < 0 || fdatasync(fd) < 0) {
		ret = -errno;
		goto io_fail;
	}
	free(buf);
	if (close(fd) < 0)
		return err_set(err, errlen, -errno, "%s: %s", path, strerror(errno));
	return 0;
io_fail:
	err_set(err, errlen, ret, "%s: write failed: %s", path, strerror(-ret));
fail:
	free(buf);
	close(fd);
	unlink(path);
	return ret;
}
