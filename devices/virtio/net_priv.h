/* SPDX-License-Identifier: MIT */
/*
 * The virtio-net device's internals (prefix vnet_), shared by net.c (ops,
 * backend sync, tx, lifetime) and net_rx.c (the receive path). Not for
 * anyone else: the device's interface is devices/virtio/net.h.
 */
#ifndef DEVICES_VIRTIO_NET_PRIV_H
#define DEVICES_VIRTIO_NET_PRIV_H

#include <stdbool.h>
#include <stdint.h>

#include "devices/virtio/net.h"
#include "base/log.h"

#define VNET_QUEUE_SIZE	 256 /* QueueNumMax of both queues */
#define VNET_HDR_LEN	 12  /* sizeof(struct virtio_net_hdr_v1): always, with VERSION_1 */
#define VNET_CONFIG_SIZE 10  /* mac[6], status, max_virtqueue_pairs (no mtu) */
/* Frames (tx) or popped chains (rx) served per round before we yield the
 * loop thread and continue from the wake eventfd. */
#define VNET_ROUND_MAX	 256
/* The rx buffer: a bare backend's frame is read VNET_HDR_LEN bytes in, so
 * the header we make up sits in front of it; recv() is always given
 * NETBE_FRAME_MAX bytes, the size that never drops (net.h). */
#define VNET_RXBUF_SIZE	 (NETBE_FRAME_MAX + VNET_HDR_LEN)

struct vnet_held {
	uint16_t head;
	uint32_t len;
};

struct vnet {
	struct virtio_dev dev; /* first: virtio_dev -> vnet */
	struct netbe *nb;
	struct event_loop *el;
	int wake_fd;
	struct el_source wake_src;
	char *name;
	uint8_t cfg[VNET_CONFIG_SIZE]; /* constant after create */
	uint64_t offered;

	/* Under dev.lock. */
	struct virtio_ctx *ctx; /* NULL unless activated (and not reset) */
	bool failed;		/* ctx->fail() called: leave the queues alone */
	bool mrg;		/* VIRTIO_NET_F_MRG_RXBUF negotiated */
	/* Backend state as we last set it (loop thread). */
	bool be_rx;
	unsigned int be_offloads;
	/* tx */
	bool tx_held;	 /* tx_elem was popped and not yet sent */
	bool tx_blocked; /* send() said -EAGAIN: wait for NETBE_EV_TX */
	bool tx_resched; /* round cap hit: continue from vnet_wake */
	bool tx_signal;	 /* pushed since the last signal_used */
	struct virtq_elem tx_elem;
	struct iovec tx_iov[VIRTQ_MAX_CHAIN];
	/* rx */
	bool rx_pending; /* a frame waits in rx_buf */
	bool rx_stalled; /* ... for guest buffers: backend rx disabled */
	bool rx_resched;
	bool rx_signal;
	uint8_t *rx_buf; /* VNET_RXBUF_SIZE bytes: header + frame at rx_buf */
	size_t rx_len;	 /* header + frame */
	size_t rx_done;	 /* bytes already copied into held chains */
	/* MRG_RXBUF: chains filled for the pending frame but not yet pushed
	 * (the frame does not fit yet); at most one per head in flight. */
	struct vnet_held held[VNET_QUEUE_SIZE];
	unsigned int nheld;
	uint8_t *num_buffers[2]; /* bytes 10, 11 of the first held chain */
	struct virtq_elem rx_elem;

	struct ratelimit rl_guest, rl_cfg, rl_be;
	uint64_t tx_frames, tx_dropped, tx_errors, rx_frames, rx_dropped;
};

/* The feature bits that allow each offload in one direction (5.1.3). */
struct vnet_hdr_rule {
	int csum, tso4, tso6, ecn;
};
extern const struct vnet_hdr_rule vnet_tx_rule, vnet_rx_rule;

/* net.c */
bool vnet_live(const struct vnet *n);
void vnet_fail(struct vnet *n, const char *why);
void vnet_kick_self(struct vnet *n);
bool vnet_hdr_allowed(const struct virtio_net_hdr_v1 *h, uint64_t f, const struct vnet_hdr_rule *r);

/* net_rx.c: move frames from the backend to the receiveq (loop thread,
 * under dev.lock, with the device live). */
void vnet_rx(struct vnet *n);

#endif /* DEVICES_VIRTIO_NET_PRIV_H */
