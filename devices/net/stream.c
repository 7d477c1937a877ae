/* SPDX-License-Identifier: MIT */
/*
 * The stream backend (stream.h): frames behind a 4-byte big-endian length
 * over one connected stream socket.
 *
 * A stream has no frame boundaries of its own, so both directions buffer:
 *  rx: reads fill rbuf (room for the largest frame and its header) and the
 *      deframer cuts whole frames out of it; a frame arriving in pieces
 *      waits there for its tail. recv() copies one whole frame out.
 *  tx: a frame is written with its header in one sendmsg(); when the kernel
 *      takes only part of it, the rest goes to wbuf and is written when the
 *      socket is writable again. The frame counts as sent: once its first
 *      byte is on the stream its last must follow, or the peer's deframer
 *      would fall out of step. Further send()s get -EAGAIN until wbuf is
 *      empty (net.h's tx flow control).
 *
 * The connection's fd stays in the event loop while it exists, with
 * EPOLLIN while rx is enabled and EPOLLOUT while something waits to be
 * written (or a connect() to finish); with neither it is still there for
 * EPOLLHUP/EPOLLERR, which epoll always reports. A peer found gone inside
 * an op (EOF in recv, EPIPE in send) is not torn down there, since
 * notify() must not run inside an op: the op shuts the socket down, which
 * raises EPOLLHUP, and the handler does the rest.
 *
 * Frames buffered in rbuf when rx is re-enabled are announced through an
 * eventfd of our own (the socket may have nothing more to say).
 */
#include "devices/net/stream.h"

#include <errno.h>
#include <limits.h>
#include <poll.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <sys/socket.h>
#include <sys/timerfd.h>
#include <unistd.h>

#include "base/err.h"
#include "base/eventfd.h"
#include "base/log.h"

/* rbuf and wbuf each hold the largest frame and its header; rbuf a little
 * more, so that a read can always take something while a frame is partial. */
#define STREAM_FRAME_MAX  (NETBE_FRAME_MAX - 12) /* no virtio-net header here */
#define STREAM_BUF_SIZE	  (2 * (NETBE_STREAM_HDR_LEN + STREAM_FRAME_MAX))
/* iovecs a frame may arrive in and still be written without a copy */
#define STREAM_IOV_MAX	  64
/* how long netbe_stream_create() waits for a TCP connect() */
#define STREAM_CONNECT_MS 5000

struct stream {
	struct netbe nb; /* first: ops receive &s->nb */
	struct event_loop *el;
	struct netbe_stream_config cfg;
	struct el_source listen_src; /* server: fd while no peer is connected */
	struct el_source conn_src;   /* the peer; fd -1 when there is none */
	struct el_source timer_src;  /* client with reconnect: timerfd, else -1 */
	struct el_source wake_src;   /* eventfd: frames wait in rbuf */
	bool listening;		     /* listen_src is in the loop */
	bool connecting;	     /* a non-blocking connect() is under way */
	bool rx_enabled, tx_waiting;
	bool gone_said;	 /* "peer went away" said; not again until one came */
	bool clash_said; /* "the peer uses our MAC" said */
	uint32_t conn_events;
	uint8_t *rbuf, *wbuf;
	size_t rhead, rtail; /* unread bytes: rbuf[rhead..rtail) */
	size_t whead, wtail; /* unwritten bytes: wbuf[whead..wtail) */
	char name[NETBE_SOCK_PATH_MAX + 32];
	struct ratelimit rl;
};

static uint32_t stream_hdr_get(const uint8_t *p)
{
	return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3];
}

ssize_t netbe_stream_deframe(const uint8_t *buf, size_t len, size_t max, size_t *frame_len)
{
	uint32_t n;

	if (len < NETBE_STREAM_HDR_LEN)
		return 0;
	n = stream_hdr_get(buf);
	if (n == 0 || n > max)
		return -EPROTO;
	if (len - NETBE_STREAM_HDR_LEN < n)
		return 0;
	*frame_len = n;
	return (ssize_t)(NETBE_STREAM_HDR_LEN + n);
}

static struct stream *stream_of(struct netbe *nb)
{
	return (struct stream *)nb;
}

static void stream_update(struct stream *s)
{
	uint32_t want = 0;

	if (s->conn_src.fd < 0)
		return;
	if (s->rx_enabled && !s->connecting)
		want |= EPOLLIN;
	if (s->connecting || s->wtail > s->whead || s->tx_waiting)
		want |= EPOLLOUT;
	if (want == s->conn_events)
		return;
	if (el_modify(s->el, &s->conn_src, want) < 0)
		log_warn_ratelimited(&s->rl, "%s: cannot update the event loop", s->nb.name);
	else
		s->conn_events = want;
}

/* Take fd as the peer (connected, or connecting when `connecting`). */
static int stream_peer_up(struct stream *s, int fd, bool connecting)
{
	int ret;

	s->conn_src.fd = fd;
	s->connecting = connecting;
	s->rhead = s->rtail = s->whead = s->wtail = 0;
	s->conn_events = connecting ? EPOLLOUT : (s->rx_enabled ? EPOLLIN : 0);
	ret = el_add(s->el, &s->conn_src, s->conn_events);
	if (ret < 0) {
		s->conn_src.fd = -1;
		close(fd);
		return ret;
	}
	if (!connecting) {
		log_info("%s: peer connected", s->nb.name);
		s->gone_said = false;
	}
	return 0;
}

static void stream_arm_reconnect(struct stream *s)
{
	struct itimerspec its = { .it_value.tv_sec = s->cfg.reconnect };

	if (s->timer_src.fd >= 0 && timerfd_settime(s->timer_src.fd, 0, &its, NULL) < 0)
		log_warn("%s: cannot arm the reconnect timer; staying unplugged", s->nb.name);
}

/* The peer is gone (or never came): close it, say so once, wait for the
 * next. Returns the NETBE_EV_* owed to the device. */
static unsigned int stream_peer_down(struct stream *s, const char *why)
{
	unsigned int ev = 0;

	if (s->conn_src.fd >= 0) {
		el_remove(s->el, &s->conn_src);
		close(s->conn_src.fd);
		s->conn_src.fd = -1;
	}
	if (!s->gone_said) {
		log_warn("%s: %s; frames to it are dropped until %s", s->nb.name, why,
			 s->cfg.server	    ? "a peer connects"
			 : s->cfg.reconnect ? "it is back"
					    : "vmm restarts (reconnect= was not given)");
		s->gone_said = true;
	}
	/* rbuf keeps the peer's last whole frames for recv() */
	s->connecting = false;
	s->whead = s->wtail = 0;
	s->conn_events = 0;
	/* a waiting frame is retried now and dropped, not held forever */
	if (s->tx_waiting)
		ev |= NETBE_EV_TX;
	s->tx_waiting = false;
	if (s->cfg.server) {
		if (!s->listening && el_add(s->el, &s->listen_src, EPOLLIN) == 0)
			s->listening = true;
	} else if (s->cfg.reconnect) {
		stream_arm_reconnect(s);
	}
	return ev;
}

/* Something went wrong inside an op: let the handler tear down (net.h: no
 * notify() from inside an op). SHUT_RDWR makes epoll report EPOLLHUP. */
static void stream_fail(struct stream *s)
{
	shutdown(s->conn_src.fd, SHUT_RDWR);
}

/* Write what waits in wbuf. 0 when it is empty, -EAGAIN when some is left,
 * another -errno when the peer is gone. */
static int stream_flush(struct stream *s)
{
	while (s->wtail > s->whead) {
		ssize_t n = send(s->conn_src.fd, s->wbuf + s->whead, s->wtail - s->whead,
				 MSG_NOSIGNAL | MSG_DONTWAIT);

		if (n < 0) {
			if (errno == EINTR)
				continue;
			return errno == EWOULDBLOCK ? -EAGAIN : -errno;
		}
		s->whead += (size_t)n;
	}
	s->whead = s->wtail = 0;
	return 0;
}

/* Read once into rbuf's free room. 1 if bytes came, 0 if none are waiting,
 * -EPIPE at EOF, another -errno on error. */
static int stream_fill(struct stream *s)
{
	ssize_t n;

	if (s->rhead == s->rtail) {
		s->rhead = s->rtail = 0;
	} else if (s->rhead > 0 &&
		   STREAM_BUF_SIZE - s->rtail < NETBE_STREAM_HDR_LEN + STREAM_FRAME_MAX) {
		memmove(s->rbuf, s->rbuf + s->rhead, s->rtail - s->rhead);
		s->rtail -= s->rhead;
		s->rhead = 0;
	}
	if (s->rtail == STREAM_BUF_SIZE)
		return 0; /* whole frames wait: recv() makes room */
	do {
		n = recv(s->conn_src.fd, s->rbuf + s->rtail, STREAM_BUF_SIZE - s->rtail,
			 MSG_DONTWAIT);
	} while (n < 0 && errno == EINTR);
	if (n < 0)
		return errno == EWOULDBLOCK ? 0 : -errno;
	if (n == 0)
		return -EPIPE;
	s->rtail += (size_t)n;
	return 1;
}

static bool stream_has_frame(const struct stream *s)
{
	size_t flen;

	return netbe_stream_deframe(s->rbuf + s->rhead, s->rtail - s->rhead, STREAM_FRAME_MAX,
				    &flen) != 0;
}

static void stream_connected(struct stream *s)
{
	int soerr = 0;
	socklen_t sl = sizeof(soerr);

	if (getsockopt(s->conn_src.fd, SOL_SOCKET, SO_ERROR, &soerr, &sl) < 0)
		soerr = errno;
	if (soerr) {
		(void)stream_peer_down(s, "cannot reconnect");
		return;
	}
	s->connecting = false;
	log_info("%s: peer connected", s->nb.name);
	s->gone_said = false;
}

static void stream_conn_handler(struct el_source *src, uint32_t events)
{
	struct stream *s = src->opaque;
	unsigned int ev = 0;
	int ret;

	if (s->connecting && (events & (EPOLLOUT | EPOLLERR | EPOLLHUP))) {
		stream_connected(s);
		if (s->conn_src.fd >= 0)
			stream_update(s);
		return;
	}
	if (events & EPOLLOUT) {
		ret = stream_flush(s);
		if (ret == 0 && s->tx_waiting) {
			s->tx_waiting = false;
			ev |= NETBE_EV_TX;
		} else if (ret < 0 && ret != -EAGAIN) {
			events |= EPOLLHUP;
		}
	}
	if ((events & EPOLLIN) && s->rx_enabled && !(events & (EPOLLHUP | EPOLLERR))) {
		ret = stream_fill(s);
		if (ret < 0 && ret != -EAGAIN)
			events |= EPOLLHUP;
		else if (stream_has_frame(s))
			ev |= NETBE_EV_RX;
	}
	if (events & (EPOLLHUP | EPOLLERR)) {
		/* What the peer sent before it hung up is still queued:
		 * take what rbuf holds; recv() hands it out after the fd is
		 * gone (rx flow control does not apply to a dead peer). */
		if (!(events & EPOLLERR))
			while (stream_fill(s) > 0)
				;
		ev |= stream_peer_down(s, "the peer went away");
		if (s->rx_enabled && stream_has_frame(s))
			ev |= NETBE_EV_RX;
	} else {
		stream_update(s);
	}
	if (ev && s->nb.notify)
		s->nb.notify(s->nb.notify_opaque, ev);
}

static void stream_listen_handler(struct el_source *src, uint32_t events)
{
	struct stream *s = src->opaque;
	int fd;

	(void)events;
	fd = accept4(src->fd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC);
	if (fd < 0)
		return; /* EAGAIN, or the client gave up already */
	/* one peer at a time (QEMU's too): later ones wait in the backlog */
	el_remove(s->el, &s->listen_src);
	s->listening = false;
	if (stream_peer_up(s, fd, false) < 0)
		(void)stream_peer_down(s, "cannot take the peer");
}

/* A non-blocking socket connecting to the configured address: 0 connected,
 * 1 under way, -errno. The fd goes to *fd in both good cases. */
static int stream_connect(const struct stream *s, int *fd)
{
	struct sockaddr_storage ss;
	socklen_t len;
	int ret;

	ret = netbe_sock_addr_to(&s->cfg.addr, &ss, &len);
	if (ret < 0)
		return ret;
	*fd = socket(ss.ss_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (*fd < 0)
		return -errno;
	if (connect(*fd, (struct sockaddr *)&ss, len) == 0)
		return 0;
	if (errno == EINPROGRESS)
		return 1;
	ret = -errno;
	close(*fd);
	return ret;
}

static void stream_timer_handler(struct el_source *src, uint32_t events)
{
	struct stream *s = src->opaque;
	int fd = -1, ret;

	(void)events;
	(void)eventfd_drain(src->fd);
	if (s->conn_src.fd >= 0)
		return;
	ret = stream_connect(s, &fd);
	if (ret < 0)
		stream_arm_reconnect(s);
	else if (stream_peer_up(s, fd, ret == 1) < 0)
		stream_arm_reconnect(s);
}

static void stream_wake_handler(struct el_source *src, uint32_t events)
{
	struct stream *s = src->opaque;

	(void)events;
	if (eventfd_drain(src->fd) == -EAGAIN)
		return;
	if (s->rx_enabled && stream_has_frame(s) && s->nb.notify)
		s->nb.notify(s->nb.notify_opaque, NETBE_EV_RX);
}

static size_t iov_total(const struct iovec *iov, unsigned int iovcnt)
{
	size_t total = 0;
	unsigned int i;

	for (i = 0; i < iovcnt; i++)
		if (__builtin_add_overflow(total, iov[i].iov_len, &total))
			return SIZE_MAX;
	return total;
}

/* Bytes skip.. of hdr+iov into wbuf (which is empty). */
static void stream_keep_rest(struct stream *s, const uint8_t *hdr, const struct iovec *iov,
			     unsigned int iovcnt, size_t skip)
{
	size_t off = 0, n;
	unsigned int i;

	s->whead = s->wtail = 0;
	if (skip < NETBE_STREAM_HDR_LEN) {
		memcpy(s->wbuf, hdr + skip, NETBE_STREAM_HDR_LEN - skip);
		s->wtail = NETBE_STREAM_HDR_LEN - skip;
		skip = 0;
	} else {
		skip -= NETBE_STREAM_HDR_LEN;
	}
	for (i = 0; i < iovcnt; i++, off += n) {
		n = iov[i].iov_len;
		if (skip >= n) {
			skip -= n;
			continue;
		}
		memcpy(s->wbuf + s->wtail, (const uint8_t *)iov[i].iov_base + skip, n - skip);
		s->wtail += n - skip;
		skip = 0;
	}
}

static int stream_send(struct netbe *nb, const struct iovec *iov, unsigned int iovcnt)
{
	struct stream *s = stream_of(nb);
	struct iovec v[STREAM_IOV_MAX + 1];
	size_t total = iov_total(iov, iovcnt);
	uint8_t hdr[NETBE_STREAM_HDR_LEN];
	struct msghdr mh = { .msg_iov = v };
	ssize_t n;
	int ret;

	if (total > STREAM_FRAME_MAX || total < NETBE_FRAME_MIN) {
		nb->stats.tx_dropped++;
		return -EINVAL;
	}
	if (s->conn_src.fd < 0 || s->connecting) {
		nb->stats.tx_dropped++;
		return -ENOTCONN;
	}
	ret = stream_flush(s);
	if (ret == -EAGAIN) {
		s->tx_waiting = true;
		stream_update(s);
		return -EAGAIN;
	}
	if (ret < 0)
		goto dead;
	hdr[0] = (uint8_t)(total >> 24);
	hdr[1] = (uint8_t)(total >> 16);
	hdr[2] = (uint8_t)(total >> 8);
	hdr[3] = (uint8_t)total;
	if (iovcnt > STREAM_IOV_MAX) {
		/* rare: gather it in wbuf and write from there */
		stream_keep_rest(s, hdr, iov, iovcnt, 0);
		n = 0;
	} else {
		v[0] = (struct iovec){ .iov_base = hdr, .iov_len = sizeof(hdr) };
		memcpy(v + 1, iov, iovcnt * sizeof(*iov));
		mh.msg_iovlen = iovcnt + 1;
		do {
			n = sendmsg(s->conn_src.fd, &mh, MSG_NOSIGNAL | MSG_DONTWAIT);
		} while (n < 0 && errno == EINTR);
		if (n < 0) {
			ret = -errno;
			if (ret == -EWOULDBLOCK) {
				s->tx_waiting = true;
				stream_update(s);
				return -EAGAIN;
			}
			goto dead;
		}
		if ((size_t)n < sizeof(hdr) + total)
			stream_keep_rest(s, hdr, iov, iovcnt, (size_t)n);
	}
	if (s->wtail > s->whead) {
		ret = stream_flush(s);
		if (ret < 0 && ret != -EAGAIN)
			goto dead;
		stream_update(s);
	}
	nb->stats.tx_frames++;
	nb->stats.tx_bytes += total;
	return 0;
dead:
	nb->stats.tx_dropped++;
	stream_fail(s);
	return ret;
}

static ssize_t stream_recv(struct netbe *nb, void *buf, size_t len)
{
	struct stream *s = stream_of(nb);
	size_t flen = 0;
	ssize_t used;
	bool filled = false;
	int ret;

	if (s->connecting)
		return -EAGAIN;
	for (;;) {
		used = netbe_stream_deframe(s->rbuf + s->rhead, s->rtail - s->rhead,
					    STREAM_FRAME_MAX, &flen);
		if (used < 0 && s->conn_src.fd < 0) {
			s->rhead = s->rtail = 0; /* a dead peer's garbage */
			return -EAGAIN;
		}
		if (used < 0) {
			log_warn("%s: the peer sent a frame length of %u bytes (1 to %u are "
				 "valid); dropping the connection",
				 nb->name, stream_hdr_get(s->rbuf + s->rhead), STREAM_FRAME_MAX);
			nb->stats.rx_dropped++;
			stream_fail(s);
			return -EAGAIN;
		}
		if (used == 0) {
			/* one read per call: a peer that never stops sending
			 * must not keep the loop thread in here */
			if (filled || s->conn_src.fd < 0)
				return -EAGAIN;
			ret = stream_fill(s);
			if (ret <= 0) {
				if (ret < 0)
					stream_fail(s);
				return -EAGAIN;
			}
			filled = true;
			continue;
		}
		s->rhead += (size_t)used;
		if (flen > len || flen < NETBE_FRAME_MIN) {
			nb->stats.rx_dropped++;
			continue;
		}
		memcpy(buf, s->rbuf + s->rhead - flen, flen);
		netbe_mac_clash_warn_once(nb->name, "the peer", s->cfg.mac, buf, flen,
					  &s->clash_said);
		nb->stats.rx_frames++;
		nb->stats.rx_bytes += flen;
		return (ssize_t)flen;
	}
}

static void stream_rx_enable(struct netbe *nb, bool enable)
{
	struct stream *s = stream_of(nb);

	s->rx_enabled = enable;
	stream_update(s);
	if (enable && stream_has_frame(s))
		(void)eventfd_signal(s->wake_src.fd);
}

static void stream_close_src(struct stream *s, struct el_source *src, bool in_loop)
{
	if (src->fd < 0)
		return;
	if (in_loop)
		el_remove(s->el, src);
	close(src->fd);
	src->fd = -1;
}

static void stream_destroy(struct netbe *nb)
{
	struct stream *s = stream_of(nb);

	if (!s)
		return;
	stream_close_src(s, &s->conn_src, true);
	stream_close_src(s, &s->listen_src, s->listening);
	stream_close_src(s, &s->timer_src, true);
	stream_close_src(s, &s->wake_src, true);
	/* a server's socket file goes with it, as QEMU's does */
	if (s->cfg.server && s->cfg.addr.family == AF_UNIX)
		unlink(s->cfg.addr.path);
	free(s->rbuf);
	free(s->wbuf);
	free(s);
}

static const struct netbe_ops stream_ops = {
	.send = stream_send,
	.recv = stream_recv,
	.rx_enable = stream_rx_enable,
	.set_offloads = netbe_no_offloads,
	.destroy = stream_destroy,
};

static int stream_listen(struct stream *s, char *err, size_t errlen)
{
	int ret;

	s->listen_src.fd =
		socket(s->cfg.addr.family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (s->listen_src.fd < 0)
		return err_set(err, errlen, -errno, "socket: %s", strerror(errno));
	ret = netbe_sock_bind(s->listen_src.fd, SOCK_STREAM, &s->cfg.addr, err, errlen);
	if (ret < 0)
		return ret;
	if (listen(s->listen_src.fd, 1) < 0)
		return err_set(err, errlen, -errno, "listen: %s", strerror(errno));
	ret = el_add(s->el, &s->listen_src, EPOLLIN);
	if (ret < 0)
		return err_set(err, errlen, ret, "event loop: %s", strerror(-ret));
	s->listening = true;
	return 0;
}

/* The first connection, while nothing else runs: wait for it, so that an
 * unreachable server is an error now. */
static int stream_connect_first(struct stream *s, char *err, size_t errlen)
{
	char shown[NETBE_SOCK_PATH_MAX + 8];
	int fd = -1, ret;

	netbe_sock_addr_fmt(shown, sizeof(shown), &s->cfg.addr);
	ret = stream_connect(s, &fd);
	if (ret == 1) {
		struct pollfd p = { .fd = fd, .events = POLLOUT };
		int soerr = 0;
		socklen_t sl = sizeof(soerr);

		if (poll(&p, 1, STREAM_CONNECT_MS) <= 0)
			soerr = ETIMEDOUT;
		else if (getsockopt(fd, SOL_SOCKET, SO_ERROR, &soerr, &sl) < 0)
			soerr = errno;
		ret = -soerr;
		if (ret < 0)
			close(fd);
	}
	if (ret < 0)
		return err_set(
			err, errlen, ret, "cannot connect to %s: %s%s", shown, strerror(-ret),
			ret == -ECONNREFUSED || ret == -ENOENT ? " (start the server side first)"
							       : "");
	ret = stream_peer_up(s, fd, false);
	if (ret < 0)
		return err_set(err, errlen, ret, "event loop: %s", strerror(-ret));
	return 0;
}

int netbe_stream_create(const struct netbe_stream_config *cfg, struct event_loop *el,
			struct netbe **out, char *err, size_t errlen)
{
	struct stream *s;
	char shown[NETBE_SOCK_PATH_MAX + 8];
	int ret;

	if (cfg->addr.family != AF_UNIX && cfg->addr.family != AF_INET)
		return err_set(err, errlen, -EINVAL, "no address (addr.path= or addr.host=)");
	s = calloc(1, sizeof(*s));
	if (!s)
		return err_set(err, errlen, -ENOMEM, "out of memory");
	s->el = el;
	s->cfg = *cfg;
	s->cfg.addr.path[sizeof(s->cfg.addr.path) - 1] = '\0';
	s->listen_src =
		(struct el_source){ .fd = -1, .handler = stream_listen_handler, .opaque = s };
	s->conn_src = (struct el_source){ .fd = -1, .handler = stream_conn_handler, .opaque = s };
	s->timer_src = (struct el_source){ .fd = -1, .handler = stream_timer_handler, .opaque = s };
	s->wake_src = (struct el_source){ .fd = -1, .handler = stream_wake_handler, .opaque = s };
	netbe_sock_addr_fmt(shown, sizeof(shown), &s->cfg.addr);
	snprintf(s->name, sizeof(s->name), "stream %s%s", shown, cfg->server ? " (server)" : "");
	s->nb.ops = &stream_ops;
	s->nb.name = s->name;
	s->rbuf = malloc(STREAM_BUF_SIZE);
	s->wbuf = malloc(NETBE_STREAM_HDR_LEN + STREAM_FRAME_MAX);
	if (!s->rbuf || !s->wbuf) {
		ret = err_set(err, errlen, -ENOMEM, "out of memory");
		goto fail;
	}
	s->wake_src.fd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
	if (s->wake_src.fd < 0 || el_add(el, &s->wake_src, EPOLLIN) < 0) {
		ret = err_set(err, errlen, -errno, "eventfd: %s", strerror(errno));
		goto fail;
	}
	if (!cfg->server && cfg->reconnect) {
		s->timer_src.fd = timerfd_create(CLOCK_MONOTONIC, TFD_NONBLOCK | TFD_CLOEXEC);
		if (s->timer_src.fd < 0 || el_add(el, &s->timer_src, EPOLLIN) < 0) {
			ret = err_set(err, errlen, -errno, "timerfd: %s", strerror(errno));
			goto fail;
		}
	}
	ret = cfg->server ? stream_listen(s, err, errlen) : stream_connect_first(s, err, errlen);
	if (ret < 0)
		goto fail;
	*out = &s->nb;
	return 0;
fail:
	/* no socket file of ours is left behind: bind failed or it was never
	 * a server */
	s->cfg.server = s->cfg.server && s->listening;
	stream_destroy(&s->nb);
	return ret;
}
