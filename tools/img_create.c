/* SPDX-License-Identifier: MIT */
/*
 * vmm-img create [-q] [-f raw|qcow2] [-b BACKING [-F FMT]] [-o cluster_size=N] FILE [SIZE]
 *
 * A qcow2 overlay (-b) without SIZE takes the backing file's size. An
 * existing file is never overwritten.
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
		return img_fail("create: unknown format '%s' (raw or qcow2)", a->fmt);
	if (a->n.backing_fmt && !img_valid_format(a->n.backing_fmt))
		return img_fail("create: unknown backing format '%s'", a->n.backing_fmt);
	if (optind >= argc || argc - optind > 2)
		return img_fail("create: expected FILE [SIZE]");
	a->path = argv[optind];
	if (argc - optind == 2 && (img_parse_size(argv[optind + 1], &a->size) < 0 || a->size % 512))
		return img_fail("%s: invalid size '%s' (a multiple of 512 bytes, e.g. 20G)",
				a->path, argv[optind + 1]);
	if (!strcmp(a->fmt, "raw") && (a->n.backing || a->n.cluster_size))
		return img_fail("%s: backing files and cluster_size need -f qcow2", a->path);
	if (argc - optind == 1 && !a->n.backing)
		return img_fail("%s: image size required", a->path);
	if (lstat(a->path, &st) == 0)
		return img_fail("%s: file exists (not overwriting it)", a->path);
	return 0;
}

/* A sparse file: no blocks until the guest writes. */
static int create_raw(const char *path, uint64_t size)
{
	int fd, ret = 0;

	fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0644);
	if (fd < 0)
		return img_fail("%s: %s", path, strerror(errno));
	if (ftruncate(fd, (off_t)size) < 0) {
		ret = img_fail("%s: %s", path, strerror(errno));
		unlink(path);
	}
	close(fd);
	return ret;
}

/* A qcow2 image; with a backing file, *base is what was read of it (the
 * caller frees it). a->size becomes the size the image was made with. */
static int create_qcow2(struct create_args *a, struct img **base)
{
	struct qcow2_create_opts o = {
		.size = a->size,
		.cluster_bits = img_cluster_bits(&a->n),
		.backing_file = a->n.backing,
		.backing_format = a->n.backing_fmt,
	};
	char err[ERRLEN] = "", bpath[PATH_MAX];

	if (a->n.backing) {
		/* Read the backing file now: it must exist, and its format
		 * (recorded so nobody has to probe later) and size are
		 * needed. It is named relative to the new image. */
		*base = malloc(sizeof(**base));
		if (!*base)
			return img_fail("out of memory");
		img_resolve_backing(a->path, a->n.backing, bpath, sizeof(bpath));
		if (img_read(bpath, a->n.backing_fmt, *base, err, sizeof(err)) < 0)
			return img_fail("%s", err);
		o.backing_format = (*base)->format;
		if (!a->size)
			o.size = (*base)->vsize;
	}
	if (qcow2_create(a->path, &o, err, sizeof(err)) < 0)
		return img_fail("%s", err);
	a->size = o.size;
	return 0;
}

/* qemu-img's line, which scripts may look for. */
static void create_print(const struct create_args *a, const struct img *base)
{
	printf("Formatting '%s', fmt=%s", a->path, a->fmt);
	if (!strcmp(a->fmt, "qcow2"))
		printf(" cluster_size=%llu", a->n.cluster_size
						     ? (unsigned long long)a->n.cluster_size
						     : 1ULL << QCOW2_DEFAULT_CLUSTER_BITS);
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
	if (!strcmp(a.fmt, "raw"))
		ret = create_raw(a.path, a.size);
	else
		ret = create_qcow2(&a, &base);
	if (ret == 0 && !a.quiet)
		create_print(&a, base);
	free(base);
	return ret;
}
