/* SPDX-License-Identifier: MIT */
/*
 * qcow2 compressed clusters (qcow2.txt "Compressed Clusters Descriptor"),
 * as qemu-img convert -c and cloud images make them.
 *
 * - Reading: the descriptor names a byte offset and a count of 512-byte
 *   sectors; those bytes are read (synchronously, like an L2 table) and
 *   decompressed into one cluster, which is kept (ccache) because guests
 *   read a 64 KiB cluster in several smaller requests.
 * - Writing into a compressed cluster is a copy-on-write (qcow2_io.c): a new
 *   uncompressed cluster gets the decompressed data merged with the guest's,
 *   then its L2 entry. The old sectors' refcounts are dropped only after an
 *   fdatasync has made that L2 entry stable (q2_comp_release, at the next
 *   FLUSH or at close): a crash in between leaks, never frees what an L2
 *   entry on disk still points to. Nothing is reused while the image is open
 *   (allocation is append-only, qcow2_priv.h), so a read in flight never
 *   sees its sectors change.
 * - Compressed writes (vmm-img convert -c) pack the data of several
 *   clusters into host clusters, as QEMU does: a host cluster's refcount is
 *   the number of descriptors that touch it.
 */
#include <errno.h>
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <zlib.h>
#include <zstd.h>
#include <zstd_errors.h>

#include "devices/disk/qcow2_priv.h"

/* QEMU's parameters (block/qcow2-threads.c): raw deflate, 4 KiB window. */
#define Q2_ZLIB_WBITS (-12)

/* Decompression state kept between clusters: setting up an inflate stream
 * or a zstd context costs about as much as decompressing a small cluster. */
struct q2_codec {
	z_stream z;
	bool z_ready;
	ZSTD_DCtx *zd;
};

static void codec_free(struct q2_codec *c)
{
	if (c->z_ready)
		inflateEnd(&c->z);
	ZSTD_freeDCtx(c->zd);
	memset(c, 0, sizeof(*c));
}

static int zlib_decompress(struct q2_codec *c, const uint8_t *in, size_t inlen, uint8_t *out,
			   size_t outlen)
{
	z_stream *s = &c->z;
	int ret;

	if (inlen > UINT32_MAX || outlen > UINT32_MAX)
		return -EIO;
	if (c->z_ready)
		ret = inflateReset(s);
	else if ((ret = inflateInit2(s, Q2_ZLIB_WBITS)) == Z_OK)
		c->z_ready = true;
	if (ret != Z_OK)
		return -EIO;
	s->next_in = (Bytef *)(uintptr_t)in;
	s->avail_in = (uInt)inlen;
	s->next_out = out;
	s->avail_out = (uInt)outlen;
	ret = inflate(s, Z_FINISH);
	/* Z_BUF_ERROR with a full output: the stream goes on past one
	 * cluster, or the input ended in the padding; QEMU accepts both as
	 * long as the cluster is full. */
	return (ret == Z_STREAM_END || ret == Z_BUF_ERROR) && s->avail_out == 0 ? 0 : -EIO;
}

static int zstd_decompress(struct q2_codec *c, const uint8_t *in, size_t inlen, uint8_t *out,
			   size_t outlen)
{
	/* The first frame only: the sectors after it hold padding or the
	 * start of another cluster's data. */
	size_t flen = ZSTD_findFrameCompressedSize(in, inlen), n;

	if (ZSTD_isError(flen))
		return -EIO;
	if (!c->zd && !(c->zd = ZSTD_createDCtx()))
		return -ENOMEM;
	n = ZSTD_decompressDCtx(c->zd, out, outlen, in, flen);
	return !ZSTD_isError(n) && n == outlen ? 0 : -EIO;
}

static int codec_decompress(struct q2_codec *c, uint8_t type, const uint8_t *in, size_t inlen,
			    uint8_t *out, size_t outlen)
{
	switch (type) {
	case QCOW2_COMPRESSION_ZLIB:
		return zlib_decompress(c, in, inlen, out, outlen);
	case QCOW2_COMPRESSION_ZSTD:
		return zstd_decompress(c, in, inlen, out, outlen);
	default:
		return -EINVAL;
	}
}

int qcow2_decompress(uint8_t type, const uint8_t *in, size_t inlen, uint8_t *out, size_t outlen)
{
	struct q2_codec c = { 0 };
	int ret = codec_decompress(&c, type, in, inlen, out, outlen);

	codec_free(&c);
	return ret;
}

int qcow2_compress(uint8_t type, const uint8_t *in, size_t inlen, uint8_t *out, size_t outcap,
		   size_t *outlen)
{
	if (type == QCOW2_COMPRESSION_ZLIB) {
		z_stream s = { 0 };
		int ret;

		if (inlen > UINT32_MAX || outcap > UINT32_MAX ||
		    deflateInit2(&s, Z_DEFAULT_COMPRESSION, Z_DEFLATED, Q2_ZLIB_WBITS, 9,
				 Z_DEFAULT_STRATEGY) != Z_OK)
			return -ENOMEM;
		s.next_in = (Bytef *)(uintptr_t)in;
		s.avail_in = (uInt)inlen;
		s.next_out = out;
		s.avail_out = (uInt)outcap;
		ret = deflate(&s, Z_FINISH);
		*outlen = outcap - s.avail_out;
		deflateEnd(&s);
		return ret == Z_STREAM_END ? 0 : ret == Z_OK || ret == Z_BUF_ERROR ? -ENOSPC : -EIO;
	}
	if (type == QCOW2_COMPRESSION_ZSTD) {
		size_t n = ZSTD_compress(out, outcap, in, inlen, ZSTD_CLEVEL_DEFAULT);

		if (ZSTD_isError(n))
			return ZSTD_getErrorCode(n) == ZSTD_error_dstSize_tooSmall ? -ENOSPC : -EIO;
		*outlen = n;
		return 0;
	}
	return -EINVAL;
}

void q2_comp_range(uint64_t e, unsigned int cluster_bits, uint64_t *off, uint64_t *len)
{
	unsigned int x = 62 - (cluster_bits - 8);
	uint64_t nsect = ((e >> x) & ((1ULL << (cluster_bits - 8)) - 1)) + 1;

	*off = e & ((1ULL << x) - 1);
	*len = nsect * 512 - (*off & 511);
}

/* The compressed-cluster buffers, allocated on first use: cbuf (a
 * compressed cluster, read or made) and ccache (the last one inflated). */
static int comp_buffers(struct qcow2 *q)
{
	if (!q->cbuf)
		q->cbuf = malloc(2 * q->cluster_size);
	if (!q->ccache)
		q->ccache = malloc(q->cluster_size);
	return q->cbuf && q->ccache ? 0 : -ENOMEM;
}

int q2_comp_load(struct qcow2 *q, uint64_t e)
{
	uint64_t off, len, end;
	int ret;

	if (q->ccache_e == e && q->ccache_e)
		return 0;
	if (comp_buffers(q))
		return -ENOMEM;
	if (!q->codec && !(q->codec = calloc(1, sizeof(*q->codec))))
		return -ENOMEM;
	q2_comp_range(e, q->cluster_bits, &off, &len);
	/* Inside the image (nothing past the cursor is in use); the last
	 * sector may run past the end of the file, which reads as zeros. */
	if (__builtin_add_overflow(off, len, &end) || off < q->cluster_size ||
	    end > (q->cursor << q->cluster_bits) || len > 2 * q->cluster_size) {
		log_warn_ratelimited(&q->rl,
				     "%s: compressed cluster at 0x%" PRIx64 " (%" PRIu64
				     " bytes) lies outside the image",
				     q->d->path, off, len);
		return -EIO;
	}
	q->ccache_e = 0;
	ret = q2_pread(q->fd, q->cbuf, len, off);
	if (ret)
		return ret;
	ret = codec_decompress(q->codec, q->h.compression_type, q->cbuf, len, q->ccache,
			       q->cluster_size);
	if (ret) {
		log_warn_ratelimited(&q->rl,
				     "%s: compressed cluster at 0x%" PRIx64
				     " does not decompress to one cluster",
				     q->d->path, off);
		return -EIO;
	}
	q->ccache_e = e;
	return 0;
}

int q2_comp_free_later(struct qcow2 *q, uint64_t e)
{
	if (q->cfree_n == q->cfree_cap) {
		size_t cap = q->cfree_cap ? q->cfree_cap * 2 : 64;
		uint64_t *n = realloc(q->cfree, cap * sizeof(*n));

		if (!n)
			return -ENOMEM; /* the sectors leak: harmless */
		q->cfree = n;
		q->cfree_cap = cap;
	}
	q->cfree[q->cfree_n++] = e;
	if (q->ccache_e == e)
		q->ccache_e = 0;
	return 0;
}

int q2_comp_release(struct qcow2 *q, bool synced)
{
	uint64_t cs = q->cluster_size;
	int ret = 0;

	if (q->cfree_n == 0)
		return 0;
	if (!synced && fdatasync(q->fd) < 0)
		return -errno;
	for (size_t i = 0; i < q->cfree_n; i++) {
		uint64_t off, len;

		q2_comp_range(q->cfree[i], q->cluster_bits, &off, &len);
		/* What qcow2_free_any_cluster does: every host cluster the
		 * sectors touch loses one reference. */
		off &= ~(uint64_t)511;
		len = (len + 511) & ~(uint64_t)511;
		if (q2_rc_adjust(q, off / cs, (off + len - 1) / cs + 1, -1) && !ret)
			ret = -EIO;
	}
	q->cfree_n = 0;
	return ret;
}

void q2_comp_close(struct qcow2 *q)
{
	free(q->cbuf);
	free(q->ccache);
	free(q->cfree);
	if (q->codec)
		codec_free(q->codec);
	free(q->codec);
	q->codec = NULL;
	q->cbuf = q->ccache = NULL;
	q->cfree = NULL;
	q->cfree_n = q->cfree_cap = 0;
}

/* Host bytes for `clen` compressed bytes: packed after the previous
 * compressed cluster where they fit (or spill into the next host cluster,
 * if that is the next one reserved), else at the start of a fresh cluster.
 * The reservation gives a fresh cluster its first reference; a cluster
 * shared with earlier data gets one more. */
static int comp_alloc(struct qcow2 *q, size_t clen, uint64_t *out)
{
	uint64_t cs = q->cluster_size, off = q->cw_off, h2, in = off & (cs - 1);
	int64_t n;

	if (!off || !in) {
		n = q2_reserve(q, 1, &off);
		if (n < 0)
			return (int)n;
	} else if (in + clen > cs) {
		n = q2_reserve(q, 1, &h2);
		if (n < 0)
			return (int)n;
		if (h2 == off - in + cs) {
			if (q2_rc_adjust(q, off / cs, off / cs + 1, 1))
				return -EIO;
		} else {
			off = h2; /* not contiguous: the old cluster's tail stays unused */
		}
	} else if (q2_rc_adjust(q, off / cs, off / cs + 1, 1)) {
		return -EIO;
	}
	*out = off;
	return 0;
}

uint64_t qcow2_cluster_size(const struct disk *d)
{
	const struct qcow2 *q = d->priv;

	return strcmp(d->format, "qcow2") ? 0 : q->cluster_size;
}

int qcow2_compress_cluster(const struct disk *d, const void *in, size_t len, void *out,
			   size_t *clen)
{
	const struct qcow2 *q = d->priv;
	uint64_t cs = q->cluster_size;
	uint8_t *pad = NULL;
	const uint8_t *src = in;
	int ret;

	if (strcmp(d->format, "qcow2") || len == 0 || len > cs)
		return -EINVAL;
	if (len < cs) { /* the disk's last cluster: zero-padded */
		pad = calloc(1, cs);
		if (!pad)
			return -ENOMEM;
		memcpy(pad, in, len);
		src = pad;
	}
	/* At most cs - 1 bytes, like QEMU: a cluster that does not shrink is
	 * stored as it is. */
	ret = qcow2_compress(q->h.compression_type, src, cs, out, cs - 1, clen);
	if (ret == -ENOSPC) {
		memcpy(out, src, cs);
		*clen = 0;
		ret = 0;
	}
	free(pad);
	return ret;
}

int qcow2_write_compressed_buf(struct disk *d, uint64_t goff, const void *out, size_t clen)
{
	struct qcow2 *q = d->priv;
	uint64_t cs, gc, host, off = 0, nsect, e, len;
	enum q2_kind kind;
	int ret;

	if (strcmp(d->format, "qcow2") || d->readonly)
		return -EINVAL;
	cs = q->cluster_size;
	gc = goff >> q->cluster_bits;
	len = d->size - goff < cs ? d->size - goff : cs;
	if ((goff & (cs - 1)) || goff >= d->size || clen >= cs)
		return -EINVAL;
	ret = q2_lookup(q, gc, &kind, &host);
	if (ret)
		return ret;
	if (kind != Q2_UNALLOC && kind != Q2_ZERO)
		return -EEXIST;
	if (clen == 0) /* did not shrink: an ordinary cluster */
		return disk_pwrite(d, out, len, goff);
	ret = q2_ensure_l2(q, gc);
	if (ret == 0)
		ret = comp_alloc(q, clen, &off);
	if (ret)
		return ret;
	ret = q2_pwrite(q->fd, out, clen, off);
	if (ret)
		return ret;
	nsect = ((off + clen - 1) >> 9) - (off >> 9);
	e = QCOW2_OFLAG_COMPRESSED | off | (nsect << (62 - (q->cluster_bits - 8)));
	ret = q2_set_l2(q, gc, 1, e, 0);
	if (ret)
		return ret;
	q->cw_off = off + clen;
	return 0;
}

int qcow2_write_compressed(struct disk *d, uint64_t goff, const void *buf, size_t len)
{
	struct qcow2 *q = d->priv;
	size_t clen;
	int ret;

	if (strcmp(d->format, "qcow2") || d->readonly)
		return -EINVAL;
	if ((goff & (q->cluster_size - 1)) || len == 0 || len > q->cluster_size ||
	    (len < q->cluster_size && goff + len != d->size))
		return -EINVAL;
	if (comp_buffers(q))
		return -ENOMEM;
	ret = qcow2_compress_cluster(d, buf, len, q->cbuf, &clen);
	return ret ?: qcow2_write_compressed_buf(d, goff, q->cbuf, clen);
}
