/* SPDX-License-Identifier: MIT */
/*
 * qcow2 request path. A guest request is cut into parts, each one engine
 * request (or one or two backing-file reads followed by one write):
 *
 *   allocated clusters            one READ/WRITE per run of clusters that are
 *                                 contiguous in the host file -- the hot path:
 *                                 an L2 cache hit and one data I/O
 *   unallocated / zero clusters   reads: zero-fill (NOP) or a read of the
 *                                 backing file; writes: an allocating write
 *   allocating write              host clusters from the reserved pool, the
 *                                 data (plus copy-on-write data read from the
 *                                 backing file) in one write, then the L2
 *                                 entries in one pwrite (qcow2_priv.h)
 *
 * disk_req.priv_pending counts the parts in flight (plus one while the
 * request is being cut, so that it cannot complete early); priv_err keeps
 * the first error. Completions only ever run from ioe_process().
 */
#include <errno.h>
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>

#include "devices/disk/qcow2_priv.h"
#include "base/iov.h"

struct q2_part {
	struct qcow2 *q;
	struct disk_req *req;
	enum disk_op op;	 /* what the part does for the guest */
	uint64_t goff, len;	 /* guest range */
	const struct iovec *src; /* the guest's buffers (or q->zeros) */
	int srccnt;
	uint64_t src_off;
	int err;

	struct ioe_req io;
	struct disk_req breq[2]; /* backing-file reads (data or COW) */
	struct iovec biov[2];
	int bpending;

	/* allocating writes */
	struct q2_alloc alloc;
	uint64_t host;	 /* first host cluster */
	uint64_t wr_off; /* where the data write starts in the file */
	uint8_t *cow;	 /* head and tail COW data from the backing file */
	uint64_t head, tail;
	uint64_t comp_e; /* the compressed cluster's descriptor this replaces */

	struct q2_part *next_wait;
	int iovcnt;
	struct iovec iov[];
};

static void walk(struct qcow2 *q, struct disk_req *req, enum disk_op op, uint64_t goff,
		 uint64_t len, const struct iovec *src, int srccnt, uint64_t src_off);
static void zwalk(struct qcow2 *q, struct disk_req *req, uint64_t goff, uint64_t len);

static void req_put(struct disk_req *req, int err)
{
	if (err && !req->priv_err)
		req->priv_err = err;
	if (--req->priv_pending == 0)
		req->done(req, req->priv_err);
}

static struct q2_part *part_new(struct qcow2 *q, struct disk_req *req, enum disk_op op,
				uint64_t goff, uint64_t len, const struct iovec *src, int srccnt,
				uint64_t src_off)
{
	/* +2: head and tail of an allocating write */
	struct q2_part *p = calloc(1, sizeof(*p) + ((size_t)srccnt + 2) * sizeof(struct iovec));

	if (!p)
		return NULL;
	p->q = q;
	p->req = req;
	p->op = op;
	p->goff = goff;
	p->len = len;
	p->src = src;
	p->srccnt = srccnt;
	p->src_off = src_off;
	p->io.opaque = p;
	return p;
}

static void part_free(struct q2_part *p)
{
	free(p->cow);
	free(p);
}

static void part_finish(struct q2_part *p, int err)
{
	struct disk_req *req = p->req;

	part_free(p);
	req_put(req, err);
}

static void io_done(struct ioe_req *r, int res)
{
	struct q2_part *p = r->opaque;

	if (res == -EOPNOTSUPP && p->op == DISK_DISCARD)
		res = 0; /* advisory: the file system cannot punch holes */
	if (res == -EOPNOTSUPP && p->op == DISK_WRITE_ZEROES && r->op == IOE_PUNCH_HOLE) {
		r->op = IOE_ZERO_RANGE; /* with unmap: zero it instead */
		if (ioe_submit(p->q->d->engine, r) == 0)
			return;
	}
	part_finish(p, res ? res : p->err);
}

/* With O_DIRECT (data_fd is then a descriptor of its own), guest buffers
 * that are not aligned must go through the engine's bounce buffer. */
static uint32_t data_align(const struct qcow2 *q, int fd)
{
	return fd == q->data_fd && q->data_fd != q->fd ? q->d->alignment : 0;
}

/* Queue the part's engine request. 0: it owns a pending count now. */
static int part_submit(struct q2_part *p, enum ioe_op op, int fd, uint64_t off, uint64_t len)
{
	p->io.op = op;
	p->io.fd = fd;
	p->io.off = off;
	p->io.len = len;
	p->io.iov = p->iov;
	p->io.iovcnt = p->iovcnt;
	p->io.align = data_align(p->q, fd);
	p->io.cached = p->q->data_cached;
	p->io.done = io_done;
	return ioe_submit(p->q->d->engine, &p->io);
}

/* Account for a new part and queue it; on failure drop it and record. */
static int part_go(struct q2_part *p, enum ioe_op op, int fd, uint64_t off, uint64_t len)
{
	struct disk_req *req = p->req;
	int ret;

	req->priv_pending++;
	ret = part_submit(p, op, fd, off, len);
	if (ret) {
		req->priv_pending--;
		if (!req->priv_err)
			req->priv_err = ret;
		part_free(p);
	}
	return ret;
}

/* Complete a part with an error (still from ioe_process, via a NOP). */
static int part_error(struct q2_part *p, int err)
{
	p->err = err;
	p->iovcnt = 0;
	return part_go(p, IOE_NOP, -1, 0, 0);
}

/* ---- allocating writes ---- */

static struct q2_alloc *alloc_find(struct qcow2 *q, uint64_t gc)
{
	for (struct q2_alloc *a = q->allocs; a; a = a->next)
		if (gc >= a->gc && gc - a->gc < a->n)
			return a;
	return NULL;
}

static void alloc_unlink(struct qcow2 *q, struct q2_alloc *a)
{
	if (a->prev)
		a->prev->next = a->next;
	else
		q->allocs = a->next;
	if (a->next)
		a->next->prev = a->prev;
}

/* p waits (holding a pending count of its request) for allocation a. */
static int alloc_wait(struct q2_alloc *a, struct q2_part *p)
{
	p->req->priv_pending++;
	p->next_wait = a->waiters;
	a->waiters = p;
	return 0;
}

/* The L2 entries go in only now that the data write has completed. */
static void alloc_write_done(struct ioe_req *r, int res)
{
	struct q2_part *p = r->opaque;
	struct qcow2 *q = p->q;
	struct q2_alloc *a = &p->alloc;
	struct q2_part *w;

	if (res == 0)
		res = q2_set_l2(q, a->gc, a->n, p->host | QCOW2_OFLAG_COPIED, q->cluster_size);
	if (res == 0 && p->comp_e && q2_comp_free_later(q, p->comp_e))
		log_warn_ratelimited(&q->rl, "%s: old compressed cluster leaks", q->d->path);
	if (res)
		log_warn_ratelimited(&q->rl, "%s: allocating write failed: %s", q->d->path,
				     strerror(-res));
	alloc_unlink(q, a);
	w = a->waiters;
	part_finish(p, res);
	/* Waiters run again from the top: the clusters are allocated now
	 * (or still not, after an error, and they allocate themselves). */
	while (w) {
		struct q2_part *next = w->next_wait;

		if (w->op == DISK_WRITE)
			walk(q, w->req, w->op, w->goff, w->len, w->src, w->srccnt, w->src_off);
		else
			zwalk(q, w->req, w->goff, w->len);
		part_finish(w, 0);
		w = next;
	}
}

static int alloc_write(struct q2_part *p)
{
	p->io.opaque = p;
	p->io.op = IOE_WRITE;
	p->io.fd = p->q->data_fd;
	p->io.off = p->wr_off;
	p->io.len = 0;
	p->io.iov = p->iov;
	p->io.iovcnt = p->iovcnt;
	p->io.align = data_align(p->q, p->q->data_fd);
	p->io.cached = p->q->data_cached;
	p->io.done = alloc_write_done;
	return ioe_submit(p->q->d->engine, &p->io);
}

static void cow_read_done(struct disk_req *br, int res)
{
	struct q2_part *p = br->opaque;

	if (res && !p->err)
		p->err = res;
	if (--p->bpending > 0)
		return;
	if (!p->err)
		p->err = alloc_write(p);
	if (p->err) /* unwind as a failed write: no L2 entries */
		alloc_write_done(&p->io, p->err);
}

/* Read [off, off+len) of the backing file into buf (zeros past its end).
 * Returns 0 if nothing was queued, 1 if a read is in flight, or -errno. */
static int cow_read(struct q2_part *p, int i, uint8_t *buf, uint64_t off, uint64_t len)
{
	struct disk *b = p->q->d->backing;
	uint64_t bl = off < b->size ? b->size - off : 0;
	int ret;

	bl = bl < len ? bl : len;
	memset(buf + bl, 0, len - bl);
	if (bl == 0)
		return 0;
	p->biov[i] = (struct iovec){ .iov_base = buf, .iov_len = bl };
	p->breq[i] = (struct disk_req){ .op = DISK_READ,
					.offset = off,
					.len = bl,
					.iov = &p->biov[i],
					.iovcnt = 1,
					.done = cow_read_done,
					.opaque = p };
	ret = disk_submit(b, &p->breq[i]);
	return ret ? ret : 1;
}

/*
 * Write p's range into the clusters [gc, gc+n) at `host`. head: the bytes of
 * the first cluster before p->goff; tail: those of the last after the end.
 * They come from the backing file where that cluster was unallocated over
 * one, from zeros (written out) for a preallocated zero cluster (not fresh),
 * and need not be written at all otherwise: fresh clusters read as zeros
 * (qcow2_priv.h). Returns 0 if the part is accounted for (in flight), or
 * -errno with nothing queued and nothing registered.
 */
static int alloc_start(struct qcow2 *q, struct q2_part *p, uint64_t gc, uint64_t n, uint64_t host,
		       enum q2_kind first, enum q2_kind last)
{
	uint64_t cs = q->cluster_size, in = p->goff & (cs - 1);
	uint64_t tail_in = (p->goff + p->len) & (cs - 1);
	bool head_b = in && first == Q2_UNALLOC && q->d->backing;
	bool tail_b = tail_in && last == Q2_UNALLOC && q->d->backing;
	bool zfill = first == Q2_ZERO_AT;		    /* n == 1 then */
	bool comp = first == Q2_COMPRESSED;		    /* n == 1; p->comp_e: the descriptor */
	uint8_t *head_src = q->zeros, *tail_src = q->zeros; /* zfill; else set below */
	struct iovec *iov = p->iov;
	int cnt = 0, ret, nb = 0;

	p->host = host;
	p->alloc = (struct q2_alloc){ .gc = gc, .n = n };
	p->head = (head_b || zfill || comp) ? in : 0;
	p->tail = (tail_b || ((zfill || comp) && tail_in)) ? cs - tail_in : 0;
	p->wr_off = host + in - p->head;
	if (p->srccnt + 2 > IOE_MAX_IOV && (p->head || p->tail)) {
		log_warn_ratelimited(&q->rl, "%s: write with too many segments", q->d->path);
		return -EIO;
	}
	if (head_b || tail_b) {
		void *m;

		/* aligned: the data fd may be O_DIRECT */
		if (posix_memalign(&m, 4096, 2 * cs))
			return -ENOMEM;
		p->cow = m;
		head_src = p->cow;
		tail_src = p->cow + cs;
	}
	if (comp && (p->head || p->tail)) {
		/* The rest of the cluster is the old data, decompressed. */
		ret = q2_comp_load(q, p->comp_e);
		if (ret)
			return ret;
		p->cow = malloc(cs);
		if (!p->cow)
			return -ENOMEM;
		memcpy(p->cow, q->ccache, cs);
		head_src = p->cow;
		tail_src = p->cow + tail_in;
	}
	if (p->head)
		iov[cnt++] = (struct iovec){ head_src, p->head };
	cnt += (int)iov_window(p->src, (unsigned int)p->srccnt, p->src_off, p->len, iov + cnt);
	if (p->tail)
		iov[cnt++] = (struct iovec){ tail_src, p->tail };
	p->iovcnt = cnt;

	/* Registered before anything is queued: later requests for these
	 * clusters wait for us. */
	p->alloc.next = q->allocs;
	if (q->allocs)
		q->allocs->prev = &p->alloc;
	q->allocs = &p->alloc;
	p->req->priv_pending++;

	/* One extra count while the reads are being queued. */
	p->bpending = 1;
	if (head_b) {
		ret = cow_read(p, 0, p->cow, gc * cs, p->head);
		if (ret < 0)
			goto fail;
		nb += ret;
		p->bpending += ret;
	}
	if (tail_b) {
		ret = cow_read(p, 1, p->cow + cs, p->goff + p->len, p->tail);
		if (ret < 0)
			goto fail;
		nb += ret;
		p->bpending += ret;
	}
	p->bpending--;
	if (nb)
		return 0; /* cow_read_done queues the write */
	ret = alloc_write(p);
	if (ret == 0)
		return 0;
fail:
	if (p->bpending > 1) {
		/* A COW read is in flight: it finishes the part, as failed. */
		p->err = ret;
		p->bpending--;
		return 0;
	}
	alloc_unlink(q, &p->alloc);
	p->req->priv_pending--;
	free(p->cow);
	p->cow = NULL;
	return ret;
}

/* ---- the walkers ---- */

static bool reads_zero(const struct qcow2 *q, enum q2_kind k)
{
	return k == Q2_ZERO || k == Q2_ZERO_AT || (k == Q2_UNALLOC && !q->d->backing);
}

static void backing_read_done(struct disk_req *br, int res)
{
	part_finish(br->opaque, res);
}

static int read_part(struct qcow2 *q, struct q2_part *p, enum q2_kind kind, uint64_t host)
{
	uint64_t in = p->goff & (q->cluster_size - 1);
	int n;

	if (kind == Q2_NORMAL) {
		p->iovcnt = (int)iov_window(p->src, (unsigned int)p->srccnt, p->src_off, p->len,
					    p->iov);
		return part_go(p, IOE_READ, q->data_fd, host + in, 0);
	}
	if (kind == Q2_COMPRESSED) { /* one cluster, decompressed here */
		p->err = q2_comp_load(q, host);
		if (p->err == 0)
			iov_from_buf(p->src, (unsigned int)p->srccnt, p->src_off, q->ccache + in,
				     p->len);
		p->iovcnt = 0;
		return part_go(p, IOE_NOP, -1, 0, 0);
	}
	if (kind == Q2_UNALLOC && q->d->backing) {
		struct disk *b = q->d->backing;
		uint64_t bl = p->goff < b->size ? b->size - p->goff : 0;
		int ret;

		/* Past the end of a shorter backing file: zeros. */
		bl = bl < p->len ? bl : p->len;
		iov_zero(p->src, (unsigned int)p->srccnt, p->src_off + bl, p->len - bl);
		if (bl) {
			n = (int)iov_window(p->src, (unsigned int)p->srccnt, p->src_off, bl,
					    p->iov);
			p->breq[0] = (struct disk_req){ .op = DISK_READ,
							.offset = p->goff,
							.len = bl,
							.iov = p->iov,
							.iovcnt = n,
							.done = backing_read_done,
							.opaque = p };
			p->req->priv_pending++;
			ret = disk_submit(b, &p->breq[0]);
			if (ret == 0)
				return 0;
			p->req->priv_pending--;
			return part_error(p, ret);
		}
	} else {
		iov_zero(p->src, (unsigned int)p->srccnt, p->src_off, p->len);
	}
	p->iovcnt = 0;
	return part_go(p, IOE_NOP, -1, 0, 0);
}

/* A write part starting in guest cluster gc (of `kind`) with `len` bytes
 * of the request left; sets p->len to what it covers. */
static int write_part(struct qcow2 *q, struct q2_part *p, uint64_t gc, enum q2_kind kind,
		      uint64_t host, uint64_t n, uint64_t len)
{
	uint64_t cs = q->cluster_size, in = p->goff & (cs - 1), m = 1, h2, rhost;
	enum q2_kind last = kind, k2;
	struct q2_alloc *a;
	int64_t got;
	int ret;

	if (kind == Q2_NORMAL) { /* in place: the hot path */
		p->iovcnt = (int)iov_window(p->src, (unsigned int)p->srccnt, p->src_off, p->len,
					    p->iov);
		return part_go(p, IOE_WRITE, q->data_fd, host + in, 0);
	}
	p->len = len < cs - in ? len : cs - in;
	if (p->src == &q->zero_iov && reads_zero(q, kind)) { /* zeros over zeros */
		p->iovcnt = 0;
		return part_go(p, IOE_NOP, -1, 0, 0);
	}
	a = alloc_find(q, gc);
	if (a)
		return alloc_wait(a, p);
	if (kind == Q2_ZERO_AT) {
		ret = alloc_start(q, p, gc, 1, host, kind, kind);
		return ret ? part_error(p, ret) : 0;
	}
	if (kind == Q2_COMPRESSED) { /* copy-on-write into a new cluster */
		got = q2_reserve(q, 1, &rhost);
		if (got < 0)
			return part_error(p, (int)got);
		p->comp_e = host;
		ret = alloc_start(q, p, gc, 1, rhost, kind, kind);
		return ret ? part_error(p, ret) : 0;
	}
	ret = q2_ensure_l2(q, gc);
	if (ret)
		return part_error(p, ret);
	/* Extend over following clusters that need allocating too, within
	 * this L2 table (one pwrite of the entries afterwards). */
	while (m * cs - in < len && ((gc + m) >> q->l2_bits) == (gc >> q->l2_bits)) {
		if (q2_lookup(q, gc + m, &k2, &h2) || (k2 != Q2_ZERO && k2 != Q2_UNALLOC) ||
		    alloc_find(q, gc + m))
			break;
		last = k2;
		m++;
	}
	got = q2_reserve(q, m, &rhost);
	if (got < 0)
		return part_error(p, (int)got);
	if ((uint64_t)got < m) {
		m = (uint64_t)got;
		if (q2_lookup(q, gc + m - 1, &last, &h2))
			last = Q2_UNALLOC;
	}
	p->len = len < m * cs - in ? len : m * cs - in;
	(void)n;
	ret = alloc_start(q, p, gc, m, rhost, kind, last);
	return ret ? part_error(p, ret) : 0;
}

/* READ and WRITE over [goff, goff+len), bytes from src at src_off. */
static void walk(struct qcow2 *q, struct disk_req *req, enum disk_op op, uint64_t goff,
		 uint64_t len, const struct iovec *src, int srccnt, uint64_t src_off)
{
	uint64_t cs = q->cluster_size;

	while (len > 0) {
		uint64_t gc = goff >> q->cluster_bits, in = goff & (cs - 1), host = 0, h2, n = 1;
		enum q2_kind kind, k2;
		struct q2_part *p;
		int ret;

		ret = q2_lookup(q, gc, &kind, &host);
		/* A run of clusters one engine request can serve. */
		if (ret == 0 && kind == Q2_NORMAL) {
			while (n * cs - in < len && q2_lookup(q, gc + n, &k2, &h2) == 0 &&
			       k2 == Q2_NORMAL && h2 == host + n * cs)
				n++;
		} else if (ret == 0 && op == DISK_READ && kind != Q2_COMPRESSED) {
			while (n * cs - in < len && q2_lookup(q, gc + n, &k2, &h2) == 0 &&
			       k2 != Q2_NORMAL && k2 != Q2_COMPRESSED &&
			       reads_zero(q, k2) == reads_zero(q, kind))
				n++;
		}
		p = part_new(q, req, op, goff, len < n * cs - in ? len : n * cs - in, src, srccnt,
			     src_off);
		if (!p) {
			if (!req->priv_err)
				req->priv_err = -ENOMEM;
			return;
		}
		if (ret) {
			(void)part_error(p, ret);
			return;
		}
		if (op == DISK_READ)
			ret = read_part(q, p, kind, host);
		else
			ret = write_part(q, p, gc, kind, host, n, len);
		if (ret)
			return;
		/* p may be queued (not finished: completions run later). */
		goff += p->len;
		src_off += p->len;
		len -= p->len;
	}
}

/* DISCARD and WRITE_ZEROES: whole clusters by metadata or fallocate,
 * partial ones by writing zeros (WRITE_ZEROES) or not at all (DISCARD). */
static void zwalk(struct qcow2 *q, struct disk_req *req, uint64_t goff, uint64_t len)
{
	uint64_t cs = q->cluster_size;
	enum disk_op op = req->op;

	while (len > 0) {
		uint64_t gc = goff >> q->cluster_bits, in = goff & (cs - 1), host = 0, h2, n = 1;
		uint64_t chunk = len < cs - in ? len : cs - in;
		enum q2_kind kind, k2;
		struct q2_part *p;
		struct q2_alloc *a;
		int ret;

		if (in || chunk < cs) {
			if (op == DISK_WRITE_ZEROES) {
				walk(q, req, DISK_WRITE, goff, chunk, &q->zero_iov, 1, 0);
				if (req->priv_err)
					return;
				goto next;
			}
			p = part_new(q, req, op, goff, chunk, NULL, 0, 0);
			if (!p || part_go(p, IOE_NOP, -1, 0, 0))
				goto nomem;
			goto next;
		}
		ret = q2_lookup(q, gc, &kind, &host);
		p = part_new(q, req, op, goff, cs, NULL, 0, 0);
		if (!p)
			goto nomem;
		if (ret) {
			(void)part_error(p, ret);
			return;
		}
		if (kind == Q2_NORMAL) {
			/* Punch: the host cluster stays allocated and reads as
			 * zeros. Never freeing means no request in flight can
			 * see its cluster reused (qcow2_priv.h). */
			while ((n + 1) * cs <= len && q2_lookup(q, gc + n, &k2, &h2) == 0 &&
			       k2 == Q2_NORMAL && h2 == host + n * cs)
				n++;
			p->len = n * cs;
			ret = part_go(p,
				      (op == DISK_DISCARD || req->unmap) ? IOE_PUNCH_HOLE
									 : IOE_ZERO_RANGE,
				      q->data_fd, host, n * cs);
		} else if (kind == Q2_COMPRESSED && op == DISK_WRITE_ZEROES) {
			/* zeros over compressed data: an ordinary (allocating)
			 * write of a zero cluster */
			part_free(p);
			walk(q, req, DISK_WRITE, goff, cs, &q->zero_iov, 1, 0);
			if (req->priv_err)
				return;
			goto next;
		} else if (kind == Q2_UNALLOC && q->d->backing && op == DISK_WRITE_ZEROES) {
			a = alloc_find(q, gc);
			if (a) {
				ret = alloc_wait(a, p);
			} else if (q->h.version >= 3) {
				/* The zero flag hides the backing file. */
				while ((n + 1) * cs <= len &&
				       ((gc + n) >> q->l2_bits) == (gc >> q->l2_bits) &&
				       q2_lookup(q, gc + n, &k2, &h2) == 0 && k2 == Q2_UNALLOC &&
				       !alloc_find(q, gc + n))
					n++;
				p->len = n * cs;
				ret = q2_ensure_l2(q, gc);
				if (ret == 0)
					ret = q2_set_l2(q, gc, n, QCOW2_OFLAG_ZERO, 0);
				p->err = ret;
				ret = part_go(p, IOE_NOP, -1, 0, 0);
			} else {
				/* version 2 has no zero flag: allocate zeros */
				part_free(p);
				walk(q, req, DISK_WRITE, goff, cs, &q->zero_iov, 1, 0);
				if (req->priv_err)
					return;
				goto next;
			}
		} else {
			/* already reads zeros, or DISCARD over the backing file
			 * (which then shows its older data, as DISCARD allows) */
			ret = part_go(p, IOE_NOP, -1, 0, 0);
		}
		if (ret)
			return;
		chunk = n * cs;
	next:
		goff += chunk;
		len -= chunk;
	}
	return;
nomem:
	if (!req->priv_err)
		req->priv_err = -ENOMEM;
}

int q2_submit(struct disk *d, struct disk_req *req)
{
	struct qcow2 *q = d->priv;
	struct q2_part *p;

	/* One count for the submission itself: nothing completes before the
	 * whole request has been cut up (and completions never run here). */
	req->priv_pending = 1;
	req->priv_err = 0;
	if (req->op == DISK_FLUSH && q2_comp_release(q, false))
		log_warn_ratelimited(&q->rl, "%s: old compressed clusters leak", d->path);
	if (req->op == DISK_FLUSH || req->len == 0) {
		/* Metadata is written through (qcow2_priv.h): every write that
		 * has completed is in the file, and one fdatasync makes it and
		 * its metadata stable. */
		p = part_new(q, req, req->op, 0, 0, NULL, 0, 0);
		if (!p)
			req->priv_err = -ENOMEM;
		else
			(void)part_go(p, req->op == DISK_FLUSH ? IOE_FDATASYNC : IOE_NOP, q->fd, 0,
				      0);
	} else if (req->op == DISK_READ || req->op == DISK_WRITE) {
		walk(q, req, req->op, req->offset, req->len, req->iov, req->iovcnt, 0);
	} else if (req->op == DISK_DISCARD || req->op == DISK_WRITE_ZEROES) {
		zwalk(q, req, req->offset, req->len);
	} else {
		req->priv_err = -EINVAL;
	}
	if (--req->priv_pending == 0) /* nothing could be queued */
		return req->priv_err ? req->priv_err : -EIO;
	return 0;
}
