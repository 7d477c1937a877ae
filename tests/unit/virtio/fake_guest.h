/* SPDX-License-Identifier: MIT */
/*
 * A fake guest for virtio device tests: malloc'd guest RAM, a fake interrupt
 * line, a split-virtqueue builder (the driver's half of virtio 1.2 section
 * 2.7) and a driver that walks a struct virtio_mmio through its registers the
 * way Linux's drivers/virtio/virtio_mmio.c does.
 *
 * Typical use (see tests/unit/virtio/test_mmio.c):
 *
 *	struct fake_guest g;
 *	struct fg_vring vr;
 *	struct virtio_mmio t;
 *
 *	fg_init(&g, 1 << 20);                       // 1 MiB of RAM at gpa 0
 *	fg_vring_init(&g, &vr, 16);                  // rings inside that RAM
 *	virtio_mmio_init(&t, my_dev, &(struct virtio_mmio_params){
 *		.mem = &g.mem, .el = &el, .irq = &g.irq.line });
 *	fg_mmio_start(&t, features, &vr, 1, NULL);  // probe .. DRIVER_OK
 *	uint64_t buf = fg_alloc(&g, 512, 16);
 *	fg_vring_add(&vr, (struct fg_buf[]){ { buf, 512, true } }, 1);
 *	fg_mmio_kick(&t, 0);                         // QueueNotify = 0
 *	fg_el_poll(&el, 0);                          // runs queue_notify()
 *	fg_vring_get_used(&vr, &id, &len);           // what the device returned
 *
 * Everything here is test scaffolding: misuse (a gpa outside RAM, no room
 * left) fails the running cmocka test instead of returning an error.
 *
 * Note: cmocka.h defines a function-like macro fail(), so a device calling
 * its virtio_ctx callback in a test file must write (ctx->fail)(ctx).
 */
#ifndef VMM_TESTS_FAKE_GUEST_H
#define VMM_TESTS_FAKE_GUEST_H

#include <stdbool.h>
#include <stdint.h>

#include "devices/virtio/mmio.h"
#include "base/event_loop.h"
#include "base/guest_mem.h"
#include "base/irq.h"

/* ---- guest RAM and interrupt line ---- */

/* An irq_line that only counts. `pulses` counts rising edges (set(1) while
 * low, which is what irq_line_pulse does); `level` is the current level. */
struct fake_irq {
	struct irq_line line;
	unsigned int pulses;
	int level;
};

#define FG_MAX_EXTRA 2

struct fake_guest {
	struct guest_mem mem; /* hand &g.mem to devices */
	struct fake_irq irq;  /* hand &g.irq.line to the transport */
	uint8_t *ram;	      /* region 0: [0, ram_size) */
	uint64_t ram_size;
	uint64_t brk;		   /* fg_alloc's bump pointer (starts at 0x1000) */
	void *extra[FG_MAX_EXTRA]; /* regions added by fg_add_ram */
	unsigned int nextra;
};

/* malloc `ram_size` bytes of zeroed RAM at gpa 0 and set up the irq line.
 * Gpa 0..0x1000 is never handed out by fg_alloc, so a 0 gpa can mean "none". */
void fg_init(struct fake_guest *g, uint64_t ram_size);
/* Another zeroed region at [gpa, gpa+size) (tests of buffers that straddle a
 * region end: put it right after region 0). */
void fg_add_ram(struct fake_guest *g, uint64_t gpa, uint64_t size);
void fg_destroy(struct fake_guest *g);

/* Bump-allocate `size` bytes of region 0 aligned to `align` (a power of two);
 * the memory is zeroed. Returns the gpa. */
uint64_t fg_alloc(struct fake_guest *g, uint64_t size, uint64_t align);
/* Host pointer for [gpa, gpa+len); fails the test if that is not RAM. */
void *fg_ptr(struct fake_guest *g, uint64_t gpa, uint64_t len);
void fg_write(struct fake_guest *g, uint64_t gpa, const void *src, uint64_t len);
void fg_read(struct fake_guest *g, uint64_t gpa, void *dst, uint64_t len);

/* A fresh counting line (fg_init already does this for g->irq). */
void fake_irq_init(struct fake_irq *fi);

/* ---- split virtqueue builder (the driver's side of 2.7) ---- */

/* 2.7.5 descriptor flags */
#define FG_DESC_F_NEXT		1
#define FG_DESC_F_WRITE		2
#define FG_DESC_F_INDIRECT	4
/* 2.7.6 / 2.7.8 ring flags */
#define FG_AVAIL_F_NO_INTERRUPT 1
#define FG_USED_F_NO_NOTIFY	1

/* Entries of an indirect table that fg_vring_add_indirect can fill. */
#define FG_INDIRECT_MAX 64

struct fg_buf {
	uint64_t gpa;
	uint32_t len;
	bool writable; /* VIRTQ_DESC_F_WRITE: the device writes it */
};

struct fg_vring {
	struct fake_guest *g;
	uint16_t size;
	uint64_t desc, avail, used; /* gpas of the three parts */
	uint16_t avail_idx;	    /* driver's shadow of avail->idx */
	uint16_t last_used;	    /* next used->ring slot to read */
	uint16_t nfree;		    /* free descriptors */
	uint8_t *desc_busy;	    /* per descriptor: 1 while part of a chain in flight */
	uint16_t *next;		    /* per descriptor: the driver's own copy of its next link */
	uint16_t *chain_len;	    /* per head: descriptors in its chain (0: not a head) */
	uint64_t *indirect_tbl;	    /* per head: gpa of its indirect table, 0 = none yet */
};

/*
 * Allocate and zero the rings of a `size`-entry queue in region 0 with the
 * alignments of 2.7 (desc 16, avail 2, used 4; we page-align each like a
 * legacy driver, which is also fine). `size` must be a power of two.
 */
void fg_vring_init(struct fake_guest *g, struct fg_vring *vr, uint16_t size);
/* The same with rings at caller-chosen gpas (which may lie outside RAM: the
 * ring contents are then never written by the builder). */
void fg_vring_place(struct fake_guest *g, struct fg_vring *vr, uint16_t size, uint64_t desc,
		    uint64_t avail, uint64_t used);
void fg_vring_destroy(struct fg_vring *vr);

/*
 * Build a chain of `n` descriptors from free ones (linked with NEXT, WRITE for
 * writable buffers), put its head in the avail ring and publish avail->idx
 * (with the write barrier a driver uses, 2.7.13). Returns the head, or -1 if
 * there are not enough free descriptors. A head becomes free again when
 * fg_vring_get_used() returns it.
 */
int fg_vring_add(struct fg_vring *vr, const struct fg_buf *bufs, unsigned int n);
/* The same through an indirect table (2.7.5.3): one ring descriptor with
 * VIRTQ_DESC_F_INDIRECT pointing at a table of n <= FG_INDIRECT_MAX entries. */
int fg_vring_add_indirect(struct fg_vring *vr, const struct fg_buf *bufs, unsigned int n);

/* Raw access for malformed-ring tests: write descriptor `idx` (no bounds
 * check on idx beyond the ring itself), a descriptor of an indirect table at
 * `table` gpa, or the avail ring. fg_vring_publish puts `head` in the next
 * avail slot and bumps avail->idx; fg_vring_set_avail_idx writes the index
 * as is (e.g. to jump by more than the queue size). */
void fg_vring_set_desc(struct fg_vring *vr, uint16_t idx, uint64_t addr, uint32_t len,
		       uint16_t flags, uint16_t next);
void fg_table_set_desc(struct fake_guest *g, uint64_t table, unsigned int i, uint64_t addr,
		       uint32_t len, uint16_t flags, uint16_t next);
void fg_vring_publish(struct fg_vring *vr, uint16_t head);
void fg_vring_set_avail_idx(struct fg_vring *vr, uint16_t idx);

/* Avail-side flags and event index (2.7.7 / 2.7.10). */
void fg_vring_set_avail_flags(struct fg_vring *vr, uint16_t flags);
void fg_vring_set_used_event(struct fg_vring *vr, uint16_t v);
/* Used-side values the device writes. */
uint16_t fg_vring_used_flags(struct fg_vring *vr);
uint16_t fg_vring_used_idx(struct fg_vring *vr);
uint16_t fg_vring_avail_event(struct fg_vring *vr);

/* Next used entry, if the device published one past last_used: stores the
 * id and len, frees the chain's descriptors, returns true. */
bool fg_vring_get_used(struct fg_vring *vr, uint32_t *id, uint32_t *len);

/* ---- driving a virtio-mmio transport through its registers ---- */

/* One 4-byte register access through virtio_mmio_bus_ops, under t->lock as
 * the bus would take it. */
uint32_t fg_mmio_read32(struct virtio_mmio *t, uint64_t off);
void fg_mmio_write32(struct virtio_mmio *t, uint64_t off, uint32_t v);
/* Any-width access (config space tests, bad-width tests). */
void fg_mmio_read(struct virtio_mmio *t, uint64_t off, void *data, uint32_t len);
void fg_mmio_write(struct virtio_mmio *t, uint64_t off, const void *data, uint32_t len);

/* Linux virtio_mmio_probe: MagicValue "virt", Version 2, DeviceID != 0,
 * then status 0 (reset), ACKNOWLEDGE, DRIVER. Returns 0 or -ENODEV. */
int fg_mmio_probe(struct virtio_mmio *t);
/* Read DeviceFeatures (both words), write `want & offered` as
 * DriverFeatures (both words), set FEATURES_OK and read it back
 * (virtio_finalize_features). `*got` (may be NULL) gets what was written.
 * Returns 0, or -EIO if FEATURES_OK did not stick. `force` writes `want`
 * without masking by the offer (to test refusal). */
int fg_mmio_negotiate(struct virtio_mmio *t, uint64_t want, bool force, uint64_t *got);
/* vm_setup_vq: QueueSel, QueueReady must read 0, QueueNumMax >= vr->size,
 * QueueNum, the three addresses, QueueReady = 1. Returns 0, -ENOENT if
 * QueueNumMax is 0, -EINVAL if the queue is too big or already ready. */
int fg_mmio_setup_queue(struct virtio_mmio *t, unsigned int idx, const struct fg_vring *vr);
/* Set DRIVER_OK; returns the status read back. */
uint32_t fg_mmio_driver_ok(struct virtio_mmio *t);
/* probe + negotiate + setup of queues 0..nvr-1 + DRIVER_OK. Returns 0 if
 * the status then reads ACK|DRIVER|FEATURES_OK|DRIVER_OK without
 * DEVICE_NEEDS_RESET, else a negative errno. */
int fg_mmio_start(struct virtio_mmio *t, uint64_t want, struct fg_vring *vrs, unsigned int nvr,
		  uint64_t *got);
/* QueueNotify = idx (what a kick that misses the ioeventfd does). */
void fg_mmio_kick(struct virtio_mmio *t, unsigned int idx);
/* The interrupt handler's half: read InterruptStatus, write it to
 * InterruptACK, return it. */
uint32_t fg_mmio_ack_irq(struct virtio_mmio *t);

/* ---- the event loop, one step at a time ---- */

/* Wait up to `timeout_ms` (0: just poll) for the loop's sources and run the
 * handlers of those ready, once, on this thread (el_run would block).
 * Returns the number of handlers run (the stop eventfd is not one). */
int fg_el_poll(struct event_loop *el, int timeout_ms);

#endif /* VMM_TESTS_FAKE_GUEST_H */
