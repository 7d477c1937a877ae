/* SPDX-License-Identifier: MIT */
/*
 * Creating VMDK images, laid out as qemu-img lays them out (block/vmdk.c,
 * vmdk_init_extent) so that either tool reads the other's: a sparse extent
 * is [header][embedded descriptor, 20 sectors][redundant directory and
 * tables][directory and tables], padded to a whole grain (64 KiB), all
 * tables preallocated and empty. Subformats: monolithicSparse (default),
 * monolithicFlat, twoGbMaxExtentSparse, twoGbMaxExtentFlat, and
 * streamOptimized: the monolithicSparse layout with a version 3 header
 * flagged compressed with markers, then the stream's footer (its grains are
 * written once, by vmm-img convert through vmdk_stream.c; the driver opens
 * it read-only).
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <unistd.h>

#include "base/err.h"
#include "devices/disk/vmdk_priv.h"

#define GRAIN_SECTORS 128ULL
#define GTES	      512ULL
#define DESC_SECTORS  20ULL
#define SPLIT_BYTES   0x80000000ULL /* twoGbMaxExtent* */
#define MAX_EXTENTS   VMDK_MAX_EXTENTS

struct vmdk_new {
	const char *subformat;
	char adapter[16];
	unsigned int hwversion;
	bool zeroed_grain, flat, split, stream;
};

/* An empty sparse extent of `sectors`, with room for an embedded
 * descriptor (written by the caller) when `desc`; `stream`: an empty
 * streamOptimized one (as qemu-img makes it, plus the stream's footer). */
static int init_sparse(int fd, uint64_t sectors, bool desc, bool zeroed_grain, bool stream)
{
	uint64_t gt_count = (sectors + GRAIN_SECTORS * GTES - 1) / (GRAIN_SECTORS * GTES);
	uint64_t gt_size = GTES * 4 / 512, gd_sectors = (gt_count * 4 + 511) / 512;
	struct vmdk_header h = {
		.version = zeroed_grain ? 2 : 1,
		.flags = VMDK_FLAG_NL_DETECT | VMDK_FLAG_RGD |
			 (zeroed_grain ? VMDK_FLAG_ZERO_GRAIN : 0),
		.capacity = sectors,
		.grain_size = GRAIN_SECTORS,
		.desc_offset = desc ? 1 : 0,
		.desc_size = desc ? DESC_SECTORS : 0,
		.num_gtes_per_gt = GTES,
		.compress_algorithm = stream ? VMDK_COMPRESS_DEFLATE : 0,
	};
	uint8_t hdr[512];
	uint32_t *gd;
	int ret;

	if (stream) {
		h.version = 3;
		h.flags |= VMDK_FLAG_COMPRESS | VMDK_FLAG_MARKER;
	}
	h.rgd_offset = 1 + h.desc_size;
	h.gd_offset = h.rgd_offset + gd_sectors + gt_size * gt_count;
	h.overhead = (h.gd_offset + gd_sectors + gt_size * gt_count + GRAIN_SECTORS - 1) /
		     GRAIN_SECTORS * GRAIN_SECTORS;
	gd = calloc(gd_sectors, 512);
	if (!gd)
		return -ENOMEM;
	vmdk_header_encode(&h, hdr);
	ret = disk_file_pwrite(fd, hdr, sizeof(hdr), 0);
	for (int copy = 0; copy < 2 && !ret; copy++) {
		uint64_t dir = copy ? h.gd_offset : h.rgd_offset;

		for (uint64_t i = 0; i < gt_count; i++)
			gd[i] = htole32((uint32_t)(dir + gd_sectors + i * gt_size));
		ret = disk_file_pwrite(fd, gd, gd_sectors * 512, dir * 512);
	}
	free(gd);
	if (!ret && ftruncate(fd, (off_t)(h.overhead * 512)) < 0)
		ret = -errno;
	if (!ret && stream)
		ret = vmdk_stream_tail(fd, &h, h.overhead * 512);
	return ret;
}

static int parse_opts(const char *path, const struct disk_create_opts *o, struct vmdk_new *n,
		      char *err, size_t errlen)
{
	static const char *const known[] = { "subformat",    "adapter_type", "hwversion", "compat6",
					     "zeroed_grain", "toolsversion", NULL };
	static char sub[32];
	char val[32];
	int ret;

	ret = disk_opts_check(o->options, "vmdk", known, err, errlen);
	if (ret)
		return ret;
	if (o->backing_file)
		return err_set(err, errlen, -ENOTSUP,
			       "%s: VMDK delta disks (backing files) are not supported", path);
	snprintf(sub, sizeof(sub), "monolithicSparse");
	disk_opts_get(o->options, "subformat", sub, sizeof(sub));
	n->subformat = sub;
	n->flat = !strcmp(sub, "monolithicFlat") || !strcmp(sub, "twoGbMaxExtentFlat");
	n->split = !strncmp(sub, "twoGbMaxExtent", 14);
	n->stream = !strcmp(sub, "streamOptimized");
	if (!n->flat && !n->split && !n->stream && strcmp(sub, "monolithicSparse"))
		return err_set(err, errlen, -EINVAL,
			       "%s: subformat=%s: vmm-img creates monolithicSparse, "
			       "monolithicFlat, twoGbMaxExtentSparse, twoGbMaxExtentFlat or "
			       "streamOptimized",
			       path, sub);
	snprintf(n->adapter, sizeof(n->adapter), "ide");
	disk_opts_get(o->options, "adapter_type", n->adapter, sizeof(n->adapter));
	if (strcmp(n->adapter, "ide") && strcmp(n->adapter, "buslogic") &&
	    strcmp(n->adapter, "lsilogic") && strcmp(n->adapter, "legacyESX"))
		return err_set(err, errlen, -EINVAL,
			       "%s: adapter_type=%s: ide, buslogic, lsilogic or legacyESX", path,
			       n->adapter);
	n->hwversion = 4;
	if (disk_opts_get(o->options, "compat6", val, sizeof(val)) && strcmp(val, "off"))
		n->hwversion = 6;
	if (disk_opts_get(o->options, "hwversion", val, sizeof(val)) && strcmp(val, "undefined"))
		n->hwversion = (unsigned int)strtoul(val, NULL, 10);
	n->zeroed_grain =
		disk_opts_get(o->options, "zeroed_grain", val, sizeof(val)) && strcmp(val, "off");
	if (!o->size)
		return err_set(err, errlen, -EINVAL, "%s: image size required", path);
	return 0;
}

/* "dir/name.vmdk" + "-s001" -> "name-s001.vmdk" (as the descriptor names
 * it) and the path to create. */
static void extent_name(const char *path, const char *suffix, char *name, size_t nlen, char *full,
			size_t flen)
{
	const char *base = strrchr(path, '/'), *dot;

	base = base ? base + 1 : path;
	dot = strrchr(base, '.');
	if (!dot || dot == base)
		dot = base + strlen(base);
	snprintf(name, nlen, "%.*s%s%s", (int)(dot - base), base, suffix, dot);
	snprintf(full, flen, "%.*s%s", (int)(base - path), path, name);
}

static int create_file(const char *path, int *fd, char *err, size_t errlen)
{
	*fd = open(path, O_RDWR | O_CREAT | O_EXCL | O_CLOEXEC, 0644);
	if (*fd < 0)
		return err_set(err, errlen, -errno, "%s: %s", path, strerror(errno));
	return 0;
}

int vmdk_create(const char *path, const struct disk_create_opts *o, char *err, size_t errlen)
{
	char(*names)[64] = NULL, *desc = NULL, *lines = NULL;
	size_t desc_len = 8192 + MAX_EXTENTS * 96;
	uint64_t sectors = o->size / 512, nfiles, each, heads, left;
	struct vmdk_new n = { 0 };
	char full[4096];
	size_t used = 0;
	uint64_t made = 0;
	uint32_t cid = 0;
	int fd = -1, ret;

	ret = parse_opts(path, o, &n, err, errlen);
	if (ret)
		return ret;
	each = n.split ? SPLIT_BYTES / 512 : sectors;
	nfiles = n.flat || n.split ? (sectors + each - 1) / each : 0;
	if (nfiles > MAX_EXTENTS)
		return err_set(err, errlen, -EINVAL, "%s: more than %d extent files", path,
			       MAX_EXTENTS);
	if (getrandom(&cid, sizeof(cid), 0) != sizeof(cid))
		cid = (uint32_t)getpid();
	lines = malloc(MAX_EXTENTS * 96 + 64);
	names = calloc(MAX_EXTENTS, sizeof(*names));
	desc = malloc(desc_len);
	if (!lines || !names || !desc) {
		free(lines);
		free(names);
		free(desc);
		return err_set(err, errlen, -ENOMEM, "out of memory");
	}
	/* The extent files first (none for monolithicSparse). */
	left = sectors;
	for (uint64_t i = 0; i < nfiles && !ret; i++) {
		uint64_t s = left < each ? left : each;
		char suffix[16];

		if (n.split)
			snprintf(suffix, sizeof(suffix), "-%c%03llu", n.flat ? 'f' : 's',
				 (unsigned long long)i + 1);
		else
			snprintf(suffix, sizeof(suffix), "-flat");
		extent_name(path, suffix, names[i], sizeof(names[i]), full, sizeof(full));
		ret = create_file(full, &fd, err, errlen);
		if (ret)
			break;
		made++;
		if (n.flat)
			ret = ftruncate(fd, (off_t)(s * 512)) < 0 ? -errno : 0;
		else
			ret = init_sparse(fd, s, false, n.zeroed_grain, false);
		close(fd);
		if (ret) {
			err_set(err, errlen, ret, "%s: %s", full, strerror(-ret));
			break;
		}
		used += (size_t)snprintf(lines + used, 96, "RW %llu %s \"%s\"%s\n",
					 (unsigned long long)s, n.flat ? "FLAT" : "SPARSE",
					 names[i], n.flat ? " 0" : "");
		left -= s;
	}
	if (!ret && !nfiles) {
		const char *base = strrchr(path, '/');

		snprintf(lines, 96, "RW %llu SPARSE \"%s\"\n", (unsigned long long)sectors,
			 base ? base + 1 : path);
	}
	heads = strcmp(n.adapter, "ide") ? 255 : 16;
	if (!ret)
		snprintf(desc, desc_len,
			 "# Disk DescriptorFile\nversion=1\nCID=%08x\nparentCID=ffffffff\n"
			 "createType=\"%s\"\n\n# Extent description\n%s\n"
			 "# The Disk Data Base\n#DDB\n\nddb.virtualHWVersion = \"%u\"\n"
			 "ddb.geometry.cylinders = \"%llu\"\nddb.geometry.heads = \"%llu\"\n"
			 "ddb.geometry.sectors = \"63\"\nddb.adapterType = \"%s\"\n",
			 cid, n.subformat, lines, n.hwversion,
			 (unsigned long long)((sectors + heads * 63 - 1) / (heads * 63)),
			 (unsigned long long)heads, n.adapter);
	free(lines);
	if (!ret)
		ret = create_file(path, &fd, err, errlen);
	if (!ret) {
		if (!nfiles) {
			ret = init_sparse(fd, sectors, true, n.zeroed_grain, n.stream);
			if (!ret && strlen(desc) > DESC_SECTORS * 512)
				ret = -E2BIG;
			if (!ret)
				ret = disk_file_pwrite(fd, desc, strlen(desc), 512);
		} else {
			ret = disk_file_pwrite(fd, desc, strlen(desc), 0);
		}
		if (!ret && fsync(fd) < 0)
			ret = -errno;
		close(fd);
		if (ret) {
			err_set(err, errlen, ret, "%s: %s", path, strerror(-ret));
			unlink(path);
		}
	}
	if (ret) /* nothing half-made is left behind */
		for (uint64_t i = 0; i < made; i++) {
			const char *base = strrchr(path, '/');

			snprintf(full, sizeof(full), "%.*s%s", base ? (int)(base + 1 - path) : 0,
				 path, names[i]);
			unlink(full);
		}
	free(names);
	free(desc);
	return ret;
}
