/* SPDX-License-Identifier: MIT */
/*
 * vmm-img compare [-q] [-p] [-s] [-f FMT] [-F FMT] IMG1 IMG2
 *
 * As `qemu-img compare`: reads both images through their backing chains and
 * prints "Images are identical." (exit 0) or "Content mismatch at offset
 * N!" (exit 1); an error is exit 2. Images of different sizes match when
 * the larger one's extra part reads as zeros, unless -s (strict) is given,
 * where any size difference is a mismatch.
 */
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "devices/disk/disk.h"
#include "tools/img_priv.h"
#include "tools/progress.h"

#define COMPARE_CHUNK  (1U << 20)
#define EXIT_DIFFERENT 1
#define EXIT_ERROR     2

struct compare_args {
	struct disk_open_opts o1, o2;
	const char *p1, *p2;
	bool quiet, force, strict, help;
};

static int compare_parse(int argc, char **argv, struct compare_args *a)
{
	int c;

	while ((c = getopt(argc, argv, "+qpsf:F:h")) != -1) {
		switch (c) {
		case 'q':
			a->quiet = true;
			break;
		case 'p':
			a->force = true;
			break;
		case 's':
			a->strict = true;
			break;
		case 'f':
		case 'F':
			if (!img_valid_format(optarg))
				return img_fail("compare: unknown format '%s'", optarg);
			(c == 'f' ? &a->o1 : &a->o2)->format = optarg;
			break;
		case 'h':
			a->help = true;
			return 0;
		default:
			return img_fail("compare: bad option (see vmm-img --help)");
		}
	}
	if (argc - optind != 2)
		return img_fail("compare: expected two image files");
	a->p1 = argv[optind];
	a->p2 = argv[optind + 1];
	return 0;
}

/* The first differing byte of two equal-length buffers, or len. */
static size_t first_diff(const uint8_t *x, const uint8_t *y, size_t len)
{
	size_t i = 0;

	while (i + 64 <= len && !memcmp(x + i, y + i, 64))
		i += 64;
	while (i < len && x[i] == y[i])
		i++;
	return i;
}

/* [off, end) of `d` against zeros (the part only the larger image has). */
static int compare_tail(struct disk *d, uint64_t off, uint64_t end, uint8_t *buf,
			const uint8_t *zeros, uint64_t *mismatch)
{
	for (; off < end; off += COMPARE_CHUNK) {
		size_t n = end - off < COMPARE_CHUNK ? (size_t)(end - off) : COMPARE_CHUNK;
		size_t i;
		int ret = disk_pread(d, buf, n, off);

		if (ret < 0) {
			img_fail("%s: read at %llu: %s", d->path, (unsigned long long)off,
				 strerror(-ret));
			return ret;
		}
		i = first_diff(buf, zeros, n);
		if (i < n) {
			*mismatch = off + i;
			return 1;
		}
	}
	return 0;
}

/* 0 identical, 1 with *mismatch set, or -errno after img_fail(). */
static int compare_images(struct disk *d1, struct disk *d2, bool show, uint64_t *mismatch)
{
	uint64_t common = d1->size < d2->size ? d1->size : d2->size, off;
	uint8_t *b1 = NULL, *b2 = NULL, *zeros = NULL;
	struct progress bar;
	int ret = 0;

	if (posix_memalign((void **)&b1, 4096, COMPARE_CHUNK) ||
	    posix_memalign((void **)&b2, 4096, COMPARE_CHUNK) ||
	    !(zeros = calloc(1, COMPARE_CHUNK))) {
		ret = -1;
		img_fail("out of memory");
		goto out;
	}
	progress_init(&bar, show);
	for (off = 0; off < common && !ret; off += COMPARE_CHUNK) {
		size_t n = common - off < COMPARE_CHUNK ? (size_t)(common - off) : COMPARE_CHUNK;
		struct disk *bad = d1;
		size_t i;

		ret = disk_pread(d1, b1, n, off);
		if (ret == 0) {
			bad = d2;
			ret = disk_pread(d2, b2, n, off);
		}
		if (ret < 0) {
			img_fail("%s: read at %llu: %s", bad->path, (unsigned long long)off,
				 strerror(-ret));
			break;
		}
		i = first_diff(b1, b2, n);
		if (i < n) {
			*mismatch = off + i;
			ret = 1;
		}
		progress_update(&bar, off + n, common);
	}
	if (!ret && d1->size != d2->size)
		ret = compare_tail(d1->size > d2->size ? d1 : d2, common,
				   d1->size > d2->size ? d1->size : d2->size, b1, zeros, mismatch);
	if (ret)
		progress_hide(&bar);
	else
		progress_finish(&bar);
out:
	free(b1);
	free(b2);
	free(zeros);
	return ret;
}

int cmd_compare(int argc, char **argv)
{
	struct compare_args a = { .o1 = { .readonly = true }, .o2 = { .readonly = true } };
	struct disk *d1 = NULL, *d2 = NULL;
	uint64_t mismatch = 0;
	char err[ERRLEN];
	int ret;

	if (compare_parse(argc, argv, &a))
		return EXIT_ERROR;
	if (a.help)
		return img_usage(stdout), 0;
	if (disk_open(a.p1, &a.o1, &d1, err, sizeof(err)) < 0 ||
	    disk_open(a.p2, &a.o2, &d2, err, sizeof(err)) < 0) {
		img_fail("%s", err);
		ret = EXIT_ERROR;
		goto out;
	}
	if (a.strict && d1->size != d2->size) {
		if (!a.quiet)
			printf("Strict mode: Image size mismatch!\n");
		ret = EXIT_DIFFERENT;
		goto out;
	}
	ret = compare_images(d1, d2, !a.quiet && progress_wanted(a.force, d1->size), &mismatch);
	if (ret < 0) {
		ret = EXIT_ERROR;
	} else if (ret) {
		if (!a.quiet)
			printf("Content mismatch at offset %llu!\n", (unsigned long long)mismatch);
		ret = EXIT_DIFFERENT;
	} else if (!a.quiet) {
		printf("Images are identical.\n");
	}
out:
	if (d2)
		disk_close(d2);
	if (d1)
		disk_close(d1);
	return ret;
}
