/* SPDX-License-Identifier: MIT */
/*
 * qcow2: header parsing and validation, image creation, open and close.
 * The format is QEMU's docs/interop/qcow2.txt; section names below refer to
 * it. See qcow2_priv.h for how the driver keeps its metadata consistent.
 */
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/uio.h>
#include <unistd.h>

#include "devices/disk/qcow2_priv.h"

int q2_pread(int fd, void *buf, size_t len, uint64_t off)
{
	uint8_t *p = buf;

	while (len > 0) {
		ssize_t n = pread(fd, p, len, (off_t)off);

		if (n < 0) {
			if (errno == EINTR)
				continue;
			return -errno;
		}
		if (n == 0) { /* end of file: the rest reads as zeros */
			memset(p, 0, len);
			return 0;
		}
		p += n;
		off += (uint64_t)n;
		len -= (size_t)n;
	}
	return 0;
}

int q2_pwrite(int fd, const void *buf, size_t len, uint64_t off)
{
	const uint8_t *p = buf;

	while (len > 0) {
		ssize_t n = pwrite(fd, p, len, (off_t)off);

		if (n < 0) {
			if (errno == EINTR)
				continue;
			return -errno;
		}
		p += n;
		off += (uint64_t)n;
		len -= (size_t)n;
	}
	return 0;
}

/* The name of incompatible feature `bit` from the image's feature name
 * table (qcow2.txt "Feature name table"), for the error message. */
static void feature_name(const uint8_t *tbl, uint32_t tlen, unsigned int bit, char *out,
			 size_t outlen)
{
	snprintf(out, outlen, "unknown incompatible feature bit %u", bit);
	for (uint32_t i = 0; tbl && i + 48 <= tlen; i += 48) {
		if (tbl[i] == 0 && tbl[i + 1] == bit) {
			snprintf(out, outlen, "unknown incompatible feature bit %u (%.46s)", bit,
				 (const char *)tbl + i + 2);
			return;
		}
	}
}

/* Header extensions (qcow2.txt "Header extensions") between `start` and
 * `end` of buf. Fills backing_format; refuses the ones that mean a feature
 * we do not implement. `*ftbl` points at the feature name table if any. */
static int parse_extensions(const uint8_t *buf, size_t start, size_t end, struct qcow2_header *h,
			    const uint8_t **ftbl, uint32_t *ftbl_len, char *err, size_t errlen)
{
	size_t off = start;

	while (off + 8 <= end) {
		uint32_t type = q2_be32(buf + off);
		uint32_t elen = q2_be32(buf + off + 4);
		size_t data = off + 8;

		if (type == QCOW2_EXT_END)
			return 0;
		if (elen > end - data)
			return disk_err(
				err, errlen, -EINVAL,
				"header extension 0x%08x at %zu overruns the header cluster", type,
				off);
		switch (type) {
		case QCOW2_EXT_BACKING_FMT:
			if (elen >= sizeof(h->backing_format))
				return disk_err(err, errlen, -EINVAL,
						"backing format name too long (%u bytes)", elen);
			memcpy(h->backing_format, buf + data, elen);
			h->backing_format[elen] = '\0';
			if (strlen(h->backing_format) != elen)
				return disk_err(err, errlen, -EINVAL,
						"backing format name contains a NUL byte");
			break;
		case QCOW2_EXT_FEATURE_TABLE:
			*ftbl = buf + data;
			*ftbl_len = elen;
			break;
		case QCOW2_EXT_CRYPTO:
			return disk_err(err, errlen, -ENOTSUP,
					"unsupported qcow2 feature: encryption");
		case QCOW2_EXT_DATA_FILE:
			return disk_err(err, errlen, -ENOTSUP,
					"unsupported qcow2 feature: external data file");
		default: /* bitmaps (autoclear bit 0) and unknown ones: ignored */
			break;
		}
		/* data is padded to a multiple of 8 */
		off = data + (((size_t)elen + 7) & ~(size_t)7);
	}
	if (off < end && off + 8 > end)
		return disk_err(err, errlen, -EINVAL, "truncated header extension at %zu", off);
	return 0;
}

/* A table at `off` of `bytes` bytes must be cluster aligned, not overlap the
 * header cluster, and lie inside the file. */
static int check_table(const char *what, uint64_t off, uint64_t bytes, uint64_t csize,
		       uint64_t file_size, char *err, size_t errlen)
{
	uint64_t end;

	if (off == 0 || (off & (csize - 1)))
		return disk_err(err, errlen, -EINVAL,
				"%s offset 0x%" PRIx64 " is not cluster aligned", what, off);
	if (__builtin_add_overflow(off, bytes, &end) || end > file_size)
		return disk_err(err, errlen, -EINVAL,
				"%s (0x%" PRIx64 "+%" PRIu64
				") lies past the end of the file (%" PRIu64 " bytes)",
				what, off, bytes, file_size);
	return 0;
}

int qcow2_header_parse(const uint8_t *buf, size_t len, uint64_t file_size, struct qcow2_header *h,
		       char *err, size_t errlen)
{
	const uint8_t *ftbl = NULL;
	uint32_t ftbl_len = 0;
	uint64_t csize, l2_entries, l1_need, ext_end;
	int ret;

	memset(h, 0, sizeof(*h));
	if (len < QCOW2_V2_HEADER_LEN || file_size < QCOW2_V2_HEADER_LEN)
		return disk_err(err, errlen, -EINVAL,
				"file too short for a qcow2 header (%zu bytes)",
				len < file_size ? len : (size_t)file_size);
	if (len > file_size)
		len = (size_t)file_size;
	if (q2_be32(buf) != QCOW2_MAGIC)
		return disk_err(err, errlen, -EINVAL, "not a qcow2 image (bad magic)");
	h->version = q2_be32(buf + 4);
	h->backing_file_offset = q2_be64(buf + 8);
	h->backing_file_size = q2_be32(buf + 16);
	h->cluster_bits = q2_be32(buf + 20);
	h->size = q2_be64(buf + 24);
	h->crypt_method = q2_be32(buf + 32);
	h->l1_size = q2_be32(buf + 36);
	h->l1_table_offset = q2_be64(buf + 40);
	h->refcount_table_offset = q2_be64(buf + 48);
	h->refcount_table_clusters = q2_be32(buf + 56);
	h->nb_snapshots = q2_be32(buf + 60);
	h->snapshots_offset = q2_be64(buf + 64);

	if (h->version != 2 && h->version != 3)
		return disk_err(err, errlen, -ENOTSUP, "unsupported qcow2 version %u", h->version);
	if (h->version == 2) {
		h->refcount_order = 4;
		h->header_length = QCOW2_V2_HEADER_LEN;
	} else {
		if (len < QCOW2_V3_HEADER_LEN)
			return disk_err(err, errlen, -EINVAL, "truncated version 3 header");
		h->incompatible_features = q2_be64(buf + 72);
		h->compatible_features = q2_be64(buf + 80);
		h->autoclear_features = q2_be64(buf + 88);
		h->refcount_order = q2_be32(buf + 96);
		h->header_length = q2_be32(buf + 100);
		if (h->header_length < QCOW2_V3_HEADER_LEN || (h->header_length & 7))
			return disk_err(err, errlen, -EINVAL, "invalid header_length %u",
					h->header_length);
		if (h->header_length > len)
			return disk_err(err, errlen, -EINVAL,
					"header_length %u exceeds the %zu bytes available",
					h->header_length, len);
		if (h->header_length > 104)
			h->compression_type = buf[104];
	}
	if (h->cluster_bits < QCOW2_MIN_CLUSTER_BITS || h->cluster_bits > QCOW2_MAX_CLUSTER_BITS)
		return disk_err(err, errlen, -EINVAL, "cluster_bits %u out of range (%u..%u)",
				h->cluster_bits, QCOW2_MIN_CLUSTER_BITS, QCOW2_MAX_CLUSTER_BITS);
	csize = 1ULL << h->cluster_bits;
	if (h->header_length > csize)
		return disk_err(err, errlen, -EINVAL, "header_length %u exceeds the cluster size",
				h->header_length);
	if (h->refcount_order > 6)
		return disk_err(err, errlen, -EINVAL, "refcount_order %u out of range (0..6)",
				h->refcount_order);

	/* Extensions first: the feature name table names unknown bits. */
	ext_end = csize < len ? csize : len;
	ret = parse_extensions(buf, h->header_length, (size_t)ext_end, h, &ftbl, &ftbl_len, err,
			       errlen);
	if (ret)
		return ret;

	/* Incompatible features: the unknown ones first (spec: "must fail to
	 * open"), then the ones we know but do not implement. */
	if (h->incompatible_features & ~QCOW2_INCOMPAT_KNOWN) {
		unsigned int bit = (unsigned int)__builtin_ctzll(h->incompatible_features &
								 ~QCOW2_INCOMPAT_KNOWN);

		if (err && errlen)
			feature_name(ftbl, ftbl_len, bit, err, errlen);
		return -ENOTSUP;
	}
	if (h->incompatible_features & QCOW2_INCOMPAT_DATA_FILE)
		return disk_err(err, errlen, -ENOTSUP,
				"unsupported qcow2 feature: external data file");
	if (h->incompatible_features & QCOW2_INCOMPAT_EXTL2)
		return disk_err(err, errlen, -ENOTSUP,
				"unsupported qcow2 feature: extended L2 entries (subclusters)");
	if (h->incompatible_features & QCOW2_INCOMPAT_COMPRESSION) {
		if (h->compression_type == 0)
			return disk_err(err, errlen, -EINVAL,
					"compression type bit set but compression_type is 0");
		return disk_err(err, errlen, -ENOTSUP,
				"unsupported qcow2 feature: compression type %u",
				h->compression_type);
	}
	if (h->compression_type != 0)
		return disk_err(err, errlen, -EINVAL,
				"compression_type %u without the compression type bit",
				h->compression_type);
	if (h->crypt_method != 0)
		return disk_err(err, errlen, -ENOTSUP, "unsupported qcow2 feature: encryption (%s)",
				h->crypt_method == 1   ? "AES"
				: h->crypt_method == 2 ? "LUKS"
						       : "unknown method");
	if (h->nb_snapshots != 0)
		return disk_err(err, errlen, -ENOTSUP,
				"unsupported qcow2 feature: internal snapshots (%u)",
				h->nb_snapshots);

	/* Sizes and tables. */
	if (h->size % DISK_SECTOR_SIZE)
		return disk_err(err, errlen, -EINVAL,
				"virtual size %" PRIu64 " is not a multiple of 512", h->size);
	l2_entries = csize / 8;
	if (h->size > (1ULL << 56))
		return disk_err(err, errlen, -EINVAL, "virtual size %" PRIu64 " too large",
				h->size);
	l1_need = (h->size + csize * l2_entries - 1) / (csize * l2_entries);
	if ((uint64_t)h->l1_size * 8 > QCOW2_MAX_L1_BYTES)
		return disk_err(err, errlen, -EINVAL, "L1 table too large (%u entries)",
				h->l1_size);
	if (h->l1_size < l1_need)
		return disk_err(
			err, errlen, -EINVAL,
			"L1 table (%u entries) too small for the virtual size (needs %" PRIu64 ")",
			h->l1_size, l1_need);
	if (h->l1_size > 0) {
		ret = check_table("L1 table", h->l1_table_offset, (uint64_t)h->l1_size * 8, csize,
				  file_size, err, errlen);
		if (ret)
			return ret;
	}
	if (h->refcount_table_clusters == 0 ||
	    (uint64_t)h->refcount_table_clusters * csize > QCOW2_MAX_REFTABLE_BYTES)
		return disk_err(err, errlen, -EINVAL,
				"refcount table size %u clusters out of range",
				h->refcount_table_clusters);
	ret = check_table("refcount table", h->refcount_table_offset,
			  (uint64_t)h->refcount_table_clusters * csize, csize, file_size, err,
			  errlen);
	if (ret)
		return ret;

	/* Backing file name: inside the first cluster (and what we were given). */
	if (h->backing_file_offset != 0) {
		uint64_t end;

		if (h->backing_file_size == 0 || h->backing_file_size > 1023)
			return disk_err(err, errlen, -EINVAL, "backing file name length %u invalid",
					h->backing_file_size);
		if (__builtin_add_overflow(h->backing_file_offset, h->backing_file_size, &end) ||
		    end > csize || end > len)
			return disk_err(err, errlen, -EINVAL,
					"backing file name (at %" PRIu64
					", %u bytes) outside the header",
					h->backing_file_offset, h->backing_file_size);
		memcpy(h->backing_file, buf + h->backing_file_offset, h->backing_file_size);
		h->backing_file[h->backing_file_size] = '\0';
		if (strlen(h->backing_file) != h->backing_file_size)
			return disk_err(err, errlen, -EINVAL,
					"backing file name contains a NUL byte");
	} else if (h->backing_format[0]) {
		/* harmless: QEMU ignores a format without a file */
		h->backing_format[0] = '\0';
	}
	return 0;
}

/* ---- create ---- */

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
		return disk_err(err, errlen, -errno, "%s: cannot open backing file: %s", path,
				strerror(errno));
	if (fstat(fd, &st) < 0) {
		ret = disk_err(err, errlen, -errno, "%s: %s", path, strerror(errno));
		goto out;
	}
	n = pread(fd, buf, sizeof(buf), 0);
	if (n < 0) {
		ret = disk_err(err, errlen, -errno, "%s: %s", path, strerror(errno));
		goto out;
	}
	if ((!fmt || !strcmp(fmt, "qcow2")) && n >= 4 && q2_be32(buf) == QCOW2_MAGIC) {
		struct qcow2_header bh;
		char e[256];

		ret = qcow2_header_parse(buf, (size_t)n, (uint64_t)st.st_size, &bh, e, sizeof(e));
		if (ret) {
			ret = disk_err(err, errlen, ret, "%s: %s", path, e);
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

/* Resolve a backing name relative to the directory of `image` (what QEMU
 * does). Returns a malloc'd path or NULL. */
char *q2_backing_path(const char *image, const char *name)
{
	const char *slash = strrchr(image, '/');
	char *p;

	if (name[0] == '/' || !slash)
		return strdup(name);
	if (asprintf(&p, "%.*s/%s", (int)(slash - image), image, name) < 0)
		return NULL;
	return p;
}

/*
 * Layout (like qemu-img): cluster 0 header (+ extensions, backing name),
 * then the refcount table, the refcount blocks and the L1 table. Everything
 * is sized so the refcount blocks cover all of these clusters; the refcount
 * table covers those blocks. A 20 GiB image with 64 KiB clusters is four
 * clusters (256 KiB).
 */
int qcow2_create(const char *path, const struct qcow2_create_opts *o, char *err, size_t errlen)
{
	unsigned int cbits = o->cluster_bits ? o->cluster_bits : QCOW2_DEFAULT_CLUSTER_BITS;
	uint64_t cs, size = o->size, l1_entries, l1_cl, rb_entries, rt_cl = 1, rb_cl = 1, total;
	size_t blen = o->backing_file ? strlen(o->backing_file) : 0;
	size_t flen = o->backing_format ? strlen(o->backing_format) : 0;
	uint8_t *buf = NULL;
	size_t off;
	int fd, ret;

	if (cbits < QCOW2_MIN_CLUSTER_BITS || cbits > QCOW2_MAX_CLUSTER_BITS)
		return disk_err(err, errlen, -EINVAL, "cluster size must be 512 bytes .. 2 MiB");
	cs = 1ULL << cbits;
	if (o->backing_file && (blen == 0 || blen > 1023))
		return disk_err(err, errlen, -EINVAL, "backing file name must be 1..1023 bytes");
	if (flen >= 32)
		return disk_err(err, errlen, -EINVAL, "backing format name too long");
	if (flen && !o->backing_file)
		return disk_err(err, errlen, -EINVAL,
				"backing format given without a backing file");
	if (QCOW2_CREATE_HEADER_LEN + 16 + ((flen + 7) & ~7UL) + 8 + blen > cs)
		return disk_err(err, errlen, -EINVAL,
				"backing file name does not fit the header cluster");
	if (size == 0 && o->backing_file) {
		char *bp = q2_backing_path(path, o->backing_file);

		if (!bp)
			return disk_err(err, errlen, -ENOMEM, "out of memory");
		ret = backing_size(bp, o->backing_format, &size, err, errlen);
		free(bp);
		if (ret)
			return ret;
	}
	if (size % DISK_SECTOR_SIZE)
		return disk_err(err, errlen, -EINVAL, "size must be a multiple of 512 bytes");
	l1_entries = (size + (cs * (cs / 8)) - 1) / (cs * (cs / 8));
	if (size > (1ULL << 56) || l1_entries * 8 > QCOW2_MAX_L1_BYTES)
		return disk_err(err, errlen, -EINVAL,
				"size too large for %" PRIu64 "-byte clusters", cs);
	l1_cl = (l1_entries * 8 + cs - 1) / cs;
	if (l1_cl == 0)
		l1_cl = 1;
	rb_entries = cs * 8 / 16; /* refcount_order 4: 16-bit entries */
	/* Fixed point: enough blocks for every metadata cluster, enough table
	 * for every block. */
	for (;;) {
		uint64_t need_rb, need_rt;

		total = 1 + rt_cl + rb_cl + l1_cl;
		need_rb = (total + rb_entries - 1) / rb_entries;
		need_rt = (need_rb * 8 + cs - 1) / cs;
		if (need_rb <= rb_cl && need_rt <= rt_cl)
			break;
		rb_cl = need_rb > rb_cl ? need_rb : rb_cl;
		rt_cl = need_rt > rt_cl ? need_rt : rt_cl;
	}
	if (rt_cl * cs > QCOW2_MAX_REFTABLE_BYTES)
		return disk_err(err, errlen, -EINVAL, "image metadata too large");

	fd = open(path, O_RDWR | O_CREAT | O_EXCL | O_CLOEXEC, 0644);
	if (fd < 0)
		return disk_err(err, errlen, -errno, "%s: %s", path, strerror(errno));
	buf = calloc(1, cs);
	if (!buf) {
		ret = disk_err(err, errlen, -ENOMEM, "out of memory");
		goto fail;
	}

	/* Header (qcow2.txt "Header"). */
	q2_put_be32(buf, QCOW2_MAGIC);
	q2_put_be32(buf + 4, 3);
	q2_put_be32(buf + 20, cbits);
	q2_put_be64(buf + 24, size);
	q2_put_be32(buf + 36, (uint32_t)l1_entries);
	q2_put_be64(buf + 40, (1 + rt_cl + rb_cl) * cs);
	q2_put_be64(buf + 48, cs);
	q2_put_be32(buf + 56, (uint32_t)rt_cl);
	q2_put_be32(buf + 96, 4);
	q2_put_be32(buf + 100, QCOW2_CREATE_HEADER_LEN);
	off = QCOW2_CREATE_HEADER_LEN;
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
	ret = q2_pwrite(fd, buf, cs, 0);
	if (ret)
		goto io_fail;

	/* Refcount table: entry i -> refcount block i. */
	memset(buf, 0, cs);
	for (uint64_t i = 0; i < rb_cl; i++) {
		q2_put_be64(buf + (i % (cs / 8)) * 8, (1 + rt_cl + i) * cs);
		if ((i + 1) % (cs / 8) == 0 || i + 1 == rb_cl) {
			ret = q2_pwrite(fd, buf, cs, (1 + i / (cs / 8)) * cs);
			if (ret)
				goto io_fail;
			memset(buf, 0, cs);
		}
	}
	/* Refcount blocks: clusters [0, total) have refcount 1. */
	for (uint64_t b = 0; b < rb_cl; b++) {
		memset(buf, 0, cs);
		for (uint64_t i = 0; i < rb_entries && b * rb_entries + i < total; i++)
			q2_rc_set(buf, 4, i, 1);
		ret = q2_pwrite(fd, buf, cs, (1 + rt_cl + b) * cs);
		if (ret)
			goto io_fail;
	}
	/* L1 table: all zeros, so extending the file is enough. */
	if (ftruncate(fd, (off_t)(total * cs)) < 0 || fdatasync(fd) < 0) {
		ret = -errno;
		goto io_fail;
	}
	free(buf);
	if (close(fd) < 0)
		return disk_err(err, errlen, -errno, "%s: %s", path, strerror(errno));
	return 0;
io_fail:
	disk_err(err, errlen, ret, "%s: write failed: %s", path, strerror(-ret));
fail:
	free(buf);
	close(fd);
	unlink(path);
	return ret;
}

/* ---- open / close ---- */

static void qcow2_close(struct disk *d)
{
	struct qcow2 *q = d->priv;

	ioe_drain(d->engine);
	if (!q->readonly) {
		/* Hand back the unused reservation, then make everything
		 * stable (a crash before this only leaks). */
		if (q2_unreserve(q))
			log_warn("%s: could not release reserved clusters (they leak)", d->path);
		if (fdatasync(q->fd) < 0)
			log_warn("%s: fdatasync on close: %s", d->path, strerror(errno));
	}
	if (d->backing) {
		disk_close(d->backing);
		d->backing = NULL;
	}
	q2_close_map(q);
	if (q->fd != q->data_fd)
		close(q->fd);
	close(q->data_fd);
	free(q);
	d->priv = NULL;
}

static const struct disk_ops qcow2_ops = {
	.submit = q2_submit,
	.close = qcow2_close,
};

/* The header cluster (up to `want` bytes) and its parse. */
static int read_header(struct qcow2 *q, uint64_t file_size, char *err, size_t errlen)
{
	size_t want = 4096;
	uint8_t *buf;
	int ret;

	for (;;) {
		size_t len = file_size < want ? (size_t)file_size : want;

		buf = malloc(want);
		if (!buf)
			return disk_err(err, errlen, -ENOMEM, "out of memory");
		ret = q2_pread(q->fd, buf, len, 0);
		if (ret == 0)
			ret = qcow2_header_parse(buf, len, file_size, &q->h, err, errlen);
		free(buf);
		if (ret == 0 && (1ULL << q->h.cluster_bits) > want && file_size > want) {
			/* extensions may reach past 4 KiB in bigger clusters */
			want = (size_t)1 << q->h.cluster_bits;
			continue;
		}
		return ret;
	}
}

int qcow2_open(struct disk *d, int fd, const struct disk_open_opts *o, unsigned int depth,
	       char *err, size_t errlen)
{
	struct qcow2 *q;
	struct stat st;
	char e[512];
	int ret, fl;

	q = calloc(1, sizeof(*q));
	if (!q) {
		close(fd);
		return disk_err(err, errlen, -ENOMEM, "%s: out of memory", d->path);
	}
	q->d = d;
	q->fd = q->data_fd = fd;
	q->readonly = d->readonly;
	d->priv = q;
	/* Metadata is read and written in pieces smaller than O_DIRECT
	 * allows: give it its own buffered descriptor of the same file. */
	fl = fcntl(fd, F_GETFL);
	q->data_cached = fl >= 0 && !(fl & O_DIRECT);
	if (fl >= 0 && (fl & O_DIRECT)) {
		char p[64];

		snprintf(p, sizeof(p), "/proc/self/fd/%d", fd);
		q->fd = open(p, (q->readonly ? O_RDONLY : O_RDWR) | O_CLOEXEC);
		if (q->fd < 0) {
			q->fd = fd;
			ret = disk_err(err, errlen, -errno, "%s: cannot reopen for metadata: %s",
				       d->path, strerror(errno));
			goto fail;
		}
	}
	if (fstat(q->fd, &st) < 0) {
		ret = disk_err(err, errlen, -errno, "%s: %s", d->path, strerror(errno));
		goto fail;
	}
	ret = read_header(q, (uint64_t)st.st_size, e, sizeof(e));
	if (ret) {
		disk_err(err, errlen, ret, "%s: %s", d->path, e);
		goto fail;
	}
	if (!q->readonly && (q->h.incompatible_features & QCOW2_INCOMPAT_CORRUPT)) {
		ret = disk_err(err, errlen, -EROFS,
			       "%s: image is marked corrupt; it can only be opened read-only "
			       "(repair it with `vmm-img check -r all`)",
			       d->path);
		goto fail;
	}
	if (!q->readonly && (q->h.incompatible_features & QCOW2_INCOMPAT_DIRTY)) {
		ret = disk_err(err, errlen, -EROFS,
			       "%s: image is dirty (lazy refcounts not written back); "
			       "run `vmm-img check -r all` first",
			       d->path);
		goto fail;
	}
	q->cluster_bits = q->h.cluster_bits;
	q->cluster_size = 1ULL << q->cluster_bits;
	q->l2_bits = q->cluster_bits - 3;
	q->l2_entries = 1ULL << q->l2_bits;
	ret = q2_open_map(q, err, errlen);
	if (ret)
		goto fail;
	q->zero_iov = (struct iovec){ q->zeros, q->cluster_size };

	if (!q->readonly && q->h.version >= 3 && q->h.autoclear_features) {
		/* qcow2.txt: an implementation may only write to an image with
		 * unknown auto-clear features if it clears them first. We keep
		 * none of them (bitmaps) up to date. */
		uint8_t z[8] = { 0 };

		ret = q2_pwrite(q->fd, z, 8, QCOW2_HDR_AUTOCLEAR_OFF);
		if (ret == 0 && fdatasync(q->fd) < 0)
			ret = -errno;
		if (ret) {
			disk_err(err, errlen, ret, "%s: cannot update the header: %s", d->path,
				 strerror(-ret));
			goto fail;
		}
		q->h.autoclear_features = 0;
	}

	if (q->h.backing_file[0]) {
		char *bp = q2_backing_path(d->path, q->h.backing_file);

		if (!bp) {
			ret = disk_err(err, errlen, -ENOMEM, "%s: out of memory", d->path);
			goto fail;
		}
		ret = disk_open_backing(bp, q->h.backing_format[0] ? q->h.backing_format : NULL,
					d->engine, depth + 1, &d->backing, e, sizeof(e));
		free(bp);
		if (ret) {
			disk_err(err, errlen, ret, "%s: backing file: %s", d->path, e);
			goto fail;
		}
	}
	(void)o;
	d->ops = &qcow2_ops;
	d->format = "qcow2";
	d->size = q->h.size;
	d->can_discard = true;
	return 0;
fail:
	q2_close_map(q);
	if (q->fd != q->data_fd)
		close(q->fd);
	close(q->data_fd);
	free(q);
	d->priv = NULL;
	return ret;
}
