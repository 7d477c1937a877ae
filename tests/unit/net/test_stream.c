/* SPDX-License-Identifier: MIT */
/*
 * The stream backend against a fake peer on a unix socket (and TCP on
 * 127.0.0.1): the deframer on its own, frames that arrive in pieces and in
 * bunches, lengths that are zero or too large, runts and frames too long
 * for the caller, a peer that stops reading (tx backpressure), a peer that
 * goes away and the next one, and a client that reconnects.
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
#include <poll.h>
#include <stdio.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include "devices/net/stream.h"
#include "tests/unit/net/loop_fx.h"

#define MAX NETBE_FRAME_MAX

/* ---- the deframer --------------------------------------------------- */

static void put_len(uint8_t *p, uint32_t n)
{
	p[0] = (uint8_t)(n >> 24);
	p[1] = (uint8_t)(n >> 16);
	p[2] = (uint8_t)(n >> 8);
	p[3] = (uint8_t)n;
}

static void test_deframe(void **state)
{
	uint8_t b[64] = { 0 };
	size_t flen = 0;

	(void)state;
	assert_int_equal(netbe_stream_deframe(b, 0, 1500, &flen), 0);
	assert_int_equal(netbe_stream_deframe(b, 3, 1500, &flen), 0);
	/* a zero length can never be a frame: out of step */
	assert_int_equal(netbe_stream_deframe(b, 4, 1500, &flen), -EPROTO);
	put_len(b, 1501);
	assert_int_equal(netbe_stream_deframe(b, 64, 1500, &flen), -EPROTO);
	put_len(b, 0x80000000u);
	assert_int_equal(netbe_stream_deframe(b, 64, 1500, &flen), -EPROTO);
	put_len(b, 20);
	assert_int_equal(netbe_stream_deframe(b, 23, 1500, &flen), 0);
	assert_int_equal(netbe_stream_deframe(b, 24, 1500, &flen), 24);
	assert_int_equal(flen, 20);
	assert_int_equal(netbe_stream_deframe(b, 64, 1500, &flen), 24);
	put_len(b, 1500);
	assert_int_equal(netbe_stream_deframe(b, 64, 1500, &flen), 0);
}

/* ---- fake peers ------------------------------------------------------ */

static int unix_connect(const char *path)
{
	struct sockaddr_un a = { .sun_family = AF_UNIX };
	int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);

	assert_true(fd >= 0);
	snprintf(a.sun_path, sizeof(a.sun_path), "%s", path);
	assert_int_equal(connect(fd, (struct sockaddr *)&a, sizeof(a)), 0);
	return fd;
}

static int unix_listen(const char *path)
{
	struct sockaddr_un a = { .sun_family = AF_UNIX };
	int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);

	assert_true(fd >= 0);
	snprintf(a.sun_path, sizeof(a.sun_path), "%s", path);
	assert_int_equal(bind(fd, (struct sockaddr *)&a, sizeof(a)), 0);
	assert_int_equal(listen(fd, 4), 0);
	return fd;
}

static void write_all(int fd, const void *p, size_t n)
{
	assert_int_equal(write(fd, p, n), (ssize_t)n);
}

/* length + frame */
static void peer_send(int fd, const uint8_t *frame, size_t n)
{
	uint8_t h[4];

	put_len(h, (uint32_t)n);
	write_all(fd, h, 4);
	write_all(fd, frame, n);
}

static void read_all(int fd, void *p, size_t n)
{
	size_t got = 0;

	while (got < n) {
		struct pollfd pf = { .fd = fd, .events = POLLIN };
		ssize_t r;

		assert_int_equal(poll(&pf, 1, 5000), 1);
		r = read(fd, (uint8_t *)p + got, n - got);
		assert_true(r > 0);
		got += (size_t)r;
	}
}

/* What the peer reads: one frame, its length checked against want. */
static void peer_expect(int fd, const uint8_t *want, size_t n)
{
	uint8_t h[4], *b = malloc(n);

	assert_non_null(b);
	read_all(fd, h, 4);
	assert_int_equal((uint32_t)h[0] << 24 | h[1] << 16 | h[2] << 8 | h[3], n);
	read_all(fd, b, n);
	assert_memory_equal(b, want, n);
	free(b);
}

/* Is the peer's connection closed by the backend (EOF within ms)? */
static bool peer_sees_eof(int fd, int ms)
{
	struct pollfd pf = { .fd = fd, .events = POLLIN };
	uint8_t b[256];

	while (poll(&pf, 1, ms) == 1) {
		ssize_t r = read(fd, b, sizeof(b));

		if (r <= 0)
			return true;
	}
	return false;
}

static void make_server(struct loop_fx *f, char *path, size_t len)
{
	struct netbe_stream_config cfg = { .server = true, .addr.family = AF_UNIX };

	loop_fx_path(f, path, len, "s.sock");
	snprintf(cfg.addr.path, sizeof(cfg.addr.path), "%s", path);
	assert_int_equal(netbe_stream_create(&cfg, &f->w.el, &f->nb, f->err, sizeof(f->err)), 0);
	loop_fx_attach(f);
	f->nb->ops->rx_enable(f->nb, true);
}

/* A server and a peer connected to it (accepted by the loop). */
static int server_and_peer(struct loop_fx *f)
{
	char path[128];
	int fd;

	make_server(f, path, sizeof(path));
	fd = unix_connect(path);
	loop_fx_wait(f, -50); /* the loop accepts it */
	return fd;
}

/* recv the next frame, waiting for NETBE_EV_RX when none is there */
static ssize_t recv_wait(struct loop_fx *f, uint8_t *buf, size_t len)
{
	ssize_t n = f->nb->ops->recv(f->nb, buf, len);

	if (n == -EAGAIN && (loop_fx_wait(f, 3000) & NETBE_EV_RX))
		n = f->nb->ops->recv(f->nb, buf, len);
	return n;
}

/* ---- tests ----------------------------------------------------------- */

static void test_frames_in_pieces_and_bunches(void **state)
{
	struct loop_fx *f = *state;
	uint8_t fr[3][1600], out[MAX], h[4];
	size_t n[3];
	int fd = server_and_peer(f), i;

	for (i = 0; i < 3; i++)
		n[i] = loop_fx_frame(fr[i], 100 + 700 * (size_t)i, (unsigned int)i);
	/* the first one byte by byte, the header split too */
	put_len(h, (uint32_t)n[0]);
	write_all(fd, h, 1);
	loop_fx_wait(f, -20);
	assert_int_equal(f->nb->ops->recv(f->nb, out, MAX), -EAGAIN);
	write_all(fd, h + 1, 3);
	write_all(fd, fr[0], 10);
	loop_fx_wait(f, -20);
	assert_int_equal(f->nb->ops->recv(f->nb, out, MAX), -EAGAIN);
	write_all(fd, fr[0] + 10, n[0] - 10);
	assert_int_equal(recv_wait(f, out, MAX), (ssize_t)n[0]);
	assert_memory_equal(out, fr[0], n[0]);
	/* two in one write: one recv each, then nothing */
	{
		uint8_t both[2 * 1700];
		size_t off = 0;

		for (i = 1; i < 3; i++) {
			put_len(both + off, (uint32_t)n[i]);
			memcpy(both + off + 4, fr[i], n[i]);
			off += 4 + n[i];
		}
		write_all(fd, both, off);
	}
	for (i = 1; i < 3; i++) {
		assert_int_equal(recv_wait(f, out, MAX), (ssize_t)n[i]);
		assert_memory_equal(out, fr[i], n[i]);
	}
	assert_int_equal(f->nb->ops->recv(f->nb, out, MAX), -EAGAIN);
	assert_int_equal(f->nb->stats.rx_frames, 3);
	close(fd);
}

static void test_send_frames(void **state)
{
	struct loop_fx *f = *state;
	uint8_t fr[1600];
	size_t n = loop_fx_frame(fr, 1500, 7);
	struct iovec iov[3] = { { fr, 10 }, { fr + 10, 4 }, { fr + 14, n - 14 } };
	int fd = server_and_peer(f);

	assert_int_equal(f->nb->ops->send(f->nb, iov, 3), 0);
	peer_expect(fd, fr, n);
	/* a runt and a giant are refused, not sent */
	iov[0].iov_len = 13;
	assert_int_equal(f->nb->ops->send(f->nb, iov, 1), -EINVAL);
	assert_int_equal(f->nb->stats.tx_frames, 1);
	assert_int_equal(f->nb->stats.tx_dropped, 1);
	close(fd);
}

/* A zero or oversize length drops the connection (and only that); the
 * next peer is served. */
static void test_bad_length_drops_peer(void **state)
{
	struct loop_fx *f = *state;
	static const uint32_t bad[] = { 0, MAX + 1, 0xffffffffu };
	uint8_t fr[200], out[MAX], h[4];
	char path[128];
	size_t n = loop_fx_frame(fr, 100, 1);
	unsigned int i;
	int fd;

	make_server(f, path, sizeof(path));
	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		fd = unix_connect(path);
		loop_fx_wait(f, -30);
		peer_send(fd, fr, n);
		put_len(h, bad[i]);
		write_all(fd, h, 4);
		write_all(fd, fr, 20);
		/* the good frame before it still arrives */
		assert_int_equal(recv_wait(f, out, MAX), (ssize_t)n);
		/* the bad length: nothing more, and the handler hangs up */
		assert_int_equal(f->nb->ops->recv(f->nb, out, MAX), -EAGAIN);
		loop_fx_wait(f, -30);
		assert_true(peer_sees_eof(fd, 2000));
		close(fd);
	}
	assert_int_equal(f->nb->stats.rx_dropped, 3);
	/* and the next peer is in step again */
	fd = unix_connect(path);
	loop_fx_wait(f, -30);
	peer_send(fd, fr, n);
	assert_int_equal(recv_wait(f, out, MAX), (ssize_t)n);
	assert_memory_equal(out, fr, n);
	close(fd);
}

/* A runt, or a frame longer than the caller's buffer, is dropped and
 * counted; the stream stays in step. */
static void test_runt_and_long_frames(void **state)
{
	struct loop_fx *f = *state;
	uint8_t fr[3000], out[MAX];
	size_t big = loop_fx_frame(fr, 2000, 2), n;
	int fd = server_and_peer(f);

	peer_send(fd, fr, 5);
	peer_send(fd, fr, big);
	n = loop_fx_frame(fr, 50, 3);
	peer_send(fd, fr, n);
	assert_int_equal(recv_wait(f, out, 1514), (ssize_t)n);
	assert_memory_equal(out, fr, n);
	assert_int_equal(f->nb->stats.rx_dropped, 2);
	assert_false(peer_sees_eof(fd, 50));
	close(fd);
}

/* Read n bytes from fd, running the loop (so the backend can write what
 * it holds) whenever nothing is there; the loop's events are or'ed into
 * *events. */
static void read_pumped(struct loop_fx *f, int fd, uint8_t *p, size_t n, unsigned int *events)
{
	size_t got = 0;
	int idle = 0;

	while (got < n) {
		ssize_t r = recv(fd, p + got, n - got, MSG_DONTWAIT);

		if (r > 0) {
			got += (size_t)r;
			idle = 0;
			continue;
		}
		assert_true(r < 0 && errno == EAGAIN);
		assert_true(++idle < 1000); /* 5 s of nothing */
		*events |= loop_fx_wait(f, -5);
	}
}

/* The peer stops reading: send() says -EAGAIN, then NETBE_EV_TX once the
 * peer reads again, and every frame arrives whole and in order although
 * the kernel took the last of them only in part. */
static void test_backpressure(void **state)
{
	struct loop_fx *f = *state;
	uint8_t fr[9100], got[9100], h[4];
	unsigned int sent = 0, i, events = 0;
	int fd = server_and_peer(f), ret = 0;
	struct iovec iov = { fr, 0 };

	while (sent < 10000) {
		iov.iov_len = loop_fx_frame(fr, 9000 - sent % 7, sent);
		ret = f->nb->ops->send(f->nb, &iov, 1);
		if (ret == -EAGAIN)
			break;
		assert_int_equal(ret, 0);
		sent++;
	}
	assert_int_equal(ret, -EAGAIN);
	assert_true(sent > 1);
	for (i = 0; i < sent; i++) {
		size_t n = loop_fx_frame(fr, 9000 - i % 7, i);

		read_pumped(f, fd, h, 4, &events);
		assert_int_equal((uint32_t)h[2] << 8 | h[3], n);
		read_pumped(f, fd, got, n, &events);
		assert_memory_equal(got, fr, n);
	}
	if (!(events & NETBE_EV_TX))
		events |= loop_fx_wait(f, 2000);
	assert_true(events & NETBE_EV_TX);
	/* and the frame that waited goes now */
	iov.iov_len = loop_fx_frame(fr, 100, 77);
	assert_int_equal(f->nb->ops->send(f->nb, &iov, 1), 0);
	peer_expect(fd, fr, iov.iov_len);
	assert_int_equal(f->nb->stats.tx_frames, sent + 1);
	close(fd);
}

/* The peer goes: frames are dropped (counted), nothing blocks; the next
 * peer gets frames again. */
static void test_peer_gone(void **state)
{
	struct loop_fx *f = *state;
	uint8_t fr[200];
	size_t n = loop_fx_frame(fr, 100, 1);
	struct iovec iov = { fr, n };
	char path[128];
	int fd;

	make_server(f, path, sizeof(path));
	fd = unix_connect(path);
	loop_fx_wait(f, -30);
	close(fd);
	loop_fx_wait(f, -50);
	assert_int_equal(f->nb->ops->send(f->nb, &iov, 1), -ENOTCONN);
	assert_int_equal(f->nb->stats.tx_dropped, 1);
	fd = unix_connect(path);
	loop_fx_wait(f, -30);
	assert_int_equal(f->nb->ops->send(f->nb, &iov, 1), 0);
	peer_expect(fd, fr, n);
	close(fd);
}

/* A peer that sends and hangs up at once: its frames still arrive, rx
 * disabled in between or not. */
static void test_last_frames_before_hangup(void **state)
{
	struct loop_fx *f = *state;
	uint8_t fr[3][300], out[MAX];
	size_t n[3];
	int fd = server_and_peer(f), i;

	f->nb->ops->rx_enable(f->nb, false);
	for (i = 0; i < 3; i++) {
		n[i] = loop_fx_frame(fr[i], 100 + 50 * (size_t)i, (unsigned int)i);
		peer_send(fd, fr[i], n[i]);
	}
	close(fd);
	assert_int_equal(loop_fx_wait(f, -50), 0);
	f->nb->ops->rx_enable(f->nb, true);
	for (i = 0; i < 3; i++) {
		assert_int_equal(recv_wait(f, out, MAX), (ssize_t)n[i]);
		assert_memory_equal(out, fr[i], n[i]);
	}
	assert_int_equal(f->nb->ops->recv(f->nb, out, MAX), -EAGAIN);
}

/* A client with reconnect=1 comes back after its server dropped it; one
 * without a server to reach fails at once, naming the address. */
static void test_client_reconnects(void **state)
{
	struct loop_fx *f = *state;
	struct netbe_stream_config cfg = { .addr.family = AF_UNIX, .reconnect = 1 };
	uint8_t fr[200];
	size_t n = loop_fx_frame(fr, 60, 4);
	struct iovec iov = { fr, n };
	struct pollfd pf;
	int lfd, c1, c2;

	loop_fx_path(f, cfg.addr.path, sizeof(cfg.addr.path), "c.sock");
	assert_int_equal(netbe_stream_create(&cfg, &f->w.el, &f->nb, f->err, sizeof(f->err)),
			 -ENOENT);
	assert_non_null(strstr(f->err, "c.sock"));
	lfd = unix_listen(cfg.addr.path);
	assert_int_equal(netbe_stream_create(&cfg, &f->w.el, &f->nb, f->err, sizeof(f->err)), 0);
	loop_fx_attach(f);
	f->nb->ops->rx_enable(f->nb, true);
	c1 = accept(lfd, NULL, NULL);
	assert_true(c1 >= 0);
	assert_int_equal(f->nb->ops->send(f->nb, &iov, 1), 0);
	peer_expect(c1, fr, n);
	close(c1);
	loop_fx_wait(f, -100);
	assert_int_equal(f->nb->ops->send(f->nb, &iov, 1), -ENOTCONN);
	/* within reconnect= (1 s) and a little */
	pf = (struct pollfd){ .fd = lfd, .events = POLLIN };
	loop_fx_wait(f, -1300);
	assert_int_equal(poll(&pf, 1, 0), 1);
	c2 = accept(lfd, NULL, NULL);
	assert_true(c2 >= 0);
	loop_fx_wait(f, -30);
	assert_int_equal(f->nb->ops->send(f->nb, &iov, 1), 0);
	peer_expect(c2, fr, n);
	close(c2);
	close(lfd);
}

/* TCP on the loopback, and a live server's socket file is not stolen. */
static void test_tcp_and_busy_path(void **state)
{
	struct loop_fx *f = *state;
	struct netbe_stream_config cfg = { .server = true, .addr.family = AF_INET };
	struct netbe *other = NULL;
	struct sockaddr_in a = { .sin_family = AF_INET };
	socklen_t al = sizeof(a);
	uint8_t fr[200], out[MAX];
	size_t n = loop_fx_frame(fr, 64, 9);
	int lfd, fd;

	/* a free port: bind, note, close */
	lfd = socket(AF_INET, SOCK_STREAM, 0);
	a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	assert_int_equal(bind(lfd, (struct sockaddr *)&a, sizeof(a)), 0);
	assert_int_equal(getsockname(lfd, (struct sockaddr *)&a, &al), 0);
	close(lfd);
	cfg.addr.host.s_addr = htonl(INADDR_LOOPBACK);
	cfg.addr.port = ntohs(a.sin_port);
	assert_int_equal(netbe_stream_create(&cfg, &f->w.el, &f->nb, f->err, sizeof(f->err)), 0);
	loop_fx_attach(f);
	f->nb->ops->rx_enable(f->nb, true);
	fd = socket(AF_INET, SOCK_STREAM, 0);
	assert_int_equal(connect(fd, (struct sockaddr *)&a, sizeof(a)), 0);
	loop_fx_wait(f, -30);
	peer_send(fd, fr, n);
	assert_int_equal(recv_wait(f, out, MAX), (ssize_t)n);
	close(fd);

	/* a unix server whose path a live server holds */
	cfg = (struct netbe_stream_config){ .server = true, .addr.family = AF_UNIX };
	loop_fx_path(f, cfg.addr.path, sizeof(cfg.addr.path), "busy.sock");
	lfd = unix_listen(cfg.addr.path);
	assert_int_equal(netbe_stream_create(&cfg, &f->w.el, &other, f->err, sizeof(f->err)),
			 -EADDRINUSE);
	assert_non_null(strstr(f->err, "another process listens"));
	/* ... and once it is dead, the stale file is replaced */
	close(lfd);
	assert_int_equal(netbe_stream_create(&cfg, &f->w.el, &other, f->err, sizeof(f->err)), 0);
	other->ops->destroy(other);
}

int main(void)
{
#define STREAM_TEST(fn) cmocka_unit_test_setup_teardown(fn, loop_fx_setup, loop_fx_teardown)
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_deframe),
		STREAM_TEST(test_frames_in_pieces_and_bunches),
		STREAM_TEST(test_send_frames),
		STREAM_TEST(test_bad_length_drops_peer),
		STREAM_TEST(test_runt_and_long_frames),
		STREAM_TEST(test_backpressure),
		STREAM_TEST(test_peer_gone),
		STREAM_TEST(test_last_frames_before_hangup),
		STREAM_TEST(test_client_reconnects),
		STREAM_TEST(test_tcp_and_busy_path),
	};
#undef STREAM_TEST
	return cmocka_run_group_tests(tests, NULL, NULL);
}
