/* SPDX-License-Identifier: MIT */
/*
 * virtio-net driven through the mmio transport by the fake guest, over a
 * fake backend that records what is sent, serves queued frames, refuses
 * sends with -EAGAIN on demand and logs rx_enable/set_offloads calls. The
 * test plays the backend's event-loop handlers by calling nb.notify()
 * itself, as a real backend does from its own handlers.
 */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "devices/virtio/mmio.h"
#include "devices/virtio/net.h"
#include "tests/unit/virtio/fake_guest.h"

#define F(bit)	 (1ULL << (bit))
#define HDR	 12
#define MAX_SENT 512
#define MAX_RXQ	 512
#define BASE_FEAT                                                               \
	(F(VIRTIO_F_VERSION_1) | F(VIRTIO_NET_F_MAC) | F(VIRTIO_NET_F_STATUS) | \
	 F(VIRTIO_F_RING_EVENT_IDX))
#define OFFLOAD_FEAT                                                                          \
	(F(VIRTIO_NET_F_CSUM) | F(VIRTIO_NET_F_GUEST_CSUM) | F(VIRTIO_NET_F_GUEST_TSO4) |     \
	 F(VIRTIO_NET_F_GUEST_TSO6) | F(VIRTIO_NET_F_GUEST_ECN) | F(VIRTIO_NET_F_HOST_TSO4) | \
	 F(VIRTIO_NET_F_HOST_TSO6) | F(VIRTIO_NET_F_HOST_ECN))

/* ---------------------------------------------------------------------- */
/* The fake backend                                                        */

struct fnb {
	struct net_backend nb;
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

static int fnb_send(struct net_backend *nb, const struct iovec *iov, unsigned int cnt)
{
	struct fnb *f = (struct fnb *)nb;
	size_t len = 0, off = 0;
	unsigned int i;
	uint8_t *p;

	f->send_calls++;
	if (f->block)
		return -EAGAIN;
	for (i = 0; i < cnt; i++)
		len += iov[i].iov_len;
	assert_true(f->nsent < MAX_SENT);
	p = malloc(len ? len : 1);
	assert_non_null(p);
	for (i = 0; i < cnt; i++) {
		memcpy(p + off, iov[i].iov_base, iov[i].iov_len);
		off += iov[i].iov_len;
	}
	f->sent[f->nsent] = p;
	f->sent_len[f->nsent++] = len;
	if (f->on_send)
		f->on_send(f);
	return 0;
}

static ssize_t fnb_recv(struct net_backend *nb, void *buf, size_t len)
{
	struct fnb *f = (struct fnb *)nb;
	size_t n;

	if (f->rx_head == f->rx_tail)
		return -EAGAIN;
	n = f->rxq_len[f->rx_head % MAX_RXQ];
	assert_true(n <= len);
	memcpy(buf, f->rxq[f->rx_head % MAX_RXQ], n);
	free(f->rxq[f->rx_head % MAX_RXQ]);
	f->rx_head++;
	if (f->on_recv)
		f->on_recv(f);
	return (ssize_t)n;
}

static void fnb_rx_enable(struct net_backend *nb, bool enable)
{
	struct fnb *f = (struct fnb *)nb;

	if (!enable)
		f->rx_disables++;
	f->rx_enabled = enable;
}

static int fnb_set_offloads(struct net_backend *nb, unsigned int offloads)
{
	struct fnb *f = (struct fnb *)nb;

	assert_int_equal(offloads & ~nb->offloads, 0); /* a subset of what it has */
	f->offloads = offloads;
	f->offload_calls++;
	return 0;
}

static const struct net_backend_ops fnb_ops = {
	.send = fnb_send,
	.recv = fnb_recv,
	.rx_enable = fnb_rx_enable,
	.set_offloads = fnb_set_offloads,
};

static void fnb_init(struct fnb *f, unsigned int vnet_hdr_len, unsigned int offloads)
{
	memset(f, 0, sizeof(*f));
	f->nb.ops = &fnb_ops;
	f->nb.name = "fake";
	f->nb.vnet_hdr_len = vnet_hdr_len;
	f->nb.offloads = offloads;
	f->offload_calls = 0;
}

static void fnb_fini(struct fnb *f)
{
	unsigned int i;

	for (i = 0; i < f->nsent; i++)
		free(f->sent[i]);
	while (f->rx_head != f->rx_tail)
		free(f->rxq[f->rx_head++ % MAX_RXQ]);
}

/* Queue a frame (bytes exactly as recv() hands them over). */
static void fnb_queue(struct fnb *f, const void *frame, size_t len)
{
	assert_true(f->rx_tail - f->rx_head < MAX_RXQ);
	f->rxq[f->rx_tail % MAX_RXQ] = malloc(len);
	assert_non_null(f->rxq[f->rx_tail % MAX_RXQ]);
	memcpy(f->rxq[f->rx_tail % MAX_RXQ], frame, len);
	f->rxq_len[f->rx_tail++ % MAX_RXQ] = len;
}

/* What a backend's handler does when frames wait and rx is enabled. */
static void fnb_report(struct fnb *f, unsigned int events)
{
	assert_non_null(f->nb.notify);
	if ((events & NET_EV_RX) && (!f->rx_enabled || f->rx_head == f->rx_tail))
		events &= ~NET_EV_RX;
	if (events)
		f->nb.notify(f->nb.notify_opaque, events);
}

/* ---------------------------------------------------------------------- */
/* The device through the transport                                       */

struct world {
	struct event_loop el;
	struct fake_guest g;
	struct fnb f;
	struct virtio_net *n;
	struct virtio_mmio t;
	struct fg_vring vr[2]; /* receiveq, transmitq */
	uint64_t features;
};

/* Run every ready loop handler until none is left. */
static void run_loop(struct world *w)
{
	int i;

	for (i = 0; i < 1000; i++)
		if (fg_el_poll(&w->el, 0) == 0)
			return;
	fail_msg("event loop never went idle");
}

static void world_start(struct world *w, uint64_t want, uint16_t qsize)
{
	fg_vring_init(&w->g, &w->vr[0], qsize);
	fg_vring_init(&w->g, &w->vr[1], qsize);
	assert_int_equal(fg_mmio_start(&w->t, want, w->vr, 2, &w->features), 0);
	run_loop(w); /* the device's wake-up: offloads, rx_enable */
}

static void world_init(struct world *w, unsigned int vnet_hdr_len, unsigned int offloads,
		       uint64_t want, uint16_t qsize)
{
	struct virtio_net_params np = { .mac = { 0x52, 0x54, 0x00, 0x12, 0x34, 0x56 },
					.name = "virtio-net test" };
	struct virtio_mmio_params mp = { .vm_fd = -1 };

	memset(w, 0, sizeof(*w));
	assert_int_equal(el_init(&w->el), 0);
	fg_init(&w->g, 8 << 20);
	fnb_init(&w->f, vnet_hdr_len, offloads);
	np.backend = &w->f.nb;
	np.el = &w->el;
	assert_int_equal(virtio_net_create(&np, &w->n), 0);
	mp.mem = &w->g.mem;
	mp.el = &w->el;
	mp.irq = &w->g.irq.line;
	assert_int_equal(virtio_mmio_init(&w->t, virtio_net_dev(w->n), &mp), 0);
	if (qsize)
		world_start(w, want, qsize);
}

static void world_fini(struct world *w)
{
	virtio_mmio_destroy(&w->t);
	virtio_net_destroy(w->n);
	/* the backend outlives the device and must not call back into it */
	assert_null(w->f.nb.notify);
	fg_vring_destroy(&w->vr[0]);
	fg_vring_destroy(&w->vr[1]);
	fnb_fini(&w->f);
	fg_destroy(&w->g);
	el_destroy(&w->el);
}

static bool needs_reset(struct world *w)
{
	return fg_mmio_read32(&w->t, VIRTIO_MMIO_STATUS) & VIRTIO_STATUS_DEVICE_NEEDS_RESET;
}

static void kick(struct world *w, unsigned int q)
{
	fg_mmio_kick(&w->t, q);
	run_loop(w);
}

static void make_frame(uint8_t *p, size_t len, unsigned int seed)
{
	size_t i;

	for (i = 0; i < len; i++)
		p[i] = (uint8_t)(i * 13 + seed * 7 + 1);
}

/* Put header + frame in guest RAM and queue it on the transmitq as `nseg`
 * readable descriptors of (about) equal size; returns the head. */
static int tx_add(struct world *w, const struct virtio_net_hdr_v1 *h, const uint8_t *frame,
		  size_t len, unsigned int nseg, bool indirect)
{
	struct fg_buf b[FG_INDIRECT_MAX];
	size_t total = HDR + len, off = 0;
	uint64_t gpa = fg_alloc(&w->g, total, 16);
	struct virtio_net_hdr_v1 zero = { 0 };
	unsigned int i;

	assert_true(nseg >= 1 && nseg <= FG_INDIRECT_MAX && nseg <= total);
	fg_write(&w->g, gpa, h ? h : &zero, HDR);
	fg_write(&w->g, gpa + HDR, frame, len);
	for (i = 0; i < nseg; i++) {
		size_t seg = i + 1 < nseg ? total / nseg : total - off;

		b[i] = (struct fg_buf){ gpa + off, (uint32_t)seg, false };
		off += seg;
	}
	return indirect ? fg_vring_add_indirect(&w->vr[1], b, nseg)
			: fg_vring_add(&w->vr[1], b, nseg);
}

/* One writable rx chain of `len` bytes; returns its gpa. */
static uint64_t rx_add(struct world *w, uint32_t len)
{
	uint64_t gpa = fg_alloc(&w->g, len, 16);
	struct fg_buf b = { gpa, len, true };

	memset(fg_ptr(&w->g, gpa, len), 0xee, len);
	assert_true(fg_vring_add(&w->vr[0], &b, 1) >= 0);
	return gpa;
}

static void expect_used(struct fg_vring *vr, uint32_t want_len)
{
	uint32_t id, len;

	assert_true(fg_vring_get_used(vr, &id, &len));
	assert_int_equal(len, want_len);
}

static void expect_no_used(struct fg_vring *vr)
{
	uint32_t id, len;

	assert_false(fg_vring_get_used(vr, &id, &len));
}

/* ---------------------------------------------------------------------- */

static uint64_t offered(struct world *w)
{
	uint64_t f;

	fg_mmio_write32(&w->t, VIRTIO_MMIO_DEVICE_FEATURES_SEL, 1);
	f = (uint64_t)fg_mmio_read32(&w->t, VIRTIO_MMIO_DEVICE_FEATURES) << 32;
	fg_mmio_write32(&w->t, VIRTIO_MMIO_DEVICE_FEATURES_SEL, 0);
	return f | fg_mmio_read32(&w->t, VIRTIO_MMIO_DEVICE_FEATURES);
}

static void test_features(void **state)
{
	const uint64_t base = F(VIRTIO_NET_F_MAC) | F(VIRTIO_NET_F_STATUS) |
			      F(VIRTIO_NET_F_MRG_RXBUF) | F(VIRTIO_F_RING_EVENT_IDX) |
			      F(VIRTIO_F_RING_INDIRECT_DESC) | F(VIRTIO_F_VERSION_1);
	const unsigned int all =
		NET_OFFLOAD_CSUM | NET_OFFLOAD_TSO4 | NET_OFFLOAD_TSO6 | NET_OFFLOAD_ECN;
	struct world w;

	/* a bare backend: no offloads, whatever it claims */
	world_init(&w, 0, all, 0, 0);
	assert_int_equal(fg_mmio_read32(&w.t, VIRTIO_MMIO_DEVICE_ID), VIRTIO_ID_NET);
	fg_mmio_write32(&w.t, VIRTIO_MMIO_QUEUE_SEL, 1);
	assert_int_equal(fg_mmio_read32(&w.t, VIRTIO_MMIO_QUEUE_NUM_MAX), 256);
	fg_mmio_write32(&w.t, VIRTIO_MMIO_QUEUE_SEL, 2);
	assert_int_equal(fg_mmio_read32(&w.t, VIRTIO_MMIO_QUEUE_NUM_MAX), 0); /* no ctrl vq */
	assert_int_equal(offered(&w), base);
	world_start(&w, ~0ULL, 16);
	assert_true(w.f.rx_enabled); /* activation enabled rx from the loop */
	assert_int_equal(w.f.offload_calls, 0);
	world_fini(&w);

	/* a vnet-hdr backend with every offload */
	world_init(&w, HDR, all, 0, 0);
	assert_int_equal(offered(&w), base | OFFLOAD_FEAT);
	world_start(&w, ~0ULL, 16);
	assert_int_equal(w.f.offloads, all);
	assert_true(w.f.rx_enabled);
	/* reset: rx off and offloads off, from the loop thread */
	fg_mmio_write32(&w.t, VIRTIO_MMIO_STATUS, 0);
	assert_true(w.f.rx_enabled); /* not from the vCPU thread */
	run_loop(&w);
	assert_false(w.f.rx_enabled);
	assert_int_equal(w.f.offloads, 0);
	world_fini(&w);

	/* CSUM and TSO4 only: no TSO6, no ECN (ECN needs a TSO it has) */
	world_init(&w, HDR, NET_OFFLOAD_CSUM | NET_OFFLOAD_TSO4, 0, 0);
	assert_int_equal(offered(&w), base | F(VIRTIO_NET_F_CSUM) | F(VIRTIO_NET_F_GUEST_CSUM) |
					      F(VIRTIO_NET_F_GUEST_TSO4) |
					      F(VIRTIO_NET_F_HOST_TSO4));
	/* the guest takes only GUEST_CSUM */
	world_start(&w, BASE_FEAT | F(VIRTIO_NET_F_GUEST_CSUM), 16);
	assert_int_equal(w.f.offloads, NET_OFFLOAD_CSUM);
	world_fini(&w);

	/* without CSUM no offload at all; TSO alone means nothing */
	world_init(&w, HDR, NET_OFFLOAD_TSO4 | NET_OFFLOAD_ECN, 0, 0);
	assert_int_equal(offered(&w), base);
	world_fini(&w);

	/* a driver accepting GUEST_TSO4 without GUEST_CSUM gets no offload */
	world_init(&w, HDR, all, 0, 0);
	world_start(&w, BASE_FEAT | F(VIRTIO_NET_F_GUEST_TSO4), 16);
	assert_int_equal(w.f.offloads, 0);
	world_fini(&w);
}

static void test_config(void **state)
{
	uint8_t mac[6], b = 0xff;
	uint16_t st = 0, pairs = 0;
	uint32_t v = 0xdead;
	struct world w;
	unsigned int i;

	world_init(&w, 0, 0, BASE_FEAT, 16);
	for (i = 0; i < 6; i++)
		fg_mmio_read(&w.t, VIRTIO_MMIO_CONFIG + i, &mac[i], 1);
	assert_memory_equal(mac, ((uint8_t[]){ 0x52, 0x54, 0x00, 0x12, 0x34, 0x56 }), 6);
	fg_mmio_read(&w.t, VIRTIO_MMIO_CONFIG + 6, &st, 2);
	assert_int_equal(st, VIRTIO_NET_S_LINK_UP);
	fg_mmio_read(&w.t, VIRTIO_MMIO_CONFIG + 8, &pairs, 2);
	assert_int_equal(pairs, 1);
	/* 10 bytes: no mtu; the transport refuses reads past the end */
	fg_mmio_read(&w.t, VIRTIO_MMIO_CONFIG + 10, &v, 2);
	assert_int_equal(v & 0xffff, 0);
	/* writes are ignored */
	fg_mmio_write(&w.t, VIRTIO_MMIO_CONFIG + 0, &b, 1);
	fg_mmio_write(&w.t, VIRTIO_MMIO_CONFIG + 6, &v, 2);
	fg_mmio_read(&w.t, VIRTIO_MMIO_CONFIG + 0, &mac[0], 1);
	fg_mmio_read(&w.t, VIRTIO_MMIO_CONFIG + 6, &st, 2);
	assert_int_equal(mac[0], 0x52);
	assert_int_equal(st, VIRTIO_NET_S_LINK_UP);
	assert_false(needs_reset(&w));
	world_fini(&w);
}

/* ---- tx ---- */

static void test_tx_bare(void **state)
{
	uint8_t frame[60];
	struct world w;
	unsigned int pulses;

	world_init(&w, 0, 0, BASE_FEAT, 16);
	make_frame(frame, sizeof(frame), 1);
	assert_true(tx_add(&w, NULL, frame, sizeof(frame), 1, false) >= 0);
	pulses = w.g.irq.pulses;
	kick(&w, 1);
	assert_int_equal(w.f.nsent, 1);
	assert_int_equal(w.f.sent_len[0], sizeof(frame)); /* header stripped */
	assert_memory_equal(w.f.sent[0], frame, sizeof(frame));
	expect_used(&w.vr[1], 0);
	assert_true(w.g.irq.pulses > pulses);
	assert_false(needs_reset(&w));
	world_fini(&w);
}

static void test_tx_vnet(void **state)
{
	struct virtio_net_hdr_v1 h = { .flags = VIRTIO_NET_HDR_F_NEEDS_CSUM,
				       .csum_start = 34,
				       .csum_offset = 16 };
	uint8_t frame[1514];
	struct world w;

	world_init(&w, HDR, NET_OFFLOAD_CSUM, BASE_FEAT | OFFLOAD_FEAT, 16);
	assert_true(w.features & F(VIRTIO_NET_F_CSUM));
	make_frame(frame, sizeof(frame), 2);
	assert_true(tx_add(&w, &h, frame, sizeof(frame), 1, false) >= 0);
	kick(&w, 1);
	assert_int_equal(w.f.nsent, 1);
	assert_int_equal(w.f.sent_len[0], HDR + sizeof(frame)); /* passed through */
	assert_memory_equal(w.f.sent[0], &h, HDR);
	assert_memory_equal(w.f.sent[0] + HDR, frame, sizeof(frame));
	expect_used(&w.vr[1], 0);
	world_fini(&w);
}

/* Header and frame scattered over many descriptors, direct and indirect,
 * with the header itself split. */
static void test_tx_split(void **state)
{
	uint8_t frame[3000];
	struct world w;
	unsigned int i;

	world_init(&w, 0, 0, BASE_FEAT | F(VIRTIO_F_RING_INDIRECT_DESC), 64);
	for (i = 0; i < 3; i++) {
		make_frame(frame, sizeof(frame), 10 + i);
		assert_true(tx_add(&w, NULL, frame, sizeof(frame), i == 0 ? 7 : 48, i == 2) >= 0);
	}
	kick(&w, 1);
	assert_int_equal(w.f.nsent, 3);
	for (i = 0; i < 3; i++) {
		make_frame(frame, sizeof(frame), 10 + i);
		assert_int_equal(w.f.sent_len[i], sizeof(frame));
		assert_memory_equal(w.f.sent[i], frame, sizeof(frame));
		expect_used(&w.vr[1], 0);
	}
	world_fini(&w);
}

static void test_tx_eagain(void **state)
{
	uint8_t frame[100];
	struct world w;
	unsigned int i;

	world_init(&w, 0, 0, BASE_FEAT, 16);
	w.f.block = true;
	for (i = 0; i < 3; i++) {
		make_frame(frame, sizeof(frame), 20 + i);
		assert_true(tx_add(&w, NULL, frame, sizeof(frame), 2, false) >= 0);
	}
	kick(&w, 1);
	assert_int_equal(w.f.send_calls, 1);
	assert_int_equal(w.f.nsent, 0);
	expect_no_used(&w.vr[1]);
	/* more kicks while blocked do not retry */
	make_frame(frame, sizeof(frame), 23);
	assert_true(tx_add(&w, NULL, frame, sizeof(frame), 1, false) >= 0);
	kick(&w, 1);
	assert_int_equal(w.f.send_calls, 1);
	/* the backend can take frames again */
	w.f.block = false;
	fnb_report(&w.f, NET_EV_TX);
	assert_int_equal(w.f.nsent, 4);
	for (i = 0; i < 4; i++) {
		make_frame(frame, sizeof(frame), 20 + i);
		assert_memory_equal(w.f.sent[i], frame, sizeof(frame)); /* in order */
		expect_used(&w.vr[1], 0);
	}
	expect_no_used(&w.vr[1]);
	assert_false(needs_reset(&w));
	world_fini(&w);
}

/* The round-cap test's guest: reap used entries and queue a new frame after
 * every send, until 300 frames were queued. */
static unsigned int cap_queued;

static void cap_refill(struct fnb *f)
{
	struct world *w = f->opaque;
	uint8_t frame[64];
	uint32_t id, len;

	while (fg_vring_get_used(&w->vr[1], &id, &len))
		;
	if (cap_queued < 300 && w->vr[1].nfree) {
		make_frame(frame, sizeof(frame), cap_queued);
		assert_true(tx_add(w, NULL, frame, sizeof(frame), 1, false) >= 0);
		cap_queued++;
	}
}

static void test_tx_round_cap(void **state)
{
	uint8_t frame[64];
	struct world w;
	unsigned int i;

	world_init(&w, 0, 0, BASE_FEAT, 256);
	for (cap_queued = 0; cap_queued < 256; cap_queued++) {
		make_frame(frame, sizeof(frame), cap_queued);
		assert_true(tx_add(&w, NULL, frame, sizeof(frame), 1, false) >= 0);
	}
	w.f.on_send = cap_refill;
	w.f.opaque = &w;
	fg_mmio_kick(&w.t, 1);
	assert_int_equal(fg_el_poll(&w.el, 0), 1); /* the kick handler */
	assert_int_equal(w.f.nsent, 256);	   /* one round, then yield... */
	assert_int_equal(cap_queued, 300);
	assert_int_equal(fg_el_poll(&w.el, 0), 1); /* ...to the wake eventfd */
	assert_int_equal(w.f.nsent, 300);
	run_loop(&w);
	for (i = 0; i < 300; i++) {
		make_frame(frame, sizeof(frame), i);
		assert_memory_equal(w.f.sent[i], frame, sizeof(frame));
	}
	world_fini(&w);
}

/* 5.1.6.2 violations: each frame is dropped (used len 0), nothing reaches
 * the backend, the device goes on; a broken ring fails it. */
static void test_tx_malformed(void **state)
{
	struct virtio_net_hdr_v1 csum = { .flags = VIRTIO_NET_HDR_F_NEEDS_CSUM };
	struct virtio_net_hdr_v1 tso = { .gso_type = VIRTIO_NET_HDR_GSO_TCPV4, .gso_size = 1448 };
	uint8_t frame[100];
	uint64_t big, buf;
	struct world w;
	unsigned int i;

	world_init(&w, 0, 0, BASE_FEAT, 16);
	make_frame(frame, sizeof(frame), 30);
	buf = fg_alloc(&w.g, 200, 16);
	fg_write(&w.g, buf + HDR, frame, sizeof(frame));
	/* a writable descriptor */
	assert_true(fg_vring_add(&w.vr[1],
				 (struct fg_buf[]){ { buf, HDR + 100, false }, { buf, 16, true } },
				 2) >= 0);
	/* a header of 8 bytes, and a chain of zero-length descriptors */
	assert_true(fg_vring_add(&w.vr[1], (struct fg_buf[]){ { buf, 8, false } }, 1) >= 0);
	assert_true(fg_vring_add(&w.vr[1],
				 (struct fg_buf[]){ { buf, 0, false }, { buf, 0, false } },
				 2) >= 0);
	/* a header and 13 bytes of frame */
	assert_true(fg_vring_add(&w.vr[1], (struct fg_buf[]){ { buf, HDR + 13, false } }, 1) >= 0);
	/* a frame one byte over NET_FRAME_MAX - 12 */
	big = fg_alloc(&w.g, NET_FRAME_MAX + 1, 16);
	assert_true(fg_vring_add(&w.vr[1], (struct fg_buf[]){ { big, NET_FRAME_MAX + 1, false } },
				 1) >= 0);
	/* offloads a bare backend never offered */
	assert_true(tx_add(&w, &csum, frame, sizeof(frame), 1, false) >= 0);
	assert_true(tx_add(&w, &tso, frame, sizeof(frame), 1, false) >= 0);
	/* and a good frame after them all */
	assert_true(tx_add(&w, NULL, frame, sizeof(frame), 1, false) >= 0);
	kick(&w, 1);
	for (i = 0; i < 8; i++)
		expect_used(&w.vr[1], 0);
	assert_int_equal(w.f.send_calls, 1);
	assert_int_equal(w.f.nsent, 1);
	assert_memory_equal(w.f.sent[0], frame, sizeof(frame));
	assert_false(needs_reset(&w));
	/* the largest legal frame goes through */
	assert_true(fg_vring_add(&w.vr[1], (struct fg_buf[]){ { big, NET_FRAME_MAX, false } }, 1) >=
		    0);
	kick(&w, 1);
	assert_int_equal(w.f.nsent, 2);
	assert_int_equal(w.f.sent_len[1], NET_FRAME_MAX - HDR);
	expect_used(&w.vr[1], 0);
	/* a descriptor outside guest RAM breaks the ring: device needs reset */
	assert_true(fg_vring_add(&w.vr[1], (struct fg_buf[]){ { 1ULL << 40, 100, false } }, 1) >=
		    0);
	kick(&w, 1);
	assert_true(needs_reset(&w));
	assert_int_equal(w.f.nsent, 2);
	assert_false(w.f.rx_enabled); /* a failed device takes no frames */
	world_fini(&w);
}

/* ---- rx ---- */

static void test_rx_single(void **state)
{
	struct virtio_net_hdr_v1 h, want = { .num_buffers = 1 };
	uint8_t frame[100], back[100];
	unsigned int pulses;
	struct world w;
	uint64_t gpa;

	world_init(&w, 0, 0, BASE_FEAT, 16); /* no MRG_RXBUF */
	assert_false(w.features & F(VIRTIO_NET_F_MRG_RXBUF));
	gpa = rx_add(&w, 2048);
	kick(&w, 0);
	make_frame(frame, sizeof(frame), 40);
	fnb_queue(&w.f, frame, sizeof(frame));
	pulses = w.g.irq.pulses;
	fnb_report(&w.f, NET_EV_RX);
	expect_used(&w.vr[0], HDR + sizeof(frame));
	assert_true(w.g.irq.pulses > pulses);
	fg_read(&w.g, gpa, &h, HDR);
	/* 5.1.6.4.1: a zeroed header, num_buffers 1 without MRG_RXBUF */
	assert_memory_equal(&h, &want, HDR);
	fg_read(&w.g, gpa + HDR, back, sizeof(back));
	assert_memory_equal(back, frame, sizeof(frame));
	assert_true(w.f.rx_enabled);
	world_fini(&w);
}

static void test_rx_mrg(void **state)
{
	uint8_t frame[150], back[HDR + 150];
	struct virtio_net_hdr_v1 h;
	uint64_t gpa[3];
	struct world w;
	unsigned int i;

	world_init(&w, 0, 0, BASE_FEAT | F(VIRTIO_NET_F_MRG_RXBUF), 16);
	assert_true(w.features & F(VIRTIO_NET_F_MRG_RXBUF));
	for (i = 0; i < 3; i++)
		gpa[i] = rx_add(&w, 64);
	kick(&w, 0);
	make_frame(frame, sizeof(frame), 41);
	fnb_queue(&w.f, frame, sizeof(frame));
	fnb_report(&w.f, NET_EV_RX);
	/* 162 bytes over 64 + 64 + 34 */
	expect_used(&w.vr[0], 64);
	expect_used(&w.vr[0], 64);
	expect_used(&w.vr[0], 34);
	fg_read(&w.g, gpa[0], back, 64);
	fg_read(&w.g, gpa[1], back + 64, 64);
	fg_read(&w.g, gpa[2], back + 128, 34);
	memcpy(&h, back, HDR);
	assert_int_equal(h.num_buffers, 3);
	assert_int_equal(h.flags, 0);
	assert_int_equal(h.gso_type, 0);
	assert_memory_equal(back + HDR, frame, sizeof(frame));
	world_fini(&w);
}

/* No buffers: the frame waits, rx goes off; buffers + kick deliver it. With
 * MRG_RXBUF a partly filled chain must survive the wait. */
static void test_rx_no_buffers(void **state)
{
	uint8_t frame[100], back[100];
	struct virtio_net_hdr_v1 h;
	uint64_t gpa = 0, gpa2;
	struct world w;
	int mrg;

	for (mrg = 0; mrg < 2; mrg++) {
		world_init(&w, 0, 0, BASE_FEAT | (mrg ? F(VIRTIO_NET_F_MRG_RXBUF) : 0), 16);
		if (mrg)
			gpa = rx_add(&w, 64); /* room for 64 of 112 bytes */
		make_frame(frame, sizeof(frame), 42);
		fnb_queue(&w.f, frame, sizeof(frame));
		make_frame(frame, sizeof(frame), 43);
		fnb_queue(&w.f, frame, sizeof(frame));
		assert_true(w.f.rx_enabled);
		fnb_report(&w.f, NET_EV_RX);
		expect_no_used(&w.vr[0]);
		assert_false(w.f.rx_enabled);	  /* backend rx off while we wait */
		assert_int_equal(w.f.rx_head, 1); /* one frame taken, one left */
		/* a stray report changes nothing */
		w.f.nb.notify(w.f.nb.notify_opaque, NET_EV_RX);
		expect_no_used(&w.vr[0]);
		if (mrg) {
			gpa2 = rx_add(&w, 64);
		} else {
			gpa = rx_add(&w, 2048);
			gpa2 = rx_add(&w, 2048);
		}
		kick(&w, 0);
		/* the kick delivered the first frame and went on reading: the
		 * second one fits only without MRG_RXBUF */
		assert_int_equal(w.f.rx_head, 2);
		assert_true(w.f.rx_enabled == !mrg);
		make_frame(frame, sizeof(frame), 42);
		if (mrg) {
			expect_used(&w.vr[0], 64);
			expect_used(&w.vr[0], 48);
			fg_read(&w.g, gpa, &h, HDR);
			assert_int_equal(h.num_buffers, 2);
			fg_read(&w.g, gpa + HDR, back, 52);
			fg_read(&w.g, gpa2, back + 52, 48);
			assert_memory_equal(back, frame, sizeof(frame));
			/* the second frame waits for buffers again */
			expect_no_used(&w.vr[0]);
			assert_false(w.f.rx_enabled);
			rx_add(&w, 2048);
			kick(&w, 0);
			expect_used(&w.vr[0], HDR + sizeof(frame));
		} else {
			expect_used(&w.vr[0], HDR + sizeof(frame));
			fg_read(&w.g, gpa + HDR, back, sizeof(back));
			assert_memory_equal(back, frame, sizeof(frame));
			expect_used(&w.vr[0], HDR + sizeof(frame));
			make_frame(frame, sizeof(frame), 43);
			fg_read(&w.g, gpa2 + HDR, back, sizeof(back));
			assert_memory_equal(back, frame, sizeof(frame));
		}
		assert_true(w.f.rx_enabled);
		assert_int_equal(w.f.rx_head, 2);
		assert_false(needs_reset(&w));
		world_fini(&w);
	}
}

/* Without MRG_RXBUF a frame bigger than the chain is dropped (used len 0,
 * Linux counts a length error) and the next one is delivered. */
static void test_rx_too_big(void **state)
{
	uint8_t big[200], small[40], back[40];
	struct world w;
	uint64_t gpa;

	world_init(&w, 0, 0, BASE_FEAT, 16);
	rx_add(&w, 64);
	gpa = rx_add(&w, 64);
	kick(&w, 0);
	make_frame(big, sizeof(big), 44);
	make_frame(small, sizeof(small), 45);
	fnb_queue(&w.f, big, sizeof(big));
	fnb_queue(&w.f, small, sizeof(small));
	fnb_report(&w.f, NET_EV_RX);
	expect_used(&w.vr[0], 0);
	expect_used(&w.vr[0], HDR + sizeof(small));
	fg_read(&w.g, gpa + HDR, back, sizeof(back));
	assert_memory_equal(back, small, sizeof(small));
	assert_false(needs_reset(&w));
	world_fini(&w);
}

/* Bad rx chains: readable buffers, or (MRG) smaller than a header: given
 * back empty, the frame goes to the next good chain. */
static void test_rx_bad_chains(void **state)
{
	uint8_t frame[30], back[30];
	struct world w;
	uint64_t buf, gpa;

	world_init(&w, 0, 0, BASE_FEAT | F(VIRTIO_NET_F_MRG_RXBUF), 16);
	buf = fg_alloc(&w.g, 64, 16);
	assert_true(fg_vring_add(&w.vr[0],
				 (struct fg_buf[]){ { buf, 16, false }, { buf + 16, 48, true } },
				 2) >= 0);
	assert_true(fg_vring_add(&w.vr[0], (struct fg_buf[]){ { buf, 11, true } }, 1) >= 0);
	gpa = rx_add(&w, 64);
	kick(&w, 0);
	make_frame(frame, sizeof(frame), 46);
	fnb_queue(&w.f, frame, sizeof(frame));
	fnb_report(&w.f, NET_EV_RX);
	expect_used(&w.vr[0], 0);
	expect_used(&w.vr[0], 0);
	expect_used(&w.vr[0], HDR + sizeof(frame));
	fg_read(&w.g, gpa + HDR, back, sizeof(back));
	assert_memory_equal(back, frame, sizeof(frame));
	assert_false(needs_reset(&w));
	world_fini(&w);
}

/* A vnet-hdr backend's header reaches the guest with num_buffers set; a
 * frame using an offload the guest refused is dropped. */
static void test_rx_vnet(void **state)
{
	struct virtio_net_hdr_v1 h = { .flags = VIRTIO_NET_HDR_F_DATA_VALID }, back_h;
	uint8_t buf[HDR + 80], back[80];
	struct world w;
	uint64_t gpa;

	world_init(&w, HDR, NET_OFFLOAD_CSUM | NET_OFFLOAD_TSO4,
		   BASE_FEAT | F(VIRTIO_NET_F_MRG_RXBUF) | F(VIRTIO_NET_F_GUEST_CSUM), 16);
	assert_int_equal(w.f.offloads, NET_OFFLOAD_CSUM);
	gpa = rx_add(&w, 2048);
	kick(&w, 0);
	/* GSO the guest did not accept: dropped */
	memset(buf, 0, HDR);
	buf[1] = VIRTIO_NET_HDR_GSO_TCPV4;
	make_frame(buf + HDR, 80, 47);
	fnb_queue(&w.f, buf, sizeof(buf));
	memcpy(buf, &h, HDR);
	make_frame(buf + HDR, 80, 48);
	fnb_queue(&w.f, buf, sizeof(buf));
	fnb_report(&w.f, NET_EV_RX);
	expect_used(&w.vr[0], sizeof(buf));
	expect_no_used(&w.vr[0]);
	fg_read(&w.g, gpa, &back_h, HDR);
	assert_int_equal(back_h.flags, VIRTIO_NET_HDR_F_DATA_VALID);
	assert_int_equal(back_h.num_buffers, 1);
	fg_read(&w.g, gpa + HDR, back, sizeof(back));
	assert_memory_equal(back, buf + HDR, sizeof(back));
	world_fini(&w);
}

/* The rx round cap: 256 popped chains per round. With MRG_RXBUF and 64-byte
 * buffers each 112-byte frame takes 2 chains, so a round delivers 128 frames
 * and the rest waits for the wake eventfd, not for another backend report. */
/* The guest gives back what the device used and posts fresh 64-byte
 * buffers, as a running driver would while the device works. */
static unsigned int rx_refilled;

static void rx_refill(struct fnb *f)
{
	struct world *w = f->opaque;
	uint32_t id, len;

	while (fg_vring_get_used(&w->vr[0], &id, &len)) {
		rx_add(w, 64);
		rx_refilled++;
	}
}

/* NET_ROUND_MAX popped chains per round. A round that empties the ring
 * stalls like any other (rx off, kicks on: the next kick resumes); a round
 * that ends with buffers still there yields to the wake eventfd. */
static void test_rx_round_cap(void **state)
{
	uint8_t frame[100], back[100];
	struct world w;
	unsigned int i, used = 0;
	uint32_t id, len;
	uint64_t gpa[4];

	/* 1. 256 buffers, 130 two-chain frames: the round ends the ring. */
	world_init(&w, 0, 0, BASE_FEAT | F(VIRTIO_NET_F_MRG_RXBUF), 256);
	for (i = 0; i < 256; i++)
		rx_add(&w, 64);
	kick(&w, 0);
	for (i = 0; i < 130; i++) {
		make_frame(frame, sizeof(frame), i);
		fnb_queue(&w.f, frame, sizeof(frame));
	}
	fnb_report(&w.f, NET_EV_RX);
	while (fg_vring_get_used(&w.vr[0], &id, &len)) {
		assert_int_equal(len, used % 2 ? HDR + sizeof(frame) - 64 : 64);
		used++;
	}
	assert_int_equal(used, 256);
	assert_int_equal(w.f.rx_head, 128); /* the rest is still in the backend */
	assert_false(w.f.rx_enabled);	    /* stalled: no self-wake for nothing */
	assert_int_equal(fg_vring_used_flags(&w.vr[0]) & FG_USED_F_NO_NOTIFY, 0);
	assert_int_equal(fg_el_poll(&w.el, 0), 0);
	for (i = 0; i < 4; i++)
		gpa[i] = rx_add(&w, 64);
	kick(&w, 0);
	assert_int_equal(w.f.rx_head, 130);
	for (i = 0; i < 4; i++)
		expect_used(&w.vr[0], i % 2 ? HDR + sizeof(frame) - 64 : 64);
	fg_read(&w.g, gpa[2] + HDR, back, 52);
	fg_read(&w.g, gpa[3], back + 52, 48);
	make_frame(frame, sizeof(frame), 129);
	assert_memory_equal(back, frame, sizeof(frame));
	world_fini(&w);

	/* 2. The guest keeps refilling: the round cap yields, rx stays on. */
	world_init(&w, 0, 0, BASE_FEAT | F(VIRTIO_NET_F_MRG_RXBUF), 256);
	for (i = 0; i < 256; i++)
		rx_add(&w, 64);
	kick(&w, 0);
	for (i = 0; i < 200; i++) {
		make_frame(frame, sizeof(frame), i);
		fnb_queue(&w.f, frame, sizeof(frame));
	}
	rx_refilled = 0;
	w.f.on_recv = rx_refill;
	w.f.opaque = &w;
	fnb_report(&w.f, NET_EV_RX);
	assert_int_equal(w.f.rx_head, 128); /* 128 two-chain frames: 256 pops */
	assert_true(w.f.rx_enabled);
	assert_int_equal(fg_el_poll(&w.el, 0), 1); /* the yield's wake-up */
	assert_true(w.f.rx_head > 128);
	run_loop(&w);
	assert_int_equal(w.f.rx_head, 200);
	assert_true(rx_refilled >= 200);
	world_fini(&w);
}

/* Reset with a frame waiting (dropped) and a tx chain held after -EAGAIN
 * (forgotten); after re-initialisation only new traffic flows. */
static void test_reset_pending(void **state)
{
	uint8_t frame[100], back[100];
	struct world w;
	uint64_t gpa;

	world_init(&w, 0, 0, BASE_FEAT | F(VIRTIO_NET_F_MRG_RXBUF), 16);
	make_frame(frame, sizeof(frame), 50);
	fnb_queue(&w.f, frame, sizeof(frame));
	fnb_report(&w.f, NET_EV_RX);
	assert_false(w.f.rx_enabled);
	w.f.block = true;
	assert_true(tx_add(&w, NULL, frame, sizeof(frame), 1, false) >= 0);
	kick(&w, 1);
	assert_int_equal(w.f.send_calls, 1);

	fg_mmio_write32(&w.t, VIRTIO_MMIO_STATUS, 0);
	run_loop(&w);
	assert_false(w.f.rx_enabled);
	w.f.block = false;
	fnb_report(&w.f, NET_EV_TX); /* the held chain is not sent after reset */
	assert_int_equal(w.f.nsent, 0);

	fg_vring_destroy(&w.vr[0]);
	fg_vring_destroy(&w.vr[1]);
	world_start(&w, BASE_FEAT, 16);
	assert_true(w.f.rx_enabled);
	gpa = rx_add(&w, 2048);
	kick(&w, 0);
	make_frame(frame, sizeof(frame), 51);
	fnb_queue(&w.f, frame, sizeof(frame));
	fnb_report(&w.f, NET_EV_RX);
	expect_used(&w.vr[0], HDR + sizeof(frame));
	expect_no_used(&w.vr[0]);
	fg_read(&w.g, gpa + HDR, back, sizeof(back));
	assert_memory_equal(back, frame, sizeof(frame)); /* the new frame, not the old */
	make_frame(frame, sizeof(frame), 52);
	assert_true(tx_add(&w, NULL, frame, sizeof(frame), 1, false) >= 0);
	kick(&w, 1);
	assert_int_equal(w.f.nsent, 1);
	assert_memory_equal(w.f.sent[0], frame, sizeof(frame));
	assert_false(needs_reset(&w));
	world_fini(&w);
}

static void test_create_errors(void **state)
{
	struct virtio_net_params np = { .name = "x" };
	struct event_loop el;
	struct virtio_net *n;
	struct fnb f;

	assert_int_equal(el_init(&el), 0);
	fnb_init(&f, 0, 0);
	assert_int_equal(virtio_net_create(&np, &n), -EINVAL); /* no backend */
	np.backend = &f.nb;
	assert_int_equal(virtio_net_create(&np, &n), -EINVAL); /* no loop */
	np.el = &el;
	f.nb.vnet_hdr_len = 10;
	assert_int_equal(virtio_net_create(&np, &n), -EINVAL); /* odd header */
	f.nb.vnet_hdr_len = 0;
	assert_int_equal(virtio_net_create(&np, &n), 0);
	assert_non_null(f.nb.notify);
	virtio_net_destroy(n);
	assert_null(f.nb.notify);
	el_destroy(&el);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_features),      cmocka_unit_test(test_config),
		cmocka_unit_test(test_tx_bare),	      cmocka_unit_test(test_tx_vnet),
		cmocka_unit_test(test_tx_split),      cmocka_unit_test(test_tx_eagain),
		cmocka_unit_test(test_tx_round_cap),  cmocka_unit_test(test_tx_malformed),
		cmocka_unit_test(test_rx_single),     cmocka_unit_test(test_rx_mrg),
		cmocka_unit_test(test_rx_no_buffers), cmocka_unit_test(test_rx_too_big),
		cmocka_unit_test(test_rx_bad_chains), cmocka_unit_test(test_rx_vnet),
		cmocka_unit_test(test_rx_round_cap),  cmocka_unit_test(test_reset_pending),
		cmocka_unit_test(test_create_errors),
	};

	log_set_level(LOG_ERROR); /* the malformed-chain tests warn on purpose */
	return cmocka_run_group_tests(tests, NULL, NULL);
}
