/* SPDX-License-Identifier: MIT */
/*
 * vmm-img info [-f FMT] [--output=human|json] [--backing-chain] FILE
 *
 * The fields and their layout are qemu-img's, so that scripts written for
 * `qemu-img info` read ours. Ours adds whether the format was only probed
 * ("format source: probed|given", "format-probed": true|false): a probed raw image
 * keeps the guest from writing another format's header (disk.c).
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

/* "lazy-refcounts" -> "lazy refcounts", as qemu-img prints the human form. */
static void human_key(const char *key)
{
	for (; *key; key++)
		putchar(*key == '-' ? ' ' : *key);
}

static void info_human(const struct img *im)
{
	const struct disk_info *in = &im->info;
	char vs[32], as[32];

	human_size(im->vsize, vs, sizeof(vs));
	human_size(im->actual, as, sizeof(as));
	printf("image: %s\nfile format: %s\nformat source: %s\nvirtual size: %s (%llu bytes)\n"
	       "disk size: %s\n",
	       im->path, im->format, im->format_probed ? "probed" : "given", vs,
	       (unsigned long long)im->vsize, as);
	if (in->cluster_size)
		printf("cluster_size: %llu\n", (unsigned long long)in->cluster_size);
	if (in->backing_file[0]) {
		printf("backing file: %s", in->backing_file);
		if (strcmp(in->backing_file, im->backing_path))
			printf(" (actual path: %s)", im->backing_path);
		putchar('\n');
		if (in->backing_format[0])
			printf("backing file format: %s\n", in->backing_format);
	}
	if (!in->n && !in->subformat)
		return;
	printf("Format specific information:\n");
	if (in->subformat)
		printf("    subformat: %s\n", in->subformat);
	for (unsigned int i = 0; i < in->n; i++) {
		printf("    ");
		human_key(in->kv[i].key);
		printf(": %s\n", in->kv[i].value);
	}
}

static void info_json(const struct img *im)
{
	const struct disk_info *in = &im->info;

	printf("{\n    \"filename\": ");
	img_json_str(im->path);
	printf(",\n    \"format\": \"%s\",\n    \"format-probed\": %s"
	       ",\n    \"virtual-size\": %llu,\n    \"actual-size\": %llu",
	       im->format, im->format_probed ? "true" : "false", (unsigned long long)im->vsize,
	       (unsigned long long)im->actual);
	if (in->cluster_size)
		printf(",\n    \"cluster-size\": %llu", (unsigned long long)in->cluster_size);
	if (in->n || in->subformat || in->cluster_size)
		printf(",\n    \"dirty-flag\": %s", in->dirty ? "true" : "false");
	if (in->backing_file[0]) {
		printf(",\n    \"backing-filename\": ");
		img_json_str(in->backing_file);
		printf(",\n    \"full-backing-filename\": ");
		img_json_str(im->backing_path);
		if (in->backing_format[0]) {
			printf(",\n    \"backing-filename-format\": ");
			img_json_str(in->backing_format);
		}
	}
	if (!in->n && !in->subformat) {
		printf("\n}");
		return;
	}
	printf(",\n    \"format-specific\": {\n        \"type\": \"%s\",\n"
	       "        \"data\": {",
	       im->format);
	if (in->subformat) {
		printf("\n            \"subformat\": ");
		img_json_str(in->subformat);
	}
	for (unsigned int i = 0; i < in->n; i++) {
		printf("%s\n            ", i || in->subformat ? "," : "");
		img_json_str(in->kv[i].key);
		printf(": ");
		if (in->kv[i].is_number)
			printf("%s", in->kv[i].value);
		else
			img_json_str(in->kv[i].value);
	}
	printf("\n        }\n    }\n}");
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
	char err[ERRLEN], next[PATH_MAX], next_fmt_buf[32];
	const char *next_fmt = NULL;
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
		/* A backing file is read as the format its overlay records. */
		if (img_read(path, depth ? next_fmt : fmt, im, err, sizeof(err)) < 0) {
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
		snprintf(next_fmt_buf, sizeof(next_fmt_buf), "%s", im->info.backing_format);
		next_fmt = next_fmt_buf[0] ? next_fmt_buf : NULL;
		path = next;
	}
	if (depth == MAX_CHAIN)
		ret = img_fail("%s: backing chain longer than %d images", argv[optind], MAX_CHAIN);
	if (json)
		printf(chain ? "]\n" : "\n");
	free(im);
	return ret;
}
