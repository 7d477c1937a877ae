/* SPDX-License-Identifier: MIT */
/*
 * QED check and repair, QEMU's block/qed-check.c rules: every table and
 * data cluster an entry names must be cluster aligned, past the header and
 * inside the file, and referenced once; clusters nobody references are
 * leaks. Repair clears the entries that break those rules (their data was
 * never acknowledged, or is lost anyway) and then the need-check flag;
 * leaks are only counted.
 */
#include <endian.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "devices/disk/qed_priv.h"
#include "base/err.h"

struct qchk {
	int fd;
	const struct qed_header *h;
	const struct disk_check_opts *o;
	struct disk_check_result *r;
	uint64_t cs, nclusters;
	uint8_t *used; /* one bit per cluster of the file */
};

/* Mark n clusters from off used; false (a corruption) if one already was. */
static bool mark_used(struct qchk *c, uint64_t off, uint64_t n)
{
	bool ok = true;

	for (uint64_t k = off / c->cs; n--; k++) {
		if (c->used[k / 8] & (1U << (k % 8)))
			ok = false;
		c->used[k / 8] |= (uint8_t)(1U << (k % 8));
	}
	if (!ok)
		c->r->corruptions++;
	return ok;
}

static bool cluster_ok(const struct qchk *c, uint64_t off)
{
	return off % c->cs == 0 && off >= (uint64_t)c->h->header_size * c->cs &&
	       off / c->cs < c->nclusters;
}

/* An entry (`what` idx) that breaks the rules: cleared (repair) or counted. */
static bool bad_entry(struct qchk *c, uint64_t *e, const char *what, uint64_t idx)
{
	disk_check_report(c->o, "ERROR %s %" PRIu64 ": invalid offset 0x%" PRIx64, what, idx,
			  le64toh(*e));
	if (c->o->repair != DISK_REPAIR_ALL) {
		c->r->corruptions++;
		return false;
	}
	*e = 0;
	c->r->corruptions_fixed++;
	return true;
}

static int check_l2(struct qchk *c, uint64_t l1_idx, uint64_t off, uint64_t *t, size_t bytes)
{
	bool dirty = false;
	int ret;

	ret = disk_file_pread(c->fd, t, bytes, off);
	if (ret) {
		c->r->check_errors++;
		return 0;
	}
	for (uint64_t i = 0; i < c->h->table_entries; i++) {
		uint64_t e = le64toh(t[i]);

		if (e <= QED_ZERO_CLUSTER)
			continue;
		c->r->allocated_clusters++;
		if (!cluster_ok(c, e)) {
			dirty |= bad_entry(c, &t[i], "cluster", l1_idx * c->h->table_entries + i);
			continue;
		}
		if (!mark_used(c, e, 1))
			disk_check_report(
				c->o, "ERROR cluster %" PRIu64 " at 0x%" PRIx64 " is used twice",
				l1_idx * c->h->table_entries + i, e);
	}
	return dirty ? disk_file_pwrite(c->fd, t, bytes, off) : 0;
}

static int check_tables(struct qchk *c, uint64_t *l1)
{
	size_t bytes = (size_t)c->h->table_size * c->cs;
	uint64_t *t = malloc(bytes);
	bool dirty = false;
	int ret = 0;

	if (!t)
		return -ENOMEM;
	ret = disk_file_pread(c->fd, l1, bytes, c->h->l1_table_offset);
	for (uint64_t i = 0; ret == 0 && i < c->h->table_entries; i++) {
		uint64_t off = le64toh(l1[i]);

		if (off == 0)
			continue;
		if (!cluster_ok(c, off) || !cluster_ok(c, off + bytes - c->cs)) {
			dirty |= bad_entry(c, &l1[i], "L1 entry", i);
			continue;
		}
		if (!mark_used(c, off, c->h->table_size)) {
			disk_check_report(c->o,
					  "ERROR L2 table %" PRIu64 " at 0x%" PRIx64 " overlaps", i,
					  off);
			continue;
		}
		ret = check_l2(c, i, off, t, bytes);
	}
	if (ret == 0 && dirty)
		ret = disk_file_pwrite(c->fd, l1, bytes, c->h->l1_table_offset);
	free(t);
	return ret;
}

int qed_check_fd(int fd, const char *path, const struct qed_header *h,
		 const struct disk_check_opts *o, struct disk_check_result *r, char *err,
		 size_t errlen)
{
	struct qchk c = { .fd = fd, .h = h, .o = o, .r = r, .cs = h->cluster_size };
	uint64_t *l1 = malloc((size_t)h->table_size * h->cluster_size);
	struct stat st;
	int ret;

	if (fstat(fd, &st) < 0) {
		free(l1);
		return err_set(err, errlen, -errno, "%s: %s", path, strerror(errno));
	}
	c.nclusters = (uint64_t)st.st_size / c.cs;
	c.used = calloc(c.nclusters / 8 + 1, 1);
	if (!c.used || !l1) {
		free(l1);
		free(c.used);
		return err_set(err, errlen, -ENOMEM, "out of memory");
	}
	r->total_clusters = (h->image_size + c.cs - 1) / c.cs;
	mark_used(&c, 0, h->header_size);
	mark_used(&c, h->l1_table_offset, h->table_size);
	ret = check_tables(&c, l1);
	if (ret == 0) {
		for (uint64_t k = h->header_size; k < c.nclusters; k++) {
			if (!(c.used[k / 8] & (1U << (k % 8)))) {
				r->leaks++;
				disk_check_report(c.o, "Leaked cluster %" PRIu64 " (0x%" PRIx64 ")",
						  k, k * c.cs);
			}
		}
	}
	r->image_end_offset = (uint64_t)st.st_size;
	free(l1);
	free(c.used);
	if (ret)
		return err_set(err, errlen, ret, "%s: %s", path, strerror(-ret));
	/* Repaired and consistent: the flag goes (after the fixes are stable). */
	if (o->repair == DISK_REPAIR_ALL && !r->corruptions && !r->check_errors &&
	    (h->features & QED_F_NEED_CHECK)) {
		uint64_t f = htole64(h->features & ~QED_F_NEED_CHECK);

		if (fdatasync(fd) < 0 || disk_file_pwrite(fd, &f, 8, QED_OFF_FEATURES) ||
		    fdatasync(fd) < 0)
			return err_set(err, errlen, -EIO, "%s: cannot clear the need-check flag",
				       path);
	}
	return 0;
}

int qed_check(const char *path, const struct disk_check_opts *o, struct disk_check_result *r,
	      char *err, size_t errlen)
{
	uint8_t buf[4096];
	struct qed_header h;
	struct stat st;
	char e[256];
	size_t len;
	int fd, ret;

	fd = open(path, (o->repair == DISK_REPAIR_NONE ? O_RDONLY : O_RDWR) | O_CLOEXEC);
	if (fd < 0)
		return err_set(err, errlen, -errno, "%s: %s", path, strerror(errno));
	if (fstat(fd, &st) < 0) {
		ret = err_set(err, errlen, -errno, "%s: %s", path, strerror(errno));
		goto out;
	}
	len = (uint64_t)st.st_size < sizeof(buf) ? (size_t)st.st_size : sizeof(buf);
	ret = disk_file_pread(fd, buf, len, 0);
	if (ret == 0)
		ret = qed_header_parse(buf, len, (uint64_t)st.st_size, &h, e, sizeof(e));
	if (ret) {
		err_set(err, errlen, ret, "%s: %s", path, e);
		goto out;
	}
	ret = qed_check_fd(fd, path, &h, o, r, err, errlen);
out:
	close(fd);
	return ret;
}
