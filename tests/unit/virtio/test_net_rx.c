/* SPDX-License-Identifier: MIT */
/*
 * virtio-net's receive path driven through the mmio transport by the fake
 * guest, over the fake backend of net_harness.c: single and mergeable
 * buffers, waiting for buffers, frames too big for a chain, bad chains, a
 * vnet-hdr backend's header and the round cap. The transmit path, features
 * and reset are in test_net_tx.c.
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

static void test_rx_single(void **state)
{
	struct virtio_net_hdr_v1 h, want = { .num_buffers = 1 };
	uint8_t frame[100], back[100];
	unsigned int pulses;
	struct world w;
	uint64_t gpa;

	nh_world_init(&w, 0, 0, BASE_FEAT, 16); /* no MRG_RXBUF */
	assert_false(w.features & VIRTIO_BIT(VIRTIO_NET_F_MRG_RXBUF));
	gpa = nh_rx_add(&w, 2048);
	nh_kick(&w, 0);
	nh_make_frame(frame, sizeof(frame), 40);
	nh_fnb_queue(&w.f, frame, sizeof(frame));
	pulses = w.g.irq.pulses;
	nh_fnb_report(&w.f, NETBE_EV_RX);
	nh_expect_used(&w.vr[0], HDR + sizeof(frame));
	assert_true(w.g.irq.pulses > pulses);
	fg_read(&w.g, gpa, &h, HDR);
	/* 5.1.6.4.1: a zeroed header, num_buffers 1 without MRG_RXBUF */
	assert_memory_equal(&h, &want, HDR);
	fg_read(&w.g, gpa + HDR, back, sizeof(back));
	assert_memory_equal(back, frame, sizeof(frame));
	assert_true(w.f.rx_enabled);
	nh_world_fini(&w);
}

static void test_rx_mrg(void **state)
{
	uint8_t frame[150], back[HDR + 150];
	struct virtio_net_hdr_v1 h;
	uint64_t gpa[3];
	struct world w;
	unsigned int i;

	nh_world_init(&w, 0, 0, BASE_FEAT | VIRTIO_BIT(VIRTIO_NET_F_MRG_RXBUF), 16);
	assert_true(w.features & VIRTIO_BIT(VIRTIO_NET_F_MRG_RXBUF));
	for (i = 0; i < 3; i++)
		gpa[i] = nh_rx_add(&w, 64);
	nh_kick(&w, 0);
	nh_make_frame(frame, sizeof(frame), 41);
	nh_fnb_queue(&w.f, frame, sizeof(frame));
	nh_fnb_report(&w.f, NETBE_EV_RX);
	/* 162 bytes over 64 + 64 + 34 */
	nh_expect_used(&w.vr[0], 64);
	nh_expect_used(&w.vr[0], 64);
	nh_expect_used(&w.vr[0], 34);
	fg_read(&w.g, gpa[0], back, 64);
	fg_read(&w.g, gpa[1], back + 64, 64);
	fg_read(&w.g, gpa[2], back + 128, 34);
	memcpy(&h, back, HDR);
	assert_int_equal(h.num_buffers, 3);
	assert_int_equal(h.flags, 0);
	assert_int_equal(h.gso_type, 0);
	assert_memory_equal(back + HDR, frame, sizeof(frame));
	nh_world_fini(&w);
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
		nh_world_init(&w, 0, 0, BASE_FEAT | (mrg ? VIRTIO_BIT(VIRTIO_NET_F_MRG_RXBUF) : 0),
			      16);
		if (mrg)
			gpa = nh_rx_add(&w, 64); /* room for 64 of 112 bytes */
		nh_make_frame(frame, sizeof(frame), 42);
		nh_fnb_queue(&w.f, frame, sizeof(frame));
		nh_make_frame(frame, sizeof(frame), 43);
		nh_fnb_queue(&w.f, frame, sizeof(frame));
		assert_true(w.f.rx_enabled);
		nh_fnb_report(&w.f, NETBE_EV_RX);
		nh_expect_no_used(&w.vr[0]);
		assert_false(w.f.rx_enabled);	  /* backend rx off while we wait */
		assert_int_equal(w.f.rx_head, 1); /* one frame taken, one left */
		/* a stray report changes nothing */
		w.f.nb.notify(w.f.nb.notify_opaque, NETBE_EV_RX);
		nh_expect_no_used(&w.vr[0]);
		if (mrg) {
			gpa2 = nh_rx_add(&w, 64);
		} else {
			gpa = nh_rx_add(&w, 2048);
			gpa2 = nh_rx_add(&w, 2048);
		}
		nh_kick(&w, 0);
		/* the kick delivered the first frame and went on reading: the
		 * second one fits only without MRG_RXBUF */
		assert_int_equal(w.f.rx_head, 2);
		assert_true(w.f.rx_enabled == !mrg);
		nh_make_frame(frame, sizeof(frame), 42);
		if (mrg) {
			nh_expect_used(&w.vr[0], 64);
			nh_expect_used(&w.vr[0], 48);
			fg_read(&w.g, gpa, &h, HDR);
			assert_int_equal(h.num_buffers, 2);
			fg_read(&w.g, gpa + HDR, back, 52);
			fg_read(&w.g, gpa2, back + 52, 48);
			assert_memory_equal(back, frame, sizeof(frame));
			/* the second frame waits for buffers again */
			nh_expect_no_used(&w.vr[0]);
			assert_false(w.f.rx_enabled);
			nh_rx_add(&w, 2048);
			nh_kick(&w, 0);
			nh_expect_used(&w.vr[0], HDR + sizeof(frame));
		} else {
			nh_expect_used(&w.vr[0], HDR + sizeof(frame));
			fg_read(&w.g, gpa + HDR, back, sizeof(back));
			assert_memory_equal(back, frame, sizeof(frame));
			nh_expect_used(&w.vr[0], HDR + sizeof(frame));
			nh_make_frame(frame, sizeof(frame), 43);
			fg_read(&w.g, gpa2 + HDR, back, sizeof(back));
			assert_memory_equal(back, frame, sizeof(frame));
		}
		assert_true(w.f.rx_enabled);
		assert_int_equal(w.f.rx_head, 2);
		assert_false(nh_needs_reset(&w));
		nh_world_fini(&w);
	}
}

/* Without MRG_RXBUF a frame bigger than the chain is dropped (used len 0,
 * Linux counts a length error) and the next one is delivered. */
static void test_rx_too_big(void **state)
{
	uint8_t big[200], small[40], back[40];
	struct world w;
	uint64_t gpa;

	nh_world_init(&w, 0, 0, BASE_FEAT, 16);
	nh_rx_add(&w, 64);
	gpa = nh_rx_add(&w, 64);
	nh_kick(&w, 0);
	nh_make_frame(big, sizeof(big), 44);
	nh_make_frame(small, sizeof(small), 45);
	nh_fnb_queue(&w.f, big, sizeof(big));
	nh_fnb_queue(&w.f, small, sizeof(small));
	nh_fnb_report(&w.f, NETBE_EV_RX);
	nh_expect_used(&w.vr[0], 0);
	nh_expect_used(&w.vr[0], HDR + sizeof(small));
	fg_read(&w.g, gpa + HDR, back, sizeof(back));
	assert_memory_equal(back, small, sizeof(small));
	assert_false(nh_needs_reset(&w));
	nh_world_fini(&w);
}

/* Bad rx chains: readable buffers, or (MRG) smaller than a header: given
 * back empty, the frame goes to the next good chain. */
static void test_rx_bad_chains(void **state)
{
	uint8_t frame[30], back[30];
	struct world w;
	uint64_t buf, gpa;

	nh_world_init(&w, 0, 0, BASE_FEAT | VIRTIO_BIT(VIRTIO_NET_F_MRG_RXBUF), 16);
	buf = fg_alloc(&w.g, 64, 16);
	assert_true(fg_vring_add(&w.vr[0],
				 (struct fg_buf[]){ { buf, 16, false }, { buf + 16, 48, true } },
				 2) >= 0);
	assert_true(fg_vring_add(&w.vr[0], (struct fg_buf[]){ { buf, 11, true } }, 1) >= 0);
	gpa = nh_rx_add(&w, 64);
	nh_kick(&w, 0);
	nh_make_frame(frame, sizeof(frame), 46);
	nh_fnb_queue(&w.f, frame, sizeof(frame));
	nh_fnb_report(&w.f, NETBE_EV_RX);
	nh_expect_used(&w.vr[0], 0);
	nh_expect_used(&w.vr[0], 0);
	nh_expect_used(&w.vr[0], HDR + sizeof(frame));
	fg_read(&w.g, gpa + HDR, back, sizeof(back));
	assert_memory_equal(back, frame, sizeof(frame));
	assert_false(nh_needs_reset(&w));
	nh_world_fini(&w);
}

/* A vnet-hdr backend's header reaches the guest with num_buffers set; a
 * frame using an offload the guest refused is dropped. */
static void test_rx_vnet(void **state)
{
	struct virtio_net_hdr_v1 h = { .flags = VIRTIO_NET_HDR_F_DATA_VALID }, back_h;
	uint8_t buf[HDR + 80], back[80];
	struct world w;
	uint64_t gpa;

	nh_world_init(&w, HDR, NETBE_OFFLOAD_CSUM | NETBE_OFFLOAD_TSO4,
		      BASE_FEAT | VIRTIO_BIT(VIRTIO_NET_F_MRG_RXBUF) |
			      VIRTIO_BIT(VIRTIO_NET_F_GUEST_CSUM),
		      16);
	assert_int_equal(w.f.offloads, NETBE_OFFLOAD_CSUM);
	gpa = nh_rx_add(&w, 2048);
	nh_kick(&w, 0);
	/* GSO the guest did not accept: dropped */
	memset(buf, 0, HDR);
	buf[1] = VIRTIO_NET_HDR_GSO_TCPV4;
	nh_make_frame(buf + HDR, 80, 47);
	nh_fnb_queue(&w.f, buf, sizeof(buf));
	memcpy(buf, &h, HDR);
	nh_make_frame(buf + HDR, 80, 48);
	nh_fnb_queue(&w.f, buf, sizeof(buf));
	nh_fnb_report(&w.f, NETBE_EV_RX);
	nh_expect_used(&w.vr[0], sizeof(buf));
	nh_expect_no_used(&w.vr[0]);
	fg_read(&w.g, gpa, &back_h, HDR);
	assert_int_equal(back_h.flags, VIRTIO_NET_HDR_F_DATA_VALID);
	assert_int_equal(back_h.num_buffers, 1);
	fg_read(&w.g, gpa + HDR, back, sizeof(back));
	assert_memory_equal(back, buf + HDR, sizeof(back));
	nh_world_fini(&w);
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
		nh_rx_add(w, 64);
		rx_refilled++;
	}
}

/* VNET_ROUND_MAX popped chains per round. A round that empties the ring
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
	nh_world_init(&w, 0, 0, BASE_FEAT | VIRTIO_BIT(VIRTIO_NET_F_MRG_RXBUF), 256);
	for (i = 0; i < 256; i++)
		nh_rx_add(&w, 64);
	nh_kick(&w, 0);
	for (i = 0; i < 130; i++) {
		nh_make_frame(frame, sizeof(frame), i);
		nh_fnb_queue(&w.f, frame, sizeof(frame));
	}
	nh_fnb_report(&w.f, NETBE_EV_RX);
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
		gpa[i] = nh_rx_add(&w, 64);
	nh_kick(&w, 0);
	assert_int_equal(w.f.rx_head, 130);
	for (i = 0; i < 4; i++)
		nh_expect_used(&w.vr[0], i % 2 ? HDR + sizeof(frame) - 64 : 64);
	fg_read(&w.g, gpa[2] + HDR, back, 52);
	fg_read(&w.g, gpa[3], back + 52, 48);
	nh_make_frame(frame, sizeof(frame), 129);
	assert_memory_equal(back, frame, sizeof(frame));
	nh_world_fini(&w);

	/* 2. The guest keeps refilling: the round cap yields, rx stays on. */
	nh_world_init(&w, 0, 0, BASE_FEAT | VIRTIO_BIT(VIRTIO_NET_F_MRG_RXBUF), 256);
	for (i = 0; i < 256; i++)
		nh_rx_add(&w, 64);
	nh_kick(&w, 0);
	for (i = 0; i < 200; i++) {
		nh_make_frame(frame, sizeof(frame), i);
		nh_fnb_queue(&w.f, frame, sizeof(frame));
	}
	rx_refilled = 0;
	w.f.on_recv = rx_refill;
	w.f.opaque = &w;
	nh_fnb_report(&w.f, NETBE_EV_RX);
	assert_int_equal(w.f.rx_head, 128); /* 128 two-chain frames: 256 pops */
	assert_true(w.f.rx_enabled);
	assert_int_equal(fg_el_poll(&w.el, 0), 1); /* the yield's wake-up */
	assert_true(w.f.rx_head > 128);
	nh_run_loop(&w);
	assert_int_equal(w.f.rx_head, 200);
	assert_true(rx_refilled >= 200);
	nh_world_fini(&w);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_rx_single),     cmocka_unit_test(test_rx_mrg),
		cmocka_unit_test(test_rx_no_buffers), cmocka_unit_test(test_rx_too_big),
		cmocka_unit_test(test_rx_bad_chains), cmocka_unit_test(test_rx_vnet),
		cmocka_unit_test(test_rx_round_cap),
	};

	log_set_level(LOG_ERROR); /* the bad-chain tests warn on purpose */
	return cmocka_run_group_tests(tests, NULL, NULL);
}
