/* SPDX-License-Identifier: MIT */
/*
 * Creating a QED image (qemu-img create -f qed) with qemu-img's layout: one
 * header cluster (the backing file name right after the header fields),
 * then the L1 table. Options: cluster_size, table_size; backing_fmt=raw is
 * recorded as the "no probe" feature, the only backing format QED records.
 */
#include <endian.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "devices/disk/disk.h"
#include "devices/disk/qed_priv.h"
#include "base/err.h"
#include "base/byteorder.h"

/* -o KEY=N (a power of two in [lo, hi], k/M suffixes) into *out. */
static int opt_pow2(const char *options, const char *key, uint64_t lo, uint64_t hi, uint32_t *out,
		    char *err, size_t errlen)
{
	char v[32], *end;
	unsigned long long n;

	if (!disk_opts_get(options, key, v, sizeof(v)))
		return 0;
	errno = 0;
	n = strtoull(v, &end, 10);
	if (!errno && (*end | 0x20) == 'k')
		n <<= 10, end++;
	else if (!errno && (*end | 0x20) == 'm')
		n <<= 20, end++;
	if (errno || *end || end == v || n < lo || n > hi || (n & (n - 1)))
		return err_set(err, errlen, -EINVAL,
			       "qed: %s=%s: must be a power of two from %" PRIu64 " to %" PRIu64,
			       key, v, lo, hi);
	*out = (uint32_t)n;
	return 0;
}

/* The size of the backing file to take when none was given. */
static int backing_size(const char *path, const struct disk_create_opts *o, uint64_t *size,
			char *err, size_t errlen)
{
	struct disk_open_opts dopts = { .readonly = true, .format = o->backing_format };
	char *p = disk_resolve_path(path, o->backing_file);
	struct disk *b;
	int ret;

	if (!p)
		return err_set(err, errlen, -ENOMEM, "out of memory");
	ret = disk_open(p, &dopts, &b, err, errlen);
	free(p);
	if (ret)
		return ret;
	*size = b->size;
	disk_close(b);
	return 0;
}

int qed_create(const char *path, const struct disk_create_opts *o, char *err, size_t errlen)
{
	static const char *const known[] = { "cluster_size", "table_size", NULL };
	uint32_t cs = QED_DEFAULT_CLUSTER_SIZE, ts = QED_DEFAULT_TABLE_SIZE;
	size_t blen = o->backing_file ? strlen(o->backing_file) : 0;
	uint64_t size = o->size, features = 0, max;
	uint8_t *buf;
	int ret;

	ret = disk_opts_check(o->options, "qed", known, err, errlen);
	if (ret == 0)
		ret = opt_pow2(o->options, "cluster_size", QED_MIN_CLUSTER_SIZE,
			       QED_MAX_CLUSTER_SIZE, &cs, err, errlen);
	if (ret == 0)
		ret = opt_pow2(o->options, "table_size", 1, QED_MAX_TABLE_SIZE, &ts, err, errlen);
	if (ret == 0 && size == 0 && o->backing_file)
		ret = backing_size(path, o, &size, err, errlen);
	if (ret)
		return ret;
	if (blen && (blen >= 1024 || QED_HEADER_LEN + blen > cs))
		return err_set(err, errlen, -EINVAL, "qed: backing file name too long");
	if (o->backing_format && !o->backing_file)
		return err_set(err, errlen, -EINVAL, "qed: backing format given without a file");
	size = (size + 511) & ~511ULL;
	max = (uint64_t)ts * cs / 8;
	max = __builtin_ctzll(max) * 2 + __builtin_ctzll(cs) >= 64 ? UINT64_MAX : max * max * cs;
	if (size > max)
		return err_set(err, errlen, -EINVAL,
			       "qed: size too large for cluster_size %u, table_size %u", cs, ts);
	if (blen)
		features |= QED_F_BACKING_FILE;
	if (o->backing_format && !strcmp(o->backing_format, "raw"))
		features |= QED_F_BACKING_FORMAT_NO_PROBE;
	buf = calloc(1, cs);
	if (!buf)
		return err_set(err, errlen, -ENOMEM, "out of memory");
	put_le32(buf, QED_MAGIC);
	put_le32(buf + 4, cs);
	put_le32(buf + 8, ts);
	put_le32(buf + 12, 1); /* header_size, in clusters */
	put_le64(buf + 16, features);
	put_le64(buf + 40, cs); /* the L1 table: right after the header cluster */
	put_le64(buf + 48, size);
	if (blen) {
		put_le32(buf + 0x38, QED_HEADER_LEN);
		put_le32(buf + 0x3c, (uint32_t)blen);
		memcpy(buf + QED_HEADER_LEN, o->backing_file, blen);
	}
	/* the L1 table after the header cluster: zeros */
	ret = disk_create_file(path, buf, cs, (uint64_t)cs * (1 + ts), err, errlen);
	free(buf);
	return ret;
}
