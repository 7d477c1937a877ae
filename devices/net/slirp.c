/* SPDX-License-Identifier: MIT */
/*
 * The user-mode NAT backend: libslirp (4.x, SlirpConfig version 4) driven
 * from vmm's event loop.
 *
 * The loop side (timers, sockets, the service cycle, libslirp's
 * callbacks) is in slirp_loop.c, which also says how slirp meets the loop.
 *
 * Why notify() never runs inside an op: slirp answers ARP, ICMP echo to the
 * gateway and DHCP synchronously inside slirp_input(), i.e. inside send(),
 * and its send_packet callback runs there. net.h forbids calling notify()
 * from an op (the device holds its lock), so send_packet only queues the
 * frame in a bounded FIFO and writes the wake eventfd; the wake handler
 * reports NETBE_EV_RX. send() also writes it, because slirp_input may have
 * opened sockets that must join the epoll set.
 *
 * Backpressure ("rx waits for guest buffers"). slirp itself never waits: it
 * hands frames to send_packet whenever it has them. So the backend stops
 * feeding slirp from the host instead: while rx is disabled, or while the
 * FIFO is above its high-water mark (3/4 of 512 frames or 4 MiB), the
 * private epoll source leaves the main loop and slirp_pollfds_poll sees no
 * revents for any socket (its timers still run). Host data then stays in
 * the kernel's socket buffers, so TCP peers see a full window instead of
 * losing data, and the loop does not spin on ready sockets nobody reads.
 * Reading resumes when rx is enabled and the FIFO has drained below a
 * quarter (hysteresis, so we do not flap per frame). What still arrives
 * while paused (TCP retransmits, timer-driven frames, replies to the
 * guest's own tx) is bounded by the FIFO caps; beyond them frames are
 * dropped and counted in rx_dropped, like a full NIC ring.
 *
 * Threads: everything here runs on the event-loop thread (net.h).
 */
#include "devices/net/slirp.h"

#include <errno.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <sys/timerfd.h>
#include <unistd.h>

#include <slirp/libslirp.h>

#include "devices/net/slirp_priv.h"
#include "base/err.h"
#include "base/log.h"

/* Bare Ethernet frames (no vnet header): a 64 KiB payload plus Ethernet
 * and VLAN headers. */
#define SLIRP_TX_MAX (65536 + 18)

/* The rx FIFO between slirp's send_packet and recv(). */
#define RX_FIFO_FRAMES 512u
#define RX_FIFO_BYTES  (4u << 20)
/* Stop reading host sockets at 3/4, resume below 1/4. */
#define RX_HIGH_FRAMES (RX_FIFO_FRAMES * 3 / 4)
#define RX_HIGH_BYTES  (RX_FIFO_BYTES / 4 * 3)
#define RX_LOW_FRAMES  (RX_FIFO_FRAMES / 4)
#define RX_LOW_BYTES   (RX_FIFO_BYTES / 4)

struct rx_frame {
	size_t len;
	uint8_t data[];
};

static struct netbe_slirp *to_slirp(struct netbe *nb)
{
	return (struct netbe_slirp *)nb;
}

/* ---- rx FIFO ---- */

static void fifo_free_all(struct netbe_slirp *s)
{
	while (s->fifo_count) {
		free(s->fifo[s->fifo_head]);
		s->fifo[s->fifo_head] = NULL;
		s->fifo_head = (s->fifo_head + 1) % RX_FIFO_FRAMES;
		s->fifo_count--;
	}
	s->fifo_bytes = 0;
}

/* slirp's send_packet: a frame for the guest. May run inside send(). */
ssize_t netbe_slirp_send_packet(const void *buf, size_t len, void *opaque)
{
	struct netbe_slirp *s = opaque;
	struct rx_frame *f;

	/* Returning len even when we drop: slirp would only log a negative
	 * value, and the drop is counted here. */
	if (s->fifo_count >= RX_FIFO_FRAMES || len > RX_FIFO_BYTES - s->fifo_bytes) {
		s->nb.stats.rx_dropped++;
		return (ssize_t)len;
	}
	f = malloc(sizeof(*f) + len);
	if (!f) {
		s->nb.stats.rx_dropped++;
		return (ssize_t)len;
	}
	f->len = len;
	memcpy(f->data, buf, len);
	s->fifo[(s->fifo_head + s->fifo_count) % RX_FIFO_FRAMES] = f;
	s->fifo_count++;
	s->fifo_bytes += len;
	if (!s->rx_full && (s->fifo_count >= RX_HIGH_FRAMES || s->fifo_bytes >= RX_HIGH_BYTES)) {
		s->rx_full = true;
		netbe_slirp_update_reading(s);
	}
	/* Inside a service cycle the handler reports rx when it ends. */
	if (!s->in_service)
		netbe_slirp_kick(s);
	return (ssize_t)len;
}

/* ---- backend ops ---- */

static int slirp_send(struct netbe *nb, const struct iovec *iov, unsigned int iovcnt)
{
	struct netbe_slirp *s = to_slirp(nb);
	size_t len = 0;
	unsigned int i;

	for (i = 0; i < iovcnt; i++) {
		if (iov[i].iov_len > SLIRP_TX_MAX - len) {
			nb->stats.tx_dropped++;
			return -EINVAL;
		}
		if (iov[i].iov_len)
			memcpy(s->txbuf + len, iov[i].iov_base, iov[i].iov_len);
		len += iov[i].iov_len;
	}
	if (len < NETBE_FRAME_MIN) {
		nb->stats.tx_dropped++;
		return -EINVAL;
	}
	/* May call send_packet (ARP/ICMP/DHCP answers) and open sockets. */
	slirp_input(s->slirp, s->txbuf, (int)len);
	nb->stats.tx_frames++;
	nb->stats.tx_bytes += len;
	/* A cycle syncs new sockets into the epoll set and reports rx. */
	netbe_slirp_kick(s);
	return 0;
}

static ssize_t slirp_recv(struct netbe *nb, void *buf, size_t len)
{
	struct netbe_slirp *s = to_slirp(nb);

	while (s->fifo_count) {
		struct rx_frame *f = s->fifo[s->fifo_head];
		ssize_t ret = -1;

		s->fifo[s->fifo_head] = NULL;
		s->fifo_head = (s->fifo_head + 1) % RX_FIFO_FRAMES;
		s->fifo_count--;
		s->fifo_bytes -= f->len;
		if (f->len <= len) {
			memcpy(buf, f->data, f->len);
			ret = (ssize_t)f->len;
			nb->stats.rx_frames++;
			nb->stats.rx_bytes += f->len;
		} else {
			nb->stats.rx_dropped++;
		}
		free(f);
		if (s->rx_full && s->fifo_count <= RX_LOW_FRAMES && s->fifo_bytes <= RX_LOW_BYTES) {
			s->rx_full = false;
			netbe_slirp_update_reading(s);
		}
		if (ret >= 0)
			return ret;
	}
	return -EAGAIN;
}

static void slirp_rx_enable(struct netbe *nb, bool enable)
{
	struct netbe_slirp *s = to_slirp(nb);

	s->rx_enabled = enable;
	netbe_slirp_update_reading(s);
	/* Frames may be waiting, and sockets may be ready: a cycle reports
	 * them from a handler, never from inside this op. */
	if (enable)
		netbe_slirp_kick(s);
}

/* Also the unwinding path of a create that failed half-way: every field is
 * either set up or at its "absent" value (NULL, -1, false). */
static void slirp_free(struct netbe_slirp *s)
{
	if (s->poll_in_loop)
		el_remove(s->el, &s->poll_src);
	if (s->timer_added)
		el_remove(s->el, &s->timer_src);
	if (s->wake_added)
		el_remove(s->el, &s->wake_src);
	s->poll_in_loop = s->timer_added = s->wake_added = false;
	/* Calls unregister_poll_fd and timer_free: our tables must be alive. */
	if (s->slirp)
		slirp_cleanup(s->slirp);
	while (s->timers) {
		struct slirp_timer *t = s->timers;

		s->timers = t->next;
		free(t);
	}
	if (s->fifo)
		fifo_free_all(s);
	if (s->poll_src.fd >= 0)
		close(s->poll_src.fd);
	if (s->timer_src.fd >= 0)
		close(s->timer_src.fd);
	if (s->wake_src.fd >= 0)
		close(s->wake_src.fd);
	free(s->fifo);
	free(s->pfds);
	free(s->fds);
	free(s->txbuf);
	free(s);
}

static void slirp_destroy(struct netbe *nb)
{
	slirp_free(to_slirp(nb));
}

static const struct netbe_ops slirp_ops = {
	.send = slirp_send,
	.recv = slirp_recv,
	.rx_enable = slirp_rx_enable,
	.set_offloads = netbe_no_offloads,
	.destroy = slirp_destroy,
};

/* ---- configuration checks (the CLI checks too; we do not trust it) ---- */

/* "hostfwd=tcp:127.0.0.1:2222-:22", as the user would have written it. */
static void fmt_rule(char *buf, size_t len, const struct netbe_hostfwd *f)
{
	char h[INET_ADDRSTRLEN], g[INET_ADDRSTRLEN] = "";

	netbe_fmt_ip(h, sizeof(h), f->host_addr);
	if (f->guest_addr.s_addr)
		netbe_fmt_ip(g, sizeof(g), f->guest_addr);
	snprintf(buf, len, "hostfwd=%s:%s:%u-%s:%u", f->udp ? "udp" : "tcp", h, f->host_port, g,
		 f->guest_port);
}

__attribute__((warn_unused_result)) static int
add_hostfwds(struct netbe_slirp *s, const struct netbe_user_config *cfg, char *err, size_t errlen)
{
	unsigned int i;

	for (i = 0; i < cfg->nfwd; i++) {
		const struct netbe_hostfwd *f = &cfg->fwd[i];
		struct in_addr guest = f->guest_addr.s_addr ? f->guest_addr : cfg->dhcp_start;
		char rule[96], h[INET_ADDRSTRLEN];
		int ret;

		errno = 0;
		if (slirp_add_hostfwd(s->slirp, f->udp, f->host_addr, f->host_port, guest,
				      f->guest_port) == 0)
			continue;
		/* slirp keeps bind()'s errno; 0 would mean it failed elsewhere. */
		ret = errno ? -errno : -EADDRINUSE;
		fmt_rule(rule, sizeof(rule), f);
		netbe_fmt_ip(h, sizeof(h), f->host_addr);
		return err_set(err, errlen, ret, "%s: cannot bind %s:%u (%s)", rule, h,
			       f->host_port, strerror(-ret));
	}
	return 0;
}

int netbe_slirp_create(const struct netbe_user_config *cfg, struct event_loop *el,
		       struct netbe **out, char *err, size_t errlen)
{
	SlirpConfig sc = {
		.version = 4,
		.restricted = cfg->restricted,
		.in_enabled = true,
		.vnetwork = cfg->net,
		.vnetmask = cfg->mask,
		.vhost = cfg->host,
		.in6_enabled = false,
		.vhostname = "vmm",
		.vdhcp_start = cfg->dhcp_start,
		.vnameserver = cfg->dns,
	};
	struct netbe_slirp *s;
	int ret;

	ret = netbe_user_config_check(cfg, err, errlen);
	if (ret)
		return ret;
	s = calloc(1, sizeof(*s));
	if (!s)
		goto nomem;
	s->nb = (struct netbe){ .ops = &slirp_ops, .name = "user" };
	s->el = el;
	s->poll_src = (struct el_source){ .fd = -1, .handler = netbe_slirp_handler, .opaque = s };
	s->timer_src = (struct el_source){ .fd = -1, .handler = netbe_slirp_handler, .opaque = s };
	s->wake_src = (struct el_source){ .fd = -1, .handler = netbe_slirp_handler, .opaque = s };
	s->fifo = calloc(RX_FIFO_FRAMES, sizeof(*s->fifo));
	s->txbuf = malloc(SLIRP_TX_MAX);
	if (!s->fifo || !s->txbuf)
		goto nomem_free;

	s->poll_src.fd = epoll_create1(EPOLL_CLOEXEC);
	if (s->poll_src.fd < 0)
		goto sys_err;
	s->timer_src.fd = timerfd_create(CLOCK_MONOTONIC, TFD_NONBLOCK | TFD_CLOEXEC);
	if (s->timer_src.fd < 0)
		goto sys_err;
	s->wake_src.fd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
	if (s->wake_src.fd < 0)
		goto sys_err;

	s->slirp = slirp_new(&sc, &netbe_slirp_callbacks, s);
	if (!s->slirp)
		goto nomem_free;
	ret = add_hostfwds(s, cfg, err, errlen);
	if (ret)
		goto fail;

	ret = el_add(el, &s->wake_src, EPOLLIN);
	if (ret)
		goto loop_err;
	s->wake_added = true;
	ret = el_add(el, &s->timer_src, EPOLLIN);
	if (ret)
		goto loop_err;
	s->timer_added = true;
	/* Put the hostfwd listeners into the epoll set and arm the timer.
	 * rx starts disabled, so the set joins the loop at rx_enable(true). */
	netbe_slirp_service(s);
	*out = &s->nb;
	return 0;

loop_err:
	err_set(err, errlen, ret, "cannot add to the event loop: %s", strerror(-ret));
	goto fail;
sys_err:
	ret = -errno;
	err_set(err, errlen, ret, "%s", strerror(-ret));
	goto fail;
nomem_free:
	slirp_free(s);
nomem:
	return err_set(err, errlen, -ENOMEM, "out of memory");
fail:
	slirp_free(s);
	return ret;
}

/* ---- Snapshots ---- */

struct state_buf {
	uint8_t *data;
	size_t len, cap, pos;
	bool failed;
};

static ssize_t state_write(const void *buf, size_t len, void *opaque)
{
	struct state_buf *b = opaque;

	if (b->len + len > b->cap) {
		size_t cap = b->cap ? b->cap : 4096;
		uint8_t *p;

		while (cap < b->len + len)
			cap *= 2;
		p = realloc(b->data, cap);
		if (!p) {
			b->failed = true;
			return -1;
		}
		b->data = p;
		b->cap = cap;
	}
	memcpy(b->data + b->len, buf, len);
	b->len += len;
	return (ssize_t)len;
}

/* A short read past the end makes slirp_state_load fail: the state in the
 * file is hostile input like the rest of it. */
static ssize_t state_read(void *buf, size_t len, void *opaque)
{
	struct state_buf *b = opaque;
	size_t n = len < b->len - b->pos ? len : b->len - b->pos;

	memcpy(buf, b->data + b->pos, n);
	b->pos += n;
	return (ssize_t)n;
}

int netbe_slirp_state_save(struct netbe *nb, uint8_t **buf, size_t *len, int *version, char *err,
			   size_t errlen)
{
	struct state_buf b = { 0 };

	slirp_state_save(to_slirp(nb)->slirp, state_write, &b);
	if (b.failed) {
		free(b.data);
		return err_set(err, errlen, -ENOMEM, "out of memory for the slirp state");
	}
	*buf = b.data;
	*len = b.len;
	*version = slirp_state_version();
	return 0;
}

int netbe_slirp_state_load(struct netbe *nb, const uint8_t *buf, size_t len, int version, char *err,
			   size_t errlen)
{
	struct state_buf b = { .data = (uint8_t *)buf, .len = len };

	if (version <= 0 || version > slirp_state_version())
		return err_set(err, errlen, -ENOTSUP,
			       "slirp state version %d (this libslirp reads up to %d)", version,
			       slirp_state_version());
	if (slirp_state_load(to_slirp(nb)->slirp, version, state_read, &b) < 0)
		return err_set(err, errlen, -EINVAL, "the slirp state does not load");
	return 0;
}
