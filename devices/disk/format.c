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
#include "base/opts.h"
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

bool disk_opts_get(const char *options, const char *key, char *out, size_t outlen)
{
	struct opts_span it;
	bool found = false;

	/* The last one wins, as in qemu-img; a bare key means "on". */
	while (opts_next_span(&options, &it)) {
		if (it.klen != strlen(key) || memcmp(it.key, key, it.klen))
			continue;
		if (it.val)
			snprintf(out, outlen, "%.*s", (int)it.vlen, it.val);
		else
			snprintf(out, outlen, "on");
		found = true;
	}
	return found;
}

int disk_opts_check(const char *options, const char *format, const char *const *known, char *err,
		    size_t errlen)
{
	struct opts_span it;

	/* An empty item is refused here too: it is no option of any format. */
	while (opts_next_span(&options, &it)) {
		const char *const *n = known;

		while (*n && (strlen(*n) != it.klen || memcmp(*n, it.key, it.klen)))
			n++;
		if (!*n)
			return err_set(err, errlen, -EINVAL, "%s does not support option '%.*s'",
				       format, (int)it.klen, it.key);
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
