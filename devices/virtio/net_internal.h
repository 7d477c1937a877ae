/* SPDX-License-Identifier: MIT */
/*
 * virtio-net internals shared by net.c (ops, backend sync, tx, lifetime)
 * and net_rx.c (the receive path). Not for anyone else: the device's
 * interface is devices/virtio/net.h.
 */
#ifndef VMM_DEVICES_VIRTIO_NET_INTERNAL_H
#define VMM_DEVICES_VIRTIO_NET_INTERNAL_H

#include <stdbool.h>
#include <stdint.h>

#include "devices/virtio/net.h"
#include "base/log.h"

#define NET_QUEUE_SIZE	256 /* QueueNumMax of both queues */
#define NET_HDR_LEN	12  /* sizeof(struct virtio_net_hdr_v1): always, with VERSION_1 */
#define NET_CONFIG_SIZE 10  /* mac[6], status, max_virtqueue_pairs (no mtu) */
/* Frames (tx) or popped chains (rx) served per round before we yield the
 * loop thread and continue from the wake eventfd. */
#define NET_ROUND_MAX	256
/* The rx buffer: a bare backend's frame is read NET_HDR_LEN bytes in, so
 * the header we make up sits in front of it; recv() is always given
 * NETBE_FRAME_MAX bytes, the size that never drops (net.h). */
#define NET_RXBUF_SIZE	(NETBE_FRAME_MAX + NET_HDR_LEN)

#define F(bit) (1ULL << (bit))

struct net_held {
	uint16_t head;
	uint32_t len;
};

struct virtio_net {
	struct virtio_dev dev; /* first: virtio_dev -> virtio_net */
	struct netbe *nb;
	struct event_loop *el;
	int wake_fd;
	struct el_source wake_src;
	char *name;
	uint8_t cfg[NET_CONFIG_SIZE]; /* constant after create */
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
	bool tx_resched; /* round cap hit: continue from net_wake */
	bool tx_signal;	 /* pushed since the last signal_used */
	struct virtq_elem tx_elem;
	struct iovec tx_iov[VIRTQ_MAX_CHAIN];
	/* rx */
	bool rx_pending; /* a frame waits in rx_buf */
	bool rx_stalled; /* ... for guest buffers: backend rx disabled */
	bool rx_resched;
	bool rx_signal;
	uint8_t *rx_buf; /* NET_RXBUF_SIZE bytes: header + frame at rx_buf */
	size_t rx_len;	 /* header + frame */
	size_t rx_done;	 /* bytes already copied into held chains */
	/* MRG_RXBUF: chains filled for the pending frame but not yet pushed
	 * (the frame does not fit yet); at most one per head in flight. */
	struct net_held held[NET_QUEUE_SIZE];
	unsigned int nheld;
	uint8_t *num_buffers[2]; /* bytes 10, 11 of the first held chain */
	struct virtq_elem rx_elem;

	struct ratelimit rl_guest, rl_cfg, rl_be;
	uint64_t tx_frames, tx_dropped, tx_errors, rx_frames, rx_dropped;
};

/* The feature bits that allow each offload in one direction (5.1.3). */
struct net_hdr_rule {
	int csum, tso4, tso6, ecn;
};
extern const struct net_hdr_rule net_tx_rule, net_rx_rule;

/* net.c */
bool net_live(const struct virtio_net *n);
void net_fail(struct virtio_net *n, const char *why);
void net_kick_self(struct virtio_net *n);
bool net_hdr_allowed(const struct virtio_net_hdr_v1 *h, uint64_t f, const struct net_hdr_rule *r);

/* net_rx.c: move frames from the backend to the receiveq (loop thread,
 * under dev.lock, with the device live). */
void net_rx(struct virtio_net *n);

#endif /* VMM_DEVICES_VIRTIO_NET_INTERNAL_H */
