/* SPDX-License-Identifier: MIT */
/*
 * The VDE backend (vde.h) on libvdeplug. A connection has two fds:
 *  - the data fd: one Ethernet frame per vde_recv()/vde_send(). For a
 *    classic vde_switch it is a unix datagram socket connected to the
 *    switch's port; for in-process plugins (switch://, slirp://) it is the
 *    plugin's own socket. libvdeplug opens it blocking and ignores the
 *    flags argument, so it is made non-blocking here: the event-loop
 *    thread must never wait on a full switch.
 *  - the control fd (classic switch only, -1 otherwise): a stream socket
 *    that is silent after the handshake. It becomes readable (EOF) exactly
 *    when the switch goes away, which is how a dead switch is seen even
 *    while nothing is being sent.
 *
 * Flow control (net.h), as in tap.c: the data fd is in the event loop with
 * EPOLLIN only while the device has enabled rx, so while the guest's rx
 * ring is full frames wait in the socket's queue and then the switch drops
 * them (a switch never blocks on one slow port); EPOLLOUT only while a
 * send() is owed NETBE_EV_TX after -EAGAIN (the switch's queue for us was
 * full: a unix datagram socket polls writable again once the peer reads).
 *
 * Multiplexing plugins (switch://, hub://) have no thread: the switch runs
 * inside our vde_recv(), which also answers other NICs' port handshakes.
 * So while our guest's rx ring is full, such a switch also stops serving
 * the other NICs; a separate `vde_switch` (or `vde_plug null://
 * switch://DIR`) does not depend on any one guest.
 *
 * A dead switch is reported once; the VM keeps running, frames to it are
 * dropped and counted, and every VDE_RECONNECT_MS the backend tries to
 * connect again (a restarted `vde_switch -s DIR` takes it back).
 */
#include "devices/net/vde.h"

#include <errno.h>
#include <fcntl.h>
#include <libvdeplug.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <sys/timerfd.h>
#include <sys/uio.h>
#include <unistd.h>

#include "base/err.h"
#include "base/log.h"

/* How often a backend whose switch went away tries to connect again. */
#define VDE_RECONNECT_MS   1000
/* Frames one recv() call may drop before it yields (see tap.c). */
#define VDE_RECV_MAX_DROPS 64
/* The description the switch shows for our port (`port/print`). */
#define VDE_DESCR	   "vmm"

struct vde {
	struct netbe nb; /* first: ops receive &v->nb */
	struct event_loop *el;
	struct netbe_vde_config cfg; /* kept to reconnect */
	VDECONN *conn;		     /* NULL while the switch is gone */
	struct el_source data_src;
	struct el_source ctl_src;   /* fd -1 when the plugin has no control fd */
	struct el_source retry_src; /* timerfd, armed while the switch is gone */
	uint32_t data_registered;   /* epoll events of the data fd; 0 = not in the loop */
	bool ctl_registered;
	bool rx_enabled; /* the device has buffers (rx_enable) */
	bool tx_waiting; /* a send() returned -EAGAIN; NETBE_EV_TX owed */
	bool mac_clash_warned;
	char name[4 + 64]; /* "vde " + the socket, cut: for messages */
	/* VDE_ETHBUFSIZE + 1 bytes: gathers a frame for vde_send (which takes
	 * one buffer), and receives when the caller's buffer is short, so a
	 * longer frame is seen whole and dropped, never truncated. */
	uint8_t *bounce;
	struct ratelimit rl;
};

static struct vde *vde_of(struct netbe *nb)
{
	return (struct vde *)nb;
}

/* The data fd in the loop with exactly the events wanted now. */
static int vde_update_events(struct vde *v)
{
	uint32_t want = 0;
	int ret;

	if (v->conn) {
		if (v->rx_enabled)
			want |= EPOLLIN;
		if (v->tx_waiting)
			want |= EPOLLOUT;
	}
	ret = el_watch(v->el, &v->data_src, &v->data_registered, want);
	if (ret < 0) {
		log_warn_ratelimited(&v->rl, "%s: cannot update the event loop: %s", v->nb.name,
				     strerror(-ret));
		return ret;
	}
	return 0;
}

static int vde_arm_retry(struct vde *v, bool on)
{
	struct itimerspec its = { 0 };

	if (on) {
		its.it_value.tv_sec = VDE_RECONNECT_MS / 1000;
		its.it_value.tv_nsec = (VDE_RECONNECT_MS % 1000) * 1000000L;
		its.it_interval = its.it_value;
	}
	if (timerfd_settime(v->retry_src.fd, 0, &its, NULL) < 0)
		return -errno;
	return 0;
}

/* Leave the loop with both fds and close the connection. */
static void vde_disconnect(struct vde *v)
{
	if (v->data_registered && el_remove(v->el, &v->data_src) < 0) {
		/* closing the fd takes it out of the epoll set anyway */
	}
	v->data_registered = 0;
	if (v->ctl_registered && el_remove(v->el, &v->ctl_src) < 0) {
		/* as above */
	}
	v->ctl_registered = false;
	if (v->conn)
		vde_close(v->conn);
	v->conn = NULL;
	v->data_src.fd = -1;
	v->ctl_src.fd = -1;
}

/* The switch went away: say so once, stop polling, and retry. Returns the
 * events owed to the device (a waiting send must learn it failed). */
static unsigned int vde_mark_gone(struct vde *v, const char *why)
{
	unsigned int ev = v->tx_waiting ? NETBE_EV_TX : 0;

	log_warn("%s: the switch went away (%s); frames are dropped until it is back", v->nb.name,
		 why);
	v->tx_waiting = false;
	vde_disconnect(v);
	if (vde_arm_retry(v, true) < 0)
		log_warn("%s: cannot arm the reconnect timer; not reconnecting", v->nb.name);
	return ev;
}

static void vde_ctl_handler(struct el_source *src, uint32_t events)
{
	struct vde *v = src->opaque;
	char byte;
	ssize_t n;
	unsigned int ev;

	/* The switch says nothing on the control socket after the handshake:
	 * readable means EOF (or a reset) unless it did send something, which
	 * is read and ignored. */
	n = recv(v->ctl_src.fd, &byte, 1, MSG_DONTWAIT);
	if (n > 0 || (n < 0 && (errno == EAGAIN || errno == EINTR)))
		return;
	ev = vde_mark_gone(v, n == 0 ? "control socket closed" : strerror(errno));
	if (ev && v->nb.notify)
		v->nb.notify(v->nb.notify_opaque, ev);
}

static void vde_data_handler(struct el_source *src, uint32_t events)
{
	struct vde *v = src->opaque;
	unsigned int ev = 0;

	if ((events & EPOLLOUT) && v->tx_waiting) {
		v->tx_waiting = false;
		ev |= NETBE_EV_TX;
	}
	/* EPOLLERR on a datagram socket is a pending error (the switch's
	 * port closed): recv() reports it, and says whether it is fatal. */
	if ((events & (EPOLLIN | EPOLLERR | EPOLLHUP)) && v->rx_enabled)
		ev |= NETBE_EV_RX;
	if (vde_update_events(v) < 0) {
		/* still in the loop with the old events: the next round retries */
	}
	if (ev && v->nb.notify)
		v->nb.notify(v->nb.notify_opaque, ev);
}

static int vde_connect(struct vde *v, char *err, size_t errlen);

/* vde_open() blocks until the switch answers its handshake: a switch that
 * accepts connections but never answers (stopped with SIGSTOP) would hold
 * the loop here, as it would hold vmm's start; a switch that is gone fails
 * at once (no directory, or a refused connect). */
static void vde_retry_handler(struct el_source *src, uint32_t events)
{
	struct vde *v = src->opaque;
	uint64_t ticks;
	char err[256];

	if (read(v->retry_src.fd, &ticks, sizeof(ticks)) < 0) {
		/* EAGAIN: a spurious wakeup; the timer keeps running */
	}
	if (v->conn || vde_connect(v, err, sizeof(err)) < 0)
		return; /* still gone: said once already */
	if (vde_arm_retry(v, false) < 0) {
		/* a later tick finds v->conn set and does nothing */
	}
	log_info("%s: connected to the switch again", v->nb.name);
	if (vde_update_events(v) < 0) {
		/* warned; rx resumes with the next rx_enable */
	}
	if (v->rx_enabled && v->nb.notify)
		v->nb.notify(v->nb.notify_opaque, NETBE_EV_RX);
}

static int vde_send_op(struct netbe *nb, const struct iovec *iov, unsigned int iovcnt)
{
	struct vde *v = vde_of(nb);
	const void *frame;
	size_t total = 0;
	unsigned int i;
	ssize_t n;

	for (i = 0; i < iovcnt; i++) {
		if (__builtin_add_overflow(total, iov[i].iov_len, &total)) {
			total = SIZE_MAX;
			break;
		}
	}
	/* VDE's frames end at VDE_ETHBUFSIZE (an MTU of 9216 plus Ethernet
	 * and 802.1Q headers): the switch would cut a longer one. */
	if (total > VDE_ETHBUFSIZE || total < NETBE_FRAME_MIN || iovcnt == 0) {
		nb->stats.tx_dropped++;
		return -EINVAL;
	}
	if (!v->conn) {
		nb->stats.tx_dropped++;
		return -ENOTCONN;
	}
	frame = iov[0].iov_base;
	if (iovcnt > 1) {
		size_t off = 0;

		for (i = 0; i < iovcnt; i++) {
			memcpy(v->bounce + off, iov[i].iov_base, iov[i].iov_len);
			off += iov[i].iov_len;
		}
		frame = v->bounce;
	}
	do {
		n = vde_send(v->conn, frame, total, 0);
	} while (n < 0 && errno == EINTR);
	if (n < 0) {
		int err = errno;

		if (err == EAGAIN || err == EWOULDBLOCK || err == ENOBUFS) {
			v->tx_waiting = true;
			if (vde_update_events(v) < 0) {
				v->tx_waiting = false;
				nb->stats.tx_dropped++;
				return -err;
			}
			return -EAGAIN;
		}
		nb->stats.tx_dropped++;
		if (err == ECONNREFUSED || err == ENOTCONN || err == ECONNRESET || err == EPIPE) {
			/* inside an op: no notify (net.h); nothing is waiting */
			(void)vde_mark_gone(v, strerror(err));
		}
		return -err;
	}
	nb->stats.tx_frames++;
	nb->stats.tx_bytes += total;
	return 0;
}

/* Two NICs with one MAC on one switch: the switch flips its port for that
 * address back and forth and both lose frames. A frame from the switch
 * whose source is our own address can only come from the other one. */
static void vde_check_mac(struct vde *v, const uint8_t *frame)
{
	const uint8_t *m = v->cfg.mac;

	if (v->mac_clash_warned || memcmp(frame + 6, m, 6))
		return;
	v->mac_clash_warned = true;
	log_warn("%s: another NIC on this switch uses this NIC's MAC "
		 "%02x:%02x:%02x:%02x:%02x:%02x; give each its own mac=",
		 v->nb.name, m[0], m[1], m[2], m[3], m[4], m[5]);
}

static ssize_t vde_recv_op(struct netbe *nb, void *buf, size_t len)
{
	struct vde *v = vde_of(nb);
	unsigned int drops = 0;

	while (v->conn && drops < VDE_RECV_MAX_DROPS) {
		/* Straight into buf when any frame VDE can carry fits, with
		 * one byte to spare so that a longer datagram (a hostile
		 * peer) shows as longer; else through the bounce buffer. */
		bool direct = len > VDE_ETHBUFSIZE;
		uint8_t *dst = direct ? buf : v->bounce;
		ssize_t n;

		do {
			n = vde_recv(v->conn, dst, VDE_ETHBUFSIZE + 1, 0);
		} while (n < 0 && errno == EINTR);
		if (n < 0) {
			int err = errno;

			if (err == EAGAIN || err == EWOULDBLOCK)
				return -EAGAIN;
			/* ECONNREFUSED: the switch closed our port. Any
			 * other error would come back on every wakeup of a
			 * level-triggered fd: the connection is given up
			 * (said once) and made again. */
			(void)vde_mark_gone(v, strerror(err));
			return -EAGAIN;
		}
		/* 0: a multiplexing plugin (switch://, hub://) served one of
		 * its own ports inside vde_recv; no frame for us */
		if (n == 0)
			return -EAGAIN;
		if ((size_t)n > VDE_ETHBUFSIZE || (size_t)n > len || (size_t)n < NETBE_FRAME_MIN) {
			nb->stats.rx_dropped++;
			drops++;
			continue;
		}
		if (!direct)
			memcpy(buf, v->bounce, (size_t)n);
		vde_check_mac(v, buf);
		nb->stats.rx_frames++;
		nb->stats.rx_bytes += (size_t)n;
		return n;
	}
	return -EAGAIN;
}

static void vde_rx_enable(struct netbe *nb, bool enable)
{
	struct vde *v = vde_of(nb);

	v->rx_enabled = enable;
	if (vde_update_events(v) < 0) {
		/* warned; rx stays as the loop has it */
	}
}

static void vde_destroy(struct netbe *nb)
{
	struct vde *v = vde_of(nb);

	if (!v)
		return;
	vde_disconnect(v);
	if (el_remove(v->el, &v->retry_src) < 0) {
		/* closing it below takes it out anyway */
	}
	close(v->retry_src.fd);
	free(v->bounce);
	free(v);
}

static const struct netbe_ops vde_ops = {
	.send = vde_send_op,
	.recv = vde_recv_op,
	.rx_enable = vde_rx_enable,
	.set_offloads = netbe_no_offloads,
	.destroy = vde_destroy,
};

/* vde_open's errno as one line about the switch the user named. */
static int vde_open_error(const struct netbe_vde_config *cfg, int ret, char *err, size_t errlen)
{
	const char *s = cfg->sock[0] ? cfg->sock : "the default switch (/var/run/vde.ctl)";

	switch (ret) {
	case -ENOENT:
	case -ENOTDIR:
		return err_set(err, errlen, ret,
			       "no VDE switch at %s (start one with `vde_switch -d -s %s`, or use "
			       "switch://%s to run one inside vmm)",
			       s, cfg->sock[0] ? cfg->sock : "DIR",
			       cfg->sock[0] == '/' ? cfg->sock : "/DIR");
	case -ECONNREFUSED:
		return err_set(err, errlen, ret,
			       "%s: nothing answers on the switch's control socket (a stale "
			       "socket: has its vde_switch exited?)",
			       s);
	case -EACCES:
	case -EPERM:
		return err_set(err, errlen, ret, "%s: no permission to join the switch (%s)", s,
			       strerror(-ret));
	case -EPROTONOSUPPORT:
		return err_set(err, errlen, ret,
			       "%s: unknown vdeplug URL scheme (no libvdeplug plugin for it; "
			       "Debian ships slirp:// in libvdeplug-slirp)",
			       s);
	case -EINVAL:
		return err_set(err, errlen, ret, "%s: malformed VDE URL or options", s);
	default:
		return err_set(err, errlen, ret, "cannot connect to %s: %s", s, strerror(-ret));
	}
}

/* Open the connection and put its fds in the loop (the data fd only when
 * rx or tx wants it: vde_update_events). */
static int vde_connect(struct vde *v, char *err, size_t errlen)
{
	struct vde_open_args args = {
		.port = (int)v->cfg.port,
		.group = v->cfg.group[0] ? v->cfg.group : NULL,
		.mode = (mode_t)v->cfg.mode,
	};
	int fd, flags, ret;

	errno = 0;
	v->conn = vde_open(v->cfg.sock, VDE_DESCR, &args);
	if (!v->conn)
		return vde_open_error(&v->cfg, errno ? -errno : -EIO, err, errlen);
	fd = vde_datafd(v->conn);
	flags = fd >= 0 ? fcntl(fd, F_GETFL) : -1;
	if (flags < 0 || fcntl(fd, F_SETFL, flags | O_NONBLOCK) < 0) {
		ret = err_set(err, errlen, fd < 0 ? -EBADF : -errno,
			      "%s: cannot make the data socket non-blocking", v->cfg.sock);
		goto err_close;
	}
	v->data_src.fd = fd;
	v->ctl_src.fd = vde_ctlfd(v->conn);
	if (v->ctl_src.fd >= 0) {
		ret = el_add(v->el, &v->ctl_src, EPOLLIN);
		if (ret < 0) {
			err_set(err, errlen, ret, "event loop: %s", strerror(-ret));
			goto err_close;
		}
		v->ctl_registered = true;
	}
	return 0;

err_close:
	vde_close(v->conn);
	v->conn = NULL;
	v->data_src.fd = -1;
	v->ctl_src.fd = -1;
	return ret;
}

int netbe_vde_create(const struct netbe_vde_config *cfg, struct event_loop *el, struct netbe **out,
		     char *err, size_t errlen)
{
	struct vde *v;
	int ret;

	v = calloc(1, sizeof(*v));
	if (!v)
		return err_set(err, errlen, -ENOMEM, "out of memory");
	v->cfg = *cfg;
	v->cfg.sock[sizeof(v->cfg.sock) - 1] = '\0';
	v->cfg.group[sizeof(v->cfg.group) - 1] = '\0';
	v->el = el;
	v->data_src = (struct el_source){ .fd = -1, .handler = vde_data_handler, .opaque = v };
	v->ctl_src = (struct el_source){ .fd = -1, .handler = vde_ctl_handler, .opaque = v };
	v->retry_src = (struct el_source){ .handler = vde_retry_handler, .opaque = v };
	v->bounce = malloc(VDE_ETHBUFSIZE + 1);
	if (!v->bounce) {
		ret = err_set(err, errlen, -ENOMEM, "out of memory");
		goto err_free;
	}
	v->retry_src.fd = timerfd_create(CLOCK_MONOTONIC, TFD_NONBLOCK | TFD_CLOEXEC);
	if (v->retry_src.fd < 0) {
		ret = -errno;
		err_set(err, errlen, ret, "timerfd: %s", strerror(-ret));
		goto err_free;
	}
	ret = el_add(el, &v->retry_src, EPOLLIN);
	if (ret < 0) {
		err_set(err, errlen, ret, "event loop: %s", strerror(-ret));
		goto err_timer;
	}
	ret = vde_connect(v, err, errlen);
	if (ret < 0)
		goto err_loop;
	snprintf(v->name, sizeof(v->name), "vde %.60s", cfg->sock[0] ? cfg->sock : "(default)");
	v->nb.ops = &vde_ops;
	v->nb.name = v->name;
	*out = &v->nb;
	return 0;

err_loop:
	if (el_remove(el, &v->retry_src) < 0) {
		/* closing it below takes it out anyway */
	}
err_timer:
	close(v->retry_src.fd);
err_free:
	free(v->bounce);
	free(v);
	return ret;
}

/* GCC says __SANITIZE_ADDRESS__; clang says __has_feature(address_sanitizer) */
#if defined(__has_feature)
#if __has_feature(address_sanitizer)
#define VDE_ASAN 1
#endif
#endif
#if defined(__SANITIZE_ADDRESS__) || defined(VDE_ASAN)
#include <dlfcn.h>
/*
 * AddressSanitizer builds only. libvdeplug loads its plugins (even the
 * classic vde://) with dlopen(RTLD_DEEPBIND), which ASan's dlopen
 * interceptor refuses by ending the process (google/sanitizers#611): every
 * `--net vde` would die in an ASan build, and its tests with it. This
 * definition in the executable comes before ASan's in symbol lookup, drops
 * the flag and hands the call on. The plugins find their own symbols
 * through their handle (dlsym(handle, "vdeplug_ops")), which needs no deep
 * binding. Release builds never contain this.
 */
void *dlopen(const char *file, int flags)
{
	void *(*next)(const char *, int) = (void *(*)(const char *, int))dlsym(RTLD_NEXT, "dlopen");

	return next ? next(file, flags & ~RTLD_DEEPBIND) : NULL;
}
#endif
