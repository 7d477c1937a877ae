/* SPDX-License-Identifier: MIT */
/*
 * vmm-img: what the subcommands share. The one-line failure message, SIZE
 * and -o parsing, the format names, reading what `info` shows of an image
 * (info, create -b, check), and JSON string output.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "base/err.h"
#include "base/opts.h"
#include "devices/disk/disk.h"
#include "devices/disk/format.h"
#include "tools/img_priv.h"

int img_fail(const char *fmt, ...)
{
	va_list ap;

	fputs("vmm-img: ", stderr);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputc('\n', stderr);
	return 1;
}

int img_parse_size(const char *s, uint64_t *out)
{
	static const char units[] = "kmgtpe";
	unsigned long long v;
	const char *u;
	char *end;

	if (*s < '0' || *s > '9')
		return -EINVAL;
	errno = 0;
	v = strtoull(s, &end, 10);
	if (errno)
		return -EINVAL;
	if (*end) {
		char c = (char)(*end | 0x20);

		u = c ? strchr(units, c) : NULL;
		if (!u || (end[1] && !(end[1] == 'B' && !end[2])))
			return -EINVAL;
		for (long i = 0; i <= u - units; i++) {
			if (__builtin_mul_overflow(v, 1024ULL, &v))
				return -EINVAL;
		}
	}
	*out = v;
	return 0;
}

int img_parse_o(const char *arg, struct img_new *n)
{
	size_t used = strlen(n->rest), len = strlen(arg);
	char *rest, *kv;

	if (len >= sizeof(n->copy) - n->copy_used)
		return img_fail("-o %s: option string too long", arg);
	/* Several -o add up, as in qemu-img; the strings stay in n->copy, one
	 * after the other (strlen() of it would stop at the first split). */
	kv = n->copy + n->copy_used;
	memcpy(kv, arg, len + 1);
	n->copy_used += len + 1;
	rest = kv;
	while ((kv = opts_next(&rest, NULL))) {
		char *val = strchr(kv, '=');
		int w;

		if (val && !strncmp(kv, "backing_file=", 13)) {
			n->backing = val + 1;
		} else if (val && !strncmp(kv, "backing_fmt=", 12)) {
			n->backing_fmt = val + 1;
		} else {
			/* The format's own options: its driver checks them. */
			w = snprintf(n->rest + used, sizeof(n->rest) - used, "%s%s",
				     used ? "," : "", kv);
			if (w < 0 || (size_t)w >= sizeof(n->rest) - used)
				return img_fail("-o %s: option string too long", arg);
			used += (size_t)w;
		}
		if (val)
			*val = '\0';
	}
	return 0;
}

bool img_valid_format(const char *f)
{
	return disk_format_find(f) != NULL;
}

bool img_output_json(const char *arg, bool *json)
{
	*json = !strcmp(arg, "json");
	return *json || !strcmp(arg, "human");
}

int img_read(const char *path, const char *fmt, struct img *im, char *err, size_t errlen)
{
	struct disk_open_opts o = {
		.readonly = true, .no_backing = true, .format = fmt, .engine = DISK_ENGINE_SYNC
	};
	const struct disk_format *f;
	struct disk *d;
	struct stat st;
	char *bp;
	int ret;

	memset(im, 0, sizeof(*im));
	snprintf(im->path, sizeof(im->path), "%s", path);
	ret = disk_open(path, &o, &d, err, errlen);
	if (ret)
		return ret;
	f = disk_format_find(d->format);
	im->format = f->name;
	im->format_probed = d->format_probed;
	im->vsize = d->size;
	if (stat(path, &st) == 0)
		im->actual = (uint64_t)st.st_blocks * 512;
	if (f->info)
		f->info(d, &im->info);
	disk_close(d);
	if (im->info.backing_file[0]) {
		bp = disk_resolve_path(path, im->info.backing_file);
		if (!bp)
			return err_set(err, errlen, -ENOMEM, "out of memory");
		snprintf(im->backing_path, sizeof(im->backing_path), "%s", bp);
		free(bp);
	}
	return 0;
}

void img_json_str(const char *s)
{
	putchar('"');
	for (; *s; s++) {
		unsigned char ch = (unsigned char)*s;

		if (ch == '"' || ch == '\\')
			printf("\\%c", ch);
		else if (ch < 0x20)
			printf("\\u%04x", ch);
		else
			putchar(ch);
	}
	putchar('"');
}
