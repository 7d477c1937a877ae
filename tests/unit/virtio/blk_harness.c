/* SPDX-License-Identifier: MIT */
/*
 * The virtio-blk tests' harness: see blk_harness.h.
 */
#include <fcntl.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "tests/unit/virtio/blk_harness.h"

void bh_put_hdr(uint8_t *h, uint32_t type, uint64_t sector)
{
	memset(h, 0, VIRTIO_BLK_HDR_SIZE);
	memcpy(h, &type, 4);
	memcpy(h + 8, &sector, 8);
}

void bh_put_seg(uint8_t *d, uint64_t sector, uint32_t n, uint32_t flags)
{
	memcpy(d, &sector, 8);
	memcpy(d + 8, &n, 4);
	memcpy(d + 12, &flags, 4);
}

static int gated_submit(struct disk *d, struct disk_req *req)
{
	struct gated *g = (struct gated *)d;

	assert_true(g->nheld < GATED_MAX);
	g->held[g->nheld++] = req;
	return 0;
}

static void gated_close(struct disk *d)
{
}

static const struct disk_ops gated_ops = { .submit = gated_submit, .close = gated_close };

void bh_gated_init(struct gated *g, uint64_t size)
{
	memset(g, 0, sizeof(*g));
	g->d.ops = &gated_ops;
	g->d.format = "gated";
	g->d.size = size;
	g->d.can_discard = true;
	g->d.alignment = DISK_SECTOR_SIZE;
	assert_int_equal(ioe_create(DISK_ENGINE_SYNC, 64, &g->d.engine), 0);
	g->data = calloc(1, size);
	assert_non_null(g->data);
}

void bh_gated_fini(struct gated *g)
{
	ioe_destroy(g->d.engine);
	free(g->data);
}

static void gated_ioe_done(struct ioe_req *r, int res)
{
	struct disk_req *req = r->opaque;

	req->done(req, res);
}

/* Do request `i`'s I/O on the RAM disk and complete it (through the engine,
 * so done() runs from disk_process like a real backend's). */
void bh_gated_release(struct gated *g, unsigned int i)
{
	struct disk_req *req = g->held[i];
	uint64_t off = req->offset;
	int k;

	assert_non_null(req);
	g->held[i] = NULL;
	for (k = 0; k < req->iovcnt; k++) {
		if (req->op == DISK_READ)
			memcpy(req->iov[k].iov_base, g->data + off, req->iov[k].iov_len);
		else if (req->op == DISK_WRITE)
			memcpy(g->data + off, req->iov[k].iov_base, req->iov[k].iov_len);
		off += req->iov[k].iov_len;
	}
	if (req->op == DISK_WRITE_ZEROES || req->op == DISK_DISCARD)
		memset(g->data + req->offset, 0, req->len);
	g->ioe[i] =
		(struct ioe_req){ .op = IOE_NOP, .fd = -1, .done = gated_ioe_done, .opaque = req };
	assert_int_equal(ioe_submit(g->d.engine, &g->ioe[i]), 0);
}

void bh_world_init(struct world *w)
{
	strcpy(w->dir, "/tmp/test_blk.XXXXXX");
	assert_non_null(mkdtemp(w->dir));
	assert_int_equal(el_init(&w->el), 0);
	fg_init(&w->g, 8 << 20);
}

void bh_world_fini(struct world *w)
{
	fg_destroy(&w->g);
	el_destroy(&w->el);
	assert_int_equal(rmdir(w->dir), 0);
}

void bh_dev_attach(struct world *w, struct blkdev *d, struct disk *disk, const char *serial,
		   uint64_t base, uint64_t want)
{
	struct virtio_blk_params bp = {
		.disk = disk, .serial = serial, .el = &w->el, .name = "virtio-blk test"
	};
	struct virtio_mmio_params mp = {
		.mem = &w->g.mem, .el = &w->el, .irq = &w->g.irq.line, .base = base
	};

	assert_int_equal(virtio_blk_create(&bp, &d->blk, NULL, 0), 0);
	assert_int_equal(virtio_mmio_init(&d->t, virtio_blk_dev(d->blk), &mp), 0);
	fg_vring_init(&w->g, &d->vr, 64);
	assert_int_equal(fg_mmio_start(&d->t, want, &d->vr, 1, &d->features), 0);
}

/* A raw image of `size` bytes, opened with `engine`; false if the engine is
 * not available here. */
bool bh_dev_open(struct world *w, struct blkdev *d, const char *file, uint64_t size,
		 enum disk_engine_kind engine, bool ro, const char *serial, uint64_t base)
{
	struct disk_open_opts o = { .readonly = ro, .engine = engine, .format = "raw" };
	char err[256];
	int fd;

	memset(d, 0, sizeof(*d));
	snprintf(d->path, sizeof(d->path), "%s/%s", w->dir, file);
	fd = open(d->path, O_RDWR | O_CREAT | O_TRUNC, 0600);
	assert_true(fd >= 0);
	assert_int_equal(ftruncate(fd, (off_t)size), 0);
	close(fd);
	if (disk_open(d->path, &o, &d->disk, err, sizeof(err)) < 0) {
		print_message("disk_open: %s\n", err);
		unlink(d->path);
		return false;
	}
	bh_dev_attach(w, d, d->disk, serial, base, ~0ULL);
	return true;
}

void bh_dev_close(struct blkdev *d)
{
	virtio_mmio_destroy(&d->t);
	virtio_blk_destroy(d->blk);
	fg_vring_destroy(&d->vr);
	if (d->disk) {
		disk_close(d->disk);
		unlink(d->path);
	}
}

/* Queue header | data | status (Linux's layout) and kick. */
void bh_rq_add(struct world *w, struct blkdev *d, struct rq *r, uint32_t type, uint64_t sector,
	       uint64_t data, uint32_t len, bool writable)
{
	struct fg_buf b[3];
	uint8_t hdr[16];
	unsigned int n = 0;

	bh_put_hdr(hdr, type, sector);
	r->hdr = fg_alloc(&w->g, 16, 16);
	fg_write(&w->g, r->hdr, hdr, 16);
	r->status = fg_alloc(&w->g, 1, 1);
	*(uint8_t *)fg_ptr(&w->g, r->status, 1) = 0xee;
	r->data = data;
	b[n++] = (struct fg_buf){ r->hdr, 16, false };
	if (len)
		b[n++] = (struct fg_buf){ data, len, writable };
	b[n++] = (struct fg_buf){ r->status, 1, true };
	r->head = fg_vring_add(&d->vr, b, n);
	assert_true(r->head >= 0);
}

uint8_t bh_rq_status(struct world *w, const struct rq *r)
{
	return *(uint8_t *)fg_ptr(&w->g, r->status, 1);
}

/* Run the loop until the next used entry shows up. */
bool bh_wait_used(struct world *w, struct blkdev *d, uint32_t *id, uint32_t *len)
{
	int i;

	for (i = 0; i < 200; i++) {
		if (fg_vring_get_used(&d->vr, id, len))
			return true;
		fg_el_poll(&w->el, 10);
	}
	return false;
}

/* One request, start to finish; returns its status. */
uint8_t bh_do_io(struct world *w, struct blkdev *d, uint32_t type, uint64_t sector, uint64_t data,
		 uint32_t len, bool writable, uint32_t *used_len)
{
	uint32_t id, ulen;
	struct rq r;

	bh_rq_add(w, d, &r, type, sector, data, len, writable);
	fg_mmio_kick(&d->t, 0);
	assert_true(bh_wait_used(w, d, &id, &ulen));
	assert_int_equal(id, r.head);
	if (used_len)
		*used_len = ulen;
	return bh_rq_status(w, &r);
}

bool bh_needs_reset(struct blkdev *d)
{
	return fg_mmio_read32(&d->t, VIRTIO_MMIO_STATUS) & VIRTIO_STATUS_DEVICE_NEEDS_RESET;
}
