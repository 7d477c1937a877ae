/* SPDX-License-Identifier: MIT */
/*
 * virtio-blk: the request parser (blk_req.c) on hand-made iovec layouts:
 * reads and writes, the framings of 2.6.4, range checks, malformed chains,
 * DISCARD / WRITE_ZEROES segments and GET_ID.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "tests/unit/virtio/blk_harness.h"

static const struct blk_limits test_lim = {
	.capacity = 2048,
	.features = VIRTIO_BIT(VIRTIO_BLK_F_DISCARD) | VIRTIO_BIT(VIRTIO_BLK_F_WRITE_ZEROES),
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

/* header | data (readable or writable) | status, as Linux lays it out */
static enum blk_verdict parse3(struct pbuf *p, const struct blk_limits *lim, uint32_t type,
			       uint64_t sector, size_t len, bool data_writable)
{
	unsigned int nout = 1, nin = 1;

	bh_put_hdr(p->hdr, type, sector);
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

	bh_put_hdr(buf, T_OUT, 4);
	iov[0] = (struct iovec){ buf, 5 };
	iov[1] = (struct iovec){ buf + 5, 11 + 1024 };
	iov[2] = (struct iovec){ buf + 16 + 1024, 1 };
	assert_int_equal(blk_req_parse(&test_lim, iov, 2, 1, data_iov, &r), BLK_SUBMIT);
	assert_int_equal(r.sector, 4);
	assert_int_equal(r.len, 1024);
	assert_int_equal(r.iovcnt, 1);
	assert_ptr_equal(r.iov[0].iov_base, buf + 16);
	assert_ptr_equal(r.status_ptr, buf + 16 + 1024);

	bh_put_hdr(buf, T_IN, 4);
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

	bh_put_hdr(hdr, T_IN, 0);
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

static void test_parse_dwz(void **state)
{
	struct blk_limits ro = test_lim, nodisc = test_lim;
	struct pbuf p;

	bh_put_seg(p.data, 8, 16, 0);
	bh_put_seg(p.data + 16, 100, 0, 0); /* empty: skipped */
	bh_put_seg(p.data + 32, 2040, 8, VIRTIO_BLK_DWZ_FLAG_UNMAP);
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
	bh_put_seg(p.data, 8, 16, 2);
	expect(&p, &test_lim, T_WRITE_ZEROES, 0, 16, false, S_UNSUPP);
	/* too large a segment (max_discard_sectors 64), past the end,
	 * wrapping, too many segments, a ragged array */
	bh_put_seg(p.data, 0, 65, 0);
	expect(&p, &test_lim, T_DISCARD, 0, 16, false, S_IOERR);
	bh_put_seg(p.data, 2047, 2, 0);
	expect(&p, &test_lim, T_DISCARD, 0, 16, false, S_IOERR);
	bh_put_seg(p.data, UINT64_MAX - 1, 8, 0);
	expect(&p, &test_lim, T_DISCARD, 0, 16, false, S_IOERR);
	expect(&p, &test_lim, T_DISCARD, 0, 5 * 16, false, S_IOERR);
	expect(&p, &test_lim, T_DISCARD, 0, 17, false, S_IOERR);
	/* not negotiated -> UNSUPP; read-only -> IOERR */
	nodisc.features = 0;
	bh_put_seg(p.data, 0, 8, 0);
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

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_parse_rw),     cmocka_unit_test(test_parse_framing),
		cmocka_unit_test(test_parse_ranges), cmocka_unit_test(test_parse_malformed),
		cmocka_unit_test(test_parse_dwz),    cmocka_unit_test(test_parse_get_id),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
