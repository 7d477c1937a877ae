/* SPDX-License-Identifier: MIT */
/*
 * vmm-img info [-f FMT] [--output=human|json] [--backing-chain] FILE
 *
 * The fields and their layout are qemu-img's, so that scripts written for
 * `qemu-img info` read ours.
 */
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "tools/img_priv.h"

#define MAX_CHAIN 16 /* longest backing chain `info --backing-chain` follows */

/* qemu-img's size_to_str: three significant digits, binary units. */
static void human_size(uint64_t v, char *buf, size_t len)
{
	static const char *const unit[] = { "B", "KiB", "MiB", "GiB", "TiB", "PiB", "EiB" };
	double d = (double)v;
	unsigned int i = 0;

	while (d >= 1000.0 && i < 6) {
		d /= 1024.0;
		i++;
	}
	snprintf(buf, len, "%0.3g %s", d, unit[i]);
}

static void info_human(const struct img *im)
{
	char vs[32], as[32];

	human_size(im->vsize, vs, sizeof(vs));
	human_size(im->actual, as, sizeof(as));
	printf("image: %s\nfile format: %s\nvirtual size: %s (%llu bytes)\ndisk size: %s\n",
	       im->path, im->format, vs, (unsigned long long)im->vsize, as);
	if (!im->is_qcow2)
		return;
	printf("cluster_size: %llu\n", 1ULL << im->h.cluster_bits);
	if (im->h.backing_file[0]) {
		printf("backing file: %s", im->h.backing_file);
		if (strcmp(im->h.backing_file, im->backing_path))
			printf(" (actual path: %s)", im->backing_path);
		putchar('\n');
		if (im->h.backing_format[0])
			printf("backing file format: %s\n", im->h.backing_format);
	}
	printf("Format specific information:\n    compat: %s\n",
	       im->h.version >= 3 ? "1.1" : "0.10");
	printf("    lazy refcounts: %s\n",
	       (im->h.compatible_features & QCOW2_COMPAT_LAZY_REFCOUNTS) ? "true" : "false");
	printf("    refcount bits: %u\n", 1U << im->h.refcount_order);
	printf("    corrupt: %s\n",
	       (im->h.incompatible_features & QCOW2_INCOMPAT_CORRUPT) ? "true" : "false");
	printf("    dirty: %s\n",
	       (im->h.incompatible_features & QCOW2_INCOMPAT_DIRTY) ? "true" : "false");
}

static void info_json(const struct img *im)
{
	printf("{\n    \"filename\": ");
	img_json_str(im->path);
	printf(",\n    \"format\": \"%s\",\n    \"virtual-size\": %llu,\n    \"actual-size\": %llu",
	       im->format, (unsigned long long)im->vsize, (unsigned long long)im->actual);
	if (im->is_qcow2) {
		const struct qcow2_header *h = &im->h;

		printf(",\n    \"cluster-size\": %llu", 1ULL << h->cluster_bits);
		printf(",\n    \"dirty-flag\": %s",
		       (h->incompatible_features & QCOW2_INCOMPAT_DIRTY) ? "true" : "false");
		if (h->backing_file[0]) {
			printf(",\n    \"backing-filename\": ");
			img_json_str(h->backing_file);
			printf(",\n    \"full-backing-filename\": ");
			img_json_str(im->backing_path);
			if (h->backing_format[0]) {
				printf(",\n    \"backing-filename-format\": ");
				img_json_str(h->backing_format);
			}
		}
		printf(",\n    \"format-specific\": {\n        \"type\": \"qcow2\",\n"
		       "        \"data\": {\n            \"compat\": \"%s\",\n"
		       "            \"lazy-refcounts\": %s,\n            \"refcount-bits\": %u,\n"
		       "            \"corrupt\": %s\n        }\n    }",
		       h->version >= 3 ? "1.1" : "0.10",
		       (h->compatible_features & QCOW2_COMPAT_LAZY_REFCOUNTS) ? "true" : "false",
		       1U << h->refcount_order,
		       (h->incompatible_features & QCOW2_INCOMPAT_CORRUPT) ? "true" : "false");
	}
	printf("\n}");
}

int cmd_info(int argc, char **argv)
{
	static const struct option lopts[] = {
		{ "output", required_argument, NULL, 'J' },
		{ "backing-chain", no_argument, NULL, 'C' },
		{ "help", no_argument, NULL, 'h' },
		{ 0 },
	};
	const char *fmt = NULL, *path;
	bool json = false, chain = false;
	char err[ERRLEN], next[PATH_MAX];
	struct img *im;
	int c, depth, ret = 0;

	while ((c = getopt_long(argc, argv, "+f:h", lopts, NULL)) != -1) {
		if (c == 'f' && img_valid_format(optarg))
			fmt = optarg;
		else if (c == 'J' && img_output_json(optarg, &json))
			continue;
		else if (c == 'C')
			chain = true;
		else if (c == 'h')
			return img_usage(stdout), 0;
		else
			return img_fail("info: bad option (see vmm-img --help)");
	}
	if (optind != argc - 1)
		return img_fail("info: expected one image file");
	path = argv[optind];
	im = malloc(sizeof(*im));
	if (!im)
		return img_fail("out of memory");
	if (json && chain)
		printf("[");
	for (depth = 0; depth < MAX_CHAIN; depth++) {
		if (img_read(path, depth ? NULL : fmt, im, err, sizeof(err)) < 0) {
			ret = img_fail("%s", err);
			break;
		}
		if (depth)
			printf(json ? ", " : "\n");
		if (json)
			info_json(im);
		else
			info_human(im);
		if (!chain || !im->backing_path[0])
			break;
		snprintf(next, sizeof(next), "%s", im->backing_path);
		path = next;
	}
	if (depth == MAX_CHAIN)
		ret = img_fail("%s: backing chain longer than %d images", argv[optind], MAX_CHAIN);
	if (json)
		printf(chain ? "]\n" : "\n");
	free(im);
	return ret;
}
