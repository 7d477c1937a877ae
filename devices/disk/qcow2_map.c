/* SPDX-License-Identifier: MIT */
/*
 * qcow2 metadata: the L1 table, the L2 cache, refcounts and cluster
 * allocation (qcow2.txt "Host cluster management" and "Cluster mapping").
 * All of it runs on the thread that owns the disk; metadata is written
 * through synchronously (see qcow2_priv.h for why and in which order).
 */
#include <errno.h>
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "devices/disk/qcow2_priv.h"
#include "base/err.h"

/* ---- refcount entries (qcow2.txt "Host cluster management") ---- */

/* Widths below 8 bits pack several entries per byte, lowest bits first
 * (what QEMU's get_refcount_ro0..2 do); 8..64 bits are big-endian. */
uint64_t q2_rc_get(const uint8_t *block, unsigned int order, uint64_t idx)
{
	unsigned int bits = 1U << order;

	switch (order) {
	case 0:
	case 1:
	case 2:
		return (block[idx * bits / 8] >> ((idx * bits) % 8)) & ((1U << bits) - 1);
	case 3:
		return block[idx];
	case 4:
		return (uint64_t)block[idx * 2] << 8 | block[idx * 2 + 1];
	case 5:
		return q2_be32(block + idx * 4);
	default:
		return q2_be64(block + idx * 8);
	}
}

void q2_rc_set(uint8_t *block, unsigned int order, uint64_t idx, uint64_t v)
{
	unsigned int bits = 1U << order;

	switch (order) {
	case 0:
	case 1:
	case 2: {
		unsigned int sh = (unsigned int)((idx * bits) % 8);
		uint8_t mask = (uint8_t)(((1U << bits) - 1) << sh);

		block[idx * bits / 8] =
			(uint8_t)((block[idx * bits / 8] & ~mask) | ((v << sh) & mask));
		break;
	}
	case 3:
		block[idx] = (uint8_t)v;
		break;
	case 4:
		block[idx * 2] = (uint8_t)(v >> 8);
		block[idx * 2 + 1] = (uint8_t)v;
		break;
	case 5:
		q2_put_be32(block + idx * 4, (uint32_t)v);
		break;
	default:
		q2_put_be64(block + idx * 8, v);
		break;
	}
}

int q2_rc_adjust(struct qcow2 *q, uint64_t first, uint64_t end, int delta)
{
	uint64_t max =
		q->refcount_order == 6 ? UINT64_MAX : (1ULL << (1U << q->refcount_order)) - 1;
	uint64_t mask = (1ULL << q->rb_bits) - 1, bits = 1ULL << q->refcount_order;
	uint8_t *buf = malloc(q->cluster_size);
	int ret = 0;

	if (!buf)
		return -ENOMEM;
	for (uint64_t c = first; c < end && ret == 0;) {
		uint64_t b = c >> q->rb_bits, stop = ((b + 1) << q->rb_bits), lo, hi;

		stop = stop < end ? stop : end;
		if (b >= q->rt_entries || !q->rt[b]) {
			ret = -EIO; /* a hostile descriptor: no refcount block */
			break;
		}
		ret = q2_pread(q->fd, buf, q->cluster_size, q->rt[b]);
		for (uint64_t i = c; i < stop && ret == 0; i++) {
			uint64_t v = q2_rc_get(buf, q->refcount_order, i & mask);

			if ((delta < 0 && v == 0) || (delta > 0 && v == max))
				ret = -EIO;
			else
				q2_rc_set(buf, q->refcount_order, i & mask,
					  delta < 0 ? v - 1 : v + 1);
		}
		lo = (c & mask) * bits / 8;
		hi = ((((stop - 1) & mask) + 1) * bits + 7) / 8;
		if (ret == 0)
			ret = q2_pwrite(q->fd, buf + lo, hi - lo, q->rt[b] + lo);
		c = stop;
	}
	free(buf);
	return ret;
}

/* Set refcounts of clusters [first, end) (all inside one refcount block,
 * which must exist) to v: read the block, modify, write back the bytes
 * that changed. */
static int rc_set_range(struct qcow2 *q, uint8_t *buf, uint64_t first, uint64_t end, uint64_t v)
{
	uint64_t b = first >> q->rb_bits, mask = (1ULL << q->rb_bits) - 1;
	uint64_t lo, hi, bits = 1ULL << q->refcount_order;
	int ret;

	ret = q2_pread(q->fd, buf, q->cluster_size, q->rt[b]);
	if (ret)
		return ret;
	for (uint64_t c = first; c < end; c++)
		q2_rc_set(buf, q->refcount_order, c & mask, v);
	lo = (first & mask) * bits / 8;
	hi = (((end - 1) & mask) + 1) * bits;
	hi = (hi + 7) / 8;
	return q2_pwrite(q->fd, buf + lo, hi - lo, q->rt[b] + lo);
}

/*
 * The cursor's refcount block index is past the refcount table: grow the
 * table. Everything at or after the cursor is fresh, so every refcount
 * block covering it is new too. The new table (T clusters) and the new
 * blocks (B, which cover the table, themselves and what follows) go at the
 * cursor; they are written and synced before the header points to the new
 * table, and the old table's clusters are released only after that.
 */
static int rt_grow(struct qcow2 *q, uint8_t *buf)
{
	uint64_t cs = q->cluster_size, k = q->cursor, b = k >> q->rb_bits;
	uint64_t T = 1, B = 1, blast, old_off = q->h.refcount_table_offset;
	uint64_t old_cl = q->h.refcount_table_clusters, *nrt;
	uint8_t hdr[12];
	int ret;

	for (;;) {
		uint64_t nt, nb;

		blast = (k + T + B - 1) >> q->rb_bits;
		nb = blast - b + 1;
		nt = ((blast + 1) * 8 + cs - 1) / cs;
		nt = nt > old_cl * 2 ? nt : old_cl * 2; /* room to grow again */
		if (nb <= B && nt <= T)
			break;
		B = nb > B ? nb : B;
		T = nt > T ? nt : T;
	}
	if (T * cs > QCOW2_MAX_REFTABLE_BYTES) {
		/* On a guest's write: the guest gets an I/O error for it, and
		 * a guest that keeps writing must not flood the log. */
		log_warn_ratelimited(&q->rl,
				     "%s: image too large: refcount table would exceed %llu MiB",
				     q->d->path, QCOW2_MAX_REFTABLE_BYTES >> 20);
		return -ENOSPC;
	}
	/* New refcount blocks at [k+T, k+T+B): refcount 1 for [k, k+T+B). */
	for (uint64_t j = 0; j < B; j++) {
		uint64_t first = (b + j) << q->rb_bits, last = first + (1ULL << q->rb_bits);

		memset(buf, 0, cs);
		for (uint64_t c = first > k ? first : k; c < last && c < k + T + B; c++)
			q2_rc_set(buf, q->refcount_order, c - first, 1);
		ret = q2_pwrite(q->fd, buf, cs, (k + T + j) * cs);
		if (ret)
			return ret;
	}
	nrt = calloc(T * cs / 8, 8);
	if (!nrt)
		return -ENOMEM;
	memcpy(nrt, q->rt, q->rt_entries * 8);
	for (uint64_t j = 0; j < B; j++)
		nrt[b + j] = (k + T + j) * cs;
	for (uint64_t i = 0; i < T * cs / 8; i++) {
		uint8_t e[8];

		q2_put_be64(e, nrt[i]);
		memcpy(buf + (i * 8) % cs, e, 8);
		if ((i * 8 + 8) % cs == 0) {
			ret = q2_pwrite(q->fd, buf, cs, k * cs + i * 8 + 8 - cs);
			if (ret)
				goto fail;
		}
	}
	if (disk_barrier(q->d, q->fd) < 0) {
		ret = -errno;
		goto fail;
	}
	q2_put_be64(hdr, k * cs);
	q2_put_be32(hdr + 8, (uint32_t)T);
	ret = q2_pwrite(q->fd, hdr, sizeof(hdr), QCOW2_HDR_REFTABLE_OFF);
	if (ret)
		goto fail;
	if (disk_barrier(q->d, q->fd) < 0) {
		ret = -errno;
		goto fail;
	}
	free(q->rt);
	q->rt = nrt;
	q->rt_entries = T * cs / 8;
	q->h.refcount_table_offset = k * cs;
	q->h.refcount_table_clusters = (uint32_t)T;
	q->cursor = k + T + B;
	/* Release the old table (a crash before this only leaks it). */
	for (uint64_t c = old_off / cs; c < old_off / cs + old_cl;) {
		uint64_t end = ((c >> q->rb_bits) + 1) << q->rb_bits;

		end = end < old_off / cs + old_cl ? end : old_off / cs + old_cl;
		if (q->rt[c >> q->rb_bits]) {
			ret = rc_set_range(q, buf, c, end, 0);
			if (ret)
				return ret;
		}
		c = end;
	}
	return 0;
fail:
	free(nrt);
	return ret;
}

/* Reserve up to `n` fresh clusters at the cursor: refcounts raised, then an
 * fdatasync barrier. The pool may come out shorter than n (it stops at a
 * refcount block boundary so that it is contiguous). */
static int refill(struct qcow2 *q, uint64_t n)
{
	uint64_t cs = q->cluster_size, k, b, end;
	uint8_t *buf = malloc(cs);
	int ret;

	if (!buf)
		return -ENOMEM;
	for (;;) {
		k = q->cursor;
		b = k >> q->rb_bits;
		if (b >= q->rt_entries) {
			ret = rt_grow(q, buf);
			if (ret)
				goto out;
			continue;
		}
		if (q->rt[b])
			break;
		/* A new refcount block at the cursor covers itself. Written and
		 * synced before the refcount table points to it. */
		memset(buf, 0, cs);
		q2_rc_set(buf, q->refcount_order, k & ((1ULL << q->rb_bits) - 1), 1);
		ret = q2_pwrite(q->fd, buf, cs, k * cs);
		if (ret)
			goto out;
		if (disk_barrier(q->d, q->fd) < 0) {
			ret = -errno;
			goto out;
		}
		q2_put_be64(buf, k * cs);
		ret = q2_pwrite(q->fd, buf, 8, q->h.refcount_table_offset + b * 8);
		if (ret)
			goto out;
		q->rt[b] = k * cs;
		q->cursor = k + 1;
	}
	end = (b + 1) << q->rb_bits;
	end = end < k + n ? end : k + n;
	ret = rc_set_range(q, buf, k, end, 1);
	if (ret)
		goto out;
	/* The barrier: these refcounts are stable before anything points to
	 * the clusters. */
	if (disk_barrier(q->d, q->fd) < 0) {
		ret = -errno;
		goto out;
	}
	q->resv_next = k;
	q->resv_end = end;
	q->cursor = end;
out:
	free(buf);
	return ret;
}

int64_t q2_reserve(struct qcow2 *q, uint64_t want, uint64_t *host)
{
	uint64_t take;

	if (q->resv_next == q->resv_end) {
		uint64_t max_batch = (64ULL << 20) >> q->cluster_bits;
		int ret = refill(q, want > q->batch ? want : q->batch);

		if (ret)
			return ret;
		/* Grow batches while the guest keeps allocating, so that the
		 * fdatasync barrier is amortised; a crash leaks at most one
		 * batch (<= 64 MiB). */
		if (q->batch < max_batch)
			q->batch *= 2;
	}
	take = q->resv_end - q->resv_next;
	take = take < want ? take : want;
	*host = q->resv_next << q->cluster_bits;
	q->resv_next += take;
	return (int64_t)take;
}

int q2_unreserve(struct qcow2 *q)
{
	uint8_t *buf;
	int ret;

	if (q->resv_next == q->resv_end)
		return 0;
	buf = malloc(q->cluster_size);
	if (!buf)
		return -ENOMEM;
	ret = rc_set_range(q, buf, q->resv_next, q->resv_end, 0);
	free(buf);
	if (ret == 0) {
		/* The cursor can move back too: nothing past the pool is used. */
		if (q->cursor == q->resv_end)
			q->cursor = q->resv_next;
		q->resv_end = q->resv_next;
	}
	return ret;
}

/* ---- the L2 cache ---- */

static struct q2_l2 *l2_find(struct qcow2 *q, uint64_t l1_idx)
{
	for (unsigned int i = 0; i < q->l2c_n; i++) {
		if (q->l2c[i].l1_idx == l1_idx) {
			q->l2c[i].lru = ++q->l2_clock;
			return &q->l2c[i];
		}
	}
	return NULL;
}

static int l2_load(struct qcow2 *q, uint64_t l1_idx, uint64_t l2_off, struct q2_l2 **out)
{
	struct q2_l2 *s = &q->l2c[0];
	int ret;

	for (unsigned int i = 1; i < q->l2c_n && s->l1_idx != UINT64_MAX; i++) {
		if (q->l2c[i].l1_idx == UINT64_MAX || q->l2c[i].lru < s->lru)
			s = &q->l2c[i];
	}
	if (!s->t) {
		s->t = malloc(q->cluster_size);
		if (!s->t)
			return -ENOMEM;
	}
	s->l1_idx = UINT64_MAX;
	ret = q2_pread(q->fd, s->t, q->cluster_size, l2_off);
	if (ret)
		return ret;
	s->l1_idx = l1_idx;
	s->lru = ++q->l2_clock;
	*out = s;
	return 0;
}

/* A host offset from an L1/L2 entry must be cluster aligned and inside the
 * image as we know it (nothing past the allocation cursor is in use). */
static bool host_ok(const struct qcow2 *q, uint64_t off)
{
	return (off & (q->cluster_size - 1)) == 0 && (off >> q->cluster_bits) < q->cursor;
}

static int l2_table(struct qcow2 *q, uint64_t gc, struct q2_l2 **out, uint64_t *l2_off)
{
	uint64_t l1_idx = gc >> q->l2_bits, off;
	struct q2_l2 *s;

	if (l1_idx >= q->l1_size)
		return -EIO;
	off = q->l1[l1_idx] & QCOW2_OFFSET_MASK;
	if (l2_off)
		*l2_off = off;
	if (off == 0) {
		*out = NULL;
		return 0;
	}
	if (!host_ok(q, off)) {
		log_warn_ratelimited(&q->rl,
				     "%s: L1 entry %" PRIu64 " (0x%" PRIx64
				     ") is unaligned or past the end of the image",
				     q->d->path, l1_idx, off);
		return -EIO;
	}
	s = l2_find(q, l1_idx);
	if (s) {
		*out = s;
		return 0;
	}
	return l2_load(q, l1_idx, off, out);
}

int q2_lookup(struct qcow2 *q, uint64_t gc, enum q2_kind *kind, uint64_t *host)
{
	struct q2_l2 *s;
	uint64_t e, off;
	int ret;

	ret = l2_table(q, gc, &s, NULL);
	if (ret) {
		*kind = Q2_BAD;
		return ret;
	}
	if (!s) {
		*kind = Q2_UNALLOC;
		return 0;
	}
	e = be64toh(s->t[gc & (q->l2_entries - 1)]);
	off = e & QCOW2_OFFSET_MASK;
	*host = off;
	if (e & QCOW2_OFLAG_COMPRESSED) {
		/* The descriptor is checked when the data is read
		 * (q2_comp_load). */
		*kind = Q2_COMPRESSED;
		*host = e;
		return 0;
	}
	if (off && !host_ok(q, off)) {
		*kind = Q2_BAD;
		log_warn_ratelimited(&q->rl,
				     "%s: L2 entry for guest cluster %" PRIu64 " (0x%" PRIx64
				     ") is unaligned or past the end of the image",
				     q->d->path, gc, off);
		return -EIO;
	}
	if (q->h.version >= 3 && (e & QCOW2_OFLAG_ZERO))
		*kind = off ? Q2_ZERO_AT : Q2_ZERO;
	else
		*kind = off ? Q2_NORMAL : Q2_UNALLOC;
	return 0;
}

int q2_ensure_l2(struct qcow2 *q, uint64_t gc)
{
	uint64_t l1_idx = gc >> q->l2_bits, host;
	uint8_t e[8];
	int64_t n;
	int ret;

	if (l1_idx >= q->l1_size)
		return -EIO;
	if (q->l1[l1_idx] & QCOW2_OFFSET_MASK)
		return 0;
	n = q2_reserve(q, 1, &host);
	if (n < 0)
		return (int)n;
	/* Zeroed table first, then the L1 entry that points to it. */
	ret = q2_pwrite(q->fd, q->zeros, q->cluster_size, host);
	if (ret)
		return ret;
	q2_put_be64(e, host | QCOW2_OFLAG_COPIED);
	ret = q2_pwrite(q->fd, e, 8, q->h.l1_table_offset + l1_idx * 8);
	if (ret)
		return ret;
	q->l1[l1_idx] = host | QCOW2_OFLAG_COPIED;
	return 0;
}

int q2_set_l2(struct qcow2 *q, uint64_t gc, uint64_t n, uint64_t first, uint64_t step)
{
	uint64_t l2_off, idx = gc & (q->l2_entries - 1), buf[64];
	struct q2_l2 *s;
	int ret;

	ret = l2_table(q, gc, &s, &l2_off);
	if (ret)
		return ret;
	if (!s || idx + n > q->l2_entries)
		return -EIO;
	/* Write in chunks; the cached copy is updated as each is written. */
	for (uint64_t done = 0; done < n;) {
		uint64_t m = n - done < 64 ? n - done : 64;

		for (uint64_t i = 0; i < m; i++)
			buf[i] = htobe64(first + (done + i) * step);
		ret = q2_pwrite(q->fd, buf, m * 8, l2_off + (idx + done) * 8);
		if (ret)
			return ret;
		memcpy(&s->t[idx + done], buf, m * 8);
		done += m;
	}
	return 0;
}

/* ---- open / close ---- */

static int load_table(int fd, uint64_t off, uint64_t n, uint64_t **out)
{
	uint64_t *t = calloc(n ? n : 1, 8);
	int ret;

	if (!t)
		return -ENOMEM;
	ret = q2_pread(fd, t, n * 8, off);
	if (ret) {
		free(t);
		return ret;
	}
	for (uint64_t i = 0; i < n; i++)
		t[i] = be64toh(t[i]);
	*out = t;
	return 0;
}

static uint64_t max_u64(uint64_t a, uint64_t b)
{
	return a > b ? a : b;
}

/* The allocation cursor: past the end of the file, past every table, and
 * (read-write) past the last cluster with a non-zero refcount. */
static int find_cursor(struct qcow2 *q, uint64_t file_size)
{
	uint64_t cs = q->cluster_size, cur = (file_size + cs - 1) >> q->cluster_bits;
	uint8_t *buf;
	int ret = 0;

	cur = max_u64(cur, (q->h.l1_table_offset + q->l1_size * 8 + cs - 1) >> q->cluster_bits);
	cur = max_u64(cur, (q->h.refcount_table_offset >> q->cluster_bits) +
				   q->h.refcount_table_clusters);
	q->cursor = cur;
	if (q->readonly)
		return 0;
	buf = malloc(cs);
	if (!buf)
		return -ENOMEM;
	for (uint64_t b = q->rt_entries; b-- > 0;) {
		uint64_t rbe = 1ULL << q->rb_bits;

		if (!q->rt[b])
			continue;
		cur = max_u64(cur, (q->rt[b] >> q->cluster_bits) + 1);
		ret = q2_pread(q->fd, buf, cs, q->rt[b]);
		if (ret)
			break;
		for (uint64_t i = rbe; i-- > 0;) {
			if (q2_rc_get(buf, q->refcount_order, i)) {
				cur = max_u64(cur, b * rbe + i + 1);
				goto done;
			}
		}
	}
done:
	for (uint64_t i = 0; i < q->l1_size; i++)
		cur = max_u64(cur, ((q->l1[i] & QCOW2_OFFSET_MASK) >> q->cluster_bits) + 1);
	q->cursor = cur;
	free(buf);
	return ret;
}

int q2_open_map(struct qcow2 *q, char *err, size_t errlen)
{
	uint64_t cs = q->cluster_size, file_size;
	off_t end;
	int ret;

	end = lseek(q->fd, 0, SEEK_END);
	if (end < 0)
		return err_set(err, errlen, -errno, "%s: cannot get file size", q->d->path);
	file_size = (uint64_t)end;
	q->l1_size = q->h.l1_size;
	ret = load_table(q->fd, q->h.l1_table_offset, q->l1_size, &q->l1);
	if (ret)
		return err_set(err, errlen, ret, "%s: cannot read the L1 table", q->d->path);
	q->rt_entries = (uint64_t)q->h.refcount_table_clusters * cs / 8;
	ret = load_table(q->fd, q->h.refcount_table_offset, q->rt_entries, &q->rt);
	if (ret)
		return err_set(err, errlen, ret, "%s: cannot read the refcount table", q->d->path);
	q->refcount_order = q->h.refcount_order;
	q->rb_bits = q->cluster_bits + 3 - q->refcount_order;
	for (uint64_t i = 0; i < q->rt_entries; i++) {
		uint64_t off = q->rt[i] & ~(uint64_t)511; /* bits 0-8 reserved */

		q->rt[i] = off;
		if (!q->readonly && off &&
		    ((off & (cs - 1)) || off >= ((file_size + cs - 1) & ~(cs - 1))))
			return err_set(err, errlen, -EINVAL,
				       "%s: refcount block %" PRIu64 " at 0x%" PRIx64
				       " is unaligned or past the end of the file",
				       q->d->path, i, off);
	}
	ret = find_cursor(q, file_size);
	if (ret)
		return err_set(err, errlen, ret, "%s: cannot read refcount blocks", q->d->path);
	q->resv_next = q->resv_end = 0;
	q->batch = max_u64(1, (1ULL << 20) >> q->cluster_bits);

	/* L2 cache: 8 MiB of tables (64 GiB of guest at 64 KiB clusters),
	 * at least 16 tables, no more than the image has. */
	q->l2c_n = (unsigned int)max_u64(16, (8ULL << 20) >> q->cluster_bits);
	if (q->l2c_n > 1024)
		q->l2c_n = 1024;
	if (q->l2c_n > q->l1_size)
		q->l2c_n = (unsigned int)max_u64(1, q->l1_size);
	q->l2c = calloc(q->l2c_n, sizeof(*q->l2c));
	/* Page-aligned, so zero writes need no bounce buffer with O_DIRECT. */
	void *z;

	if (posix_memalign(&z, 4096, cs) == 0) {
		memset(z, 0, cs);
		q->zeros = z;
	}
	if (!q->l2c || !q->zeros)
		return err_set(err, errlen, -ENOMEM, "out of memory");
	for (unsigned int i = 0; i < q->l2c_n; i++)
		q->l2c[i].l1_idx = UINT64_MAX;
	return 0;
}

void q2_close_map(struct qcow2 *q)
{
	for (unsigned int i = 0; q->l2c && i < q->l2c_n; i++)
		free(q->l2c[i].t);
	free(q->l2c);
	free(q->l1);
	free(q->rt);
	free(q->zeros);
	q->l2c = NULL;
	q->l1 = NULL;
	q->rt = NULL;
	q->zeros = NULL;
}

/* The kind a cluster reads as, for block status. */
static enum disk_status q2_status(enum q2_kind k)
{
	switch (k) {
	case Q2_ZERO:
	case Q2_ZERO_AT:
		return DISK_STATUS_ZERO;
	case Q2_UNALLOC:
		return DISK_STATUS_BACKING;
	default:
		return DISK_STATUS_DATA; /* normal and compressed clusters */
	}
}

int q2_block_status(struct disk *d, uint64_t off, uint64_t len, enum disk_status *kind, uint64_t *n)
{
	struct qcow2 *q = d->priv;
	uint64_t gc = off >> q->cluster_bits, host, run;
	enum q2_kind k;
	int ret;

	ret = q2_lookup(q, gc, &k, &host);
	if (ret)
		return ret;
	*kind = q2_status(k);
	run = q->cluster_size - (off & (q->cluster_size - 1));
	/* Following clusters of the same kind, one run (L2 tables are loaded
	 * as needed: a convert reads each one once). */
	while (run < len) {
		enum q2_kind next;

		/* A bad entry further on ends the run: the request that
		 * reaches it reports it. */
		if (q2_lookup(q, ++gc, &next, &host) || q2_status(next) != *kind)
			break;
		run += q->cluster_size;
	}
	*n = run < len ? run : len;
	return 0;
}
