/* SPDX-License-Identifier: MIT */
/*
 * What a virtio device (blk, net) implements, independent of the transport.
 *
 * The device knows nothing of registers: the transport (mmio.c) owns the
 * register file, the device-status state machine and feature negotiation,
 * and calls these ops. The split follows Firecracker's VirtioDevice trait.
 *
 * Threads: ops marked "vCPU" run on a vCPU thread during an MMIO exit;
 * ops marked "loop" run on the event-loop thread. Both run with the
 * transport's lock held (struct virtio_mmio.lock), so a device never sees
 * two ops at once. Queues are only ever served on the event-loop thread.
 */
#ifndef VMM_DEVICES_VIRTIO_H
#define VMM_DEVICES_VIRTIO_H

#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>

#include "devices/virtio/queue.h"
#include "base/guest_mem.h"

/* virtio 1.2 section 2.1 device status bits */
#define VIRTIO_STATUS_ACKNOWLEDGE	 1U
#define VIRTIO_STATUS_DRIVER		 2U
#define VIRTIO_STATUS_DRIVER_OK		 4U
#define VIRTIO_STATUS_FEATURES_OK	 8U
#define VIRTIO_STATUS_DEVICE_NEEDS_RESET 64U
#define VIRTIO_STATUS_FAILED		 128U

/* 6 Reserved feature bits */
#define VIRTIO_F_RING_INDIRECT_DESC 28
#define VIRTIO_F_RING_EVENT_IDX	    29
#define VIRTIO_F_VERSION_1	    32

/* A feature bit number (VIRTIO_F_*, VIRTIO_NET_F_*, ...) as a mask of the
 * 64-bit feature words. */
#define VIRTIO_BIT(bit) (1ULL << (bit))

/* 5 Device types */
#define VIRTIO_ID_NET	  1
#define VIRTIO_ID_BLOCK	  2
#define VIRTIO_MAX_QUEUES 8

struct virtio_dev;

/*
 * Handed to the device by activate(): everything it needs to serve its
 * queues. Valid until reset() returns. `signal_used(dev_ctx, q)` raises the
 * used-buffer interrupt for queue q if virtq_should_notify() says the driver
 * wants one (the transport sets INTERRUPT_STATUS bit 0 and writes the irqfd).
 * `fail(dev_ctx)` marks the device DEVICE_NEEDS_RESET and raises the
 * configuration-change interrupt (virtio 1.2 section 2.1.2): the device must
 * then stop touching its queues until reset.
 * All three callbacks must be called with the transport lock (dev->lock)
 * held, which is already the case inside the ops below.
 *
 * `queues[i].ready` is false for a queue the driver did not set up; such a
 * queue pops nothing. A device that needs a queue can refuse in activate().
 */
struct virtio_ctx {
	const struct guest_mem *mem;
	struct virtq *queues; /* nqueues entries, set up and validated */
	unsigned int nqueues;
	uint64_t features; /* negotiated (driver-accepted) features */
	void (*signal_used)(struct virtio_ctx *ctx, struct virtq *q);
	void (*fail)(struct virtio_ctx *ctx);
	/* The device's config space changed: new ConfigGeneration and a
	 * configuration-change interrupt (2.4.2). */
	void (*config_changed)(struct virtio_ctx *ctx);
	void *transport; /* opaque to the device */
};

struct virtio_dev_ops {
	/* Features offered (device-type bits and reserved bits such as
	 * VIRTIO_F_RING_EVENT_IDX; the transport always adds VERSION_1). */
	uint64_t (*features)(struct virtio_dev *dev);
	/* Device configuration space (vCPU). `off`+`len` is inside
	 * [0, config_size); the transport checks that. */
	void (*config_read)(struct virtio_dev *dev, uint32_t off, void *data, uint32_t len);
	void (*config_write)(struct virtio_dev *dev, uint32_t off, const void *data, uint32_t len);
	/* DRIVER_OK was written (vCPU). Return 0, or a negative errno to
	 * have the transport set DEVICE_NEEDS_RESET. */
	int (*activate)(struct virtio_dev *dev, struct virtio_ctx *ctx);
	/* The driver kicked queue `qidx` (loop). */
	void (*queue_notify)(struct virtio_dev *dev, unsigned int qidx);
	/* Status was written 0 (vCPU), or the transport is destroyed: forget
	 * the queues and the ctx. Called on every reset, also when activate()
	 * never ran or failed (the driver writes 0 first when it probes), so
	 * it must be idempotent. I/O already submitted may still complete
	 * later; the device must then drop the result instead of touching the
	 * (now reset) queues. */
	void (*reset)(struct virtio_dev *dev);
};

/* Every device embeds one of these first. */
struct virtio_dev {
	const struct virtio_dev_ops *ops;
	uint32_t device_id;	 /* VIRTIO_ID_* */
	unsigned int nqueues;	 /* <= VIRTIO_MAX_QUEUES */
	uint16_t queue_max_size; /* QueueNumMax, a power of two <= 32768 */
	uint32_t config_size;	 /* bytes of device config space */
	const char *name;	 /* "virtio-blk vda", for log messages */
	/* Set by the transport: the lock every op runs under. A device's own
	 * event-loop handlers (backend completions) take it before touching
	 * queues or the ctx. */
	pthread_mutex_t *lock;
};

#endif /* VMM_DEVICES_VIRTIO_H */
