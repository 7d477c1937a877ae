/* SPDX-License-Identifier: MIT */
/*
 * virtio-blk requests (virtio 1.2 section 5.2.6) as pure functions: turn a
 * popped descriptor chain (host iovecs, readable part first) into either a
 * block-backend request, an immediate answer, or "malformed: fail the
 * device". No guest-memory mapping, no queues, no disk: blk.c does the I/O,
 * and the unit tests and the fuzz target (tests/fuzz/fuzz_blk.c) call these
 * directly on hand-made or fuzzed iovec layouts.
 *
 * The iovecs point at guest memory the guest may change under us at any
 * moment: the header and the discard/write-zeroes segments are copied out
 * exactly once, then validated; the data buffers are only ever passed on.
 */
#ifndef VMM_DEVICES_VIRTIO_BLK_REQ_H
#define VMM_DEVICES_VIRTIO_BLK_REQ_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/uio.h>

#include "devices/disk/disk.h"

/* 5.2.3 Feature bits */
#define VIRTIO_BLK_F_SIZE_MAX	  1
#define VIRTIO_BLK_F_SEG_MAX	  2
#define VIRTIO_BLK_F_RO		  5
#define VIRTIO_BLK_F_BLK_SIZE	  6
#define VIRTIO_BLK_F_FLUSH	  9
#define VIRTIO_BLK_F_DISCARD	  13
#define VIRTIO_BLK_F_WRITE_ZEROES 14

/* 5.2.6 request types */
#define VIRTIO_BLK_T_IN		  0
#define VIRTIO_BLK_T_OUT	  1
#define VIRTIO_BLK_T_FLUSH	  4
#define VIRTIO_BLK_T_GET_ID	  8
#define VIRTIO_BLK_T_DISCARD	  11
#define VIRTIO_BLK_T_WRITE_ZEROES 13

/* 5.2.6 status values */
#define VIRTIO_BLK_S_OK	    0
#define VIRTIO_BLK_S_IOERR  1
#define VIRTIO_BLK_S_UNSUPP 2

/* 5.2.6: struct virtio_blk_req { le32 type; le32 reserved; le64 sector; } */
#define VIRTIO_BLK_HDR_SIZE	  16
/* 5.2.6: GET_ID answers with a 20-byte id string */
#define VIRTIO_BLK_ID_BYTES	  20
/* 5.2.6: struct virtio_blk_discard_write_zeroes { le64 sector;
 * le32 num_sectors; le32 flags; } -- flags bit 0 is `unmap`. */
#define VIRTIO_BLK_DWZ_SEG_SIZE	  16
#define VIRTIO_BLK_DWZ_FLAG_UNMAP 1U
#define VIRTIO_BLK_SECTOR_SHIFT	  9 /* capacity and `sector` count 512-byte units (5.2.4) */

/* Segments of one DISCARD / WRITE_ZEROES request we accept (our
 * max_discard_seg and max_write_zeroes_seg). blk.c keeps one disk request
 * per segment per request slot, so this bounds its memory. */
#define BLK_MAX_DWZ_SEG 16

/*
 * 5.2.4 Device configuration layout, little-endian (x86-64 hosts only, so
 * host order). Fields after write_zeroes_may_unmap (secure erase, zoned)
 * belong to features we do not offer; the config space ends before them.
 */
struct virtio_blk_config {
	uint64_t capacity; /* in 512-byte sectors, whatever blk_size is */
	uint32_t size_max;
	uint32_t seg_max;
	struct {
		uint16_t cylinders;
		uint8_t heads;
		uint8_t sectors;
	} geometry;
	uint32_t blk_size;
	struct {
		uint8_t physical_block_exp;
		uint8_t alignment_offset;
		uint16_t min_io_size;
		uint32_t opt_io_size;
	} topology;
	uint8_t writeback;
	uint8_t unused0;
	uint16_t num_queues;
	uint32_t max_discard_sectors;
	uint32_t max_discard_seg;
	uint32_t discard_sector_alignment;
	uint32_t max_write_zeroes_sectors;
	uint32_t max_write_zeroes_seg;
	uint8_t write_zeroes_may_unmap;
	uint8_t unused1[3];
} __attribute__((packed));

/* What the parser needs to know about the device. */
struct blk_limits {
	uint64_t capacity; /* 512-byte sectors */
	bool readonly;	   /* VIRTIO_BLK_F_RO offered */
	uint64_t features; /* negotiated: decides whether DISCARD/WRITE_ZEROES exist */
	uint32_t max_discard_sectors, max_discard_seg;
	uint32_t max_write_zeroes_sectors, max_write_zeroes_seg;
};

enum blk_verdict {
	BLK_SUBMIT,    /* valid: hand op/offset/len/iov (or seg[]) to the disk */
	BLK_COMPLETE,  /* answer now with `status` (an error; FLUSH never; GET_ID: OK) */
	BLK_MALFORMED, /* cannot be answered: fail the device (DEVICE_NEEDS_RESET) */
};

struct blk_dwz_seg {
	uint64_t offset, len; /* bytes */
	bool unmap;
};

struct blk_req {
	uint32_t type;	 /* from the header */
	uint64_t sector; /* from the header */
	uint8_t status;	 /* BLK_COMPLETE: the answer */
	/* The status byte: the last byte of the device-writable part
	 * (5.2.6: `u8 status` ends the request). NULL only if MALFORMED. */
	uint8_t *status_ptr;
	/* BLK_SUBMIT for IN/OUT/FLUSH; for GET_ID (COMPLETE) the id buffer. */
	enum disk_op op;
	uint64_t offset, len; /* bytes */
	struct iovec *iov;    /* the caller's data_iov array */
	int iovcnt;
	/* Bytes the device writes into the chain on success, status included
	 * (the used-ring `len`, 2.7.8). */
	uint32_t used_len;
	/* BLK_SUBMIT for DISCARD / WRITE_ZEROES: one backend request each. */
	unsigned int nseg;
	struct blk_dwz_seg seg[BLK_MAX_DWZ_SEG];
	const char *why; /* MALFORMED or an error status: for the log */
};

/*
 * Parse one chain: `iov[0..nout)` device-readable, then `iov[nout..nout+nin)`
 * device-writable. `data_iov` must have room for nout + nin entries; req->iov
 * points into it. Returns the verdict; `req` is filled in for every verdict
 * (status_ptr stays NULL for MALFORMED).
 */
enum blk_verdict blk_req_parse(const struct blk_limits *lim, const struct iovec *iov,
			       unsigned int nout, unsigned int nin, struct iovec *data_iov,
			       struct blk_req *req);

/* GET_ID (5.2.6): write the serial, NUL-padded to 20 bytes, into the data
 * buffer (at most its length) and set used_len. `serial` may be NULL. */
void blk_req_fill_id(struct blk_req *req, const char *serial);

/* Used-ring length for a request finished with `status`: the data the
 * device wrote (only on success of IN/GET_ID) plus the status byte. */
uint32_t blk_req_used_len(const struct blk_req *req, uint8_t status);

/* Map a backend result (0 or -errno) to a status byte. */
uint8_t blk_status_from_errno(int ret);

#endif /* VMM_DEVICES_VIRTIO_BLK_REQ_H */
