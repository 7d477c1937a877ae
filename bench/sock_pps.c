/* SPDX-License-Identifier: MIT */
/*
 * sock_pps: frames/s through the stream and dgram backends, no guest and
 * no device: backend A's send() -> the kernel socket -> backend B's recv(),
 * on one thread, in batches of 64 frames. This is the backends' share of
 * the device path (bench/virtio_net_pps measures the device's: run both
 * for the whole); a frame's CPU cost here is mostly the two system calls.
 *
 *   sock_pps [--size N] [--secs S] [MODE...]
 *   MODE: stream-unix stream-tcp dgram-unix dgram-udp (default: all)
 *
 * One line per mode: fps= mbps= cpu_ns= usr_ns= sys_ns= (process CPU per
 * frame from getrusage) frames= eagain= (sends that met -EAGAIN and waited
 * for NETBE_EV_TX) dropped= (sends a full unix datagram queue refused).
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <time.h>
#include <unistd.h>

#include "devices/net/dgram.h"
#include "devices/net/stream.h"
#include "tests/unit/net/loop_wait.h"

#define BATCH 64

struct pair {
	struct loop_wait w; /* both backends notify it */
	struct netbe *a, *b;
	char dir[64];
};

/* Run the loop until a notify() or ms pass; the events. */
static unsigned int pair_step(struct pair *p, int ms)
{
	unsigned int ev = 0;

	if (loop_wait_run(&p->w, ms, &ev) < 0)
		return 0;
	return ev;
}

static uint64_t now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ULL + (uint64_t)ts.tv_nsec;
}

static uint64_t cpu_ns(const struct timeval *tv)
{
	return (uint64_t)tv->tv_sec * 1000000000ULL + (uint64_t)tv->tv_usec * 1000ULL;
}

static int pair_open(struct pair *p, const char *mode)
{
	char err[256] = "";
	int ret;

	if (!strncmp(mode, "stream", 6)) {
		struct netbe_stream_config s = { .server = true }, c = { 0 };

		if (!strcmp(mode, "stream-unix")) {
			s.addr.family = AF_UNIX;
			snprintf(s.addr.path, sizeof(s.addr.path), "%s/s.sock", p->dir);
		} else {
			s.addr.family = AF_INET;
			s.addr.host.s_addr = htonl(INADDR_LOOPBACK);
			s.addr.port = (uint16_t)(20000 + getpid() % 20000);
		}
		c.addr = s.addr;
		ret = netbe_stream_create(&s, &p->w.el, &p->a, err, sizeof(err));
		if (!ret)
			ret = netbe_stream_create(&c, &p->w.el, &p->b, err, sizeof(err));
	} else {
		struct netbe_dgram_config a = { 0 }, b;

		if (!strcmp(mode, "dgram-unix")) {
			a.local.family = a.remote.family = AF_UNIX;
			snprintf(a.local.path, sizeof(a.local.path), "%s/a.sock", p->dir);
			snprintf(a.remote.path, sizeof(a.remote.path), "%s/b.sock", p->dir);
		} else {
			a.local.family = a.remote.family = AF_INET;
			a.local.host.s_addr = a.remote.host.s_addr = htonl(INADDR_LOOPBACK);
			a.local.port = (uint16_t)(20000 + getpid() % 20000);
			a.remote.port = (uint16_t)(a.local.port + 1);
		}
		b = (struct netbe_dgram_config){ .local = a.remote, .remote = a.local };
		ret = netbe_dgram_create(&a, &p->w.el, &p->a, err, sizeof(err));
		if (!ret)
			ret = netbe_dgram_create(&b, &p->w.el, &p->b, err, sizeof(err));
	}
	if (ret) {
		fprintf(stderr, "sock_pps: %s: %s\n", mode, err[0] ? err : strerror(-ret));
		return ret;
	}
	loop_wait_attach(&p->w, p->a);
	loop_wait_attach(&p->w, p->b);
	p->b->ops->rx_enable(p->b, true);
	pair_step(p, 50); /* the server accepts */
	return 0;
}

static int bench_mode(const char *mode, unsigned int size, double secs)
{
	static uint8_t frame[NETBE_FRAME_MAX], buf[NETBE_FRAME_MAX];
	struct pair p = { 0 };
	struct iovec iov = { frame, size };
	struct rusage r0, r1;
	uint64_t frames = 0, eagain = 0, dropped = 0, t0, t1, usr, sys;
	int ret;

	snprintf(p.dir, sizeof(p.dir), "/tmp/vmm-sock-pps-XXXXXX");
	if (!mkdtemp(p.dir) || loop_wait_init(&p.w) < 0)
		return -1;
	ret = pair_open(&p, mode);
	if (ret)
		goto out;
	memset(frame, 0xff, 6);
	memset(frame + 6, 0x52, 6);
	frame[12] = 0x88;
	frame[13] = 0xb5;
	getrusage(RUSAGE_SELF, &r0);
	t0 = now_ns();
	do {
		unsigned int i;

		for (i = 0; i < BATCH; i++) {
			ret = p.a->ops->send(p.a, &iov, 1);
			if (ret == -EAGAIN) {
				eagain++;
				break;
			}
			if (ret == -ENOBUFS) {
				/* a unix datagram queue is full (net.unix.
				 * max_dgram_qlen): dropped; drain, go on */
				dropped++;
				break;
			}
			if (ret < 0) {
				fprintf(stderr, "sock_pps: %s: send: %s\n", mode, strerror(-ret));
				goto out;
			}
		}
		while (p.b->ops->recv(p.b, buf, sizeof(buf)) >= 0)
			frames++;
		if (ret == -EAGAIN) {
			bool tx_ready = false;

			while (!tx_ready) {
				tx_ready = pair_step(&p, 20) & NETBE_EV_TX;
				while (p.b->ops->recv(p.b, buf, sizeof(buf)) >= 0)
					frames++;
			}
		}
		t1 = now_ns();
	} while ((double)(t1 - t0) < secs * 1e9);
	getrusage(RUSAGE_SELF, &r1);
	usr = cpu_ns(&r1.ru_utime) - cpu_ns(&r0.ru_utime);
	sys = cpu_ns(&r1.ru_stime) - cpu_ns(&r0.ru_stime);
	if (!frames) {
		fprintf(stderr, "sock_pps: %s: no frame arrived\n", mode);
		ret = -EIO;
		goto out;
	}
	printf("%-12s size=%u fps=%.0f mbps=%.1f cpu_ns=%.0f usr_ns=%.0f sys_ns=%.0f "
	       "frames=%llu eagain=%llu dropped=%llu\n",
	       mode, size, (double)frames * 1e9 / (double)(t1 - t0),
	       (double)frames * size * 8 * 1e3 / (double)(t1 - t0),
	       (double)(usr + sys) / (double)frames, (double)usr / (double)frames,
	       (double)sys / (double)frames, (unsigned long long)frames, (unsigned long long)eagain,
	       (unsigned long long)dropped);
	ret = 0;
out:
	if (p.a)
		p.a->ops->destroy(p.a);
	if (p.b)
		p.b->ops->destroy(p.b);
	loop_wait_destroy(&p.w);
	rmdir(p.dir);
	return ret;
}

int main(int argc, char **argv)
{
	static const char *const all[] = { "stream-unix", "stream-tcp", "dgram-unix", "dgram-udp" };
	unsigned int size = 1514;
	double secs = 1.0;
	int i, nmodes = 0, fails = 0;
	const char *modes[8];

	for (i = 1; i < argc; i++) {
		if (!strcmp(argv[i], "--size") && i + 1 < argc)
			size = (unsigned int)strtoul(argv[++i], NULL, 10);
		else if (!strcmp(argv[i], "--secs") && i + 1 < argc)
			secs = strtod(argv[++i], NULL);
		else if (nmodes < 8)
			modes[nmodes++] = argv[i];
	}
	if (size < 14 || size > 65535) {
		fprintf(stderr, "sock_pps: --size 14..65535\n");
		return 2;
	}
	if (!nmodes)
		for (i = 0; i < 4; i++)
			modes[nmodes++] = all[i];
	for (i = 0; i < nmodes; i++)
		fails += bench_mode(modes[i], size, secs) != 0;
	return fails ? 1 : 0;
}
