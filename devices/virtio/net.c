/* SPDX-License-Identifier: MIT */
/*
 * The virtio-net device (virtio 1.2 section 5.1; prefix vnet_, interface in
 * devices/virtio/net.h) over a net backend (prefix netbe_, devices/net/net.h).
 *
 * Threads and locking. Everything runs under the transport lock (dev.lock):
 * config_read/config_write/activate/reset on a vCPU thread, queue_notify on
 * the event-loop thread, and our own two loop handlers, vnet_wake (a
 * device-owned eventfd) and vnet_backend_notify (the backend's notify()),
 * which take the lock themselves. Backend ops are only ever called on the
 * loop thread (net.h), so activate() and reset() never call them: they
 * change our state and write the wake eventfd, and vnet_wake brings the
 * backend in line (rx_enable, set_offloads) from the loop thread. Every loop
 * entry point starts with vnet_sync_backend(), so a backend event that
 * arrives between a reset and its wake-up already sees the new state, and
 * ends with it, so rx follows a stall, a resume or a failure at once.
 * Lock order: transport lock, then whatever the backend locks inside.
 *
 * What the guest can get wrong, and what it costs:
 *  - a structurally broken queue (virtq_pop -EINVAL: loops, bad indices,
 *    buffers outside RAM): the device fails (DEVICE_NEEDS_RESET, 2.1.2);
 *  - a well-formed chain with bad contents (5.1.6.2: a tx chain with
 *    writable buffers, a header shorter than 12 bytes, a frame shorter than
 *    14 or longer than NETBE_FRAME_MAX - 12 bytes, offloads it did not
 *    negotiate; an rx chain with readable buffers, or smaller than a header
 *    with MRG_RXBUF): that chain alone is returned with used len 0, counted
 *    and warned about (rate-limited). The link stays up: Linux never
 *    recovers a virtio-net device from DEVICE_NEEDS_RESET, and one bad
 *    frame does not make the rest of the ring untrustworthy.
 *
 * rx buffer too small without MRG_RXBUF: the frame is dropped and the chain
 * returned with len 0. Linux's receive_buf() treats a used length below
 * hdr_len + ETH_HLEN as a short packet (rx_length_errors), frees the buffer
 * and refills, so the guest sees the drop in its counters instead of a
 * truncated frame. With no guest buffer at all a frame is never dropped: it
 * waits in the device buffer while backend rx is disabled.
 *
 * Reset drops a frame waiting in the device buffer (counted in rx_dropped):
 * the next activation may negotiate other features (MRG_RXBUF, offloads),
 * and a frame read for the old ones may not be deliverable under the new.
 */
#include "devices/virtio/net_priv.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <unistd.h>

#include "base/eventfd.h"
#include "base/iov.h"

static struct vnet *to_vnet(struct virtio_dev *dev)
{
	return (struct vnet *)dev;
}

bool vnet_live(const struct vnet *n)
{
	return n->ctx && !n->failed && n->ctx->nqueues >= 2;
}

void vnet_fail(struct vnet *n, const char *why)
{
	log_warn_ratelimited(&n->rl_guest, "%s: %s; device needs reset", n->dev.name, why);
	n->failed = true;
	n->ctx->fail(n->ctx);
}

/* Ask vnet_wake to run on the loop thread (from any thread). */
void vnet_kick_self(struct vnet *n)
{
	(void)eventfd_signal(n->wake_fd); /* a wake-up: nothing to report */
}

/* 5.1.3.1: the guest offloads, mapped to what the backend understands.
 * A driver that accepted a feature without the one it depends on gets
 * none of the dependent offloads. */
static unsigned int vnet_guest_offloads(const struct vnet *n)
{
	uint64_t f = n->ctx ? n->ctx->features : 0;
	unsigned int o = 0;

	if (n->nb->vnet_hdr_len != VNET_HDR_LEN || !(f & VIRTIO_BIT(VIRTIO_NET_F_GUEST_CSUM)))
		return 0;
	o |= NETBE_OFFLOAD_CSUM;
	if (f & VIRTIO_BIT(VIRTIO_NET_F_GUEST_TSO4))
		o |= NETBE_OFFLOAD_TSO4;
	if (f & VIRTIO_BIT(VIRTIO_NET_F_GUEST_TSO6))
		o |= NETBE_OFFLOAD_TSO6;
	if ((f & VIRTIO_BIT(VIRTIO_NET_F_GUEST_ECN)) &&
	    (o & (NETBE_OFFLOAD_TSO4 | NETBE_OFFLOAD_TSO6)))
		o |= NETBE_OFFLOAD_ECN;
	return o & n->nb->offloads;
}

/* Loop thread: make the backend match our state. Offloads first, so that
 * rx is only enabled once frames come in the negotiated shape. */
static void vnet_sync_backend(struct vnet *n)
{
	struct netbe *nb = n->nb;
	bool rx = vnet_live(n) && !n->rx_stalled;

	if (nb->vnet_hdr_len == VNET_HDR_LEN && nb->ops->set_offloads) {
		unsigned int o = vnet_guest_offloads(n);

		if (o != n->be_offloads) {
			int ret = nb->ops->set_offloads(nb, o);

			if (ret < 0)
				log_warn_ratelimited(&n->rl_be, "%s: set_offloads(0x%x): %s",
						     n->dev.name, o, strerror(-ret));
			n->be_offloads = o; /* no retry storm on a refusal */
		}
	}
	if (rx != n->be_rx) {
		nb->ops->rx_enable(nb, rx);
		n->be_rx = rx;
	}
}

/* ---- tx (5.1.6.2) ---- */

const struct vnet_hdr_rule vnet_tx_rule = { VIRTIO_NET_F_CSUM, VIRTIO_NET_F_HOST_TSO4,
					    VIRTIO_NET_F_HOST_TSO6, VIRTIO_NET_F_HOST_ECN };
const struct vnet_hdr_rule vnet_rx_rule = { VIRTIO_NET_F_GUEST_CSUM, VIRTIO_NET_F_GUEST_TSO4,
					    VIRTIO_NET_F_GUEST_TSO6, VIRTIO_NET_F_GUEST_ECN };

/* Does header `h` only use offloads negotiated in `f`? (5.1.6.2.1 for tx,
 * 5.1.6.4.1 for rx: NEEDS_CSUM only with the CSUM feature, a GSO type only
 * with its TSO feature, the ECN bit only with ECN; UFO is never offered.) */
bool vnet_hdr_allowed(const struct virtio_net_hdr_v1 *h, uint64_t f, const struct vnet_hdr_rule *r)
{
	uint8_t gso = h->gso_type & ~VIRTIO_NET_HDR_GSO_ECN;

	if ((h->flags & VIRTIO_NET_HDR_F_NEEDS_CSUM) && !(f & VIRTIO_BIT(r->csum)))
		return false;
	if ((h->gso_type & VIRTIO_NET_HDR_GSO_ECN) && !(f & VIRTIO_BIT(r->ecn)))
		return false;
	return gso == VIRTIO_NET_HDR_GSO_NONE ||
	       (gso == VIRTIO_NET_HDR_GSO_TCPV4 && (f & VIRTIO_BIT(r->tso4))) ||
	       (gso == VIRTIO_NET_HDR_GSO_TCPV6 && (f & VIRTIO_BIT(r->tso6)));
}

/* Build the iovecs to send for `e`, or say why the frame is dropped. */
static const char *tx_prepare(struct vnet *n, const struct virtq_elem *e, unsigned int *cnt)
{
	struct virtio_net_hdr_v1 h;

	if (e->nin)
		return "writable buffer in a tx chain";
	if (e->out_len < VNET_HDR_LEN)
		return "tx chain shorter than the virtio-net header";
	if (e->out_len - VNET_HDR_LEN < NETBE_FRAME_MIN)
		return "tx frame shorter than an Ethernet header";
	if (e->out_len - VNET_HDR_LEN > NETBE_FRAME_MAX - VNET_HDR_LEN)
		return "tx frame too long";
	/* One copy, then checked. For a vnet-hdr backend the guest's header
	 * goes on in guest memory and could change after this check: it is a
	 * courtesy, the tap kernel validates what it reads itself. */
	(void)virtq_elem_read(e, 0, &h, sizeof(h));
	if (!vnet_hdr_allowed(&h, n->ctx->features, &vnet_tx_rule))
		return "tx header asks for offloads not negotiated";
	if (n->nb->vnet_hdr_len == VNET_HDR_LEN) {
		/* Header and frame straight from guest memory, no copy. */
		memcpy(n->tx_iov, e->iov, e->nout * sizeof(e->iov[0]));
		*cnt = e->nout;
		return NULL;
	}
	/* A bare backend: the same iovecs minus the first 12 bytes. Frames
	 * asking for offloads were refused above: none is offered. */
	*cnt = iov_window(e->iov, e->nout, VNET_HDR_LEN, SIZE_MAX, n->tx_iov);
	return NULL;
}

/* Return the held tx chain (tx used len is always 0: nothing written). */
static bool tx_complete(struct vnet *n, struct virtq *q)
{
	n->tx_held = false;
	if (virtq_push(q, n->tx_elem.head, 0) < 0) {
		vnet_fail(n, "cannot return a tx chain to the used ring");
		return false;
	}
	n->tx_signal = true;
	return true;
}

static void tx_signal(struct vnet *n)
{
	if (n->tx_signal && vnet_live(n))
		n->ctx->signal_used(n->ctx, &n->ctx->queues[VNET_TXQ]);
	n->tx_signal = false;
}

/*
 * Drain the transmitq: at most VNET_ROUND_MAX frames, then yield through the
 * wake eventfd. Kicks are off while we work (2.7.10) and back on before the
 * last emptiness check. On -EAGAIN the popped chain stays in tx_elem (kicks
 * stay off) until NETBE_EV_TX.
 *
 * A recheck that sends us round again costs budget too: a guest can lay its
 * rings over each other so that toggling the notification flag rewrites
 * avail->idx (found by fuzz_net), and "available" then never yields a chain.
 * A round that only spun like that waits for the next kick, not the wake fd.
 */
static void vnet_tx(struct vnet *n)
{
	struct virtq *q = &n->ctx->queues[VNET_TXQ];
	unsigned int served = 0, frames = 0;

	n->tx_resched = false;
	for (;;) {
		virtq_set_notify(q, false);
		while (served < VNET_ROUND_MAX) {
			const char *why;
			unsigned int cnt = 0;
			int ret;

			if (!n->tx_held) {
				ret = virtq_pop(q, &n->tx_elem);
				if (ret < 0) {
					vnet_fail(n, "malformed transmitq");
					return;
				}
				if (ret == 0)
					break;
				n->tx_held = true;
			}
			why = tx_prepare(n, &n->tx_elem, &cnt);
			if (why) {
				log_warn_ratelimited(&n->rl_guest, "%s: %s (%llu bytes); dropped",
						     n->dev.name, why,
						     (unsigned long long)n->tx_elem.out_len);
				n->tx_dropped++;
			} else {
				ret = n->nb->ops->send(n->nb, n->tx_iov, cnt);
				if (ret == -EAGAIN) {
					n->tx_blocked = true;
					goto out;
				}
				if (ret < 0)
					n->tx_errors++; /* the backend dropped and counted it */
				else
					n->tx_frames++;
			}
			if (!tx_complete(n, q))
				return;
			served++;
			frames++;
		}
		if (served >= VNET_ROUND_MAX) {
			/* Kicks back on first: a round that emptied the ring
			 * (a full 256-entry ring is exactly one round) then
			 * waits for the next kick instead of waking itself for
			 * nothing (2 syscalls and 15-20% of the per-frame cost
			 * in bench/virtio_net_pps). */
			virtq_set_notify(q, true);
			if (frames && virtq_has_avail(q)) {
				n->tx_resched = true;
				vnet_kick_self(n);
			}
			goto out;
		}
		virtq_set_notify(q, true);
		if (!virtq_has_avail(q))
			break;
		served++;
	}
out:
	tx_signal(n);
}

/* ---- loop-thread entry points ---- */

static void vnet_queue_notify(struct virtio_dev *dev, unsigned int qidx)
{
	struct vnet *n = to_vnet(dev);

	vnet_sync_backend(n);
	if (!vnet_live(n))
		return;
	if (qidx == VNET_RXQ) {
		n->rx_stalled = false; /* new buffers, maybe */
		vnet_rx(n);
	} else if (qidx == VNET_TXQ && !n->tx_blocked) {
		vnet_tx(n);
	}
	vnet_sync_backend(n); /* rx stalled or resumed, or the device failed */
}

static void vnet_lock(struct vnet *n)
{
	if (n->dev.lock)
		pthread_mutex_lock(n->dev.lock);
}

static void vnet_unlock(struct vnet *n)
{
	if (n->dev.lock)
		pthread_mutex_unlock(n->dev.lock);
}

/* The backend's notify(): from its own loop handlers, never inside an op. */
static void vnet_backend_notify(void *opaque, unsigned int events)
{
	struct vnet *n = opaque;

	vnet_lock(n);
	vnet_sync_backend(n);
	if (events & NETBE_EV_TX)
		n->tx_blocked = false;
	if (vnet_live(n)) {
		if (events & NETBE_EV_TX)
			vnet_tx(n);
		if (vnet_live(n) && (events & NETBE_EV_RX))
			vnet_rx(n);
	}
	vnet_sync_backend(n);
	vnet_unlock(n);
}

/* Our eventfd: activation/reset changed what the backend should do, or a
 * round yielded. */
static void vnet_wake(struct el_source *src, uint32_t events)
{
	struct vnet *n = src->opaque;

	if (eventfd_drain(n->wake_fd) == -EAGAIN)
		return;
	vnet_lock(n);
	vnet_sync_backend(n);
	if (vnet_live(n)) {
		if (n->tx_resched && !n->tx_blocked)
			vnet_tx(n);
		/* After activation and after a yield: frames may wait. */
		if (vnet_live(n))
			vnet_rx(n);
	}
	vnet_sync_backend(n);
	vnet_unlock(n);
}

/* ---- vCPU-side ops ---- */

static uint64_t vnet_features(struct virtio_dev *dev)
{
	return to_vnet(dev)->offered;
}

static void vnet_config_read(struct virtio_dev *dev, uint32_t off, void *data, uint32_t len)
{
	/* The transport checked off + len <= config_size. */
	memcpy(data, to_vnet(dev)->cfg + off, len);
}

static void vnet_config_write(struct virtio_dev *dev, uint32_t off, const void *data, uint32_t len)
{
	struct vnet *n = to_vnet(dev);

	/* 5.1.4: without VIRTIO_NET_F_CTRL_MAC_ADDR (not offered) the MAC is
	 * read-only for a VERSION_1 driver; nothing else is writable. */
	log_warn_ratelimited(&n->rl_cfg, "%s: config write at %u (%u bytes) ignored", dev->name,
			     off, len);
}

static void vnet_forget(struct vnet *n)
{
	if (n->rx_pending)
		n->rx_dropped++; /* see the top of this file */
	n->rx_pending = false;
	n->nheld = 0;
	n->rx_done = 0;
	n->rx_stalled = false;
	n->rx_resched = false;
	n->rx_signal = false;
	n->tx_held = false;
	n->tx_resched = false;
	n->tx_signal = false;
	n->failed = false;
}

static int vnet_activate(struct virtio_dev *dev, struct virtio_ctx *ctx)
{
	struct vnet *n = to_vnet(dev);

	if (ctx->nqueues < 2)
		return -EINVAL;
	vnet_forget(n);
	n->ctx = ctx;
	n->mrg = ctx->features & VIRTIO_BIT(VIRTIO_NET_F_MRG_RXBUF);
	vnet_kick_self(n); /* offloads, rx_enable: on the loop thread */
	return 0;
}

static void vnet_reset(struct virtio_dev *dev)
{
	struct vnet *n = to_vnet(dev);

	/* The held tx chain and the held rx chains belong to the queues the
	 * transport is about to forget: never push them. */
	vnet_forget(n);
	n->ctx = NULL;
	n->mrg = false;
	vnet_kick_self(n); /* rx off, offloads off, on the loop thread */
}

static const struct virtio_dev_ops vnet_ops = {
	.features = vnet_features,
	.config_read = vnet_config_read,
	.config_write = vnet_config_write,
	.activate = vnet_activate,
	.queue_notify = vnet_queue_notify,
	.reset = vnet_reset,
};

/* ---- lifetime ---- */

static uint64_t vnet_offer(const struct netbe *nb)
{
	uint64_t f = VIRTIO_BIT(VIRTIO_NET_F_MAC) | VIRTIO_BIT(VIRTIO_NET_F_STATUS) |
		     VIRTIO_BIT(VIRTIO_NET_F_MRG_RXBUF) | VIRTIO_BIT(VIRTIO_F_RING_EVENT_IDX) |
		     VIRTIO_BIT(VIRTIO_F_RING_INDIRECT_DESC);
	unsigned int o = nb->offloads;

	/* 5.1.3.1 dependencies: TSO needs CSUM, ECN needs a TSO. */
	if (nb->vnet_hdr_len != VNET_HDR_LEN || !(o & NETBE_OFFLOAD_CSUM))
		return f;
	f |= VIRTIO_BIT(VIRTIO_NET_F_CSUM) | VIRTIO_BIT(VIRTIO_NET_F_GUEST_CSUM);
	if (o & NETBE_OFFLOAD_TSO4)
		f |= VIRTIO_BIT(VIRTIO_NET_F_GUEST_TSO4) | VIRTIO_BIT(VIRTIO_NET_F_HOST_TSO4);
	if (o & NETBE_OFFLOAD_TSO6)
		f |= VIRTIO_BIT(VIRTIO_NET_F_GUEST_TSO6) | VIRTIO_BIT(VIRTIO_NET_F_HOST_TSO6);
	if ((o & NETBE_OFFLOAD_ECN) && (o & (NETBE_OFFLOAD_TSO4 | NETBE_OFFLOAD_TSO6)))
		f |= VIRTIO_BIT(VIRTIO_NET_F_GUEST_ECN) | VIRTIO_BIT(VIRTIO_NET_F_HOST_ECN);
	return f;
}

int vnet_create(const struct vnet_params *p, struct vnet **out)
{
	struct netbe *nb = p->backend;
	struct vnet *n;
	int ret;

	if (!nb || !nb->ops || !nb->ops->send || !nb->ops->recv || !nb->ops->rx_enable || !p->el)
		return -EINVAL;
	if (nb->vnet_hdr_len != 0 && nb->vnet_hdr_len != VNET_HDR_LEN)
		return -EINVAL;
	n = calloc(1, sizeof(*n));
	if (!n)
		return -ENOMEM;
	n->wake_fd = -1;
	n->nb = nb;
	n->el = p->el;
	n->name = strdup(p->name ? p->name : "virtio-net");
	n->rx_buf = malloc(VNET_RXBUF_SIZE);
	if (!n->name || !n->rx_buf) {
		ret = -ENOMEM;
		goto err_free;
	}
	/* 5.1.4: mac, status (LINK_UP), max_virtqueue_pairs = 1; LE. */
	memcpy(n->cfg, p->mac, 6);
	n->cfg[6] = VIRTIO_NET_S_LINK_UP;
	n->cfg[8] = 1;
	n->offered = vnet_offer(nb);
	n->be_offloads = ~0U; /* unknown: the first sync sets it */

	n->dev.ops = &vnet_ops;
	n->dev.device_id = VIRTIO_ID_NET;
	n->dev.nqueues = 2;
	n->dev.queue_max_size = VNET_QUEUE_SIZE;
	n->dev.config_size = VNET_CONFIG_SIZE;
	n->dev.name = n->name;

	n->wake_fd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
	if (n->wake_fd < 0) {
		ret = -errno;
		goto err_free;
	}
	n->wake_src = (struct el_source){ .fd = n->wake_fd, .handler = vnet_wake, .opaque = n };
	ret = el_add(n->el, &n->wake_src, EPOLLIN);
	if (ret < 0)
		goto err_free;
	nb->notify = vnet_backend_notify;
	nb->notify_opaque = n;
	*out = n;
	return 0;

err_free:
	if (n->wake_fd >= 0)
		close(n->wake_fd);
	free(n->rx_buf);
	free(n->name);
	free(n);
	return ret;
}

struct virtio_dev *vnet_dev(struct vnet *n)
{
	return &n->dev;
}

void vnet_destroy(struct vnet *n)
{
	if (!n)
		return;
	log_debug("%s: tx %llu frames (%llu dropped, %llu backend errors), rx %llu frames "
		  "(%llu dropped)",
		  n->dev.name, (unsigned long long)n->tx_frames, (unsigned long long)n->tx_dropped,
		  (unsigned long long)n->tx_errors, (unsigned long long)n->rx_frames,
		  (unsigned long long)n->rx_dropped);
	/* The backend outlives us (the caller destroys it after): it must
	 * not call into freed memory. */
	n->nb->notify = NULL;
	n->nb->notify_opaque = NULL;
	el_remove(n->el, &n->wake_src);
	close(n->wake_fd);
	free(n->rx_buf);
	free(n->name);
	free(n);
}
