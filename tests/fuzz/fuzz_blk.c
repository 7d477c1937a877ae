/* SPDX-License-Identifier: MIT */
/*
 * libFuzzer target: the virtio-blk request parser (devices/virtio/blk_req.c)
 * on fuzzed device limits, descriptor layouts and contents -- headers split
 * anywhere, empty segments, status bytes sharing segments with data, and
 * discard/write-zeroes segment arrays.
 *
 * Input: [flags u8][capacity u64][nout u8][nin u8][len u16 x (nout+nin)]
 * then the bytes of the segments, in order (zeros once the input runs out).
 * Each segment is its own malloc of exactly its length, so AddressSanitizer
 * catches any access past a segment; the invariants below catch a parse
 * that lets a request reach outside the disk or the wrong segments.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "devices/virtio/blk_req.h"

#define MAX_SEGS 16
#define MAX_LEN	 4096

struct layout {
	struct iovec iov[MAX_SEGS];
	unsigned int nout, nin;
};

#define CHECK(c)                 \
	do {                     \
		if (!(c))        \
			abort(); \
	} while (0)

/* Is [p, p+len) inside one of segments [from, to)? */
static int inside(const struct layout *l, unsigned int from, unsigned int to, const void *p,
		  size_t len)
{
	const uint8_t *b = p;
	unsigned int i;

	for (i = from; i < to; i++) {
		const uint8_t *s = l->iov[i].iov_base;

		if (b >= s && len <= l->iov[i].iov_len &&
		    (size_t)(b - s) <= l->iov[i].iov_len - len)
			return 1;
	}
	return 0;
}

static void check_data(const struct layout *l, const struct blk_req *r, int writable)
{
	unsigned int from = writable ? l->nout : 0, to = writable ? l->nout + l->nin : l->nout;
	uint64_t sum = 0;
	int i;

	CHECK(r->iovcnt >= 0 && (unsigned int)r->iovcnt <= l->nout + l->nin);
	for (i = 0; i < r->iovcnt; i++) {
		CHECK(r->iov[i].iov_len > 0);
		CHECK(inside(l, from, to, r->iov[i].iov_base, r->iov[i].iov_len));
		/* the data never covers the status byte */
		CHECK(!((uint8_t *)r->iov[i].iov_base <= r->status_ptr &&
			r->status_ptr < (uint8_t *)r->iov[i].iov_base + r->iov[i].iov_len));
		sum += r->iov[i].iov_len;
	}
	CHECK(sum == r->len);
}

static void check(const struct blk_limits *lim, const struct layout *l, enum blk_verdict v,
		  struct blk_req *r)
{
	uint64_t cap_bytes = lim->capacity > UINT64_MAX / 512 ? UINT64_MAX : lim->capacity * 512;
	unsigned int i;

	if (v == BLK_MALFORMED) {
		CHECK(r->status_ptr == NULL && r->why);
		return;
	}
	CHECK(v == BLK_SUBMIT || v == BLK_COMPLETE);
	CHECK(r->status_ptr && inside(l, l->nout, l->nout + l->nin, r->status_ptr, 1));
	*r->status_ptr = 0xff; /* ASan: it must be real memory */
	if (v == BLK_COMPLETE) {
		CHECK(r->status <= VIRTIO_BLK_S_UNSUPP);
		if (r->type == VIRTIO_BLK_T_GET_ID) {
			check_data(l, r, 1);
			blk_req_fill_id(r, "fuzz-serial-0123456789");
		}
		CHECK(blk_req_used_len(r, r->status) >= 1);
		return;
	}
	switch (r->op) {
	case DISK_READ:
	case DISK_WRITE:
		CHECK(r->type == (r->op == DISK_READ ? VIRTIO_BLK_T_IN : VIRTIO_BLK_T_OUT));
		CHECK(r->len > 0 && r->len % 512 == 0);
		CHECK(r->offset <= cap_bytes && r->len <= cap_bytes - r->offset);
		CHECK(!(r->op == DISK_WRITE && lim->readonly));
		check_data(l, r, r->op == DISK_READ);
		break;
	case DISK_FLUSH:
		CHECK(r->type == VIRTIO_BLK_T_FLUSH);
		break;
	case DISK_DISCARD:
	case DISK_WRITE_ZEROES:
		CHECK(!lim->readonly);
		CHECK(r->nseg >= 1 && r->nseg <= BLK_MAX_DWZ_SEG);
		for (i = 0; i < r->nseg; i++) {
			uint32_t max = r->op == DISK_DISCARD ? lim->max_discard_sectors
							     : lim->max_write_zeroes_sectors;

			CHECK(r->seg[i].len > 0 && r->seg[i].len <= (uint64_t)max * 512);
			CHECK(r->seg[i].offset <= cap_bytes &&
			      r->seg[i].len <= cap_bytes - r->seg[i].offset);
			CHECK(!(r->op == DISK_DISCARD && r->seg[i].unmap));
		}
		break;
	default:
		CHECK(0);
	}
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct blk_limits lim = { 0 };
	struct iovec data_iov[MAX_SEGS];
	struct layout l = { 0 };
	struct blk_req r;
	enum blk_verdict v;
	unsigned int i, n;
	size_t pos = 11;

	if (size < 11)
		return 0;
	lim.readonly = data[0] & 1;
	lim.features = ((data[0] & 2) ? 1ULL << VIRTIO_BLK_F_DISCARD : 0) |
		       ((data[0] & 4) ? 1ULL << VIRTIO_BLK_F_WRITE_ZEROES : 0);
	memcpy(&lim.capacity, data + 1, 8);
	if (data[0] & 8) /* mostly small disks, so ranges hit both sides of the end */
		lim.capacity &= 0xffff;
	lim.max_discard_sectors = (data[0] & 16) ? 0x3fffff : 8;
	lim.max_write_zeroes_sectors = (data[0] & 16) ? 0x3fffff : 16;
	lim.max_discard_seg = (data[0] & 32) ? BLK_MAX_DWZ_SEG : 2;
	lim.max_write_zeroes_seg = (data[0] & 64) ? 1000 : 3; /* > BLK_MAX_DWZ_SEG is clamped */
	l.nout = data[9] % (MAX_SEGS / 2 + 1);
	l.nin = data[10] % (MAX_SEGS / 2 + 1);
	n = l.nout + l.nin;

	for (i = 0; i < n; i++) {
		uint16_t len = 0;

		if (pos + 2 <= size)
			memcpy(&len, data + pos, 2);
		pos += 2;
		len %= MAX_LEN + 1;
		/* malloc(0) may return NULL; keep a valid base either way */
		l.iov[i].iov_base = malloc(len ? len : 1);
		l.iov[i].iov_len = len;
		if (!l.iov[i].iov_base)
			abort();
	}
	for (i = 0; i < n; i++) {
		size_t len = l.iov[i].iov_len, avail = pos < size ? size - pos : 0;

		memset(l.iov[i].iov_base, 0, len);
		memcpy(l.iov[i].iov_base, data + (pos < size ? pos : size),
		       avail < len ? avail : len);
		pos += len;
	}

	v = blk_req_parse(&lim, l.iov, l.nout, l.nin, data_iov, &r);
	check(&lim, &l, v, &r);

	for (i = 0; i < n; i++)
		free(l.iov[i].iov_base);
	return 0;
}
