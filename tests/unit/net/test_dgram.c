/* SPDX-License-Identifier: MIT */
/*
 * The dgram backend against a fake peer: unix datagrams, UDP on the
 * loopback and a multicast group. The whole binary runs in a private
 * network namespace made in main() (multicast only ever there); where one
 * cannot be made, every test is skipped with the reason printed.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include <errno.h>
#include <net/if.h>
#include <poll.h>
#include <sched.h>
#include <stdio.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include "devices/net/dgram.h"
#include "tests/unit/net/loop_fx.h"

static const char *no_netns; /* why there is no namespace of our own */

static int unix_dgram_bound(const char *path)
{
	struct sockaddr_un a = { .sun_family = AF_UNIX };
	int fd = socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0);

	assert_true(fd >= 0);
	snprintf(a.sun_path, sizeof(a.sun_path), "%s", path);
	assert_int_equal(bind(fd, (struct sockaddr *)&a, sizeof(a)), 0);
	return fd;
}

static void unix_sendto(int fd, const char *path, const void *p, size_t n)
{
	struct sockaddr_un a = { .sun_family = AF_UNIX };

	snprintf(a.sun_path, sizeof(a.sun_path), "%s", path);
	assert_int_equal(sendto(fd, p, n, 0, (struct sockaddr *)&a, sizeof(a)), (ssize_t)n);
}

static ssize_t recv_within(int fd, void *p, size_t n, int ms)
{
	struct pollfd pf = { .fd = fd, .events = POLLIN };

	if (poll(&pf, 1, ms) != 1)
		return -ETIMEDOUT;
	return recv(fd, p, n, 0);
}

static ssize_t recv_wait(struct loop_fx *f, uint8_t *buf, size_t len)
{
	ssize_t n = f->nb->ops->recv(f->nb, buf, len);

	if (n == -EAGAIN && (loop_fx_wait(f, 3000) & NETBE_EV_RX))
		n = f->nb->ops->recv(f->nb, buf, len);
	return n;
}

static void create(struct loop_fx *f, const struct netbe_dgram_config *cfg)
{
	int ret = netbe_dgram_create(cfg, &f->w.el, &f->nb, f->err, sizeof(f->err));

	if (ret)
		print_message("netbe_dgram_create: %d: %s\n", ret, f->err);
	assert_int_equal(ret, 0);
	loop_fx_attach(f);
	f->nb->ops->rx_enable(f->nb, true);
}

static void test_unix_pair(void **state)
{
	struct loop_fx *f = *state;
	struct netbe_dgram_config cfg = { .local.family = AF_UNIX, .remote.family = AF_UNIX };
	uint8_t fr[3000], out[3000];
	size_t n = loop_fx_frame(fr, 1000, 1), big;
	struct iovec iov[2] = { { fr, 20 }, { fr + 20, n - 20 } };
	int peer;

	loop_fx_path(f, cfg.local.path, sizeof(cfg.local.path), "a.sock");
	loop_fx_path(f, cfg.remote.path, sizeof(cfg.remote.path), "b.sock");
	peer = unix_dgram_bound(cfg.remote.path);
	create(f, &cfg);
	/* vmm -> peer: one datagram, the frame exactly */
	assert_int_equal(f->nb->ops->send(f->nb, iov, 2), 0);
	assert_int_equal(recv_within(peer, out, sizeof(out), 2000), (ssize_t)n);
	assert_memory_equal(out, fr, n);
	/* peer -> vmm: a runt and one too long for the buffer are dropped
	 * (not cut), the good one after them arrives */
	unix_sendto(peer, cfg.local.path, fr, 9);
	big = loop_fx_frame(fr, 2000, 2);
	unix_sendto(peer, cfg.local.path, fr, big);
	n = loop_fx_frame(fr, 100, 3);
	unix_sendto(peer, cfg.local.path, fr, n);
	assert_int_equal(recv_wait(f, out, 1514), (ssize_t)n);
	assert_memory_equal(out, fr, n);
	assert_int_equal(f->nb->stats.rx_dropped, 2);
	assert_int_equal(f->nb->ops->recv(f->nb, out, sizeof(out)), -EAGAIN);
	/* the peer goes: frames are dropped and counted, nothing breaks */
	close(peer);
	unlink(cfg.remote.path);
	iov[0].iov_len = 14;
	assert_true(f->nb->ops->send(f->nb, iov, 1) < 0);
	assert_true(f->nb->ops->send(f->nb, iov, 1) < 0);
	assert_int_equal(f->nb->stats.tx_dropped, 2);
	/* ... until it is back */
	peer = unix_dgram_bound(cfg.remote.path);
	assert_int_equal(f->nb->ops->send(f->nb, iov, 1), 0);
	assert_int_equal(recv_within(peer, out, sizeof(out), 2000), 14);
	close(peer);
}

/* A unix peer that does not read: its queue fills and frames are dropped
 * with -ENOBUFS, never -EAGAIN (no NETBE_EV_TX could follow: an unconnected
 * unix socket polls writable while the peer's queue is full). */
static void test_unix_queue_full(void **state)
{
	struct loop_fx *f = *state;
	struct netbe_dgram_config cfg = { .local.family = AF_UNIX, .remote.family = AF_UNIX };
	uint8_t fr[200];
	struct iovec iov = { fr, loop_fx_frame(fr, 60, 1) };
	int peer, ret = 0, i;

	loop_fx_path(f, cfg.local.path, sizeof(cfg.local.path), "a.sock");
	loop_fx_path(f, cfg.remote.path, sizeof(cfg.remote.path), "b.sock");
	peer = unix_dgram_bound(cfg.remote.path);
	create(f, &cfg);
	for (i = 0; i < 100000 && ret == 0; i++)
		ret = f->nb->ops->send(f->nb, &iov, 1);
	assert_int_equal(ret, -ENOBUFS);
	assert_int_equal(f->nb->stats.tx_dropped, 1);
	assert_int_equal(f->nb->stats.tx_frames, (uint64_t)(i - 1));
	close(peer);
}

/* rx disabled: nothing is reported, datagrams wait; enabled again: they
 * are reported */
static void test_rx_flow_control(void **state)
{
	struct loop_fx *f = *state;
	struct netbe_dgram_config cfg = { .local.family = AF_UNIX, .remote.family = AF_UNIX };
	uint8_t fr[200], out[200];
	size_t n = loop_fx_frame(fr, 50, 5);
	int peer;

	loop_fx_path(f, cfg.local.path, sizeof(cfg.local.path), "a.sock");
	loop_fx_path(f, cfg.remote.path, sizeof(cfg.remote.path), "b.sock");
	peer = unix_dgram_bound(cfg.remote.path);
	create(f, &cfg);
	f->nb->ops->rx_enable(f->nb, false);
	unix_sendto(peer, cfg.local.path, fr, n);
	assert_int_equal(loop_fx_wait(f, -100), 0);
	f->nb->ops->rx_enable(f->nb, true);
	assert_true(loop_fx_wait(f, 2000) & NETBE_EV_RX);
	assert_int_equal(f->nb->ops->recv(f->nb, out, sizeof(out)), (ssize_t)n);
	close(peer);
}

static void test_udp_loopback(void **state)
{
	struct loop_fx *f = *state;
	struct netbe_dgram_config cfg = { .local.family = AF_INET, .remote.family = AF_INET };
	struct sockaddr_in pa = { .sin_family = AF_INET }, la = { .sin_family = AF_INET };
	socklen_t al = sizeof(pa);
	uint8_t fr[1600], out[1600];
	size_t n = loop_fx_frame(fr, 1486, 6);
	struct iovec iov = { fr, n };
	int peer;

	if (no_netns)
		skip();
	peer = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
	pa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	assert_int_equal(bind(peer, (struct sockaddr *)&pa, sizeof(pa)), 0);
	assert_int_equal(getsockname(peer, (struct sockaddr *)&pa, &al), 0);
	cfg.local.host.s_addr = cfg.remote.host.s_addr = htonl(INADDR_LOOPBACK);
	cfg.local.port = 40123;
	cfg.remote.port = ntohs(pa.sin_port);
	create(f, &cfg);
	assert_int_equal(f->nb->ops->send(f->nb, &iov, 1), 0);
	assert_int_equal(recv_within(peer, out, sizeof(out), 2000), (ssize_t)n);
	assert_memory_equal(out, fr, n);
	la.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	la.sin_port = htons(40123);
	assert_int_equal(sendto(peer, fr, n, 0, (struct sockaddr *)&la, sizeof(la)), (ssize_t)n);
	assert_int_equal(recv_wait(f, out, sizeof(out)), (ssize_t)n);
	close(peer);
}

/* Two members of one group hear each other (and, with the loop on, each
 * itself, as under QEMU). */
static void test_multicast(void **state)
{
	struct loop_fx *f = *state;
	struct netbe_dgram_config cfg = { .remote.family = AF_INET, .local.family = AF_INET };
	struct netbe *other = NULL;
	uint8_t fr[200], out[200];
	size_t n = loop_fx_frame(fr, 80, 8);
	struct iovec iov = { fr, n };

	if (no_netns)
		skip();
	cfg.remote.host.s_addr = htonl(0xe6000001); /* 230.0.0.1 */
	cfg.remote.port = 41234;
	cfg.local.host.s_addr = htonl(INADDR_LOOPBACK);
	create(f, &cfg);
	assert_int_equal(netbe_dgram_create(&cfg, &f->w.el, &other, f->err, sizeof(f->err)), 0);
	assert_int_equal(other->ops->send(other, &iov, 1), 0);
	assert_int_equal(recv_wait(f, out, sizeof(out)), (ssize_t)n);
	assert_memory_equal(out, fr, n);
	other->ops->destroy(other);
	/* without an interface address and without a route to the group,
	 * joining fails in one line that says what to do */
	cfg.local.family = 0;
	assert_int_equal(netbe_dgram_create(&cfg, &f->w.el, &other, f->err, sizeof(f->err)),
			 -ENODEV);
	assert_non_null(strstr(f->err, "cannot join multicast group 230.0.0.1:41234"));
}

static void test_config_errors(void **state)
{
	struct loop_fx *f = *state;
	struct netbe_dgram_config cfg = { .remote.family = AF_INET };
	struct netbe *nb = NULL;

	cfg.remote.host.s_addr = htonl(INADDR_LOOPBACK);
	cfg.remote.port = 9;
	assert_int_equal(netbe_dgram_create(&cfg, &f->w.el, &nb, f->err, sizeof(f->err)), -EINVAL);
	assert_non_null(strstr(f->err, "local"));
	cfg.local.family = AF_UNIX;
	snprintf(cfg.local.path, sizeof(cfg.local.path), "/x");
	assert_int_equal(netbe_dgram_create(&cfg, &f->w.el, &nb, f->err, sizeof(f->err)), -EINVAL);
	assert_non_null(strstr(f->err, "different"));
	/* a directory that does not exist */
	cfg.remote = cfg.local;
	snprintf(cfg.local.path, sizeof(cfg.local.path), "/nonexistent/dir/a.sock");
	assert_int_equal(netbe_dgram_create(&cfg, &f->w.el, &nb, f->err, sizeof(f->err)), -ENOENT);
	assert_non_null(strstr(f->err, "cannot bind unix:/nonexistent/dir/a.sock"));
	assert_null(nb);
}

/* A network namespace of our own with lo up and multicast on. */
static const char *enter_netns(void)
{
	struct ifreq ifr = { 0 };
	int fd;

	if (unshare(CLONE_NEWNET) < 0 && unshare(CLONE_NEWUSER | CLONE_NEWNET) < 0)
		return "unshare(CLONE_NEWNET) failed (no root, no user namespaces)";
	fd = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
	snprintf(ifr.ifr_name, sizeof(ifr.ifr_name), "lo");
	if (fd < 0 || ioctl(fd, SIOCGIFFLAGS, &ifr) < 0)
		return "cannot read lo's flags";
	ifr.ifr_flags |= IFF_UP | IFF_MULTICAST;
	if (ioctl(fd, SIOCSIFFLAGS, &ifr) < 0)
		return "cannot bring lo up with multicast";
	close(fd);
	return NULL;
}

int main(void)
{
#define DGRAM_TEST(fn) cmocka_unit_test_setup_teardown(fn, loop_fx_setup, loop_fx_teardown)
	const struct CMUnitTest tests[] = {
		DGRAM_TEST(test_unix_pair),	  DGRAM_TEST(test_unix_queue_full),
		DGRAM_TEST(test_rx_flow_control), DGRAM_TEST(test_udp_loopback),
		DGRAM_TEST(test_multicast),	  DGRAM_TEST(test_config_errors),
	};
#undef DGRAM_TEST
	no_netns = enter_netns();
	if (no_netns)
		printf("dgram: UDP and multicast tests skipped: %s\n", no_netns);
	return cmocka_run_group_tests(tests, NULL, NULL);
}
