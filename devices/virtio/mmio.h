/* SPDX-License-Identifier: MIT */
/*
 * The virtio-mmio transport, version 2 (virtio 1.2 section 4.2.2): one 4 KiB
 * window of registers per device on the MMIO bus.
 *
 * Queue notifications (4.2.2 QueueNotify: a 4-byte write of the queue
 * index): for every queue the transport owns an eventfd that the event loop
 * watches, so the device's queue_notify() always runs on the event-loop
 * thread. The transport knows no KVM: it exposes each eventfd and the write
 * that signals it (virtio_mmio_get_notifier), and the device manager hands them
 * to the hypervisor (a KVM ioeventfd with datamatch = queue index), so a
 * kick never leaves the kernel (KVM-ON-THESE-HOSTS: ~1 us instead of
 * ~4.5 us). A QueueNotify write that does reach the register window (no
 * ioeventfd wired, as in the unit tests, or one that missed it) signals the
 * same eventfd from the vCPU thread.
 *
 * Interrupts go out through the irq_line handed in (an irqfd in the VMM).
 * The line is pulsed, so the interrupt must be declared edge-triggered.
 *
 * Lock: `lock` serialises register accesses (the bus takes it), kick
 * handling and the device's own handlers. Lock order: transport lock, then
 * anything the device or backend locks inside.
 */
#ifndef VMM_DEVICES_VIRTIO_MMIO_H
#define VMM_DEVICES_VIRTIO_MMIO_H

#include <pthread.h>
#include <stddef.h>
#include <stdint.h>

#include "devices/virtio/virtio.h"
#include "base/bus.h"
#include "base/event_loop.h"
#include "base/irq.h"
#include "base/log.h"

/* 4.2.2 register offsets */
#define VIRTIO_MMIO_MAGIC_VALUE		0x000 /* "virt" */
#define VIRTIO_MMIO_VERSION		0x004 /* 2 */
#define VIRTIO_MMIO_DEVICE_ID		0x008
#define VIRTIO_MMIO_VENDOR_ID		0x00c
#define VIRTIO_MMIO_DEVICE_FEATURES	0x010
#define VIRTIO_MMIO_DEVICE_FEATURES_SEL 0x014
#define VIRTIO_MMIO_DRIVER_FEATURES	0x020
#define VIRTIO_MMIO_DRIVER_FEATURES_SEL 0x024
#define VIRTIO_MMIO_QUEUE_SEL		0x030
#define VIRTIO_MMIO_QUEUE_NUM_MAX	0x034
#define VIRTIO_MMIO_QUEUE_NUM		0x038
#define VIRTIO_MMIO_QUEUE_READY		0x044
#define VIRTIO_MMIO_QUEUE_NOTIFY	0x050
#define VIRTIO_MMIO_INTERRUPT_STATUS	0x060
#define VIRTIO_MMIO_INTERRUPT_ACK	0x064
#define VIRTIO_MMIO_STATUS		0x070
#define VIRTIO_MMIO_QUEUE_DESC_LOW	0x080
#define VIRTIO_MMIO_QUEUE_DESC_HIGH	0x084
#define VIRTIO_MMIO_QUEUE_AVAIL_LOW	0x090
#define VIRTIO_MMIO_QUEUE_AVAIL_HIGH	0x094
#define VIRTIO_MMIO_QUEUE_USED_LOW	0x0a0
#define VIRTIO_MMIO_QUEUE_USED_HIGH	0x0a4
#define VIRTIO_MMIO_SHM_SEL		0x0ac
#define VIRTIO_MMIO_SHM_LEN_LOW		0x0b0
#define VIRTIO_MMIO_SHM_LEN_HIGH	0x0b4
#define VIRTIO_MMIO_SHM_BASE_LOW	0x0b8
#define VIRTIO_MMIO_SHM_BASE_HIGH	0x0bc
#define VIRTIO_MMIO_QUEUE_RESET		0x0c0
#define VIRTIO_MMIO_CONFIG_GENERATION	0x0fc
#define VIRTIO_MMIO_CONFIG		0x100
#define VIRTIO_MMIO_WINDOW_SIZE		0x1000

#define VIRTIO_MMIO_INT_VRING  1U /* used buffer notification */
#define VIRTIO_MMIO_INT_CONFIG 2U /* configuration change */

struct virtio_mmio_params {
	const struct guest_mem *mem;
	struct event_loop *el;
	struct irq_line *irq; /* pulsed for each interrupt */
	uint64_t base;	      /* guest-physical base of the window (the device manager's choice) */
};

struct virtio_mmio {
	pthread_mutex_t lock;
	struct virtio_dev *dev;
	struct virtio_mmio_params p;

	/* Register state (4.2.2). */
	uint32_t status;
	uint32_t device_features_sel, driver_features_sel;
	uint64_t driver_features;
	uint32_t queue_sel;
	uint32_t interrupt_status;
	uint32_t config_generation;
	struct virtq queues[VIRTIO_MAX_QUEUES];

	struct virtio_ctx ctx; /* handed to the device on DRIVER_OK */
	bool active;	       /* activate() succeeded; reset() not yet called */

	int kick_fd[VIRTIO_MAX_QUEUES];
	struct el_source kick_src[VIRTIO_MAX_QUEUES];

	/* DriverFeatures was written with a non-zero word past bit 63: no
	 * such feature exists, so FEATURES_OK must not stick. */
	bool features_bad;
	struct ratelimit rl; /* the guest's register mistakes */
};

/*
 * Set up the transport for `dev` (sets dev->lock), create the kick eventfds
 * and add them to the event loop. The caller then places the window on the
 * MMIO bus with virtio_mmio_register() and may wire the notifiers.
 */
int virtio_mmio_init(struct virtio_mmio *t, struct virtio_dev *dev,
		     const struct virtio_mmio_params *p) __attribute__((warn_unused_result));
/* Remove the kick sources from the event loop (call it with the loop
 * stopped), reset the device, close the eventfds. Whoever wired a notifier
 * to the hypervisor must unwire it first. */
void virtio_mmio_destroy(struct virtio_mmio *t);

/* Register the window (VIRTIO_MMIO_WINDOW_SIZE bytes at p->base) on the MMIO
 * bus, under t->lock. On failure, a one-line reason in err. */
int virtio_mmio_register(struct virtio_mmio *t, struct bus *mmio, char *err, size_t errlen)
	__attribute__((warn_unused_result));

/* What signals queue `qidx`: a guest write of `len` bytes of `value` at the
 * guest-physical `addr` (QueueNotify in this window) means "signal fd". */
struct virtio_mmio_notifier {
	int fd;
	uint64_t addr;
	uint32_t len;
	uint64_t value;
};

/* Queue `qidx`'s notifier; -ENOENT past the device's last queue, so
 * `for (q = 0; virtio_mmio_get_notifier(t, q, &n) == 0; q++)` visits them all.
 * The fd stays owned by the transport. */
int virtio_mmio_get_notifier(const struct virtio_mmio *t, unsigned int qidx,
			     struct virtio_mmio_notifier *n) __attribute__((warn_unused_result));

/*
 * The device's configuration changed (e.g. a disk was resized): bump
 * ConfigGeneration and, once the driver is up (DRIVER_OK), raise the
 * configuration-change interrupt (INT_CONFIG, 4.2.2 / 2.4.2). Call with
 * t->lock held (from a device op, or after taking dev->lock).
 */
void virtio_mmio_config_changed(struct virtio_mmio *t);

/*
 * The register window. Accesses to registers (offsets < 0x100) must be 4 bytes
 * wide and aligned; config space (0x100 + [0, config_size)) takes 1, 2, 4 or
 * 8 bytes. Anything else reads as 0 / is ignored, with a rate-limited warning.
 * The bus calls these with t->lock held.
 */
extern const struct bus_dev_ops virtio_mmio_bus_ops;

/*
 * The transport's state, for snapshots: the registers (4.2.2) and, per
 * queue, what the driver set up and where the device is in the rings.
 * Saved only with no request in flight (the caller drains them first:
 * -EBUSY otherwise); loaded into a transport that was just created, before
 * the guest runs: with DRIVER_OK it is activated as the driver's write of
 * DRIVER_OK would, then the ring positions are set. A bad state (the file
 * is hostile) ends as a bad driver's would: DEVICE_NEEDS_RESET.
 */
struct virtio_mmio_queue_state {
	uint32_t size, ready;
	uint64_t desc, avail, used;
	uint32_t last_avail, used_idx, signalled_used, signalled_used_valid;
};
struct virtio_mmio_state {
	uint32_t status, device_features_sel, driver_features_sel, queue_sel;
	uint32_t interrupt_status, config_generation, features_bad;
	uint64_t driver_features;
	struct virtio_mmio_queue_state q[VIRTIO_MAX_QUEUES];
};
int virtio_mmio_state_save(struct virtio_mmio *t, struct virtio_mmio_state *st, char *err,
			   size_t errlen) __attribute__((warn_unused_result));
void virtio_mmio_state_load(struct virtio_mmio *t, const struct virtio_mmio_state *st);

#endif /* VMM_DEVICES_VIRTIO_MMIO_H */
