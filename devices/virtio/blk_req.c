/* SPDX-License-Identifier: MIT */
/*
 * virtio-blk request parsing and validation (virtio 1.2 section 5.2.6).
 *
 * A request is one descriptor chain:
 *
 *	struct virtio_blk_req {
 *		le32 type; le32 reserved; le64 sector;	(device-readable)
 *		u8 data[];				(readable or writable, by type)
 *		u8 status;				(device-writable, the last byte)
 *	};
 *
 * 2.6.4 (message framing): the device must not assume any particular split
 * into descriptors, so the header may span segments and share its last one
 * with OUT data, and the status byte may share a segment with IN data. We
 * therefore work on byte offsets within the readable and writable parts.
 *
 * What cannot be answered is MALFORMED and fails the device: no writable byte
 * for the status, a header shorter than 16 bytes, data flowing the wrong way
 * for the type (IN with device-readable data, OUT with device-writable data),
 * or a chain longer than 4 GiB (2.7.5: drivers must not build one). Everything
 * else gets a status: IOERR for bad ranges and lengths, UNSUPP for what we do
 * not know (5.2.6.2).
 */
#include "devices/virtio/blk_req.h"

#include <errno.h>
#include <string.h>

#include "base/iov.h"

static enum blk_verdict malformed(struct blk_req *req, const char *why)
{
	req->status_ptr = NULL;
	req->why = why;
	return BLK_MALFORMED;
}

static enum blk_verdict answer(struct blk_req *req, uint8_t status, const char *why)
{
	req->status = status;
	req->why = why;
	return BLK_COMPLETE;
}

/*
 * [sector, sector + nsec) inside [0, capacity), and its byte offset, with
 * overflow-safe arithmetic: a guest sector near 2^64 must not wrap around
 * to a small offset.
 */
static bool range_ok(const struct blk_limits *lim, uint64_t sector, uint64_t nsec, uint64_t *off)
{
	uint64_t end, end_bytes;

	/* Both ends in bytes must fit too, whatever the capacity claims. */
	if (__builtin_add_overflow(sector, nsec, &end) || end > lim->capacity ||
	    __builtin_mul_overflow(end, (uint64_t)DISK_SECTOR_SIZE, &end_bytes))
		return false;
	return !__builtin_mul_overflow(sector, (uint64_t)DISK_SECTOR_SIZE, off);
}

/* IN and OUT (5.2.6): the data length is a multiple of 512 bytes and the
 * sectors lie inside the disk, else IOERR. */
static enum blk_verdict parse_rw(const struct blk_limits *lim, struct blk_req *req)
{
	if (req->len % DISK_SECTOR_SIZE)
		return answer(req, VIRTIO_BLK_S_IOERR, "data length not a multiple of 512");
	if (!range_ok(lim, req->sector, req->len >> VIRTIO_BLK_SECTOR_SHIFT, &req->offset))
		return answer(req, VIRTIO_BLK_S_IOERR, "sectors beyond the end of the disk");
	if (req->len == 0) /* nothing to transfer: no need to bother the disk */
		return answer(req, VIRTIO_BLK_S_OK, NULL);
	return BLK_SUBMIT;
}

/*
 * DISCARD and WRITE_ZEROES (5.2.6): the data is an array of
 * struct virtio_blk_discard_write_zeroes. Each segment is copied once, then
 * checked: unknown flags, or `unmap` on a DISCARD, are UNSUPP (5.2.6.2); a
 * segment larger than max_*_sectors, more segments than max_*_seg, or sectors
 * outside the disk are IOERR.
 */
static enum blk_verdict parse_dwz(const struct blk_limits *lim, const struct iovec *iov,
				  unsigned int nout, uint64_t data_len, struct blk_req *req)
{
	bool wz = req->type == VIRTIO_BLK_T_WRITE_ZEROES;
	uint32_t max_sectors = wz ? lim->max_write_zeroes_sectors : lim->max_discard_sectors;
	uint32_t max_seg = wz ? lim->max_write_zeroes_seg : lim->max_discard_seg;
	uint64_t n, i;

	if (max_seg > BLK_MAX_DWZ_SEG)
		max_seg = BLK_MAX_DWZ_SEG;
	if (data_len == 0 || data_len % VIRTIO_BLK_DWZ_SEG_SIZE)
		return answer(req, VIRTIO_BLK_S_IOERR, "bad discard/write-zeroes segment array");
	n = data_len / VIRTIO_BLK_DWZ_SEG_SIZE;
	if (n > max_seg)
		return answer(req, VIRTIO_BLK_S_IOERR, "too many discard/write-zeroes segments");

	req->op = wz ? DISK_WRITE_ZEROES : DISK_DISCARD;
	for (i = 0; i < n; i++) {
		uint8_t raw[VIRTIO_BLK_DWZ_SEG_SIZE];
		uint64_t sector, off;
		uint32_t nsec, flags;

		/* Fully inside the readable part: data_len was measured on it. */
		iov_to_buf(iov, nout, VIRTIO_BLK_HDR_SIZE + i * VIRTIO_BLK_DWZ_SEG_SIZE, raw,
			   sizeof(raw));
		memcpy(&sector, raw, 8);
		memcpy(&nsec, raw + 8, 4);
		memcpy(&flags, raw + 12, 4);
		if (flags & ~VIRTIO_BLK_DWZ_FLAG_UNMAP)
			return answer(req, VIRTIO_BLK_S_UNSUPP,
				      "unknown discard/write-zeroes flags");
		if (!wz && (flags & VIRTIO_BLK_DWZ_FLAG_UNMAP))
			return answer(req, VIRTIO_BLK_S_UNSUPP, "unmap flag on a discard");
		if (nsec > max_sectors)
			return answer(req, VIRTIO_BLK_S_IOERR,
				      "discard/write-zeroes segment too large");
		if (!range_ok(lim, sector, nsec, &off))
			return answer(req, VIRTIO_BLK_S_IOERR,
				      "sectors beyond the end of the disk");
		if (nsec == 0)
			continue; /* nothing to do for this one */
		req->seg[req->nseg].offset = off;
		req->seg[req->nseg].len = (uint64_t)nsec << VIRTIO_BLK_SECTOR_SHIFT;
		req->seg[req->nseg].unmap = flags & VIRTIO_BLK_DWZ_FLAG_UNMAP;
		req->nseg++;
	}
	if (req->nseg == 0)
		return answer(req, VIRTIO_BLK_S_OK, NULL);
	return BLK_SUBMIT;
}

enum blk_verdict blk_req_parse(const struct blk_limits *lim, const struct iovec *iov,
			       unsigned int nout, unsigned int nin, struct iovec *data_iov,
			       struct blk_req *req)
{
	const struct iovec *win = iov + nout;
	uint8_t hdr[VIRTIO_BLK_HDR_SIZE];
	uint64_t out_len, in_len, out_data, in_data;
	unsigned int i;

	memset(req, 0, sizeof(*req));
	req->iov = data_iov;
	out_len = iov_size(iov, nout);
	in_len = iov_size(win, nin);

	/* 5.2.6: `status` is the final byte the device writes; without a
	 * writable byte there is no way to answer at all. */
	if (in_len == 0)
		return malformed(req, "no device-writable byte for the status");
	if (out_len < VIRTIO_BLK_HDR_SIZE)
		return malformed(req, "request header shorter than 16 bytes");
	if (out_len > UINT32_MAX || in_len > UINT32_MAX)
		return malformed(req, "descriptor chain longer than 4 GiB");

	for (i = nin; i-- > 0;) {
		if (win[i].iov_len) {
			req->status_ptr = (uint8_t *)win[i].iov_base + win[i].iov_len - 1;
			break;
		}
	}
	/* Copy the header out once; the guest may rewrite it after this. */
	iov_to_buf(iov, nout, 0, hdr, sizeof(hdr));
	memcpy(&req->type, hdr, 4);
	memcpy(&req->sector, hdr + 8, 8);
	out_data = out_len - VIRTIO_BLK_HDR_SIZE;
	in_data = in_len - 1;
	req->used_len = 1;

	switch (req->type) {
	case VIRTIO_BLK_T_IN:
		if (out_data)
			return malformed(req, "IN request with device-readable data");
		req->op = DISK_READ;
		req->len = in_data;
		req->iovcnt = (int)iov_window(win, nin, 0, in_data, data_iov);
		req->used_len = (uint32_t)in_len;
		return parse_rw(lim, req);
	case VIRTIO_BLK_T_OUT:
		if (in_data)
			return malformed(req, "OUT request with device-writable data");
		req->op = DISK_WRITE;
		req->len = out_data;
		req->iovcnt = (int)iov_window(iov, nout, VIRTIO_BLK_HDR_SIZE, out_data, data_iov);
		/* 5.2.6.2: a write to a read-only device is IOERR, and no
		 * data may be written. */
		if (lim->readonly)
			return answer(req, VIRTIO_BLK_S_IOERR, "write to a read-only disk");
		return parse_rw(lim, req);
	case VIRTIO_BLK_T_FLUSH:
		if (out_data || in_data)
			return malformed(req, "FLUSH request with data");
		req->op = DISK_FLUSH;
		return BLK_SUBMIT;
	case VIRTIO_BLK_T_GET_ID:
		if (out_data)
			return malformed(req, "GET_ID request with device-readable data");
		/* The id buffer is the writable part before the status; the
		 * caller fills it (blk_req_fill_id). */
		req->len = in_data;
		req->iovcnt = (int)iov_window(win, nin, 0, in_data, data_iov);
		return answer(req, VIRTIO_BLK_S_OK, NULL);
	case VIRTIO_BLK_T_DISCARD:
	case VIRTIO_BLK_T_WRITE_ZEROES: {
		unsigned int bit = req->type == VIRTIO_BLK_T_DISCARD ? VIRTIO_BLK_F_DISCARD
								     : VIRTIO_BLK_F_WRITE_ZEROES;

		if (in_data)
			return malformed(req, "discard/write-zeroes request with writable data");
		/* Only types whose feature was negotiated exist (5.2.6). */
		if (!(lim->features & (1ULL << bit)))
			return answer(req, VIRTIO_BLK_S_UNSUPP,
				      "discard/write-zeroes not negotiated");
		if (lim->readonly)
			return answer(req, VIRTIO_BLK_S_IOERR,
				      "discard/write-zeroes on a read-only disk");
		return parse_dwz(lim, iov, nout, out_data, req);
	}
	default:
		return answer(req, VIRTIO_BLK_S_UNSUPP, "unknown request type");
	}
}

void blk_req_fill_id(struct blk_req *req, const char *serial)
{
	char id[VIRTIO_BLK_ID_BYTES] = { 0 };
	size_t n;

	/* 5.2.6: the id is up to 20 bytes, NUL-terminated only if shorter
	 * (the rest is NUL padding). A shorter buffer gets a prefix. */
	if (serial)
		memcpy(id, serial, strnlen(serial, sizeof(id)));
	n = iov_from_buf(req->iov, (unsigned int)req->iovcnt, 0, id, sizeof(id));
	req->used_len = (uint32_t)n + 1;
}

uint32_t blk_req_used_len(const struct blk_req *req, uint8_t status)
{
	/* 2.7.8.2: `len` must not exceed what was written from the start of
	 * the writable part. On an error the data is not (fully) written, so
	 * report only the status byte; Linux's virtio_blk ignores len. */
	return status == VIRTIO_BLK_S_OK ? req->used_len : 1;
}

uint8_t blk_status_from_errno(int ret)
{
	if (ret == 0)
		return VIRTIO_BLK_S_OK;
	if (ret == -EOPNOTSUPP)
		return VIRTIO_BLK_S_UNSUPP;
	return VIRTIO_BLK_S_IOERR;
}
