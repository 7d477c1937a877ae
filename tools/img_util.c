/* SPDX-License-Identifier: MIT */
/*
 * vmm-img: what the subcommands share. The one-line failure message, SIZE
 * and -o parsing, the format names, reading an image's format and qcow2
 * header (info, create -b, check), and JSON string output.
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
#include "devices/disk/disk.h"
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
	char *save = NULL, *kv;

	if (strlen(arg) >= sizeof(n->copy))
		return img_fail("-o %s: option string too long", arg);
	strcpy(n->copy, arg);
	for (kv = strtok_r(n->copy, ",", &save); kv; kv = strtok_r(NULL, ",", &save)) {
		char *val = strchr(kv, '=');

		if (!val)
			return img_fail("-o %s: expected key=value", kv);
		*val++ = '\0';
		if (!strcmp(kv, "cluster_size")) {
			uint64_t *cs = &n->cluster_size;

			if (img_parse_size(val, cs) < 0 || *cs < 512 || *cs > (2U << 20) ||
			    (*cs & (*cs - 1)))
				return img_fail(
					"cluster_size=%s: must be a power of two from 512 to 2M",
					val);
		} else if (!strcmp(kv, "backing_file")) {
			n->backing = val;
		} else if (!strcmp(kv, "backing_fmt")) {
			n->backing_fmt = val;
		} else {
			return img_fail("-o %s: unknown option", kv);
		}
	}
	return 0;
}

unsigned int img_cluster_bits(const struct img_new *n)
{
	return n->cluster_size ? (unsigned int)__builtin_ctzll(n->cluster_size) : 0;
}

bool img_valid_format(const char *f)
{
	return !strcmp(f, "raw") || !strcmp(f, "qcow2");
}

bool img_output_json(const char *arg, bool *json)
{
	*json = !strcmp(arg, "json");
	return *json || !strcmp(arg, "human");
}

/* As QEMU resolves it: relative to the overlay's directory, not to the
 * current directory. */
void img_resolve_backing(const char *image, const char *backing, char *out, size_t len)
{
	const char *slash = strrchr(image, '/');

	if (backing[0] == '/' || !slash)
		snprintf(out, len, "%s", backing);
	else
		snprintf(out, len, "%.*s/%s", (int)(slash - image), image, backing);
}

int img_read(const char *path, const char *fmt, struct img *im, char *err, size_t errlen)
{
	struct stat st;
	uint8_t *buf = NULL;
	char msg[256] = "";
	const char *probed;
	int fd, ret = -EINVAL;
	ssize_t n;
	off_t end;

	memset(im, 0, sizeof(*im));
	snprintf(im->path, sizeof(im->path), "%s", path);
	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0 || fstat(fd, &st) < 0) {
		ret = err_set(err, errlen, -errno, "%s: %s", path, strerror(errno));
		goto out;
	}
	if (!S_ISREG(st.st_mode) && !S_ISBLK(st.st_mode)) {
		err_set(err, errlen, ret, "%s: not a regular file or block device", path);
		goto out;
	}
	end = lseek(fd, 0, SEEK_END); /* block devices have no st_size */
	probed = disk_probe_format(fd);
	if (end < 0 || !probed) {
		ret = err_set(err, errlen, -errno, "%s: cannot read: %s", path, strerror(errno));
		goto out;
	}
	if (fmt && strcmp(fmt, probed)) {
		err_set(err, errlen, ret, "%s: image is %s, not %s", path, probed, fmt);
		goto out;
	}
	im->format = probed;
	im->actual = (uint64_t)st.st_blocks * 512;
	im->vsize = (uint64_t)end;
	im->is_qcow2 = !strcmp(probed, "qcow2");
	if (!im->is_qcow2) {
		ret = 0;
		goto out;
	}
	buf = malloc(1U << QCOW2_MAX_CLUSTER_BITS);
	n = buf ? pread(fd, buf, 1U << QCOW2_MAX_CLUSTER_BITS, 0) : -1;
	if (n < 0) {
		err_set(err, errlen, ret, "%s: cannot read: %s", path, strerror(errno));
		goto out;
	}
	ret = qcow2_header_parse(buf, (size_t)n, (uint64_t)end, &im->h, msg, sizeof(msg));
	if (ret < 0) {
		err_set(err, errlen, ret, "%s: %s", path, msg);
		goto out;
	}
	im->vsize = im->h.size;
	if (im->h.backing_file[0])
		img_resolve_backing(path, im->h.backing_file, im->backing_path,
				    sizeof(im->backing_path));
out:
	free(buf);
	if (fd >= 0)
		close(fd);
	return ret;
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
