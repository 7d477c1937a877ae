/* SPDX-License-Identifier: MIT */
/*
 * The VDE backend against a real `vde_switch` that each test starts in a
 * temp directory of its own, with a fake peer plugged into the same switch
 * through libvdeplug: frames both ways, rx off leaves frames in the
 * socket, a switch that goes away and comes back, and the one-line errors.
 * Without vde_switch (Debian's vde-switch) every test is skipped with the
 * reason printed.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include <errno.h>
#include <fcntl.h>
#include <libvdeplug.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <sys/wait.h>
#include <unistd.h>

#include "devices/net/vde.h"
#include "tests/unit/net/loop_wait.h"
#include "tests/unit/net/vde_switch.h"

static const uint8_t our_mac[6] = { 0x52, 0x54, 0x00, 0x12, 0x34, 0x56 };
static const uint8_t peer_mac[6] = { 0x52, 0x54, 0x00, 0x99, 0x00, 0x01 };

struct fx {
	char dir[64]; /* mkdtemp */
	char sw[96];  /* dir/sw: the switch */
	struct vde_switch_proc sw_proc;
	VDECONN *peer; /* the fake other NIC */
	uint8_t *buf;  /* NETBE_FRAME_MAX bytes */
	struct loop_wait lw;
	struct netbe *nb;
	char err[256];
};

/* ---- the switch and the peer ------------------------------------------ */

static bool have_vde_switch(void)
{
	return system("command -v vde_switch >/dev/null 2>&1") == 0;
}

static void switch_start(struct fx *f)
{
	assert_int_equal(vde_switch_spawn(f->sw, &f->sw_proc), 0);
}

static void peer_open(struct fx *f)
{
	f->peer = vde_open(f->sw, "test peer", NULL);
	assert_non_null(f->peer);
}

/* One frame from the peer's side within ms, or -1. */
static ssize_t peer_recv(struct fx *f, void *buf, size_t len, int ms)
{
	struct pollfd p = { .fd = vde_datafd(f->peer), .events = POLLIN };

	if (poll(&p, 1, ms) != 1)
		return -1;
	return vde_recv(f->peer, buf, len, 0);
}

static size_t make_frame(uint8_t *f, const uint8_t *dst, const uint8_t *src, size_t len,
			 uint8_t seed)
{
	size_t i;

	memcpy(f, dst, 6);
	memcpy(f + 6, src, 6);
	f[12] = 0x88; /* local experimental EtherType 0x88b5 */
	f[13] = 0xb5;
	for (i = 14; i < len; i++)
		f[i] = (uint8_t)(seed + i);
	return len;
}

/* ---- event loop fixture ------------------------------------------------ */

/* Run the loop until the backend notifies or ms pass: the events (0 on
 * timeout). */
static unsigned int fx_wait(struct fx *f, int ms)
{
	unsigned int ev;

	assert_int_equal(loop_wait_run(&f->lw, ms, &ev), 0);
	return ev;
}

static int fx_setup(void **state)
{
	struct fx *f;

	if (!have_vde_switch()) {
		print_message("skipped: no vde_switch (apt-get install vde-switch)\n");
		skip();
	}
	f = calloc(1, sizeof(*f));
	if (!f)
		return -1;
	*state = f;
	f->lw.timer.fd = -1;
	f->lw.el.epfd = f->lw.el.stop_fd = -1;
	snprintf(f->dir, sizeof(f->dir), "/tmp/vmm-vde-XXXXXX");
	if (!mkdtemp(f->dir))
		return -1;
	snprintf(f->sw, sizeof(f->sw), "%s/sw", f->dir);
	f->buf = calloc(1, NETBE_FRAME_MAX);
	if (!f->buf || loop_wait_init(&f->lw) < 0)
		return -1;
	return 0;
}

static int fx_teardown(void **state)
{
	struct fx *f = *state;
	char cmd[128];

	if (!f)
		return 0;
	if (f->nb)
		f->nb->ops->destroy(f->nb);
	if (f->peer)
		vde_close(f->peer);
	vde_switch_stop(&f->sw_proc, SIGTERM);
	loop_wait_destroy(&f->lw);
	snprintf(cmd, sizeof(cmd), "rm -rf %s", f->dir);
	if (f->dir[0] && system(cmd) != 0)
		print_message("could not remove %s\n", f->dir);
	free(f->buf);
	free(f);
	return 0;
}

static int fx_create_ret(struct fx *f, const char *sock)
{
	struct netbe_vde_config cfg = { .mode = 0700 };
	int ret;

	snprintf(cfg.sock, sizeof(cfg.sock), "%s", sock);
	memcpy(cfg.mac, our_mac, 6);
	f->err[0] = '\0';
	ret = netbe_vde_create(&cfg, &f->lw.el, &f->nb, f->err, sizeof(f->err));
	if (ret == 0)
		loop_wait_attach(&f->lw, f->nb);
	return ret;
}

static void fx_create(struct fx *f, const char *sock)
{
	int ret = fx_create_ret(f, sock);

	if (ret)
		print_message("netbe_vde_create(%s): %d: %s\n", sock, ret, f->err);
	assert_int_equal(ret, 0);
	/* plain frames, nothing to offload */
	assert_int_equal(f->nb->vnet_hdr_len, 0);
	assert_int_equal(f->nb->offloads, 0);
	assert_int_equal(f->nb->ops->set_offloads(f->nb, 0), 0);
}

/* The next frame through the backend (waiting for NETBE_EV_RX), or -1. */
static ssize_t fx_recv(struct fx *f, size_t len, int ms)
{
	ssize_t n = f->nb->ops->recv(f->nb, f->buf, len);

	if (n != -EAGAIN)
		return n;
	if (!(fx_wait(f, ms) & NETBE_EV_RX))
		return -1;
	return f->nb->ops->recv(f->nb, f->buf, len);
}

/* stderr into a temp file while a test looks at what the backend logs */
static int stderr_capture(void)
{
	FILE *tmp = tmpfile();
	int saved = dup(2);

	assert_non_null(tmp);
	assert_true(saved >= 0);
	fflush(stderr);
	assert_int_equal(dup2(fileno(tmp), 2), 2);
	fclose(tmp); /* fd 2 keeps it open */
	return saved;
}

/* Put stderr back; how often `what` was said meanwhile. */
static unsigned int stderr_release(int saved, const char *what)
{
	char buf[4096];
	unsigned int count = 0;
	const char *p = buf;
	ssize_t n;

	fflush(stderr);
	n = pread(2, buf, sizeof(buf) - 1, 0);
	assert_int_equal(dup2(saved, 2), 2);
	close(saved);
	assert_true(n >= 0);
	buf[n] = '\0';
	while ((p = strstr(p, what))) {
		count++;
		p += strlen(what);
	}
	return count;
}

/* ---- tests --------------------------------------------------------------- */

static void test_missing_switch(void **state)
{
	struct fx *f = *state;

	/* nothing at dir/sw */
	assert_int_equal(fx_create_ret(f, f->sw), -ENOENT);
	assert_non_null(strstr(f->err, "no VDE switch at"));
	assert_non_null(strstr(f->err, f->sw));
	assert_null(strchr(f->err, '\n'));
}

static void test_unknown_scheme(void **state)
{
	struct fx *f = *state;

	assert_int_equal(fx_create_ret(f, "nosuchplugin://x"), -EPROTONOSUPPORT);
	assert_non_null(strstr(f->err, "unknown vdeplug URL scheme"));
}

/* A switch killed hard leaves its socket: connecting is refused. */
static void test_stale_switch(void **state)
{
	struct fx *f = *state;

	switch_start(f);
	vde_switch_stop(&f->sw_proc, SIGKILL);
	assert_int_equal(fx_create_ret(f, f->sw), -ECONNREFUSED);
	assert_non_null(strstr(f->err, "stale"));
}

static void test_frames_both_ways(void **state)
{
	static const uint8_t bcast[6] = { 0xff, 0xff, 0xff, 0xff, 0xff, 0xff };
	struct fx *f = *state;
	uint8_t out[1514], in[VDE_ETHBUFSIZE];
	struct iovec iov[3];
	ssize_t n;

	switch_start(f);
	fx_create(f, f->sw);
	peer_open(f);

	/* guest -> switch, gathered from three pieces */
	make_frame(out, bcast, our_mac, sizeof(out), 7);
	iov[0] = (struct iovec){ out, 6 };
	iov[1] = (struct iovec){ out + 6, 100 };
	iov[2] = (struct iovec){ out + 106, sizeof(out) - 106 };
	assert_int_equal(f->nb->ops->send(f->nb, iov, 3), 0);
	n = peer_recv(f, in, sizeof(in), 2000);
	assert_int_equal(n, sizeof(out));
	assert_memory_equal(in, out, sizeof(out));
	assert_int_equal(f->nb->stats.tx_frames, 1);
	assert_int_equal(f->nb->stats.tx_bytes, sizeof(out));

	/* switch -> guest: the switch learnt our MAC from that frame */
	make_frame(out, our_mac, peer_mac, 60, 9);
	assert_int_equal(vde_send(f->peer, out, 60, 0), 60);
	f->nb->ops->rx_enable(f->nb, true);
	n = fx_recv(f, NETBE_FRAME_MAX, 2000);
	assert_int_equal(n, 60);
	assert_memory_equal(f->buf, out, 60);
	assert_int_equal(f->nb->stats.rx_frames, 1);
	assert_int_equal(f->nb->ops->recv(f->nb, f->buf, NETBE_FRAME_MAX), -EAGAIN);

	/* a frame longer than the caller's buffer is dropped whole, counted,
	 * never truncated; the next one still arrives */
	make_frame(out, our_mac, peer_mac, 200, 1);
	assert_int_equal(vde_send(f->peer, out, 200, 0), 200);
	make_frame(out, our_mac, peer_mac, 80, 2);
	assert_int_equal(vde_send(f->peer, out, 80, 0), 80);
	n = fx_recv(f, 100, 2000);
	if (n == -EAGAIN) /* the first was dropped before the second came */
		n = fx_recv(f, 100, 2000);
	assert_int_equal(n, 80);
	assert_memory_equal(f->buf, out, 80);
	assert_int_equal(f->nb->stats.rx_dropped, 1);
}

static void test_bad_frames_dropped(void **state)
{
	struct fx *f = *state;
	uint8_t *big = calloc(1, VDE_ETHBUFSIZE + 1);
	struct iovec iov;

	assert_non_null(big);
	switch_start(f);
	fx_create(f, f->sw);
	/* longer than VDE carries, and shorter than an Ethernet header */
	iov = (struct iovec){ big, VDE_ETHBUFSIZE + 1 };
	assert_int_equal(f->nb->ops->send(f->nb, &iov, 1), -EINVAL);
	iov = (struct iovec){ big, 13 };
	assert_int_equal(f->nb->ops->send(f->nb, &iov, 1), -EINVAL);
	assert_int_equal(f->nb->stats.tx_dropped, 2);
	assert_int_equal(f->nb->stats.tx_frames, 0);
	free(big);
}

/* While the device has no buffers the data socket is not read: nothing is
 * reported, nothing is lost, and everything comes once rx is on again. */
static void test_rx_off_stops_reading(void **state)
{
	struct fx *f = *state;
	uint8_t out[100];
	unsigned int i;

	switch_start(f);
	fx_create(f, f->sw);
	peer_open(f);
	for (i = 0; i < 3; i++) {
		make_frame(out, our_mac, peer_mac, sizeof(out), (uint8_t)i);
		assert_int_equal(vde_send(f->peer, out, sizeof(out), 0), sizeof(out));
	}
	assert_int_equal(fx_wait(f, 300), 0);
	assert_int_equal(f->nb->stats.rx_frames, 0);

	f->nb->ops->rx_enable(f->nb, true);
	assert_true(fx_wait(f, 2000) & NETBE_EV_RX);
	f->nb->ops->rx_enable(f->nb, false);
	for (i = 0; i < 3; i++) {
		make_frame(out, our_mac, peer_mac, sizeof(out), (uint8_t)i);
		assert_int_equal(f->nb->ops->recv(f->nb, f->buf, NETBE_FRAME_MAX), sizeof(out));
		assert_memory_equal(f->buf, out, sizeof(out));
	}
	assert_int_equal(f->nb->ops->recv(f->nb, f->buf, NETBE_FRAME_MAX), -EAGAIN);
}

/* The switch goes away: the backend says so (once), drops what the guest
 * sends, and takes a restarted switch back. */
static void test_switch_gone_and_back(void **state)
{
	struct fx *f = *state;
	uint8_t out[64];
	struct iovec iov = { out, sizeof(out) };
	int i, saved;

	switch_start(f);
	fx_create(f, f->sw);
	f->nb->ops->rx_enable(f->nb, true);
	saved = stderr_capture();
	vde_switch_stop(&f->sw_proc, SIGTERM);
	/* the control socket's EOF is handled in the loop; no notify is owed
	 * (nothing was waiting to be sent) */
	assert_int_equal(fx_wait(f, 300), 0);
	make_frame(out, peer_mac, our_mac, sizeof(out), 3);
	assert_int_equal(f->nb->ops->send(f->nb, &iov, 1), -ENOTCONN);
	assert_int_equal(f->nb->ops->send(f->nb, &iov, 1), -ENOTCONN);
	assert_int_equal(f->nb->stats.tx_dropped, 2);
	/* said once, however often the guest sends into the void */
	assert_int_equal(stderr_release(saved, "the switch went away"), 1);
	assert_int_equal(f->nb->ops->recv(f->nb, f->buf, NETBE_FRAME_MAX), -EAGAIN);

	/* back: within a few reconnect periods the backend is on it again */
	switch_start(f);
	for (i = 0; i < 4 && !(fx_wait(f, 1000) & NETBE_EV_RX); i++)
		;
	assert_true(i < 4);
	assert_int_equal(f->nb->ops->send(f->nb, &iov, 1), 0);
	peer_open(f);
	make_frame(out, our_mac, peer_mac, sizeof(out), 4);
	assert_int_equal(vde_send(f->peer, out, sizeof(out), 0), sizeof(out));
	assert_int_equal(fx_recv(f, NETBE_FRAME_MAX, 2000), sizeof(out));
	assert_memory_equal(f->buf, out, sizeof(out));
}

/* Another NIC with our MAC: its frames still arrive, and vmm says so once. */
static void test_mac_clash(void **state)
{
	struct fx *f = *state;
	uint8_t out[64];
	unsigned int i;
	int saved;

	switch_start(f);
	fx_create(f, f->sw);
	peer_open(f);
	f->nb->ops->rx_enable(f->nb, true);
	saved = stderr_capture();
	for (i = 0; i < 3; i++) {
		/* broadcast, from "us" */
		make_frame(out, (const uint8_t[6]){ 0xff, 0xff, 0xff, 0xff, 0xff, 0xff }, our_mac,
			   sizeof(out), (uint8_t)i);
		assert_int_equal(vde_send(f->peer, out, sizeof(out), 0), sizeof(out));
		assert_int_equal(fx_recv(f, NETBE_FRAME_MAX, 2000), sizeof(out));
	}
	assert_int_equal(stderr_release(saved, "uses this NIC's MAC 52:54:00:12:34:56"), 1);
}

/* switch:// runs the switch inside the backend's process (vdeplug4's
 * switch plugin), serviced from the backend's vde_recv(): its port
 * handshakes happen in our event loop, so the peer is another process. */
static void test_in_process_switch(void **state)
{
	static const uint8_t bcast[6] = { 0xff, 0xff, 0xff, 0xff, 0xff, 0xff };
	struct fx *f = *state;
	char url[128];
	uint8_t out[300], in[400];
	int status, i;
	pid_t child;

	snprintf(url, sizeof(url), "switch://%s", f->sw);
	fx_create(f, url);
	f->nb->ops->rx_enable(f->nb, true);
	child = fork();
	assert_true(child >= 0);
	if (child == 0) {
		/* the peer: one frame out, the answer back */
		VDECONN *c = vde_open(f->sw, "test peer", NULL);
		struct pollfd p;

		if (!c)
			_exit(2);
		make_frame(out, bcast, peer_mac, sizeof(out), 5);
		if (vde_send(c, out, sizeof(out), 0) != sizeof(out))
			_exit(3);
		p = (struct pollfd){ .fd = vde_datafd(c), .events = POLLIN };
		make_frame(out, peer_mac, our_mac, 64, 6);
		if (poll(&p, 1, 5000) != 1 || vde_recv(c, in, sizeof(in), 0) != 64 ||
		    memcmp(in, out, 64))
			_exit(4);
		_exit(0);
	}
	for (i = 0; i < 50; i++) {
		ssize_t n = fx_recv(f, NETBE_FRAME_MAX, 100);

		if (n == sizeof(out))
			break;
	}
	assert_true(i < 50);
	make_frame(out, bcast, peer_mac, sizeof(out), 5);
	assert_memory_equal(f->buf, out, sizeof(out));
	make_frame(out, peer_mac, our_mac, 64, 6);
	assert_int_equal(f->nb->ops->send(f->nb, &(struct iovec){ out, 64 }, 1), 0);
	assert_int_equal(waitpid(child, &status, 0), child);
	assert_true(WIFEXITED(status));
	assert_int_equal(WEXITSTATUS(status), 0);
}

int main(void)
{
#define VDE_TEST(fn) cmocka_unit_test_setup_teardown(fn, fx_setup, fx_teardown)
	const struct CMUnitTest tests[] = {
		VDE_TEST(test_missing_switch),
		VDE_TEST(test_unknown_scheme),
		VDE_TEST(test_stale_switch),
		VDE_TEST(test_frames_both_ways),
		VDE_TEST(test_bad_frames_dropped),
		VDE_TEST(test_rx_off_stops_reading),
		VDE_TEST(test_switch_gone_and_back),
		VDE_TEST(test_in_process_switch),
		VDE_TEST(test_mac_clash),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
