/* SPDX-License-Identifier: MIT */
/*
 * virtio-blk: the request parser on hand-made iovec layouts, then the whole
 * device driven through the mmio transport by the fake guest, over real raw
 * image files (sync and libaio engines) and over a "gated" backend whose
 * requests complete only when a test releases them, in any order.
 */
#include <errno.h>
#include <fcntl.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "devices/disk/io_engine.h"
#include "devices/virtio/blk.h"
#include "devices/virtio/blk_req.h"
#include "devices/virtio/mmio.h"
#include "tests/unit/virtio/fake_guest.h"

#define F(bit)	       (1ULL << (bit))
/* Short names for the request types and statuses of 5.2.6. */
#define T_IN	       VIRTIO_BLK_T_IN
#define T_OUT	       VIRTIO_BLK_T_OUT
#define T_FLUSH	       VIRTIO_BLK_T_FLUSH
#define T_GET_ID       VIRTIO_BLK_T_GET_ID
#define T_DISCARD      VIRTIO_BLK_T_DISCARD
#define T_WRITE_ZEROES VIRTIO_BLK_T_WRITE_ZEROES
#define S_OK	       VIRTIO_BLK_S_OK
#define S_IOERR	       VIRTIO_BLK_S_IOERR
#define S_UNSUPP       VIRTIO_BLK_S_UNSUPP

/* ---------------------------------------------------------------------- */
/* The parser on host buffers                                              */

static const struct blk_limits test_lim = {
	.capacity = 2048,
	.features = F(VIRTIO_BLK_F_DISCARD) | F(VIRTIO_BLK_F_WRITE_ZEROES),
	.max_discard_sectors = 64,
	.max_discard_seg = 4,
	.max_write_zeroes_sectors = 128,
	.max_write_zeroes_seg = 4,
};

struct pbuf {
	uint8_t hdr[VIRTIO_BLK_HDR_SIZE];
	uint8_t data[4096];
	uint8_t status;
	struct iovec iov[8];
	struct iovec data_iov[8];
	struct blk_req r;
};

static void put_hdr(uint8_t *h, uint32_t type, uint64_t sector)
{
	memset(h, 0, VIRTIO_BLK_HDR_SIZE);
	memcpy(h, &type, 4);
	memcpy(h + 8, &sector, 8);
}

/* header | data (readable or writable) | status, as Linux lays it out */
static enum blk_verdict parse3(struct pbuf *p, const struct blk_limits *lim, uint32_t type,
			       uint64_t sector, size_t len, bool data_writable)
{
	unsigned int nout = 1, nin = 1;

	put_hdr(p->hdr, type, sector);
	p->iov[0] = (struct iovec){ p->hdr, sizeof(p->hdr) };
	if (len && !data_writable)
		p->iov[nout++] = (struct iovec){ p->data, len };
	if (len && data_writable)
		p->iov[nout + nin++ - 1] = (struct iovec){ p->data, len };
	p->iov[nout + nin - 1] = (struct iovec){ &p->status, 1 };
	return blk_req_parse(lim, p->iov, nout, nin, p->data_iov, &p->r);
}

/* parse3, expecting an immediate answer with `status` */
static void expect(struct pbuf *p, const struct blk_limits *lim, uint32_t type, uint64_t sector,
		   size_t len, bool data_writable, uint8_t status)
{
	assert_int_equal(parse3(p, lim, type, sector, len, data_writable), BLK_COMPLETE);
	assert_int_equal(p->r.status, status);
}

static void test_parse_rw(void **state)
{
	struct pbuf p;

	assert_int_equal(parse3(&p, &test_lim, T_IN, 10, 1024, true), BLK_SUBMIT);
	assert_int_equal(p.r.op, DISK_READ);
	assert_int_equal(p.r.offset, 10 * 512);
	assert_int_equal(p.r.len, 1024);
	assert_int_equal(p.r.iovcnt, 1);
	assert_ptr_equal(p.r.iov[0].iov_base, p.data);
	assert_ptr_equal(p.r.status_ptr, &p.status);
	assert_int_equal(blk_req_used_len(&p.r, S_OK), 1025);
	assert_int_equal(blk_req_used_len(&p.r, S_IOERR), 1);

	assert_int_equal(parse3(&p, &test_lim, T_OUT, 2047, 512, false), BLK_SUBMIT);
	assert_int_equal(p.r.op, DISK_WRITE);
	assert_int_equal(p.r.offset, 2047 * 512);
	assert_int_equal(blk_req_used_len(&p.r, S_OK), 1);

	assert_int_equal(parse3(&p, &test_lim, T_FLUSH, 0, 0, false), BLK_SUBMIT);
	assert_int_equal(p.r.op, DISK_FLUSH);
	/* zero-length IN at the very end: nothing to do, OK */
	expect(&p, &test_lim, T_IN, 2048, 0, true, S_OK);
}

/* 2.6.4: header split over two segments, OUT data sharing the header's
 * second segment, IN data sharing the status byte's segment. */
static void test_parse_framing(void **state)
{
	uint8_t buf[16 + 1024 + 1], in[512 + 1];
	struct iovec iov[3], data_iov[3];
	struct blk_req r;

	put_hdr(buf, T_OUT, 4);
	iov[0] = (struct iovec){ buf, 5 };
	iov[1] = (struct iovec){ buf + 5, 11 + 1024 };
	iov[2] = (struct iovec){ buf + 16 + 1024, 1 };
	assert_int_equal(blk_req_parse(&test_lim, iov, 2, 1, data_iov, &r), BLK_SUBMIT);
	assert_int_equal(r.sector, 4);
	assert_int_equal(r.len, 1024);
	assert_int_equal(r.iovcnt, 1);
	assert_ptr_equal(r.iov[0].iov_base, buf + 16);
	assert_ptr_equal(r.status_ptr, buf + 16 + 1024);

	put_hdr(buf, T_IN, 4);
	iov[0] = (struct iovec){ buf, 16 };
	iov[1] = (struct iovec){ in, sizeof(in) };
	iov[2] = (struct iovec){ in, 0 }; /* an empty last segment */
	assert_int_equal(blk_req_parse(&test_lim, iov, 1, 2, data_iov, &r), BLK_SUBMIT);
	assert_int_equal(r.len, 512);
	assert_int_equal(r.iovcnt, 1);
	assert_int_equal(r.iov[0].iov_len, 512);
	assert_ptr_equal(r.status_ptr, in + 512);
}

static void test_parse_ranges(void **state)
{
	struct blk_limits huge = test_lim;
	struct pbuf p;

	/* past the end, straddling the end, and sector + len wrapping */
	expect(&p, &test_lim, T_IN, 2048, 512, true, S_IOERR);
	expect(&p, &test_lim, T_OUT, 2047, 1024, false, S_IOERR);
	expect(&p, &test_lim, T_IN, UINT64_MAX, 512, true, S_IOERR);
	/* sector * 512 would wrap even on an (absurdly) huge capacity */
	huge.capacity = UINT64_MAX;
	expect(&p, &huge, T_IN, 1ULL << 60, 512, true, S_IOERR);
	/* length not a multiple of 512 */
	expect(&p, &test_lim, T_OUT, 0, 100, false, S_IOERR);
	expect(&p, &test_lim, 99, 0, 0, false, S_UNSUPP);
}

static void test_parse_malformed(void **state)
{
	struct blk_req r;
	struct iovec iov[2], data_iov[2];
	uint8_t hdr[16], st;
	struct pbuf p;

	put_hdr(hdr, T_IN, 0);
	iov[0] = (struct iovec){ hdr, 16 };
	assert_int_equal(blk_req_parse(&test_lim, iov, 1, 0, data_iov, &r), BLK_MALFORMED);
	assert_null(r.status_ptr);
	iov[1] = (struct iovec){ &st, 0 };
	assert_int_equal(blk_req_parse(&test_lim, iov, 1, 1, data_iov, &r), BLK_MALFORMED);
	iov[0] = (struct iovec){ hdr, 15 };
	iov[1] = (struct iovec){ &st, 1 };
	assert_int_equal(blk_req_parse(&test_lim, iov, 1, 1, data_iov, &r), BLK_MALFORMED);
	/* data in the wrong direction */
	assert_int_equal(parse3(&p, &test_lim, T_IN, 0, 512, false), BLK_MALFORMED);
	assert_int_equal(parse3(&p, &test_lim, T_OUT, 0, 512, true), BLK_MALFORMED);
	assert_int_equal(parse3(&p, &test_lim, T_FLUSH, 0, 512, true), BLK_MALFORMED);
	assert_int_equal(parse3(&p, &test_lim, T_GET_ID, 0, 512, false), BLK_MALFORMED);
	assert_int_equal(parse3(&p, &test_lim, T_DISCARD, 0, 16, true), BLK_MALFORMED);
}

static void put_seg(uint8_t *d, uint64_t sector, uint32_t n, uint32_t flags)
{
	memcpy(d, &sector, 8);
	memcpy(d + 8, &n, 4);
	memcpy(d + 12, &flags, 4);
}

static void test_parse_dwz(void **state)
{
	struct blk_limits ro = test_lim, nodisc = test_lim;
	struct pbuf p;

	put_seg(p.data, 8, 16, 0);
	put_seg(p.data + 16, 100, 0, 0); /* empty: skipped */
	put_seg(p.data + 32, 2040, 8, VIRTIO_BLK_DWZ_FLAG_UNMAP);
	assert_int_equal(parse3(&p, &test_lim, T_WRITE_ZEROES, 0, 48, false), BLK_SUBMIT);
	assert_int_equal(p.r.op, DISK_WRITE_ZEROES);
	assert_int_equal(p.r.nseg, 2);
	assert_int_equal(p.r.seg[0].offset, 8 * 512);
	assert_int_equal(p.r.seg[0].len, 16 * 512);
	assert_false(p.r.seg[0].unmap);
	assert_int_equal(p.r.seg[1].offset, 2040 * 512);
	assert_true(p.r.seg[1].unmap);

	/* 5.2.6.2: unmap on a discard, unknown flags -> UNSUPP */
	expect(&p, &test_lim, T_DISCARD, 0, 48, false, S_UNSUPP);
	put_seg(p.data, 8, 16, 2);
	expect(&p, &test_lim, T_WRITE_ZEROES, 0, 16, false, S_UNSUPP);
	/* too large a segment (max_discard_sectors 64), past the end,
	 * wrapping, too many segments, a ragged array */
	put_seg(p.data, 0, 65, 0);
	expect(&p, &test_lim, T_DISCARD, 0, 16, false, S_IOERR);
	put_seg(p.data, 2047, 2, 0);
	expect(&p, &test_lim, T_DISCARD, 0, 16, false, S_IOERR);
	put_seg(p.data, UINT64_MAX - 1, 8, 0);
	expect(&p, &test_lim, T_DISCARD, 0, 16, false, S_IOERR);
	expect(&p, &test_lim, T_DISCARD, 0, 5 * 16, false, S_IOERR);
	expect(&p, &test_lim, T_DISCARD, 0, 17, false, S_IOERR);
	/* not negotiated -> UNSUPP; read-only -> IOERR */
	nodisc.features = 0;
	put_seg(p.data, 0, 8, 0);
	expect(&p, &nodisc, T_DISCARD, 0, 16, false, S_UNSUPP);
	ro.readonly = true;
	expect(&p, &ro, T_WRITE_ZEROES, 0, 16, false, S_IOERR);
	expect(&p, &ro, T_OUT, 0, 512, false, S_IOERR);
	assert_int_equal(parse3(&p, &ro, T_IN, 0, 512, true), BLK_SUBMIT);
}

static void test_parse_get_id(void **state)
{
	struct pbuf p;

	memset(p.data, 0xaa, sizeof(p.data));
	expect(&p, &test_lim, T_GET_ID, 0, 20, true, S_OK);
	blk_req_fill_id(&p.r, "abc");
	assert_memory_equal(p.data, "abc\0\0\0\0\0\0\0\0\0\0\0\0\0\0\0\0\0", 20);
	assert_int_equal(p.data[20], 0xaa);
	assert_int_equal(blk_req_used_len(&p.r, S_OK), 21);
	/* exactly 20 bytes: no NUL; a shorter buffer gets a prefix */
	blk_req_fill_id(&p.r, "0123456789abcdefghij");
	assert_memory_equal(p.data, "0123456789abcdefghij", 20);
	memset(p.data, 0xaa, sizeof(p.data));
	assert_int_equal(parse3(&p, &test_lim, T_GET_ID, 0, 8, true), BLK_COMPLETE);
	blk_req_fill_id(&p.r, "0123456789abcdefghij");
	assert_memory_equal(p.data, "01234567", 8);
	assert_int_equal(p.data[8], 0xaa);
	assert_int_equal(blk_req_used_len(&p.r, S_OK), 9);
}

/* ---------------------------------------------------------------------- */
/* A gated backend: requests wait until the test releases them             */

#define GATED_MAX 512

struct gated {
	struct disk d; /* never disk_close()d: it is not malloc'd */
	struct disk_req *held[GATED_MAX];
	struct ioe_req ioe[GATED_MAX];
	unsigned int nheld;
	uint8_t *data;
};

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

static void gated_init(struct gated *g, uint64_t size)
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

static void gated_fini(struct gated *g)
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
static void gated_release(struct gated *g, unsigned int i)
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

/* ---------------------------------------------------------------------- */
/* The device through the transport                                       */

struct world {
	char dir[64];
	struct event_loop el;
	struct fake_guest g;
};

struct blkdev {
	char path[128];
	struct disk *disk; /* NULL when gated */
	struct virtio_blk *blk;
	struct virtio_mmio t;
	struct fg_vring vr;
	uint64_t features;
};

struct rq {
	uint64_t hdr, data, status;
	int head;
};

static void world_init(struct world *w)
{
	strcpy(w->dir, "/tmp/test_blk.XXXXXX");
	assert_non_null(mkdtemp(w->dir));
	assert_int_equal(el_init(&w->el), 0);
	fg_init(&w->g, 8 << 20);
}

static void world_fini(struct world *w)
{
	fg_destroy(&w->g);
	el_destroy(&w->el);
	assert_int_equal(rmdir(w->dir), 0);
}

static void dev_attach(struct world *w, struct blkdev *d, struct disk *disk, const char *serial,
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
static bool dev_open(struct world *w, struct blkdev *d, const char *file, uint64_t size,
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
	dev_attach(w, d, d->disk, serial, base, ~0ULL);
	return true;
}

static void dev_close(struct blkdev *d)
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
static void rq_add(struct world *w, struct blkdev *d, struct rq *r, uint32_t type, uint64_t sector,
		   uint64_t data, uint32_t len, bool writable)
{
	struct fg_buf b[3];
	uint8_t hdr[16];
	unsigned int n = 0;

	put_hdr(hdr, type, sector);
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

static uint8_t rq_status(struct world *w, const struct rq *r)
{
	return *(uint8_t *)fg_ptr(&w->g, r->status, 1);
}

/* Run the loop until the next used entry shows up. */
static bool wait_used(struct world *w, struct blkdev *d, uint32_t *id, uint32_t *len)
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
static uint8_t do_io(struct world *w, struct blkdev *d, uint32_t type, uint64_t sector,
		     uint64_t data, uint32_t len, bool writable, uint32_t *used_len)
{
	uint32_t id, ulen;
	struct rq r;

	rq_add(w, d, &r, type, sector, data, len, writable);
	fg_mmio_kick(&d->t, 0);
	assert_true(wait_used(w, d, &id, &ulen));
	assert_int_equal(id, r.head);
	if (used_len)
		*used_len = ulen;
	return rq_status(w, &r);
}

static bool needs_reset(struct blkdev *d)
{
	return fg_mmio_read32(&d->t, VIRTIO_MMIO_STATUS) & VIRTIO_STATUS_DEVICE_NEEDS_RESET;
}

static void test_config(void **state)
{
	struct virtio_blk_config c;
	struct world w;
	struct blkdev d;
	unsigned int off;

	world_init(&w);
	assert_true(dev_open(&w, &d, "a.img", 3 << 20, DISK_ENGINE_SYNC, false, NULL, 0));
	assert_int_equal(fg_mmio_read32(&d.t, VIRTIO_MMIO_DEVICE_ID), VIRTIO_ID_BLOCK);
	fg_mmio_write32(&d.t, VIRTIO_MMIO_QUEUE_SEL, 0);
	assert_int_equal(fg_mmio_read32(&d.t, VIRTIO_MMIO_QUEUE_NUM_MAX), 256);
	/* config space is read in 1/2/4/8-byte accesses, as a driver does */
	for (off = 0; off < sizeof(c); off += 4)
		fg_mmio_read(&d.t, VIRTIO_MMIO_CONFIG + off, (uint8_t *)&c + off, 4);
	assert_int_equal(c.capacity, (3 << 20) / 512);
	assert_int_equal(c.seg_max, 254);
	assert_int_equal(c.size_max, 1 << 20);
	assert_int_equal(c.blk_size, 512);
	assert_int_equal(c.max_discard_seg, BLK_MAX_DWZ_SEG);
	assert_int_equal(c.max_write_zeroes_seg, BLK_MAX_DWZ_SEG);
	assert_true(c.max_discard_sectors > 0 && c.max_write_zeroes_sectors > 0);
	assert_int_equal(c.write_zeroes_may_unmap, 1);
	/* field offsets of 5.2.4, read the way a driver does */
	assert_int_equal(offsetof(struct virtio_blk_config, blk_size), 20);
	assert_int_equal(offsetof(struct virtio_blk_config, max_discard_sectors), 36);
	assert_int_equal(offsetof(struct virtio_blk_config, write_zeroes_may_unmap), 56);
	assert_int_equal(fg_mmio_read32(&d.t, VIRTIO_MMIO_CONFIG + 12), 254);
	/* negotiated (the fake guest took everything offered) */
	assert_true(d.features & F(VIRTIO_BLK_F_FLUSH));
	assert_true(d.features & F(VIRTIO_BLK_F_SEG_MAX));
	assert_true(d.features & F(VIRTIO_BLK_F_SIZE_MAX));
	assert_true(d.features & F(VIRTIO_BLK_F_BLK_SIZE));
	assert_true(d.features & F(VIRTIO_BLK_F_DISCARD));
	assert_true(d.features & F(VIRTIO_BLK_F_WRITE_ZEROES));
	assert_true(d.features & F(VIRTIO_F_RING_EVENT_IDX));
	assert_true(d.features & F(VIRTIO_F_RING_INDIRECT_DESC));
	assert_false(d.features & F(VIRTIO_BLK_F_RO));
	dev_close(&d);
	world_fini(&w);
}

static void rw_round_trip(enum disk_engine_kind engine)
{
	uint8_t pattern[8192], back[8192], file[8192];
	uint64_t wbuf, rbuf;
	uint32_t ulen;
	struct world w;
	struct blkdev d;
	unsigned int i;
	int fd;

	world_init(&w);
	if (!dev_open(&w, &d, "rw.img", 1 << 20, engine, false, NULL, 0)) {
		world_fini(&w);
		skip();
	}
	for (i = 0; i < sizeof(pattern); i++)
		pattern[i] = (uint8_t)(i * 7 + 3);
	wbuf = fg_alloc(&w.g, sizeof(pattern), 512);
	rbuf = fg_alloc(&w.g, sizeof(pattern), 512);
	fg_write(&w.g, wbuf, pattern, sizeof(pattern));
	assert_int_equal(do_io(&w, &d, T_OUT, 10, wbuf, 8192, false, &ulen), S_OK);
	assert_int_equal(ulen, 1);
	assert_int_equal(do_io(&w, &d, T_FLUSH, 0, 0, 0, false, NULL), S_OK);
	assert_int_equal(do_io(&w, &d, T_IN, 10, rbuf, 8192, true, &ulen), S_OK);
	assert_int_equal(ulen, 8193);
	fg_read(&w.g, rbuf, back, sizeof(back));
	assert_memory_equal(back, pattern, sizeof(pattern));
	/* and it really is in the file, at sector 10 */
	fd = open(d.path, O_RDONLY);
	assert_true(fd >= 0);
	assert_int_equal(pread(fd, file, sizeof(file), 10 * 512), (ssize_t)sizeof(file));
	close(fd);
	assert_memory_equal(file, pattern, sizeof(pattern));
	/* the driver was interrupted for the completions */
	assert_true(w.g.irq.pulses > 0);
	assert_false(needs_reset(&d));

	/* leave one read in flight: destroy must drain it cleanly */
	{
		struct rq r;

		rq_add(&w, &d, &r, T_IN, 0, rbuf, 8192, true);
		fg_mmio_kick(&d.t, 0);
		fg_el_poll(&w.el, 0);
	}
	dev_close(&d);
	world_fini(&w);
}

static void test_rw_sync(void **state)
{
	rw_round_trip(DISK_ENGINE_SYNC);
}

static void test_rw_aio(void **state)
{
	rw_round_trip(DISK_ENGINE_AIO);
}

static void test_get_id(void **state)
{
	uint8_t id[20];
	uint64_t buf;
	uint32_t ulen;
	struct world w;
	struct blkdev d;

	world_init(&w);
	assert_true(dev_open(&w, &d, "id.img", 1 << 20, DISK_ENGINE_SYNC, false, "SN-42", 0));
	buf = fg_alloc(&w.g, 20, 1);
	memset(fg_ptr(&w.g, buf, 20), 0xaa, 20);
	assert_int_equal(do_io(&w, &d, T_GET_ID, 0, buf, 20, true, &ulen), S_OK);
	fg_read(&w.g, buf, id, 20);
	assert_memory_equal(id, "SN-42\0\0\0\0\0\0\0\0\0\0\0\0\0\0\0", 20);
	assert_int_equal(ulen, 21);
	dev_close(&d);
	world_fini(&w);
}

static void test_discard_write_zeroes(void **state)
{
	uint8_t ones[4096], back[4096], zeros[4096] = { 0 }, seg[32];
	uint64_t buf, sbuf;
	struct world w;
	struct blkdev d;

	world_init(&w);
	assert_true(dev_open(&w, &d, "dz.img", 1 << 20, DISK_ENGINE_SYNC, false, NULL, 0));
	memset(ones, 0x5a, sizeof(ones));
	buf = fg_alloc(&w.g, sizeof(ones), 512);
	sbuf = fg_alloc(&w.g, sizeof(seg), 16);
	fg_write(&w.g, buf, ones, sizeof(ones));
	assert_int_equal(do_io(&w, &d, T_OUT, 0, buf, 4096, false, NULL), S_OK);

	/* WRITE_ZEROES over sectors 1..2 and 5 (two segments, one unmap):
	 * 5.2.6.2 says these must then read as zeros. */
	put_seg(seg, 1, 2, 0);
	put_seg(seg + 16, 5, 1, VIRTIO_BLK_DWZ_FLAG_UNMAP);
	fg_write(&w.g, sbuf, seg, 32);
	assert_int_equal(do_io(&w, &d, T_WRITE_ZEROES, 0, sbuf, 32, false, NULL), S_OK);
	assert_int_equal(do_io(&w, &d, T_IN, 0, buf, 4096, true, NULL), S_OK);
	fg_read(&w.g, buf, back, sizeof(back));
	assert_memory_equal(back, ones, 512);
	assert_memory_equal(back + 512, zeros, 1024);
	assert_memory_equal(back + 1536, ones, 1024);
	assert_memory_equal(back + 2560, zeros, 512);
	assert_memory_equal(back + 3072, ones, 1024);

	/* DISCARD: OK (the contents are then unspecified); with unmap: UNSUPP */
	put_seg(seg, 0, 8, 0);
	fg_write(&w.g, sbuf, seg, 16);
	assert_int_equal(do_io(&w, &d, T_DISCARD, 0, sbuf, 16, false, NULL), S_OK);
	put_seg(seg, 0, 8, VIRTIO_BLK_DWZ_FLAG_UNMAP);
	fg_write(&w.g, sbuf, seg, 16);
	assert_int_equal(do_io(&w, &d, T_DISCARD, 0, sbuf, 16, false, NULL), S_UNSUPP);
	/* a segment past the end */
	put_seg(seg, 2047, 2, 0);
	fg_write(&w.g, sbuf, seg, 16);
	assert_int_equal(do_io(&w, &d, T_WRITE_ZEROES, 0, sbuf, 16, false, NULL), S_IOERR);
	assert_false(needs_reset(&d));
	dev_close(&d);
	world_fini(&w);
}

static void test_read_only(void **state)
{
	uint8_t back[512], seg[16];
	uint64_t buf, sbuf;
	struct world w;
	struct blkdev d;

	world_init(&w);
	assert_true(dev_open(&w, &d, "ro.img", 1 << 20, DISK_ENGINE_SYNC, true, NULL, 0));
	assert_true(d.features & F(VIRTIO_BLK_F_RO));
	assert_false(d.features & F(VIRTIO_BLK_F_DISCARD));
	assert_false(d.features & F(VIRTIO_BLK_F_WRITE_ZEROES));
	buf = fg_alloc(&w.g, 512, 512);
	memset(fg_ptr(&w.g, buf, 512), 0x77, 512);
	assert_int_equal(do_io(&w, &d, T_OUT, 0, buf, 512, false, NULL), S_IOERR);
	put_seg(seg, 0, 1, 0);
	sbuf = fg_alloc(&w.g, 16, 16);
	fg_write(&w.g, sbuf, seg, 16);
	assert_int_equal(do_io(&w, &d, T_WRITE_ZEROES, 0, sbuf, 16, false, NULL),
			 S_UNSUPP); /* not negotiated */
	/* reads work, and the write did not happen */
	assert_int_equal(do_io(&w, &d, T_IN, 0, buf, 512, true, NULL), S_OK);
	fg_read(&w.g, buf, back, 512);
	assert_int_equal(back[0], 0);
	assert_int_equal(back[511], 0);
	assert_int_equal(do_io(&w, &d, T_FLUSH, 0, 0, 0, false, NULL), S_OK);
	dev_close(&d);
	world_fini(&w);
}

static void test_bad_requests(void **state)
{
	struct world w;
	struct blkdev d;
	uint64_t buf;

	world_init(&w);
	assert_true(dev_open(&w, &d, "bad.img", 1 << 20, DISK_ENGINE_SYNC, false, NULL, 0));
	buf = fg_alloc(&w.g, 1024, 512);
	/* capacity is 2048 sectors */
	assert_int_equal(do_io(&w, &d, T_IN, 2048, buf, 512, true, NULL), S_IOERR);
	assert_int_equal(do_io(&w, &d, T_OUT, 2047, buf, 1024, false, NULL), S_IOERR);
	assert_int_equal(do_io(&w, &d, T_IN, UINT64_MAX - 1, buf, 1024, true, NULL), S_IOERR);
	assert_int_equal(do_io(&w, &d, T_IN, 0, buf, 100, true, NULL), S_IOERR);
	assert_int_equal(do_io(&w, &d, 99, 0, 0, 0, false, NULL), S_UNSUPP);
	/* none of that is the device's problem */
	assert_false(needs_reset(&d));
	assert_int_equal(do_io(&w, &d, T_IN, 2047, buf, 512, true, NULL), S_OK);
	dev_close(&d);
	world_fini(&w);
}

enum bad_chain { NO_STATUS, SHORT_HEADER, IN_READABLE };

static void malformed(enum bad_chain kind)
{
	struct fg_buf b[3];
	struct world w;
	struct blkdev d;
	uint64_t hdr, buf, st;
	uint32_t id, len;
	uint8_t h[16];
	unsigned int n = 0;

	world_init(&w);
	assert_true(dev_open(&w, &d, "mal.img", 1 << 20, DISK_ENGINE_SYNC, false, NULL, 0));
	hdr = fg_alloc(&w.g, 16, 16);
	buf = fg_alloc(&w.g, 512, 512);
	st = fg_alloc(&w.g, 1, 1);
	put_hdr(h, T_IN, 0);
	fg_write(&w.g, hdr, h, 16);
	b[n++] = (struct fg_buf){ hdr, kind == SHORT_HEADER ? 12 : 16, false };
	b[n++] = (struct fg_buf){ buf, 512, kind != IN_READABLE };
	if (kind != NO_STATUS)
		b[n++] = (struct fg_buf){ st, 1, true };
	if (kind == NO_STATUS)
		b[1].writable = false;
	assert_true(fg_vring_add(&d.vr, b, n) >= 0);
	fg_mmio_kick(&d.t, 0);
	fg_el_poll(&w.el, 10);
	fg_el_poll(&w.el, 10);
	assert_true(needs_reset(&d));
	/* 2.1.2: the driver hears about it through a configuration change */
	assert_true(fg_mmio_ack_irq(&d.t) & VIRTIO_MMIO_INT_CONFIG);
	assert_false(fg_vring_get_used(&d.vr, &id, &len));

	/* reset, start again: the device works */
	fg_mmio_write32(&d.t, VIRTIO_MMIO_STATUS, 0);
	fg_vring_destroy(&d.vr);
	fg_vring_init(&w.g, &d.vr, 64);
	assert_int_equal(fg_mmio_start(&d.t, ~0ULL, &d.vr, 1, NULL), 0);
	assert_int_equal(do_io(&w, &d, T_IN, 0, buf, 512, true, NULL), S_OK);
	dev_close(&d);
	world_fini(&w);
}

static void test_malformed_no_status(void **state)
{
	malformed(NO_STATUS);
}

static void test_malformed_short_header(void **state)
{
	malformed(SHORT_HEADER);
}

static void test_malformed_in_readable(void **state)
{
	malformed(IN_READABLE);
}

/* Four requests in flight at once, completed by the backend in the order
 * 2, 0, 3, 1: the used ring follows completion order, each with its own
 * status and data. */
static void test_out_of_order(void **state)
{
	static const unsigned int order[4] = { 2, 0, 3, 1 };
	struct gated *gd = calloc(1, sizeof(*gd));
	uint8_t back[512];
	struct world w;
	struct blkdev d;
	struct rq r[4];
	uint64_t buf[4];
	uint32_t id, len;
	unsigned int i;

	assert_non_null(gd);
	world_init(&w);
	gated_init(gd, 1 << 20);
	for (i = 0; i < 4; i++)
		memset(gd->data + i * 512, 0x10 + i, 512);
	memset(&d, 0, sizeof(d));
	dev_attach(&w, &d, &gd->d, NULL, 0, ~0ULL);
	for (i = 0; i < 4; i++) {
		buf[i] = fg_alloc(&w.g, 512, 512);
		rq_add(&w, &d, &r[i], T_IN, i, buf[i], 512, true);
	}
	fg_mmio_kick(&d.t, 0);
	fg_el_poll(&w.el, 10);
	assert_int_equal(gd->nheld, 4); /* all four submitted before any completes */
	assert_false(fg_vring_get_used(&d.vr, &id, &len));
	for (i = 0; i < 4; i++) {
		gated_release(gd, order[i]);
		assert_true(wait_used(&w, &d, &id, &len));
		assert_int_equal(id, r[order[i]].head);
		assert_int_equal(len, 513);
		assert_int_equal(rq_status(&w, &r[order[i]]), S_OK);
	}
	for (i = 0; i < 4; i++) {
		fg_read(&w.g, buf[i], back, 512);
		assert_int_equal(back[0], 0x10 + i);
		assert_int_equal(back[511], 0x10 + i);
	}
	dev_close(&d);
	gated_fini(gd);
	free(gd);
	world_fini(&w);
}

/* Reset while requests are in flight: their completions must not touch the
 * (re-initialised) queue. Then a full queue of stale requests holds every
 * slot: a new request waits for one, and runs when they drain. */
static void test_reset_in_flight(void **state)
{
	struct gated *gd = calloc(1, sizeof(*gd));
	struct world w;
	struct blkdev d;
	struct rq r[2], nr;
	uint64_t buf;
	uint32_t id, len;
	unsigned int i, first;

	assert_non_null(gd);
	world_init(&w);
	gated_init(gd, 1 << 20);
	memset(&d, 0, sizeof(d));
	dev_attach(&w, &d, &gd->d, NULL, 0, ~0ULL);
	buf = fg_alloc(&w.g, 512, 512);
	rq_add(&w, &d, &r[0], T_IN, 0, buf, 512, true);
	rq_add(&w, &d, &r[1], T_FLUSH, 0, 0, 0, false);
	fg_mmio_kick(&d.t, 0);
	fg_el_poll(&w.el, 10);
	assert_int_equal(gd->nheld, 2);

	/* Reset and restart on a fresh ring before the old requests finish:
	 * the driver reuses the same heads, which must not be completed. */
	fg_mmio_write32(&d.t, VIRTIO_MMIO_STATUS, 0);
	fg_vring_destroy(&d.vr);
	fg_vring_init(&w.g, &d.vr, 256);
	assert_int_equal(fg_mmio_start(&d.t, ~0ULL, &d.vr, 1, NULL), 0);
	gated_release(gd, 0);
	gated_release(gd, 1);
	while (fg_el_poll(&w.el, 10) > 0)
		;
	assert_int_equal(fg_vring_used_idx(&d.vr), 0);
	assert_int_equal(rq_status(&w, &r[0]), 0xee);
	assert_int_equal(rq_status(&w, &r[1]), 0xee);
	assert_false(needs_reset(&d));

	/* Fill all 256 slots through indirect chains, then reset again with
	 * every one in flight. */
	first = gd->nheld;
	for (i = 0; i < 256; i++) {
		uint64_t hdr = fg_alloc(&w.g, 16, 16), st = fg_alloc(&w.g, 1, 1);
		uint8_t h[16];
		struct fg_buf b[2] = { { hdr, 16, false }, { st, 1, true } };

		put_hdr(h, T_FLUSH, 0);
		fg_write(&w.g, hdr, h, 16);
		assert_true(fg_vring_add_indirect(&d.vr, b, 2) >= 0);
	}
	fg_mmio_kick(&d.t, 0);
	fg_el_poll(&w.el, 10);
	assert_int_equal(gd->nheld - first, 256);
	fg_mmio_write32(&d.t, VIRTIO_MMIO_STATUS, 0);

	fg_vring_destroy(&d.vr);
	fg_vring_init(&w.g, &d.vr, 64);
	assert_int_equal(fg_mmio_start(&d.t, ~0ULL, &d.vr, 1, NULL), 0);
	rq_add(&w, &d, &nr, T_FLUSH, 0, 0, 0, false);
	fg_mmio_kick(&d.t, 0);
	fg_el_poll(&w.el, 10);
	assert_int_equal(gd->nheld - first, 256); /* no slot: not submitted yet */
	for (i = first; i < first + 256; i++)
		gated_release(gd, i);
	fg_el_poll(&w.el, 10);
	assert_int_equal(gd->nheld - first, 257); /* resumed once slots came back */
	gated_release(gd, first + 256);
	assert_true(wait_used(&w, &d, &id, &len));
	assert_int_equal(id, nr.head);
	assert_int_equal(rq_status(&w, &nr), S_OK);
	assert_false(fg_vring_get_used(&d.vr, &id, &len)); /* nothing stale */
	dev_close(&d);
	gated_fini(gd);
	free(gd);
	world_fini(&w);
}

/* Without VIRTIO_BLK_F_FLUSH the cache is write-through (5.2.5): a write
 * completes only after a FLUSH of the backend. */
static void test_writethrough(void **state)
{
	struct gated *gd = calloc(1, sizeof(*gd));
	struct world w;
	struct blkdev d;
	struct rq r;
	uint64_t buf;
	uint32_t id, len;

	assert_non_null(gd);
	world_init(&w);
	gated_init(gd, 1 << 20);
	memset(&d, 0, sizeof(d));
	dev_attach(&w, &d, &gd->d, NULL, 0, ~F(VIRTIO_BLK_F_FLUSH));
	assert_false(d.features & F(VIRTIO_BLK_F_FLUSH));
	buf = fg_alloc(&w.g, 512, 512);
	memset(fg_ptr(&w.g, buf, 512), 0x33, 512);
	rq_add(&w, &d, &r, T_OUT, 3, buf, 512, false);
	fg_mmio_kick(&d.t, 0);
	fg_el_poll(&w.el, 10);
	assert_int_equal(gd->nheld, 1);
	assert_int_equal(gd->held[0]->op, DISK_WRITE);
	gated_release(gd, 0);
	fg_el_poll(&w.el, 10);
	assert_false(fg_vring_get_used(&d.vr, &id, &len));
	assert_int_equal(gd->nheld, 2);
	assert_int_equal(gd->held[1]->op, DISK_FLUSH);
	gated_release(gd, 1);
	assert_true(wait_used(&w, &d, &id, &len));
	assert_int_equal(rq_status(&w, &r), S_OK);
	assert_int_equal(gd->data[3 * 512], 0x33);
	dev_close(&d);
	gated_fini(gd);
	free(gd);
	world_fini(&w);
}

static void test_two_disks(void **state)
{
	uint8_t back[512], id[20];
	struct world w;
	struct blkdev a, b;
	uint64_t ba, bb, idb;

	world_init(&w);
	assert_true(dev_open(&w, &a, "a.img", 1 << 20, DISK_ENGINE_SYNC, false, "disk-a", 0x1000));
	assert_true(dev_open(&w, &b, "b.img", 2 << 20, DISK_ENGINE_SYNC, false, "disk-b", 0x2000));
	ba = fg_alloc(&w.g, 512, 512);
	bb = fg_alloc(&w.g, 512, 512);
	idb = fg_alloc(&w.g, 20, 1);
	memset(fg_ptr(&w.g, ba, 512), 0xaa, 512);
	memset(fg_ptr(&w.g, bb, 512), 0xbb, 512);
	assert_int_equal(do_io(&w, &a, T_OUT, 7, ba, 512, false, NULL), S_OK);
	assert_int_equal(do_io(&w, &b, T_OUT, 7, bb, 512, false, NULL), S_OK);
	assert_int_equal(do_io(&w, &a, T_IN, 7, bb, 512, true, NULL), S_OK);
	fg_read(&w.g, bb, back, 512);
	assert_int_equal(back[0], 0xaa);
	assert_int_equal(do_io(&w, &b, T_IN, 7, ba, 512, true, NULL), S_OK);
	fg_read(&w.g, ba, back, 512);
	assert_int_equal(back[0], 0xbb);
	/* sector 3000 exists only on b */
	assert_int_equal(do_io(&w, &a, T_IN, 3000, ba, 512, true, NULL), S_IOERR);
	assert_int_equal(do_io(&w, &b, T_IN, 3000, ba, 512, true, NULL), S_OK);
	assert_int_equal(do_io(&w, &b, T_GET_ID, 0, idb, 20, true, NULL), S_OK);
	fg_read(&w.g, idb, id, 20);
	assert_memory_equal(id, "disk-b", 7);
	dev_close(&a);
	dev_close(&b);
	world_fini(&w);
}

static void test_create_errors(void **state)
{
	struct virtio_blk *b = NULL;
	struct gated *gd = calloc(1, sizeof(*gd));
	struct world w;
	char err[64] = "";

	assert_non_null(gd);
	world_init(&w);
	gated_init(gd, 1 << 20);
	assert_int_equal(
		virtio_blk_create(&(struct virtio_blk_params){ .disk = &gd->d,
							       .el = &w.el,
							       .serial = "012345678901234567890" },
				  &b, err, sizeof(err)),
		-EINVAL);
	assert_string_equal(err, "serial \"012345678901234567890\" is longer than 20 bytes");
	assert_int_equal(
		virtio_blk_create(&(struct virtio_blk_params){ .disk = &gd->d }, &b, NULL, 0),
		-EINVAL);
	gated_fini(gd);
	free(gd);
	world_fini(&w);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_parse_rw),
		cmocka_unit_test(test_parse_framing),
		cmocka_unit_test(test_parse_ranges),
		cmocka_unit_test(test_parse_malformed),
		cmocka_unit_test(test_parse_dwz),
		cmocka_unit_test(test_parse_get_id),
		cmocka_unit_test(test_config),
		cmocka_unit_test(test_rw_sync),
		cmocka_unit_test(test_rw_aio),
		cmocka_unit_test(test_get_id),
		cmocka_unit_test(test_discard_write_zeroes),
		cmocka_unit_test(test_read_only),
		cmocka_unit_test(test_bad_requests),
		cmocka_unit_test(test_malformed_no_status),
		cmocka_unit_test(test_malformed_short_header),
		cmocka_unit_test(test_malformed_in_readable),
		cmocka_unit_test(test_out_of_order),
		cmocka_unit_test(test_reset_in_flight),
		cmocka_unit_test(test_writethrough),
		cmocka_unit_test(test_two_disks),
		cmocka_unit_test(test_create_errors),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
