/* SPDX-License-Identifier: MIT */
/*
 * Frames per second through the virtio-net device (devices/virtio/net*.c)
 * with no guest: the unit tests' fake guest (tests/unit/virtio/fake_guest.h:
 * malloc'd RAM, rings, the mmio registers) plays the driver and the event
 * loop is stepped on this one thread, so what is measured is the device's
 * own per-frame cost: chains popped and checked, the backend call, the used
 * ring, kicks and interrupts.
 *
 *   virtio_net_pps tx|rx|slirp [--size N] [--mrg] [--batch N] [--secs S]
 *     tx     guest -> device -> null backend (send() counts, returns 0)
 *     rx     a backend that always has a frame (recv() copies it) -> guest
 *     slirp  guest -> device -> libslirp -> UDP datagrams from 10.0.2.15 to
 *            10.0.2.2:P -> a socket bound here on 127.0.0.1:P
 *     --size   Ethernet frame bytes (tx, rx: 14..1514, default 64) or UDP
 *              payload bytes (slirp: 1..1472)
 *     --mrg    negotiate MRG_RXBUF: 4 KiB rx buffers instead of 1526 B
 *     --batch  buffers posted between two device steps (default 256, the
 *              whole ring; 1 = a kick and an interrupt per frame)
 *     --secs   measuring time (default 1.5, after 0.2 s of warm-up)
 *
 * Output, one line of key=value: frames, secs, fps, mbps (Ethernet bytes
 * without the header; slirp: datagrams delivered to the host socket and
 * their payload), cpu_ns/usr_ns/sys_ns (getrusage per frame, fake guest
 * included), dev_ns (wall time per frame inside event-loop steps: the
 * device and its backend), kicks_per_kf and irqs_per_kf (per 1000 frames),
 * sent (what the guest transmitted). Exit status 1 on any error, including
 * a frame that arrives with the wrong length or contents.
 *
 * The driver works like Linux's virtio_ring.c in steady state, so that its
 * own cost stays small: each descriptor describes one buffer for good,
 * posting is one avail-ring slot, EVENT_IDX decides kicks (avail_event) and
 * interrupts (used_event), and interrupts are acked through the registers.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <getopt.h>
#include <netinet/in.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <unistd.h>

#include "base/clock.h"
#include "devices/net/slirp.h"
#include "devices/virtio/mmio.h"
#include "devices/virtio/net.h"
#include "tests/unit/net/frames.h"
#include "tests/unit/virtio/fake_guest.h"

#define QSIZE	    256 /* both queues: the device's QueueNumMax */
#define HDR	    12	/* struct virtio_net_hdr_v1 (VERSION_1: num_buffers included) */
#define ETH_MAX	    1514
#define UDP_MAX	    (ETH_MAX - 14 - 20 - 8)
#define TXBUF	    (HDR + ETH_MAX)
#define RXBUF_SMALL (HDR + ETH_MAX) /* Linux's buffer without MRG_RXBUF (no GSO) */
#define RXBUF_MRG   4096
#define RAM_SIZE    (16u << 20)
#define ANY_LEN	    UINT32_MAX
#define UDP_BATCH   64

#define GUEST_IP   FR_IP(10, 0, 2, 15)
#define GW_IP	   FR_IP(10, 0, 2, 2)
#define GUEST_PORT 40000

enum mode { MODE_TX, MODE_RX, MODE_SLIRP };

static const char *const mode_names[] = { "tx", "rx", "slirp" };
static const uint8_t guest_mac[6] = { 0x52, 0x54, 0x00, 0x12, 0x34, 0x56 };

/* The driver's side of one split virtqueue (virtio 1.2 section 2.7). The
 * rings live in fake guest RAM (fg_vring_init); the pointers are host views
 * of them, taken once. */
struct drvq {
	struct fg_vring vr;
	unsigned int idx; /* 0 receiveq, 1 transmitq */
	uint16_t *avail_idx, *avail_ring, *used_event;
	uint16_t *used_idx, *avail_event;
	uint32_t *used_ring; /* {id, len} */
	uint16_t shadow;     /* avail->idx as we will publish it */
	uint16_t kicked;     /* avail->idx at the last kick decision */
	uint16_t last_used;
	uint64_t gpa[QSIZE]; /* descriptor i's buffer */
	uint32_t len[QSIZE]; /* the used length it last came back with */
	uint16_t ready[QSIZE];
	unsigned int nready; /* descriptors not in the device's hands */
	uint64_t bad;	     /* used entries with an unexpected length */
};

/* The null backend (tx) and the always-ready one (rx). */
struct null_nb {
	struct netbe nb;      /* first: netbe -> null_nb */
	const uint8_t *frame; /* what recv() hands out (NULL: nothing) */
	size_t frame_len;
	uint64_t sent, sent_bytes;
};

struct bench {
	enum mode mode;
	unsigned int size, batch;
	bool mrg;
	double secs;
	struct event_loop el;
	struct fake_guest g;
	struct null_nb null;
	struct netbe *nb; /* &null.nb or slirp */
	struct vnet *n;
	struct virtio_mmio t;
	struct drvq q[2];
	uint8_t frame[ETH_MAX]; /* tx: what every tx buffer holds; rx: what recv() gives */
	size_t frame_len;
	unsigned int irq_seen;
	/* slirp: the host end of the datagrams */
	int udp_fd;
	uint16_t udp_port;
	uint8_t gw_mac[6];
	uint8_t udp_buf[UDP_BATCH][2048];
	/* counted over the measured interval */
	uint64_t frames, bytes, sent, kicks, irqs, bad;
	uint64_t dev_ns;
};

#define TV_NS(tv) ((uint64_t)(tv).tv_sec * 1000000000u + (uint64_t)(tv).tv_usec * 1000u)

/* ---- the driver's half of a virtqueue ---- */

/* 2.7.10: vring_need_event(event, new, old). */
static bool need_event(uint16_t event, uint16_t new_idx, uint16_t old)
{
	return (uint16_t)(new_idx - event - 1) < (uint16_t)(new_idx - old);
}

/* Rings plus QSIZE buffers of `buflen` bytes; descriptor i describes buffer
 * i for good (device-writable for rx; tx lengths are set per frame). */
static void drvq_init(struct fake_guest *g, struct drvq *q, unsigned int idx, uint32_t buflen,
		      bool writable)
{
	uint8_t *avail, *used;
	unsigned int i;

	memset(q, 0, sizeof(*q));
	q->idx = idx;
	fg_vring_init(g, &q->vr, QSIZE);
	avail = fg_ptr(g, q->vr.avail, 6 + 2 * QSIZE);
	used = fg_ptr(g, q->vr.used, 6 + 8 * QSIZE);
	q->avail_idx = (uint16_t *)(avail + 2);
	q->avail_ring = (uint16_t *)(avail + 4);
	q->used_event = (uint16_t *)(avail + 4 + 2 * QSIZE);
	q->used_idx = (uint16_t *)(used + 2);
	q->used_ring = (uint32_t *)(used + 4);
	q->avail_event = (uint16_t *)(used + 4 + 8 * QSIZE);
	for (i = 0; i < QSIZE; i++) {
		q->gpa[i] = fg_alloc(g, buflen, 64);
		fg_vring_set_desc(&q->vr, (uint16_t)i, q->gpa[i], buflen,
				  writable ? FG_DESC_F_WRITE : 0, 0);
		q->ready[q->nready++] = (uint16_t)(QSIZE - 1 - i);
	}
}

/* Put a zero virtio-net header and `frame` in tx buffer `id` and make its
 * descriptor exactly that long (a Linux driver with VERSION_1 pushes the
 * header in front of the frame: one descriptor per linear frame). */
static void drvq_set_tx(struct fake_guest *g, struct drvq *q, uint16_t id, const void *frame,
			size_t len)
{
	uint8_t *p = fg_ptr(g, q->gpa[id], HDR + len);

	memset(p, 0, HDR);
	memcpy(p + HDR, frame, len);
	fg_vring_set_desc(&q->vr, id, q->gpa[id], (uint32_t)(HDR + len), 0, 0);
}

/* Hand up to `max` ready buffers to the device (not yet visible). */
static void drvq_post(struct drvq *q, unsigned int max)
{
	unsigned int n;

	for (n = 0; n < max && q->nready; n++)
		q->avail_ring[q->shadow++ & (QSIZE - 1)] = q->ready[--q->nready];
}

/* Publish avail->idx and kick if the device asked for it
 * (virtqueue_kick_prepare_split, then vm_notify's QueueNotify write). */
static void drvq_kick(struct bench *b, struct drvq *q)
{
	uint16_t event;

	if (q->shadow == q->kicked)
		return;
	/* 2.7.13: ring entries before the index; pairs with virtq_pop's
	 * acquire load of avail->idx. */
	__atomic_store_n(q->avail_idx, q->shadow, __ATOMIC_RELEASE);
	/* virtio_mb: the index store before the avail_event load, pairing
	 * with the fence after virtq_set_notify's avail_event store (queue.c
	 * (B)); without it both sides could wait for each other. */
	__atomic_thread_fence(__ATOMIC_SEQ_CST);
	event = __atomic_load_n(q->avail_event, __ATOMIC_RELAXED);
	if (need_event(event, q->shadow, q->kicked)) {
		fg_mmio_kick(&b->t, q->idx);
		b->kicks++;
	}
	q->kicked = q->shadow;
}

/* Take back what the device used; count lengths other than `want`. Then
 * ask for an interrupt at the next used entry (virtqueue_enable_cb with
 * EVENT_IDX: used_event = last_used). Returns the number taken back, or
 * -EIO if the device returned something it was never given. */
static int drvq_reclaim(struct drvq *q, uint32_t want)
{
	uint16_t used = __atomic_load_n(q->used_idx, __ATOMIC_ACQUIRE); /* pairs with virtq_push */
	int n = 0;

	for (; q->last_used != used; q->last_used++, n++) {
		const uint32_t *e = q->used_ring + 2 * (q->last_used & (QSIZE - 1));

		if (e[0] >= QSIZE || q->nready >= QSIZE)
			return -EIO;
		q->len[e[0]] = e[1];
		q->ready[q->nready++] = (uint16_t)e[0];
		if (want != ANY_LEN && e[1] != want)
			q->bad++;
	}
	__atomic_store_n(q->used_event, q->last_used, __ATOMIC_RELAXED);
	/* virtio_mb: used_event before the next used->idx read, pairing with
	 * virtq_should_notify's fence (D). */
	__atomic_thread_fence(__ATOMIC_SEQ_CST);
	return n;
}

/* ---- the null backend ---- */

static int null_send(struct netbe *nb, const struct iovec *iov, unsigned int iovcnt)
{
	struct null_nb *z = (struct null_nb *)nb;
	unsigned int i;

	for (i = 0; i < iovcnt; i++)
		z->sent_bytes += iov[i].iov_len;
	z->sent++;
	return 0;
}

static ssize_t null_recv(struct netbe *nb, void *buf, size_t len)
{
	struct null_nb *z = (struct null_nb *)nb;

	if (!z->frame || len < z->frame_len)
		return -EAGAIN;
	memcpy(buf, z->frame, z->frame_len);
	return (ssize_t)z->frame_len;
}

/* Always ready: there is no source to stop reading. */
static void null_rx_enable(struct netbe *nb, bool enable)
{
	(void)nb;
	(void)enable;
}

static const struct netbe_ops null_ops = {
	.send = null_send,
	.recv = null_recv,
	.rx_enable = null_rx_enable,
};

/* ---- one step of the machine ---- */

/* Run the event loop until no handler is ready (kicks, the device's wake
 * eventfd, slirp's sockets and timers), then take the interrupt if one was
 * raised, the way vm_interrupt does. */
static void run_device(struct bench *b, int first_timeout_ms)
{
	uint64_t t0 = clock_monotonic_ns();
	int i, timeout = first_timeout_ms;

	for (i = 0; i < 1000; i++, timeout = 0)
		if (fg_el_poll(&b->el, timeout) == 0)
			break;
	b->dev_ns += clock_monotonic_ns() - t0;
	if (b->g.irq.pulses != b->irq_seen) {
		b->irqs += b->g.irq.pulses - b->irq_seen;
		b->irq_seen = b->g.irq.pulses;
		(void)fg_mmio_ack_irq(&b->t);
	}
}

/* Read every datagram waiting on the host socket. */
static void udp_drain(struct bench *b)
{
	struct mmsghdr msgs[UDP_BATCH];
	struct iovec iov[UDP_BATCH];
	int i, n;

	for (i = 0; i < UDP_BATCH; i++) {
		iov[i] = (struct iovec){ b->udp_buf[i], sizeof(b->udp_buf[i]) };
		msgs[i] = (struct mmsghdr){ .msg_hdr = { .msg_iov = &iov[i], .msg_iovlen = 1 } };
	}
	while ((n = recvmmsg(b->udp_fd, msgs, UDP_BATCH, MSG_DONTWAIT, NULL)) > 0) {
		for (i = 0; i < n; i++) {
			/* The payload is the frame's, byte for byte. */
			if (msgs[i].msg_len != b->size ||
			    memcmp(b->udp_buf[i], b->frame + 42, b->size) != 0)
				b->bad++;
			b->bytes += msgs[i].msg_len;
		}
		b->frames += (uint64_t)n;
		if (n < UDP_BATCH)
			break;
	}
}

/* One round: the driver posts and kicks, the device runs, the driver takes
 * back what was used. Returns the frames moved (sent, for slirp), or -EIO. */
static int bench_step(struct bench *b)
{
	struct drvq *rxq = &b->q[VNET_RXQ], *txq = &b->q[VNET_TXQ];
	int rx = 0, tx = 0;

	if (b->mode != MODE_RX) {
		drvq_post(txq, b->batch);
		drvq_kick(b, txq);
	}
	if (b->mode != MODE_TX) {
		drvq_post(rxq, b->batch);
		drvq_kick(b, rxq);
	}
	run_device(b, 0);
	if (b->mode != MODE_TX) {
		/* slirp: whatever it sends the guest (ARP) is just recycled */
		rx = drvq_reclaim(rxq, b->mode == MODE_RX ? (uint32_t)(HDR + b->size) : ANY_LEN);
		if (rx < 0)
			return -EIO;
	}
	if (b->mode != MODE_RX) {
		tx = drvq_reclaim(txq, 0); /* tx used len: 0, nothing written */
		if (tx < 0)
			return -EIO;
	}
	switch (b->mode) {
	case MODE_TX:
		b->frames += (uint64_t)tx;
		b->bytes += (uint64_t)tx * b->size;
		return tx;
	case MODE_RX:
		b->frames += (uint64_t)rx;
		b->bytes += (uint64_t)rx * b->size;
		return rx;
	case MODE_SLIRP:
		udp_drain(b);
		b->sent += (uint64_t)tx;
		return tx;
	}
	return -EIO;
}

/* ---- setup ---- */

static int bench_backend(struct bench *b)
{
	struct netbe_user_config cfg;
	struct sockaddr_in a = { .sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
	socklen_t sl = sizeof(a);
	char err[256] = "";
	int rcvbuf = 8 << 20, ret;

	if (b->mode != MODE_SLIRP) {
		b->null.nb = (struct netbe){ .ops = &null_ops, .name = "null" };
		b->nb = &b->null.nb;
		return 0;
	}
	netbe_user_config_default(&cfg);
	ret = netbe_slirp_create(&cfg, &b->el, &b->nb, err, sizeof(err));
	if (ret < 0) {
		fprintf(stderr, "virtio_net_pps: slirp: %s\n", err[0] ? err : strerror(-ret));
		return ret;
	}
	b->udp_fd = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
	if (b->udp_fd < 0)
		return -errno;
	/* Room for a whole round of datagrams between two drains. FORCE
	 * passes rmem_max when we may (root); otherwise take what we get. */
	if (setsockopt(b->udp_fd, SOL_SOCKET, SO_RCVBUFFORCE, &rcvbuf, sizeof(rcvbuf)) < 0)
		(void)setsockopt(b->udp_fd, SOL_SOCKET, SO_RCVBUF, &rcvbuf, sizeof(rcvbuf));
	if (bind(b->udp_fd, (struct sockaddr *)&a, sizeof(a)) < 0 ||
	    getsockname(b->udp_fd, (struct sockaddr *)&a, &sl) < 0)
		return -errno;
	b->udp_port = ntohs(a.sin_port);
	return 0;
}

/* What a driver does at probe (3.1.1): reset, ACKNOWLEDGE, DRIVER,
 * features, FEATURES_OK, the queues, DRIVER_OK. */
static int bench_start_device(struct bench *b)
{
	uint64_t want = VIRTIO_BIT(VIRTIO_F_VERSION_1) | VIRTIO_BIT(VIRTIO_NET_F_MAC) |
			VIRTIO_BIT(VIRTIO_NET_F_STATUS) | VIRTIO_BIT(VIRTIO_F_RING_EVENT_IDX) |
			(b->mrg ? VIRTIO_BIT(VIRTIO_NET_F_MRG_RXBUF) : 0);
	uint64_t got = 0;
	unsigned int i;
	int ret;

	ret = fg_mmio_probe(&b->t);
	if (ret == 0)
		ret = fg_mmio_negotiate(&b->t, want, false, &got);
	if (ret == 0 && got != want)
		ret = -ENOTSUP; /* e.g. no EVENT_IDX: the numbers would mean something else */
	for (i = 0; ret == 0 && i < 2; i++)
		ret = fg_mmio_setup_queue(&b->t, i, &b->q[i].vr);
	if (ret == 0 && (fg_mmio_driver_ok(&b->t) & VIRTIO_STATUS_DEVICE_NEEDS_RESET))
		ret = -EIO;
	if (ret < 0) {
		fprintf(stderr, "virtio_net_pps: device start: %s\n", strerror(-ret));
		return ret;
	}
	run_device(b, 0); /* activation: the device's wake-up enables backend rx */
	return 0;
}

/* slirp: ARP for the gateway through the device, both ways, and take the
 * gateway's MAC from the reply (what the guest's stack does first). */
static int bench_arp(struct bench *b)
{
	struct drvq *rxq = &b->q[VNET_RXQ], *txq = &b->q[VNET_TXQ];
	uint8_t f[64];
	uint64_t deadline = clock_monotonic_ns() + 2000000000u;
	unsigned int i;
	int n;

	drvq_set_tx(&b->g, txq, txq->ready[txq->nready - 1], f,
		    fr_arp(f, 1, guest_mac, GUEST_IP, NULL, GW_IP));
	drvq_post(txq, 1);
	drvq_kick(b, txq);
	drvq_post(rxq, QSIZE);
	drvq_kick(b, rxq);
	while (clock_monotonic_ns() < deadline) {
		run_device(b, 10);
		if (drvq_reclaim(txq, 0) < 0)
			return -EIO;
		n = drvq_reclaim(rxq, ANY_LEN);
		if (n < 0)
			return -EIO;
		for (i = rxq->nready - (unsigned int)n; i < rxq->nready; i++) {
			uint16_t id = rxq->ready[i];
			const uint8_t *r = fg_ptr(&b->g, rxq->gpa[id], RXBUF_SMALL) + HDR;

			/* 42 bytes: ARP reply (op 2) from 10.0.2.2 */
			if (rxq->len[id] >= HDR + 42 && r[12] == 0x08 && r[13] == 0x06 &&
			    r[21] == 2 && memcmp(r + 28, &(uint32_t){ GW_IP }, 4) == 0) {
				memcpy(b->gw_mac, r + 22, 6);
				return 0;
			}
		}
		drvq_post(rxq, QSIZE);
		drvq_kick(b, rxq);
	}
	fprintf(stderr, "virtio_net_pps: no ARP reply from slirp within 2 s\n");
	return -ETIMEDOUT;
}

/* slirp: the UDP datagram every tx buffer holds, guest to gateway, its
 * payload a byte pattern the host end checks. */
static size_t bench_udp_frame(struct bench *b)
{
	struct fr_ends e = { b->gw_mac, guest_mac, GUEST_IP, GW_IP, 0 };
	uint8_t payload[UDP_MAX];
	size_t i;

	for (i = 0; i < b->size; i++)
		payload[i] = (uint8_t)(i * 13 + 1);
	return fr_udp_frame(b->frame, &e, GUEST_PORT, b->udp_port, payload, b->size);
}

/* The frame every tx buffer holds, or the one recv() hands out. */
static int bench_frames(struct bench *b)
{
	struct drvq *txq = &b->q[VNET_TXQ];
	size_t i;
	int ret;

	if (b->mode == MODE_SLIRP) {
		ret = bench_arp(b);
		if (ret < 0)
			return ret;
		b->frame_len = bench_udp_frame(b);
	} else {
		/* Any bytes do for the device; make it look like Ethernet. */
		b->frame_len = b->size;
		for (i = 0; i < b->frame_len; i++)
			b->frame[i] = (uint8_t)(i * 7 + 3);
		memcpy(b->frame, guest_mac, 6);
		fr_put16(b->frame + 12, 0x0800);
	}
	if (b->mode == MODE_RX) {
		b->null.frame = b->frame;
		b->null.frame_len = b->frame_len;
		return 0;
	}
	for (i = 0; i < QSIZE; i++)
		drvq_set_tx(&b->g, txq, (uint16_t)i, b->frame, b->frame_len);
	return 0;
}

static int bench_setup(struct bench *b)
{
	struct vnet_params np = { .mac = { 0x52, 0x54, 0x00, 0x12, 0x34, 0x56 },
				  .name = "virtio-net bench" };
	struct virtio_mmio_params mp = { 0 };
	int ret;

	b->udp_fd = -1;
	ret = el_init(&b->el);
	if (ret < 0)
		return ret;
	fg_init(&b->g, RAM_SIZE);
	drvq_init(&b->g, &b->q[VNET_RXQ], VNET_RXQ, b->mrg ? RXBUF_MRG : RXBUF_SMALL, true);
	drvq_init(&b->g, &b->q[VNET_TXQ], VNET_TXQ, TXBUF, false);
	ret = bench_backend(b);
	if (ret < 0)
		return ret;
	np.backend = b->nb;
	np.el = &b->el;
	ret = vnet_create(&np, &b->n);
	if (ret < 0)
		return ret;
	mp.mem = &b->g.mem;
	mp.el = &b->el;
	mp.irq = &b->g.irq.line;
	ret = virtio_mmio_init(&b->t, vnet_dev(b->n), &mp);
	if (ret < 0) {
		vnet_destroy(b->n);
		b->n = NULL;
		return ret;
	}
	ret = bench_start_device(b);
	if (ret == 0)
		ret = bench_frames(b);
	return ret;
}

/* Tear down what bench_setup built, in reverse (safe after a partial one). */
static void bench_teardown(struct bench *b)
{
	if (b->n) {
		virtio_mmio_destroy(&b->t);
		vnet_destroy(b->n);
	}
	if (b->nb && b->mode == MODE_SLIRP)
		b->nb->ops->destroy(b->nb);
	if (b->udp_fd >= 0)
		close(b->udp_fd);
	if (b->g.ram) {
		fg_vring_destroy(&b->q[0].vr);
		fg_vring_destroy(&b->q[1].vr);
		fg_destroy(&b->g);
	}
	if (b->el.epfd > 0)
		el_destroy(&b->el);
}

/* ---- measuring ---- */

/* Steps until `ns` have passed; -EIO if the device went wrong or nothing
 * moved for a long time (a lost kick or interrupt would show up so). */
static int bench_loop(struct bench *b, uint64_t ns)
{
	uint64_t end = clock_monotonic_ns() + ns;
	unsigned int idle = 0, i;
	int ret;

	do {
		for (i = 0; i < 16; i++) {
			ret = bench_step(b);
			if (ret < 0)
				return ret;
			idle = ret ? 0 : idle + 1;
			if (idle > 100000) {
				fprintf(stderr, "virtio_net_pps: no progress (stalled ring)\n");
				return -EIO;
			}
		}
	} while (clock_monotonic_ns() < end);
	if (fg_mmio_read32(&b->t, VIRTIO_MMIO_STATUS) & VIRTIO_STATUS_DEVICE_NEEDS_RESET) {
		fprintf(stderr, "virtio_net_pps: the device set DEVICE_NEEDS_RESET\n");
		return -EIO;
	}
	return 0;
}

/* Did the frames arrive intact? rx: the last buffer taken back holds a
 * header with num_buffers 1 (bytes 10-11, LE) and the frame; tx: the backend
 * saw every frame, header stripped (slirp is a bare backend too). */
static int bench_check(struct bench *b, uint64_t sent_before)
{
	struct drvq *q = &b->q[b->mode == MODE_RX ? VNET_RXQ : VNET_TXQ];
	uint64_t bad = b->bad + q->bad + !b->frames;

	if (b->mode == MODE_RX && q->nready) {
		const uint8_t *p = fg_ptr(&b->g, q->gpa[q->ready[q->nready - 1]], HDR + b->size);

		if (p[10] != 1 || p[11] != 0 || memcmp(p + HDR, b->frame, b->size) != 0)
			bad++;
	}
	if (b->mode == MODE_TX && (b->null.sent - sent_before != b->frames ||
				   b->null.sent_bytes != b->null.sent * b->size))
		bad++;
	if (bad) {
		fprintf(stderr, "virtio_net_pps: %llu frames arrived wrong (or none at all)\n",
			(unsigned long long)bad);
		return -EIO;
	}
	return 0;
}

static int bench_measure(struct bench *b)
{
	struct rusage r0, r1;
	uint64_t t0, wall, usr, sys, sent_before;
	double secs, per;
	int ret;

	ret = bench_loop(b, 200000000u); /* warm-up: caches, slirp's socket */
	if (ret < 0)
		return ret;
	b->frames = b->bytes = b->sent = b->kicks = b->irqs = b->dev_ns = 0;
	sent_before = b->null.sent;
	getrusage(RUSAGE_SELF, &r0);
	t0 = clock_monotonic_ns();
	ret = bench_loop(b, (uint64_t)(b->secs * 1e9));
	wall = clock_monotonic_ns() - t0;
	getrusage(RUSAGE_SELF, &r1);
	if (ret < 0)
		return ret;
	ret = bench_check(b, sent_before);
	if (ret < 0)
		return ret;
	if (b->mode != MODE_SLIRP)
		b->sent = b->frames;
	secs = (double)wall / 1e9;
	per = (double)b->frames;
	usr = TV_NS(r1.ru_utime) - TV_NS(r0.ru_utime);
	sys = TV_NS(r1.ru_stime) - TV_NS(r0.ru_stime);
	printf("virtio_net_pps: mode=%s size=%u mrg=%d batch=%u frames=%llu secs=%.3f fps=%.0f "
	       "mbps=%.1f cpu_ns=%.0f usr_ns=%.0f sys_ns=%.0f dev_ns=%.0f kicks_per_kf=%.2f "
	       "irqs_per_kf=%.2f sent=%llu\n",
	       mode_names[b->mode], b->size, b->mrg, b->batch, (unsigned long long)b->frames, secs,
	       per / secs, (double)b->bytes * 8 / secs / 1e6, (double)(usr + sys) / per,
	       (double)usr / per, (double)sys / per, (double)b->dev_ns / per,
	       (double)b->kicks * 1000 / per, (double)b->irqs * 1000 / per,
	       (unsigned long long)b->sent);
	return 0;
}

/* ---- main ---- */

static void usage(void)
{
	fprintf(stderr, "usage: virtio_net_pps tx|rx|slirp [--size N] [--mrg] [--batch N] "
			"[--secs S]\n");
	exit(1);
}

int main(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "size", required_argument, NULL, 's' },
		{ "mrg", no_argument, NULL, 'm' },
		{ "batch", required_argument, NULL, 'b' },
		{ "secs", required_argument, NULL, 't' },
		{ NULL, 0, NULL, 0 },
	};
	struct bench *b = calloc(1, sizeof(*b));
	unsigned int m;
	int c, ret;

	if (!b)
		return 1;
	b->size = 64;
	b->batch = QSIZE;
	b->secs = 1.5;
	while ((c = getopt_long(argc, argv, "", opts, NULL)) != -1) {
		switch (c) {
		case 's':
			b->size = (unsigned int)strtoul(optarg, NULL, 0);
			break;
		case 'm':
			b->mrg = true;
			break;
		case 'b':
			b->batch = (unsigned int)strtoul(optarg, NULL, 0);
			break;
		case 't':
			b->secs = strtod(optarg, NULL);
			break;
		default:
			usage();
		}
	}
	if (optind + 1 != argc)
		usage();
	for (m = 0; m < 3 && strcmp(argv[optind], mode_names[m]) != 0; m++)
		;
	if (m == 3)
		usage();
	b->mode = (enum mode)m;
	if (b->batch < 1 || b->batch > QSIZE || !(b->secs > 0 && b->secs < 600) ||
	    (b->mode == MODE_SLIRP ? b->size < 1 || b->size > UDP_MAX
				   : b->size < 14 || b->size > ETH_MAX))
		usage();

	ret = bench_setup(b);
	if (ret == 0)
		ret = bench_measure(b);
	if (ret < 0)
		fprintf(stderr, "virtio_net_pps: %s\n", strerror(-ret));
	bench_teardown(b);
	free(b);
	return ret < 0 ? 1 : 0;
}
