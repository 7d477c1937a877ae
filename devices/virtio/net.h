/* SPDX-License-Identifier: MIT */
/*
 * The virtio-net device (virtio 1.2 section 5.1; prefix vnet_): the guest's
 * NIC, moving frames between its virtqueues and a net backend (prefix
 * netbe_, devices/net/net.h: slirp or tap), which it does not own.
 *
 * Queues: 0 receiveq, 1 transmitq (no control queue, no multiqueue).
 * Features: MAC, STATUS (link up), MRG_RXBUF, EVENT_IDX, INDIRECT_DESC;
 * CSUM/GUEST_CSUM/TSO/ECN only when the backend has a vnet header and says
 * it can take them (tap), never for slirp.
 *
 * rx: a frame is read from the backend into a device-owned buffer and copied
 * into one guest chain (or several with MRG_RXBUF, num_buffers set). With no
 * guest buffer the frame waits and the backend's rx is disabled until the
 * driver adds buffers (a receiveq kick). tx: each chain (header + frame) goes
 * to the backend; on -EAGAIN the chain waits for NETBE_EV_TX. A round serves
 * a bounded number of frames, then yields the loop (and re-arms itself).
 */
#ifndef DEVICES_VIRTIO_NET_H
#define DEVICES_VIRTIO_NET_H

#include <stdint.h>

#include "devices/net/net.h"
#include "devices/virtio/virtio.h"
#include "base/event_loop.h"

/* 5.1.3 Feature bits */
#define VIRTIO_NET_F_CSUM	0
#define VIRTIO_NET_F_GUEST_CSUM 1
#define VIRTIO_NET_F_MAC	5
#define VIRTIO_NET_F_GUEST_TSO4 7
#define VIRTIO_NET_F_GUEST_TSO6 8
#define VIRTIO_NET_F_GUEST_ECN	9
#define VIRTIO_NET_F_HOST_TSO4	11
#define VIRTIO_NET_F_HOST_TSO6	12
#define VIRTIO_NET_F_HOST_ECN	13
#define VIRTIO_NET_F_MRG_RXBUF	15
#define VIRTIO_NET_F_STATUS	16

#define VIRTIO_NET_S_LINK_UP 1

#define VNET_RXQ 0
#define VNET_TXQ 1

/* 5.1.6 struct virtio_net_hdr with VERSION_1 (num_buffers always there). */
struct virtio_net_hdr_v1 {
	uint8_t flags; /* VIRTIO_NET_HDR_F_* */
	uint8_t gso_type;
	uint16_t hdr_len;
	uint16_t gso_size;
	uint16_t csum_start;
	uint16_t csum_offset;
	uint16_t num_buffers;
} __attribute__((packed));
#define VIRTIO_NET_HDR_F_NEEDS_CSUM 1
#define VIRTIO_NET_HDR_F_DATA_VALID 2
#define VIRTIO_NET_HDR_GSO_NONE	    0
#define VIRTIO_NET_HDR_GSO_TCPV4    1
#define VIRTIO_NET_HDR_GSO_UDP	    3
#define VIRTIO_NET_HDR_GSO_TCPV6    4
#define VIRTIO_NET_HDR_GSO_ECN	    0x80

struct vnet;

struct vnet_params {
	struct netbe *backend; /* not owned: destroyed by the caller after */
	uint8_t mac[6];
	struct event_loop *el; /* the device's own wake-up eventfd lives here */
	const char *name;      /* "virtio-net eth0" */
};

int vnet_create(const struct vnet_params *p, struct vnet **out) __attribute__((warn_unused_result));
/* The device to hand to the transport (virtio_mmio_init). */
struct virtio_dev *vnet_dev(struct vnet *n);
/* After the transport is destroyed and with the event loop stopped. */
void vnet_destroy(struct vnet *n);

#endif /* DEVICES_VIRTIO_NET_H */
