/* SPDX-License-Identifier: MIT */
/*
 * qcow2 consistency check and repair (what `qemu-img check` does for qcow2,
 * without internal snapshots).
 *
 * The image is walked three times, reading only:
 *   1. every structure that owns host clusters -- the header cluster, the
 *      L1 table, each L2 table and the data clusters it maps, the refcount
 *      table and each refcount block -- adds one reference to the clusters
 *      it covers (the "computed" refcount), noting what uses each cluster;
 *   2. the stored refcounts are compared with the computed ones: stored too
 *      high is a leak (space wasted), too low is a corruption (the allocator
 *      could hand out a cluster that is in use);
 *   3. QCOW2_OFLAG_COPIED on L1/L2 entries must be set exactly when the
 *      cluster's refcount is 1 (qcow2.txt, "L1 table entry" bit 63).
 * Only then, with a repair mode and nothing found that repair cannot fix
 * safely (overlapping metadata, misaligned or out-of-file tables, missing
 * refcount blocks), refcount blocks are rewritten to the computed values and
 * wrong COPIED flags flipped.
 *
 * Every offset read from the image is checked against the file size before
 * it is used: a malicious image gets a report or an error, never a crash.
 */
#include "devices/disk/qcow2.h"

#include <endian.h>
#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "devices/disk/disk_priv.h"
#include "devices/disk/qcow2_priv.h"
#include "base/err.h"

/* qcow2.txt: "Refcount table entry" bits 0-8 reserved; L1 entry bits 1-8
 * and 56-62 reserved; standard L2 entry bits 1-8 and 56-61 reserved. */
#define RT_OFFSET_MASK	 0xfffffffffffffe00ULL
#define L1_RESERVED_MASK 0x7f000000000001ffULL
#define L2_RESERVED_MASK 0x3f000000000001feULL
#define HEADER_READ_MAX	 (1U << QCOW2_MAX_CLUSTER_BITS)
#define INCOMPAT_OFFSET	 72 /* header byte offset of incompatible_features (v3) */

/* What uses a host cluster: the low bits of chk.use[]. */
enum cl_kind {
	K_FREE,
	K_HEADER,
	K_L1,
	K_L2,
	K_REFTABLE,
	K_REFBLOCK,
	K_DATA,
	K_COMPRESSED,
};
#define K_MASK	     0x07
#define U_COPIED_SET 0x08 /* some entry pointing here has COPIED set */
#define U_COPIED_CLR 0x10 /* some entry pointing here has COPIED clear */
#define U_OVERLAP    0x20 /* already reported as overlapping */

static const char *const kind_name[] = {
	[K_FREE] = "free",
	[K_HEADER] = "header",
	[K_L1] = "L1 table",
	[K_L2] = "L2 table",
	[K_REFTABLE] = "refcount table",
	[K_REFBLOCK] = "refcount block",
	[K_DATA] = "data",
	[K_COMPRESSED] = "compressed data",
};

struct chk {
	int fd;
	const char *path;
	const struct qcow2_check_opts *o;
	struct qcow2_check_result *res;
	struct qcow2_header h;
	uint64_t file_size;
	unsigned int cbits;
	uint64_t cs;	      /* cluster size */
	uint64_t nb_clusters; /* host clusters in the file */
	uint16_t *ref;	      /* computed refcounts, saturating */
	uint8_t *use;	      /* enum cl_kind | U_* */
	uint64_t *l1;	      /* host byte order */
	uint64_t *rt;	      /* host byte order */
	uint64_t rt_entries;
	unsigned int ref_bits;
	uint64_t ref_max;
	uint64_t rb_entries; /* refcounts per refcount block */
	uint64_t l2_entries; /* entries per L2 table */
	uint8_t *buf;	     /* one cluster */
	uint64_t unfixable;  /* problems that repair must not touch */
	uint64_t copied_bad; /* clusters whose COPIED flags are wrong */
	uint64_t eof_leaks;  /* unused clusters past EOF with a refcount */
	uint64_t prog_done, prog_total;
	char *err;
	size_t errlen;
};

static void chk_report(struct chk *c, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

static void chk_report(struct chk *c, const char *fmt, ...)
{
	char line[256];
	va_list ap;

	if (!c->o->report)
		return;
	va_start(ap, fmt);
	vsnprintf(line, sizeof(line), fmt, ap);
	va_end(ap);
	c->o->report(c->o->opaque, line);
}

static void chk_progress(struct chk *c, uint64_t step)
{
	c->prog_done += step;
	if (c->o->progress)
		c->o->progress(c->o->opaque, c->prog_done, c->prog_total);
}

static void corrupt(struct chk *c, bool fixable)
{
	c->res->corruptions++;
	if (!fixable)
		c->unfixable++;
}

/*
 * One reference from a structure of kind `k` to every host cluster in
 * [off, off+len). A cluster used by metadata and anything else is an
 * overlap: repair refuses to touch such an image, because rewriting one
 * structure would clobber the other.
 */
static void inc_range(struct chk *c, uint64_t off, uint64_t len, enum cl_kind k)
{
	uint64_t end, i;

	if (len == 0)
		return;
	if (__builtin_add_overflow(off, len, &end) || off >= c->file_size) {
		chk_report(c, "ERROR %s at offset 0x%llx is past the end of the file", kind_name[k],
			   (unsigned long long)off);
		corrupt(c, false);
		return;
	}
	for (i = off >> c->cbits; i <= (end - 1) >> c->cbits; i++) {
		enum cl_kind old;

		if (i >= c->nb_clusters) {
			chk_report(c, "ERROR %s at offset 0x%llx extends past the end of the file",
				   kind_name[k], (unsigned long long)off);
			corrupt(c, false);
			return;
		}
		old = c->use[i] & K_MASK;
		if (old == K_FREE) {
			c->use[i] |= k;
		} else if ((old < K_DATA || k < K_DATA) && !(c->use[i] & U_OVERLAP)) {
			chk_report(c, "ERROR cluster %llu is used as both %s and %s",
				   (unsigned long long)i, kind_name[old], kind_name[k]);
			c->use[i] |= U_OVERLAP;
			corrupt(c, false);
		}
		if (c->ref[i] < UINT16_MAX)
			c->ref[i]++;
	}
}

static void note_copied(struct chk *c, uint64_t off, uint64_t entry)
{
	c->use[off >> c->cbits] |= (entry & QCOW2_OFLAG_COPIED) ? U_COPIED_SET : U_COPIED_CLR;
}

/* A table offset from an L1 or refcount table entry: cluster aligned and
 * starting inside the file, or it is reported and skipped. */
static bool table_ok(struct chk *c, uint64_t off, const char *what, uint64_t idx)
{
	if (off & (c->cs - 1)) {
		chk_report(c, "ERROR %s %llu at 0x%llx is not cluster aligned", what,
			   (unsigned long long)idx, (unsigned long long)off);
		corrupt(c, false);
		return false;
	}
	if (off >= c->file_size) {
		chk_report(c, "ERROR %s %llu at 0x%llx is past the end of the file", what,
			   (unsigned long long)idx, (unsigned long long)off);
		corrupt(c, false);
		return false;
	}
	return true;
}

/* Compressed cluster descriptor (qcow2.txt "Compressed Clusters
 * Descriptor"): x = 62 - (cluster_bits - 8) offset bits, then the number of
 * additional 512-byte sectors. */
static void walk_compressed(struct chk *c, uint64_t e)
{
	unsigned int x = 62 - (c->cbits - 8);
	uint64_t coff = e & ((1ULL << x) - 1);
	uint64_t nsect = ((e >> x) & ((1ULL << (c->cbits - 8)) - 1)) + 1;

	if (e & QCOW2_OFLAG_COPIED) {
		chk_report(c, "ERROR compressed cluster at 0x%llx has the COPIED flag",
			   (unsigned long long)coff);
		corrupt(c, false);
	}
	inc_range(c, coff & ~511ULL, nsect * 512 - (coff & 511), K_COMPRESSED);
}

static int walk_l2(struct chk *c, uint64_t l1_idx, uint64_t l2_off)
{
	uint64_t j;
	int ret;

	ret = q2_pread(c->fd, c->buf, c->cs, l2_off);
	if (ret < 0)
		return err_set(c->err, c->errlen, ret, "%s: reading L2 table at 0x%llx: %s",
			       c->path, (unsigned long long)l2_off, strerror(-ret));
	for (j = 0; j < c->l2_entries; j++) {
		uint64_t e, off;

		memcpy(&e, c->buf + j * 8, 8);
		e = be64toh(e);
		if (e & QCOW2_OFLAG_COMPRESSED) {
			c->res->allocated_clusters++;
			walk_compressed(c, e);
			continue;
		}
		if (e & L2_RESERVED_MASK) {
			chk_report(c,
				   "ERROR L2 entry %llu of L1 entry %llu has reserved bits set: "
				   "0x%llx",
				   (unsigned long long)j, (unsigned long long)l1_idx,
				   (unsigned long long)e);
			corrupt(c, false);
		}
		off = e & QCOW2_OFFSET_MASK;
		if (off == 0)
			continue; /* unallocated, or a zero cluster without storage */
		c->res->allocated_clusters++;
		if (off & (c->cs - 1)) {
			chk_report(c,
				   "ERROR data cluster at 0x%llx (L1 %llu, L2 %llu) is not cluster "
				   "aligned",
				   (unsigned long long)off, (unsigned long long)l1_idx,
				   (unsigned long long)j);
			corrupt(c, false);
			continue;
		}
		if (off >= c->file_size) {
			chk_report(c,
				   "ERROR data cluster at 0x%llx (L1 %llu, L2 %llu) is past the "
				   "end of the file",
				   (unsigned long long)off, (unsigned long long)l1_idx,
				   (unsigned long long)j);
			corrupt(c, false);
			continue;
		}
		inc_range(c, off, c->cs, K_DATA);
		note_copied(c, off, e);
	}
	return 0;
}

/* Pass 1: count references from every structure. */
static int walk_all(struct chk *c)
{
	const struct qcow2_header *h = &c->h;
	uint64_t i;
	int ret;

	inc_range(c, 0, c->cs, K_HEADER);
	/* The backing file name normally sits in cluster 0 after the header;
	 * count it wherever it is. */
	if (h->backing_file_offset >= c->cs)
		inc_range(c, h->backing_file_offset, h->backing_file_size, K_HEADER);

	inc_range(c, h->l1_table_offset, (uint64_t)h->l1_size * 8, K_L1);
	for (i = 0; i < h->l1_size; i++) {
		uint64_t e = c->l1[i], l2_off = e & QCOW2_OFFSET_MASK;

		chk_progress(c, i ? c->l2_entries : 0);
		if (e & L1_RESERVED_MASK) {
			chk_report(c, "ERROR L1 entry %llu has reserved bits set: 0x%llx",
				   (unsigned long long)i, (unsigned long long)e);
			corrupt(c, false);
		}
		if (l2_off == 0 || !table_ok(c, l2_off, "L2 table of L1 entry", i))
			continue;
		inc_range(c, l2_off, c->cs, K_L2);
		note_copied(c, l2_off, e);
		ret = walk_l2(c, i, l2_off);
		if (ret < 0)
			return ret;
	}
	chk_progress(c, h->l1_size ? c->l2_entries : 0);

	inc_range(c, h->refcount_table_offset, (uint64_t)h->refcount_table_clusters << c->cbits,
		  K_REFTABLE);
	for (i = 0; i < c->rt_entries; i++) {
		uint64_t rb = c->rt[i] & RT_OFFSET_MASK;

		if (c->rt[i] & ~RT_OFFSET_MASK) {
			chk_report(c, "ERROR refcount table entry %llu has reserved bits set",
				   (unsigned long long)i);
			corrupt(c, false);
		}
		if (rb && table_ok(c, rb, "refcount block", i))
			inc_range(c, rb, c->cs, K_REFBLOCK);
	}
	return 0;
}

static uint64_t rb_get(const struct chk *c, const uint8_t *rb, uint64_t idx)
{
	unsigned int per;

	/* Sub-byte refcounts are packed starting at the least significant
	 * bit (qcow2.txt, "refcount_order"; QEMU's get_refcount_ro0..2). */
	switch (c->ref_bits) {
	case 8:
		return rb[idx];
	case 16:
		return ((uint64_t)rb[idx * 2] << 8) | rb[idx * 2 + 1];
	case 32: {
		uint32_t v;
		memcpy(&v, rb + idx * 4, 4);
		return be32toh(v);
	}
	case 64: {
		uint64_t v;
		memcpy(&v, rb + idx * 8, 8);
		return be64toh(v);
	}
	default:
		per = 8 / c->ref_bits;
		return (rb[idx / per] >> ((idx % per) * c->ref_bits)) & c->ref_max;
	}
}

static void rb_set(const struct chk *c, uint8_t *rb, uint64_t idx, uint64_t v)
{
	unsigned int per, shift;

	switch (c->ref_bits) {
	case 8:
		rb[idx] = (uint8_t)v;
		return;
	case 16:
		rb[idx * 2] = (uint8_t)(v >> 8);
		rb[idx * 2 + 1] = (uint8_t)v;
		return;
	case 32: {
		uint32_t b = htobe32((uint32_t)v);
		memcpy(rb + idx * 4, &b, 4);
		return;
	}
	case 64: {
		uint64_t b = htobe64(v);
		memcpy(rb + idx * 8, &b, 8);
		return;
	}
	default:
		per = 8 / c->ref_bits;
		shift = (unsigned int)(idx % per) * c->ref_bits;
		rb[idx / per] = (uint8_t)((rb[idx / per] & ~(c->ref_max << shift)) | (v << shift));
	}
}

/* How many of [first, last) lie below `limit`. */
static uint64_t in_range(uint64_t first, uint64_t limit, uint64_t last)
{
	if (first >= limit)
		return 0;
	return (last < limit ? last : limit) - first;
}

/* The refcount block covering block index `k`, if it is one we may read
 * and write: its own checks passed in pass 1 and it overlaps nothing. */
static uint64_t usable_refblock(const struct chk *c, uint64_t k)
{
	uint64_t rb;

	if (k >= c->rt_entries)
		return 0;
	rb = c->rt[k] & RT_OFFSET_MASK;
	if (!rb || (rb & (c->cs - 1)) || rb >= c->file_size)
		return 0;
	if ((c->use[rb >> c->cbits] & (K_MASK | U_OVERLAP)) != K_REFBLOCK)
		return 0;
	return rb;
}

/*
 * Pass 2 (write == false): compare stored with computed refcounts and count.
 * Pass 2 again with write == true: rewrite the entries the mode allows.
 *
 * Every cluster a refcount block describes is compared, also those past the
 * end of the file: the driver reserves clusters there (refcount raised
 * before the file grows), so a crash can leave refcounts past EOF. Those
 * cost no disk space and qemu-img does not count them, so neither do we
 * (`leaks` and the exit status agree with qemu-img); they are reported in
 * one line and a repair clears them.
 */
static int compare_refcounts(struct chk *c, bool write)
{
	uint64_t nblocks = (c->nb_clusters + c->rb_entries - 1) / c->rb_entries, k;
	enum qcow2_repair mode = c->o->repair;
	int ret;

	if (nblocks < c->rt_entries)
		nblocks = c->rt_entries;
	for (k = 0; k < nblocks; k++) {
		uint64_t rb = usable_refblock(c, k), first = k * c->rb_entries, i, last;
		bool dirty = false, missing_reported = false;

		if (!rb && first >= c->nb_clusters)
			continue; /* nothing stored, nothing used */
		last = first + c->rb_entries;
		if (!rb && last > c->nb_clusters)
			last = c->nb_clusters;
		if (rb) {
			ret = q2_pread(c->fd, c->buf, c->cs, rb);
			if (ret < 0)
				return err_set(c->err, c->errlen, ret,
					       "%s: reading refcount block at 0x%llx: %s", c->path,
					       (unsigned long long)rb, strerror(-ret));
		} else {
			memset(c->buf, 0, c->cs);
		}
		for (i = first; i < last; i++) {
			bool in_file = i < c->nb_clusters;
			uint64_t stored = rb_get(c, c->buf, i - first),
				 want = in_file ? c->ref[i] : 0;

			/* Like qemu-img: the end of the last cluster that is either
			 * used or has a refcount. */
			if ((stored || want) && !write && in_file)
				c->res->image_end_offset = (i + 1) << c->cbits;
			if (stored == want || (in_file && (c->use[i] & U_OVERLAP)))
				continue;
			if (write) {
				if (stored > want || mode == QCOW2_REPAIR_ALL) {
					rb_set(c, c->buf, i - first, want);
					dirty = true;
					if (stored > want)
						c->res->leaks_fixed += in_file;
					else
						c->res->corruptions_fixed++;
				}
				continue;
			}
			if (stored > want && !in_file) {
				c->eof_leaks++;
				continue;
			}
			if (stored > want) {
				chk_report(c, "Leaked cluster %llu refcount=%llu reference=%llu",
					   (unsigned long long)i, (unsigned long long)stored,
					   (unsigned long long)want);
				c->res->leaks++;
				continue;
			}
			chk_report(c, "ERROR cluster %llu refcount=%llu reference=%llu",
				   (unsigned long long)i, (unsigned long long)stored,
				   (unsigned long long)want);
			if (!rb && !missing_reported) {
				chk_report(
					c,
					"ERROR no usable refcount block for clusters %llu..%llu; "
					"repair cannot recreate it",
					(unsigned long long)first,
					(unsigned long long)(first + c->rb_entries - 1));
				missing_reported = true;
			}
			corrupt(c, rb && want <= c->ref_max);
		}
		if (dirty) {
			ret = q2_pwrite(c->fd, c->buf, c->cs, rb);
			if (ret < 0)
				return err_set(c->err, c->errlen, ret,
					       "%s: writing refcount block at 0x%llx: %s", c->path,
					       (unsigned long long)rb, strerror(-ret));
		}
		chk_progress(c, in_range(first, c->nb_clusters, last));
	}
	return 0;
}

/* Pass 3: COPIED must be set exactly on clusters whose refcount is 1. The
 * computed refcount is the true one (a wrong stored refcount is reported as
 * such, not a second time here). */
static void check_copied(struct chk *c)
{
	uint64_t i;

	for (i = 0; i < c->nb_clusters; i++) {
		bool want = c->ref[i] == 1;
		uint8_t u = c->use[i];

		if (u & U_OVERLAP)
			continue;
		if ((want && (u & U_COPIED_CLR)) || (!want && (u & U_COPIED_SET))) {
			chk_report(c, "ERROR OFLAG_COPIED %s cluster %llu: refcount=%u",
				   kind_name[u & K_MASK], (unsigned long long)i, c->ref[i]);
			c->copied_bad++;
			corrupt(c, true);
		}
	}
}

static bool fix_entry_copied(const struct chk *c, uint64_t *e_be)
{
	uint64_t e = be64toh(*e_be), off = e & QCOW2_OFFSET_MASK, fixed;

	if (!off || (e & QCOW2_OFLAG_COMPRESSED) || (off & (c->cs - 1)) || off >= c->file_size)
		return false;
	fixed = c->ref[off >> c->cbits] == 1 ? e | QCOW2_OFLAG_COPIED : e & ~QCOW2_OFLAG_COPIED;
	if (fixed == e)
		return false;
	*e_be = htobe64(fixed);
	return true;
}

static int fix_copied(struct chk *c)
{
	uint64_t i, j;
	bool l1_dirty = false;
	int ret;

	for (i = 0; i < c->h.l1_size; i++) {
		uint64_t be = htobe64(c->l1[i]), l2_off = c->l1[i] & QCOW2_OFFSET_MASK;
		bool dirty = false;

		if (fix_entry_copied(c, &be)) {
			c->l1[i] = be64toh(be);
			l1_dirty = true;
		}
		if (!l2_off || (l2_off & (c->cs - 1)) || l2_off >= c->file_size)
			continue;
		ret = q2_pread(c->fd, c->buf, c->cs, l2_off);
		if (ret < 0)
			return ret;
		for (j = 0; j < c->l2_entries; j++)
			dirty |= fix_entry_copied(c, (uint64_t *)(void *)(c->buf + j * 8));
		if (dirty) {
			ret = q2_pwrite(c->fd, c->buf, c->cs, l2_off);
			if (ret < 0)
				return ret;
		}
	}
	if (l1_dirty) {
		for (i = 0; i < c->h.l1_size; i++)
			c->l1[i] = htobe64(c->l1[i]);
		ret = q2_pwrite(c->fd, c->l1, (size_t)c->h.l1_size * 8, c->h.l1_table_offset);
		for (i = 0; i < c->h.l1_size; i++)
			c->l1[i] = be64toh(c->l1[i]);
		if (ret < 0)
			return ret;
	}
	c->res->corruptions_fixed += c->copied_bad;
	return 0;
}

/* Read a table of big-endian u64 entries that must lie inside the file. */
static int read_table(struct chk *c, uint64_t off, uint64_t n, uint64_t **out, const char *what)
{
	uint64_t len = n * 8, end, i;
	uint64_t *t;
	int ret;

	*out = NULL;
	if (n == 0)
		return 0;
	if (__builtin_add_overflow(off, len, &end) || end > c->file_size)
		return err_set(c->err, c->errlen, -EINVAL,
			       "%s: %s extends past the end of the file", c->path, what);
	t = malloc(len);
	if (!t)
		return err_set(c->err, c->errlen, -ENOMEM, "%s: out of memory for the %s", c->path,
			       what);
	ret = q2_pread(c->fd, t, len, off);
	if (ret < 0) {
		free(t);
		return err_set(c->err, c->errlen, ret, "%s: reading the %s: %s", c->path, what,
			       strerror(-ret));
	}
	for (i = 0; i < n; i++)
		t[i] = be64toh(t[i]);
	*out = t;
	return 0;
}

static int load(struct chk *c)
{
	char msg[256] = "";
	struct stat st;
	uint8_t *hdr;
	size_t hlen;
	int ret;

	if (fstat(c->fd, &st) < 0)
		return err_set(c->err, c->errlen, -errno, "%s: %s", c->path, strerror(errno));
	c->file_size = (uint64_t)st.st_size;
	hlen = c->file_size < HEADER_READ_MAX ? (size_t)c->file_size : HEADER_READ_MAX;
	hdr = malloc(hlen ? hlen : 1);
	if (!hdr)
		return err_set(c->err, c->errlen, -ENOMEM, "%s: out of memory", c->path);
	ret = q2_pread(c->fd, hdr, hlen, 0);
	if (ret < 0) {
		free(hdr);
		return err_set(c->err, c->errlen, ret, "%s: %s", c->path, strerror(-ret));
	}
	ret = qcow2_header_parse(hdr, hlen, c->file_size, &c->h, msg, sizeof(msg));
	free(hdr);
	if (ret < 0)
		return err_set(c->err, c->errlen, ret, "%s: %s", c->path, msg);
	/* Re-validate what the walk relies on, whatever the parser allowed. */
	if (c->h.cluster_bits < QCOW2_MIN_CLUSTER_BITS ||
	    c->h.cluster_bits > QCOW2_MAX_CLUSTER_BITS || c->h.refcount_order > 6)
		return err_set(c->err, c->errlen, -EINVAL, "%s: bad cluster or refcount size",
			       c->path);
	if (c->h.nb_snapshots)
		return err_set(c->err, c->errlen, -ENOTSUP,
			       "%s: unsupported qcow2 feature: internal snapshots", c->path);
	c->cbits = c->h.cluster_bits;
	c->cs = 1ULL << c->cbits;
	c->ref_bits = 1U << c->h.refcount_order;
	c->ref_max = c->ref_bits == 64 ? UINT64_MAX : (1ULL << c->ref_bits) - 1;
	c->rb_entries = c->cs * 8 / c->ref_bits;
	c->l2_entries = c->cs / 8;
	c->nb_clusters = (c->file_size + c->cs - 1) >> c->cbits;
	c->rt_entries = ((uint64_t)c->h.refcount_table_clusters << c->cbits) / 8;

	c->ref = calloc(c->nb_clusters, sizeof(*c->ref));
	c->use = calloc(c->nb_clusters, 1);
	c->buf = malloc(c->cs);
	if (!c->ref || !c->use || !c->buf)
		return err_set(c->err, c->errlen, -ENOMEM, "%s: out of memory (%llu clusters)",
			       c->path, (unsigned long long)c->nb_clusters);
	ret = read_table(c, c->h.l1_table_offset, c->h.l1_size, &c->l1, "L1 table");
	if (ret < 0)
		return ret;
	return read_table(c, c->h.refcount_table_offset, c->rt_entries, &c->rt, "refcount table");
}

/* The same OFD lock disk_open() takes: checking an image a VM is writing
 * gives garbage, and repairing it would corrupt it. */
static int lock_file(struct chk *c)
{
	struct flock fl = {
		.l_type = c->o->repair != QCOW2_REPAIR_NONE ? F_WRLCK : F_RDLCK,
		.l_whence = SEEK_SET,
	};

	if (fcntl(c->fd, F_OFD_SETLK, &fl) == 0)
		return 0;
	if (errno == EAGAIN || errno == EACCES)
		return err_set(c->err, c->errlen, -EBUSY, "%s: image is in use by another process",
			       c->path);
	return 0; /* no locks on this file system: go on, as disk_open() does */
}

/* After a successful repair the image is consistent again: drop the dirty
 * (lazy refcounts) and corrupt bits so that QEMU opens it normally. */
static int clear_header_flags(struct chk *c)
{
	uint64_t f = c->h.incompatible_features & ~(QCOW2_INCOMPAT_DIRTY | QCOW2_INCOMPAT_CORRUPT);

	if (c->h.version < 3 || f == c->h.incompatible_features)
		return 0;
	f = htobe64(f);
	return q2_pwrite(c->fd, &f, 8, INCOMPAT_OFFSET);
}

static int repair(struct chk *c)
{
	int ret;

	if (c->unfixable) {
		chk_report(c,
			   "Not repairing: %llu problem(s) cannot be fixed safely "
			   "(overlapping or misplaced metadata, missing refcount blocks)",
			   (unsigned long long)c->unfixable);
		return 0;
	}
	if (c->o->repair == QCOW2_REPAIR_LEAKS && !c->res->leaks && !c->eof_leaks)
		return 0;
	if (!c->res->leaks && !c->res->corruptions && !c->eof_leaks)
		return 0;
	ret = compare_refcounts(c, true);
	if (ret == 0 && c->o->repair == QCOW2_REPAIR_ALL && c->copied_bad) {
		ret = fix_copied(c);
		if (ret < 0)
			err_set(c->err, c->errlen, ret, "%s: fixing COPIED flags: %s", c->path,
				strerror(-ret));
	}
	if (ret == 0 && fdatasync(c->fd) < 0)
		ret = err_set(c->err, c->errlen, -errno, "%s: fdatasync: %s", c->path,
			      strerror(errno));
	if (ret == 0 && c->res->corruptions_fixed == c->res->corruptions) {
		ret = clear_header_flags(c);
		if (ret < 0)
			err_set(c->err, c->errlen, ret, "%s: writing the header: %s", c->path,
				strerror(-ret));
	}
	return ret;
}

int qcow2_check_image(const char *path, const struct qcow2_check_opts *o,
		      struct qcow2_check_result *res, char *err, size_t errlen)
{
	static const struct qcow2_check_opts none = { .repair = QCOW2_REPAIR_NONE };
	struct chk c = {
		.path = path, .o = o ? o : &none, .res = res, .err = err, .errlen = errlen
	};
	int ret;

	memset(res, 0, sizeof(*res));
	c.fd = open(path, (c.o->repair != QCOW2_REPAIR_NONE ? O_RDWR : O_RDONLY) | O_CLOEXEC);
	if (c.fd < 0)
		return err_set(err, errlen, -errno, "%s: %s", path, strerror(errno));
	ret = lock_file(&c);
	if (ret == 0)
		ret = load(&c);
	if (ret < 0)
		goto out;
	c.prog_total = (uint64_t)c.h.l1_size * c.l2_entries + c.nb_clusters;
	res->total_clusters = (c.h.size + c.cs - 1) >> c.cbits;

	ret = walk_all(&c);
	if (ret < 0)
		goto out;
	ret = compare_refcounts(&c, false);
	if (ret < 0)
		goto out;
	check_copied(&c);
	if (c.eof_leaks)
		chk_report(&c,
			   "%llu clusters past the end of the file have a refcount but no user "
			   "(reserved by a writer that stopped; no space is lost; -r clears them)",
			   (unsigned long long)c.eof_leaks);
	if (c.o->repair != QCOW2_REPAIR_NONE)
		ret = repair(&c);
out:
	free(c.ref);
	free(c.use);
	free(c.buf);
	free(c.l1);
	free(c.rt);
	close(c.fd);
	return ret;
}

int qcow2_check(const char *path, bool repair, struct qcow2_check_result *res,
		void (*progress)(void *opaque, uint64_t done, uint64_t total), void *opaque,
		char *err, size_t errlen)
{
	struct qcow2_check_opts o = {
		.repair = repair ? QCOW2_REPAIR_ALL : QCOW2_REPAIR_NONE,
		.progress = progress,
		.opaque = opaque,
	};

	return qcow2_check_image(path, &o, res, err, errlen);
}
