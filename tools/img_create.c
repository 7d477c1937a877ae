/* SPDX-License-Identifier: MIT */
/*
 * vmm-img create [-q] [-f FMT] [-b BACKING [-F FMT]] [-o OPTIONS] FILE [SIZE]
 *
 * Any format in devices/disk/format.h's table that can create; -o takes
 * qemu-img's option names, checked by the format's driver. An overlay (-b)
 * without SIZE takes the backing file's size. An existing file is never
 * overwritten.
 */
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "tools/img_priv.h"

struct create_args {
	const char *fmt, *path;
	uint64_t size; /* 0: none given */
	struct img_new n;
	bool quiet, help;
};

/* The command line, checked. 0, or 1 after img_fail(). */
static int create_parse(int argc, char **argv, struct create_args *a)
{
	struct stat st;
	int c;

	while ((c = getopt(argc, argv, "+qf:b:F:o:h")) != -1) {
		switch (c) {
		case 'q':
			a->quiet = true;
			break;
		case 'f':
			a->fmt = optarg;
			break;
		case 'b':
			a->n.backing = optarg;
			break;
		case 'F':
			a->n.backing_fmt = optarg;
			break;
		case 'o':
			if (img_parse_o(optarg, &a->n))
				return 1;
			break;
		case 'h':
			a->help = true;
			return 0;
		default:
			return img_fail("create: bad option (see vmm-img --help)");
		}
	}
	if (!img_valid_format(a->fmt))
		return img_fail("create: unknown format '%s'", a->fmt);
	if (!disk_format_find(a->fmt)->create)
		return img_fail("create: vmm-img cannot create %s images", a->fmt);
	if (a->n.backing_fmt && !img_valid_format(a->n.backing_fmt))
		return img_fail("create: unknown backing format '%s'", a->n.backing_fmt);
	if (optind >= argc || argc - optind > 2)
		return img_fail("create: expected FILE [SIZE]");
	a->path = argv[optind];
	if (argc - optind == 2 && (img_parse_size(argv[optind + 1], &a->size) < 0 || a->size % 512))
		return img_fail("%s: invalid size '%s' (a multiple of 512 bytes, e.g. 20G)",
				a->path, argv[optind + 1]);
	if (argc - optind == 1 && !a->n.backing)
		return img_fail("%s: image size required", a->path);
	if (lstat(a->path, &st) == 0)
		return img_fail("%s: file exists (not overwriting it)", a->path);
	return 0;
}

/* Through the format's driver; with a backing file, *base is what was read
 * of it (the caller frees it). a->size becomes the size the image was made
 * with. */
static int create_image(struct create_args *a, struct img **base)
{
	struct disk_create_opts o = {
		.size = a->size,
		.backing_file = a->n.backing,
		.backing_format = a->n.backing_fmt,
		.options = a->n.rest[0] ? a->n.rest : NULL,
	};
	char err[ERRLEN] = "", *bpath;

	if (a->n.backing) {
		/* Read the backing file now: it must exist, and its format
		 * (recorded so nobody has to probe later) and size are
		 * needed. It is named relative to the new image. */
		*base = malloc(sizeof(**base));
		bpath = disk_resolve_path(a->path, a->n.backing);
		if (!*base || !bpath) {
			free(bpath);
			return img_fail("out of memory");
		}
		if (img_read(bpath, a->n.backing_fmt, *base, err, sizeof(err)) < 0) {
			free(bpath);
			return img_fail("%s", err);
		}
		free(bpath);
		o.backing_format = (*base)->format;
		if (!a->size)
			o.size = (*base)->vsize;
	}
	if (disk_format_find(a->fmt)->create(a->path, &o, err, sizeof(err)) < 0)
		return img_fail("%s", err);
	a->size = o.size;
	return 0;
}

/* qemu-img's line, which scripts may look for. */
static void create_print(const struct create_args *a, const struct img *base)
{
	printf("Formatting '%s', fmt=%s", a->path, a->fmt);
	if (a->n.rest[0])
		putchar(' ');
	for (const char *p = a->n.rest; *p; p++)
		putchar(*p == ',' ? ' ' : *p);
	printf(" size=%llu", (unsigned long long)a->size);
	if (a->n.backing)
		printf(" backing_file=%s backing_fmt=%s", a->n.backing, base->format);
	putchar('\n');
}

int cmd_create(int argc, char **argv)
{
	struct create_args a = { .fmt = "raw" };
	struct img *base = NULL;
	int ret;

	ret = create_parse(argc, argv, &a);
	if (ret)
		return ret;
	if (a.help)
		return img_usage(stdout), 0;
	ret = create_image(&a, &base);
	if (ret == 0 && !a.quiet)
		create_print(&a, base);
	free(base);
	return ret;
}
