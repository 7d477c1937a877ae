/* SPDX-License-Identifier: MIT */
/*
 * A minimal virtio driver for the test guests: the virtio-mmio v2 transport
 * (virtio 1.2 section 4.2.2) and the split virtqueue (section 2.7), driver
 * side. Nothing here knows a device type: virtio-blk lives in blk.c, and a
 * virtio-net guest can reuse all of this.
 *
 * The guests poll: they never take interrupts (they run with interrupts
 * off), they read the used ring until an entry shows up and acknowledge
 * InterruptStatus themselves. All ring memory is supplied by the caller
 * (static arrays in the guest's .bss: guest RAM is identity mapped, so a
 * pointer is also the guest-physical address the device is given).
 *
 * Ring-0 guest code is interpreted on PVM hosts (~0.7 us per instruction),
 * so the fast paths (vq_add, vq_kick, vq_get_used) are kept short.
 */
#ifndef GUEST_VIRTIO_H
#define GUEST_VIRTIO_H

#include <stdbool.h>
#include <stdint.h>

#include "guest.h"

/* ---- virtio-mmio registers (4.2.2) ---- */
#define VIO_MAGIC_VALUE		0x000 /* 0x74726976, "virt" little-endian */
#define VIO_VERSION		0x004 /* 2 for the modern (non-legacy) layout */
#define VIO_DEVICE_ID		0x008
#define VIO_VENDOR_ID		0x00c
#define VIO_DEVICE_FEATURES	0x010
#define VIO_DEVICE_FEATURES_SEL 0x014
#define VIO_DRIVER_FEATURES	0x020
#define VIO_DRIVER_FEATURES_SEL 0x024
#define VIO_QUEUE_SEL		0x030
#define VIO_QUEUE_NUM_MAX	0x034
#define VIO_QUEUE_NUM		0x038
#define VIO_QUEUE_READY		0x044
#define VIO_QUEUE_NOTIFY	0x050
#define VIO_INTERRUPT_STATUS	0x060
#define VIO_INTERRUPT_ACK	0x064
#define VIO_STATUS		0x070
#define VIO_QUEUE_DESC_LOW	0x080
#define VIO_QUEUE_DESC_HIGH	0x084
#define VIO_QUEUE_AVAIL_LOW	0x090
#define VIO_QUEUE_AVAIL_HIGH	0x094
#define VIO_QUEUE_USED_LOW	0x0a0
#define VIO_QUEUE_USED_HIGH	0x0a4
#define VIO_CONFIG_GENERATION	0x0fc
#define VIO_CONFIG		0x100

#define VIO_MAGIC 0x74726976U

#define VIO_INT_VRING  1U /* InterruptStatus: used buffer notification */
#define VIO_INT_CONFIG 2U /* InterruptStatus: configuration change */

/* Device status bits (2.1) */
#define VIO_S_ACKNOWLEDGE	 1U
#define VIO_S_DRIVER		 2U
#define VIO_S_DRIVER_OK		 4U
#define VIO_S_FEATURES_OK	 8U
#define VIO_S_DEVICE_NEEDS_RESET 64U
#define VIO_S_FAILED		 128U

/* Reserved feature bits (6) */
#define VIO_F_INDIRECT_DESC 28
#define VIO_F_EVENT_IDX	    29
#define VIO_F_VERSION_1	    32

#define VIO_BIT(n) (1ULL << (n))

/* ---- split virtqueue layout (2.7) ---- */
#define VRING_DESC_F_NEXT	   1
#define VRING_DESC_F_WRITE	   2
#define VRING_DESC_F_INDIRECT	   4
#define VRING_AVAIL_F_NO_INTERRUPT 1

struct vring_desc {
	uint64_t addr;
	uint32_t len;
	uint16_t flags;
	uint16_t next;
};

struct vring_used_elem {
	uint32_t id;
	uint32_t len;
};

/* The largest queue the guests use; the device may offer fewer (QueueNumMax). */
#define VQ_MAX_SIZE 256

/*
 * The memory of one queue of up to VQ_MAX_SIZE entries, laid out for the
 * alignments of 2.7 (descriptor table 16, available ring 2, used ring 4).
 * avail_ring[size] is used_event and used_ring[size] (as a u16) is
 * avail_event when VIRTIO_F_EVENT_IDX is negotiated (2.7.6, 2.7.8): they
 * follow the first `size` entries, so both move with a smaller queue.
 */
struct vq_mem {
	struct vring_desc desc[VQ_MAX_SIZE];
	struct {
		uint16_t flags;
		uint16_t idx;
		uint16_t ring[VQ_MAX_SIZE + 1];
	} avail __attribute__((aligned(4)));
	struct {
		uint16_t flags;
		uint16_t idx;
		struct vring_used_elem ring[VQ_MAX_SIZE];
		uint16_t avail_event; /* room for it; it is at ring[size] */
	} used __attribute__((aligned(4)));
} __attribute__((aligned(4096)));

/* A buffer of a request: guest-physical address and length. */
struct vio_buf {
	uint64_t addr;
	uint32_t len;
};

struct vio_dev;

struct vq {
	struct vio_dev *dev;
	struct vq_mem *mem;
	uint16_t index; /* queue number, written to QueueNotify */
	uint16_t size;
	uint16_t free_head; /* first free descriptor (free list through .next) */
	uint16_t num_free;
	uint16_t avail_idx;  /* our shadow of avail.idx */
	uint16_t kicked_idx; /* avail_idx at the last notification decision */
	uint16_t last_used;  /* next used ring entry to consume */
	bool event_idx;
	bool indirect;
	/* Length of the chain at each head, to return its descriptors. */
	uint16_t chain_len[VQ_MAX_SIZE];
};

struct vio_dev {
	uint64_t base; /* guest-physical base of the virtio-mmio window */
	uint32_t device_id;
	uint64_t device_features;
	uint64_t features;  /* negotiated */
	uint32_t ints_seen; /* InterruptStatus bits acknowledged so far (OR) */
};

/* ---- barriers ----
 * x86 is TSO: stores are seen in program order and loads are not reordered
 * with older loads, so the ring protocol's write-write and read-read
 * barriers (2.7.7, 2.7.13.3.1) only have to stop the compiler. The one
 * ordering x86 does not give is a load passing an older store (store
 * buffer), which event-index suppression needs: "publish avail.idx, then
 * read avail_event" and "publish used_event, then re-read used.idx" use
 * vio_mb() (mfence), as Linux's virtio_mb() does. */
static inline void vio_barrier(void)
{
	__asm__ volatile("" ::: "memory");
}

static inline void vio_mb(void)
{
	__asm__ volatile("mfence" ::: "memory");
}

/* ---- register access ---- */
static inline uint32_t vio_read32(const struct vio_dev *d, uint32_t off)
{
	return mmio_read32(d->base + off);
}

static inline void vio_write32(const struct vio_dev *d, uint32_t off, uint32_t v)
{
	mmio_write32(d->base + off, v);
}

static inline uint32_t vio_status(const struct vio_dev *d)
{
	return vio_read32(d, VIO_STATUS);
}

/*
 * Is there a virtio-mmio v2 device at `base`? Returns its DeviceID, 0 for a
 * window without a device behind it (DeviceID 0, 4.2.2.2), or -1 when the
 * window has no "virt" magic (unclaimed MMIO reads as all-ones) or is not
 * version 2.
 */
int vio_probe(uint64_t base);

/*
 * Reset the device and negotiate: ACKNOWLEDGE, DRIVER, read the offered
 * features, write offered & `wanted`, FEATURES_OK, and check the device
 * kept FEATURES_OK (3.1.1). `required` bits must be offered. Returns 0, or
 * GS_BAD_CONFIG / GS_TIMEOUT with the reason printed.
 */
int vio_init(struct vio_dev *d, uint64_t base, uint64_t wanted, uint64_t required);

/* Write 0 to Status and wait until it reads back 0 (4.2.3.1.1). */
int vio_reset(struct vio_dev *d);

/* Set the DRIVER_OK status bit: the device is live. */
void vio_driver_ok(struct vio_dev *d);

/*
 * Set up queue `index` with `size` entries (a power of two, capped by
 * QueueNumMax) in `mem`, and mark it ready. Event index and indirect
 * descriptors follow the negotiated features. Returns 0 or GS_BAD_CONFIG.
 */
int vq_setup(struct vio_dev *d, struct vq *q, uint16_t index, uint16_t size, struct vq_mem *mem);

/* Device configuration space (2.5; 4.2.2.2: fields are accessed at their
 * own width, 64-bit ones as two 32-bit reads under a ConfigGeneration
 * check). */
uint8_t vio_config8(const struct vio_dev *d, uint32_t off);
uint16_t vio_config16(const struct vio_dev *d, uint32_t off);
uint32_t vio_config32(const struct vio_dev *d, uint32_t off);
uint64_t vio_config64(const struct vio_dev *d, uint32_t off);

/* Read InterruptStatus and acknowledge what is set; returns the bits. */
uint32_t vio_ack_interrupt(struct vio_dev *d);

/*
 * Add a chain of `nout` device-readable buffers followed by `nin`
 * device-writable ones (2.7.13.1) to the available ring, not yet visible to
 * the device (vq_kick publishes). With `indirect` (an array of nout + nin
 * descriptors the caller keeps alive until the chain is used) and the
 * feature negotiated, the chain takes one ring descriptor (2.7.5.3).
 * Returns the head (>= 0), or -1 if the ring has too few free descriptors.
 */
int vq_add(struct vq *q, const struct vio_buf *bufs, unsigned int nout, unsigned int nin,
	   struct vring_desc *indirect);

/* Publish what vq_add queued (avail.idx) and notify the device unless it
 * asked not to be (VRING_USED_F_NO_NOTIFY or avail_event, 2.7.10). */
void vq_kick(struct vq *q);

/* Take the next used entry: returns 1 and fills *head and *len, or 0 if the
 * device has not used anything new. The chain's descriptors are freed. */
int vq_get_used(struct vq *q, uint16_t *head, uint32_t *len);

/*
 * Poll for the next used entry for up to `ms` milliseconds (TSC-timed,
 * assuming at most 5 GHz, so the wait may be longer but never shorter).
 * Returns 1 or 0 like vq_get_used.
 */
int vq_wait_used(struct vq *q, uint16_t *head, uint32_t *len, uint32_t ms);

/* Ask for (or stop asking for) used-buffer notifications: avail.flags
 * without EVENT_IDX, used_event with it (2.7.7). Polling guests switch them
 * off in benchmarks: an interrupt nobody takes only costs the device. */
void vq_enable_interrupts(struct vq *q);
void vq_disable_interrupts(struct vq *q);

/* Wait up to `ms` milliseconds until (Status & mask) != 0; returns the last
 * Status read. */
uint32_t vio_wait_status(struct vio_dev *d, uint32_t mask, uint32_t ms);

#endif /* GUEST_VIRTIO_H */
