/* SPDX-License-Identifier: MIT */
/*
 * qcow2's entry in the format table (format.h): probing, and the adapters
 * from the table's create/check/info to qcow2_create, qcow2_check_image and
 * the header.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/err.h"
#include "devices/disk/disk_priv.h"
#include "devices/disk/qcow2.h"
#include "devices/disk/qcow2_priv.h"

static int qcow2_probe(const uint8_t *buf, size_t len)
{
	if (len >= 4 && ((uint32_t)buf[0] << 24 | (uint32_t)buf[1] << 16 | (uint32_t)buf[2] << 8 |
			 buf[3]) == QCOW2_MAGIC)
		return 100;
	return 0;
}

/* -o cluster_size=N: a power of two from 512 to 2M. */
static int parse_cluster_size(const char *path, const char *options, unsigned int *bits, char *err,
			      size_t errlen)
{
	char val[32], *end;
	unsigned long long cs;

	*bits = 0;
	if (!disk_opts_get(options, "cluster_size", val, sizeof(val)))
		return 0;
	errno = 0;
	cs = strtoull(val, &end, 10);
	if (!errno && (*end | 0x20) == 'k')
		cs <<= 10, end++;
	else if (!errno && (*end | 0x20) == 'm')
		cs <<= 20, end++;
	if (errno || *end || end == val || cs < (1U << QCOW2_MIN_CLUSTER_BITS) ||
	    cs > (1U << QCOW2_MAX_CLUSTER_BITS) || (cs & (cs - 1)))
		return err_set(err, errlen, -EINVAL,
			       "%s: cluster_size=%s: must be a power of two from 512 to 2M", path,
			       val);
	*bits = (unsigned int)__builtin_ctzll(cs);
	return 0;
}

static int qcow2_create_entry(const char *path, const struct disk_create_opts *o, char *err,
			      size_t errlen)
{
	static const char *const known[] = { "cluster_size", "compression_type", NULL };
	char ct[16];
	struct qcow2_create_opts q = {
		.size = o->size,
		.backing_file = o->backing_file,
		.backing_format = o->backing_format,
	};
	int ret;

	ret = disk_opts_check(o->options, "qcow2", known, err, errlen);
	/* What compressed clusters will hold (vmm-img convert -c). */
	if (ret == 0 && disk_opts_get(o->options, "compression_type", ct, sizeof(ct))) {
		if (!strcmp(ct, "zstd"))
			q.compression_type = QCOW2_COMPRESSION_ZSTD;
		else if (strcmp(ct, "zlib"))
			ret = err_set(err, errlen, -EINVAL,
				      "%s: compression_type=%s: must be zlib or zstd", path, ct);
	}
	if (ret == 0)
		ret = parse_cluster_size(path, o->options, &q.cluster_bits, err, errlen);
	if (ret == 0)
		ret = qcow2_create(path, &q, err, errlen);
	return ret;
}

static int qcow2_check_entry(const char *path, const struct disk_check_opts *o,
			     struct disk_check_result *r, char *err, size_t errlen)
{
	struct qcow2_check_opts q = {
		.repair = o->repair == DISK_REPAIR_ALL	   ? QCOW2_REPAIR_ALL
			  : o->repair == DISK_REPAIR_LEAKS ? QCOW2_REPAIR_LEAKS
							   : QCOW2_REPAIR_NONE,
		.progress = o->progress,
		.report = o->report,
		.opaque = o->opaque,
	};
	struct qcow2_check_result qr;
	int ret;

	ret = qcow2_check_image(path, &q, &qr, err, errlen);
	if (ret < 0)
		return ret;
	*r = (struct disk_check_result){
		.corruptions = qr.corruptions,
		.leaks = qr.leaks,
		.corruptions_fixed = qr.corruptions_fixed,
		.leaks_fixed = qr.leaks_fixed,
		.allocated_clusters = qr.allocated_clusters,
		.total_clusters = qr.total_clusters,
		.image_end_offset = qr.image_end_offset,
	};
	return 0;
}

static void qcow2_info(struct disk *d, struct disk_info *out)
{
	const struct qcow2 *q = d->priv;
	const struct qcow2_header *h = &q->h;

	out->cluster_size = q->cluster_size;
	out->write_unit = q->cluster_size;
	out->dirty = h->incompatible_features & QCOW2_INCOMPAT_DIRTY;
	snprintf(out->backing_file, sizeof(out->backing_file), "%s", h->backing_file);
	snprintf(out->backing_format, sizeof(out->backing_format), "%s", h->backing_format);
	disk_info_add(out, "compat", false, "%s", h->version >= 3 ? "1.1" : "0.10");
	disk_info_add(out, "compression-type", false, "%s",
		      h->compression_type == QCOW2_COMPRESSION_ZSTD ? "zstd" : "zlib");
	disk_info_add(out, "lazy-refcounts", true, "%s",
		      (h->compatible_features & QCOW2_COMPAT_LAZY_REFCOUNTS) ? "true" : "false");
	disk_info_add(out, "refcount-bits", true, "%u", 1U << h->refcount_order);
	disk_info_add(out, "corrupt", true, "%s",
		      (h->incompatible_features & QCOW2_INCOMPAT_CORRUPT) ? "true" : "false");
}

const struct disk_format disk_format_qcow2 = {
	.name = "qcow2",
	.probe = qcow2_probe,
	.names_files = true,
	.open = qcow2_open,
	.create = qcow2_create_entry,
	.check = qcow2_check_entry,
	.info = qcow2_info,
};
