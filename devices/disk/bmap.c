/* SPDX-License-Identifier: MIT */
/*
 * The block-mapped formats' request path (bmap.h). A guest request is cut
 * into parts, one per run that map() reports as one kind: an engine
 * READ/WRITE for file data, a zero fill, or a read of the parent.
 *
 * disk_req.priv_pending counts the parts in flight (plus one while the
 * request is being cut, so that it cannot complete early); priv_err keeps
 * the first error. Completions only ever run from ioe_process().
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "devices/disk/bmap.h"
#include "base/err.h"
#include "base/iov.h"

/* The source of WRITE_ZEROES data: never written to. */
static const uint8_t zero_block[64 * 1024];

struct bmap_part {
	struct bmap *b;
	struct disk_req *req;
	uint64_t goff, len, host;
	bool write;
	int err; /* completes with this error (a NOP part) */
	struct ioe_req io;
	struct disk_req preq; /* a read of the parent */
	int iovcnt;
	struct iovec iov[];
};

int bmap_init(struct bmap *b, struct disk *d, int fd, const struct bmap_ops *ops, void *fmt,
	      char *err, size_t errlen)
{
	int fl = fcntl(fd, F_GETFL);

	*b = (struct bmap){ .d = d, .fd = fd, .data_fd = fd, .ops = ops, .fmt = fmt };
	b->cached = fl >= 0 && !(fl & O_DIRECT);
	if (b->cached)
		return 0;
	/* Metadata is read and written in pieces smaller than O_DIRECT
	 * allows: give it its own buffered descriptor of the same file. */
	b->fd = disk_reopen_fd(fd, d->readonly ? O_RDONLY : O_RDWR);
	if (b->fd < 0) {
		int e = errno;

		close(fd);
		return err_set(err, errlen, -e, "%s: cannot reopen for metadata: %s", d->path,
			       strerror(e));
	}
	return 0;
}

void bmap_close(struct bmap *b)
{
	struct disk *d = b->d;

	/* Complete what is in flight; everything written is made stable. */
	ioe_drain(d->engine);
	if (!d->readonly && fdatasync(b->fd) < 0)
		log_warn("%s: fdatasync on close: %s", d->path, strerror(errno));
	if (d->backing) {
		disk_close(d->backing);
		d->backing = NULL;
	}
	bmap_fini(b);
}

void bmap_fini(struct bmap *b)
{
	if (b->fd != b->data_fd)
		close(b->fd);
	close(b->data_fd);
}

static void req_put(struct disk_req *req, int err)
{
	if (err && !req->priv_err)
		req->priv_err = err;
	if (--req->priv_pending == 0)
		req->done(req, req->priv_err);
}

static void part_finish(struct bmap_part *p, int err)
{
	struct disk_req *req = p->req;

	free(p);
	req_put(req, err);
}

static void io_done(struct ioe_req *r, int res)
{
	struct bmap_part *p = r->opaque;
	struct bmap *b = p->b;

	if (res == 0)
		res = p->err;
	if (res == 0 && p->write && b->ops->written)
		res = b->ops->written(b->fmt, p->goff, p->len);
	if (res == 0 && r->op == IOE_READ && b->ops->read_fixup)
		b->ops->read_fixup(b->fmt, p->host, p->len, p->iov, p->iovcnt);
	part_finish(p, res);
}

static void parent_done(struct disk_req *pr, int res)
{
	part_finish(pr->opaque, res);
}

/* Queue one part; on failure the request records the error. */
static int part_go(struct bmap_part *p, enum ioe_op op, int err)
{
	struct bmap *b = p->b;
	int ret;

	p->req->priv_pending++;
	p->io = (struct ioe_req){
		.op = err ? IOE_NOP : op,
		.fd = op == IOE_FDATASYNC ? b->fd : b->data_fd,
		.off = p->host,
		.iov = p->iov,
		.iovcnt = p->iovcnt,
		.align = b->cached ? 0 : b->d->alignment,
		.cached = b->cached,
		.done = io_done,
		.opaque = p,
	};
	p->err = err; /* a NOP that completes (from ioe_process) with err */
	ret = ioe_submit(b->d->engine, &p->io);
	if (ret) {
		p->req->priv_pending--;
		if (!p->req->priv_err)
			p->req->priv_err = ret;
		free(p);
		return ret;
	}
	return 0;
}

static int part_parent(struct bmap_part *p)
{
	struct disk *parent = p->b->d->backing;
	uint64_t pl = p->goff < parent->size ? parent->size - p->goff : 0;
	int ret;

	/* Past the end of a smaller parent: zeros. */
	pl = pl < p->len ? pl : p->len;
	if (pl < p->len) {
		iov_zero(p->iov, (unsigned int)p->iovcnt, pl, p->len - pl);
		if (!pl)
			return part_go(p, IOE_NOP, 0);
	}
	p->preq = (struct disk_req){ .op = DISK_READ,
				     .offset = p->goff,
				     .len = pl,
				     .iov = p->iov,
				     .iovcnt = p->iovcnt,
				     .done = parent_done,
				     .opaque = p };
	if (pl < p->len)
		p->preq.iovcnt = (int)iov_window(p->iov, (unsigned int)p->iovcnt, 0, pl, p->iov);
	p->req->priv_pending++;
	ret = disk_submit(parent, &p->preq);
	if (ret) {
		p->req->priv_pending--;
		return part_go(p, IOE_NOP, ret);
	}
	return 0;
}

/* READ and WRITE over [goff, goff + len) with bytes from src at src_off. */
static int walk(struct bmap *b, struct disk_req *req, bool write, uint64_t goff, uint64_t len,
		const struct iovec *src, int srccnt, uint64_t src_off)
{
	while (len > 0) {
		enum bmap_kind kind = BMAP_ZERO;
		uint64_t host = 0, n = 0;
		struct bmap_part *p;
		int ret;

		ret = b->ops->map(b->fmt, goff, len, write, &kind, &host, &n);
		if (ret == 0 &&
		    (n == 0 || n > len || n % DISK_SECTOR_SIZE || (write && kind != BMAP_DATA)))
			ret = -EIO;
		if (ret)
			return ret;
		p = calloc(1, sizeof(*p) + (size_t)srccnt * sizeof(struct iovec));
		if (!p)
			return -ENOMEM;
		p->b = b;
		p->req = req;
		p->goff = goff;
		p->len = n;
		p->host = host;
		p->write = write;
		p->iovcnt = (int)iov_window(src, (unsigned int)srccnt, src_off, n, p->iov);
		if (kind == BMAP_DATA) {
			ret = part_go(p, write ? IOE_WRITE : IOE_READ, 0);
		} else if (kind == BMAP_PARENT && b->d->backing) {
			ret = part_parent(p);
		} else {
			iov_zero(p->iov, (unsigned int)p->iovcnt, 0, n);
			ret = part_go(p, IOE_NOP, 0);
		}
		if (ret)
			return ret;
		goff += n;
		src_off += n;
		len -= n;
	}
	return 0;
}

/* WRITE_ZEROES (and DISCARD, which may do the same): runs that already
 * read as zeros are left alone; the rest is written with zeros. */
static int zwalk(struct bmap *b, struct disk_req *req, uint64_t goff, uint64_t len)
{
	const struct iovec zi = { (void *)zero_block, sizeof(zero_block) };

	while (len > 0) {
		enum bmap_kind kind = BMAP_ZERO;
		uint64_t host = 0, n = 0;
		int ret;

		ret = b->ops->map(b->fmt, goff, len, false, &kind, &host, &n);
		if (ret == 0 && (n == 0 || n > len))
			ret = -EIO;
		if (ret)
			return ret;
		if (kind != BMAP_ZERO) {
			n = n < sizeof(zero_block) ? n : sizeof(zero_block);
			ret = walk(b, req, true, goff, n, &zi, 1, 0);
			if (ret)
				return ret;
		}
		goff += n;
		len -= n;
	}
	return 0;
}

int bmap_submit(struct bmap *b, struct disk_req *req)
{
	struct bmap_part *p;
	int ret = 0;

	/* One count for the submission itself: nothing completes before the
	 * whole request has been cut up. */
	req->priv_pending = 1;
	req->priv_err = 0;
	switch (req->op) {
	case DISK_READ:
	case DISK_WRITE:
		ret = walk(b, req, req->op == DISK_WRITE, req->offset, req->len, req->iov,
			   req->iovcnt, 0);
		break;
	case DISK_WRITE_ZEROES:
		ret = zwalk(b, req, req->offset, req->len);
		break;
	case DISK_FLUSH:
	case DISK_DISCARD: /* can_discard is false: only via WRITE_ZEROES */
		break;
	default:
		ret = -EINVAL;
	}
	/* FLUSH, and requests that needed no I/O (zeros over zeros, length
	 * 0): one part, so that done() still runs from ioe_process. Metadata
	 * is written through (bmap.h): one fdatasync makes every completed
	 * write and its table entries stable. */
	if (ret == 0 && (req->op == DISK_FLUSH || req->priv_pending == 1)) {
		p = calloc(1, sizeof(*p));
		if (!p) {
			ret = -ENOMEM;
		} else {
			p->b = b;
			p->req = req;
			ret = part_go(p, req->op == DISK_FLUSH ? IOE_FDATASYNC : IOE_NOP, 0);
		}
	}
	if (ret && !req->priv_err) {
		req->priv_err = ret;
		log_warn_ratelimited(&b->rl, "%s: request failed: %s", b->d->path, strerror(-ret));
	}
	if (--req->priv_pending == 0) /* nothing could be queued */
		return req->priv_err ? req->priv_err : -EIO;
	return 0;
}

int bmap_block_status(struct disk *d, uint64_t off, uint64_t len, enum disk_status *kind,
		      uint64_t *n)
{
	struct bmap *b = d->priv;
	enum bmap_kind k;
	uint64_t host;
	int ret;

	ret = b->ops->map(b->fmt, off, len, false, &k, &host, n);
	if (ret)
		return ret;
	*kind = k == BMAP_DATA	 ? DISK_STATUS_DATA
		: k == BMAP_ZERO ? DISK_STATUS_ZERO
				 : DISK_STATUS_BACKING;
	return 0;
}
