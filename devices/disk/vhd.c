/* SPDX-License-Identifier: MIT */
/*
 * The VHD driver (vhd.h): open, the block map and its allocation, info.
 * Requests go through the shared block-map path (bmap.h), which also
 * documents the crash-safety order of an allocation.
 *
 * Sector bitmaps: QEMU ignores them in dynamic images and sets every bit
 * of a block it allocates (block/vpc.c get_image_offset), so a dynamic
 * block reads entirely from the file; we do the same. In a differencing
 * image a clear bit means "the parent's sector": reads consult the bitmap,
 * and a write sets its bits only after its data is written (written()).
 */
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "devices/disk/bmap.h"
#include "devices/disk/vhd.h"
#include "base/err.h"

#define VHD_MAX_BAT_BYTES (256U << 20) /* a 2040 GiB disk in 32 KiB blocks */
#define VHD_MAX_LOCATOR	  4096U	       /* bytes of one parent locator we read */

struct vhd {
	struct bmap bm; /* first: d->priv is both */
	struct vhd_footer f;
	uint8_t footer[VHD_FOOTER_LEN]; /* as on disk, rewritten at the end */
	struct vhd_dyn h;
	uint32_t *bat; /* host byte order; n_bat entries */
	uint64_t n_bat;
	uint64_t next_free; /* where the next block goes (the footer is there) */
	uint8_t *bitmap;    /* scratch: one block's sector bitmap */
	/* Differencing: blocks whose bitmap is known to be all set (every
	 * sector ours), so that reads and writes there skip the bitmap. */
	uint8_t *full; /* one bit per BAT entry */
	bool diff;
	char parent[1024]; /* the parent's name as the locator gave it */
};

static int bit_get(const uint8_t *bm, uint64_t i)
{
	return (bm[i >> 3] >> (7 - (i & 7))) & 1; /* sector 0 is the MSB */
}

/*
 * Where data lands in the file. A block is its sector bitmap (512 bytes for
 * the usual 2 MiB block) then its data, so a block placed right after the
 * previous one (as QEMU does) has its data 512 bytes past a 4 KiB boundary:
 * every 4 KiB guest read then spans two page-cache pages and two file-system
 * blocks (measured: ~10% more CPU per buffered 4 KiB read, bench/
 * disk_formats.py). New blocks are placed so that their data starts on a
 * 4 KiB boundary; the gap before the bitmap (under 4 KiB) belongs to no
 * block, which the format allows (BAT entries are any sector number) and
 * QEMU reads as it reads any other layout.
 */
#define VHD_DATA_ALIGN 4096U

/* Does v->bitmap (a whole one) say every sector of the block is ours? */
static bool bitmap_full(const struct vhd *v)
{
	uint64_t spb = v->h.block_size / 512;

	for (uint64_t i = 0; i < spb / 8; i++)
		if (v->bitmap[i] != 0xff)
			return false;
	for (uint64_t s = spb & ~7ULL; s < spb; s++)
		if (!bit_get(v->bitmap, s))
			return false;
	return true;
}

/* v->full: is block idx known to be all ours; mark it so when the whole
 * bitmap now in v->bitmap says it is. */
static bool block_full(const struct vhd *v, uint64_t idx)
{
	return v->full[idx / 8] & (1U << (idx % 8));
}

static void mark_if_full(struct vhd *v, uint64_t idx)
{
	if (bitmap_full(v))
		v->full[idx / 8] |= (uint8_t)(1U << (idx % 8));
}

/* Allocate block idx (bmap.h: extend, fdatasync, then the BAT entry). */
static int vhd_alloc(struct vhd *v, uint64_t idx)
{
	uint64_t bm = v->h.bitmap_size;
	uint64_t blk =
		((v->next_free + bm + VHD_DATA_ALIGN - 1) & ~(uint64_t)(VHD_DATA_ALIGN - 1)) - bm;
	uint64_t end = blk + bm + v->h.block_size, pad = blk - v->next_free;
	uint8_t *buf;
	uint32_t be;
	int ret;

	if (end / 512 > UINT32_MAX)
		return -EFBIG;
	buf = calloc(1, pad + bm);
	if (!buf)
		return -ENOMEM;
	/* The footer moves to the new end first, so the file always ends
	 * with one; then the gap's zeros and the bitmap overwrite the old
	 * footer. Dynamic blocks are all "present" (QEMU); differencing ones
	 * all parent's. */
	ret = disk_file_pwrite(v->bm.fd, v->footer, VHD_FOOTER_LEN, end);
	if (ret == 0) {
		memset(buf + pad, v->diff ? 0 : 0xff, bm);
		ret = disk_file_pwrite(v->bm.fd, buf, pad + bm, v->next_free);
	}
	free(buf);
	if (ret == 0 && disk_barrier(v->bm.d, v->bm.fd) < 0)
		ret = -errno;
	if (ret == 0) {
		be = htobe32((uint32_t)(blk / 512));
		ret = disk_file_pwrite(v->bm.fd, &be, 4, v->h.table_offset + idx * 4);
	}
	if (ret)
		return ret;
	v->bat[idx] = (uint32_t)(blk / 512);
	v->next_free = end;
	return 0;
}

/*
 * A differencing image consults a block's bitmap on every read and sets
 * bits after every write: one pread (and a pwrite) of the buffered metadata
 * fd per request. Bitmaps up to this size are read whole (the cost is the
 * system call, not the bytes), so that a block found with every bit set is
 * remembered in v->full and its requests skip the bitmap from then on --
 * a guest that has rewritten a block pays nothing more for it.
 */
#define VHD_BITMAP_WHOLE 4096U

/* Bring into v->bitmap at least the bits of sectors [first, last) of the
 * block at base; the whole bitmap if it is small, marking the block full
 * when it is. */
static int bitmap_read(struct vhd *v, uint64_t idx, uint64_t base, uint64_t first, uint64_t last)
{
	uint64_t lo = first / 8, hi = (last - 1) / 8 + 1;
	int ret;

	if (v->h.bitmap_size <= VHD_BITMAP_WHOLE) {
		lo = 0;
		hi = v->h.bitmap_size;
	}
	ret = disk_file_pread(v->bm.fd, v->bitmap + lo, hi - lo, base + lo);
	if (ret == 0 && hi - lo == v->h.bitmap_size)
		mark_if_full(v, idx);
	return ret;
}

static int vhd_map(void *fmt, uint64_t off, uint64_t len, bool write, enum bmap_kind *kind,
		   uint64_t *host, uint64_t *n)
{
	struct vhd *v = fmt;
	uint64_t bs, idx, in, first, last, s, base;
	int ret, bit;

	if (v->f.type == VHD_TYPE_FIXED) {
		*kind = BMAP_DATA;
		*host = off;
		*n = len;
		return 0;
	}
	bs = v->h.block_size;
	idx = off / bs;
	in = off % bs;
	*n = len < bs - in ? len : bs - in;
	if (idx >= v->n_bat)
		return -EIO;
	if (v->bat[idx] == VHD_BAT_FREE) {
		if (!write) {
			*kind = v->diff ? BMAP_PARENT : BMAP_ZERO;
			return 0;
		}
		ret = vhd_alloc(v, idx);
		if (ret)
			return ret;
	}
	base = (uint64_t)v->bat[idx] * 512;
	*kind = BMAP_DATA;
	*host = base + v->h.bitmap_size + in;
	if (!v->diff || write)
		return 0;
	/* Differencing read: the run of sectors with the first one's bit. */
	if (block_full(v, idx))
		return 0;
	first = in / 512;
	last = (in + *n) / 512;
	ret = bitmap_read(v, idx, base, first, last);
	if (ret)
		return ret;
	bit = bit_get(v->bitmap, first);
	for (s = first + 1; s < last && bit_get(v->bitmap, s) == bit; s++)
		;
	*n = (s - first) * 512;
	if (!bit)
		*kind = BMAP_PARENT;
	return 0;
}

/* Differencing images: the written sectors are ours now. */
static int vhd_written(void *fmt, uint64_t off, uint64_t len)
{
	struct vhd *v = fmt;
	uint64_t bs = v->h.block_size;

	while (len > 0) {
		uint64_t idx = off / bs, in = off % bs, n = len < bs - in ? len : bs - in;
		uint64_t first = in / 512, last = (in + n) / 512, base, lo, hi;
		bool change = false;
		int ret;

		if (idx >= v->n_bat || v->bat[idx] == VHD_BAT_FREE)
			return -EIO;
		off += n;
		len -= n;
		if (block_full(v, idx))
			continue;
		base = (uint64_t)v->bat[idx] * 512;
		ret = bitmap_read(v, idx, base, first, last);
		if (ret)
			return ret;
		for (uint64_t s = first; s < last; s++) {
			change |= !bit_get(v->bitmap, s);
			v->bitmap[s >> 3] |= (uint8_t)(0x80 >> (s & 7));
		}
		lo = first / 8;
		hi = (last - 1) / 8 + 1;
		if (change) {
			ret = disk_file_pwrite(v->bm.fd, v->bitmap + lo, hi - lo, base + lo);
			if (ret)
				return ret;
		}
		/* Full now? Only a whole bitmap in v->bitmap can say. */
		if (v->h.bitmap_size <= VHD_BITMAP_WHOLE)
			mark_if_full(v, idx);
	}
	return 0;
}

static const struct bmap_ops vhd_bmap_ops = {
	.map = vhd_map,
};

static const struct bmap_ops vhd_diff_ops = {
	.map = vhd_map,
	.written = vhd_written,
};

static int vhd_submit(struct disk *d, struct disk_req *req)
{
	struct vhd *v = d->priv;

	return bmap_submit(&v->bm, req);
}

static void vhd_free(struct vhd *v)
{
	free(v->bat);
	free(v->bitmap);
	free(v->full);
	free(v);
}

static void vhd_close(struct disk *d)
{
	struct vhd *v = d->priv;

	bmap_close(&v->bm);
	vhd_free(v);
	d->priv = NULL;
}

static const struct disk_ops vhd_ops = {
	.submit = vhd_submit,
	.block_status = bmap_block_status,
	.close = vhd_close,
};

/* The footer: at 0 for dynamic and differencing images (the copy), else
 * only at the end (fixed). */
static int read_footer(struct vhd *v, uint64_t fsize, char *e, size_t elen)
{
	int ret;

	if (fsize < VHD_FOOTER_LEN)
		return err_set(e, elen, -EINVAL, "file too small for a VHD footer");
	ret = disk_file_pread(v->bm.fd, v->footer, VHD_FOOTER_LEN, 0);
	if (ret)
		return err_set(e, elen, ret, "cannot read: %s", strerror(-ret));
	/* A footer at 0 is a dynamic image's copy, and final -- unless it says
	 * fixed: then it is guest data of a fixed disk. */
	if (!memcmp(v->footer, "conectix", 8)) {
		ret = vhd_footer_parse(v->footer, &v->f, e, elen);
		if (ret || v->f.type != VHD_TYPE_FIXED)
			return ret;
	}
	ret = disk_file_pread(v->bm.fd, v->footer, VHD_FOOTER_LEN, fsize - VHD_FOOTER_LEN);
	if (ret)
		return err_set(e, elen, ret, "cannot read: %s", strerror(-ret));
	ret = vhd_footer_parse(v->footer, &v->f, e, elen);
	if (ret == 0 && v->f.type != VHD_TYPE_FIXED)
		return err_set(e, elen, -EINVAL,
			       "VHD footer at the end says dynamic, but there is no copy at 0");
	if (ret == 0 && fsize - VHD_FOOTER_LEN < v->f.size)
		return err_set(e, elen, -EINVAL,
			       "fixed VHD truncated: %" PRIu64 " bytes of data for a %" PRIu64
			       "-byte disk",
			       fsize - VHD_FOOTER_LEN, v->f.size);
	return ret;
}

/* Does [a, a + al) meet [b, b + bl)? */
static bool overlaps(uint64_t a, uint64_t al, uint64_t b, uint64_t bl)
{
	return a < b + bl && b < a + al;
}

static int read_bat(struct vhd *v, uint64_t fsize, char *e, size_t elen)
{
	uint64_t bs, bat_bytes, blk_len, end;
	int ret;

	if (v->f.data_offset % 512 || v->f.data_offset > fsize ||
	    fsize - v->f.data_offset < VHD_DYN_LEN)
		return err_set(e, elen, -EINVAL, "VHD dynamic header offset %" PRIu64 " is invalid",
			       v->f.data_offset);
	{
		uint8_t buf[VHD_DYN_LEN];

		ret = disk_file_pread(v->bm.fd, buf, sizeof(buf), v->f.data_offset);
		if (ret)
			return err_set(e, elen, ret, "cannot read: %s", strerror(-ret));
		ret = vhd_dyn_parse(buf, fsize, v->f.size, &v->h, e, elen);
		if (ret)
			return ret;
	}
	bs = v->h.block_size;
	blk_len = v->h.bitmap_size + bs;
	v->n_bat = (v->f.size + bs - 1) / bs;
	bat_bytes = v->n_bat * 4;
	if (bat_bytes > VHD_MAX_BAT_BYTES)
		return err_set(e, elen, -EFBIG, "VHD BAT of %" PRIu64 " bytes is too large",
			       bat_bytes);
	v->bat = malloc(bat_bytes ? bat_bytes : 4);
	v->bitmap = malloc(v->h.bitmap_size);
	v->full = calloc(1, v->n_bat / 8 + 1);
	if (!v->bat || !v->bitmap || !v->full)
		return err_set(e, elen, -ENOMEM, "out of memory");
	ret = disk_file_pread(v->bm.fd, v->bat, bat_bytes, v->h.table_offset);
	if (ret)
		return err_set(e, elen, ret, "cannot read the BAT: %s", strerror(-ret));
	end = (v->h.table_offset + (uint64_t)v->h.max_table_entries * 4 + 511) & ~511ULL;
	for (uint64_t i = 0; i < v->n_bat; i++) {
		uint64_t off;

		v->bat[i] = be32toh(v->bat[i]);
		if (v->bat[i] == VHD_BAT_FREE)
			continue;
		off = (uint64_t)v->bat[i] * 512;
		if (overlaps(off, blk_len, 0, VHD_FOOTER_LEN) ||
		    overlaps(off, blk_len, v->f.data_offset, VHD_DYN_LEN) ||
		    overlaps(off, blk_len, v->h.table_offset, (uint64_t)v->h.max_table_entries * 4))
			return err_set(e, elen, -EINVAL,
				       "VHD BAT entry %" PRIu64 " overlaps the image's metadata",
				       i);
		if (off + blk_len > fsize)
			return err_set(e, elen, -EINVAL,
				       "VHD BAT entry %" PRIu64 " points past the end of the file",
				       i);
		if (off + blk_len > end)
			end = off + blk_len;
	}
	/* Never place a block over what lies before the footer at the end. */
	if (((fsize - VHD_FOOTER_LEN + 511) & ~511ULL) > end)
		end = (fsize - VHD_FOOTER_LEN + 511) & ~511ULL;
	v->next_free = end;
	return 0;
}

/* Try the parent locators in the order Windows does (relative first), then
 * the bare parent name next to the image. Parents of a VHD are VHDs. */
static int open_parent(struct vhd *v, unsigned int depth, uint64_t fsize, char *e, size_t elen)
{
	static const uint32_t order[] = { VHD_LOC_W2RU, VHD_LOC_W2KU, VHD_LOC_MACX, 0 };
	struct disk *d = v->bm.d;
	char name[1024], le[512] = "no usable parent locator";
	uint8_t data[VHD_MAX_LOCATOR];
	int ret = -ENOENT;

	for (size_t k = 0; k < sizeof(order) / sizeof(order[0]); k++) {
		for (int i = 0; i < 8; i++) {
			const struct vhd_locator *l = &v->h.loc[i];
			char *path;

			if (order[k] == 0) {
				if (i ||
				    vhd_utf16_to_utf8(v->h.parent_name, sizeof(v->h.parent_name),
						      true, name, sizeof(name)))
					continue;
			} else {
				if (l->code != order[k] || !l->len)
					continue;
				if (l->len > VHD_MAX_LOCATOR || l->offset > fsize ||
				    fsize - l->offset < l->len)
					return err_set(
						e, elen, -EINVAL,
						"VHD parent locator %d lies outside the file", i);
				ret = disk_file_pread(v->bm.fd, data, l->len, l->offset);
				if (ret)
					return err_set(e, elen, ret, "cannot read: %s",
						       strerror(-ret));
				if (vhd_locator_path(l->code, data, l->len, name, sizeof(name)))
					continue;
			}
			path = disk_resolve_path(d->path, name);
			if (!path)
				return err_set(e, elen, -ENOMEM, "out of memory");
			le[0] = '\0';
			ret = disk_open_backing(path, "vpc", d->engine, depth + 1, &d->backing, le,
						sizeof(le));
			free(path);
			if (ret == 0) {
				snprintf(v->parent, sizeof(v->parent), "%s", name);
				goto opened;
			}
			if (ret != -ENOENT)
				return err_set(e, elen, ret, "parent: %s", le);
		}
	}
	return err_set(e, elen, ret, "parent not found: %s", le);
opened:
	if (memcmp(((struct vhd *)d->backing->priv)->f.uuid, v->h.parent_uuid, 16))
		return err_set(e, elen, -EINVAL,
			       "parent %s is not this image's parent (UUID differs)",
			       d->backing->path);
	return 0;
}

static int vhd_open(struct disk *d, int fd, const struct disk_open_opts *o, unsigned int depth,
		    char *err, size_t errlen)
{
	struct vhd *v = calloc(1, sizeof(*v));
	struct stat st;
	char e[512] = "";
	int ret;

	(void)o;
	if (!v) {
		close(fd);
		return err_set(err, errlen, -ENOMEM, "%s: out of memory", d->path);
	}
	ret = bmap_init(&v->bm, d, fd, &vhd_bmap_ops, v, err, errlen);
	if (ret) {
		free(v);
		return ret;
	}
	if (fstat(v->bm.fd, &st) < 0) {
		ret = err_set(e, sizeof(e), -errno, "%s", strerror(errno));
		goto fail;
	}
	ret = read_footer(v, (uint64_t)st.st_size, e, sizeof(e));
	if (ret == 0 && v->f.type != VHD_TYPE_FIXED)
		ret = read_bat(v, (uint64_t)st.st_size, e, sizeof(e));
	if (ret)
		goto fail;
	if (v->f.type == VHD_TYPE_DIFF) {
		v->diff = true;
		v->bm.ops = &vhd_diff_ops;
		ret = open_parent(v, depth, (uint64_t)st.st_size, e, sizeof(e));
		if (ret)
			goto fail;
	}
	/* A fixed VHD's first sector is guest data, but a dynamic footer
	 * written there would make the next open (ours and QEMU's) read it as
	 * a dynamic or differencing image whose parent the guest names: the
	 * probed-raw guard (disk.c) refuses such writes, as for a raw image. */
	d->probed_raw = v->f.type == VHD_TYPE_FIXED;
	d->ops = &vhd_ops;
	d->format = "vpc";
	d->size = v->f.size;
	d->can_discard = false;
	d->priv = v;
	return 0;
fail:
	err_set(err, errlen, ret, "%s: %s", d->path, e);
	if (d->backing) {
		disk_close(d->backing);
		d->backing = NULL;
	}
	bmap_fini(&v->bm);
	vhd_free(v);
	return ret;
}

static int vhd_probe(const uint8_t *buf, size_t len)
{
	/* Fixed images have no footer at 0: only their (unprobed) end says
	 * VHD, as in QEMU's vpc_probe. */
	return len >= 8 && !memcmp(buf, "conectix", 8) ? 100 : 0;
}

static void vhd_info(struct disk *d, struct disk_info *out)
{
	struct vhd *v = d->priv;

	out->subformat = v->f.type == VHD_TYPE_FIXED	 ? "fixed"
			 : v->f.type == VHD_TYPE_DYNAMIC ? "dynamic"
							 : "differencing";
	disk_info_add(out, "creator-app", false, "%.4s", v->f.creator_app);
	disk_info_add(out, "geometry", false, "%u/%u/%u", v->f.cyls, v->f.heads, v->f.spt);
	if (v->f.type != VHD_TYPE_FIXED)
		out->cluster_size = v->h.block_size; /* as qemu-img info shows it */
	if (d->backing) {
		snprintf(out->backing_file, sizeof(out->backing_file), "%s", v->parent);
		snprintf(out->backing_format, sizeof(out->backing_format), "vpc");
	}
}

const struct disk_format disk_format_vpc = {
	.name = "vpc",
	.alias = "vhd",
	.probe = vhd_probe,
	.names_files = true,
	.open = vhd_open,
	.create = vhd_create,
	.check = vhd_check,
	.info = vhd_info,
};
