/* SPDX-License-Identifier: MIT */
/*
 * The split virtqueue (virtio 1.2 section 2.7), as the device side sees it.
 *
 * Every value in the rings is hostile. virtq_pop() copies each descriptor out
 * of guest memory exactly once, validates it (index < size, length, chain
 * length cap, indirect-table bounds, no nested indirect, a head that is not
 * already in flight) and turns the buffers into host iovecs through
 * gm_slice(). Guest changes to descriptors after that are never seen.
 *
 * A queue is only touched by one thread at a time (the event-loop thread,
 * under the transport lock); it has no lock of its own.
 */
#ifndef VMM_DEVICES_VIRTIO_QUEUE_H
#define VMM_DEVICES_VIRTIO_QUEUE_H

#include <stdbool.h>
#include <stdint.h>
#include <sys/uio.h>

#include "base/guest_mem.h"
#include "base/log.h"

/* The longest descriptor chain we accept, counted in buffers (direct ones
 * plus those of the one indirect table a chain may end in). A direct chain
 * is also never longer than the queue size (2.7.13: "A driver MUST NOT create
 * a descriptor chain longer than the Queue Size"), which catches loops.
 * Linux builds at most seg_max + 2 buffers per virtio-blk request, so a
 * device must advertise seg_max <= VIRTQ_MAX_CHAIN - 2. */
#define VIRTQ_MAX_CHAIN 256
#define VIRTQ_MAX_SIZE	32768 /* 2.7: Queue Size is at most 32768 */

struct virtq {
	/* Set by the driver through the transport; checked by virtq_init(). */
	uint16_t size; /* a power of two, <= the device's queue_max_size */
	uint64_t desc_gpa, avail_gpa, used_gpa;
	bool ready;

	/* Device state. */
	const struct guest_mem *mem;
	bool event_idx;		 /* VIRTIO_F_RING_EVENT_IDX negotiated */
	bool indirect;		 /* VIRTIO_F_RING_INDIRECT_DESC negotiated */
	uint16_t last_avail;	 /* next avail ring slot to pop */
	uint16_t used_idx;	 /* our copy of used->idx */
	uint16_t signalled_used; /* used_idx at the last interrupt (event idx) */
	bool signalled_used_valid;
	uint8_t *inflight; /* one bit per head: popped and not yet pushed */
	unsigned int ninflight;
	bool broken;	     /* the driver broke the rules: serve nothing more */
	bool notify_enabled; /* virtq_set_notify state (true after init) */

	/* Host views of the rings; virtq_init checked that each ring lies in
	 * one RAM region, and regions never move while the VM runs. */
	uint8_t *desc_h;  /* struct virtq_desc[size] */
	uint8_t *avail_h; /* flags, idx, ring[size], used_event */
	uint8_t *used_h;  /* flags, idx, ring[size] of {id, len}, avail_event */

	const char *name; /* for warnings: the device's name, or NULL */
	struct ratelimit rl;
};

/* One popped chain. Device-readable ("out") segments come first in iov[],
 * then device-writable ("in") ones (2.7.4.2: readable before writable). */
struct virtq_elem {
	uint16_t head;
	unsigned int nout, nin;
	uint64_t out_len, in_len; /* byte totals of each part */
	struct iovec iov[VIRTQ_MAX_CHAIN];
};

/*
 * Check a queue the driver set up (sizes, alignment 2.7: desc 16, avail 2,
 * used 4; every ring inside guest RAM) and prepare it: event_idx/indirect
 * from the negotiated features, indices zero. Returns 0, -EINVAL, or
 * -ENOMEM. Reads the register fields (size, *_gpa) and `name` (set it
 * before, for warnings; may be NULL); everything else is reinitialised.
 */
int virtq_init(struct virtq *q, const struct guest_mem *mem, uint64_t features)
	__attribute__((warn_unused_result));
/* Free what virtq_init allocated and forget everything (queue reset). */
void virtq_destroy(struct virtq *q);

/*
 * Pop the next available chain into `e`. Returns 1 if one was popped, 0 if
 * the ring is empty (or the queue was never set up), -EINVAL if the driver
 * broke the rules (the queue is then marked broken, a rate-limited warning is
 * logged, and the caller should fail the device: virtio_ctx.fail()); a broken
 * queue keeps returning -EINVAL. `e` is only valid on 1.
 *
 * After a kick, pop until 0: with EVENT_IDX the driver only kicks again once
 * we have caught up (avail_event is published when the ring is found empty).
 */
int virtq_pop(struct virtq *q, struct virtq_elem *e) __attribute__((warn_unused_result));

/* Return a chain: used ring entry {head, len}, then publish used->idx
 * (with the write barrier the spec asks for in 2.7.8). -EINVAL if head is
 * not in flight (a device bug, not the guest's). `len` is the number of bytes
 * the device wrote into the chain's writable buffers (2.7.8.1). Allowed on a
 * broken queue, so in-flight requests can still be completed. */
int virtq_push(struct virtq *q, uint16_t head, uint32_t len) __attribute__((warn_unused_result));

/* After one or more pushes: does the driver want an interrupt?
 * (VRING_AVAIL_F_NO_INTERRUPT, or used_event with EVENT_IDX, 2.7.7.2.) */
bool virtq_should_notify(struct virtq *q);

/* Ask the driver not to kick (true) or to kick again (false) while we are
 * busy draining the ring (VRING_USED_F_NO_NOTIFY / avail_event, 2.7.10).
 * After re-enabling, check virtq_has_avail() again to close the race. */
void virtq_set_notify(struct virtq *q, bool enable);
bool virtq_has_avail(struct virtq *q);

/* Copy helpers over an element's segments: from the readable part starting
 * at byte `off`, and into the writable part starting at byte `off`.
 * Return the number of bytes copied (short at the end of the part). Over
 * any other list of iovecs: iov_to_buf/iov_from_buf (base/iov.h). */
size_t virtq_elem_read(const struct virtq_elem *e, size_t off, void *dst, size_t len);
size_t virtq_elem_write(const struct virtq_elem *e, size_t off, const void *src, size_t len);

#endif /* VMM_DEVICES_VIRTIO_QUEUE_H */
