/* SPDX-License-Identifier: MIT */
/*
 * The table of image formats (format.h) and the small helpers the drivers
 * share: -o option strings and `vmm-img info` key/value pairs.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "base/err.h"
#include "devices/disk/format.h"

extern const struct disk_format disk_format_raw;
extern const struct disk_format disk_format_qcow2;
extern const struct disk_format disk_format_vpc;
extern const struct disk_format disk_format_vhdx;
extern const struct disk_format disk_format_vdi;
extern const struct disk_format disk_format_qed;
extern const struct disk_format disk_format_vmdk;

/* Probing order does not matter (the highest score wins; ties go to the
 * earlier entry); raw, the fallback, comes last. */
const struct disk_format *const disk_formats[] = {
	&disk_format_qcow2, &disk_format_vpc,  &disk_format_vhdx, &disk_format_vdi,
	&disk_format_qed,   &disk_format_vmdk, &disk_format_raw,  NULL,
};

const struct disk_format *disk_format_find(const char *name)
{
	for (const struct disk_format *const *f = disk_formats; *f; f++)
		if (!strcmp((*f)->name, name) || ((*f)->alias && !strcmp((*f)->alias, name)))
			return *f;
	return NULL;
}

const struct disk_format *disk_format_probe(const uint8_t *buf, size_t len)
{
	const struct disk_format *best = &disk_format_raw;
	int best_score = 1;

	for (const struct disk_format *const *f = disk_formats; *f; f++) {
		int score = (*f)->probe ? (*f)->probe(buf, len) : 0;

		if (score > best_score) {
			best = *f;
			best_score = score;
		}
	}
	return best;
}

/* The next "key[=value]" of `*s` (advanced past it and its comma). */
static bool opts_next(const char **s, const char **key, size_t *klen, const char **val,
		      size_t *vlen)
{
	const char *p = *s, *end, *eq;

	if (!p || !*p)
		return false;
	end = strchr(p, ',');
	if (!end)
		end = p + strlen(p);
	eq = memchr(p, '=', (size_t)(end - p));
	*key = p;
	*klen = (size_t)((eq ? eq : end) - p);
	*val = eq ? eq + 1 : "on";
	*vlen = eq ? (size_t)(end - eq - 1) : 2;
	*s = *end ? end + 1 : end;
	return true;
}

bool disk_opts_get(const char *options, const char *key, char *out, size_t outlen)
{
	const char *k, *v;
	size_t kl, vl;
	bool found = false;

	/* The last one wins, as in qemu-img. */
	while (opts_next(&options, &k, &kl, &v, &vl)) {
		if (kl != strlen(key) || memcmp(k, key, kl))
			continue;
		snprintf(out, outlen, "%.*s", (int)vl, v);
		found = true;
	}
	return found;
}

int disk_opts_check(const char *options, const char *format, const char *const *known, char *err,
		    size_t errlen)
{
	const char *k, *v;
	size_t kl, vl;

	while (opts_next(&options, &k, &kl, &v, &vl)) {
		const char *const *n = known;

		while (*n && (strlen(*n) != kl || memcmp(*n, k, kl)))
			n++;
		if (!*n)
			return err_set(err, errlen, -EINVAL, "%s does not support option '%.*s'",
				       format, (int)kl, k);
	}
	return 0;
}

void disk_info_add(struct disk_info *info, const char *key, bool is_number, const char *fmt, ...)
{
	va_list ap;

	if (info->n >= DISK_INFO_MAX)
		return;
	snprintf(info->kv[info->n].key, sizeof(info->kv[0].key), "%s", key);
	info->kv[info->n].is_number = is_number;
	va_start(ap, fmt);
	vsnprintf(info->kv[info->n].value, sizeof(info->kv[0].value), fmt, ap);
	va_end(ap);
	info->n++;
}

int disk_create_file(const char *path, const void *buf, size_t len, uint64_t size, char *err,
		     size_t errlen)
{
	const uint8_t *p = buf;
	int fd, ret = 0;

	fd = open(path, O_RDWR | O_CREAT | O_EXCL | O_CLOEXEC, 0644);
	if (fd < 0)
		return err_set(err, errlen, -errno, "%s: %s", path, strerror(errno));
	while (len > 0 && ret == 0) {
		ssize_t n = write(fd, p, len);

		if (n < 0 && errno != EINTR)
			ret = -errno;
		else if (n > 0)
			p += n, len -= (size_t)n;
	}
	if (ret == 0 && (uint64_t)(p - (const uint8_t *)buf) < size &&
	    ftruncate(fd, (off_t)size) < 0)
		ret = -errno;
	if (ret == 0 && fdatasync(fd) < 0)
		ret = -errno;
	if (close(fd) < 0 && ret == 0)
		ret = -errno;
	if (ret) {
		unlink(path);
		return err_set(err, errlen, ret, "%s: write failed: %s", path, strerror(-ret));
	}
	return 0;
}

void disk_check_report(const struct disk_check_opts *o, const char *fmt, ...)
{
	char line[256];
	va_list ap;

	if (!o->report)
		return;
	va_start(ap, fmt);
	vsnprintf(line, sizeof(line), fmt, ap);
	va_end(ap);
	o->report(o->opaque, line);
}
