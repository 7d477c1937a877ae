/* SPDX-License-Identifier: MIT */
/*
 * virtio-blk: the whole device driven through the mmio transport by the fake
 * guest (blk_harness.c), over real raw image files (sync and libaio engines)
 * and over a "gated" backend whose requests complete only when a test
 * releases them, in any order. The request parser alone: test_blk_req.c.
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

#include "tests/unit/virtio/blk_harness.h"

static void test_config(void **state)
{
	struct virtio_blk_config c;
	struct world w;
	struct blkdev d;
	unsigned int off;

	bh_world_init(&w);
	assert_true(bh_dev_open(&w, &d, "a.img", 3 << 20, DISK_ENGINE_SYNC, false, NULL, 0));
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
	assert_true(d.features & VIRTIO_BIT(VIRTIO_BLK_F_FLUSH));
	assert_true(d.features & VIRTIO_BIT(VIRTIO_BLK_F_SEG_MAX));
	assert_true(d.features & VIRTIO_BIT(VIRTIO_BLK_F_SIZE_MAX));
	assert_true(d.features & VIRTIO_BIT(VIRTIO_BLK_F_BLK_SIZE));
	assert_true(d.features & VIRTIO_BIT(VIRTIO_BLK_F_DISCARD));
	assert_true(d.features & VIRTIO_BIT(VIRTIO_BLK_F_WRITE_ZEROES));
	assert_true(d.features & VIRTIO_BIT(VIRTIO_F_RING_EVENT_IDX));
	assert_true(d.features & VIRTIO_BIT(VIRTIO_F_RING_INDIRECT_DESC));
	assert_false(d.features & VIRTIO_BIT(VIRTIO_BLK_F_RO));
	bh_dev_close(&d);
	bh_world_fini(&w);
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

	bh_world_init(&w);
	if (!bh_dev_open(&w, &d, "rw.img", 1 << 20, engine, false, NULL, 0)) {
		bh_world_fini(&w);
		skip();
	}
	for (i = 0; i < sizeof(pattern); i++)
		pattern[i] = (uint8_t)(i * 7 + 3);
	wbuf = fg_alloc(&w.g, sizeof(pattern), 512);
	rbuf = fg_alloc(&w.g, sizeof(pattern), 512);
	fg_write(&w.g, wbuf, pattern, sizeof(pattern));
	assert_int_equal(bh_do_io(&w, &d, T_OUT, 10, wbuf, 8192, false, &ulen), S_OK);
	assert_int_equal(ulen, 1);
	assert_int_equal(bh_do_io(&w, &d, T_FLUSH, 0, 0, 0, false, NULL), S_OK);
	assert_int_equal(bh_do_io(&w, &d, T_IN, 10, rbuf, 8192, true, &ulen), S_OK);
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
	assert_false(bh_needs_reset(&d));

	/* leave one read in flight: destroy must drain it cleanly */
	{
		struct rq r;

		bh_rq_add(&w, &d, &r, T_IN, 0, rbuf, 8192, true);
		fg_mmio_kick(&d.t, 0);
		fg_el_poll(&w.el, 0);
	}
	bh_dev_close(&d);
	bh_world_fini(&w);
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

	bh_world_init(&w);
	assert_true(bh_dev_open(&w, &d, "id.img", 1 << 20, DISK_ENGINE_SYNC, false, "SN-42", 0));
	buf = fg_alloc(&w.g, 20, 1);
	memset(fg_ptr(&w.g, buf, 20), 0xaa, 20);
	assert_int_equal(bh_do_io(&w, &d, T_GET_ID, 0, buf, 20, true, &ulen), S_OK);
	fg_read(&w.g, buf, id, 20);
	assert_memory_equal(id, "SN-42\0\0\0\0\0\0\0\0\0\0\0\0\0\0\0", 20);
	assert_int_equal(ulen, 21);
	bh_dev_close(&d);
	bh_world_fini(&w);
}

static void test_discard_write_zeroes(void **state)
{
	uint8_t ones[4096], back[4096], zeros[4096] = { 0 }, seg[32];
	uint64_t buf, sbuf;
	struct world w;
	struct blkdev d;

	bh_world_init(&w);
	assert_true(bh_dev_open(&w, &d, "dz.img", 1 << 20, DISK_ENGINE_SYNC, false, NULL, 0));
	memset(ones, 0x5a, sizeof(ones));
	buf = fg_alloc(&w.g, sizeof(ones), 512);
	sbuf = fg_alloc(&w.g, sizeof(seg), 16);
	fg_write(&w.g, buf, ones, sizeof(ones));
	assert_int_equal(bh_do_io(&w, &d, T_OUT, 0, buf, 4096, false, NULL), S_OK);

	/* WRITE_ZEROES over sectors 1..2 and 5 (two segments, one unmap):
	 * 5.2.6.2 says these must then read as zeros. */
	bh_put_seg(seg, 1, 2, 0);
	bh_put_seg(seg + 16, 5, 1, VIRTIO_BLK_DWZ_FLAG_UNMAP);
	fg_write(&w.g, sbuf, seg, 32);
	assert_int_equal(bh_do_io(&w, &d, T_WRITE_ZEROES, 0, sbuf, 32, false, NULL), S_OK);
	assert_int_equal(bh_do_io(&w, &d, T_IN, 0, buf, 4096, true, NULL), S_OK);
	fg_read(&w.g, buf, back, sizeof(back));
	assert_memory_equal(back, ones, 512);
	assert_memory_equal(back + 512, zeros, 1024);
	assert_memory_equal(back + 1536, ones, 1024);
	assert_memory_equal(back + 2560, zeros, 512);
	assert_memory_equal(back + 3072, ones, 1024);

	/* DISCARD: OK (the contents are then unspecified); with unmap: UNSUPP */
	bh_put_seg(seg, 0, 8, 0);
	fg_write(&w.g, sbuf, seg, 16);
	assert_int_equal(bh_do_io(&w, &d, T_DISCARD, 0, sbuf, 16, false, NULL), S_OK);
	bh_put_seg(seg, 0, 8, VIRTIO_BLK_DWZ_FLAG_UNMAP);
	fg_write(&w.g, sbuf, seg, 16);
	assert_int_equal(bh_do_io(&w, &d, T_DISCARD, 0, sbuf, 16, false, NULL), S_UNSUPP);
	/* a segment past the end */
	bh_put_seg(seg, 2047, 2, 0);
	fg_write(&w.g, sbuf, seg, 16);
	assert_int_equal(bh_do_io(&w, &d, T_WRITE_ZEROES, 0, sbuf, 16, false, NULL), S_IOERR);
	assert_false(bh_needs_reset(&d));
	bh_dev_close(&d);
	bh_world_fini(&w);
}

static void test_read_only(void **state)
{
	uint8_t back[512], seg[16];
	uint64_t buf, sbuf;
	struct world w;
	struct blkdev d;

	bh_world_init(&w);
	assert_true(bh_dev_open(&w, &d, "ro.img", 1 << 20, DISK_ENGINE_SYNC, true, NULL, 0));
	assert_true(d.features & VIRTIO_BIT(VIRTIO_BLK_F_RO));
	assert_false(d.features & VIRTIO_BIT(VIRTIO_BLK_F_DISCARD));
	assert_false(d.features & VIRTIO_BIT(VIRTIO_BLK_F_WRITE_ZEROES));
	buf = fg_alloc(&w.g, 512, 512);
	memset(fg_ptr(&w.g, buf, 512), 0x77, 512);
	assert_int_equal(bh_do_io(&w, &d, T_OUT, 0, buf, 512, false, NULL), S_IOERR);
	bh_put_seg(seg, 0, 1, 0);
	sbuf = fg_alloc(&w.g, 16, 16);
	fg_write(&w.g, sbuf, seg, 16);
	assert_int_equal(bh_do_io(&w, &d, T_WRITE_ZEROES, 0, sbuf, 16, false, NULL),
			 S_UNSUPP); /* not negotiated */
	/* reads work, and the write did not happen */
	assert_int_equal(bh_do_io(&w, &d, T_IN, 0, buf, 512, true, NULL), S_OK);
	fg_read(&w.g, buf, back, 512);
	assert_int_equal(back[0], 0);
	assert_int_equal(back[511], 0);
	assert_int_equal(bh_do_io(&w, &d, T_FLUSH, 0, 0, 0, false, NULL), S_OK);
	bh_dev_close(&d);
	bh_world_fini(&w);
}

static void test_bad_requests(void **state)
{
	struct world w;
	struct blkdev d;
	uint64_t buf;

	bh_world_init(&w);
	assert_true(bh_dev_open(&w, &d, "bad.img", 1 << 20, DISK_ENGINE_SYNC, false, NULL, 0));
	buf = fg_alloc(&w.g, 1024, 512);
	/* capacity is 2048 sectors */
	assert_int_equal(bh_do_io(&w, &d, T_IN, 2048, buf, 512, true, NULL), S_IOERR);
	assert_int_equal(bh_do_io(&w, &d, T_OUT, 2047, buf, 1024, false, NULL), S_IOERR);
	assert_int_equal(bh_do_io(&w, &d, T_IN, UINT64_MAX - 1, buf, 1024, true, NULL), S_IOERR);
	assert_int_equal(bh_do_io(&w, &d, T_IN, 0, buf, 100, true, NULL), S_IOERR);
	assert_int_equal(bh_do_io(&w, &d, 99, 0, 0, 0, false, NULL), S_UNSUPP);
	/* none of that is the device's problem */
	assert_false(bh_needs_reset(&d));
	assert_int_equal(bh_do_io(&w, &d, T_IN, 2047, buf, 512, true, NULL), S_OK);
	bh_dev_close(&d);
	bh_world_fini(&w);
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

	bh_world_init(&w);
	assert_true(bh_dev_open(&w, &d, "mal.img", 1 << 20, DISK_ENGINE_SYNC, false, NULL, 0));
	hdr = fg_alloc(&w.g, 16, 16);
	buf = fg_alloc(&w.g, 512, 512);
	st = fg_alloc(&w.g, 1, 1);
	bh_put_hdr(h, T_IN, 0);
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
	assert_true(bh_needs_reset(&d));
	/* 2.1.2: the driver hears about it through a configuration change */
	assert_true(fg_mmio_ack_irq(&d.t) & VIRTIO_MMIO_INT_CONFIG);
	assert_false(fg_vring_get_used(&d.vr, &id, &len));

	/* reset, start again: the device works */
	fg_mmio_write32(&d.t, VIRTIO_MMIO_STATUS, 0);
	fg_vring_destroy(&d.vr);
	fg_vring_init(&w.g, &d.vr, 64);
	assert_int_equal(fg_mmio_start(&d.t, ~0ULL, &d.vr, 1, NULL), 0);
	assert_int_equal(bh_do_io(&w, &d, T_IN, 0, buf, 512, true, NULL), S_OK);
	bh_dev_close(&d);
	bh_world_fini(&w);
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
	bh_world_init(&w);
	bh_gated_init(gd, 1 << 20);
	for (i = 0; i < 4; i++)
		memset(gd->data + i * 512, 0x10 + i, 512);
	memset(&d, 0, sizeof(d));
	bh_dev_attach(&w, &d, &gd->d, NULL, 0, ~0ULL);
	for (i = 0; i < 4; i++) {
		buf[i] = fg_alloc(&w.g, 512, 512);
		bh_rq_add(&w, &d, &r[i], T_IN, i, buf[i], 512, true);
	}
	fg_mmio_kick(&d.t, 0);
	fg_el_poll(&w.el, 10);
	assert_int_equal(gd->nheld, 4); /* all four submitted before any completes */
	assert_false(fg_vring_get_used(&d.vr, &id, &len));
	for (i = 0; i < 4; i++) {
		bh_gated_release(gd, order[i]);
		assert_true(bh_wait_used(&w, &d, &id, &len));
		assert_int_equal(id, r[order[i]].head);
		assert_int_equal(len, 513);
		assert_int_equal(bh_rq_status(&w, &r[order[i]]), S_OK);
	}
	for (i = 0; i < 4; i++) {
		fg_read(&w.g, buf[i], back, 512);
		assert_int_equal(back[0], 0x10 + i);
		assert_int_equal(back[511], 0x10 + i);
	}
	bh_dev_close(&d);
	bh_gated_fini(gd);
	free(gd);
	bh_world_fini(&w);
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
	bh_world_init(&w);
	bh_gated_init(gd, 1 << 20);
	memset(&d, 0, sizeof(d));
	bh_dev_attach(&w, &d, &gd->d, NULL, 0, ~0ULL);
	buf = fg_alloc(&w.g, 512, 512);
	bh_rq_add(&w, &d, &r[0], T_IN, 0, buf, 512, true);
	bh_rq_add(&w, &d, &r[1], T_FLUSH, 0, 0, 0, false);
	fg_mmio_kick(&d.t, 0);
	fg_el_poll(&w.el, 10);
	assert_int_equal(gd->nheld, 2);

	/* Reset and restart on a fresh ring before the old requests finish:
	 * the driver reuses the same heads, which must not be completed. */
	fg_mmio_write32(&d.t, VIRTIO_MMIO_STATUS, 0);
	fg_vring_destroy(&d.vr);
	fg_vring_init(&w.g, &d.vr, 256);
	assert_int_equal(fg_mmio_start(&d.t, ~0ULL, &d.vr, 1, NULL), 0);
	bh_gated_release(gd, 0);
	bh_gated_release(gd, 1);
	while (fg_el_poll(&w.el, 10) > 0)
		;
	assert_int_equal(fg_vring_used_idx(&d.vr), 0);
	assert_int_equal(bh_rq_status(&w, &r[0]), 0xee);
	assert_int_equal(bh_rq_status(&w, &r[1]), 0xee);
	assert_false(bh_needs_reset(&d));

	/* Fill all 256 slots through indirect chains, then reset again with
	 * every one in flight. */
	first = gd->nheld;
	for (i = 0; i < 256; i++) {
		uint64_t hdr = fg_alloc(&w.g, 16, 16), st = fg_alloc(&w.g, 1, 1);
		uint8_t h[16];
		struct fg_buf b[2] = { { hdr, 16, false }, { st, 1, true } };

		bh_put_hdr(h, T_FLUSH, 0);
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
	bh_rq_add(&w, &d, &nr, T_FLUSH, 0, 0, 0, false);
	fg_mmio_kick(&d.t, 0);
	fg_el_poll(&w.el, 10);
	assert_int_equal(gd->nheld - first, 256); /* no slot: not submitted yet */
	for (i = first; i < first + 256; i++)
		bh_gated_release(gd, i);
	fg_el_poll(&w.el, 10);
	assert_int_equal(gd->nheld - first, 257); /* resumed once slots came back */
	bh_gated_release(gd, first + 256);
	assert_true(bh_wait_used(&w, &d, &id, &len));
	assert_int_equal(id, nr.head);
	assert_int_equal(bh_rq_status(&w, &nr), S_OK);
	assert_false(fg_vring_get_used(&d.vr, &id, &len)); /* nothing stale */
	bh_dev_close(&d);
	bh_gated_fini(gd);
	free(gd);
	bh_world_fini(&w);
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
	bh_world_init(&w);
	bh_gated_init(gd, 1 << 20);
	memset(&d, 0, sizeof(d));
	bh_dev_attach(&w, &d, &gd->d, NULL, 0, ~VIRTIO_BIT(VIRTIO_BLK_F_FLUSH));
	assert_false(d.features & VIRTIO_BIT(VIRTIO_BLK_F_FLUSH));
	buf = fg_alloc(&w.g, 512, 512);
	memset(fg_ptr(&w.g, buf, 512), 0x33, 512);
	bh_rq_add(&w, &d, &r, T_OUT, 3, buf, 512, false);
	fg_mmio_kick(&d.t, 0);
	fg_el_poll(&w.el, 10);
	assert_int_equal(gd->nheld, 1);
	assert_int_equal(gd->held[0]->op, DISK_WRITE);
	bh_gated_release(gd, 0);
	fg_el_poll(&w.el, 10);
	assert_false(fg_vring_get_used(&d.vr, &id, &len));
	assert_int_equal(gd->nheld, 2);
	assert_int_equal(gd->held[1]->op, DISK_FLUSH);
	bh_gated_release(gd, 1);
	assert_true(bh_wait_used(&w, &d, &id, &len));
	assert_int_equal(bh_rq_status(&w, &r), S_OK);
	assert_int_equal(gd->data[3 * 512], 0x33);
	bh_dev_close(&d);
	bh_gated_fini(gd);
	free(gd);
	bh_world_fini(&w);
}

static void test_two_disks(void **state)
{
	uint8_t back[512], id[20];
	struct world w;
	struct blkdev a, b;
	uint64_t ba, bb, idb;

	bh_world_init(&w);
	assert_true(
		bh_dev_open(&w, &a, "a.img", 1 << 20, DISK_ENGINE_SYNC, false, "disk-a", 0x1000));
	assert_true(
		bh_dev_open(&w, &b, "b.img", 2 << 20, DISK_ENGINE_SYNC, false, "disk-b", 0x2000));
	ba = fg_alloc(&w.g, 512, 512);
	bb = fg_alloc(&w.g, 512, 512);
	idb = fg_alloc(&w.g, 20, 1);
	memset(fg_ptr(&w.g, ba, 512), 0xaa, 512);
	memset(fg_ptr(&w.g, bb, 512), 0xbb, 512);
	assert_int_equal(bh_do_io(&w, &a, T_OUT, 7, ba, 512, false, NULL), S_OK);
	assert_int_equal(bh_do_io(&w, &b, T_OUT, 7, bb, 512, false, NULL), S_OK);
	assert_int_equal(bh_do_io(&w, &a, T_IN, 7, bb, 512, true, NULL), S_OK);
	fg_read(&w.g, bb, back, 512);
	assert_int_equal(back[0], 0xaa);
	assert_int_equal(bh_do_io(&w, &b, T_IN, 7, ba, 512, true, NULL), S_OK);
	fg_read(&w.g, ba, back, 512);
	assert_int_equal(back[0], 0xbb);
	/* sector 3000 exists only on b */
	assert_int_equal(bh_do_io(&w, &a, T_IN, 3000, ba, 512, true, NULL), S_IOERR);
	assert_int_equal(bh_do_io(&w, &b, T_IN, 3000, ba, 512, true, NULL), S_OK);
	assert_int_equal(bh_do_io(&w, &b, T_GET_ID, 0, idb, 20, true, NULL), S_OK);
	fg_read(&w.g, idb, id, 20);
	assert_memory_equal(id, "disk-b", 7);
	bh_dev_close(&a);
	bh_dev_close(&b);
	bh_world_fini(&w);
}

static void test_create_errors(void **state)
{
	struct virtio_blk *b = NULL;
	struct gated *gd = calloc(1, sizeof(*gd));
	struct world w;
	char err[64] = "";

	assert_non_null(gd);
	bh_world_init(&w);
	bh_gated_init(gd, 1 << 20);
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
	bh_gated_fini(gd);
	free(gd);
	bh_world_fini(&w);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
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
