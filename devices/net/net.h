/* SPDX-License-Identifier: MIT */
/*
 * Net backends (prefix netbe_): where a virtio-net device's Ethernet frames
 * come from and go to (user-mode NAT through libslirp in slirp.c, a host tap
 * device in tap.c). Not to be confused with the virtio-net device itself
 * (prefix vnet_, devices/virtio/net.h), which drives one of these.
 *
 * A backend knows nothing of virtio (DESIGN.md: backends never include
 * virtio headers). The only virtio-shaped thing it may see is the 12-byte
 * struct virtio_net_hdr_v1 in front of each frame when vnet_hdr_len is 12:
 * that is also the kernel's tap layout (IFF_VNET_HDR, TUNSETVNETHDRSZ), so
 * the device hands it through untouched and the kernel does the offloads.
 *
 * Threads: everything here runs on the event-loop thread. The device calls
 * the ops (with its transport lock held); the backend calls notify() only
 * from its own event-loop handlers, never from inside an op, so the device
 * can take its lock in notify() without deadlocking (slirp, for one, answers
 * an ARP request synchronously inside send(): it queues the reply and
 * reports it from a handler).
 *
 * Flow control, both ways, without blocking the loop:
 *   rx: the device calls rx_enable(true) while it has guest buffers. While
 *       rx is disabled the backend stops reading its sources (tap: the fd
 *       leaves the epoll set, so the kernel's tap queue fills; slirp: host
 *       sockets are not read, so TCP peers see a closed window) and does not
 *       report NETBE_EV_RX. When enabled and frames are waiting, it reports
 *       NETBE_EV_RX; the device then calls recv() until -EAGAIN.
 *   tx: send() returns -EAGAIN when the backend cannot take a frame now; the
 *       device keeps the frame and waits for NETBE_EV_TX.
 *
 * Errors: a backend's create function fills an error buffer with one line
 * that says what failed ("creating tap0 needs CAP_NET_ADMIN ..."). It does
 * not know the command line, so the flag that asked for it ("--net tap: ")
 * is put in front by the top layer (vmm/vm_virtio.c), which logs it.
 */
#ifndef DEVICES_NET_NET_H
#define DEVICES_NET_NET_H

#include <errno.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>
#include <sys/uio.h>

/* The largest frame a backend delivers or accepts, virtio-net header
 * included: a 64 KiB TSO/GSO super-frame plus Ethernet/VLAN headers. */
#define NETBE_FRAME_MAX (65536 + 14 + 4 + 12)
/* The smallest Ethernet frame a backend accepts (destination, source,
 * EtherType), header excluded. */
#define NETBE_FRAME_MIN 14

/* Offloads a backend can take (set_offloads): frames may carry partial
 * checksums (virtio_net_hdr NEEDS_CSUM) and be TSO/ECN super-frames. They
 * map to the tap kernel's TUN_F_* bits. */
#define NETBE_OFFLOAD_CSUM (1U << 0)
#define NETBE_OFFLOAD_TSO4 (1U << 1)
#define NETBE_OFFLOAD_TSO6 (1U << 2)
#define NETBE_OFFLOAD_ECN  (1U << 3)

/* notify() events */
#define NETBE_EV_RX (1U << 0) /* frames are waiting: recv() until -EAGAIN */
#define NETBE_EV_TX (1U << 1) /* send() may succeed again after -EAGAIN */

struct netbe;

struct netbe_ops {
	/* Send one frame, gathered from iov (with the vnet header first when
	 * vnet_hdr_len != 0). Returns 0 when the frame was taken, -EAGAIN when
	 * it cannot be taken now (keep it; NETBE_EV_TX follows), any other
	 * negative errno when it was dropped (malformed, too long, host error;
	 * the backend counts it). */
	int (*send)(struct netbe *nb, const struct iovec *iov, unsigned int iovcnt);
	/* Receive the next frame into buf (vnet header first when
	 * vnet_hdr_len != 0). Returns its length, or -EAGAIN when nothing is
	 * waiting. A frame longer than len is dropped, not truncated (counted;
	 * the call goes on to the next one). len >= NETBE_FRAME_MAX never drops. */
	ssize_t (*recv)(struct netbe *nb, void *buf, size_t len);
	/* See "Flow control" above. Starts disabled. */
	void (*rx_enable)(struct netbe *nb, bool enable);
	/* The offloads the guest accepted (a subset of nb->offloads; 0 turns
	 * them all off). Frames recv() returns may then use them. 0 or -errno. */
	int (*set_offloads)(struct netbe *nb, unsigned int offloads);
	/* With the event loop no longer running: leave it, close, free. */
	void (*destroy)(struct netbe *nb);
};

/* Counters, for `--trace`-style reports and the benches. */
struct netbe_stats {
	uint64_t tx_frames, tx_bytes, tx_dropped;
	uint64_t rx_frames, rx_bytes, rx_dropped;
};

struct netbe {
	const struct netbe_ops *ops;
	const char *name;	   /* "user", "tap tap0": for messages */
	unsigned int vnet_hdr_len; /* 0 (bare frames) or 12 (virtio_net_hdr_v1) */
	unsigned int offloads;	   /* NETBE_OFFLOAD_* it supports (0 without a vnet hdr) */
	struct netbe_stats stats;  /* kept by the backend */
	/* Set by the device before its first rx_enable(true). */
	void (*notify)(void *opaque, unsigned int events);
	void *notify_opaque;
};

/* set_offloads of a backend of bare frames (no vnet header: slirp, vde,
 * stream, dgram): there is nothing to turn on, only "none" to accept. */
static inline int netbe_no_offloads(struct netbe *nb, unsigned int offloads)
{
	(void)nb;
	return offloads ? -EOPNOTSUPP : 0;
}

#endif /* DEVICES_NET_NET_H */
