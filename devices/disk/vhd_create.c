/* SPDX-License-Identifier: MIT */
/*
 * VHD images made (vmm-img create -f vpc) and checked (vmm-img check):
 * create lays them out exactly as qemu-img 7.2 does (block/vpc.c
 * vpc_co_create: 2 MiB blocks, BAT at 1536, creator "qemu" sized by CHS or
 * "qem2" sized by current_size with force_size), plus differencing images
 * (which qemu-img cannot make) with W2ru and W2ku parent locators.
 */
#include <endian.h>
#include <errno.h>
#include <stdarg.h>
#include <fcntl.h>
#include <inttypes.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "devices/disk/bmap.h"
#include "devices/disk/vhd.h"
#include "base/byteorder.h"
#include "base/err.h"

#define VHD_CREATE_BLOCK (2U << 20)

/* QEMU's calculate_rounded_image_size: the smallest CHS size >= size,
 * unless force_size (or a size past the CHS maximum) keeps the size as is
 * with the maximum geometry. */
static int rounded_size(uint64_t size, bool force, uint16_t *c, uint8_t *h, uint8_t *s,
			uint64_t *out)
{
	uint64_t want = size / 512, sectors;

	*c = 0;
	*h = 0;
	*s = 0;
	if (force) {
		*c = VHD_CHS_MAX_C;
		*h = VHD_CHS_MAX_H;
		*s = VHD_CHS_MAX_S;
	} else {
		sectors = want < VHD_MAX_GEOMETRY ? want : VHD_MAX_GEOMETRY;
		for (uint64_t i = 0; sectors > (uint64_t)*c * *h * *s; i++)
			vhd_geometry(sectors + i, c, h, s);
	}
	if ((uint64_t)*c * *h * *s == VHD_MAX_GEOMETRY) {
		if (want > VHD_MAX_SECTORS)
			return -EFBIG;
		*out = want * 512;
	} else {
		*out = (uint64_t)*c * *h * *s * 512;
	}
	return 0;
}

static void make_footer(uint8_t *f, uint32_t type, uint64_t size, bool force, uint16_t c, uint8_t h,
			uint8_t s)
{
	memset(f, 0, VHD_FOOTER_LEN);
	memcpy(f, "conectix", 8);
	put_be32(f + 8, 2);
	put_be32(f + 12, 0x00010000);
	put_be64(f + 16, type == VHD_TYPE_FIXED ? UINT64_MAX : VHD_FOOTER_LEN);
	put_be32(f + 24, (uint32_t)(time(NULL) - VHD_EPOCH));
	memcpy(f + 28, force ? "qem2" : "qemu", 4);
	put_be16(f + 32, 5); /* Virtual PC 2007, as qemu-img writes */
	put_be16(f + 34, 3);
	memcpy(f + 36, "Wi2k", 4);
	put_be64(f + 40, size);
	put_be64(f + 48, size);
	put_be16(f + 56, c);
	f[58] = h;
	f[59] = s;
	put_be32(f + 60, type);
	if (getrandom(f + 68, 16, 0) != 16)
		memset(f + 68, 0x5a, 16);		  /* only an identity, not a secret */
	f[68 + 6] = (uint8_t)((f[68 + 6] & 0x0f) | 0x40); /* version 4 UUID */
	f[68 + 8] = (uint8_t)((f[68 + 8] & 0x3f) | 0x80);
	put_be32(f + 64, vhd_checksum(f, VHD_FOOTER_LEN, 64));
}

/* UTF-8 (taken as Latin-1 above ASCII: paths here are bytes) to UTF-16. */
static size_t to_utf16(const char *s, bool be, uint8_t *out, size_t outlen)
{
	size_t n = 0;

	for (; *s && n + 2 <= outlen; s++, n += 2) {
		uint8_t c = (uint8_t)*s;

		out[n + (be ? 1 : 0)] = c;
		out[n + (be ? 0 : 1)] = 0;
	}
	return n;
}

struct vhd_parent {
	uint8_t uuid[16];
	uint64_t size;
	uint32_t mtime;
};

static int read_parent(const char *path, const char *name, struct vhd_parent *p, char *err,
		       size_t errlen)
{
	char *pp = disk_resolve_path(path, name);
	struct disk_open_opts oo = { .readonly = true, .format = "vpc" };
	uint8_t buf[VHD_FOOTER_LEN];
	struct vhd_footer f;
	struct disk *d = NULL;
	struct stat st;
	char e[512] = "";
	int fd, ret;

	if (!pp)
		return err_set(err, errlen, -ENOMEM, "out of memory");
	ret = disk_open(pp, &oo, &d, e, sizeof(e));
	if (ret) {
		free(pp);
		return err_set(err, errlen, ret, "%s: parent: %s", path, e);
	}
	p->size = d->size;
	disk_close(d);
	fd = open(pp, O_RDONLY | O_CLOEXEC);
	free(pp);
	if (fd < 0 || fstat(fd, &st) < 0 || disk_file_pread(fd, buf, sizeof(buf), 0) ||
	    vhd_footer_parse(buf, &f, e, sizeof(e)))
		ret = err_set(err, errlen, -EINVAL, "%s: parent %s: cannot read its footer", path,
			      name);
	if (fd >= 0)
		close(fd);
	if (ret)
		return ret;
	memcpy(p->uuid, f.uuid, 16);
	p->mtime = (uint32_t)(st.st_mtime - VHD_EPOCH);
	return 0;
}

/* The dynamic (or differencing) layout after the footer copy at 0. */
static int write_dynamic(int fd, const char *image, const uint8_t *footer, uint64_t size,
			 const char *parent, const struct vhd_parent *pp)
{
	uint64_t n_bat = (size + VHD_CREATE_BLOCK - 1) / VHD_CREATE_BLOCK;
	uint64_t bat_bytes = (n_bat * 4 + 511) & ~511ULL, off = 1536 + bat_bytes;
	uint8_t h[VHD_DYN_LEN] = { 0 }, *bat;
	int ret;

	bat = malloc(bat_bytes);
	if (!bat)
		return -ENOMEM;
	memset(bat, 0xff, bat_bytes);
	ret = disk_file_pwrite(fd, bat, bat_bytes, 1536);
	free(bat);
	if (ret)
		return ret;
	memcpy(h, "cxsparse", 8);
	put_be64(h + 8, UINT64_MAX); /* all 64 bits: what Microsoft's tools expect */
	put_be64(h + 16, 1536);
	put_be32(h + 24, 0x00010000);
	put_be32(h + 28, (uint32_t)n_bat);
	put_be32(h + 32, VHD_CREATE_BLOCK);
	if (parent) {
		const char *base = strrchr(parent, '/') ? strrchr(parent, '/') + 1 : parent;
		uint8_t loc[2][1024] = { { 0 } };
		char abs[PATH_MAX], rel[PATH_MAX];
		size_t ln[2];

		memcpy(h + 40, pp->uuid, 16);
		put_be32(h + 56, pp->mtime);
		to_utf16(base, true, h + 64, 512);
		/* W2ru: the name as given, Windows style; W2ku: absolute. */
		snprintf(rel, sizeof(rel), "%s%s", parent[0] == '/' ? "" : ".\\", parent);
		for (char *c = rel; *c; c++)
			if (*c == '/')
				*c = '\\';
		{
			/* the name is relative to the image's folder, as qemu-img has it */
			char *res = disk_resolve_path(image, parent);

			if (!res)
				return -ENOMEM;
			if (!realpath(res, abs))
				snprintf(abs, sizeof(abs), "%s", res);
			free(res);
		}
		ln[0] = to_utf16(rel, false, loc[0], sizeof(loc[0]));
		ln[1] = to_utf16(abs, false, loc[1], sizeof(loc[1]));
		for (int i = 0; i < 2; i++) {
			uint8_t *l = h + 576 + 24 * i;

			put_be32(l, i == 0 ? VHD_LOC_W2RU : VHD_LOC_W2KU);
			put_be32(l + 4, sizeof(loc[i]));
			put_be32(l + 8, (uint32_t)ln[i]);
			put_be64(l + 16, off);
			ret = disk_file_pwrite(fd, loc[i], sizeof(loc[i]), off);
			if (ret)
				return ret;
			off += sizeof(loc[i]);
		}
	}
	put_be32(h + 36, vhd_checksum(h, VHD_DYN_LEN, 36));
	ret = disk_file_pwrite(fd, h, VHD_DYN_LEN, VHD_FOOTER_LEN);
	if (ret == 0)
		ret = disk_file_pwrite(fd, footer, VHD_FOOTER_LEN, off);
	return ret;
}

int vhd_create(const char *path, const struct disk_create_opts *o, char *err, size_t errlen)
{
	static const char *const known[] = { "subformat", "force_size", NULL };
	char sub[32] = "dynamic", force[8] = "off";
	struct vhd_parent parent = { 0 };
	uint8_t footer[VHD_FOOTER_LEN];
	uint64_t size = o->size;
	uint32_t type;
	bool forced;
	uint16_t c;
	uint8_t h, s;
	int fd, ret;

	ret = disk_opts_check(o->options, "vpc", known, err, errlen);
	if (ret)
		return ret;
	disk_opts_get(o->options, "subformat", sub, sizeof(sub));
	disk_opts_get(o->options, "force_size", force, sizeof(force));
	forced = !strcmp(force, "on") || !strcmp(force, "true");
	if (!forced && strcmp(force, "off") && strcmp(force, "false"))
		return err_set(err, errlen, -EINVAL, "%s: force_size must be on or off", path);
	if (!strcmp(sub, "dynamic"))
		type = VHD_TYPE_DYNAMIC;
	else if (!strcmp(sub, "fixed"))
		type = VHD_TYPE_FIXED;
	else
		return err_set(err, errlen, -EINVAL,
			       "%s: vpc subformat must be dynamic or fixed, not '%s'", path, sub);
	if (o->backing_file) {
		if (type == VHD_TYPE_FIXED)
			return err_set(err, errlen, -EINVAL, "%s: a fixed VHD cannot have a parent",
				       path);
		if (o->backing_format && strcmp(o->backing_format, "vpc") &&
		    strcmp(o->backing_format, "vhd"))
			return err_set(err, errlen, -EINVAL,
				       "%s: the parent of a VHD must be a VHD, not %s", path,
				       o->backing_format);
		ret = read_parent(path, o->backing_file, &parent, err, errlen);
		if (ret)
			return ret;
		type = VHD_TYPE_DIFF;
		if (!size)
			size = parent.size;
	}
	size = (size + 511) & ~511ULL;
	if (!size)
		return err_set(err, errlen, -EINVAL, "%s: size must be given", path);
	if (rounded_size(size, forced, &c, &h, &s, &size))
		return err_set(err, errlen, -EFBIG, "%s: too large: the VHD maximum is 2040 GiB",
			       path);
	make_footer(footer, type, size, forced, c, h, s);

	fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0644);
	if (fd < 0)
		return err_set(err, errlen, -errno, "%s: %s", path, strerror(errno));
	if (type == VHD_TYPE_FIXED) {
		ret = ftruncate(fd, (off_t)size) < 0 ? -errno : 0;
		if (ret == 0)
			ret = disk_file_pwrite(fd, footer, VHD_FOOTER_LEN, size);
	} else {
		ret = disk_file_pwrite(fd, footer, VHD_FOOTER_LEN, 0);
		if (ret == 0)
			ret = write_dynamic(fd, path, footer, size, o->backing_file, &parent);
	}
	if (ret == 0 && fsync(fd) < 0)
		ret = -errno;
	close(fd);
	if (ret) {
		unlink(path);
		return err_set(err, errlen, ret, "%s: %s", path, strerror(-ret));
	}
	return 0;
}

static void report(const struct disk_check_opts *o, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));
static void report(const struct disk_check_opts *o, const char *fmt, ...)
{
	char line[256];
	va_list ap;

	if (!o || !o->report)
		return;
	va_start(ap, fmt);
	vsnprintf(line, sizeof(line), fmt, ap);
	va_end(ap);
	o->report(o->opaque, line);
}

static int cmp_u32(const void *a, const void *b)
{
	uint32_t x = *(const uint32_t *)a, y = *(const uint32_t *)b;

	return x < y ? -1 : x > y;
}

/* The end of what the image uses: metadata, parent locator data, blocks. */
static uint64_t used_end(const struct vhd_dyn *h, uint64_t meta_end, uint64_t fsize,
			 uint64_t blocks_end)
{
	uint64_t end = (meta_end + 511) & ~511ULL;

	for (int i = 0; i < 8; i++) {
		const struct vhd_locator *l = &h->loc[i];

		if (l->code && l->offset < fsize && l->space <= fsize - l->offset &&
		    l->offset + l->space > end)
			end = l->offset + l->space;
	}
	return blocks_end > end ? blocks_end : end;
}

/* Repair leaks: the footer moves to `used`, the file ends after it. */
static int cut_tail(const char *path, const uint8_t *footer, uint64_t used, char *err,
		    size_t errlen)
{
	int fd = open(path, O_WRONLY | O_CLOEXEC), ret;

	if (fd < 0)
		return err_set(err, errlen, -errno, "%s: %s", path, strerror(errno));
	ret = disk_file_pwrite(fd, footer, VHD_FOOTER_LEN, used);
	if (ret == 0 &&
	    (fsync(fd) < 0 || ftruncate(fd, (off_t)(used + VHD_FOOTER_LEN)) < 0 || fsync(fd) < 0))
		ret = -errno;
	close(fd);
	if (ret)
		return err_set(err, errlen, ret, "%s: cannot repair: %s", path, strerror(-ret));
	return 0;
}

/*
 * The checks: the footer (and its copy) and dynamic header parse; every
 * BAT entry's block lies inside the file, clear of the metadata and of
 * every other block; space before the footer that no block uses is a leak
 * (-r leaks|all: the footer moves back and the file is cut). qemu-img
 * cannot check VHD at all.
 */
int vhd_check(const char *path, const struct disk_check_opts *o, struct disk_check_result *r,
	      char *err, size_t errlen)
{
	uint8_t foot[VHD_FOOTER_LEN], dyn[VHD_DYN_LEN];
	uint32_t *bat = NULL, *sorted = NULL;
	uint64_t fsize, n, blk, meta_end, nsorted = 0, used;
	struct vhd_footer f;
	struct vhd_dyn h;
	struct stat st;
	char e[256];
	int fd, ret;

	memset(r, 0, sizeof(*r));
	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return err_set(err, errlen, -errno, "%s: %s", path, strerror(errno));
	if (fstat(fd, &st) < 0 || st.st_size < VHD_FOOTER_LEN) {
		ret = err_set(err, errlen, -EINVAL, "%s: too small for a VHD image", path);
		goto out;
	}
	fsize = (uint64_t)st.st_size;
	ret = disk_file_pread(fd, foot, sizeof(foot), fsize - VHD_FOOTER_LEN);
	if (ret == 0 && vhd_footer_parse(foot, &f, e, sizeof(e))) {
		r->corruptions++;
		report(o, "footer at the end of the file: %s", e);
		ret = disk_file_pread(fd, foot, sizeof(foot), 0);
		if (ret == 0 && vhd_footer_parse(foot, &f, e, sizeof(e)))
			ret = err_set(err, errlen, -EINVAL, "%s: %s", path, e);
	}
	if (ret)
		goto out_ret;
	r->image_end_offset = fsize;
	if (f.type == VHD_TYPE_FIXED) {
		r->total_clusters = r->allocated_clusters = 0;
		goto out;
	}
	if (f.data_offset > fsize - VHD_DYN_LEN ||
	    disk_file_pread(fd, dyn, sizeof(dyn), f.data_offset) ||
	    vhd_dyn_parse(dyn, fsize, f.size, &h, e, sizeof(e))) {
		ret = err_set(err, errlen, -EINVAL, "%s: dynamic header: %s", path, e);
		goto out;
	}
	n = (f.size + h.block_size - 1) / h.block_size;
	bat = malloc(n * 4 + 4);
	sorted = malloc(n * 4 + 4);
	if (!bat || !sorted) {
		ret = err_set(err, errlen, -ENOMEM, "%s: out of memory", path);
		goto out;
	}
	ret = disk_file_pread(fd, bat, n * 4, h.table_offset);
	if (ret)
		goto out_ret;
	r->total_clusters = n;
	blk = h.bitmap_size + (uint64_t)h.block_size;
	meta_end = h.table_offset + (uint64_t)h.max_table_entries * 4;
	if (f.data_offset + VHD_DYN_LEN > meta_end)
		meta_end = f.data_offset + VHD_DYN_LEN;
	for (uint64_t i = 0; i < n; i++) {
		uint64_t off;

		bat[i] = be32toh(bat[i]);
		if (bat[i] == VHD_BAT_FREE)
			continue;
		r->allocated_clusters++;
		off = (uint64_t)bat[i] * 512;
		if (off + blk > fsize) {
			r->corruptions++;
			report(o,
			       "BAT entry %" PRIu64 ": block at %" PRIu64
			       " lies past the end of the file",
			       i, off);
		} else if (off < meta_end) {
			r->corruptions++;
			report(o,
			       "BAT entry %" PRIu64 ": block at %" PRIu64
			       " overlaps the image's metadata",
			       i, off);
		} else {
			sorted[nsorted++] = bat[i];
		}
		if (o && o->progress)
			o->progress(o->opaque, i + 1, n);
	}
	qsort(sorted, nsorted, 4, cmp_u32);
	for (uint64_t i = 1; i < nsorted; i++)
		if ((uint64_t)(sorted[i] - sorted[i - 1]) * 512 < blk) {
			r->corruptions++;
			report(o, "blocks at %" PRIu64 " and %" PRIu64 " overlap",
			       (uint64_t)sorted[i - 1] * 512, (uint64_t)sorted[i] * 512);
		}
	used = used_end(&h, meta_end, fsize,
			nsorted ? (uint64_t)sorted[nsorted - 1] * 512 + blk : 0);
	r->image_end_offset = used + VHD_FOOTER_LEN;
	ret = 0;
	if (fsize - VHD_FOOTER_LEN > used) {
		/* A block allocated when the writer died, before its BAT entry
		 * (vhd.c vhd_alloc): space only. */
		r->leaks = (fsize - VHD_FOOTER_LEN - used + blk - 1) / blk;
		report(o, "%" PRIu64 " bytes before the footer belong to no block (leaked)",
		       fsize - VHD_FOOTER_LEN - used);
		if (o && o->repair != DISK_REPAIR_NONE && !r->corruptions) {
			ret = cut_tail(path, foot, used, err, errlen);
			if (ret == 0) {
				r->leaks_fixed = r->leaks;
				r->leaks = 0;
			}
		}
	}
	goto out;
out_ret:
	if (ret)
		ret = err_set(err, errlen, ret, "%s: cannot read: %s", path, strerror(-ret));
out:
	free(bat);
	free(sorted);
	close(fd);
	return ret;
}
