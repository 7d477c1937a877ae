/* SPDX-License-Identifier: MIT */
/*
 * vmm-img convert [-q] [-p] [-c] [-f FMT] [-O FMT] [-o OPTIONS] SRC DST
 *
 * Reads SRC through the block backend (so through its whole backing chain)
 * and writes a new, self-contained DST; all-zero blocks are not written, so
 * the output stays sparse. With -c (qcow2 output) every cluster is written
 * compressed (-o compression_type=zlib|zstd), except those that do not
 * shrink, as qemu-img does. An existing DST is never overwritten, and a
 * failed conversion leaves nothing under DST's name.
 */
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "base/err.h"
#include "devices/disk/disk.h"
#include "devices/disk/qcow2.h"
#include "tools/img_priv.h"
#include "tools/progress.h"

#define CONVERT_CHUNK (2U << 20)

struct convert_args {
	const char *ofmt, *spath, *dpath;
	struct disk_open_opts sopts;
	struct img_new n; /* -o: a backing file is refused */
	bool force, quiet, help, compress;
};

/* The command line, checked. 0, or 1 after img_fail(). */
static int convert_parse(int argc, char **argv, struct convert_args *a)
{
	struct stat st;
	int c;

	while ((c = getopt(argc, argv, "+qpcf:O:o:h")) != -1) {
		switch (c) {
		case 'q':
			a->quiet = true;
			break;
		case 'p':
			a->force = true;
			break;
		case 'c':
			a->compress = true;
			break;
		case 'f':
			a->sopts.format = optarg;
			break;
		case 'O':
			a->ofmt = optarg;
			break;
		case 'o':
			if (img_parse_o(optarg, &a->n))
				return 1;
			break;
		case 'h':
			a->help = true;
			return 0;
		default:
			return img_fail("convert: bad option (see vmm-img --help)");
		}
	}
	if (a->sopts.format && !img_valid_format(a->sopts.format))
		return img_fail("convert: unknown format '%s'", a->sopts.format);
	if (!img_valid_format(a->ofmt))
		return img_fail("convert: unknown output format '%s'", a->ofmt);
	if (!disk_format_find(a->ofmt)->create)
		return img_fail("convert: vmm-img cannot create %s images", a->ofmt);
	if (a->n.backing)
		return img_fail("convert: backing_file is not supported for the output");
	if (a->compress && strcmp(disk_format_find(a->ofmt)->name, "qcow2"))
		return img_fail("convert: -c (compressed output) needs -O qcow2");
	if (argc - optind != 2)
		return img_fail("convert: expected SRC DST");
	a->spath = argv[optind];
	a->dpath = argv[optind + 1];
	if (lstat(a->dpath, &st) == 0)
		return img_fail("%s: file exists (not overwriting it)", a->dpath);
	return 0;
}

/* The empty output image of `size` bytes, made by its format's driver.
 * *created: DST exists now (and is ours to remove on failure). 0, or 1
 * after img_fail(). */
static int convert_create_dst(const struct convert_args *a, uint64_t size, bool *created)
{
	struct disk_create_opts co = {
		.size = size,
		.options = a->n.rest[0] ? a->n.rest : NULL,
	};
	char err[ERRLEN];

	if (disk_format_find(a->ofmt)->create(a->dpath, &co, err, sizeof(err)) < 0)
		return img_fail("%s", err);
	*created = true;
	return 0;
}

/* The block size the copy writes in: whole clusters (a write never needs
 * copy-on-write of a partial cluster, and a zero cluster stays
 * unallocated), 4 KiB for formats without clusters. */
static uint64_t convert_granularity(struct disk *dst)
{
	const struct disk_format *f = disk_format_find(dst->format);
	struct disk_info info = { 0 };

	if (f->info)
		f->info(dst, &info);
	return info.cluster_size ? info.cluster_size : 4096;
}

static bool all_zero(const uint8_t *p, size_t len)
{
	uint64_t w;

	for (; len >= 8; p += 8, len -= 8) {
		memcpy(&w, p, 8);
		if (w)
			return false;
	}
	for (; len; p++, len--)
		if (*p)
			return false;
	return true;
}

/* [off, off + len) of buf into dst: as it is, or (compress) one cluster
 * of `gran` bytes at a time, compressed. */
static int convert_write(struct disk *dst, const uint8_t *buf, uint64_t off, size_t len,
			 uint64_t gran, bool compress)
{
	int ret = 0;

	if (!compress)
		return disk_pwrite(dst, buf, len, off);
	for (size_t i = 0; i < len && ret == 0; i += gran)
		ret = qcow2_write_compressed(dst, off + i, buf + i,
					     len - i < gran ? len - i : gran);
	return ret;
}

/* Copy [0, src->size) in chunks, writing only runs of `gran`-sized blocks
 * that are not all zero: the output stays sparse. */
static int convert_copy(struct disk *src, struct disk *dst, uint64_t gran, bool compress, bool show,
			char *err, size_t errlen)
{
	struct progress bar;
	uint64_t off;
	uint8_t *buf;
	int ret = 0;

	if (posix_memalign((void **)&buf, 4096, CONVERT_CHUNK))
		return err_set(err, errlen, -ENOMEM, "out of memory");
	progress_init(&bar, show);
	for (off = 0; off < src->size && ret == 0; off += CONVERT_CHUNK) {
		size_t len = src->size - off < CONVERT_CHUNK ? src->size - off : CONVERT_CHUNK;
		size_t i = 0;

		ret = disk_pread(src, buf, len, off);
		if (ret < 0) {
			err_set(err, errlen, ret, "%s: read at %llu: %s", src->path,
				(unsigned long long)off, strerror(-ret));
			break;
		}
		while (i < len && ret == 0) {
			size_t start, n;

			for (; i < len; i += n) {
				n = len - i < gran ? len - i : gran;
				if (!all_zero(buf + i, n))
					break;
			}
			for (start = i; i < len; i += n) {
				n = len - i < gran ? len - i : gran;
				if (all_zero(buf + i, n))
					break;
			}
			if (i > start) {
				ret = convert_write(dst, buf + start, off + start, i - start, gran,
						    compress);
				if (ret < 0)
					err_set(err, errlen, ret, "%s: write at %llu: %s",
						dst->path, (unsigned long long)(off + start),
						strerror(-ret));
			}
		}
		progress_update(&bar, off + len, src->size);
	}
	if (ret == 0) {
		ret = disk_flush(dst);
		if (ret < 0)
			err_set(err, errlen, ret, "%s: flush: %s", dst->path, strerror(-ret));
	}
	if (ret == 0)
		progress_finish(&bar);
	else
		progress_hide(&bar);
	free(buf);
	return ret;
}

int cmd_convert(int argc, char **argv)
{
	struct convert_args a = { .ofmt = "raw", .sopts = { .readonly = true } };
	struct disk_open_opts dopts = { 0 };
	struct disk *src = NULL, *dst = NULL;
	uint64_t gran;
	bool created = false;
	char err[ERRLEN];
	int ret;

	ret = convert_parse(argc, argv, &a);
	if (ret)
		return ret;
	if (a.help)
		return img_usage(stdout), 0;
	if (disk_open(a.spath, &a.sopts, &src, err, sizeof(err)) < 0)
		return img_fail("%s", err);
	ret = convert_create_dst(&a, src->size, &created);
	if (ret)
		goto out;
	ret = 1;
	dopts.format = a.ofmt;
	if (disk_open(a.dpath, &dopts, &dst, err, sizeof(err)) < 0) {
		img_fail("%s", err);
		goto out;
	}
	gran = convert_granularity(dst);
	if (convert_copy(src, dst, gran, a.compress,
			 !a.quiet && progress_wanted(a.force, src->size), err, sizeof(err)) < 0) {
		img_fail("%s", err);
		goto out;
	}
	ret = 0;
out:
	if (dst)
		disk_close(dst);
	disk_close(src);
	/* Nothing half-written is left behind under the output's name. */
	if (ret && created)
		unlink(a.dpath);
	return ret;
}
