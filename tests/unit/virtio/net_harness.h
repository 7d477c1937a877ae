/* SPDX-License-Identifier: MIT */
/*
 * The virtio-net tests' harness (test_net_tx.c, test_net_rx.c): a fake
 * backend that records what is sent, serves queued frames, refuses sends
 * with -EAGAIN on demand and logs rx_enable/set_offloads calls, and a
 * "world" of event loop, fake guest, device and mmio transport. The tests
 * play the backend's event-loop handlers by calling nb.notify() themselves
 * (nh_fnb_report), as a real backend does from its own handlers.
 *
 * Test scaffolding: misuse fails the running cmocka test.
 */
#ifndef VMM_TESTS_NET_HARNESS_H
#define VMM_TESTS_NET_HARNESS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "devices/virtio/mmio.h"
#include "devices/virtio/net.h"
#include "tests/unit/virtio/fake_guest.h"

#define HDR	 12
#define MAX_SENT 512
#define MAX_RXQ	 512
#define BASE_FEAT                                                        \
	(VIRTIO_BIT(VIRTIO_F_VERSION_1) | VIRTIO_BIT(VIRTIO_NET_F_MAC) | \
	 VIRTIO_BIT(VIRTIO_NET_F_STATUS) | VIRTIO_BIT(VIRTIO_F_RING_EVENT_IDX))
#define OFFLOAD_FEAT                                                                 \
	(VIRTIO_BIT(VIRTIO_NET_F_CSUM) | VIRTIO_BIT(VIRTIO_NET_F_GUEST_CSUM) |       \
	 VIRTIO_BIT(VIRTIO_NET_F_GUEST_TSO4) | VIRTIO_BIT(VIRTIO_NET_F_GUEST_TSO6) | \
	 VIRTIO_BIT(VIRTIO_NET_F_GUEST_ECN) | VIRTIO_BIT(VIRTIO_NET_F_HOST_TSO4) |   \
	 VIRTIO_BIT(VIRTIO_NET_F_HOST_TSO6) | VIRTIO_BIT(VIRTIO_NET_F_HOST_ECN))

/* ---------------------------------------------------------------------- */
/* The fake backend                                                        */

struct fnb {
	struct netbe nb;
	uint8_t *sent[MAX_SENT];
	size_t sent_len[MAX_SENT];
	unsigned int nsent, send_calls;
	bool block; /* send() -> -EAGAIN */
	uint8_t *rxq[MAX_RXQ];
	size_t rxq_len[MAX_RXQ];
	unsigned int rx_head, rx_tail;
	bool rx_enabled;
	unsigned int rx_disables; /* rx_enable(false) calls */
	unsigned int offloads;
	int offload_calls;
	/* called after each accepted frame / each frame handed out (the
	 * round-cap tests refill the rings, as a running guest would) */
	void (*on_send)(struct fnb *f);
	void (*on_recv)(struct fnb *f);
	void *opaque;
};

/* An idle backend offering `offloads`, vnet header of vnet_hdr_len (0: bare). */
void nh_fnb_init(struct fnb *f, unsigned int vnet_hdr_len, unsigned int offloads);
/* Queue a frame (bytes exactly as recv() hands them over). */
void nh_fnb_queue(struct fnb *f, const void *frame, size_t len);
/* What a backend's handler does when frames wait and rx is enabled. */
void nh_fnb_report(struct fnb *f, unsigned int events);

/* ---------------------------------------------------------------------- */
/* The device through the transport                                       */

struct world {
	struct event_loop el;
	struct fake_guest g;
	struct fnb f;
	struct vnet *n;
	struct virtio_mmio t;
	struct fg_vring vr[2]; /* receiveq, transmitq */
	uint64_t features;
};

/* Run every ready loop handler until none is left. */
void nh_run_loop(struct world *w);
/* Rings of qsize, probe .. DRIVER_OK accepting `want`, then run the loop. */
void nh_world_start(struct world *w, uint64_t want, uint16_t qsize);
/* Loop, guest, backend, device and transport; started if qsize != 0. */
void nh_world_init(struct world *w, unsigned int vnet_hdr_len, unsigned int offloads, uint64_t want,
		   uint16_t qsize);
/* Tear it all down; asserts the device let go of the backend. */
void nh_world_fini(struct world *w);
/* Whether the device set DEVICE_NEEDS_RESET. */
bool nh_needs_reset(struct world *w);
/* Notify queue q and run the loop. */
void nh_kick(struct world *w, unsigned int q);
/* A deterministic pattern of len bytes, different per seed. */
void nh_make_frame(uint8_t *p, size_t len, unsigned int seed);
/* Header + frame as `nseg` readable descriptors on the transmitq; the head. */
int nh_tx_add(struct world *w, const struct virtio_net_hdr_v1 *h, const uint8_t *frame, size_t len,
	      unsigned int nseg, bool indirect);
/* One writable rx chain of `len` bytes; returns its gpa. */
uint64_t nh_rx_add(struct world *w, uint32_t len);
/* The next used entry exists and has length want_len. */
void nh_expect_used(struct fg_vring *vr, uint32_t want_len);
/* No used entry is waiting. */
void nh_expect_no_used(struct fg_vring *vr);

#endif
