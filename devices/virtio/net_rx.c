/* SPDX-License-Identifier: MIT */
/*
 * virtio-net receive path (virtio 1.2 sections 5.1.6.3, 5.1.6.4): frames
 * from the backend into the receiveq. See net.c for threads, locking and
 * what a guest's mistakes cost; everything here runs on the loop thread
 * under dev.lock.
 */
#include <errno.h>
#include <string.h>

#include "devices/virtio/net_priv.h"

static void rx_signal(struct vnet *n)
{
	if (n->rx_signal && vnet_live(n))
		n->ctx->signal_used(n->ctx, &n->ctx->queues[VNET_RXQ]);
	n->rx_signal = false;
}

static bool rx_push(struct vnet *n, struct virtq *q, uint16_t head, uint32_t len)
{
	if (virtq_push(q, head, len) < 0) {
		vnet_fail(n, "cannot return an rx chain to the used ring");
		return false;
	}
	n->rx_signal = true;
	return true;
}

static void rx_drop_frame(struct vnet *n)
{
	n->rx_pending = false;
	n->rx_dropped++;
}

/* The byte at offset `off` of the writable part of `e` (the caller checked
 * that in_len > off). */
static uint8_t *elem_in_byte(const struct virtq_elem *e, size_t off)
{
	unsigned int i;

	for (i = e->nout; i < e->nout + e->nin; i++) {
		if (off < e->iov[i].iov_len)
			return (uint8_t *)e->iov[i].iov_base + off;
		off -= e->iov[i].iov_len;
	}
	return NULL;
}

/*
 * Hand the pending frame to the guest. Returns 1 when it is done with
 * (delivered or dropped), 0 when the guest has not (yet) given enough
 * buffers, 2 when `budget` pops are used up, -1 when the device failed.
 * With MRG_RXBUF, chains are filled as they are popped and held until the
 * frame is complete; then num_buffers goes into the first one (5.1.6.4)
 * and all are pushed together, so the driver finds them consecutive in the
 * used ring (Linux receive_mergeable relies on that).
 */
static int rx_deliver(struct vnet *n, unsigned int *budget)
{
	struct virtq *q = &n->ctx->queues[VNET_RXQ];
	struct virtq_elem *e = &n->rx_elem;
	unsigned int i;

	while (n->rx_done < n->rx_len) {
		size_t chunk;
		int ret;

		if (*budget == 0)
			return 2;
		ret = virtq_pop(q, e);
		if (ret < 0) {
			vnet_fail(n, "malformed receiveq");
			return -1;
		}
		if (ret == 0) {
			/* Every head of the ring is already ours and the frame
			 * still does not fit: it never will (the driver can add
			 * no buffer). Drop it and give the chains back empty. */
			if (n->nheld && n->nheld >= q->size) {
				log_warn_ratelimited(&n->rl_guest,
						     "%s: %zu-byte frame larger than the whole "
						     "receiveq; dropped",
						     n->dev.name, n->rx_len);
				goto drop_held;
			}
			return 0;
		}
		(*budget)--;
		if (e->nout || (n->mrg && e->in_len < VNET_HDR_LEN)) {
			log_warn_ratelimited(
				&n->rl_guest, "%s: rx chain %s; returned unused", n->dev.name,
				e->nout ? "with readable buffers" : "shorter than a header");
			if (!rx_push(n, q, e->head, 0))
				return -1;
			continue;
		}
		if (!n->mrg) {
			uint32_t len = (uint32_t)n->rx_len;

			if (e->in_len < n->rx_len) {
				log_warn_ratelimited(&n->rl_guest,
						     "%s: %zu-byte frame, %llu-byte rx buffer "
						     "(no MRG_RXBUF); dropped",
						     n->dev.name, n->rx_len,
						     (unsigned long long)e->in_len);
				len = 0;
				n->rx_dropped++;
			} else {
				n->rx_frames++;
				(void)virtq_elem_write(e, 0, n->rx_buf, n->rx_len);
			}
			n->rx_pending = false;
			return rx_push(n, q, e->head, len) ? 1 : -1;
		}
		chunk = n->rx_len - n->rx_done;
		if (chunk > e->in_len)
			chunk = e->in_len;
		(void)virtq_elem_write(e, 0, n->rx_buf + n->rx_done, chunk);
		if (n->nheld == 0) {
			n->num_buffers[0] = elem_in_byte(e, 10);
			n->num_buffers[1] = elem_in_byte(e, 11);
		}
		/* nheld < q->size: each held head is in flight, and a head in
		 * flight is never popped again (queue.c). */
		n->held[n->nheld++] = (struct vnet_held){ e->head, (uint32_t)chunk };
		n->rx_done += chunk;
	}
	/* 5.1.6.4: num_buffers, little-endian. virtq_push's release store
	 * of used->idx orders these writes before the driver sees them. */
	*n->num_buffers[0] = (uint8_t)n->nheld;
	*n->num_buffers[1] = (uint8_t)(n->nheld >> 8);
	for (i = 0; i < n->nheld; i++)
		if (!rx_push(n, q, n->held[i].head, n->held[i].len))
			return -1;
	n->nheld = 0;
	n->rx_pending = false;
	n->rx_frames++;
	return 1;

drop_held:
	for (i = 0; i < n->nheld; i++)
		if (!rx_push(n, q, n->held[i].head, 0))
			return -1;
	n->nheld = 0;
	rx_drop_frame(n);
	return 1;
}

/* Read the next frame from the backend into rx_buf. 1 if one is pending
 * now, 0 if the backend has none, -1 if it was malformed (dropped). */
static int rx_fetch(struct vnet *n)
{
	struct virtio_net_hdr_v1 *h = (struct virtio_net_hdr_v1 *)n->rx_buf;
	bool vnet = n->nb->vnet_hdr_len == VNET_HDR_LEN;
	uint8_t *dst = vnet ? n->rx_buf : n->rx_buf + VNET_HDR_LEN;
	uint64_t f = n->ctx->features;
	ssize_t r;

	r = n->nb->ops->recv(n->nb, dst, NETBE_FRAME_MAX);
	if (r == -EAGAIN)
		return 0;
	if (r < 0) {
		log_warn_ratelimited(&n->rl_be, "%s: backend recv: %s", n->dev.name,
				     strerror((int)-r));
		return 0;
	}
	if ((size_t)r > NETBE_FRAME_MAX ||
	    (size_t)r < (vnet ? VNET_HDR_LEN : 0) + NETBE_FRAME_MIN) {
		log_warn_ratelimited(&n->rl_be, "%s: backend gave a %zd-byte frame; dropped",
				     n->dev.name, r);
		n->rx_dropped++;
		return -1;
	}
	n->rx_len = (size_t)r + (vnet ? 0 : VNET_HDR_LEN);
	n->rx_done = 0;
	n->nheld = 0;
	if (!vnet) {
		memset(h, 0, VNET_HDR_LEN);
	} else {
		/* 5.1.6.4.1: only offloads the guest accepted (set_offloads
		 * saw to it; this covers the switch-over), and flags 0 without
		 * GUEST_CSUM (no DATA_VALID either). */
		if (!vnet_hdr_allowed(h, f, &vnet_rx_rule)) {
			log_warn_ratelimited(&n->rl_be,
					     "%s: backend frame uses offloads the guest "
					     "did not accept; dropped",
					     n->dev.name);
			n->rx_dropped++;
			return -1;
		}
		if (!(f & VIRTIO_BIT(VIRTIO_NET_F_GUEST_CSUM)))
			h->flags = 0;
	}
	/* 5.1.6.4.1: 1 without MRG_RXBUF; with it, rx_deliver writes the
	 * real count into the guest's copy. */
	h->num_buffers = 1;
	n->rx_pending = true;
	return 1;
}

/*
 * Move frames from the backend to the receiveq until the backend has none,
 * the guest has no buffers (the frame stays pending, backend rx goes off,
 * and the driver's next receiveq kick resumes), or the round's budget is
 * spent (we continue from the wake eventfd).
 */
void vnet_rx(struct vnet *n)
{
	struct virtq *q = &n->ctx->queues[VNET_RXQ];
	unsigned int budget = VNET_ROUND_MAX;

	n->rx_resched = false;
	while (!n->failed) {
		int ret;

		if (!n->rx_pending) {
			if (budget == 0) {
				/* Only go round again if the guest has buffers
				 * left; otherwise this is a stall like any other
				 * (the next receiveq kick resumes us), not a
				 * self-wake that finds an empty ring. */
				virtq_set_notify(q, true);
				if (virtq_has_avail(q))
					goto resched;
				n->rx_stalled = true;
				break;
			}
			ret = rx_fetch(n);
			if (ret == 0)
				break;
			if (ret < 0) {
				budget--; /* a backend spewing junk cannot hold the loop */
				continue;
			}
		}
		ret = rx_deliver(n, &budget);
		if (ret < 0)
			return;
		if (ret == 2)
			goto resched;
		if (ret == 0) {
			/* Out of buffers: ask for a kick, then look once more
			 * (2.7.10) so a buffer added meanwhile is not missed. */
			virtq_set_notify(q, true);
			if (virtq_has_avail(q))
				continue;
			n->rx_stalled = true;
			break;
		}
		n->rx_stalled = false;
		/* Buffers are there: the driver need not kick for more. */
		if (q->notify_enabled)
			virtq_set_notify(q, false);
	}
	goto out;
resched:
	n->rx_resched = true;
	vnet_kick_self(n);
out:
	rx_signal(n);
}
