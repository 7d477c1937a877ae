/* SPDX-License-Identifier: MIT */
/*
 * The tap backend against the real kernel: every test runs in a private
 * network (and mount) namespace made once in main(), so it can create
 * taps and bridges, give the tap's host side an address and talk to the
 * host's ARP and ICMP code with hand-built frames, without touching the
 * machine's own interfaces. Needs CAP_NET_ADMIN; without it every test is
 * skipped with the reason printed.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <linux/capability.h>
#include <linux/ethtool.h>
#include <net/if.h>
#include <linux/sockios.h>
#include <limits.h>
#include <net/if_arp.h>
#include <netinet/in.h>
#include <stdio.h>
#include <sys/epoll.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <sys/time.h>
#include <sys/wait.h>
#include <unistd.h>

#include "devices/net/tap.h"
#include "tests/unit/net/loop_wait.h"
#include "tests/unit/net/frames.h"
#include "tests/unit/net/tap_env.h"

#define TAP_NAME "vmmtap0"
#define BR_NAME	 "vmmbr0"
/* HOST_IP, the tap's kernel side, is in tap_env.h */
#define GUEST_IP 0xc0a84d02u /* 192.168.77.2: "the guest", i.e. these frames */
#define ICMP_ID	 0x7a11

static const uint8_t guest_mac[6] = { 0x52, 0x54, 0x00, 0x12, 0x34, 0x56 };

struct fx {
	const struct env *env;
	uint8_t *buf;	    /* NETBE_FRAME_MAX + 1 bytes, zeroed */
	struct loop_wait w; /* the loop, its timeout, what notify() said */
	struct netbe *nb;
	char err[256];
};

/* Fault injection. tun never fails a write of a small frame with EAGAIN or
 * ENOBUFS (tun_build_skb() bypasses the socket's send buffer), so this
 * binary interposes writev(), which also serves the statically linked
 * backend: a frame whose bytes 12..16 (the destination MAC behind a vnet
 * header) are 02:00:00:00:ee fails with errno = byte 17. The frame itself
 * decides, so there is no hidden state; everything else is the syscall. */
ssize_t writev(int fd, const struct iovec *iov, int iovcnt)
{
	static const uint8_t mark[5] = { 0x02, 0, 0, 0, 0xee };
	const uint8_t *p = iovcnt > 0 ? iov[0].iov_base : NULL;

	if (p && iov[0].iov_len >= 18 && !memcmp(p + 12, mark, sizeof(mark))) {
		errno = p[17];
		return -1;
	}
	return syscall(SYS_writev, fd, iov, iovcnt);
}

/* ---- event loop fixture --------------------------------------------- */

/* Per test, with the env as prestate: a loop with a timeout timer. The
 * teardown also runs after a failed assertion, so a test that fails leaves
 * no tap behind to make the next one fail with EBUSY. */
static int fx_setup(void **state)
{
	struct fx *f = calloc(1, sizeof(*f));

	if (!f)
		return -1;
	f->env = *state;
	*state = f;
	f->buf = calloc(1, NETBE_FRAME_MAX + 1);
	return !f->buf || loop_wait_init(&f->w) < 0 ? -1 : 0;
}

/* destroy the backend (the tap goes with it) */
static void fx_close(struct fx *f)
{
	if (f->nb)
		f->nb->ops->destroy(f->nb);
	f->nb = NULL;
}

static int fx_teardown(void **state)
{
	struct fx *f = *state;

	fx_close(f);
	loop_wait_destroy(&f->w);
	free(f->buf);
	free(f);
	return 0;
}

static void fx_create(struct fx *f, const char *ifname, const char *bridge, bool vnet_hdr)
{
	struct netbe_tap_config cfg = { .vnet_hdr = vnet_hdr };
	int ret;

	snprintf(cfg.ifname, sizeof(cfg.ifname), "%s", ifname);
	snprintf(cfg.bridge, sizeof(cfg.bridge), "%s", bridge);
	ret = netbe_tap_create(&cfg, &f->w.el, &f->nb, f->err, sizeof(f->err));
	if (ret)
		print_message("netbe_tap_create: %d: %s\n", ret, f->err);
	assert_int_equal(ret, 0);
	loop_wait_attach(&f->w, f->nb);
}

/* Run the loop until the backend notifies or ms pass. Returns the events
 * (0 on timeout). */
static unsigned int fx_wait(struct fx *f, int ms)
{
	unsigned int events;

	assert_int_equal(loop_wait_run(&f->w, ms, &events), 0);
	return events;
}

typedef bool frame_match_fn(const uint8_t *frame, size_t len, void *arg);

/* recv() frames (waiting for NETBE_EV_RX between them) until one matches;
 * its length (header included) or -ETIMEDOUT. */
static ssize_t fx_recv_match(struct fx *f, uint8_t *buf, size_t len, frame_match_fn *match,
			     void *arg)
{
	unsigned int hdr = f->nb->vnet_hdr_len;
	int rounds;

	f->nb->ops->rx_enable(f->nb, true);
	for (rounds = 0; rounds < 100;) {
		ssize_t n = f->nb->ops->recv(f->nb, buf, len);

		if (n >= 0) {
			assert_true((size_t)n >= hdr + 14);
			if (match(buf + hdr, (size_t)n - hdr, arg))
				return n;
			continue;
		}
		assert_int_equal(n, -EAGAIN);
		if (!(fx_wait(f, 5000) & NETBE_EV_RX))
			return -ETIMEDOUT;
		rounds++;
	}
	return -ETIMEDOUT;
}

/* ---- frames ----------------------------------------------------------- */

/* Ethernet + ARP request "who has 192.168.77.1, tell 192.168.77.2", after
 * hdr zero bytes (the virtio_net_hdr_v1: no offload, nothing to do). */
static size_t build_arp_request(uint8_t *buf, unsigned int hdr)
{
	memset(buf, 0, hdr);
	return hdr +
	       fr_arp(buf + hdr, ARPOP_REQUEST, guest_mac, htonl(GUEST_IP), NULL, htonl(HOST_IP));
}

/* "192.168.77.1 is at <mac>", to us; copies the host's MAC to arg */
static bool match_arp_reply(const uint8_t *f, size_t len, void *arg)
{
	const uint8_t *a = f + 14;

	if (len < 42 || fr_get16(f + 12) != 0x0806 || memcmp(f, guest_mac, 6))
		return false;
	if (fr_get16(a) != ARPHRD_ETHER || fr_get16(a + 2) != 0x0800 || a[4] != 6 || a[5] != 4 ||
	    fr_get16(a + 6) != ARPOP_REPLY)
		return false;
	if (fr_get32(a + 14) != HOST_IP || memcmp(a + 18, guest_mac, 6) ||
	    fr_get32(a + 24) != GUEST_IP)
		return false;
	assert_memory_equal(f + 6, a + 8, 6);
	if (arg)
		memcpy(arg, a + 8, 6);
	return true;
}

struct echo {
	uint16_t seq;
	const uint8_t *payload;
	size_t plen;
};

static size_t build_echo_request(uint8_t *buf, unsigned int hdr, const uint8_t host_mac[6],
				 const struct echo *ec)
{
	struct fr_ends e = { host_mac, guest_mac, htonl(GUEST_IP), htonl(HOST_IP), ec->seq };

	memset(buf, 0, hdr);
	return hdr + fr_icmp_echo_frame(buf + hdr, &e, 8, ICMP_ID, ec->seq, ec->payload, ec->plen);
}

static bool match_echo_reply(const uint8_t *f, size_t len, void *arg)
{
	const struct echo *ec = arg;
	const uint8_t *ip = f + 14, *icmp = ip + 20;

	if (len < 14 + 20 + 8 || fr_get16(f + 12) != 0x0800 || memcmp(f, guest_mac, 6))
		return false;
	if (ip[0] != 0x45 || ip[9] != 1 || fr_get32(ip + 12) != HOST_IP ||
	    fr_get32(ip + 16) != GUEST_IP)
		return false;
	if (icmp[0] != 0 || fr_get16(icmp + 4) != ICMP_ID || fr_get16(icmp + 6) != ec->seq)
		return false;
	/* checksums complete (no CSUM offload was enabled), payload echoed */
	assert_int_equal(fr_csum(ip, 20), 0);
	assert_int_equal(fr_get16(ip + 2), 20 + 8 + ec->plen);
	assert_true(len >= 14 + 20 + 8 + ec->plen);
	assert_int_equal(fr_csum(icmp, 8 + ec->plen), 0);
	assert_memory_equal(icmp + 8, ec->payload, ec->plen);
	return true;
}

static int send_buf(struct fx *f, const uint8_t *buf, size_t len)
{
	struct iovec iov = { .iov_base = (void *)buf, .iov_len = len };

	return f->nb->ops->send(f->nb, &iov, 1);
}

/* ARP for the host side, then ping it: returns the host side's MAC. */
static void arp_and_ping(struct fx *f, uint8_t host_mac[6])
{
	static const uint8_t payload[] = "vmm tap backend: echo me back, byte for byte 0123456789";
	unsigned int hdr = f->nb->vnet_hdr_len;
	struct echo ec = { .seq = 1, .payload = payload, .plen = sizeof(payload) };
	uint8_t *buf = f->buf;
	uint64_t tx0 = f->nb->stats.tx_frames;
	ssize_t n;

	assert_int_equal(send_buf(f, buf, build_arp_request(buf, hdr)), 0);
	n = fx_recv_match(f, buf, NETBE_FRAME_MAX, match_arp_reply, host_mac);
	assert_int_equal(n, hdr + 42);
	if (hdr) /* no offload asked for: the kernel leaves the header zero */
		assert_int_equal(buf[0] | buf[1], 0);

	assert_int_equal(send_buf(f, buf, build_echo_request(buf, hdr, host_mac, &ec)), 0);
	n = fx_recv_match(f, buf, NETBE_FRAME_MAX, match_echo_reply, &ec);
	assert_true(n > 0);
	assert_int_equal(f->nb->stats.tx_frames, tx0 + 2);
	assert_true(f->nb->stats.rx_frames >= 2);
}

/* ---- tests ------------------------------------------------------------ */

/* 1 */
static void test_create_vnet_hdr(void **state)
{
	struct fx *f = *state;

	te_require_env(f->env);
	fx_create(f, TAP_NAME, "", true);
	assert_string_equal(f->nb->name, "tap " TAP_NAME);
	assert_true(if_nametoindex(TAP_NAME) > 0);
	assert_true(te_if_flags(TAP_NAME) & IFF_UP);
	assert_int_equal(f->nb->vnet_hdr_len, 12);
	assert_int_equal(f->nb->offloads &
				 (NETBE_OFFLOAD_CSUM | NETBE_OFFLOAD_TSO4 | NETBE_OFFLOAD_TSO6),
			 NETBE_OFFLOAD_CSUM | NETBE_OFFLOAD_TSO4 | NETBE_OFFLOAD_TSO6);
	print_message("tap offloads this kernel takes: %#x (CSUM 1, TSO4 2, TSO6 4, ECN 8)\n",
		      f->nb->offloads);
	/* the probe left them all off until the guest says otherwise */
	assert_int_equal(te_ethtool_get(TAP_NAME, ETHTOOL_GTSO), 0);
	fx_close(f);
	/* not persistent: closing the fd removed the interface */
	assert_int_equal(if_nametoindex(TAP_NAME), 0);

	/* an empty name lets the kernel pick one; the backend reads it back */
	fx_create(f, "", "", true);
	assert_true(strncmp(f->nb->name, "tap tap", 7) == 0);
	assert_true(if_nametoindex(f->nb->name + 4) > 0);
	assert_true(te_if_flags(f->nb->name + 4) & IFF_UP);
}

/* 2 */
static void test_arp_and_ping_vnet_hdr(void **state)
{
	struct fx *f = *state;
	uint8_t mac[6];

	te_require_env(f->env);
	fx_create(f, TAP_NAME, "", true);
	te_set_host_addr(TAP_NAME);
	arp_and_ping(f, mac);
	assert_int_equal(f->nb->stats.tx_dropped, 0);
	fx_close(f);
}

/* 3 */
static void test_bridge(void **state)
{
	struct fx *f = *state;
	struct netbe_tap_config cfg = { .vnet_hdr = true, .ifname = TAP_NAME, .bridge = "vmmnobr" };
	struct netbe *nb = NULL;
	char link[PATH_MAX];
	ssize_t n;
	int s, fds;

	te_require_env(f->env);
	s = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
	assert_true(s >= 0);
	assert_int_equal(ioctl(s, SIOCBRADDBR, BR_NAME), 0);

	fx_create(f, TAP_NAME, BR_NAME, true);
	n = readlink("/sys/class/net/" TAP_NAME "/master", link, sizeof(link) - 1);
	assert_true(n > 0);
	link[n] = '\0';
	assert_non_null(strstr(link, "/" BR_NAME));
	assert_true(te_if_flags(TAP_NAME) & IFF_UP);
	f->nb->ops->destroy(f->nb);
	f->nb = NULL;
	assert_int_equal(if_nametoindex(TAP_NAME), 0);

	/* a bridge that does not exist: one line naming it, nothing left */
	fds = te_open_fds();
	assert_int_equal(netbe_tap_create(&cfg, &f->w.el, &nb, f->err, sizeof(f->err)), -ENODEV);
	assert_null(nb);
	assert_string_equal(f->err, "cannot attach " TAP_NAME " to bridge vmmnobr: No such device");
	assert_null(strchr(f->err, '\n'));
	assert_int_equal(te_open_fds(), fds);
	assert_int_equal(if_nametoindex(TAP_NAME), 0);

	/* a name that is not a bridge at all */
	snprintf(cfg.bridge, sizeof(cfg.bridge), "lo");
	assert_true(netbe_tap_create(&cfg, &f->w.el, &nb, f->err, sizeof(f->err)) < 0);
	assert_non_null(strstr(f->err, "to bridge lo: "));
	assert_int_equal(te_open_fds(), fds);

	fx_close(f);
	assert_int_equal(ioctl(s, SIOCBRDELBR, BR_NAME), 0);
	close(s);
}

/* 4 */
static void test_no_vnet_hdr(void **state)
{
	struct fx *f = *state;
	uint8_t mac[6];

	te_require_env(f->env);
	fx_create(f, TAP_NAME, "", false);
	assert_int_equal(f->nb->vnet_hdr_len, 0);
	assert_int_equal(f->nb->offloads, 0);
	assert_int_equal(f->nb->ops->set_offloads(f->nb, 0), 0);
	assert_int_equal(f->nb->ops->set_offloads(f->nb, NETBE_OFFLOAD_CSUM), -EOPNOTSUPP);
	te_set_host_addr(TAP_NAME);
	arp_and_ping(f, mac);
	fx_close(f);
}

/* 5: the same process without CAP_NET_ADMIN (a forked child drops it) */
static void test_no_privilege(void **state)
{
	struct fx *f = *state;
	pid_t pid;
	int status;

	te_require_env(f->env);
	pid = fork();
	assert_true(pid >= 0);
	if (pid == 0) {
		struct __user_cap_header_struct h = { .version = _LINUX_CAPABILITY_VERSION_3 };
		struct __user_cap_data_struct d[2];
		struct netbe_tap_config cfg = { .vnet_hdr = true, .ifname = "vmmtap5" };
		struct netbe *nb = NULL;
		struct event_loop el;
		char err[256] = "";
		int ret;

		/* no cmocka in here: exit codes tell the parent what failed */
		if (syscall(SYS_capget, &h, d) < 0)
			_exit(10);
		d[CAP_TO_INDEX(CAP_NET_ADMIN)].effective &= ~CAP_TO_MASK(CAP_NET_ADMIN);
		d[CAP_TO_INDEX(CAP_NET_ADMIN)].permitted &= ~CAP_TO_MASK(CAP_NET_ADMIN);
		d[CAP_TO_INDEX(CAP_NET_ADMIN)].inheritable &= ~CAP_TO_MASK(CAP_NET_ADMIN);
		if (syscall(SYS_capset, &h, d) < 0)
			_exit(11);
		if (te_have_cap_net_admin())
			_exit(12);
		if (el_init(&el))
			_exit(13);
		ret = netbe_tap_create(&cfg, &el, &nb, err, sizeof(err));
		fprintf(stderr, "  child without CAP_NET_ADMIN: %d: %s\n", ret, err);
		if (ret != -EPERM)
			_exit(14);
		if (!strstr(err, "CAP_NET_ADMIN") || !strstr(err, "vmmtap5") || strchr(err, '\n'))
			_exit(15);
		if (nb || if_nametoindex("vmmtap5"))
			_exit(16);
		el_destroy(&el);
		_exit(0);
	}
	assert_int_equal(waitpid(pid, &status, 0), pid);
	assert_true(WIFEXITED(status));
	assert_int_equal(WEXITSTATUS(status), 0);
}

/* Other creation errors: a name already in use, a name that is no tap. */
static void test_create_errors(void **state)
{
	struct fx *f = *state;
	struct netbe_tap_config cfg = { .vnet_hdr = true, .ifname = TAP_NAME };
	struct netbe *nb = NULL;
	int fds;

	te_require_env(f->env);
	fx_create(f, TAP_NAME, "", true);
	fds = te_open_fds();
	assert_int_equal(netbe_tap_create(&cfg, &f->w.el, &nb, f->err, sizeof(f->err)), -EBUSY);
	assert_string_equal(f->err, "" TAP_NAME " is in use by another process");
	snprintf(cfg.ifname, sizeof(cfg.ifname), "lo");
	assert_int_equal(netbe_tap_create(&cfg, &f->w.el, &nb, f->err, sizeof(f->err)), -EINVAL);
	assert_non_null(strstr(f->err, "lo exists and is not a single-queue tap device"));
	assert_null(nb);
	assert_int_equal(te_open_fds(), fds);
	/* the first one still works */
	assert_true(te_if_flags(TAP_NAME) & IFF_UP);
	fx_close(f);
}

/* 6a */
static void test_set_offloads(void **state)
{
	const unsigned int ct = NETBE_OFFLOAD_CSUM | NETBE_OFFLOAD_TSO4 | NETBE_OFFLOAD_TSO6;
	struct fx *f = *state;

	te_require_env(f->env);
	fx_create(f, TAP_NAME, "", true);
	assert_int_equal(f->nb->ops->set_offloads(f->nb, ct), 0);
	/* the tap's own features follow: it may now hand us TSO frames with
	 * partial checksums */
	assert_int_equal(te_ethtool_get(TAP_NAME, ETHTOOL_GTSO), 1);
	assert_int_equal(te_ethtool_get(TAP_NAME, ETHTOOL_GTXCSUM), 1);
	assert_int_equal(f->nb->ops->set_offloads(f->nb, f->nb->offloads), 0);
	assert_int_equal(f->nb->ops->set_offloads(f->nb, NETBE_OFFLOAD_CSUM), 0);
	assert_int_equal(te_ethtool_get(TAP_NAME, ETHTOOL_GTSO), 0);
	assert_int_equal(te_ethtool_get(TAP_NAME, ETHTOOL_GTXCSUM), 1);
	assert_int_equal(f->nb->ops->set_offloads(f->nb, 0), 0);
	assert_int_equal(te_ethtool_get(TAP_NAME, ETHTOOL_GTXCSUM), 0);
	/* bits it does not support */
	assert_int_equal(f->nb->ops->set_offloads(f->nb, 1U << 4), -EOPNOTSUPP);
	assert_int_equal(f->nb->ops->set_offloads(f->nb, ct | (1U << 31)), -EOPNOTSUPP);
	/* combinations virtio and the kernel forbid: TSO without CSUM */
	assert_int_equal(f->nb->ops->set_offloads(f->nb, NETBE_OFFLOAD_TSO4), -EINVAL);
	if (f->nb->offloads & NETBE_OFFLOAD_ECN)
		assert_int_equal(
			f->nb->ops->set_offloads(f->nb, NETBE_OFFLOAD_CSUM | NETBE_OFFLOAD_ECN),
			-EINVAL);
	assert_int_equal(te_ethtool_get(TAP_NAME, ETHTOOL_GTXCSUM), 0);
	fx_close(f);
}

/* 6b: rx off keeps frames in the kernel without spinning the loop */
static void test_rx_backpressure(void **state)
{
	struct fx *f = *state;
	uint8_t *buf = f->buf;
	uint8_t mac[6];
	unsigned int hdr;
	long t0;
	int i;

	te_require_env(f->env);
	fx_create(f, TAP_NAME, "", true);
	hdr = f->nb->vnet_hdr_len;
	te_set_host_addr(TAP_NAME);

	for (i = 0; i < 2; i++) {
		/* i == 0: rx was never enabled; i == 1: enabled, then off */
		if (i == 1) {
			f->nb->ops->rx_enable(f->nb, true);
			f->nb->ops->rx_enable(f->nb, false);
		}
		assert_int_equal(send_buf(f, buf, build_arp_request(buf, hdr)), 0);
		t0 = te_cpu_us();
		assert_int_equal(fx_wait(f, 300), 0);
		assert_true(f->w.timed_out);
		/* the loop slept: a readable fd left in it would have spun */
		assert_true(te_cpu_us() - t0 < 100000);
		/* the reply waited in the tap queue and comes when rx is on */
		f->nb->ops->rx_enable(f->nb, true);
		assert_int_equal(fx_wait(f, 5000), NETBE_EV_RX);
		assert_int_equal(fx_recv_match(f, buf, NETBE_FRAME_MAX, match_arp_reply, mac),
				 hdr + 42);
		assert_int_equal(f->nb->ops->recv(f->nb, buf, NETBE_FRAME_MAX), -EAGAIN);
		f->nb->ops->rx_enable(f->nb, false);
	}
	/* rx on and nothing waiting: no notify either */
	f->nb->ops->rx_enable(f->nb, true);
	assert_int_equal(fx_wait(f, 200), 0);
	fx_close(f);
}

/* A frame larger than the caller's buffer is dropped whole and counted;
 * recv() goes on to the next frame instead of returning a truncated one. */
static void test_recv_small_buffer(void **state)
{
	uint8_t payload[1200];
	struct echo ec = { .seq = 7, .payload = payload, .plen = sizeof(payload) };
	struct fx *f = *state;
	uint8_t *buf = f->buf;
	uint8_t mac[6];
	unsigned int hdr;
	size_t i;
	ssize_t n;

	te_require_env(f->env);
	for (i = 0; i < sizeof(payload); i++)
		payload[i] = (uint8_t)(i * 7);
	fx_create(f, TAP_NAME, "", true);
	hdr = f->nb->vnet_hdr_len;
	te_set_host_addr(TAP_NAME);
	assert_int_equal(send_buf(f, buf, build_arp_request(buf, hdr)), 0);
	assert_int_equal(fx_recv_match(f, buf, NETBE_FRAME_MAX, match_arp_reply, mac), hdr + 42);

	/* big echo, then a small ARP reply behind it */
	assert_int_equal(send_buf(f, buf, build_echo_request(buf, hdr, mac, &ec)), 0);
	assert_int_equal(send_buf(f, buf, build_arp_request(buf, hdr)), 0);
	assert_int_equal(fx_wait(f, 5000), NETBE_EV_RX);
	/* exactly the size of the ARP reply: the 1242-byte echo reply does
	 * not fit and is dropped, the ARP reply fills the buffer exactly */
	memset(buf, 0, NETBE_FRAME_MAX);
	n = f->nb->ops->recv(f->nb, buf, hdr + 42);
	if (n == -EAGAIN) { /* the ARP reply was not queued yet */
		assert_int_equal(fx_wait(f, 5000), NETBE_EV_RX);
		n = f->nb->ops->recv(f->nb, buf, hdr + 42);
	}
	assert_int_equal(n, hdr + 42);
	assert_true(match_arp_reply(buf + hdr, 42, NULL));
	assert_int_equal(f->nb->stats.rx_dropped, 1);
	/* nothing of the dropped frame was written past the buffer */
	for (i = hdr + 42; i < 4096; i++)
		assert_int_equal(buf[i], 0);

	/* a flood of frames too big for the buffer: one recv() call drops at
	 * most 64 of them, then yields with -EAGAIN (the loop thread is not
	 * held); later calls drop the rest */
	for (i = 0; i < 70; i++)
		assert_int_equal(send_buf(f, buf, build_echo_request(buf, hdr, mac, &ec)), 0);
	for (i = 0; f->nb->stats.rx_dropped < 1 + 70 && i < 20; i++) {
		uint64_t before = f->nb->stats.rx_dropped;

		assert_int_equal(f->nb->ops->recv(f->nb, buf, hdr + 42), -EAGAIN);
		assert_true(f->nb->stats.rx_dropped - before <= 64);
		if (f->nb->stats.rx_dropped == before)
			assert_int_equal(fx_wait(f, 5000), NETBE_EV_RX);
	}
	assert_int_equal(f->nb->stats.rx_dropped, 1 + 70);
	fx_close(f);
}

/* 7 */
static void test_malformed_send(void **state)
{
	struct fx *f = *state;
	uint8_t *big = f->buf;
	uint8_t small[12 + 14] = { 0 };
	struct iovec iov[2] = { { 0 } };

	te_require_env(f->env);
	fx_create(f, TAP_NAME, "", true);
	/* header + 13 bytes of Ethernet */
	assert_int_equal(send_buf(f, small, sizeof(small) - 1), -EINVAL);
	assert_int_equal(f->nb->stats.tx_dropped, 1);
	/* a header alone */
	assert_int_equal(send_buf(f, small, 12), -EINVAL);
	/* nothing at all */
	assert_int_equal(f->nb->ops->send(f->nb, iov, 0), -EINVAL);
	/* one byte too long, split over two iovecs */
	iov[0] = (struct iovec){ .iov_base = big, .iov_len = 100 };
	iov[1] = (struct iovec){ .iov_base = big + 100, .iov_len = NETBE_FRAME_MAX + 1 - 100 };
	assert_int_equal(f->nb->ops->send(f->nb, iov, 2), -EINVAL);
	/* lengths whose sum wraps around */
	iov[1].iov_len = SIZE_MAX - 50;
	assert_int_equal(f->nb->ops->send(f->nb, iov, 2), -EINVAL);
	assert_int_equal(f->nb->stats.tx_dropped, 5);
	assert_int_equal(f->nb->stats.tx_frames, 0);
	/* the smallest frame is taken: header + 14 */
	memset(small + 12, 0xff, 6);
	assert_int_equal(send_buf(f, small, sizeof(small)), 0);
	assert_int_equal(f->nb->stats.tx_frames, 1);
	assert_int_equal(f->nb->stats.tx_bytes, 14);
	fx_close(f);

	/* without a header the minimum is 14 bytes */
	fx_create(f, TAP_NAME, "", false);
	assert_int_equal(send_buf(f, small, 13), -EINVAL);
	assert_int_equal(send_buf(f, small, 14), 0);
	assert_int_equal(f->nb->stats.tx_dropped, 1);
	fx_close(f);
}

/* send() when the kernel cannot take a frame now: -EAGAIN (the frame is
 * not dropped), then NETBE_EV_TX once the fd is writable, and EPOLLOUT is
 * dropped again so the always-writable fd does not spin the loop. */
static void test_send_eagain(void **state)
{
	struct fx *f = *state;
	uint8_t *buf = f->buf, mac[6];
	long t0;

	te_require_env(f->env);
	fx_create(f, TAP_NAME, "", true);
	te_set_host_addr(TAP_NAME);
	build_arp_request(buf, 12);
	memcpy(buf + 12, (uint8_t[]){ 0x02, 0, 0, 0, 0xee, EAGAIN }, 6);
	assert_int_equal(send_buf(f, buf, 12 + 42), -EAGAIN);
	assert_int_equal(fx_wait(f, 5000), NETBE_EV_TX);
	t0 = te_cpu_us();
	assert_int_equal(fx_wait(f, 200), 0);
	assert_true(te_cpu_us() - t0 < 100000);
	buf[17] = ENOBUFS;
	assert_int_equal(send_buf(f, buf, 12 + 42), -EAGAIN);
	assert_int_equal(fx_wait(f, 5000), NETBE_EV_TX);
	assert_int_equal(f->nb->stats.tx_dropped, 0);
	/* any other error drops the frame */
	buf[17] = EIO;
	assert_int_equal(send_buf(f, buf, 12 + 42), -EIO);
	assert_int_equal(f->nb->stats.tx_dropped, 1);
	assert_int_equal(fx_wait(f, 100), 0);
	/* the retry goes through */
	assert_int_equal(send_buf(f, buf, build_arp_request(buf, 12)), 0);
	assert_int_equal(fx_recv_match(f, buf, NETBE_FRAME_MAX, match_arp_reply, mac), 12 + 42);
	assert_int_equal(f->nb->stats.tx_frames, 1);
}

/* The interface is deleted under a running backend: the fd polls EPOLLERR
 * forever, so the backend must leave the loop instead of spinning. */
static void test_interface_deleted(void **state)
{
	struct fx *f = *state;
	uint8_t frame[12 + 14] = { 0 };
	long t0;

	te_require_env(f->env);
	if (system("ip -V >/dev/null 2>&1") != 0) {
		print_message("[  SKIP    ] no ip(8) to delete the interface with\n");
		skip();
	}
	fx_create(f, TAP_NAME, "", true);
	f->nb->ops->rx_enable(f->nb, true);
	assert_int_equal(system("ip link del " TAP_NAME), 0);
	t0 = te_cpu_us();
	assert_int_equal(fx_wait(f, 300), 0);
	assert_true(te_cpu_us() - t0 < 100000);
	assert_true(f->nb->ops->recv(f->nb, frame, sizeof(frame)) < 0);
	/* the backend saw EPOLLERR and knows the tap is gone */
	assert_int_equal(f->nb->ops->send(f->nb, &(struct iovec){ frame, sizeof(frame) }, 1),
			 -ENODEV);
	assert_int_equal(f->nb->stats.tx_dropped, 1);
	fx_close(f);
}

int main(void)
{
	struct env env;
/* Each test gets the fixture (fx_setup: an event loop with a timeout
 * timer) with the shared namespaces env as its prestate. */
#define TAP_TEST(fn) cmocka_unit_test_prestate_setup_teardown(fn, fx_setup, fx_teardown, &env)
	const struct CMUnitTest tests[] = {
		TAP_TEST(test_create_vnet_hdr),
		TAP_TEST(test_arp_and_ping_vnet_hdr),
		TAP_TEST(test_bridge),
		TAP_TEST(test_no_vnet_hdr),
		TAP_TEST(test_no_privilege),
		TAP_TEST(test_create_errors),
		TAP_TEST(test_set_offloads),
		TAP_TEST(test_rx_backpressure),
		TAP_TEST(test_recv_small_buffer),
		TAP_TEST(test_malformed_send),
		TAP_TEST(test_send_eagain),
		TAP_TEST(test_interface_deleted),
	};
#undef TAP_TEST

	/* This binary is its own process: unsharing it once puts every test
	 * in the same private namespaces. */
	te_env_init(&env);
	return cmocka_run_group_tests(tests, NULL, NULL);
}
