/* SPDX-License-Identifier: MIT */
/*
 * The slirp backend (devices/net/slirp.c) driven with synthetic Ethernet
 * frames, no guest: each test runs a real event loop, sends frames with
 * nb->ops->send and waits (with a 5 s watchdog) for slirp's answers to come
 * out of recv(). Traffic goes only to 127.0.0.1.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/timerfd.h>
#include <time.h>
#include <unistd.h>

#include <cmocka.h>

#include "devices/net/slirp.h"
#include "tests/unit/net/frames.h"
#include "base/clock.h"
#include "base/event_loop.h"

#define GUEST_IP FR_IP(10, 0, 2, 15)
#define GW_IP	 FR_IP(10, 0, 2, 2)
#define DNS_IP	 FR_IP(10, 0, 2, 3)
#define MAX_RX	 1024
#define WAIT_MS	 5000

static const uint8_t guest_mac[6] = { 0x52, 0x54, 0x00, 0x12, 0x34, 0x56 };

struct ctx;
typedef bool (*frame_pred)(struct ctx *c, const uint8_t *f, size_t len);

struct ctx {
	struct event_loop el;
	struct netbe *nb;
	struct el_source watchdog;
	bool timed_out;
	bool auto_recv; /* notify drains recv() into rx[] */
	bool auto_arp;	/* answer slirp's ARP requests for GUEST_IP */
	unsigned int notifies, arp_answered;
	uint8_t *rx[MAX_RX];
	size_t rxlen[MAX_RX];
	unsigned int nrx;
	uint8_t *buf; /* NETBE_FRAME_MAX */
	frame_pred pred;
	const void *arg;
	size_t arglen;
	unsigned int want; /* for count_pred */
	int match;
	/* a host UDP socket in the loop */
	struct el_source udp;
	bool got_udp;
	char udp_data[256];
	ssize_t udp_len;
	struct sockaddr_in udp_peer;
};

/* ---- frames from the guest ---- */

/* Every frame the guest sends here carries IPv4 id 0x1234. */
static struct fr_ends from_guest(const uint8_t *dst_mac, uint32_t src, uint32_t dst)
{
	return (struct fr_ends){ dst_mac, guest_mac, src, dst, 0x1234 };
}

/* A broadcast DHCP DISCOVER with xid de:ad:be:ef. */
static size_t dhcp_discover(uint8_t *f)
{
	struct fr_ends e = from_guest(fr_bcast_mac, 0, 0xffffffff);
	uint8_t b[FR_BOOTP_LEN];
	size_t len = fr_dhcp_discover(b, guest_mac, 0xdeadbeef);

	return fr_udp_frame(f, &e, 68, 67, b, len);
}

/* ---- the loop around the backend ---- */

static void watchdog_handler(struct el_source *src, uint32_t events)
{
	struct ctx *c = src->opaque;
	uint64_t n;

	(void)events;
	assert_int_equal(read(src->fd, &n, sizeof(n)), sizeof(n));
	c->timed_out = true;
	el_stop(&c->el);
}

static void answer_arp(struct ctx *c, const uint8_t *f, size_t len)
{
	uint8_t out[64];
	uint32_t tpa, spa;
	struct iovec iov = { out, 0 };

	if (len < 42 || fr_get16(f + 12) != 0x0806 || fr_get16(f + 20) != 1)
		return;
	memcpy(&tpa, f + 38, 4);
	memcpy(&spa, f + 28, 4);
	if (tpa != GUEST_IP)
		return;
	iov.iov_len = fr_arp(out, 2, guest_mac, GUEST_IP, f + 22, spa);
	assert_int_equal(c->nb->ops->send(c->nb, &iov, 1), 0);
	c->arp_answered++;
}

static void test_notify(void *opaque, unsigned int events)
{
	struct ctx *c = opaque;
	ssize_t n;

	assert_true(events & NETBE_EV_RX);
	c->notifies++;
	if (!c->auto_recv)
		return;
	while ((n = c->nb->ops->recv(c->nb, c->buf, NETBE_FRAME_MAX)) > 0) {
		assert_true(c->nrx < MAX_RX);
		c->rx[c->nrx] = malloc((size_t)n);
		memcpy(c->rx[c->nrx], c->buf, (size_t)n);
		c->rxlen[c->nrx++] = (size_t)n;
		if (c->auto_arp)
			answer_arp(c, c->buf, (size_t)n);
		if (c->pred && c->match < 0 && c->pred(c, c->buf, (size_t)n)) {
			c->match = (int)c->nrx - 1;
			el_stop(&c->el);
		}
	}
	assert_int_equal(n, -EAGAIN);
}

static void run_ms(struct ctx *c, unsigned int ms)
{
	struct itimerspec its = { .it_value = { ms / 1000, (long)(ms % 1000) * 1000000 } };

	c->timed_out = false;
	assert_int_equal(timerfd_settime(c->watchdog.fd, 0, &its, NULL), 0);
	assert_int_equal(el_run(&c->el), 0);
	its.it_value = (struct timespec){ 0 };
	assert_int_equal(timerfd_settime(c->watchdog.fd, 0, &its, NULL), 0);
}

/* Index in rx[] of the first frame (received so far or within 5 s) that
 * pred accepts, or -1. */
static int wait_frame(struct ctx *c, frame_pred pred, const void *arg, size_t arglen)
{
	unsigned int i;

	c->pred = pred;
	c->arg = arg;
	c->arglen = arglen;
	c->match = -1;
	for (i = 0; i < c->nrx; i++)
		if (pred(c, c->rx[i], c->rxlen[i]))
			c->match = (int)i;
	if (c->match < 0)
		run_ms(c, WAIT_MS);
	c->pred = NULL;
	return c->match;
}

static void rx_clear(struct ctx *c)
{
	while (c->nrx)
		free(c->rx[--c->nrx]);
}

static void send_frame(struct ctx *c, const uint8_t *f, size_t len)
{
	struct iovec iov = { (void *)f, len };

	assert_int_equal(c->nb->ops->send(c->nb, &iov, 1), 0);
}

static void udp_handler(struct el_source *src, uint32_t events)
{
	struct ctx *c = src->opaque;
	socklen_t sl = sizeof(c->udp_peer);

	(void)events;
	c->udp_len = recvfrom(src->fd, c->udp_data, sizeof(c->udp_data), 0,
			      (struct sockaddr *)&c->udp_peer, &sl);
	c->got_udp = true;
	el_stop(&c->el);
}

/* A socket bound to 127.0.0.1 (port 0: any); returns the fd, *port set. */
static int bind_local(int type, uint16_t port, uint16_t *out)
{
	struct sockaddr_in a = { .sin_family = AF_INET, .sin_port = htons(port) };
	socklen_t sl = sizeof(a);
	int fd = socket(AF_INET, type | SOCK_CLOEXEC, 0);

	assert_true(fd >= 0);
	a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	assert_int_equal(bind(fd, (struct sockaddr *)&a, sizeof(a)), 0);
	assert_int_equal(getsockname(fd, (struct sockaddr *)&a, &sl), 0);
	*out = ntohs(a.sin_port);
	return fd;
}

static uint16_t free_port(int type)
{
	uint16_t port;

	close(bind_local(type, 0, &port));
	return port;
}

static void udp_open(struct ctx *c, uint16_t *port)
{
	c->udp = (struct el_source){ bind_local(SOCK_DGRAM, 0, port), udp_handler, c };
	assert_int_equal(el_add(&c->el, &c->udp, EPOLLIN), 0);
}

static void start(struct ctx *c, const struct netbe_user_config *cfg)
{
	char err[256] = "";

	assert_int_equal(netbe_slirp_create(cfg, &c->el, &c->nb, err, sizeof(err)), 0);
	assert_string_equal(err, "");
	c->nb->notify = test_notify;
	c->nb->notify_opaque = c;
	c->nb->ops->rx_enable(c->nb, true);
}

static void start_default(struct ctx *c)
{
	struct netbe_user_config cfg;

	netbe_user_config_default(&cfg);
	start(c, &cfg);
}

static int setup(void **state)
{
	struct ctx *c = calloc(1, sizeof(*c));

	assert_non_null(c);
	assert_int_equal(el_init(&c->el), 0);
	c->watchdog = (struct el_source){ timerfd_create(CLOCK_MONOTONIC, TFD_CLOEXEC),
					  watchdog_handler, c };
	assert_true(c->watchdog.fd >= 0);
	assert_int_equal(el_add(&c->el, &c->watchdog, EPOLLIN), 0);
	c->buf = malloc(NETBE_FRAME_MAX);
	c->auto_recv = c->auto_arp = true;
	c->udp.fd = -1;
	*state = c;
	return 0;
}

static int teardown(void **state)
{
	struct ctx *c = *state;
	if (c->nb)
		c->nb->ops->destroy(c->nb);
	rx_clear(c);
	if (c->udp.fd >= 0)
		close(c->udp.fd);
	close(c->watchdog.fd);
	el_destroy(&c->el);
	free(c->buf);
	free(c);
	return 0;
}

/* ---- predicates ---- */

struct udp_want {
	uint32_t src, dst;
	uint16_t sport, dport; /* 0: any */
	const char *data;
};

static bool pred_udp(struct ctx *c, const uint8_t *f, size_t len)
{
	const struct udp_want *w = c->arg;
	const uint8_t *u;
	size_t n = strlen(w->data);

	if (!fr_is_ipv4(f, len, 17) || fr_ip_src(f) != w->src || fr_ip_dst(f) != w->dst)
		return false;
	u = fr_l4(f);
	return (!w->sport || fr_get16(u) == w->sport) &&
	       (!w->dport || fr_get16(u + 2) == w->dport) && fr_get16(u + 4) == 8 + n &&
	       (size_t)(u + 8 + n - f) <= len && !memcmp(u + 8, w->data, n);
}

static bool pred_arp_reply(struct ctx *c, const uint8_t *f, size_t len)
{
	(void)c;
	return len >= 42 && fr_get16(f + 12) == 0x0806 && fr_get16(f + 20) == 2 &&
	       !memcmp(f + 28, &(uint32_t){ GW_IP }, 4);
}

static bool pred_dhcp(struct ctx *c, const uint8_t *f, size_t len)
{
	const uint8_t *u;

	(void)c;
	if (!fr_is_ipv4(f, len, 17))
		return false;
	u = fr_l4(f);
	return fr_get16(u) == 67 && fr_get16(u + 2) == 68 && (size_t)(u + 8 + 240 - f) <= len &&
	       u[8] == 2;
}

static bool pred_icmp_reply(struct ctx *c, const uint8_t *f, size_t len)
{
	(void)c;
	return fr_is_ipv4(f, len, 1) && fr_ip_src(f) == GW_IP && fr_ip_dst(f) == GUEST_IP &&
	       fr_l4(f)[0] == 0;
}

static bool pred_tcp(struct ctx *c, const uint8_t *f, size_t len)
{
	const uint16_t *want = c->arg; /* dport, flags */

	return fr_is_ipv4(f, len, 6) && fr_ip_dst(f) == GUEST_IP &&
	       fr_get16(fr_l4(f) + 2) == want[0] && (fr_l4(f)[13] & 0x3f) == want[1];
}

static bool pred_count(struct ctx *c, const uint8_t *f, size_t len)
{
	(void)f;
	(void)len;
	return c->nrx >= c->want;
}

/* Teach slirp the guest's MAC (it learns it from ARP requests). */
static void arp_gateway(struct ctx *c)
{
	uint8_t f[64];
	const uint8_t *r;
	int i;

	send_frame(c, f, fr_arp(f, 1, guest_mac, GUEST_IP, NULL, GW_IP));
	i = wait_frame(c, pred_arp_reply, NULL, 0);
	assert_true(i >= 0);
	r = c->rx[i];
	assert_memory_equal(r, guest_mac, 6); /* unicast to us */
	assert_memory_equal(r + 32, guest_mac, 6);
	assert_memory_equal(r + 38, &(uint32_t){ GUEST_IP }, 4);
	assert_memory_equal(r + 6, r + 22, 6); /* sender MAC = frame source */
	assert_false(r[6] & 1);
}

/* ---- tests ---- */

static void check_offer(struct ctx *c, bool restricted)
{
	uint8_t f[700];
	const uint8_t *r, *b, *end, *o;
	int i;

	send_frame(c, f, dhcp_discover(f));
	i = wait_frame(c, pred_dhcp, NULL, 0);
	assert_true(i >= 0);
	r = c->rx[i];
	end = r + c->rxlen[i];
	/* slirp 4.7 broadcasts the OFFER (Ethernet and IP) */
	assert_true(!memcmp(r, guest_mac, 6) || !memcmp(r, fr_bcast_mac, 6));
	b = fr_l4(r) + 8;
	assert_memory_equal(b + 4, "\xde\xad\xbe\xef", 4);
	assert_memory_equal(b + 16, &(uint32_t){ GUEST_IP }, 4); /* yiaddr */
	assert_memory_equal(b + 236, "\x63\x82\x53\x63", 4);
	o = fr_dhcp_opt(b + 240, end, 53);
	assert_non_null(o);
	assert_int_equal(o[2], 2); /* OFFER */
	o = fr_dhcp_opt(b + 240, end, 54);
	assert_non_null(o);
	assert_memory_equal(o + 2, &(uint32_t){ GW_IP }, 4);
	o = fr_dhcp_opt(b + 240, end, 1);
	assert_non_null(o);
	assert_memory_equal(o + 2, &(uint32_t){ FR_IP(255, 255, 255, 0) }, 4);
	if (restricted) {
		/* slirp offers no router and no DNS under restrict=on */
		assert_null(fr_dhcp_opt(b + 240, end, 3));
		assert_null(fr_dhcp_opt(b + 240, end, 6));
		return;
	}
	o = fr_dhcp_opt(b + 240, end, 3);
	assert_non_null(o);
	assert_memory_equal(o + 2, &(uint32_t){ GW_IP }, 4);
	o = fr_dhcp_opt(b + 240, end, 6);
	assert_non_null(o);
	assert_memory_equal(o + 2, &(uint32_t){ DNS_IP }, 4);
}

static void test_dhcp_offer(void **state)
{
	struct ctx *c = *state;

	start_default(c);
	check_offer(c, false);
	assert_int_equal(c->nb->vnet_hdr_len, 0);
	assert_int_equal(c->nb->offloads, 0);
	assert_int_equal(c->nb->stats.tx_frames, 1);
	assert_true(c->nb->stats.rx_frames >= 1);
}

static void test_arp_gateway(void **state)
{
	struct ctx *c = *state;

	start_default(c);
	arp_gateway(c);
	assert_int_equal(c->arp_answered, 0);
}

static void test_icmp_echo_gateway(void **state)
{
	struct ctx *c = *state;
	struct fr_ends e = from_guest(fr_bcast_mac, GUEST_IP, GW_IP);
	uint8_t f[128], payload[32];
	const uint8_t *r;
	int i;

	start_default(c);
	for (i = 0; i < 32; i++)
		payload[i] = (uint8_t)(i * 7);
	send_frame(c, f, fr_icmp_echo_frame(f, &e, 8, 0x4242, 7, payload, sizeof(payload)));
	i = wait_frame(c, pred_icmp_reply, NULL, 0);
	assert_true(i >= 0);
	r = fr_l4(c->rx[i]);
	assert_int_equal(fr_get16(r + 4), 0x4242);
	assert_int_equal(fr_get16(r + 6), 7);
	assert_memory_equal(r + 8, payload, 32);
	assert_int_equal(fr_csum(r, 40), 0); /* the reply's checksum holds */
}

static void udp_to_host(struct ctx *c, uint16_t port)
{
	struct fr_ends e = from_guest(fr_bcast_mac, GUEST_IP, GW_IP);
	uint8_t f[128];

	send_frame(c, f, fr_udp_frame(f, &e, 40000, port, "hello slirp", 11));
}

static void test_udp_to_host_and_back(void **state)
{
	struct ctx *c = *state;
	struct udp_want w = { GW_IP, GUEST_IP, 0, 40000, "reply" };
	uint16_t port;

	start_default(c);
	udp_open(c, &port);
	arp_gateway(c);
	udp_to_host(c, port);
	run_ms(c, WAIT_MS);
	assert_true(c->got_udp);
	assert_int_equal(c->udp_len, 11);
	assert_memory_equal(c->udp_data, "hello slirp", 11);
	assert_int_equal(c->udp_peer.sin_addr.s_addr, htonl(INADDR_LOOPBACK));
	assert_int_equal(sendto(c->udp.fd, "reply", 5, 0, (struct sockaddr *)&c->udp_peer,
				sizeof(c->udp_peer)),
			 5);
	w.sport = port;
	assert_true(wait_frame(c, pred_udp, &w, 0) >= 0);
	assert_int_equal(c->nb->stats.rx_dropped, 0);
}

static void test_hostfwd_udp_tcp(void **state)
{
	struct ctx *c = *state;
	struct netbe_user_config cfg;
	struct udp_want w = { GW_IP, GUEST_IP, 0, 5000, "fwd" };
	struct sockaddr_in a = { .sin_family = AF_INET };
	uint16_t syn[2] = { 22, 0x02 }, ack[2] = { 22, 0x10 };
	uint16_t up = free_port(SOCK_DGRAM), tp = free_port(SOCK_STREAM), hport;
	uint32_t seq;
	struct fr_ends e = from_guest(fr_bcast_mac, GUEST_IP, GW_IP);
	uint8_t f[128];
	char got[16] = "";
	int i, us = socket(AF_INET, SOCK_DGRAM, 0), ts = socket(AF_INET, SOCK_STREAM, 0);

	netbe_user_config_default(&cfg);
	cfg.fwd[0] =
		(struct netbe_hostfwd){ true, { FR_IP(127, 0, 0, 1) }, up, { GUEST_IP }, 5000 };
	cfg.fwd[1] = (struct netbe_hostfwd){ false, { FR_IP(127, 0, 0, 1) }, tp, { 0 }, 22 };
	cfg.nfwd = 2;
	start(c, &cfg);

	a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	a.sin_port = htons(up);
	assert_int_equal(sendto(us, "fwd", 3, 0, (struct sockaddr *)&a, sizeof(a)), 3);
	assert_true(wait_frame(c, pred_udp, &w, 0) >= 0);
	/* slirp did not know our MAC: it asked, and we answered */
	assert_int_equal(c->arp_answered, 1);

	/* TCP: slirp accepts on the host side and sends the guest a SYN */
	a.sin_port = htons(tp);
	assert_int_equal(fcntl(ts, F_SETFL, O_NONBLOCK), 0);
	assert_true(connect(ts, (struct sockaddr *)&a, sizeof(a)) == 0 || errno == EINPROGRESS);
	i = wait_frame(c, pred_tcp, syn, 0);
	assert_true(i >= 0);
	memcpy(&seq, fr_l4(c->rx[i]) + 4, 4);
	seq = ntohl(seq);
	hport = fr_get16(fr_l4(c->rx[i]));
	/* finish the handshake as the guest and push data to the host */
	send_frame(c, f, fr_tcp_frame(f, &e, 22, hport, 1000, seq + 1, 0x12, "", 0));
	send_frame(c, f, fr_tcp_frame(f, &e, 22, hport, 1001, seq + 1, 0x18, "from-guest", 10));
	assert_true(wait_frame(c, pred_tcp, ack, 0) >= 0);
	run_ms(c, 100);
	assert_int_equal(recv(ts, got, sizeof(got), MSG_DONTWAIT), 10);
	assert_string_equal(got, "from-guest");
	close(us);
	close(ts);
}

static void test_restrict(void **state)
{
	struct ctx *c = *state;
	struct netbe_user_config cfg;
	uint16_t port;

	netbe_user_config_default(&cfg);
	cfg.restricted = true;
	start(c, &cfg);
	udp_open(c, &port);
	arp_gateway(c);
	udp_to_host(c, port);
	run_ms(c, 1000);
	assert_false(c->got_udp);
	check_offer(c, true);
}

static unsigned int count_fds(void)
{
	unsigned int n = 0;
	int fd;

	for (fd = 0; fd < 1024; fd++)
		n += fcntl(fd, F_GETFD) >= 0;
	return n;
}

static void test_errors(void **state)
{
	struct ctx *c = *state;
	struct netbe_user_config cfg;
	char err[256], want[256];
	unsigned int nfd = count_fds();
	uint16_t port;
	int fd = bind_local(SOCK_STREAM, 0, &port);

	assert_int_equal(listen(fd, 1), 0);
	netbe_user_config_default(&cfg);
	cfg.fwd[0] = (struct netbe_hostfwd){ false, { FR_IP(127, 0, 0, 1) }, port, { 0 }, 22 };
	cfg.nfwd = 1;
	assert_int_equal(netbe_slirp_create(&cfg, &c->el, &c->nb, err, sizeof(err)), -EADDRINUSE);
	snprintf(want, sizeof(want),
		 "hostfwd=tcp:127.0.0.1:%u-:22: cannot bind 127.0.0.1:%u "
		 "(Address already in use)",
		 port, port);
	assert_string_equal(err, want);
	close(fd);

	/* a UDP rule after a good TCP one: the first is unwound */
	fd = bind_local(SOCK_DGRAM, 0, &port);
	cfg.fwd[0].host_port = free_port(SOCK_STREAM);
	cfg.fwd[1] =
		(struct netbe_hostfwd){ true, { FR_IP(127, 0, 0, 1) }, port, { GUEST_IP }, 53 };
	cfg.nfwd = 2;
	assert_int_equal(netbe_slirp_create(&cfg, &c->el, &c->nb, err, sizeof(err)), -EADDRINUSE);
	snprintf(want, sizeof(want), "hostfwd=udp:127.0.0.1:%u-10.0.2.15:53: cannot bind", port);
	assert_non_null(strstr(err, want));
	close(fd);

	netbe_user_config_default(&cfg);
	cfg.dhcp_start.s_addr = FR_IP(10, 0, 3, 15);
	assert_int_equal(netbe_slirp_create(&cfg, &c->el, &c->nb, err, sizeof(err)), -EINVAL);
	assert_string_equal(err, "dhcpstart=10.0.3.15 is outside net=10.0.2.0/24");
	netbe_user_config_default(&cfg);
	cfg.host.s_addr = FR_IP(10, 0, 2, 255);
	assert_int_equal(netbe_slirp_create(&cfg, &c->el, &c->nb, err, sizeof(err)), -EINVAL);
	assert_string_equal(err, "host=10.0.2.255 is the broadcast address of net=10.0.2.0/24");
	netbe_user_config_default(&cfg);
	cfg.mask.s_addr = FR_IP(255, 0, 255, 0);
	assert_int_equal(netbe_slirp_create(&cfg, &c->el, &c->nb, err, sizeof(err)), -EINVAL);
	assert_string_equal(err, "netmask 255.0.255.0 is not a contiguous prefix");
	netbe_user_config_default(&cfg);
	cfg.dns.s_addr = FR_IP(10, 0, 2, 0);
	assert_int_equal(netbe_slirp_create(&cfg, &c->el, &c->nb, err, sizeof(err)), -EINVAL);
	assert_non_null(strstr(err, "dns=10.0.2.0 is the network address"));
	assert_null(c->nb);
	/* the failed creates closed their sockets, epoll, timerfd, eventfd */
	assert_int_equal(count_fds(), nfd);
}

static void test_send_checks(void **state)
{
	struct ctx *c = *state;
	uint8_t *big = calloc(1, 65536 + 19);
	struct iovec iov[2] = { { big, 10 }, { big, 65536 + 9 } };

	start_default(c);
	assert_int_equal(c->nb->ops->send(c->nb, iov, 1), -EINVAL);
	assert_int_equal(c->nb->ops->send(c->nb, iov, 2), -EINVAL); /* 65555 bytes */
	assert_int_equal(c->nb->stats.tx_dropped, 2);
	assert_int_equal(c->nb->stats.tx_frames, 0);
	iov[1].iov_len--; /* 65554: taken (slirp drops the junk) */
	assert_int_equal(c->nb->ops->send(c->nb, iov, 2), 0);
	assert_int_equal(c->nb->ops->set_offloads(c->nb, 0), 0);
	assert_int_equal(c->nb->ops->set_offloads(c->nb, NETBE_OFFLOAD_CSUM), -EOPNOTSUPP);
	assert_int_equal(c->nb->ops->recv(c->nb, big, 100), -EAGAIN);
	free(big);
}

static void send_arps(struct ctx *c, unsigned int n)
{
	uint8_t f[64];
	size_t len = fr_arp(f, 1, guest_mac, GUEST_IP, NULL, GW_IP);

	while (n--)
		send_frame(c, f, len);
}

static void test_rx_disabled_keeps_frames(void **state)
{
	struct ctx *c = *state;
	uint64_t t0;

	start_default(c);
	c->nb->ops->rx_enable(c->nb, false);
	send_arps(c, 100);
	run_ms(c, 200);
	assert_int_equal(c->notifies, 0);
	t0 = clock_monotonic_ns();
	c->nb->ops->rx_enable(c->nb, true);
	c->want = 100;
	assert_true(wait_frame(c, pred_count, NULL, 0) >= 0);
	/* reported at once, not at slirp's next 1 s tick */
	assert_true(clock_monotonic_ns() - t0 < 700 * 1000000ULL);
	assert_int_equal(c->nrx, 100);
	assert_int_equal(c->nb->stats.rx_dropped, 0);
	assert_int_equal(c->nb->stats.rx_frames, 100);
}

static void test_fifo_overflow(void **state)
{
	struct ctx *c = *state;
	uint8_t small[8];

	start_default(c);
	c->nb->ops->rx_enable(c->nb, false);
	send_arps(c, 600);
	assert_int_equal(c->nb->stats.rx_dropped, 600 - 512);
	/* a frame that does not fit is dropped and counted, not truncated */
	assert_int_equal(c->nb->ops->recv(c->nb, small, sizeof(small)), -EAGAIN);
	assert_int_equal(c->nb->stats.rx_dropped, 600);
	send_arps(c, 300);
	/* destroy (teardown) with 300 frames queued: ASan sees no leak */
}

/* While paused (rx off, or FIFO above high water) slirp reads no host
 * socket: the datagram waits in the kernel, not in our FIFO. */
static void test_pause_stops_socket_reads(void **state)
{
	struct ctx *c = *state;
	struct netbe_user_config cfg;
	struct udp_want w = { GW_IP, GUEST_IP, 0, 6000, "held" };
	struct sockaddr_in a = { .sin_family = AF_INET };
	uint16_t up = free_port(SOCK_DGRAM);
	int us = socket(AF_INET, SOCK_DGRAM, 0);
	unsigned int i;

	netbe_user_config_default(&cfg);
	cfg.fwd[0] = (struct netbe_hostfwd){ true, { FR_IP(127, 0, 0, 1) }, up, { 0 }, 6000 };
	cfg.nfwd = 1;
	start(c, &cfg);
	arp_gateway(c);
	a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	a.sin_port = htons(up);

	c->nb->ops->rx_enable(c->nb, false);
	assert_int_equal(sendto(us, "held", 4, 0, (struct sockaddr *)&a, sizeof(a)), 4);
	run_ms(c, 300);
	assert_int_equal(c->nb->ops->recv(c->nb, c->buf, NETBE_FRAME_MAX), -EAGAIN);
	c->nb->ops->rx_enable(c->nb, true);
	assert_true(wait_frame(c, pred_udp, &w, 0) >= 0);

	/* high water: 400 frames queued (> 3/4 of 512), device not draining */
	c->auto_recv = false;
	send_arps(c, 400);
	assert_int_equal(sendto(us, "held", 4, 0, (struct sockaddr *)&a, sizeof(a)), 4);
	run_ms(c, 300);
	assert_true(c->notifies > 0);
	for (i = 0; i < 400; i++) {
		ssize_t n = c->nb->ops->recv(c->nb, c->buf, NETBE_FRAME_MAX);

		assert_true(n > 0);
		assert_true(pred_arp_reply(c, c->buf, (size_t)n));
	}
	assert_int_equal(c->nb->ops->recv(c->nb, c->buf, NETBE_FRAME_MAX), -EAGAIN);
	c->auto_recv = true;
	rx_clear(c); /* forget the first "held" */
	assert_true(wait_frame(c, pred_udp, &w, 0) >= 0);
	assert_int_equal(c->nb->stats.rx_dropped, 0);
	close(us);
}

/* Idle with listeners and rx enabled: the loop sleeps (slirp's 1 s tick). */
static void test_idle_does_not_spin(void **state)
{
	struct ctx *c = *state;
	struct netbe_user_config cfg;
	struct rusage r0, r1;
	long us;

	netbe_user_config_default(&cfg);
	cfg.fwd[0] = (struct netbe_hostfwd){
		false, { FR_IP(127, 0, 0, 1) }, free_port(SOCK_STREAM), { 0 }, 22
	};
	cfg.fwd[1] = (struct netbe_hostfwd){
		true, { FR_IP(127, 0, 0, 1) }, free_port(SOCK_DGRAM), { 0 }, 53
	};
	cfg.nfwd = 2;
	start(c, &cfg);
	arp_gateway(c);
	getrusage(RUSAGE_SELF, &r0);
	run_ms(c, 1500);
	getrusage(RUSAGE_SELF, &r1);
	us = (r1.ru_utime.tv_sec - r0.ru_utime.tv_sec + r1.ru_stime.tv_sec - r0.ru_stime.tv_sec) *
		     1000000L +
	     (r1.ru_utime.tv_usec - r0.ru_utime.tv_usec + r1.ru_stime.tv_usec -
	      r0.ru_stime.tv_usec);
	print_message("idle 1.5 s: %ld us of CPU\n", us);
	assert_true(us < 100000);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_dhcp_offer, setup, teardown),
		cmocka_unit_test_setup_teardown(test_arp_gateway, setup, teardown),
		cmocka_unit_test_setup_teardown(test_icmp_echo_gateway, setup, teardown),
		cmocka_unit_test_setup_teardown(test_udp_to_host_and_back, setup, teardown),
		cmocka_unit_test_setup_teardown(test_hostfwd_udp_tcp, setup, teardown),
		cmocka_unit_test_setup_teardown(test_restrict, setup, teardown),
		cmocka_unit_test_setup_teardown(test_errors, setup, teardown),
		cmocka_unit_test_setup_teardown(test_send_checks, setup, teardown),
		cmocka_unit_test_setup_teardown(test_rx_disabled_keeps_frames, setup, teardown),
		cmocka_unit_test_setup_teardown(test_fifo_overflow, setup, teardown),
		cmocka_unit_test_setup_teardown(test_pause_stops_socket_reads, setup, teardown),
		cmocka_unit_test_setup_teardown(test_idle_does_not_spin, setup, teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
