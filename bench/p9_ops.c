/* SPDX-License-Identifier: MIT */
/*
 * 9p operations per second through the virtio-9p device and its 9P2000.L
 * server (devices/virtio/9p.c, devices/fs/) with no guest: the unit tests'
 * fake guest (tests/unit/virtio/fake_guest.h) plays the driver, as
 * bench/virtio_net_pps.c does, and keeps `depth` requests outstanding. What
 * is measured is the whole host side of a guest's request: the chain popped,
 * the message copied out, a worker thread running the file operation, the
 * reply copied into guest memory, the used ring and the interrupt.
 *
 *   p9_ops [--secs S] [--depth N] [--dir D]
 *
 * Runs each of: Tread and Twrite of 4 KiB and 1 MiB (over a 64 MiB file, in
 * the page cache: this is the server's cost, not the disk's), and
 * walk+getattr (Twalk of one name to a new fid, Tgetattr, Tclunk: what a
 * guest's stat(2) of an uncached name costs). Prints one line each:
 * op, ops/s, MB/s (reads and writes), us/op.
 */
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "devices/fs/p9_proto.h"
#include "devices/virtio/9p.h"
#include "tests/unit/virtio/fake_guest.h"
#include "base/clock.h"

#define MAX_DEPTH 32
#define FILE_SIZE (64U << 20)
#define MSIZE	  ((1U << 20) + 4096)
#define DATA_FID  1
#define OUT_BYTES (MSIZE)
#define IN_BYTES  (MSIZE)

enum op { OP_READ, OP_WRITE, OP_WALK };

struct bench {
	struct event_loop el;
	struct fake_guest g;
	struct fg_vring vr;
	struct virtio_mmio t;
	struct p9_server *s;
	struct virtio_9p *d;
	unsigned int depth;
	uint64_t out[MAX_DEPTH], in[MAX_DEPTH];
	int head[MAX_DEPTH];
	unsigned int step[MAX_DEPTH]; /* walk+getattr: 0 walk, 1 getattr, 2 clunk */
	uint64_t off;
};

static void die(const char *what)
{
	fprintf(stderr, "p9_ops: %s\n", what);
	exit(1);
}

/* Build slot i's next request and put it on the ring. */
static void post(struct bench *b, unsigned int i, enum op op, uint32_t size)
{
	struct p9w w;
	uint32_t out_len;

	p9w_init(&w, fg_ptr(&b->g, b->out[i], OUT_BYTES), OUT_BYTES);
	switch (op) {
	case OP_READ:
	case OP_WRITE:
		p9w_begin(&w, op == OP_READ ? P9_TREAD : P9_TWRITE, (uint16_t)i);
		p9w_u32(&w, DATA_FID);
		p9w_u64(&w, b->off);
		p9w_u32(&w, size);
		if (op == OP_WRITE && !p9w_reserve(&w, size))
			die("write too big");
		b->off = (b->off + size) % FILE_SIZE;
		break;
	case OP_WALK:
		if (b->step[i] == 0) {
			p9w_begin(&w, P9_TWALK, (uint16_t)i);
			p9w_u32(&w, 0);
			p9w_u32(&w, 100 + i);
			p9w_u16(&w, 1);
			p9w_str(&w, "data");
		} else if (b->step[i] == 1) {
			p9w_begin(&w, P9_TGETATTR, (uint16_t)i);
			p9w_u32(&w, 100 + i);
			p9w_u64(&w, 0x7ff);
		} else {
			p9w_begin(&w, P9_TCLUNK, (uint16_t)i);
			p9w_u32(&w, 100 + i);
		}
		break;
	}
	out_len = (uint32_t)p9w_finish(&w);
	b->head[i] = fg_vring_add(
		&b->vr,
		(struct fg_buf[]){ { b->out[i], out_len, false }, { b->in[i], IN_BYTES, true } },
		2);
	if (b->head[i] < 0)
		die("ring full");
}

/* Wait for one reply; returns its slot. Fails on Rlerror. */
static unsigned int reap(struct bench *b)
{
	uint32_t id, len;
	unsigned int i;

	while (!fg_vring_get_used(&b->vr, &id, &len))
		fg_el_poll(&b->el, 100);
	for (i = 0; i < b->depth; i++)
		if (b->head[i] == (int)id) {
			uint8_t *r = fg_ptr(&b->g, b->in[i], 16);

			b->head[i] = -1; /* the head may be reused by another slot */
			if (r[4] == P9_RLERROR) {
				fprintf(stderr, "p9_ops: Rlerror %u\n", r[7]);
				exit(1);
			}
			return i;
		}
	die("unknown head");
	return 0;
}

/* One synchronous request in slot 0 (setup). */
static void call(struct bench *b, uint8_t type, void (*body)(struct p9w *))
{
	struct p9w w;

	p9w_init(&w, fg_ptr(&b->g, b->out[0], OUT_BYTES), OUT_BYTES);
	p9w_begin(&w, type, 0);
	body(&w);
	b->head[0] = fg_vring_add(&b->vr,
				  (struct fg_buf[]){ { b->out[0], (uint32_t)p9w_finish(&w), false },
						     { b->in[0], IN_BYTES, true } },
				  2);
	fg_mmio_kick(&b->t, 0);
	(void)reap(b);
}

static void body_version(struct p9w *w)
{
	p9w_u32(w, MSIZE);
	p9w_str(w, "9P2000.L");
}

static void body_attach(struct p9w *w)
{
	p9w_u32(w, 0);
	p9w_u32(w, P9_NOFID);
	p9w_str(w, "bench");
	p9w_str(w, "");
	p9w_u32(w, 0);
}

static void body_walk(struct p9w *w)
{
	p9w_u32(w, 0);
	p9w_u32(w, DATA_FID);
	p9w_u16(w, 1);
	p9w_str(w, "data");
}

static void body_lopen(struct p9w *w)
{
	p9w_u32(w, DATA_FID);
	p9w_u32(w, O_RDWR);
}

static void run(struct bench *b, const char *name, enum op op, uint32_t size, double secs)
{
	unsigned int i, outstanding = b->depth;
	uint64_t start, end, ops = 0;
	double t, ops_s;

	memset(b->step, 0, sizeof(b->step));
	for (i = 0; i < b->depth; i++)
		post(b, i, op, size);
	fg_mmio_kick(&b->t, 0);
	start = clock_monotonic_ns();
	end = start + (uint64_t)(secs * 1e9);
	/* step[i]: the walk+getattr step in flight in slot i. Past the end,
	 * a slot stops once its clunk is done (no fid is left behind). */
	while (outstanding) {
		i = reap(b);
		outstanding--;
		if (op != OP_WALK || b->step[i] == 2)
			ops++;
		if (op == OP_WALK)
			b->step[i] = (b->step[i] + 1) % 3;
		if (clock_monotonic_ns() >= end && (op != OP_WALK || b->step[i] == 0))
			continue;
		post(b, i, op, size);
		fg_mmio_kick(&b->t, 0);
		outstanding++;
	}
	t = (double)(clock_monotonic_ns() - start) / 1e9;
	ops_s = (double)ops / t;
	if (op == OP_WALK)
		printf("%-14s ops/s=%.0f us/op=%.1f\n", name, ops_s, 1e6 / ops_s);
	else
		printf("%-14s ops/s=%.0f MB/s=%.0f us/op=%.1f\n", name, ops_s, ops_s * size / 1e6,
		       1e6 / ops_s);
	fflush(stdout);
}

int main(int argc, char **argv)
{
	struct bench b = { .depth = 8 };
	char dir[] = "/tmp/p9_ops.XXXXXX", path[64], err[256];
	const char *share = NULL;
	double secs = 1.5;
	int c, fd;

	while ((c = getopt(argc, argv, "s:d:D:")) != -1) {
		if (c == 's')
			secs = atof(optarg);
		else if (c == 'd')
			b.depth = (unsigned int)atoi(optarg);
		else if (c == 'D')
			share = optarg;
		else
			die("usage: p9_ops [-s SECS] [-d DEPTH] [-D DIR]");
	}
	if (b.depth < 1 || b.depth > MAX_DEPTH)
		die("depth 1..32");
	if (!share) {
		if (!mkdtemp(dir))
			die("mkdtemp");
		share = dir;
	}
	snprintf(path, sizeof(path), "%s/data", share);
	fd = open(path, O_RDWR | O_CREAT | O_TRUNC, 0600);
	if (fd < 0 || ftruncate(fd, FILE_SIZE))
		die("cannot make the data file");
	{
		/* Fill it, so reads come from the page cache, not holes. */
		static char buf[1 << 20];
		memset(buf, 0x5a, sizeof(buf));
		for (unsigned int k = 0; k < FILE_SIZE / sizeof(buf); k++)
			if (write(fd, buf, sizeof(buf)) != (ssize_t)sizeof(buf))
				die("write");
	}
	close(fd);

	if (el_init(&b.el))
		die("el_init");
	fg_init(&b.g, (uint64_t)(2 * MAX_DEPTH + 8) * MSIZE);
	if (p9_server_create(&(struct p9_server_params){ .dir = share }, &b.s, err, sizeof(err)))
		die(err);
	if (virtio_9p_create(
		    &(struct virtio_9p_params){ .server = b.s, .tag = "bench", .el = &b.el }, &b.d,
		    err, sizeof(err)))
		die(err);
	if (virtio_mmio_init(
		    &b.t, virtio_9p_dev(b.d),
		    &(struct virtio_mmio_params){
			    .mem = &b.g.mem, .el = &b.el, .irq = &b.g.irq.line, .base = 0 }))
		die("virtio_mmio_init");
	fg_vring_init(&b.g, &b.vr, 128);
	if (fg_mmio_start(&b.t, ~0ULL, &b.vr, 1, NULL))
		die("driver start");
	for (unsigned int i = 0; i < b.depth; i++) {
		b.out[i] = fg_alloc(&b.g, OUT_BYTES, 4096);
		b.in[i] = fg_alloc(&b.g, IN_BYTES, 4096);
	}
	call(&b, P9_TVERSION, body_version);
	call(&b, P9_TATTACH, body_attach);
	call(&b, P9_TWALK, body_walk);
	call(&b, P9_TLOPEN, body_lopen);

	printf("p9_ops: depth %u, %u worker threads, %.1f s each\n", b.depth, VIRTIO_9P_WORKERS,
	       secs);
	run(&b, "read 4K", OP_READ, 4096, secs);
	run(&b, "read 1M", OP_READ, 1U << 20, secs);
	run(&b, "write 4K", OP_WRITE, 4096, secs);
	run(&b, "write 1M", OP_WRITE, 1U << 20, secs);
	run(&b, "walk+getattr", OP_WALK, 0, secs);

	virtio_mmio_destroy(&b.t);
	virtio_9p_destroy(b.d);
	p9_server_destroy(b.s);
	fg_vring_destroy(&b.vr);
	fg_destroy(&b.g);
	el_destroy(&b.el);
	unlink(path);
	if (share == dir)
		rmdir(dir);
	return 0;
}
