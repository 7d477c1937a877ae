/* SPDX-License-Identifier: MIT */
/*
 * The QED driver (qed.h, qed_priv.h): open and close, the need-check flag,
 * the L1/L2 walk and cluster allocation behind the shared block-mapped
 * request path (bmap.h), info, and the format table entry.
 */
#include <endian.h>
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "devices/disk/qed_priv.h"
#include "base/err.h"

/* ---- the need-check flag (qed.h) ---- */

static int set_features(struct qed *q, uint64_t features)
{
	uint64_t le = htole64(features);
	int ret = disk_file_pwrite(q->bm.fd, &le, 8, QED_OFF_FEATURES);

	if (ret == 0)
		q->h.features = features;
	return ret;
}

/* Before an allocation: the flag is on stable storage first. */
static int need_check_set(struct qed *q)
{
	int ret;

	if (q->need_check)
		return 0;
	ret = set_features(q, q->h.features | QED_F_NEED_CHECK);
	if (ret == 0 && disk_barrier(q->bm.d, q->bm.fd) < 0)
		ret = -errno;
	if (ret == 0)
		q->need_check = true;
	return ret;
}

/* After everything allocated so far is stable: clear it (synced by the
 * caller's next fdatasync; if that never comes, only a needless check). */
static int need_check_clear(struct qed *q, bool synced)
{
	if (!q->need_check)
		return 0;
	if (!synced && fdatasync(q->bm.fd) < 0)
		return -errno;
	q->need_check = false;
	return set_features(q, q->h.features & ~QED_F_NEED_CHECK);
}

/* ---- tables ---- */

static bool offset_ok(const struct qed *q, uint64_t off)
{
	uint64_t cs = q->h.cluster_size;

	return off % cs == 0 && off >= (uint64_t)q->h.header_size * cs && off < q->file_end;
}

/* The L2 table for L1 entry idx (cached), or NULL if there is none. */
static int l2_get(struct qed *q, uint64_t idx, struct qed_l2 **out)
{
	uint64_t off = le64toh(q->l1[idx]);
	struct qed_l2 *s = &q->l2[0];
	int ret;

	*out = NULL;
	if (off == 0)
		return 0;
	for (int i = 0; i < QED_L2_CACHE; i++) {
		if (q->l2[i].used && q->l2[i].l1_idx == idx) {
			q->l2[i].lru = ++q->clock;
			*out = &q->l2[i];
			return 0;
		}
		if (!q->l2[i].used || q->l2[i].lru < s->lru)
			s = &q->l2[i];
	}
	if (!offset_ok(q, off) || off + q->table_bytes > q->file_end) {
		log_warn_ratelimited(&q->bm.rl,
				     "%s: QED L1 entry %" PRIu64 " (0x%" PRIx64
				     ") is unaligned or outside the image",
				     q->bm.d->path, idx, off);
		return -EIO;
	}
	if (!s->t && !(s->t = malloc(q->table_bytes)))
		return -ENOMEM;
	s->used = false;
	ret = disk_file_pread(q->bm.fd, s->t, q->table_bytes, off);
	if (ret)
		return ret;
	s->used = true;
	s->l1_idx = idx;
	s->lru = ++q->clock;
	*out = s;
	return 0;
}

/* A new, zeroed L2 table for L1 entry idx: the file grows first (the
 * table is a hole), then the L1 entry points at it. */
static int l2_alloc(struct qed *q, uint64_t idx, struct qed_l2 **out)
{
	uint64_t off = q->file_end, le = htole64(off);
	int ret;

	ret = need_check_set(q);
	if (ret == 0 && ftruncate(q->bm.fd, (off_t)(off + q->table_bytes)) < 0)
		ret = -errno;
	if (ret == 0)
		ret = disk_file_pwrite(q->bm.fd, &le, 8, q->h.l1_table_offset + idx * 8);
	if (ret)
		return ret;
	q->l1[idx] = le;
	q->file_end += q->table_bytes;
	return l2_get(q, idx, out);
}

/* Copy the backing file's part of cluster (guest offset goff) into the new
 * cluster at host, synchronously (qed_priv.h). */
static int cow_cluster(struct qed *q, uint64_t goff, uint64_t host)
{
	struct disk *d = q->bm.d;
	uint64_t cs = q->h.cluster_size, n;
	char e[256];
	int ret;

	if (!q->cow_src) {
		char *p = disk_resolve_path(d->path, q->h.backing_file);

		if (!p)
			return -ENOMEM;
		ret = disk_open_backing(p, d->backing->format, NULL, q->depth + 1, &q->cow_src, e,
					sizeof(e));
		free(p);
		if (ret) {
			log_warn_ratelimited(&q->bm.rl, "%s: copy-on-write: %s", d->path, e);
			return ret;
		}
	}
	if (!q->cow_buf && !(q->cow_buf = malloc(cs)))
		return -ENOMEM;
	n = goff < q->cow_src->size ? q->cow_src->size - goff : 0;
	n = n < cs ? n : cs;
	memset(q->cow_buf + n, 0, cs - n);
	ret = n ? disk_pread(q->cow_src, q->cow_buf, n, goff) : 0;
	return ret ? ret : disk_file_pwrite(q->bm.fd, q->cow_buf, cs, host);
}

/* Allocate guest clusters [gc, gc + m) (entries i.. of table s) at the end
 * of the file. */
static int alloc_run(struct qed *q, struct qed_l2 *s, uint64_t gc, uint64_t m, uint64_t *host)
{
	uint64_t cs = q->h.cluster_size, i = gc & (q->h.table_entries - 1), h = q->file_end;
	uint64_t l2off = le64toh(q->l1[s->l1_idx]), buf[64];
	int ret;

	ret = need_check_set(q);
	if (ret == 0 && ftruncate(q->bm.fd, (off_t)(h + m * cs)) < 0)
		ret = -errno;
	/*
	 * Over a backing file, an unallocated (not zero) cluster shows the
	 * backing file's data. The new cluster gets all of it, and it is
	 * stable before the L2 entry can be: the entry is written before the
	 * guest's data (bmap.h), so after a power loss that kept the entry but
	 * not the data, every sector still reads as before or as written --
	 * never as the zeros of a hole. (QEMU flushes between the new
	 * cluster's data and its L2 entry for the same reason.) Without a
	 * backing file the hole's zeros are what the cluster read as before.
	 */
	for (uint64_t k = 0; ret == 0 && k < m && q->bm.d->backing; k++)
		if (s->t[i + k] == 0)
			ret = cow_cluster(q, (gc + k) * cs, h + k * cs);
	if (ret == 0 && q->bm.d->backing && disk_barrier(q->bm.d, q->bm.fd) < 0)
		ret = -errno;
	for (uint64_t done = 0; ret == 0 && done < m;) {
		uint64_t c = m - done < 64 ? m - done : 64;

		for (uint64_t k = 0; k < c; k++)
			buf[k] = htole64(h + (done + k) * cs);
		ret = disk_file_pwrite(q->bm.fd, buf, c * 8, l2off + (i + done) * 8);
		if (ret == 0)
			memcpy(&s->t[i + done], buf, c * 8);
		done += c;
	}
	if (ret == 0)
		q->file_end = h + m * cs;
	*host = h;
	return ret;
}

static int qed_map(void *fmt, uint64_t off, uint64_t len, bool write, enum bmap_kind *kind,
		   uint64_t *host, uint64_t *n)
{
	struct qed *q = fmt;
	uint64_t cs = q->h.cluster_size, gc = off >> q->h.cluster_bits, in = off & (cs - 1);
	uint64_t idx = gc >> q->h.l2_bits, i = gc & (q->h.table_entries - 1), e, m = 1, run;
	struct qed_l2 *s;
	int ret;

	ret = l2_get(q, idx, &s);
	if (ret == 0 && !s && write)
		ret = l2_alloc(q, idx, &s);
	if (ret)
		return ret;
	/* clusters left in this table that [off, off + len) reaches */
	run = q->h.table_entries - i;
	if ((len + in + cs - 1) / cs < run)
		run = (len + in + cs - 1) / cs;
	e = s ? le64toh(s->t[i]) : 0;
	if (e > QED_ZERO_CLUSTER) {
		if (!offset_ok(q, e)) {
			log_warn_ratelimited(&q->bm.rl,
					     "%s: QED L2 entry for cluster %" PRIu64 " (0x%" PRIx64
					     ") is unaligned or outside the image",
					     q->bm.d->path, gc, e);
			return -EIO;
		}
		while (m < run && le64toh(s->t[i + m]) == e + m * cs && offset_ok(q, e + m * cs))
			m++;
		*kind = BMAP_DATA;
		*host = e + in;
	} else if (!write) {
		while (m < run && (s ? le64toh(s->t[i + m]) : 0) == e)
			m++;
		*kind = e == 0 && q->bm.d->backing ? BMAP_PARENT : BMAP_ZERO;
	} else {
		while (m < run && le64toh(s->t[i + m]) <= QED_ZERO_CLUSTER)
			m++;
		ret = alloc_run(q, s, gc, m, host);
		if (ret) {
			log_warn_ratelimited(&q->bm.rl, "%s: cannot allocate QED clusters: %s",
					     q->bm.d->path, strerror(-ret));
			return ret;
		}
		*host += in;
		*kind = BMAP_DATA;
	}
	*n = m * cs - in < len ? m * cs - in : len;
	return 0;
}

static const struct bmap_ops qed_bmap_ops = {
	.map = qed_map,
};

/* ---- open / close ---- */

static void qed_free(struct qed *q)
{
	for (int i = 0; i < QED_L2_CACHE; i++)
		free(q->l2[i].t);
	free(q->l1);
	free(q->cow_buf);
	free(q);
}

static int qed_submit(struct disk *d, struct disk_req *req)
{
	struct qed *q = d->priv;

	/* A flush makes every allocation so far stable: the flag can go
	 * (its write is made stable by the flush's own fdatasync). */
	if (req->op == DISK_FLUSH && need_check_clear(q, false))
		log_warn_ratelimited(&q->bm.rl, "%s: cannot clear QED need-check flag", d->path);
	return bmap_submit(&q->bm, req);
}

static void qed_close(struct disk *d)
{
	struct qed *q = d->priv;

	ioe_drain(d->engine);
	if (!d->readonly &&
	    (fdatasync(q->bm.fd) < 0 || need_check_clear(q, true) || fdatasync(q->bm.fd) < 0))
		log_warn("%s: closing: %s (the next open checks the image)", d->path,
			 strerror(errno));
	if (q->cow_src)
		disk_close(q->cow_src);
	if (d->backing) {
		disk_close(d->backing);
		d->backing = NULL;
	}
	bmap_fini(&q->bm);
	qed_free(q);
	d->priv = NULL;
}

static const struct disk_ops qed_ops = {
	.submit = qed_submit,
	.block_status = bmap_block_status,
	.close = qed_close,
};

/* Header, tables; a dirty image is checked and repaired (writable) first. */
static int qed_load(struct qed *q, char *e, size_t elen)
{
	struct disk *d = q->bm.d;
	uint8_t buf[4096];
	struct stat st;
	size_t len;
	int ret;

	if (fstat(q->bm.fd, &st) < 0)
		return err_set(e, elen, -errno, "%s", strerror(errno));
	len = (uint64_t)st.st_size < sizeof(buf) ? (size_t)st.st_size : sizeof(buf);
	ret = disk_file_pread(q->bm.fd, buf, len, 0);
	if (ret == 0)
		ret = qed_header_parse(buf, len, (uint64_t)st.st_size, &q->h, e, elen);
	if (ret)
		return ret;
	if ((q->h.features & QED_F_NEED_CHECK) && !d->readonly) {
		struct disk_check_opts co = { .repair = DISK_REPAIR_ALL };
		struct disk_check_result r = { 0 };

		ret = qed_check_fd(q->bm.fd, d->path, &q->h, &co, &r, e, elen);
		if (ret)
			return ret;
		/* What repair cannot fix (a cluster used twice) would let one
		 * guest write land in two places: read-only only. */
		if (r.corruptions)
			return err_set(
				e, elen, -EROFS,
				"image was not closed cleanly and has %" PRIu64
				" corruptions the check cannot repair; it can only be opened "
				"read-only",
				r.corruptions);
		q->need_check = true; /* cleared below, now that it is consistent */
	}
	q->table_bytes = (uint64_t)q->h.table_size * q->h.cluster_size;
	q->file_end =
		((uint64_t)st.st_size + q->h.cluster_size - 1) & ~(uint64_t)(q->h.cluster_size - 1);
	q->l1 = malloc(q->table_bytes);
	if (!q->l1)
		return err_set(e, elen, -ENOMEM, "out of memory");
	ret = disk_file_pread(q->bm.fd, q->l1, q->table_bytes, q->h.l1_table_offset);
	if (ret)
		return err_set(e, elen, ret, "cannot read the L1 table: %s", strerror(-ret));
	if (!d->readonly && (q->need_check || q->h.autoclear_features)) {
		uint64_t z = 0;

		/* QEMU's rule: unknown autoclear bits are cleared on a
		 * writable open. */
		ret = disk_file_pwrite(q->bm.fd, &z, 8, 0x20);
		if (ret == 0)
			ret = need_check_clear(q, false);
		if (ret == 0 && fdatasync(q->bm.fd) < 0)
			ret = -errno;
		if (ret)
			return err_set(e, elen, ret, "cannot update the header: %s",
				       strerror(-ret));
	}
	return 0;
}

static int qed_open(struct disk *d, int fd, const struct disk_open_opts *o, unsigned int depth,
		    char *err, size_t errlen)
{
	struct qed *q = calloc(1, sizeof(*q));
	char e[512];
	int ret;

	(void)o;
	if (!q) {
		close(fd);
		return err_set(err, errlen, -ENOMEM, "%s: out of memory", d->path);
	}
	ret = bmap_init(&q->bm, d, fd, &qed_bmap_ops, q, err, errlen);
	if (ret) {
		free(q);
		return ret;
	}
	q->depth = depth;
	ret = qed_load(q, e, sizeof(e));
	if (ret == 0 && q->h.backing_file[0]) {
		char *p = disk_resolve_path(d->path, q->h.backing_file);
		const char *bf = (q->h.features & QED_F_BACKING_FORMAT_NO_PROBE) ? "raw" : NULL;
		char be[400];

		ret = p ? disk_open_backing(p, bf, d->engine, depth + 1, &d->backing, be,
					    sizeof(be))
			: -ENOMEM;
		free(p);
		if (ret)
			snprintf(e, sizeof(e), "backing file: %s",
				 ret == -ENOMEM ? "out of memory" : be);
	}
	if (ret) {
		if (d->backing)
			disk_close(d->backing);
		d->backing = NULL;
		bmap_fini(&q->bm);
		qed_free(q);
		return err_set(err, errlen, ret, "%s: %s", d->path, e);
	}
	d->priv = q;
	d->ops = &qed_ops;
	d->format = "qed";
	d->size = q->h.image_size;
	d->can_discard = false;
	return 0;
}

static void qed_info(struct disk *d, struct disk_info *out)
{
	struct qed *q = d->priv;

	out->cluster_size = q->h.cluster_size;
	out->write_unit = q->h.cluster_size;
	out->dirty = q->h.features & QED_F_NEED_CHECK;
	snprintf(out->backing_file, sizeof(out->backing_file), "%s", q->h.backing_file);
	if (q->h.features & QED_F_BACKING_FORMAT_NO_PROBE)
		snprintf(out->backing_format, sizeof(out->backing_format), "raw");
	disk_info_add(out, "table-size", true, "%u", q->h.table_size);
}

const struct disk_format disk_format_qed = {
	.name = "qed",
	.probe = qed_probe,
	.names_files = true,
	.open = qed_open,
	.create = qed_create,
	.check = qed_check,
	.info = qed_info,
};
