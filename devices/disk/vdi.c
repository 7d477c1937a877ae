/* SPDX-License-Identifier: MIT */
/*
 * The VDI driver (vdi.h): open, the block map and its allocation, check,
 * info, and the format table entry. Requests go through the shared
 * block-mapped path (bmap.h), which documents the crash-safety order of an
 * allocation: the file is extended (the new block is a hole: zeros) and
 * synced before the map entry points at it, so a crash leaves the block
 * unallocated or allocated-and-zero -- which read the same. The file grows
 * ahead of the allocations (grow.h: 1, 2, 4 ... 64 blocks at a time, each
 * step synced once); close gives the unused tail back. The entry and the
 * header's blocks_allocated go out in one pwrite where they are near
 * each other (the usual layout), so a killed process cannot leave them
 * disagreeing; qemu-img check counts that as an error.
 */
#include <endian.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "devices/disk/bmap.h"
#include "devices/disk/format.h"
#include "devices/disk/grow.h"
#include "devices/disk/vdi.h"
#include "base/err.h"

#define VDI_MAX_BMAP_BYTES (64U << 20) /* a 16 TiB disk */
/* One pwrite for the header's count and the entry when they are this close. */
#define VDI_ONE_WRITE_MAX  (64U << 10)

struct vdi {
	struct bmap bm; /* first: d->priv is both */
	struct vdi_header h;
	uint8_t hdr[VDI_HEADER_LEN]; /* as on disk */
	uint32_t *bmap;		     /* little-endian, as on disk */
	uint64_t bmap_bytes;	     /* whole sectors */
	uint32_t allocated, next;
	struct disk_grow grow; /* the file, grown ahead of the allocations */
};

static void vdi_free(struct vdi *v)
{
	free(v->bmap);
	free(v);
}

/* Give guest block idx the data-area block v->next. */
static int vdi_alloc(struct vdi *v, uint64_t idx)
{
	uint64_t bs = v->h.block_size, end = v->h.offset_data + ((uint64_t)v->next + 1) * bs;
	uint64_t eoff = v->h.offset_bmap + idx * 4, cnt_off = VDI_OFF_BLOCKS_ALLOCATED;
	uint32_t le;
	int ret;

	if (v->next >= v->h.blocks_in_image)
		return -ENOSPC; /* cannot happen with a checked map */
	ret = disk_grow_ensure(&v->grow, end);
	if (ret)
		return ret;
	v->bmap[idx] = htole32(v->next);
	le = htole32(v->allocated + 1);
	memcpy(v->hdr + cnt_off, &le, 4);
	if (v->h.offset_bmap == VDI_HEADER_LEN && eoff + 4 - cnt_off <= VDI_ONE_WRITE_MAX) {
		uint8_t buf[VDI_ONE_WRITE_MAX];

		memcpy(buf, v->hdr + cnt_off, VDI_HEADER_LEN - cnt_off);
		memcpy(buf + VDI_HEADER_LEN - cnt_off, v->bmap, idx * 4 + 4);
		ret = disk_file_pwrite(v->bm.fd, buf, eoff + 4 - cnt_off, cnt_off);
	} else {
		ret = disk_file_pwrite(v->bm.fd, &v->bmap[idx], 4, eoff);
		if (ret == 0)
			ret = disk_file_pwrite(v->bm.fd, v->hdr + cnt_off, 4, cnt_off);
	}
	if (ret) {
		v->bmap[idx] = htole32(VDI_UNALLOCATED);
		return ret;
	}
	v->allocated++;
	v->next++;
	return 0;
}

static int vdi_map(void *fmt, uint64_t off, uint64_t len, bool write, enum bmap_kind *kind,
		   uint64_t *host, uint64_t *n)
{
	struct vdi *v = fmt;
	uint64_t bs = v->h.block_size, idx = off / bs, in = off % bs, run;
	uint32_t e = le32toh(v->bmap[idx]);
	int ret;

	if (e >= v->h.blocks_in_image) { /* unallocated or discarded: zeros */
		if (!write) {
			*kind = BMAP_ZERO;
			*n = len < bs - in ? len : bs - in;
			for (uint64_t i = idx + 1; *n < len && i < v->h.blocks_in_image; i++) {
				if (le32toh(v->bmap[i]) < v->h.blocks_in_image)
					break;
				*n = len < *n + bs ? len : *n + bs;
			}
			return 0;
		}
		ret = vdi_alloc(v, idx);
		if (ret) {
			log_warn_ratelimited(&v->bm.rl, "%s: cannot allocate a VDI block: %s",
					     v->bm.d->path, strerror(-ret));
			return ret;
		}
		e = le32toh(v->bmap[idx]);
	}
	*kind = BMAP_DATA;
	*host = v->h.offset_data + (uint64_t)e * bs + in;
	/* Blocks that follow each other in the file too: one request. */
	run = bs - in;
	for (uint64_t i = idx + 1; run < len && i < v->h.blocks_in_image; i++) {
		if (le32toh(v->bmap[i]) != e + (i - idx))
			break;
		run += bs;
	}
	*n = len < run ? len : run;
	return 0;
}

static const struct bmap_ops vdi_bmap_ops = {
	.map = vdi_map,
};

static int vdi_submit(struct disk *d, struct disk_req *req)
{
	struct vdi *v = d->priv;

	return bmap_submit(&v->bm, req);
}

static void vdi_close(struct disk *d)
{
	struct vdi *v = d->priv;

	ioe_drain(d->engine);
	if (!d->readonly) {
		uint64_t used = v->h.offset_data + (uint64_t)v->next * v->h.block_size;
		/* the blocks grown ahead and never used */
		int ret = disk_grow_trim(&v->grow, used);

		if (ret)
			log_warn("%s: cannot trim the unused tail: %s", d->path, strerror(-ret));
		if (fdatasync(v->bm.fd) < 0)
			log_warn("%s: fdatasync on close: %s", d->path, strerror(errno));
	}
	bmap_fini(&v->bm);
	vdi_free(v);
	d->priv = NULL;
}

static const struct disk_ops vdi_ops = {
	.submit = vdi_submit,
	.block_status = bmap_block_status,
	.close = vdi_close,
};

/* Header and block map of an open file, checked. */
static int vdi_load(int fd, struct vdi *v, uint64_t *fsize, char *e, size_t elen)
{
	struct stat st;
	int ret;

	if (fstat(fd, &st) < 0)
		return err_set(e, elen, -errno, "%s", strerror(errno));
	*fsize = (uint64_t)st.st_size;
	ret = disk_file_pread(fd, v->hdr, sizeof(v->hdr), 0);
	if (ret)
		return err_set(e, elen, ret, "cannot read: %s", strerror(-ret));
	ret = vdi_header_parse(v->hdr, *fsize < sizeof(v->hdr) ? (size_t)*fsize : sizeof(v->hdr),
			       *fsize, &v->h, e, elen);
	if (ret)
		return ret;
	v->bmap_bytes = ((uint64_t)v->h.blocks_in_image * 4 + 511) & ~511ULL;
	if (v->bmap_bytes > VDI_MAX_BMAP_BYTES)
		return err_set(e, elen, -EFBIG, "VDI block map of %" PRIu64 " bytes is too large",
			       v->bmap_bytes);
	v->bmap = malloc(v->bmap_bytes ? v->bmap_bytes : 4);
	if (!v->bmap)
		return err_set(e, elen, -ENOMEM, "out of memory");
	ret = disk_file_pread(fd, v->bmap, v->bmap_bytes, v->h.offset_bmap);
	if (ret)
		return err_set(e, elen, ret, "cannot read the block map: %s", strerror(-ret));
	return 0;
}

static int vdi_open(struct disk *d, int fd, const struct disk_open_opts *o, unsigned int depth,
		    char *err, size_t errlen)
{
	struct vdi *v = calloc(1, sizeof(*v));
	uint64_t fsize;
	char e[256];
	int ret;

	(void)o;
	(void)depth;
	if (!v) {
		close(fd);
		return err_set(err, errlen, -ENOMEM, "%s: out of memory", d->path);
	}
	ret = bmap_init(&v->bm, d, fd, &vdi_bmap_ops, v, err, errlen);
	if (ret) {
		free(v);
		return ret;
	}
	ret = vdi_load(v->bm.fd, v, &fsize, e, sizeof(e));
	if (ret == 0)
		ret = vdi_bmap_check(v->bmap, &v->h, fsize, &v->allocated, &v->next, e, sizeof(e));
	if (ret) {
		bmap_fini(&v->bm);
		vdi_free(v);
		return err_set(err, errlen, ret, "%s: %s", d->path, e);
	}
	disk_grow_init(&v->grow, d, v->bm.fd, fsize, 0, v->h.block_size, 64ULL * v->h.block_size,
		       v->h.offset_data + (uint64_t)v->h.blocks_in_image * v->h.block_size);
	d->priv = v;
	d->ops = &vdi_ops;
	d->format = "vdi";
	d->size = v->h.disk_size;
	d->can_discard = false;
	return 0;
}

static void vdi_info(struct disk *d, struct disk_info *out)
{
	struct vdi *v = d->priv;

	out->subformat = v->h.image_type == VDI_TYPE_STATIC ? "static" : "dynamic";
	out->cluster_size = v->h.block_size;
	disk_info_add(out, "blocks-allocated", true, "%u", v->allocated);
}

/* qemu-img check's rules (vdi_co_check): every entry below
 * blocks_in_image, none used twice, the count in the header right. */
static int vdi_check(const char *path, const struct disk_check_opts *o, struct disk_check_result *r,
		     char *err, size_t errlen)
{
	struct vdi v = { 0 };
	uint64_t fsize;
	uint8_t *seen = NULL;
	char e[256];
	int fd, ret;

	if (o->repair != DISK_REPAIR_NONE)
		return err_set(err, errlen, -ENOTSUP, "%s: VDI images cannot be repaired", path);
	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return err_set(err, errlen, -errno, "%s: %s", path, strerror(errno));
	ret = vdi_load(fd, &v, &fsize, e, sizeof(e));
	if (ret) {
		err_set(err, errlen, ret, "%s: %s", path, e);
		goto out;
	}
	seen = calloc(v.h.blocks_in_image / 8 + 1, 1);
	if (!seen) {
		ret = err_set(err, errlen, -ENOMEM, "out of memory");
		goto out;
	}
	for (uint32_t i = 0; i < v.h.blocks_in_image; i++) {
		uint32_t b = le32toh(v.bmap[i]);

		if (b == VDI_UNALLOCATED || b == VDI_DISCARDED)
			continue;
		if (b >= v.h.blocks_in_image) {
			disk_check_report(o, "ERROR: block index %u too large, is %u", i, b);
		} else if (seen[b / 8] & (1U << (b % 8))) {
			disk_check_report(o, "ERROR: block index %u also used elsewhere", b);
		} else if (v.h.offset_data + ((uint64_t)b + 1) * v.h.block_size > fsize) {
			disk_check_report(o, "ERROR: block %u lies past the end of the file", i);
		} else {
			seen[b / 8] |= (uint8_t)(1U << (b % 8));
			r->allocated_clusters++;
			continue;
		}
		r->corruptions++;
	}
	if (r->allocated_clusters != v.h.blocks_allocated) {
		disk_check_report(o, "ERROR: allocated blocks mismatch, is %u, should be %u",
				  v.h.blocks_allocated, (uint32_t)r->allocated_clusters);
		r->corruptions++;
	}
	r->total_clusters = v.h.blocks_in_image;
	r->image_end_offset = fsize;
	ret = 0;
out:
	free(seen);
	free(v.bmap);
	close(fd);
	return ret;
}

/* vdi_create.c */
int vdi_create(const char *path, const struct disk_create_opts *o, char *err, size_t errlen);

const struct disk_format disk_format_vdi = {
	.name = "vdi",
	.probe = vdi_probe,
	.names_files = false,
	.open = vdi_open,
	.create = vdi_create,
	.check = vdi_check,
	.info = vdi_info,
};
