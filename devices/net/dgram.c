/* SPDX-License-Identifier: MIT */
/*
 * The dgram backend (dgram.h): one frame per datagram, as QEMU's
 * net/dgram.c, so a QEMU guest and a vmm guest can share a segment.
 *
 *  - unicast: bound to local, sending to remote (UDP or unix datagrams);
 *  - multicast: bound to the group's port with SO_REUSEADDR, a member of
 *    the group, IP_MULTICAST_LOOP on so that members on this host hear each
 *    other (and, as under QEMU, each its own frames, which a NIC ignores).
 *    The TTL stays at the kernel's default of 1: the hub ends at the link.
 *
 * Flow control as tap.c: the fd is in the event loop only with what is
 * wanted now, EPOLLIN while rx is enabled (otherwise datagrams wait in the
 * socket's receive queue, then the kernel drops them, which is what a
 * datagram network does), EPOLLOUT while a send waits after EAGAIN. A unix
 * socket that is not connected polls writable even while the peer's queue
 * is full, so there a datagram that meets EAGAIN is dropped instead of
 * held: holding it would spin the loop.
 */
#include "devices/net/dgram.h"

#include <errno.h>
#include <limits.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <unistd.h>

#include "base/err.h"
#include "base/log.h"

/* Datagrams one recv() call may drop before it yields (tap.c's reason). */
#define DGRAM_RECV_MAX_DROPS 64

struct dgram {
	struct netbe nb; /* first: ops receive &d->nb */
	struct event_loop *el;
	struct el_source src;
	struct sockaddr_storage dst;
	socklen_t dst_len;
	uint32_t registered;
	bool rx_enabled, tx_waiting;
	bool refused_said; /* "nobody at remote" said; again after a success */
	bool clash_said;   /* "a peer uses our MAC" said */
	uint8_t mac[6];	   /* to check for a clash; zero for multicast */
	char name[2 * NETBE_SOCK_PATH_MAX + 32];
	char bound_path[NETBE_SOCK_PATH_MAX]; /* our unix socket file, to remove */
	struct ratelimit rl;
};

static struct dgram *dgram_of(struct netbe *nb)
{
	return (struct dgram *)nb;
}

static void dgram_update(struct dgram *d)
{
	uint32_t want = (d->rx_enabled ? EPOLLIN : 0) | (d->tx_waiting ? EPOLLOUT : 0);
	int ret;

	ret = el_watch(d->el, &d->src, &d->registered, want);
	if (ret < 0)
		log_warn_ratelimited(&d->rl, "%s: cannot update the event loop: %s", d->nb.name,
				     strerror(-ret));
}

static void dgram_handler(struct el_source *src, uint32_t events)
{
	struct dgram *d = src->opaque;
	unsigned int ev = 0;

	if ((events & (EPOLLOUT | EPOLLERR)) && d->tx_waiting) {
		d->tx_waiting = false;
		ev |= NETBE_EV_TX;
	}
	if ((events & (EPOLLIN | EPOLLERR)) && d->rx_enabled)
		ev |= NETBE_EV_RX;
	dgram_update(d);
	if (ev && d->nb.notify)
		d->nb.notify(d->nb.notify_opaque, ev);
}

static int dgram_send(struct netbe *nb, const struct iovec *iov, unsigned int iovcnt)
{
	struct dgram *d = dgram_of(nb);
	struct msghdr mh = { .msg_name = &d->dst,
			     .msg_namelen = d->dst_len,
			     .msg_iov = (struct iovec *)iov,
			     .msg_iovlen = iovcnt };
	size_t total = 0;
	unsigned int i;
	ssize_t n;
	int err;

	for (i = 0; i < iovcnt; i++)
		if (__builtin_add_overflow(total, iov[i].iov_len, &total))
			total = SIZE_MAX;
	if (total > NETBE_FRAME_MAX - 12 || total < NETBE_FRAME_MIN || iovcnt > IOV_MAX) {
		nb->stats.tx_dropped++;
		return -EINVAL;
	}
	do {
		n = sendmsg(d->src.fd, &mh, MSG_NOSIGNAL | MSG_DONTWAIT);
	} while (n < 0 && errno == EINTR);
	if (n >= 0) {
		d->refused_said = false;
		nb->stats.tx_frames++;
		nb->stats.tx_bytes += total;
		return 0;
	}
	err = errno;
	if ((err == EAGAIN || err == ENOBUFS) && d->dst.ss_family != AF_UNIX) {
		d->tx_waiting = true;
		dgram_update(d);
		if (d->registered & EPOLLOUT)
			return -EAGAIN;
		d->tx_waiting = false; /* no EPOLLOUT: NETBE_EV_TX would never come */
	}
	nb->stats.tx_dropped++;
	/* a peer that is not (yet, or any more) there: said once, and the VM
	 * runs on; a datagram network loses frames */
	if ((err == ECONNREFUSED || err == ENOENT) && !d->refused_said) {
		log_warn("%s: nobody receives at the remote address (%s); frames are dropped "
			 "until someone does",
			 nb->name, strerror(err));
		d->refused_said = true;
	} else if (err != ECONNREFUSED && err != ENOENT && err != EAGAIN) {
		log_warn_ratelimited(&d->rl, "%s: send: %s", nb->name, strerror(err));
	}
	/* dropped, not held: -EAGAIN would make the device wait for a
	 * NETBE_EV_TX that never comes */
	return err == EAGAIN || err == EWOULDBLOCK ? -ENOBUFS : -err;
}

static ssize_t dgram_recv(struct netbe *nb, void *buf, size_t len)
{
	struct dgram *d = dgram_of(nb);
	unsigned int drops = 0;

	while (drops < DGRAM_RECV_MAX_DROPS) {
		ssize_t n;

		/* MSG_TRUNC: the datagram's real length even when it did not
		 * fit, so a long one is recognised and dropped, not cut */
		do {
			n = recv(d->src.fd, buf, len, MSG_DONTWAIT | MSG_TRUNC);
		} while (n < 0 && errno == EINTR);
		if (n < 0) {
			if (errno == EWOULDBLOCK)
				return -EAGAIN;
			if (errno == ECONNREFUSED)
				continue; /* an ICMP error about an earlier send */
			return -errno;
		}
		if ((size_t)n > len || n < NETBE_FRAME_MIN) {
			nb->stats.rx_dropped++;
			drops++;
			continue;
		}
		netbe_mac_clash_warn_once(nb->name, "a peer", d->mac, buf, (size_t)n,
					  &d->clash_said);
		nb->stats.rx_frames++;
		nb->stats.rx_bytes += (size_t)n;
		return n;
	}
	return -EAGAIN;
}

static void dgram_rx_enable(struct netbe *nb, bool enable)
{
	struct dgram *d = dgram_of(nb);

	d->rx_enabled = enable;
	dgram_update(d);
}

static void dgram_destroy(struct netbe *nb)
{
	struct dgram *d = dgram_of(nb);

	if (!d)
		return;
	if (d->registered)
		el_remove(d->el, &d->src);
	if (d->src.fd >= 0)
		close(d->src.fd);
	if (d->bound_path[0])
		unlink(d->bound_path);
	free(d);
}

static const struct netbe_ops dgram_ops = {
	.send = dgram_send,
	.recv = dgram_recv,
	.rx_enable = dgram_rx_enable,
	.set_offloads = netbe_no_offloads,
	.destroy = dgram_destroy,
};

/* Bound to the group's port, a member of the group (on local's interface
 * address when given). */
static int dgram_join(struct dgram *d, const struct netbe_dgram_config *cfg, char *err,
		      size_t errlen)
{
	struct netbe_sock_addr group = cfg->remote;
	struct ip_mreq mr = { .imr_multiaddr = cfg->remote.host };
	char shown[64];
	int one = 1, ret;

	netbe_sock_addr_fmt(shown, sizeof(shown), &cfg->remote);
	if (cfg->local.family == AF_INET)
		mr.imr_interface = cfg->local.host;
	/* several members on one host share the port */
	if (setsockopt(d->src.fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one)) < 0)
		return err_set(err, errlen, -errno, "SO_REUSEADDR: %s", strerror(errno));
	ret = netbe_sock_bind(d->src.fd, SOCK_DGRAM, &group, err, errlen);
	if (ret < 0)
		return ret;
	if (setsockopt(d->src.fd, IPPROTO_IP, IP_ADD_MEMBERSHIP, &mr, sizeof(mr)) < 0) {
		ret = -errno;
		return err_set(err, errlen, ret, "cannot join multicast group %s: %s%s", shown,
			       strerror(-ret),
			       ret == -ENODEV
				       ? " (no interface with multicast and a route to it; "
					 "in a fresh namespace: ip link set lo up multicast on "
					 "and a route for 224.0.0.0/4)"
				       : "");
	}
	if (setsockopt(d->src.fd, IPPROTO_IP, IP_MULTICAST_LOOP, &one, sizeof(one)) < 0)
		return err_set(err, errlen, -errno, "IP_MULTICAST_LOOP: %s", strerror(errno));
	if (cfg->local.family == AF_INET &&
	    setsockopt(d->src.fd, IPPROTO_IP, IP_MULTICAST_IF, &cfg->local.host,
		       sizeof(cfg->local.host)) < 0)
		return err_set(err, errlen, -errno, "IP_MULTICAST_IF: %s", strerror(errno));
	return 0;
}

static int dgram_check(const struct netbe_dgram_config *cfg, char *err, size_t errlen)
{
	bool mcast = netbe_sock_addr_is_mcast(&cfg->remote);

	if (!cfg->remote.family)
		return err_set(err, errlen, -EINVAL, "needs a remote address (remote.*)");
	if (!mcast && !cfg->local.family)
		return err_set(
			err, errlen, -EINVAL,
			"needs a local address (local.*) unless remote is a multicast group");
	if (mcast && cfg->local.family && cfg->local.family != AF_INET)
		return err_set(err, errlen, -EINVAL,
			       "with a multicast remote, local is an IPv4 interface address");
	if (!mcast && cfg->local.family != cfg->remote.family)
		return err_set(err, errlen, -EINVAL, "local and remote are of different types");
	if (cfg->remote.family == AF_INET && !cfg->remote.port)
		return err_set(err, errlen, -EINVAL, "remote needs a port");
	return 0;
}

int netbe_dgram_create(const struct netbe_dgram_config *cfg, struct event_loop *el,
		       struct netbe **out, char *err, size_t errlen)
{
	bool mcast = netbe_sock_addr_is_mcast(&cfg->remote);
	char a[NETBE_SOCK_PATH_MAX + 8], b[NETBE_SOCK_PATH_MAX + 8];
	struct dgram *d;
	int ret;

	ret = dgram_check(cfg, err, errlen);
	if (ret < 0)
		return ret;
	d = calloc(1, sizeof(*d));
	if (!d)
		return err_set(err, errlen, -ENOMEM, "out of memory");
	d->el = el;
	d->src = (struct el_source){ .fd = -1, .handler = dgram_handler, .opaque = d };
	netbe_sock_addr_fmt(a, sizeof(a), &cfg->local);
	netbe_sock_addr_fmt(b, sizeof(b), &cfg->remote);
	if (mcast)
		snprintf(d->name, sizeof(d->name), "dgram multicast %s", b);
	else
		snprintf(d->name, sizeof(d->name), "dgram %s -> %s", a, b);
	d->nb.ops = &dgram_ops;
	d->nb.name = d->name;
	if (!mcast)
		memcpy(d->mac, cfg->mac, sizeof(d->mac));
	if (netbe_sock_addr_to(&cfg->remote, &d->dst, &d->dst_len) < 0) {
		ret = err_set(err, errlen, -EINVAL, "remote %s: not a usable address", b);
		goto fail;
	}
	d->src.fd = socket(cfg->remote.family, SOCK_DGRAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (d->src.fd < 0) {
		ret = err_set(err, errlen, -errno, "socket: %s", strerror(errno));
		goto fail;
	}
	if (mcast) {
		ret = dgram_join(d, cfg, err, errlen);
	} else {
		ret = netbe_sock_bind(d->src.fd, SOCK_DGRAM, &cfg->local, err, errlen);
		if (ret == 0 && cfg->local.family == AF_UNIX)
			snprintf(d->bound_path, sizeof(d->bound_path), "%s", cfg->local.path);
	}
	if (ret < 0)
		goto fail;
	*out = &d->nb;
	return 0;
fail:
	dgram_destroy(&d->nb);
	return ret;
}
