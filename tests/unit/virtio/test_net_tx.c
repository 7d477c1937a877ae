/* SPDX-License-Identifier: MIT */
/*
 * virtio-net driven through the mmio transport by the fake guest, over the
 * fake backend of net_harness.c: features, config space, the transmit path
 * (scattered, blocked, capped and malformed chains), reset with traffic
 * pending and creation errors. The receive path is in test_net_rx.c.
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
#include "tests/unit/virtio/net_harness.h"

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
	const uint64_t base =
		VIRTIO_BIT(VIRTIO_NET_F_MAC) | VIRTIO_BIT(VIRTIO_NET_F_STATUS) |
		VIRTIO_BIT(VIRTIO_NET_F_MRG_RXBUF) | VIRTIO_BIT(VIRTIO_F_RING_EVENT_IDX) |
		VIRTIO_BIT(VIRTIO_F_RING_INDIRECT_DESC) | VIRTIO_BIT(VIRTIO_F_VERSION_1);
	const unsigned int all =
		NETBE_OFFLOAD_CSUM | NETBE_OFFLOAD_TSO4 | NETBE_OFFLOAD_TSO6 | NETBE_OFFLOAD_ECN;
	struct world w;

	/* a bare backend: no offloads, whatever it claims */
	nh_world_init(&w, 0, all, 0, 0);
	assert_int_equal(fg_mmio_read32(&w.t, VIRTIO_MMIO_DEVICE_ID), VIRTIO_ID_NET);
	fg_mmio_write32(&w.t, VIRTIO_MMIO_QUEUE_SEL, 1);
	assert_int_equal(fg_mmio_read32(&w.t, VIRTIO_MMIO_QUEUE_NUM_MAX), 256);
	fg_mmio_write32(&w.t, VIRTIO_MMIO_QUEUE_SEL, 2);
	assert_int_equal(fg_mmio_read32(&w.t, VIRTIO_MMIO_QUEUE_NUM_MAX), 0); /* no ctrl vq */
	assert_int_equal(offered(&w), base);
	nh_world_start(&w, ~0ULL, 16);
	assert_true(w.f.rx_enabled); /* activation enabled rx from the loop */
	assert_int_equal(w.f.offload_calls, 0);
	nh_world_fini(&w);

	/* a vnet-hdr backend with every offload */
	nh_world_init(&w, HDR, all, 0, 0);
	assert_int_equal(offered(&w), base | OFFLOAD_FEAT);
	nh_world_start(&w, ~0ULL, 16);
	assert_int_equal(w.f.offloads, all);
	assert_true(w.f.rx_enabled);
	/* reset: rx off and offloads off, from the loop thread */
	fg_mmio_write32(&w.t, VIRTIO_MMIO_STATUS, 0);
	assert_true(w.f.rx_enabled); /* not from the vCPU thread */
	nh_run_loop(&w);
	assert_false(w.f.rx_enabled);
	assert_int_equal(w.f.offloads, 0);
	nh_world_fini(&w);

	/* CSUM and TSO4 only: no TSO6, no ECN (ECN needs a TSO it has) */
	nh_world_init(&w, HDR, NETBE_OFFLOAD_CSUM | NETBE_OFFLOAD_TSO4, 0, 0);
	assert_int_equal(offered(&w), base | VIRTIO_BIT(VIRTIO_NET_F_CSUM) |
					      VIRTIO_BIT(VIRTIO_NET_F_GUEST_CSUM) |
					      VIRTIO_BIT(VIRTIO_NET_F_GUEST_TSO4) |
					      VIRTIO_BIT(VIRTIO_NET_F_HOST_TSO4));
	/* the guest takes only GUEST_CSUM */
	nh_world_start(&w, BASE_FEAT | VIRTIO_BIT(VIRTIO_NET_F_GUEST_CSUM), 16);
	assert_int_equal(w.f.offloads, NETBE_OFFLOAD_CSUM);
	nh_world_fini(&w);

	/* without CSUM no offload at all; TSO alone means nothing */
	nh_world_init(&w, HDR, NETBE_OFFLOAD_TSO4 | NETBE_OFFLOAD_ECN, 0, 0);
	assert_int_equal(offered(&w), base);
	nh_world_fini(&w);

	/* a driver accepting GUEST_TSO4 without GUEST_CSUM gets no offload */
	nh_world_init(&w, HDR, all, 0, 0);
	nh_world_start(&w, BASE_FEAT | VIRTIO_BIT(VIRTIO_NET_F_GUEST_TSO4), 16);
	assert_int_equal(w.f.offloads, 0);
	nh_world_fini(&w);
}

static void test_config(void **state)
{
	uint8_t mac[6], b = 0xff;
	uint16_t st = 0, pairs = 0;
	uint32_t v = 0xdead;
	struct world w;
	unsigned int i;

	nh_world_init(&w, 0, 0, BASE_FEAT, 16);
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
	assert_false(nh_needs_reset(&w));
	nh_world_fini(&w);
}

/* ---- tx ---- */

static void test_tx_bare(void **state)
{
	uint8_t frame[60];
	struct world w;
	unsigned int pulses;

	nh_world_init(&w, 0, 0, BASE_FEAT, 16);
	nh_make_frame(frame, sizeof(frame), 1);
	assert_true(nh_tx_add(&w, NULL, frame, sizeof(frame), 1, false) >= 0);
	pulses = w.g.irq.pulses;
	nh_kick(&w, 1);
	assert_int_equal(w.f.nsent, 1);
	assert_int_equal(w.f.sent_len[0], sizeof(frame)); /* header stripped */
	assert_memory_equal(w.f.sent[0], frame, sizeof(frame));
	nh_expect_used(&w.vr[1], 0);
	assert_true(w.g.irq.pulses > pulses);
	assert_false(nh_needs_reset(&w));
	nh_world_fini(&w);
}

static void test_tx_vnet(void **state)
{
	struct virtio_net_hdr_v1 h = { .flags = VIRTIO_NET_HDR_F_NEEDS_CSUM,
				       .csum_start = 34,
				       .csum_offset = 16 };
	uint8_t frame[1514];
	struct world w;

	nh_world_init(&w, HDR, NETBE_OFFLOAD_CSUM, BASE_FEAT | OFFLOAD_FEAT, 16);
	assert_true(w.features & VIRTIO_BIT(VIRTIO_NET_F_CSUM));
	nh_make_frame(frame, sizeof(frame), 2);
	assert_true(nh_tx_add(&w, &h, frame, sizeof(frame), 1, false) >= 0);
	nh_kick(&w, 1);
	assert_int_equal(w.f.nsent, 1);
	assert_int_equal(w.f.sent_len[0], HDR + sizeof(frame)); /* passed through */
	assert_memory_equal(w.f.sent[0], &h, HDR);
	assert_memory_equal(w.f.sent[0] + HDR, frame, sizeof(frame));
	nh_expect_used(&w.vr[1], 0);
	nh_world_fini(&w);
}

/* Header and frame scattered over many descriptors, direct and indirect,
 * with the header itself split. */
static void test_tx_split(void **state)
{
	uint8_t frame[3000];
	struct world w;
	unsigned int i;

	nh_world_init(&w, 0, 0, BASE_FEAT | VIRTIO_BIT(VIRTIO_F_RING_INDIRECT_DESC), 64);
	for (i = 0; i < 3; i++) {
		nh_make_frame(frame, sizeof(frame), 10 + i);
		assert_true(nh_tx_add(&w, NULL, frame, sizeof(frame), i == 0 ? 7 : 48, i == 2) >=
			    0);
	}
	nh_kick(&w, 1);
	assert_int_equal(w.f.nsent, 3);
	for (i = 0; i < 3; i++) {
		nh_make_frame(frame, sizeof(frame), 10 + i);
		assert_int_equal(w.f.sent_len[i], sizeof(frame));
		assert_memory_equal(w.f.sent[i], frame, sizeof(frame));
		nh_expect_used(&w.vr[1], 0);
	}
	nh_world_fini(&w);
}

static void test_tx_eagain(void **state)
{
	uint8_t frame[100];
	struct world w;
	unsigned int i;

	nh_world_init(&w, 0, 0, BASE_FEAT, 16);
	w.f.block = true;
	for (i = 0; i < 3; i++) {
		nh_make_frame(frame, sizeof(frame), 20 + i);
		assert_true(nh_tx_add(&w, NULL, frame, sizeof(frame), 2, false) >= 0);
	}
	nh_kick(&w, 1);
	assert_int_equal(w.f.send_calls, 1);
	assert_int_equal(w.f.nsent, 0);
	nh_expect_no_used(&w.vr[1]);
	/* more kicks while blocked do not retry */
	nh_make_frame(frame, sizeof(frame), 23);
	assert_true(nh_tx_add(&w, NULL, frame, sizeof(frame), 1, false) >= 0);
	nh_kick(&w, 1);
	assert_int_equal(w.f.send_calls, 1);
	/* the backend can take frames again */
	w.f.block = false;
	nh_fnb_report(&w.f, NETBE_EV_TX);
	assert_int_equal(w.f.nsent, 4);
	for (i = 0; i < 4; i++) {
		nh_make_frame(frame, sizeof(frame), 20 + i);
		assert_memory_equal(w.f.sent[i], frame, sizeof(frame)); /* in order */
		nh_expect_used(&w.vr[1], 0);
	}
	nh_expect_no_used(&w.vr[1]);
	assert_false(nh_needs_reset(&w));
	nh_world_fini(&w);
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
		nh_make_frame(frame, sizeof(frame), cap_queued);
		assert_true(nh_tx_add(w, NULL, frame, sizeof(frame), 1, false) >= 0);
		cap_queued++;
	}
}

static void test_tx_round_cap(void **state)
{
	uint8_t frame[64];
	struct world w;
	unsigned int i;

	nh_world_init(&w, 0, 0, BASE_FEAT, 256);
	for (cap_queued = 0; cap_queued < 256; cap_queued++) {
		nh_make_frame(frame, sizeof(frame), cap_queued);
		assert_true(nh_tx_add(&w, NULL, frame, sizeof(frame), 1, false) >= 0);
	}
	w.f.on_send = cap_refill;
	w.f.opaque = &w;
	fg_mmio_kick(&w.t, 1);
	assert_int_equal(fg_el_poll(&w.el, 0), 1); /* the kick handler */
	assert_int_equal(w.f.nsent, 256);	   /* one round, then yield... */
	assert_int_equal(cap_queued, 300);
	assert_int_equal(fg_el_poll(&w.el, 0), 1); /* ...to the wake eventfd */
	assert_int_equal(w.f.nsent, 300);
	nh_run_loop(&w);
	for (i = 0; i < 300; i++) {
		nh_make_frame(frame, sizeof(frame), i);
		assert_memory_equal(w.f.sent[i], frame, sizeof(frame));
	}
	nh_world_fini(&w);
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

	nh_world_init(&w, 0, 0, BASE_FEAT, 16);
	nh_make_frame(frame, sizeof(frame), 30);
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
	/* a frame one byte over NETBE_FRAME_MAX - 12 */
	big = fg_alloc(&w.g, NETBE_FRAME_MAX + 1, 16);
	assert_true(fg_vring_add(&w.vr[1], (struct fg_buf[]){ { big, NETBE_FRAME_MAX + 1, false } },
				 1) >= 0);
	/* offloads a bare backend never offered */
	assert_true(nh_tx_add(&w, &csum, frame, sizeof(frame), 1, false) >= 0);
	assert_true(nh_tx_add(&w, &tso, frame, sizeof(frame), 1, false) >= 0);
	/* and a good frame after them all */
	assert_true(nh_tx_add(&w, NULL, frame, sizeof(frame), 1, false) >= 0);
	nh_kick(&w, 1);
	for (i = 0; i < 8; i++)
		nh_expect_used(&w.vr[1], 0);
	assert_int_equal(w.f.send_calls, 1);
	assert_int_equal(w.f.nsent, 1);
	assert_memory_equal(w.f.sent[0], frame, sizeof(frame));
	assert_false(nh_needs_reset(&w));
	/* the largest legal frame goes through */
	assert_true(fg_vring_add(&w.vr[1], (struct fg_buf[]){ { big, NETBE_FRAME_MAX, false } },
				 1) >= 0);
	nh_kick(&w, 1);
	assert_int_equal(w.f.nsent, 2);
	assert_int_equal(w.f.sent_len[1], NETBE_FRAME_MAX - HDR);
	nh_expect_used(&w.vr[1], 0);
	/* a descriptor outside guest RAM breaks the ring: device needs reset */
	assert_true(fg_vring_add(&w.vr[1], (struct fg_buf[]){ { 1ULL << 40, 100, false } }, 1) >=
		    0);
	nh_kick(&w, 1);
	assert_true(nh_needs_reset(&w));
	assert_int_equal(w.f.nsent, 2);
	assert_false(w.f.rx_enabled); /* a failed device takes no frames */
	nh_world_fini(&w);
}

/* Reset with a frame waiting (dropped) and a tx chain held after -EAGAIN
 * (forgotten); after re-initialisation only new traffic flows. */
static void test_reset_pending(void **state)
{
	uint8_t frame[100], back[100];
	struct world w;
	uint64_t gpa;

	nh_world_init(&w, 0, 0, BASE_FEAT | VIRTIO_BIT(VIRTIO_NET_F_MRG_RXBUF), 16);
	nh_make_frame(frame, sizeof(frame), 50);
	nh_fnb_queue(&w.f, frame, sizeof(frame));
	nh_fnb_report(&w.f, NETBE_EV_RX);
	assert_false(w.f.rx_enabled);
	w.f.block = true;
	assert_true(nh_tx_add(&w, NULL, frame, sizeof(frame), 1, false) >= 0);
	nh_kick(&w, 1);
	assert_int_equal(w.f.send_calls, 1);

	fg_mmio_write32(&w.t, VIRTIO_MMIO_STATUS, 0);
	nh_run_loop(&w);
	assert_false(w.f.rx_enabled);
	w.f.block = false;
	nh_fnb_report(&w.f, NETBE_EV_TX); /* the held chain is not sent after reset */
	assert_int_equal(w.f.nsent, 0);

	fg_vring_destroy(&w.vr[0]);
	fg_vring_destroy(&w.vr[1]);
	nh_world_start(&w, BASE_FEAT, 16);
	assert_true(w.f.rx_enabled);
	gpa = nh_rx_add(&w, 2048);
	nh_kick(&w, 0);
	nh_make_frame(frame, sizeof(frame), 51);
	nh_fnb_queue(&w.f, frame, sizeof(frame));
	nh_fnb_report(&w.f, NETBE_EV_RX);
	nh_expect_used(&w.vr[0], HDR + sizeof(frame));
	nh_expect_no_used(&w.vr[0]);
	fg_read(&w.g, gpa + HDR, back, sizeof(back));
	assert_memory_equal(back, frame, sizeof(frame)); /* the new frame, not the old */
	nh_make_frame(frame, sizeof(frame), 52);
	assert_true(nh_tx_add(&w, NULL, frame, sizeof(frame), 1, false) >= 0);
	nh_kick(&w, 1);
	assert_int_equal(w.f.nsent, 1);
	assert_memory_equal(w.f.sent[0], frame, sizeof(frame));
	assert_false(nh_needs_reset(&w));
	nh_world_fini(&w);
}

static void test_create_errors(void **state)
{
	struct vnet_params np = { .name = "x" };
	struct event_loop el;
	struct vnet *n;
	struct fnb f;

	assert_int_equal(el_init(&el), 0);
	nh_fnb_init(&f, 0, 0);
	assert_int_equal(vnet_create(&np, &n), -EINVAL); /* no backend */
	np.backend = &f.nb;
	assert_int_equal(vnet_create(&np, &n), -EINVAL); /* no loop */
	np.el = &el;
	f.nb.vnet_hdr_len = 10;
	assert_int_equal(vnet_create(&np, &n), -EINVAL); /* odd header */
	f.nb.vnet_hdr_len = 0;
	assert_int_equal(vnet_create(&np, &n), 0);
	assert_non_null(f.nb.notify);
	vnet_destroy(n);
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
		cmocka_unit_test(test_reset_pending), cmocka_unit_test(test_create_errors),
	};

	log_set_level(LOG_ERROR); /* the malformed-chain tests warn on purpose */
	return cmocka_run_group_tests(tests, NULL, NULL);
}
