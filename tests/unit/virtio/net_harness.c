/* SPDX-License-Identifier: MIT */
/* The virtio-net tests' fake backend and world: see net_harness.h. */
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

/* ---------------------------------------------------------------------- */
/* The fake backend                                                        */

static int fnb_send(struct netbe *nb, const struct iovec *iov, unsigned int cnt)
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

static ssize_t fnb_recv(struct netbe *nb, void *buf, size_t len)
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

static void fnb_rx_enable(struct netbe *nb, bool enable)
{
	struct fnb *f = (struct fnb *)nb;

	if (!enable)
		f->rx_disables++;
	f->rx_enabled = enable;
}

static int fnb_set_offloads(struct netbe *nb, unsigned int offloads)
{
	struct fnb *f = (struct fnb *)nb;

	assert_int_equal(offloads & ~nb->offloads, 0); /* a subset of what it has */
	f->offloads = offloads;
	f->offload_calls++;
	return 0;
}

static const struct netbe_ops fnb_ops = {
	.send = fnb_send,
	.recv = fnb_recv,
	.rx_enable = fnb_rx_enable,
	.set_offloads = fnb_set_offloads,
};

void nh_fnb_init(struct fnb *f, unsigned int vnet_hdr_len, unsigned int offloads)
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
void nh_fnb_queue(struct fnb *f, const void *frame, size_t len)
{
	assert_true(f->rx_tail - f->rx_head < MAX_RXQ);
	f->rxq[f->rx_tail % MAX_RXQ] = malloc(len);
	assert_non_null(f->rxq[f->rx_tail % MAX_RXQ]);
	memcpy(f->rxq[f->rx_tail % MAX_RXQ], frame, len);
	f->rxq_len[f->rx_tail++ % MAX_RXQ] = len;
}

/* What a backend's handler does when frames wait and rx is enabled. */
void nh_fnb_report(struct fnb *f, unsigned int events)
{
	assert_non_null(f->nb.notify);
	if ((events & NETBE_EV_RX) && (!f->rx_enabled || f->rx_head == f->rx_tail))
		events &= ~NETBE_EV_RX;
	if (events)
		f->nb.notify(f->nb.notify_opaque, events);
}

/* ---------------------------------------------------------------------- */
/* The device through the transport                                       */

/* Run every ready loop handler until none is left. */
void nh_run_loop(struct world *w)
{
	int i;

	for (i = 0; i < 1000; i++)
		if (fg_el_poll(&w->el, 0) == 0)
			return;
	fail_msg("event loop never went idle");
}

void nh_world_start(struct world *w, uint64_t want, uint16_t qsize)
{
	fg_vring_init(&w->g, &w->vr[0], qsize);
	fg_vring_init(&w->g, &w->vr[1], qsize);
	assert_int_equal(fg_mmio_start(&w->t, want, w->vr, 2, &w->features), 0);
	nh_run_loop(w); /* the device's wake-up: offloads, rx_enable */
}

void nh_world_init(struct world *w, unsigned int vnet_hdr_len, unsigned int offloads, uint64_t want,
		   uint16_t qsize)
{
	struct vnet_params np = { .mac = { 0x52, 0x54, 0x00, 0x12, 0x34, 0x56 },
				  .name = "virtio-net test" };
	struct virtio_mmio_params mp = { 0 };

	memset(w, 0, sizeof(*w));
	assert_int_equal(el_init(&w->el), 0);
	fg_init(&w->g, 8 << 20);
	nh_fnb_init(&w->f, vnet_hdr_len, offloads);
	np.backend = &w->f.nb;
	np.el = &w->el;
	assert_int_equal(vnet_create(&np, &w->n), 0);
	mp.mem = &w->g.mem;
	mp.el = &w->el;
	mp.irq = &w->g.irq.line;
	assert_int_equal(virtio_mmio_init(&w->t, vnet_dev(w->n), &mp), 0);
	if (qsize)
		nh_world_start(w, want, qsize);
}

void nh_world_fini(struct world *w)
{
	virtio_mmio_destroy(&w->t);
	vnet_destroy(w->n);
	/* the backend outlives the device and must not call back into it */
	assert_null(w->f.nb.notify);
	fg_vring_destroy(&w->vr[0]);
	fg_vring_destroy(&w->vr[1]);
	fnb_fini(&w->f);
	fg_destroy(&w->g);
	el_destroy(&w->el);
}

bool nh_needs_reset(struct world *w)
{
	return fg_mmio_read32(&w->t, VIRTIO_MMIO_STATUS) & VIRTIO_STATUS_DEVICE_NEEDS_RESET;
}

void nh_kick(struct world *w, unsigned int q)
{
	fg_mmio_kick(&w->t, q);
	nh_run_loop(w);
}

void nh_make_frame(uint8_t *p, size_t len, unsigned int seed)
{
	size_t i;

	for (i = 0; i < len; i++)
		p[i] = (uint8_t)(i * 13 + seed * 7 + 1);
}

/* Put header + frame in guest RAM and queue it on the transmitq as `nseg`
 * readable descriptors of (about) equal size; returns the head. */
int nh_tx_add(struct world *w, const struct virtio_net_hdr_v1 *h, const uint8_t *frame, size_t len,
	      unsigned int nseg, bool indirect)
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
uint64_t nh_rx_add(struct world *w, uint32_t len)
{
	uint64_t gpa = fg_alloc(&w->g, len, 16);
	struct fg_buf b = { gpa, len, true };

	memset(fg_ptr(&w->g, gpa, len), 0xee, len);
	assert_true(fg_vring_add(&w->vr[0], &b, 1) >= 0);
	return gpa;
}

void nh_expect_used(struct fg_vring *vr, uint32_t want_len)
{
	uint32_t id, len;

	assert_true(fg_vring_get_used(vr, &id, &len));
	assert_int_equal(len, want_len);
}

void nh_expect_no_used(struct fg_vring *vr)
{
	uint32_t id, len;

	assert_false(fg_vring_get_used(vr, &id, &len));
}
