/* SPDX-License-Identifier: MIT */
/*
 * libFuzzer target: the virtio-net device (devices/virtio/net.c) driven
 * through its ops by a hostile guest and a scripted backend.
 *
 * Guest RAM is two exactly-sized malloc'd regions with a hole between them
 * (as in fuzz_virtq), filled from the input; both queues' rings lie where
 * the header says. A script then kicks the queues, has the backend report
 * frames (of fuzzed sizes and, for a vnet-hdr backend, fuzzed headers) or
 * refuse and re-accept sends, resets and re-activates the device, and lets
 * the guest rewrite RAM between steps. AddressSanitizer catches any access
 * outside guest RAM or the device's buffers; the checks below catch frames
 * the device must never hand to a backend.
 *
 * Input layout:
 *   0  u8  flags: 1 vnet-hdr backend, 2 MRG_RXBUF, 4 INDIRECT_DESC,
 *          8 EVENT_IDX, 16 offloads (CSUM/TSO/ECN both ways)
 *   1  u8  log2 rx queue size (mod 9), 2 u8 log2 tx queue size (mod 9)
 *   3  u16 x 6: rx desc/avail/used, tx desc/avail/used gpas (in RAM0)
 *   15 u8  script length n (mod 33), then n script bytes
 *   .. the rest: RAM0 contents
 */
#include <errno.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>

#include "devices/virtio/net.h"
#include "base/event_loop.h"
#include "base/log.h"

#define RAM0_SIZE 0x10000ULL
#define RAM1_GPA  0x11000ULL
#define RAM1_SIZE 0x1000ULL
#define HDR	  16

#define CHECK(c)                 \
	do {                     \
		if (!(c))        \
			abort(); \
	} while (0)

struct fz {
	struct netbe nb;
	bool block;
	const uint8_t *script; /* frame sizes and headers come from here too */
	size_t nscript, pos;
	unsigned int rx_left; /* frames the backend still has */
	bool failed;
};

int LLVMFuzzerInitialize(int *argc, char ***argv);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
	log_set_level(LOG_ERROR); /* the guest's mistakes warn */
	return 0;
}

static uint8_t next_byte(struct fz *z)
{
	return z->nscript ? z->script[z->pos++ % z->nscript] : 0;
}

static int fz_send(struct netbe *nb, const struct iovec *iov, unsigned int cnt)
{
	struct fz *z = (struct fz *)nb;
	volatile uint8_t sink = 0;
	size_t len = 0;
	unsigned int i;

	if (z->block)
		return -EAGAIN;
	for (i = 0; i < cnt; i++) {
		volatile const uint8_t *p = iov[i].iov_base;

		CHECK(iov[i].iov_len > 0);
		sink ^= p[0] ^ p[iov[i].iov_len - 1]; /* ASan: inside guest RAM */
		len += iov[i].iov_len;
	}
	(void)sink;
	/* what net.h promises a backend: a whole, sane frame */
	CHECK(len >= nb->vnet_hdr_len + 14 && len <= NETBE_FRAME_MAX);
	if (!nb->vnet_hdr_len)
		CHECK(len <= NETBE_FRAME_MAX - 12);
	return next_byte(z) == 7 ? -EIO : 0;
}

static ssize_t fz_recv(struct netbe *nb, void *buf, size_t len)
{
	struct fz *z = (struct fz *)nb;
	uint8_t b = next_byte(z);
	size_t n;

	CHECK(len >= NETBE_FRAME_MAX);
	if (!z->rx_left)
		return -EAGAIN;
	z->rx_left--;
	/* mostly small frames, some huge ones (merged over many buffers),
	 * and some too short to be a frame at all */
	n = b & 0x80 ? NETBE_FRAME_MAX - (b & 0x7f) * 500 : (size_t)b * 23;
	if (!nb->vnet_hdr_len && n > NETBE_FRAME_MAX - 12)
		n = NETBE_FRAME_MAX - 12;
	memset(buf, b, n);
	if (nb->vnet_hdr_len && n >= 12) {
		((uint8_t *)buf)[0] = next_byte(z) & 3; /* flags */
		((uint8_t *)buf)[1] = next_byte(z);	/* gso_type */
	}
	return (ssize_t)n;
}

static void fz_rx_enable(struct netbe *nb, bool enable)
{
}

static int fz_set_offloads(struct netbe *nb, unsigned int offloads)
{
	CHECK(!(offloads & ~nb->offloads));
	return 0;
}

static const struct netbe_ops fz_ops = {
	.send = fz_send,
	.recv = fz_recv,
	.rx_enable = fz_rx_enable,
	.set_offloads = fz_set_offloads,
};

static void ctx_signal(struct virtio_ctx *ctx, struct virtq *q)
{
	(void)virtq_should_notify(q);
}

static void ctx_fail(struct virtio_ctx *ctx)
{
	((struct fz *)ctx->transport)->failed = true;
}

static void ctx_config(struct virtio_ctx *ctx)
{
}

static void run_loop(struct event_loop *el)
{
	struct epoll_event evs[8];
	int i, n, rounds;

	for (rounds = 0; rounds < 64; rounds++) {
		n = epoll_wait(el->epfd, evs, 8, 0);
		if (n <= 0)
			return;
		for (i = 0; i < n; i++) {
			struct el_source *src = evs[i].data.ptr;

			if (src)
				src->handler(src, evs[i].events);
		}
	}
}

static uint16_t le16(const uint8_t *p)
{
	return (uint16_t)(p[0] | (p[1] << 8));
}

/* The transport's part of DRIVER_OK: set up the queues that are valid. */
static void activate(struct virtio_dev *dev, struct virtio_ctx *ctx, struct virtq *q,
		     const struct virtq *setup, const struct guest_mem *mem)
{
	unsigned int i;

	for (i = 0; i < 2; i++) {
		q[i] = setup[i];
		if (virtq_init(&q[i], mem, ctx->features))
			q[i].ready = false;
	}
	CHECK(dev->ops->activate(dev, ctx) == 0);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct guest_mem mem = { 0 };
	struct vnet_params np = { .name = "fuzz" };
	struct virtio_ctx ctx = { 0 };
	struct virtq q[2] = { 0 }, setup[2] = { 0 };
	struct event_loop el;
	struct vnet *n = NULL;
	struct virtio_dev *dev;
	uint8_t *ram0 = NULL, *ram1 = NULL;
	struct fz z = { 0 };
	size_t nscript, off;
	unsigned int i;
	uint8_t flags;

	if (size < HDR || el_init(&el))
		return 0;
	flags = data[0];
	nscript = data[15] % 33;
	off = HDR + nscript;
	if (off > size)
		goto out;
	z.script = data + HDR;
	z.nscript = nscript;
	ram0 = calloc(1, RAM0_SIZE);
	ram1 = calloc(1, RAM1_SIZE);
	if (!ram0 || !ram1)
		goto out;
	memcpy(ram0, data + off, size - off < RAM0_SIZE ? size - off : RAM0_SIZE);
	if (gm_add_region(&mem, 0, RAM0_SIZE, ram0) ||
	    gm_add_region(&mem, RAM1_GPA, RAM1_SIZE, ram1))
		goto out;

	z.nb.ops = &fz_ops;
	z.nb.name = "fuzz";
	z.nb.vnet_hdr_len = flags & 1 ? 12 : 0;
	z.nb.offloads = flags & 16 ? NETBE_OFFLOAD_CSUM | NETBE_OFFLOAD_TSO4 | NETBE_OFFLOAD_TSO6 |
					     NETBE_OFFLOAD_ECN
				   : 0;
	np.backend = &z.nb;
	np.el = &el;
	if (vnet_create(&np, &n))
		goto out;
	dev = vnet_dev(n);

	/* What the driver accepted: any subset of the offer, so also
	 * combinations that break 5.1.3.1's dependencies. */
	ctx.features = dev->ops->features(dev) | VIRTIO_BIT(VIRTIO_F_VERSION_1);
	if (!(flags & 2))
		ctx.features &= ~VIRTIO_BIT(VIRTIO_NET_F_MRG_RXBUF);
	if (!(flags & 4))
		ctx.features &= ~VIRTIO_BIT(VIRTIO_F_RING_INDIRECT_DESC);
	if (!(flags & 8))
		ctx.features &= ~VIRTIO_BIT(VIRTIO_F_RING_EVENT_IDX);
	ctx.features &= ~((uint64_t)(data[1] >> 4) << VIRTIO_NET_F_GUEST_TSO4);
	ctx.mem = &mem;
	ctx.queues = q;
	ctx.nqueues = 2;
	ctx.signal_used = ctx_signal;
	ctx.fail = ctx_fail;
	ctx.config_changed = ctx_config;
	ctx.transport = &z;
	for (i = 0; i < 2; i++) {
		setup[i].size = (uint16_t)(1U << (data[1 + i] % 9));
		setup[i].desc_gpa = le16(data + 3 + 6 * i);
		setup[i].avail_gpa = le16(data + 5 + 6 * i);
		setup[i].used_gpa = le16(data + 7 + 6 * i);
		setup[i].ready = true;
	}
	activate(dev, &ctx, q, setup, &mem);
	run_loop(&el);

	for (i = 0; i < nscript; i++) {
		uint8_t op = z.script[i];

		switch (op % 8) {
		case 0:
		case 1: /* a kick, unless the device failed (the transport's rule) */
			if (!z.failed)
				dev->ops->queue_notify(dev, op % 2);
			break;
		case 2: /* frames arrive */
			z.rx_left += 1 + (op >> 5);
			z.nb.notify(z.nb.notify_opaque, NETBE_EV_RX);
			break;
		case 3: /* the backend blocks or unblocks */
			z.block = !z.block;
			if (!z.block)
				z.nb.notify(z.nb.notify_opaque, NETBE_EV_TX);
			break;
		case 4:
			run_loop(&el);
			break;
		case 5: /* reset and a new DRIVER_OK */
			dev->ops->reset(dev);
			virtq_destroy(&q[0]);
			virtq_destroy(&q[1]);
			z.failed = false;
			run_loop(&el);
			activate(dev, &ctx, q, setup, &mem);
			break;
		default: /* the guest rewrites a byte of RAM (rings included) */
			if (i + 2 < nscript)
				ram0[le16(z.script + i + 1) % RAM0_SIZE] = op;
			break;
		}
	}
	run_loop(&el);
	dev->ops->reset(dev);
	virtq_destroy(&q[0]);
	virtq_destroy(&q[1]);
	run_loop(&el);
	vnet_destroy(n);
	CHECK(z.nb.notify == NULL);
out:
	el_destroy(&el);
	gm_destroy(&mem);
	free(ram0);
	free(ram1);
	return 0;
}
