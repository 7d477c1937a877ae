/* SPDX-License-Identifier: MIT */
/*
 * The virtio-blk tests' harness (test_blk_req.c, test_blk.c): short names
 * for the request types and statuses, request and segment header writers,
 * a "gated" backend whose requests complete only when a test releases them
 * (in any order), and a "world" of event loop and fake guest in which a
 * device is driven through the mmio transport over a raw image file or a
 * gated backend.
 *
 * Test scaffolding: misuse fails the running cmocka test.
 */
#ifndef VMM_TESTS_BLK_HARNESS_H
#define VMM_TESTS_BLK_HARNESS_H

#include <stdbool.h>
#include <stdint.h>

#include "devices/disk/io_engine.h"
#include "devices/virtio/blk.h"
#include "devices/virtio/blk_req.h"
#include "devices/virtio/mmio.h"
#include "tests/unit/virtio/fake_guest.h"

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

/* A request header (5.2.6) of `type` at `sector`, VIRTIO_BLK_HDR_SIZE bytes. */
void bh_put_hdr(uint8_t *h, uint32_t type, uint64_t sector);
/* One 16-byte DISCARD / WRITE_ZEROES segment (5.2.6). */
void bh_put_seg(uint8_t *d, uint64_t sector, uint32_t n, uint32_t flags);

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

/* A RAM disk of `size` bytes with the sync engine; nothing completes yet. */
void bh_gated_init(struct gated *g, uint64_t size);
void bh_gated_fini(struct gated *g);
/* Do held request `i`'s I/O on the RAM disk and complete it. */
void bh_gated_release(struct gated *g, unsigned int i);

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

/* A private directory, an event loop and 8 MiB of fake guest. */
void bh_world_init(struct world *w);
/* Tear it down; the directory must be empty again. */
void bh_world_fini(struct world *w);
/* A device over `disk` at mmio `base`, started accepting features `want`
 * on one queue of 64 (the negotiated set lands in d->features). */
void bh_dev_attach(struct world *w, struct blkdev *d, struct disk *disk, const char *serial,
		   uint64_t base, uint64_t want);
/* A raw image of `size` bytes, opened with `engine`, under a started
 * device; false if the engine is not available here. */
bool bh_dev_open(struct world *w, struct blkdev *d, const char *file, uint64_t size,
		 enum disk_engine_kind engine, bool ro, const char *serial, uint64_t base);
/* Device, transport and ring down; the image (if any) closed and removed. */
void bh_dev_close(struct blkdev *d);
/* Queue header | data | status (Linux's layout); the status reads 0xee
 * until the device writes it. Does not kick. */
void bh_rq_add(struct world *w, struct blkdev *d, struct rq *r, uint32_t type, uint64_t sector,
	       uint64_t data, uint32_t len, bool writable);
uint8_t bh_rq_status(struct world *w, const struct rq *r);
/* Run the loop until the next used entry shows up (false: it did not). */
bool bh_wait_used(struct world *w, struct blkdev *d, uint32_t *id, uint32_t *len);
/* One request, start to finish; returns its status (and the used length). */
uint8_t bh_do_io(struct world *w, struct blkdev *d, uint32_t type, uint64_t sector, uint64_t data,
		 uint32_t len, bool writable, uint32_t *used_len);
/* Whether the device set DEVICE_NEEDS_RESET. */
bool bh_needs_reset(struct blkdev *d);

#endif
