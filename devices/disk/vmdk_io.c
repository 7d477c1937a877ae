/* SPDX-License-Identifier: MIT */
/*
 * VMDK requests: a guest range is cut at extent and grain boundaries; each
 * piece is file data (one I/O engine request on the extent's file), zeros
 * (unallocated and zeroed grains, ZERO extents: filled in place), a
 * compressed grain (inflated here, synchronously: streamOptimized images
 * are read-only and usually read once), or, for a write to a grain with no
 * place yet, an allocation (vmdk_priv.h: synchronous and crash-safe).
 *
 * A request completes when its last piece does; a counter held by the
 * submitter makes sure done() never runs inside disk_submit(). It is
 * dropped at the end of the submit when pieces are in flight (they complete
 * from ioe_process), else released through an IOE_NOP.
 */
#include <endian.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <zlib.h>

#include "base/iov.h"
#include "base/log.h"
#include "devices/disk/io_engine.h"
#include "devices/disk/vmdk_priv.h"

struct vmdk_req {
	struct disk_req *req;
	unsigned int pending; /* pieces in flight + the submitter's hold */
	int err;
	struct ioe_req hold;
	/* The piece being gathered, not queued yet (n 0: none). */
	struct {
		const struct vmdk_extent *e;
		enum ioe_op op;
		uint64_t host, pos, n;
	} run;
};

struct vmdk_piece {
	struct ioe_req io;
	struct vmdk_req *r;
	struct iovec iov[]; /* the piece's window of the request's iovecs */
};

static void req_put(struct vmdk_req *r)
{
	struct disk_req *req = r->req;
	int err = r->err;

	if (--r->pending)
		return;
	free(r);
	req->done(req, err);
}

static void hold_done(struct ioe_req *io, int res)
{
	req_put(io->opaque);
}

static void piece_done(struct ioe_req *io, int res)
{
	struct vmdk_piece *p = io->opaque;
	struct vmdk_req *r = p->r;

	if (res && !r->err)
		r->err = res;
	free(p);
	req_put(r);
}

/* One engine request for [pos, pos + n) of the guest request at `host` of
 * extent e's file: guest data through the O_DIRECT descriptor where there
 * is one and the piece is aligned for it (vmdk_priv.h). */
static int submit_piece(struct disk *d, struct vmdk_req *r, enum ioe_op op,
			const struct vmdk_extent *e, uint64_t host, uint64_t pos, uint64_t n)
{
	bool direct =
		e->direct && (op == IOE_READ || op == IOE_WRITE) && (host | n) % d->alignment == 0;
	struct disk_req *req = r->req;
	struct vmdk_piece *p;
	int ret;

	p = calloc(1, sizeof(*p) + (size_t)(req->iovcnt ? req->iovcnt : 1) * sizeof(struct iovec));
	if (!p)
		return -ENOMEM;
	p->r = r;
	p->io = (struct ioe_req){
		.op = op,
		.fd = direct ? e->data_fd : e->fd,
		.off = host,
		.len = n,
		.done = piece_done,
		.opaque = p,
		.align = direct ? d->alignment : 0,
		.cached = !direct,
	};
	if (op == IOE_READ || op == IOE_WRITE) {
		p->io.iov = p->iov;
		p->io.iovcnt = (int)iov_window(req->iov, (unsigned int)req->iovcnt, pos, n, p->iov);
	}
	r->pending++;
	ret = ioe_submit(d->engine, &p->io);
	if (ret) {
		r->pending--;
		free(p);
	}
	return ret;
}

/* Queue the gathered piece, if any. */
static int flush_run(struct disk *d, struct vmdk_req *r)
{
	int ret = 0;

	if (r->run.n)
		ret = submit_piece(d, r, r->run.op, r->run.e, r->run.host, r->run.pos, r->run.n);
	r->run.n = 0;
	return ret;
}

/* [pos, pos + n) of the request at `host` of e's file: one piece with the
 * one before when that ends where this starts, in the file and in the
 * request -- grains allocated one after the other (a converted or
 * sequentially written image) are read and written in one engine request,
 * not one per grain. */
static int queue_piece(struct disk *d, struct vmdk_req *r, enum ioe_op op,
		       const struct vmdk_extent *e, uint64_t host, uint64_t pos, uint64_t n)
{
	int ret;

	if (r->run.n && r->run.e == e && r->run.op == op && r->run.host + r->run.n == host &&
	    r->run.pos + r->run.n == pos) {
		r->run.n += n;
		return 0;
	}
	ret = flush_run(d, r);
	r->run.e = e;
	r->run.op = op;
	r->run.host = host;
	r->run.pos = pos;
	r->run.n = ret ? 0 : n;
	return ret;
}

int vmdk_gte(struct vmdk *v, struct vmdk_extent *e, uint64_t g, uint32_t *out)
{
	uint64_t t = g / e->h.num_gtes_per_gt, bytes = (uint64_t)e->h.num_gtes_per_gt * 4;
	uint32_t *gt;

	if (t >= e->gd_n)
		goto bad;
	if (!e->gd[t]) { /* no table: every grain of it unallocated */
		*out = 0;
		return 0;
	}
	if (!e->gt[t]) {
		if ((uint64_t)e->gd[t] * 512 + bytes > e->file_size)
			goto bad;
		gt = malloc(bytes);
		if (!gt)
			return -ENOMEM;
		if (pread(e->fd, gt, bytes, (off_t)e->gd[t] * 512) != (ssize_t)bytes) {
			free(gt);
			goto bad;
		}
		for (uint32_t i = 0; i < e->h.num_gtes_per_gt; i++)
			gt[i] = le32toh(gt[i]);
		e->gt[t] = gt;
	}
	*out = e->gt[t][g % e->h.num_gtes_per_gt];
	return 0;
bad:
	log_warn_ratelimited(&v->rl, "%s: grain table %llu is outside the file or unreadable",
			     e->path, (unsigned long long)t);
	return -EIO;
}

/* Where grain data at sector `gte` may be: after the metadata, inside the file. */
static int check_grain(struct vmdk *v, struct vmdk_extent *e, uint32_t gte)
{
	if (vmdk_grain_in_file(e, gte))
		return 0;
	log_warn_ratelimited(&v->rl,
			     "%s: grain table entry %u points past the end of the file or into "
			     "its metadata",
			     e->path, gte);
	return -EIO;
}

/* Inflate the compressed grain at sector `gte` into e->cache (kept: guests
 * read a grain 4 KiB at a time). */
static int read_compressed(struct vmdk *v, struct vmdk_extent *e, uint32_t gte)
{
	uint64_t host = (uint64_t)gte * 512, csize, limit = 2 * e->grain + 1024;
	uLongf out = (uLongf)e->grain;
	uint8_t marker[12], *cbuf;
	int ret = -EIO;

	if (e->cache_gte == gte)
		return 0;
	if (e->markers) {
		if (pread(e->fd, marker, sizeof(marker), (off_t)host) != sizeof(marker))
			goto bad;
		uint32_t size_le;

		memcpy(&size_le, marker + 8, 4);
		csize = le32toh(size_le);
		host += sizeof(marker);
	} else {
		csize = limit;
	}
	if (csize > limit || host > e->file_size)
		goto bad;
	if (csize > e->file_size - host)
		csize = e->file_size - host;
	cbuf = malloc(csize ? csize : 1);
	if (!cbuf)
		return -ENOMEM;
	/* A grain may inflate to less than its size: qemu-img compresses only
	 * the part of a disk's last grain that is inside the disk. */
	if (pread(e->fd, cbuf, csize, (off_t)host) == (ssize_t)csize &&
	    uncompress(e->cache, &out, cbuf, (uLong)csize) == Z_OK && out <= e->grain)
		ret = 0;
	free(cbuf);
	if (ret)
		goto bad;
	memset(e->cache + out, 0, e->grain - out);
	e->cache_gte = gte;
	return 0;
bad:
	e->cache_gte = 0;
	log_warn_ratelimited(&v->rl, "%s: compressed grain at sector %u is damaged", e->path, gte);
	return ret;
}

/* Give grain `g` a place and write [in, in + n) of it from the request's
 * bytes at pos (zeros around them). vmdk_priv.h says why in this order. */
static int allocate(struct vmdk *v, struct vmdk_extent *e, struct disk_req *req, uint64_t g,
		    uint64_t in, uint64_t pos, uint64_t n)
{
	uint64_t t = g / e->h.num_gtes_per_gt, i = g % e->h.num_gtes_per_gt;
	uint64_t host = e->next_alloc;
	uint32_t le;
	uint8_t *buf;
	int ret;

	if (!e->gd[t] || !e->gt[t]) {
		log_warn_ratelimited(&v->rl, "%s: no grain table for grain %llu; cannot write",
				     e->path, (unsigned long long)g);
		return -EIO;
	}
	if ((host + e->grain) / 512 > UINT32_MAX)
		return -ENOSPC; /* grain table entries are 32-bit sectors */
	ret = disk_grow_ensure(&e->grow, host + e->grain);
	if (ret)
		return ret;
	if (e->grow.end > e->file_size)
		e->file_size = e->grow.end;
	buf = calloc(1, e->grain);
	if (!buf)
		return -ENOMEM;
	iov_to_buf(req->iov, (unsigned int)req->iovcnt, pos, buf + in, n);
	ret = disk_file_pwrite(e->fd, buf, e->grain, host);
	free(buf);
	if (ret)
		return ret;
	e->next_alloc = host + e->grain;
	le = htole32((uint32_t)(host / 512));
	ret = disk_file_pwrite(e->fd, &le, 4, (uint64_t)e->gd[t] * 512 + i * 4);
	if (!ret && e->rgd && e->rgd[t])
		ret = disk_file_pwrite(e->fd, &le, 4, (uint64_t)e->rgd[t] * 512 + i * 4);
	if (ret)
		return ret;
	e->gt[t][i] = (uint32_t)(host / 512);
	return 0;
}

/* The part of a request inside one grain of a sparse extent. */
static int sparse_piece(struct vmdk *v, struct vmdk_extent *e, struct vmdk_req *r, uint64_t rel,
			uint64_t pos, uint64_t n)
{
	struct disk_req *req = r->req;
	uint64_t g = rel / e->grain, in = rel % e->grain;
	uint32_t gte;
	int ret;

	ret = vmdk_gte(v, e, g, &gte);
	if (ret)
		return ret;
	if (!vmdk_gte_is_zero(e, gte)) {
		ret = check_grain(v, e, gte);
		if (ret)
			return ret;
	} else {
		gte = 0; /* unallocated or zeroed: zeros */
	}
	switch (req->op) {
	case DISK_READ:
		if (!gte) {
			iov_zero(req->iov, (unsigned int)req->iovcnt, pos, n);
			return 0;
		}
		if (e->compressed) {
			ret = read_compressed(v, e, gte);
			if (!ret)
				iov_from_buf(req->iov, (unsigned int)req->iovcnt, pos,
					     e->cache + in, n);
			return ret;
		}
		return queue_piece(v->d, r, IOE_READ, e, (uint64_t)gte * 512 + in, pos, n);
	case DISK_WRITE:
		if (!gte)
			return allocate(v, e, req, g, in, pos, n);
		return queue_piece(v->d, r, IOE_WRITE, e, (uint64_t)gte * 512 + in, pos, n);
	case DISK_WRITE_ZEROES:
		if (!gte)
			return 0; /* already reads as zeros */
		return queue_piece(v->d, r, IOE_ZERO_RANGE, e, (uint64_t)gte * 512 + in, pos, n);
	default:
		return -EINVAL;
	}
}

static struct vmdk_extent *find_extent(struct vmdk *v, uint64_t off)
{
	unsigned int lo = 0, hi = v->n;

	while (hi - lo > 1) {
		unsigned int mid = (lo + hi) / 2;

		if (v->ext[mid].start <= off)
			lo = mid;
		else
			hi = mid;
	}
	return &v->ext[lo];
}

static int range_pieces(struct vmdk *v, struct vmdk_req *r)
{
	struct disk_req *req = r->req;
	uint64_t pos, n;
	int ret = 0;

	for (pos = 0; pos < req->len && !ret; pos += n) {
		struct vmdk_extent *e = find_extent(v, req->offset + pos);
		uint64_t rel = req->offset + pos - e->start;

		n = req->len - pos < e->len - rel ? req->len - pos : e->len - rel;
		if (e->type == VMDK_EXTENT_SPARSE) {
			if (n > e->grain - rel % e->grain)
				n = e->grain - rel % e->grain;
			ret = sparse_piece(v, e, r, rel, pos, n);
		} else if (e->type == VMDK_EXTENT_ZERO) {
			if (req->op == DISK_READ)
				iov_zero(req->iov, (unsigned int)req->iovcnt, pos, n);
			else if (req->op == DISK_WRITE)
				ret = -EIO; /* nowhere to keep the data */
		} else {
			enum ioe_op op = req->op == DISK_READ	 ? IOE_READ
					 : req->op == DISK_WRITE ? IOE_WRITE
								 : IOE_ZERO_RANGE;

			ret = queue_piece(v->d, r, op, e, e->flat_off + rel, pos, n);
		}
	}
	if (ret)
		r->run.n = 0; /* not queued: the request fails */
	return ret ? ret : flush_run(v->d, r);
}

int vmdk_submit(struct disk *d, struct disk_req *req)
{
	struct vmdk *v = d->priv;
	struct vmdk_req *r;
	int ret = 0;

	if (req->op == DISK_DISCARD)
		return -EOPNOTSUPP;
	r = calloc(1, sizeof(*r));
	if (!r)
		return -ENOMEM;
	r->req = req;
	r->pending = 1; /* the hold: released below */
	if (req->op == DISK_FLUSH) {
		for (unsigned int i = 0; i < v->n && !ret; i++)
			if (v->ext[i].fd >= 0 && !v->ext[i].readonly)
				ret = submit_piece(d, r, IOE_FDATASYNC, &v->ext[i], 0, 0, 0);
	} else {
		ret = range_pieces(v, r);
	}
	if (ret)
		r->err = ret; /* pieces already queued finish first */
	if (r->pending > 1) {
		/* Pieces in flight complete the request, and only from
		 * ioe_process: the hold can go without an engine round trip. */
		r->pending--;
		return 0;
	}
	r->hold = (struct ioe_req){ .op = IOE_NOP, .done = hold_done, .opaque = r };
	ret = ioe_submit(d->engine, &r->hold);
	if (ret && --r->pending == 0) {
		free(r); /* nothing in flight: refused outright */
		return ret;
	}
	/* (With pieces in flight the last of them completes the request.) */
	return 0;
}

int vmdk_block_status(struct disk *d, uint64_t off, uint64_t len, enum disk_status *kind,
		      uint64_t *n)
{
	struct vmdk *v = d->priv;
	struct vmdk_extent *e = find_extent(v, off);
	uint64_t rel = off - e->start, end = e->len - rel < len ? e->len - rel : len, run;
	uint32_t gte;
	int ret;

	*kind = e->type == VMDK_EXTENT_ZERO ? DISK_STATUS_ZERO : DISK_STATUS_DATA;
	*n = end;
	if (e->type != VMDK_EXTENT_SPARSE)
		return 0;
	/* Grains of the same kind in this extent, one run. */
	for (run = 0; run < end; run += e->grain - (rel + run) % e->grain) {
		enum disk_status k;

		ret = vmdk_gte(v, e, (rel + run) / e->grain, &gte);
		if (ret && run == 0)
			return ret;
		if (ret) /* further on: the request that reaches it reports it */
			break;
		k = vmdk_gte_is_zero(e, gte) ? DISK_STATUS_ZERO : DISK_STATUS_DATA;
		if (run == 0)
			*kind = k;
		else if (k != *kind)
			break;
	}
	*n = run < end ? run : end;
	return 0;
}
