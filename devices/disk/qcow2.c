/* SPDX-License-Identifier: MIT */
/*
 * qcow2: header parsing and validation, open and close (qcow2_create.c
 * makes new images).
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

#include "base/err.h"
#include "devices/disk/qcow2_priv.h"

int q2_pread(int fd, void *buf, size_t len, uint64_t off)
{
	return disk_file_pread(fd, buf, len, off);
}

int q2_pwrite(int fd, const void *buf, size_t len, uint64_t off)
{
	return disk_file_pwrite(fd, buf, len, off);
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
			return err_set(err, errlen, -EINVAL,
				       "header extension 0x%08x at %zu overruns the header cluster",
				       type, off);
		switch (type) {
		case QCOW2_EXT_BACKING_FMT:
			if (elen >= sizeof(h->backing_format))
				return err_set(err, errlen, -EINVAL,
					       "backing format name too long (%u bytes)", elen);
			memcpy(h->backing_format, buf + data, elen);
			h->backing_format[elen] = '\0';
			if (strlen(h->backing_format) != elen)
				return err_set(err, errlen, -EINVAL,
					       "backing format name contains a NUL byte");
			break;
		case QCOW2_EXT_FEATURE_TABLE:
			*ftbl = buf + data;
			*ftbl_len = elen;
			break;
		case QCOW2_EXT_CRYPTO:
			return err_set(err, errlen, -ENOTSUP,
				       "unsupported qcow2 feature: encryption");
		case QCOW2_EXT_DATA_FILE:
			return err_set(err, errlen, -ENOTSUP,
				       "unsupported qcow2 feature: external data file");
		default: /* bitmaps (autoclear bit 0) and unknown ones: ignored */
			break;
		}
		/* data is padded to a multiple of 8 */
		off = data + (((size_t)elen + 7) & ~(size_t)7);
	}
	if (off < end && off + 8 > end)
		return err_set(err, errlen, -EINVAL, "truncated header extension at %zu", off);
	return 0;
}

/* A table at `off` of `bytes` bytes must be cluster aligned, not overlap the
 * header cluster, and lie inside the file. */
static int check_table(const char *what, uint64_t off, uint64_t bytes, uint64_t csize,
		       uint64_t file_size, char *err, size_t errlen)
{
	uint64_t end;

	if (off == 0 || (off & (csize - 1)))
		return err_set(err, errlen, -EINVAL,
			       "%s offset 0x%" PRIx64 " is not cluster aligned", what, off);
	if (__builtin_add_overflow(off, bytes, &end) || end > file_size)
		return err_set(err, errlen, -EINVAL,
			       "%s (0x%" PRIx64 "+%" PRIu64
			       ") lies past the end of the file (%" PRIu64 " bytes)",
			       what, off, bytes, file_size);
	return 0;
}

/* The fixed header fields (qcow2.txt "Header"), version 2 or 3: `len`
 * bytes of buf, at least QCOW2_V2_HEADER_LEN, are valid. */
static int parse_fields(const uint8_t *buf, size_t len, struct qcow2_header *h, char *err,
			size_t errlen)
{
	if (q2_be32(buf) != QCOW2_MAGIC)
		return err_set(err, errlen, -EINVAL, "not a qcow2 image (bad magic)");
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
		return err_set(err, errlen, -ENOTSUP, "unsupported qcow2 version %u", h->version);
	if (h->version == 2) {
		h->refcount_order = 4;
		h->header_length = QCOW2_V2_HEADER_LEN;
		return 0;
	}
	if (len < QCOW2_V3_HEADER_LEN)
		return err_set(err, errlen, -EINVAL, "truncated version 3 header");
	h->incompatible_features = q2_be64(buf + 72);
	h->compatible_features = q2_be64(buf + 80);
	h->autoclear_features = q2_be64(buf + 88);
	h->refcount_order = q2_be32(buf + 96);
	h->header_length = q2_be32(buf + 100);
	if (h->header_length < QCOW2_V3_HEADER_LEN || (h->header_length & 7))
		return err_set(err, errlen, -EINVAL, "invalid header_length %u", h->header_length);
	if (h->header_length > len)
		return err_set(err, errlen, -EINVAL,
			       "header_length %u exceeds the %zu bytes available", h->header_length,
			       len);
	if (h->header_length > 104)
		h->compression_type = buf[104];
	return 0;
}

/* Cluster size, header length and refcount width within the format's limits. */
static int check_geometry(const struct qcow2_header *h, char *err, size_t errlen)
{
	if (h->cluster_bits < QCOW2_MIN_CLUSTER_BITS || h->cluster_bits > QCOW2_MAX_CLUSTER_BITS)
		return err_set(err, errlen, -EINVAL, "cluster_bits %u out of range (%u..%u)",
			       h->cluster_bits, QCOW2_MIN_CLUSTER_BITS, QCOW2_MAX_CLUSTER_BITS);
	if (h->header_length > (1ULL << h->cluster_bits))
		return err_set(err, errlen, -EINVAL, "header_length %u exceeds the cluster size",
			       h->header_length);
	if (h->refcount_order > 6)
		return err_set(err, errlen, -EINVAL, "refcount_order %u out of range (0..6)",
			       h->refcount_order);
	return 0;
}

/* Feature bits and header fields that name a feature: refuse what we do not
 * implement. The feature name table (from the extensions) names unknown
 * incompatible bits. */
static int check_features(const struct qcow2_header *h, const uint8_t *ftbl, uint32_t ftbl_len,
			  char *err, size_t errlen)
{
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
		return err_set(err, errlen, -ENOTSUP,
			       "unsupported qcow2 feature: external data file");
	if (h->incompatible_features & QCOW2_INCOMPAT_EXTL2)
		return err_set(err, errlen, -ENOTSUP,
			       "unsupported qcow2 feature: extended L2 entries (subclusters)");
	if (h->incompatible_features & QCOW2_INCOMPAT_COMPRESSION) {
		if (h->compression_type == QCOW2_COMPRESSION_ZLIB)
			return err_set(err, errlen, -EINVAL,
				       "compression type bit set but compression_type is 0");
		if (h->compression_type != QCOW2_COMPRESSION_ZSTD)
			return err_set(err, errlen, -ENOTSUP,
				       "unsupported qcow2 feature: compression type %u",
				       h->compression_type);
	} else if (h->compression_type != QCOW2_COMPRESSION_ZLIB)
		return err_set(err, errlen, -EINVAL,
			       "compression_type %u without the compression type bit",
			       h->compression_type);
	if (h->crypt_method != 0)
		return err_set(err, errlen, -ENOTSUP, "unsupported qcow2 feature: encryption (%s)",
			       h->crypt_method == 1   ? "AES"
			       : h->crypt_method == 2 ? "LUKS"
						      : "unknown method");
	if (h->nb_snapshots != 0)
		return err_set(err, errlen, -ENOTSUP,
			       "unsupported qcow2 feature: internal snapshots (%u)",
			       h->nb_snapshots);
	return 0;
}

/* The virtual size, and the L1 and refcount tables against it, the format's
 * limits and the file. */
static int check_tables(const struct qcow2_header *h, uint64_t file_size, char *err, size_t errlen)
{
	uint64_t csize = 1ULL << h->cluster_bits, l2_entries = csize / 8, l1_need;
	int ret;

	if (h->size % DISK_SECTOR_SIZE)
		return err_set(err, errlen, -EINVAL,
			       "virtual size %" PRIu64 " is not a multiple of 512", h->size);
	if (h->size > (1ULL << 56))
		return err_set(err, errlen, -EINVAL, "virtual size %" PRIu64 " too large", h->size);
	l1_need = (h->size + csize * l2_entries - 1) / (csize * l2_entries);
	if ((uint64_t)h->l1_size * 8 > QCOW2_MAX_L1_BYTES)
		return err_set(err, errlen, -EINVAL, "L1 table too large (%u entries)", h->l1_size);
	if (h->l1_size < l1_need)
		return err_set(
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
		return err_set(err, errlen, -EINVAL, "refcount table size %u clusters out of range",
			       h->refcount_table_clusters);
	return check_table("refcount table", h->refcount_table_offset,
			   (uint64_t)h->refcount_table_clusters * csize, csize, file_size, err,
			   errlen);
}

/* The backing file name: inside the first cluster (and the `len` bytes we
 * were given), no NUL inside. */
static int parse_backing_name(const uint8_t *buf, size_t len, struct qcow2_header *h, char *err,
			      size_t errlen)
{
	uint64_t end;

	if (h->backing_file_offset == 0) {
		/* harmless: QEMU ignores a format without a file */
		h->backing_format[0] = '\0';
		return 0;
	}
	if (h->backing_file_size == 0 || h->backing_file_size > 1023)
		return err_set(err, errlen, -EINVAL, "backing file name length %u invalid",
			       h->backing_file_size);
	if (__builtin_add_overflow(h->backing_file_offset, h->backing_file_size, &end) ||
	    end > (1ULL << h->cluster_bits) || end > len)
		return err_set(err, errlen, -EINVAL,
			       "backing file name (at %" PRIu64 ", %u bytes) outside the header",
			       h->backing_file_offset, h->backing_file_size);
	memcpy(h->backing_file, buf + h->backing_file_offset, h->backing_file_size);
	h->backing_file[h->backing_file_size] = '\0';
	if (strlen(h->backing_file) != h->backing_file_size)
		return err_set(err, errlen, -EINVAL, "backing file name contains a NUL byte");
	return 0;
}

int qcow2_header_parse(const uint8_t *buf, size_t len, uint64_t file_size, struct qcow2_header *h,
		       char *err, size_t errlen)
{
	const uint8_t *ftbl = NULL;
	uint32_t ftbl_len = 0;
	uint64_t csize;
	int ret;

	memset(h, 0, sizeof(*h));
	if (len < QCOW2_V2_HEADER_LEN || file_size < QCOW2_V2_HEADER_LEN)
		return err_set(err, errlen, -EINVAL,
			       "file too short for a qcow2 header (%zu bytes)",
			       len < file_size ? len : (size_t)file_size);
	if (len > file_size)
		len = (size_t)file_size;
	ret = parse_fields(buf, len, h, err, errlen);
	if (ret)
		return ret;
	ret = check_geometry(h, err, errlen);
	if (ret)
		return ret;
	/* Extensions first: the feature name table names unknown bits. */
	csize = 1ULL << h->cluster_bits;
	ret = parse_extensions(buf, h->header_length, (size_t)(csize < len ? csize : len), h, &ftbl,
			       &ftbl_len, err, errlen);
	if (ret)
		return ret;
	ret = check_features(h, ftbl, ftbl_len, err, errlen);
	if (ret)
		return ret;
	ret = check_tables(h, file_size, err, errlen);
	if (ret)
		return ret;
	return parse_backing_name(buf, len, h, err, errlen);
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
		/* Sectors of compressed clusters rewritten since the last
		 * flush: their new L2 entries are stable now. */
		else if (q->cfree_n && (q2_comp_release(q, true) || fdatasync(q->fd) < 0))
			log_warn("%s: could not release old compressed clusters (they leak)",
				 d->path);
	}
	if (d->backing) {
		disk_close(d->backing);
		d->backing = NULL;
	}
	q2_close_map(q);
	q2_comp_close(q);
	if (q->fd != q->data_fd)
		close(q->fd);
	close(q->data_fd);
	free(q);
	d->priv = NULL;
}

static const struct disk_ops qcow2_ops = {
	.submit = q2_submit,
	.block_status = q2_block_status,
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
			return err_set(err, errlen, -ENOMEM, "out of memory");
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

/* Metadata is read and written in pieces smaller than O_DIRECT allows: give
 * it its own buffered descriptor of the same file. */
static int open_meta_fd(struct qcow2 *q, int fd, char *err, size_t errlen)
{
	int fl = fcntl(fd, F_GETFL);

	q->data_cached = fl >= 0 && !(fl & O_DIRECT);
	if (fl < 0 || !(fl & O_DIRECT))
		return 0;
	q->fd = disk_reopen_fd(fd, q->readonly ? O_RDONLY : O_RDWR);
	if (q->fd < 0) {
		q->fd = fd;
		return err_set(err, errlen, -errno, "%s: cannot reopen for metadata: %s",
			       q->d->path, strerror(errno));
	}
	return 0;
}

/* An image marked corrupt or dirty may only be opened read-only. */
static int check_writable(const struct qcow2 *q, char *err, size_t errlen)
{
	if (q->readonly)
		return 0;
	if (q->h.incompatible_features & QCOW2_INCOMPAT_CORRUPT)
		return err_set(err, errlen, -EROFS,
			       "%s: image is marked corrupt; it can only be opened read-only "
			       "(repair it with `vmm-img check -r all`)",
			       q->d->path);
	if (q->h.incompatible_features & QCOW2_INCOMPAT_DIRTY)
		return err_set(err, errlen, -EROFS,
			       "%s: image is dirty (lazy refcounts not written back); "
			       "run `vmm-img check -r all` first",
			       q->d->path);
	return 0;
}

/* qcow2.txt: an implementation may only write to an image with unknown
 * auto-clear features if it clears them first. We keep none of them
 * (bitmaps) up to date. */
static int clear_autoclear(struct qcow2 *q, char *err, size_t errlen)
{
	uint8_t z[8] = { 0 };
	int ret;

	if (q->readonly || q->h.version < 3 || !q->h.autoclear_features)
		return 0;
	ret = q2_pwrite(q->fd, z, 8, QCOW2_HDR_AUTOCLEAR_OFF);
	if (ret == 0 && fdatasync(q->fd) < 0)
		ret = -errno;
	if (ret)
		return err_set(err, errlen, ret, "%s: cannot update the header: %s", q->d->path,
			       strerror(-ret));
	q->h.autoclear_features = 0;
	return 0;
}

/* The backing file named in the header, opened through disk.c (which probes
 * or checks its format and limits the chain's depth). */
static int open_backing(struct qcow2 *q, unsigned int depth, char *err, size_t errlen)
{
	struct disk *d = q->d;
	char e[512], *bp;
	int ret;

	if (!q->h.backing_file[0])
		return 0;
	bp = disk_resolve_path(d->path, q->h.backing_file);
	if (!bp)
		return err_set(err, errlen, -ENOMEM, "%s: out of memory", d->path);
	ret = disk_open_backing(bp, q->h.backing_format[0] ? q->h.backing_format : NULL, d->engine,
				depth + 1, &d->backing, e, sizeof(e));
	free(bp);
	if (ret)
		return err_set(err, errlen, ret, "%s: backing file: %s", d->path, e);
	return 0;
}

int qcow2_open(struct disk *d, int fd, const struct disk_open_opts *o, unsigned int depth,
	       char *err, size_t errlen)
{
	struct qcow2 *q;
	struct stat st;
	char e[512];
	int ret;

	q = calloc(1, sizeof(*q));
	if (!q) {
		close(fd);
		return err_set(err, errlen, -ENOMEM, "%s: out of memory", d->path);
	}
	q->d = d;
	q->fd = q->data_fd = fd;
	q->readonly = d->readonly;
	d->priv = q;
	ret = open_meta_fd(q, fd, err, errlen);
	if (ret)
		goto fail;
	if (fstat(q->fd, &st) < 0) {
		ret = err_set(err, errlen, -errno, "%s: %s", d->path, strerror(errno));
		goto fail;
	}
	ret = read_header(q, (uint64_t)st.st_size, e, sizeof(e));
	if (ret) {
		err_set(err, errlen, ret, "%s: %s", d->path, e);
		goto fail;
	}
	ret = check_writable(q, err, errlen);
	if (ret)
		goto fail;
	q->cluster_bits = q->h.cluster_bits;
	q->cluster_size = 1ULL << q->cluster_bits;
	q->l2_bits = q->cluster_bits - 3;
	q->l2_entries = 1ULL << q->l2_bits;
	ret = q2_open_map(q, err, errlen);
	if (ret)
		goto fail;
	q->zero_iov = (struct iovec){ q->zeros, q->cluster_size };
	ret = clear_autoclear(q, err, errlen);
	if (ret == 0 && !o->no_backing)
		ret = open_backing(q, depth, err, errlen);
	if (ret)
		goto fail;
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
