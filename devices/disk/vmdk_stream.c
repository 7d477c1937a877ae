/* SPDX-License-Identifier: MIT */
/*
 * Writing streamOptimized VMDK images once, in order (vmm-img convert -O
 * vmdk -o subformat=streamOptimized; vmdk.h). The layout is qemu-img's
 * (block/vmdk.c): a version 3 header with the compressed and marker flags
 * and the grain directory in the header (not at the end), the embedded
 * descriptor, both copies of the directory and its tables preallocated,
 * then every grain that is not all zeros as a 12-byte marker (its guest
 * sector, the compressed length) and a zlib stream, padded to a sector. At
 * the end, as the VMDK specification's stream has it, a footer marker, a
 * copy of the header and the end-of-stream marker (qemu-img 7.2 writes
 * none: readers take the directory from the header either way).
 *
 * The grain tables are kept in memory (4 bytes per grain) and written once
 * at the end: until vmdk_stream_close the image reads as empty. The open
 * driver keeps such images read-only (vmdk.c): a grain written in place
 * could not grow.
 */
#include <endian.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <zlib.h>

#include "base/err.h"
#include "base/zero.h"
#include "devices/disk/vmdk_priv.h"

#define MARKER_FOOTER 3U

struct vmdk_stream {
	int fd;
	char *path;
	struct vmdk_header h;
	uint64_t grain;	    /* bytes */
	uint64_t grains;    /* in the capacity */
	uint64_t next;	    /* where the next grain goes, bytes */
	uint64_t next_g;    /* grains before it have been written or skipped */
	uint32_t *gt;	    /* every table entry, host order, grains long */
	uint64_t gt_n;	    /* tables */
	uint32_t *gd, *rgd; /* sectors of each table, host order */
	uint8_t *pad;	    /* one grain: a partial last grain */
	uint8_t *cbuf;	    /* marker + compressed grain + padding */
	uLong cbound;	    /* compressBound(grain) */
};

int vmdk_stream_tail(int fd, const struct vmdk_header *h, uint64_t at)
{
	uint8_t s[3 * 512] = { 0 };
	uint32_t type = htole32(MARKER_FOOTER);
	uint64_t one = htole64(1);
	int ret;

	/* footer marker (one sector of footer follows), the footer, and the
	 * end-of-stream marker (a sector of zeros) */
	memcpy(s, &one, 8);
	memcpy(s + 12, &type, 4);
	vmdk_header_encode(h, s + 512);
	ret = disk_file_pwrite(fd, s, sizeof(s), at);
	if (!ret && ftruncate(fd, (off_t)(at + sizeof(s))) < 0)
		ret = -errno;
	return ret;
}

static void stream_free(struct vmdk_stream *s)
{
	if (s->fd >= 0)
		close(s->fd);
	free(s->path);
	free(s->gt);
	free(s->gd);
	free(s->rgd);
	free(s->pad);
	free(s->cbuf);
	free(s);
}

/* A grain directory of s->gt_n entries at `sector`. */
static int read_dir(struct vmdk_stream *s, uint64_t sector, uint32_t **out)
{
	uint32_t *d = malloc(s->gt_n * 4);

	if (!d)
		return -ENOMEM;
	*out = d;
	if (disk_file_pread(s->fd, d, s->gt_n * 4, sector * 512))
		return -EIO;
	for (uint64_t i = 0; i < s->gt_n; i++)
		d[i] = le32toh(d[i]);
	return 0;
}

/* The header must be a stream image's and its tables empty and inside the
 * metadata: 0, or an error in msg. */
static int stream_load(struct vmdk_stream *s, uint64_t fsize, char *msg, size_t mlen)
{
	uint8_t hdr[512];
	uint64_t tbytes;
	int ret;

	if (disk_file_pread(s->fd, hdr, sizeof(hdr), 0))
		return err_set(msg, mlen, -EIO, "cannot read the header");
	ret = vmdk_header_parse(hdr, sizeof(hdr), fsize, &s->h, msg, mlen);
	if (ret)
		return ret;
	if (!(s->h.flags & VMDK_FLAG_COMPRESS) || !(s->h.flags & VMDK_FLAG_MARKER) ||
	    !(s->h.flags & VMDK_FLAG_RGD) || s->h.gd_offset == VMDK_GD_AT_END)
		return err_set(msg, mlen, -EINVAL, "not an empty streamOptimized image");
	s->grain = s->h.grain_size * 512;
	s->grains = (s->h.capacity + s->h.grain_size - 1) / s->h.grain_size;
	s->gt_n = vmdk_gd_entries(&s->h);
	tbytes = (uint64_t)s->h.num_gtes_per_gt * 4;
	if (read_dir(s, s->h.gd_offset, &s->gd) || read_dir(s, s->h.rgd_offset, &s->rgd))
		return err_set(msg, mlen, -EIO, "cannot read the grain directory");
	/* Each copy's tables one after the other inside the metadata (as
	 * create lays them out): together no larger than the file, so neither
	 * is the copy kept in memory. */
	for (uint64_t t = 0, gend = 512, rend = 512; t < s->gt_n; t++) {
		uint64_t g = (uint64_t)s->gd[t] * 512, r = (uint64_t)s->rgd[t] * 512;

		if (g < gend || r < rend || g + tbytes > s->h.overhead * 512 ||
		    r + tbytes > s->h.overhead * 512)
			return err_set(msg, mlen, -EINVAL,
				       "grain table %llu overlaps another or lies outside the "
				       "metadata",
				       (unsigned long long)t);
		gend = g + tbytes;
		rend = r + tbytes;
	}
	s->gt = calloc(s->gt_n, tbytes);
	if (!s->gt)
		return err_set(msg, mlen, -ENOMEM, "out of memory");
	for (uint64_t t = 0; t < s->gt_n; t++) {
		uint32_t *gt = s->gt + t * s->h.num_gtes_per_gt;

		if (disk_file_pread(s->fd, gt, tbytes, (uint64_t)s->gd[t] * 512))
			return err_set(msg, mlen, -EIO, "cannot read grain table %llu",
				       (unsigned long long)t);
		for (uint32_t i = 0; i < s->h.num_gtes_per_gt; i++)
			if (gt[i])
				return err_set(msg, mlen, -EEXIST,
					       "it holds data already (a stream is written once)");
	}
	s->cbound = compressBound((uLong)s->grain);
	s->pad = malloc(s->grain);
	s->cbuf = malloc(12 + s->cbound + 512);
	if (!s->pad || !s->cbuf)
		return err_set(msg, mlen, -ENOMEM, "out of memory");
	s->next = s->h.overhead * 512;
	return 0;
}

int vmdk_stream_open(const char *path, struct vmdk_stream **out, char *err, size_t errlen)
{
	struct vmdk_stream *s = calloc(1, sizeof(*s));
	struct stat st;
	char msg[256];
	int ret;

	if (!s)
		return err_set(err, errlen, -ENOMEM, "%s: out of memory", path);
	s->path = strdup(path);
	s->fd = open(path, O_RDWR | O_CLOEXEC | O_NOCTTY);
	if (!s->path || s->fd < 0) {
		ret = err_set(err, errlen, s->path ? -errno : -ENOMEM, "%s: %s", path,
			      strerror(s->path ? errno : ENOMEM));
		stream_free(s);
		return ret;
	}
	if (fstat(s->fd, &st) < 0 || !S_ISREG(st.st_mode))
		ret = err_set(msg, sizeof(msg), -EINVAL, "not a regular file");
	else
		ret = stream_load(s, (uint64_t)st.st_size, msg, sizeof(msg));
	if (ret) {
		err_set(err, errlen, ret, "%s: %s", path, msg);
		stream_free(s);
		return ret;
	}
	*out = s;
	return 0;
}

uint64_t vmdk_stream_grain(const struct vmdk_stream *s)
{
	return s->grain;
}

/* Grain g (n bytes of it at buf, the rest zeros): compressed and appended. */
static int put_grain(struct vmdk_stream *s, uint64_t g, const uint8_t *buf, uint64_t n)
{
	uLongf clen = s->cbound;
	uint64_t lba = htole64(g * s->h.grain_size), end;
	uint32_t size;
	int ret;

	if (buf_is_zero(buf, n))
		return 0; /* stays unallocated: reads as zeros */
	if (n < s->grain) {
		memcpy(s->pad, buf, n);
		memset(s->pad + n, 0, s->grain - n);
		buf = s->pad;
	}
	if (compress(s->cbuf + 12, &clen, buf, (uLong)s->grain) != Z_OK)
		return -EIO;
	size = htole32((uint32_t)clen);
	memcpy(s->cbuf, &lba, 8);
	memcpy(s->cbuf + 8, &size, 4);
	end = (s->next + 12 + clen + 511) / 512 * 512;
	if (end / 512 > UINT32_MAX)
		return -EFBIG; /* grain table entries are 32-bit sectors */
	/* zeros up to the next sector (not what create's footer left there) */
	memset(s->cbuf + 12 + clen, 0, end - s->next - 12 - clen);
	ret = disk_file_pwrite(s->fd, s->cbuf, end - s->next, s->next);
	if (ret)
		return ret;
	s->gt[g] = (uint32_t)(s->next / 512);
	s->next = end;
	return 0;
}

int vmdk_stream_write(struct vmdk_stream *s, uint64_t off, const void *buf, size_t len)
{
	const uint8_t *p = buf;
	uint64_t size = s->h.capacity * 512;
	int ret;

	/* Whole grains in increasing order; only the disk's last may be short. */
	if (off % s->grain || off / s->grain < s->next_g || off > size || len > size - off ||
	    (len % s->grain && off + len != size))
		return -EINVAL;
	for (uint64_t done = 0; done < len; done += s->grain) {
		uint64_t n = len - done < s->grain ? len - done : s->grain;

		ret = put_grain(s, (off + done) / s->grain, p + done, n);
		if (ret)
			return ret;
	}
	s->next_g = (off + len + s->grain - 1) / s->grain;
	return 0;
}

/* Both copies of every grain table, then the footer, then stable. */
static int stream_finish(struct vmdk_stream *s)
{
	uint64_t tn = s->h.num_gtes_per_gt;
	uint32_t *le = malloc(tn * 4);
	int ret = 0;

	if (!le)
		return -ENOMEM;
	for (uint64_t t = 0; t < s->gt_n && !ret; t++) {
		for (uint64_t i = 0; i < tn; i++)
			le[i] = htole32(s->gt[t * tn + i]);
		ret = disk_file_pwrite(s->fd, le, tn * 4, (uint64_t)s->rgd[t] * 512);
		if (!ret)
			ret = disk_file_pwrite(s->fd, le, tn * 4, (uint64_t)s->gd[t] * 512);
	}
	free(le);
	if (!ret)
		ret = vmdk_stream_tail(s->fd, &s->h, s->next);
	if (!ret && fsync(s->fd) < 0)
		ret = -errno;
	return ret;
}

int vmdk_stream_close(struct vmdk_stream *s, bool commit, char *err, size_t errlen)
{
	int ret = commit ? stream_finish(s) : 0;

	if (ret)
		err_set(err, errlen, ret, "%s: %s", s->path, strerror(-ret));
	stream_free(s);
	return ret;
}
