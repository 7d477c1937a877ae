/* SPDX-License-Identifier: MIT */
/*
 * The VDE backend's frames/s with no guest and no device (the device's own
 * cost is virtio_net_pps's tx/rx with the null backend):
 *
 *   vde_pps tx|rx [--size N] [--secs S]
 *
 * A `vde_switch` of its own in a temp dir, the backend on one port and a
 * peer thread on another (libvdeplug, blocking):
 *   tx  the backend sends frames as fast as it takes them (waiting for
 *       NETBE_EV_TX after -EAGAIN); the peer counts what the switch hands
 *       it (a switch drops what a full port cannot take: fps is delivered
 *       frames, sent= what the backend took).
 *   rx  the peer sends as fast as the switch takes them; the backend is
 *       stepped through the event loop (NETBE_EV_RX, recv() until -EAGAIN).
 *
 * Prints fps, Mbit/s, the backend thread's CPU per frame (RUSAGE_THREAD:
 * the peer is not in it) and the switch process's CPU per frame.
 */
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <libvdeplug.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <unistd.h>

#include "base/clock.h"
#include "base/event_loop.h"
#include "devices/net/vde.h"
#include "tests/unit/net/loop_wait.h"
#include "tests/unit/net/vde_switch.h"

static const uint8_t peer_mac[6] = { 0x52, 0x54, 0x00, 0x12, 0x34, 0x99 };

struct bench {
	bool rx;
	unsigned int size;
	double secs;
	char dir[64], sw[80];
	struct vde_switch_proc sw_proc;
	struct loop_wait lw;
	struct netbe *nb;
	VDECONN *peer;
	pthread_t peer_thread;
	atomic_bool stop;
	atomic_uint_fast64_t peer_frames; /* tx: received by the peer; rx: sent */
	uint8_t frame[VDE_ETHBUFSIZE];
	uint8_t buf[NETBE_FRAME_MAX];
};

/* Run the loop until the backend notifies (or 100 ms pass). */
static void bench_wait(struct bench *b)
{
	unsigned int ev;

	if (loop_wait_run(&b->lw, 100, &ev) < 0)
		usleep(1000); /* no loop: do not spin */
}

static void *peer_main(void *arg)
{
	struct bench *b = arg;
	uint8_t buf[VDE_ETHBUFSIZE];
	struct pollfd p = { .fd = vde_datafd(b->peer), .events = POLLIN };

	while (!atomic_load(&b->stop)) {
		if (b->rx) {
			if (vde_send(b->peer, b->frame, b->size, 0) == (ssize_t)b->size)
				atomic_fetch_add(&b->peer_frames, 1);
		} else if (poll(&p, 1, 50) == 1 && vde_recv(b->peer, buf, sizeof(buf), 0) > 0) {
			atomic_fetch_add(&b->peer_frames, 1);
		}
	}
	return NULL;
}

static int switch_start(struct bench *b)
{
	snprintf(b->dir, sizeof(b->dir), "/tmp/vmm-vde-pps-XXXXXX");
	if (!mkdtemp(b->dir))
		return -errno;
	snprintf(b->sw, sizeof(b->sw), "%s/sw", b->dir);
	return vde_switch_spawn(b->sw, &b->sw_proc);
}

/* The switch's utime + stime in ns (/proc/PID/stat fields 14 and 15). */
static uint64_t switch_cpu_ns(struct bench *b)
{
	char path[64], line[1024], *p;
	unsigned long ut = 0, st = 0;
	FILE *f;

	snprintf(path, sizeof(path), "/proc/%d/stat", (int)b->sw_proc.pid);
	f = fopen(path, "r");
	if (!f)
		return 0;
	p = fgets(line, sizeof(line), f) ? strrchr(line, ')') : NULL;
	fclose(f);
	if (!p ||
	    sscanf(p + 2, "%*c %*d %*d %*d %*d %*d %*u %*u %*u %*u %*u %lu %lu", &ut, &st) != 2)
		return 0;
	return (uint64_t)(ut + st) * (1000000000u / (uint64_t)sysconf(_SC_CLK_TCK));
}

static uint64_t thread_cpu_ns(void)
{
	struct rusage r;

	getrusage(RUSAGE_THREAD, &r);
	return (uint64_t)r.ru_utime.tv_sec * 1000000000u + (uint64_t)r.ru_utime.tv_usec * 1000u +
	       (uint64_t)r.ru_stime.tv_sec * 1000000000u + (uint64_t)r.ru_stime.tv_usec * 1000u;
}

/* One measured interval of `ns`: frames the backend moved. */
static uint64_t bench_run(struct bench *b, uint64_t ns)
{
	struct iovec iov = { b->frame, b->size };
	uint64_t end = clock_monotonic_ns() + ns, moved = 0;
	int ret;

	while (clock_monotonic_ns() < end) {
		if (b->rx) {
			ssize_t n = b->nb->ops->recv(b->nb, b->buf, sizeof(b->buf));

			if (n == (ssize_t)b->size)
				moved++;
			else if (n == -EAGAIN)
				bench_wait(b);
			continue;
		}
		ret = b->nb->ops->send(b->nb, &iov, 1);
		if (ret == 0)
			moved++;
		else if (ret == -EAGAIN)
			bench_wait(b);
		else
			break;
	}
	return moved;
}

static int bench(struct bench *b)
{
	struct netbe_vde_config cfg = { .mode = 0700, .mac = { 0x52, 0x54, 0, 0x12, 0x34, 0x56 } };
	uint64_t t0, c0, s0, p0, wall, cpu, sw, moved, delivered;
	char err[256] = "";
	int ret;

	/* tx: backend -> peer; rx: peer -> backend. Unicast, so the switch
	 * forwards to one port once it has learnt both MACs (below). */
	memcpy(b->frame, b->rx ? cfg.mac : peer_mac, 6);
	memcpy(b->frame + 6, b->rx ? peer_mac : cfg.mac, 6);
	b->frame[12] = 0x88; /* local experimental EtherType 0x88b5 */
	b->frame[13] = 0xb5;
	ret = switch_start(b);
	if (ret < 0) {
		fprintf(stderr, "vde_pps: cannot start vde_switch: %s\n", strerror(-ret));
		return ret;
	}
	snprintf(cfg.sock, sizeof(cfg.sock), "%s", b->sw);
	ret = netbe_vde_create(&cfg, &b->lw.el, &b->nb, err, sizeof(err));
	if (ret < 0) {
		fprintf(stderr, "vde_pps: %s\n", err);
		return ret;
	}
	loop_wait_attach(&b->lw, b->nb);
	b->nb->ops->rx_enable(b->nb, b->rx);
	b->peer = vde_open(b->sw, "vde_pps peer", NULL);
	if (!b->peer)
		return -errno;
	{ /* let the switch learn both MACs before the flood */
		uint8_t hello[60] = { 0xff, 0xff, 0xff, 0xff, 0xff, 0xff };
		struct iovec iov = { hello, sizeof(hello) };

		memcpy(hello + 6, peer_mac, 6);
		if (vde_send(b->peer, hello, sizeof(hello), 0) < 0)
			return -errno;
		memcpy(hello + 6, cfg.mac, 6);
		(void)b->nb->ops->send(b->nb, &iov, 1);
		usleep(100000);
	}
	if (pthread_create(&b->peer_thread, NULL, peer_main, b) != 0)
		return -EAGAIN;
	bench_run(b, 200000000u); /* warm-up */
	p0 = atomic_load(&b->peer_frames);
	s0 = switch_cpu_ns(b);
	c0 = thread_cpu_ns();
	t0 = clock_monotonic_ns();
	moved = bench_run(b, (uint64_t)(b->secs * 1e9));
	wall = clock_monotonic_ns() - t0;
	cpu = thread_cpu_ns() - c0;
	sw = switch_cpu_ns(b) - s0;
	atomic_store(&b->stop, true);
	pthread_join(b->peer_thread, NULL);
	delivered = b->rx ? moved : atomic_load(&b->peer_frames) - p0;
	if (!delivered) {
		fprintf(stderr, "vde_pps: no frame arrived\n");
		return -EIO;
	}
	printf("vde_pps: mode=%s size=%u secs=%.3f frames=%llu sent=%llu fps=%.0f mbps=%.1f "
	       "cpu_ns=%.0f switch_ns=%.0f\n",
	       b->rx ? "rx" : "tx", b->size, (double)wall / 1e9, (unsigned long long)delivered,
	       (unsigned long long)(b->rx ? atomic_load(&b->peer_frames) - p0 : moved),
	       (double)delivered * 1e9 / (double)wall,
	       (double)delivered * b->size * 8 * 1e3 / (double)wall,
	       (double)cpu / (double)delivered, (double)sw / (double)delivered);
	return 0;
}

int main(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "size", required_argument, NULL, 's' },
		{ "secs", required_argument, NULL, 't' },
		{ NULL, 0, NULL, 0 },
	};
	struct bench *b = calloc(1, sizeof(*b));
	char cmd[128];
	int c, ret;

	if (!b)
		return 1;
	b->size = 64;
	b->secs = 1.5;
	while ((c = getopt_long(argc, argv, "", opts, NULL)) != -1) {
		if (c == 's')
			b->size = (unsigned int)strtoul(optarg, NULL, 0);
		else if (c == 't')
			b->secs = strtod(optarg, NULL);
		else
			goto usage;
	}
	if (optind + 1 != argc || (strcmp(argv[optind], "tx") && strcmp(argv[optind], "rx")) ||
	    b->size < 60 || b->size > 1514 || !(b->secs > 0 && b->secs < 600))
		goto usage;
	b->rx = !strcmp(argv[optind], "rx");
	if (loop_wait_init(&b->lw) < 0) {
		fprintf(stderr, "vde_pps: no event loop\n");
		loop_wait_destroy(&b->lw);
		free(b);
		return 1;
	}
	ret = bench(b);
	if (b->nb)
		b->nb->ops->destroy(b->nb);
	if (b->peer)
		vde_close(b->peer);
	vde_switch_stop(&b->sw_proc, SIGTERM);
	snprintf(cmd, sizeof(cmd), "rm -rf %s", b->dir);
	if (b->dir[0] && system(cmd) != 0)
		fprintf(stderr, "vde_pps: could not remove %s\n", b->dir);
	loop_wait_destroy(&b->lw);
	free(b);
	return ret < 0 ? 1 : 0;
usage:
	fprintf(stderr, "usage: vde_pps tx|rx [--size 60..1514] [--secs S]\n");
	return 1;
}
