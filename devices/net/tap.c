/* SPDX-License-Identifier: MIT */
/*
 * The tap backend: one /dev/net/tun file descriptor bound to a tap
 * interface (IFF_TAP | IFF_NO_PI, plus IFF_VNET_HDR unless vnet_hdr=off).
 * Every read() returns one Ethernet frame, every write() sends one; with
 * IFF_VNET_HDR and TUNSETVNETHDRSZ 12 each frame carries a
 * struct virtio_net_hdr_v1 in front, which the device passes through
 * untouched (net.h), so the host kernel does checksum and GSO work.
 *
 * Flow control (net.h): the fd sits in the event loop only while there is
 * something to wait for: EPOLLIN while the device has enabled rx, EPOLLOUT
 * while a send() is waiting after -EAGAIN. With neither it leaves the epoll
 * set, so a level-triggered fd cannot make the loop spin, and frames for
 * the guest wait in the kernel's tap queue (txqueuelen, then the kernel
 * drops) until the device has buffers again.
 *
 * Kernel behaviour relied on (drivers/net/tun.c):
 *  - TUNSETOFFLOAD takes TSO4/TSO6 only together with CSUM, and TSO_ECN
 *    only together with TSO4 or TSO6; any bit it does not know is -EINVAL
 *    ("a way to test for new features"), which is how the offloads are
 *    probed.
 *  - tun_chr_poll() reports EPOLLERR once the interface was deleted under
 *    us (`ip link del`); reads then fail with EBADFD.
 */
#include "devices/net/tap.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <linux/if.h>
#include <linux/if_tun.h>
#include <linux/sockios.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <sys/uio.h>
#include <unistd.h>

#include "base/err.h"
#include "base/log.h"

/* struct virtio_net_hdr_v1 (virtio 1.x, 5.1.6): flags, gso_type, hdr_len,
 * gso_size, csum_start, csum_offset, num_buffers. The legacy 10-byte header
 * lacks num_buffers; the device always speaks the 12-byte one. */
#define TAP_VNET_HDR_LEN 12

struct tap {
	struct netbe nb; /* first: ops receive &t->nb */
	struct event_loop *el;
	struct el_source src;
	int fd;
	uint32_t registered; /* epoll events the fd is in the loop with; 0 = not in it */
	bool rx_enabled;     /* the device has buffers (rx_enable) */
	bool tx_waiting;     /* a send() returned -EAGAIN; NETBE_EV_TX owed */
	bool gone;	     /* the interface was deleted: stop polling */
	char ifname[IFNAMSIZ];
	char name[4 + IFNAMSIZ]; /* "tap " + ifname, for messages */
	/* recv() with len < NETBE_FRAME_MAX reads the frame's tail here, so a
	 * frame longer than len is seen whole and dropped, never truncated. */
	uint8_t *tail;
	struct ratelimit rl;
};

static struct tap *tap_of(struct netbe *nb)
{
	return (struct tap *)nb;
}

/* Put the fd into the loop with exactly the events wanted now (or take it
 * out). Called after every change of rx_enabled / tx_waiting. */
static int tap_update_events(struct tap *t)
{
	uint32_t want = 0;
	int ret;

	if (!t->gone) {
		if (t->rx_enabled)
			want |= EPOLLIN;
		if (t->tx_waiting)
			want |= EPOLLOUT;
	}
	ret = el_watch(t->el, &t->src, &t->registered, want);
	if (ret < 0) {
		log_warn_ratelimited(&t->rl, "%s: cannot update the event loop: %s", t->nb.name,
				     strerror(-ret));
		return ret;
	}
	return 0;
}

static void tap_handler(struct el_source *src, uint32_t events)
{
	struct tap *t = src->opaque;
	unsigned int ev = 0;

	if (events & (EPOLLERR | EPOLLHUP)) {
		/* Level-triggered and permanent: without this the loop would
		 * spin. Nothing will ever arrive again; a waiting send is owed
		 * NETBE_EV_TX so the device retries and sees the error. */
		log_warn("%s: the interface went away; no more frames", t->nb.name);
		t->gone = true;
		if (t->tx_waiting)
			ev |= NETBE_EV_TX;
		t->tx_waiting = false;
	} else {
		if ((events & EPOLLOUT) && t->tx_waiting) {
			t->tx_waiting = false;
			ev |= NETBE_EV_TX;
		}
		if ((events & EPOLLIN) && t->rx_enabled)
			ev |= NETBE_EV_RX;
	}
	if (tap_update_events(t) < 0) {
		/* the fd is still in the loop with old events: the next
		 * round retries */
	}
	if (ev && t->nb.notify)
		t->nb.notify(t->nb.notify_opaque, ev);
}

static int tap_send(struct netbe *nb, const struct iovec *iov, unsigned int iovcnt)
{
	struct tap *t = tap_of(nb);
	size_t total = 0;
	ssize_t n;
	unsigned int i;

	for (i = 0; i < iovcnt; i++) {
		if (__builtin_add_overflow(total, iov[i].iov_len, &total)) {
			total = SIZE_MAX;
			break;
		}
	}
	if (total > NETBE_FRAME_MAX || total < nb->vnet_hdr_len + NETBE_FRAME_MIN ||
	    iovcnt > IOV_MAX) {
		nb->stats.tx_dropped++;
		return -EINVAL;
	}
	if (t->gone) {
		nb->stats.tx_dropped++;
		return -ENODEV;
	}
	do {
		n = writev(t->fd, iov, (int)iovcnt);
	} while (n < 0 && errno == EINTR);
	if (n < 0) {
		int err = errno;

		/* ENOBUFS: the tap's socket send buffer (TUNSETSNDBUF) is
		 * full; it drains as the kernel frees the skbs, and the fd
		 * polls writable again then. */
		if (err == EAGAIN || err == EWOULDBLOCK || err == ENOBUFS) {
			t->tx_waiting = true;
			if (tap_update_events(t) < 0) {
				/* no EPOLLOUT: NETBE_EV_TX would never come,
				 * so the frame cannot wait for it */
				t->tx_waiting = false;
				nb->stats.tx_dropped++;
				return -err;
			}
			return -EAGAIN;
		}
		nb->stats.tx_dropped++;
		return -err;
	}
	if ((size_t)n != total) {
		/* tun takes a frame whole or not at all; a short count means
		 * something other than a tap is behind the fd */
		nb->stats.tx_dropped++;
		return -EIO;
	}
	nb->stats.tx_frames++;
	nb->stats.tx_bytes += total - nb->vnet_hdr_len;
	return 0;
}

/* Frames one recv() call may drop before it yields with -EAGAIN: a flood
 * of oversized frames must not keep the loop thread in here; the fd stays
 * readable, so the handler reports NETBE_EV_RX again. */
#define TAP_RECV_MAX_DROPS 64

static ssize_t tap_recv(struct netbe *nb, void *buf, size_t len)
{
	struct tap *t = tap_of(nb);
	unsigned int drops = 0;

	while (drops < TAP_RECV_MAX_DROPS) {
		struct iovec iov[2] = {
			{ .iov_base = buf, .iov_len = len },
			{ .iov_base = t->tail, .iov_len = 0 },
		};
		int cnt = 1;
		ssize_t n;

		/* A tap read never returns part of a frame and the rest
		 * later: what does not fit is lost. Offering NETBE_FRAME_MAX
		 * bytes in total (buf, then the scratch tail) means a frame
		 * that does not fit in buf is still read whole and can be
		 * recognised by its length, while frames that fit land in
		 * buf without a copy. */
		if (len < NETBE_FRAME_MAX) {
			iov[1].iov_len = NETBE_FRAME_MAX - len;
			cnt = 2;
		}
		do {
			n = readv(t->fd, iov, cnt);
		} while (n < 0 && errno == EINTR);
		if (n < 0) {
			if (errno == EWOULDBLOCK)
				return -EAGAIN;
			return -errno;
		}
		/* n > len: the frame ran into the tail (or was longer than
		 * both: tun_put_user() returns a frame's full length even
		 * when it truncates it) */
		if ((size_t)n > len || (size_t)n < nb->vnet_hdr_len + NETBE_FRAME_MIN) {
			nb->stats.rx_dropped++;
			drops++;
			continue;
		}
		nb->stats.rx_frames++;
		nb->stats.rx_bytes += (size_t)n - nb->vnet_hdr_len;
		return n;
	}
	return -EAGAIN;
}

static void tap_rx_enable(struct netbe *nb, bool enable)
{
	struct tap *t = tap_of(nb);

	t->rx_enabled = enable;
	if (tap_update_events(t) < 0) {
		/* warned; rx stays as the loop has it */
	}
}

/* NETBE_OFFLOAD_* -> TUN_F_* */
static unsigned int tap_tun_flags(unsigned int offloads)
{
	unsigned int f = 0;

	if (offloads & NETBE_OFFLOAD_CSUM)
		f |= TUN_F_CSUM;
	if (offloads & NETBE_OFFLOAD_TSO4)
		f |= TUN_F_TSO4;
	if (offloads & NETBE_OFFLOAD_TSO6)
		f |= TUN_F_TSO6;
	if (offloads & NETBE_OFFLOAD_ECN)
		f |= TUN_F_TSO_ECN;
	return f;
}

static int tap_set_offloads(struct netbe *nb, unsigned int offloads)
{
	struct tap *t = tap_of(nb);

	if (offloads & ~nb->offloads)
		return -EOPNOTSUPP;
	if (!nb->vnet_hdr_len)
		return 0; /* offloads is 0: nothing to turn off */
	/* The kernel's own rule (and virtio's: GUEST_TSO4 requires
	 * GUEST_CSUM, GUEST_ECN requires a TSO feature, 5.1.3.1). */
	if ((offloads & (NETBE_OFFLOAD_TSO4 | NETBE_OFFLOAD_TSO6)) &&
	    !(offloads & NETBE_OFFLOAD_CSUM))
		return -EINVAL;
	if ((offloads & NETBE_OFFLOAD_ECN) &&
	    !(offloads & (NETBE_OFFLOAD_TSO4 | NETBE_OFFLOAD_TSO6)))
		return -EINVAL;
	if (ioctl(t->fd, TUNSETOFFLOAD, (unsigned long)tap_tun_flags(offloads)) < 0)
		return -errno;
	return 0;
}

static void tap_destroy(struct netbe *nb)
{
	struct tap *t = tap_of(nb);

	if (!t)
		return;
	if (t->registered && el_remove(t->el, &t->src) < 0) {
		/* closing the fd removes it from the epoll set anyway */
	}
	/* a non-persistent tap is deleted with its last fd */
	close(t->fd);
	free(t->tail);
	free(t);
}

static const struct netbe_ops tap_ops = {
	.send = tap_send,
	.recv = tap_recv,
	.rx_enable = tap_rx_enable,
	.set_offloads = tap_set_offloads,
	.destroy = tap_destroy,
};

/* Which NETBE_OFFLOAD_* bits this kernel takes, one at a time in dependency
 * order (CSUM first, ECN last); then all off again until the guest says
 * what it accepts. */
static int tap_probe_offloads(int fd, unsigned int *out)
{
	static const unsigned int order[] = { NETBE_OFFLOAD_CSUM, NETBE_OFFLOAD_TSO4,
					      NETBE_OFFLOAD_TSO6, NETBE_OFFLOAD_ECN };
	unsigned int ok = 0;
	size_t i;

	for (i = 0; i < sizeof(order) / sizeof(order[0]); i++) {
		if (ioctl(fd, TUNSETOFFLOAD, (unsigned long)tap_tun_flags(ok | order[i])) == 0)
			ok |= order[i];
	}
	if (ioctl(fd, TUNSETOFFLOAD, 0UL) < 0)
		return -errno;
	*out = ok;
	return 0;
}

/* TUNSETIFF with a message that names the cause. On success name holds
 * the interface's name (the kernel's pick when cfg left it empty). */
static int tap_attach(int fd, const struct netbe_tap_config *cfg, char name[IFNAMSIZ], char *err,
		      size_t errlen)
{
	const char *shown = cfg->ifname[0] ? cfg->ifname : "a tap device";
	const char *hint = cfg->ifname[0] ? cfg->ifname : "tap0";
	struct ifreq ifr;
	int ret;

	memset(&ifr, 0, sizeof(ifr));
	ifr.ifr_flags = IFF_TAP | IFF_NO_PI | (cfg->vnet_hdr ? IFF_VNET_HDR : 0);
	snprintf(ifr.ifr_name, sizeof(ifr.ifr_name), "%s", cfg->ifname);
	if (ioctl(fd, TUNSETIFF, &ifr) == 0) {
		snprintf(name, IFNAMSIZ, "%.*s", IFNAMSIZ - 1, ifr.ifr_name);
		return 0;
	}
	ret = -errno;
	switch (ret) {
	case -EPERM:
	case -EACCES:
		return err_set(err, errlen, ret,
			       "creating %s needs CAP_NET_ADMIN (run as root, or create a "
			       "persistent tap owned by you with `ip tuntap add dev %s mode tap "
			       "user $USER`)",
			       shown, hint);
	case -EBUSY:
		return err_set(err, errlen, ret, "%s is in use by another process", shown);
	case -EINVAL:
		/* tun_set_iff(): the name belongs to a device that is not a
		 * tap, or to a multi-queue one */
		return err_set(err, errlen, ret,
			       "%s exists and is not a single-queue tap device (%s)", shown,
			       strerror(-ret));
	default:
		return err_set(err, errlen, ret, "cannot create %s: %s", shown, strerror(-ret));
	}
}

/* Attach to the bridge (before the link goes up, so no frame reaches the
 * host stack through a tap that is not yet a bridge port), then up. */
static int tap_link_setup(const struct netbe_tap_config *cfg, const char *ifname, char *err,
			  size_t errlen)
{
	struct ifreq ifr;
	int sock, ret = 0;

	sock = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
	if (sock < 0) {
		ret = -errno;
		return err_set(err, errlen, ret, "socket: %s", strerror(-ret));
	}
	memset(&ifr, 0, sizeof(ifr));
	snprintf(ifr.ifr_name, sizeof(ifr.ifr_name), "%s", ifname);
	if (ioctl(sock, SIOCGIFINDEX, &ifr) < 0) {
		ret = -errno;
		err_set(err, errlen, ret, "%s: cannot find its index: %s", ifname, strerror(-ret));
		goto out;
	}
	if (cfg->bridge[0]) {
		int ifindex = ifr.ifr_ifindex;

		memset(&ifr, 0, sizeof(ifr));
		snprintf(ifr.ifr_name, sizeof(ifr.ifr_name), "%s", cfg->bridge);
		ifr.ifr_ifindex = ifindex;
		if (ioctl(sock, SIOCBRADDIF, &ifr) < 0) {
			ret = -errno;
			err_set(err, errlen, ret, "cannot attach %s to bridge %s: %s%s", ifname,
				cfg->bridge, strerror(-ret),
				ret == -EPERM ? " (needs CAP_NET_ADMIN)" : "");
			goto out;
		}
	}
	memset(&ifr, 0, sizeof(ifr));
	snprintf(ifr.ifr_name, sizeof(ifr.ifr_name), "%s", ifname);
	if (ioctl(sock, SIOCGIFFLAGS, &ifr) < 0) {
		ret = -errno;
		err_set(err, errlen, ret, "%s: cannot read its flags: %s", ifname, strerror(-ret));
		goto out;
	}
	/* A user's persistent tap that is already up needs no privilege:
	 * only ask for IFF_UP when it is down. */
	if (!(ifr.ifr_flags & IFF_UP)) {
		ifr.ifr_flags |= IFF_UP;
		if (ioctl(sock, SIOCSIFFLAGS, &ifr) < 0) {
			ret = -errno;
			err_set(err, errlen, ret, "cannot bring %s up: %s%s", ifname,
				strerror(-ret),
				ret == -EPERM ? " (needs CAP_NET_ADMIN, or `ip link set ... up` "
						"beforehand)"
					      : "");
			goto out;
		}
	}
out:
	close(sock);
	return ret;
}

int netbe_tap_create(const struct netbe_tap_config *ucfg, struct event_loop *el, struct netbe **out,
		     char *err, size_t errlen)
{
	struct netbe_tap_config c = *ucfg, *cfg = &c;
	struct tap *t;
	unsigned int features = 0;
	int ret;

	/* the names go into ifreqs and messages as strings: terminate them */
	c.ifname[sizeof(c.ifname) - 1] = '\0';
	c.bridge[sizeof(c.bridge) - 1] = '\0';
	t = calloc(1, sizeof(*t));
	if (!t)
		return err_set(err, errlen, -ENOMEM, "out of memory");
	t->el = el;
	t->tail = malloc(NETBE_FRAME_MAX);
	if (!t->tail) {
		ret = err_set(err, errlen, -ENOMEM, "out of memory");
		goto err_free;
	}
	t->fd = open("/dev/net/tun", O_RDWR | O_NONBLOCK | O_CLOEXEC);
	if (t->fd < 0) {
		ret = -errno;
		if (ret == -ENOENT)
			err_set(err, errlen, ret, "/dev/net/tun is missing (modprobe tun)");
		else if (ret == -EACCES || ret == -EPERM)
			/* Debian's /dev/net/tun is 0666, but some hosts make it 0600 */
			err_set(err, errlen, ret,
				"no permission to open /dev/net/tun (a tap needs root "
				"with CAP_NET_ADMIN, or read-write access to /dev/net/tun and a "
				"persistent tap owned by you)");
		else
			err_set(err, errlen, ret, "cannot open /dev/net/tun: %s", strerror(-ret));
		goto err_free;
	}
	if (cfg->vnet_hdr) {
		if (ioctl(t->fd, TUNGETFEATURES, &features) < 0 || !(features & IFF_VNET_HDR)) {
			ret = err_set(err, errlen, -EOPNOTSUPP,
				      "this kernel's tun driver has no IFF_VNET_HDR "
				      "(use vnet_hdr=off)");
			goto err_close;
		}
	}
	ret = tap_attach(t->fd, cfg, t->ifname, err, errlen);
	if (ret < 0)
		goto err_close;
	snprintf(t->name, sizeof(t->name), "tap %s", t->ifname);
	if (cfg->vnet_hdr) {
		int sz = TAP_VNET_HDR_LEN;

		if (ioctl(t->fd, TUNSETVNETHDRSZ, &sz) < 0) {
			ret = -errno;
			err_set(err, errlen, ret, "%s: TUNSETVNETHDRSZ %d: %s", t->ifname, sz,
				strerror(-ret));
			goto err_close;
		}
		ret = tap_probe_offloads(t->fd, &t->nb.offloads);
		if (ret < 0) {
			err_set(err, errlen, ret, "%s: TUNSETOFFLOAD: %s", t->ifname,
				strerror(-ret));
			goto err_close;
		}
		t->nb.vnet_hdr_len = TAP_VNET_HDR_LEN;
	}
	ret = tap_link_setup(cfg, t->ifname, err, errlen);
	if (ret < 0)
		goto err_close;

	t->nb.ops = &tap_ops;
	t->nb.name = t->name;
	t->src = (struct el_source){ .fd = t->fd, .handler = tap_handler, .opaque = t };
	*out = &t->nb;
	return 0;

err_close:
	/* closing the last fd deletes a tap we created */
	close(t->fd);
err_free:
	free(t->tail);
	free(t);
	return ret;
}
