/* SPDX-License-Identifier: MIT */
/*
 * Block-backend throughput: drive disk_open/disk_submit the way virtio-blk
 * does (a fixed number of requests in flight, completions reaped from the
 * eventfd) and print one result line.
 *
 *   disk_backend [options] FILE
 *     --format raw|qcow2     (default: probe)
 *     --engine auto|aio|threads|sync
 *     --direct               O_DIRECT
 *     --write                writes instead of reads
 *     --pattern seq|stride|random
 *                            stride: offset += step modulo (size - bs), the
 *                            walk `qemu-img bench -S step` does, so both
 *                            tools visit the same offsets in the same order
 *     --step BYTES           stride step (default: bs, i.e. sequential)
 *     --bs BYTES             request size (default 4096)
 *     --depth N              requests in flight (default 1)
 *     --count N              requests in total (default 10000)
 *     --time SEC             stop after SEC seconds instead, if earlier
 *
 * Output: "disk_backend: format=raw engine=aio direct=1 rw=read
 * pattern=stride bs=4096 depth=32 ops=20000 secs=1.234 iops=16207
 * mbps=63.3". Exit status 1 on any error.
 */
#include <errno.h>
#include <getopt.h>
#include <poll.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/clock.h"
#include "devices/disk/disk.h"
#include "devices/disk/io_engine.h"

enum pattern { PAT_SEQ, PAT_STRIDE, PAT_RANDOM };

struct bench {
	struct disk *d;
	bool write;
	enum pattern pattern;
	uint64_t bs, step, count, next_off, rng;
	double time_limit;
	uint64_t submitted, completed;
	int errors;
	struct slot *free_list;
};

struct slot {
	struct disk_req req;
	struct iovec iov;
	struct bench *b;
	struct slot *next;
};

static double now_s(void)
{
	return (double)clock_monotonic_ns() / 1e9;
}

static uint64_t next_offset(struct bench *b)
{
	uint64_t off = b->next_off, span = b->d->size - b->bs;

	switch (b->pattern) {
	case PAT_SEQ:
		b->next_off += b->bs;
		if (b->next_off + b->bs > b->d->size)
			b->next_off = 0;
		break;
	case PAT_STRIDE:
		/* qemu-img.c bench_cb(): offset += step; offset %= size - bufsize */
		b->next_off = span ? (b->next_off + b->step) % span : 0;
		break;
	case PAT_RANDOM:
		/* xorshift64: cheap, and the same sequence every run */
		b->rng ^= b->rng << 13;
		b->rng ^= b->rng >> 7;
		b->rng ^= b->rng << 17;
		off = (b->rng % (b->d->size / b->bs)) * b->bs;
		break;
	}
	return off;
}

static void slot_done(struct disk_req *req, int ret)
{
	struct slot *s = req->opaque;
	struct bench *b = s->b;

	if (ret) {
		if (!b->errors)
			fprintf(stderr, "disk_backend: request at %llu failed: %s\n",
				(unsigned long long)req->offset, strerror(-ret));
		b->errors++;
	}
	b->completed++;
	s->next = b->free_list;
	b->free_list = s;
}

static int submit_free(struct bench *b, bool stop)
{
	while (b->free_list && !stop && b->submitted < b->count) {
		struct slot *s = b->free_list;
		int ret;

		b->free_list = s->next;
		s->req = (struct disk_req){
			.op = b->write ? DISK_WRITE : DISK_READ,
			.offset = next_offset(b),
			.len = b->bs,
			.iov = &s->iov,
			.iovcnt = 1,
			.done = slot_done,
			.opaque = s,
		};
		ret = disk_submit(b->d, &s->req);
		if (ret) {
			fprintf(stderr, "disk_backend: submit failed: %s\n", strerror(-ret));
			return ret;
		}
		b->submitted++;
	}
	return 0;
}

static void usage(void)
{
	fprintf(stderr, "usage: disk_backend [--format F] [--engine E] [--direct] [--write]\n"
			"  [--pattern seq|stride|random] [--step N] [--bs N] [--depth N]\n"
			"  [--count N] [--time SEC] FILE\n");
	exit(2);
}

int main(int argc, char **argv)
{
	static const struct option longopts[] = {
		{ "format", required_argument, NULL, 'f' },
		{ "engine", required_argument, NULL, 'e' },
		{ "direct", no_argument, NULL, 'D' },
		{ "write", no_argument, NULL, 'w' },
		{ "pattern", required_argument, NULL, 'p' },
		{ "step", required_argument, NULL, 'S' },
		{ "bs", required_argument, NULL, 's' },
		{ "depth", required_argument, NULL, 'd' },
		{ "count", required_argument, NULL, 'c' },
		{ "time", required_argument, NULL, 't' },
		{ NULL, 0, NULL, 0 },
	};
	struct disk_open_opts o = { .engine = DISK_ENGINE_AUTO };
	struct bench b = { .bs = 4096, .count = 10000, .rng = 0x9e3779b97f4a7c15ULL };
	const char *pat = "seq", *eng = "auto";
	unsigned int depth = 1;
	struct slot *slots;
	char err[512];
	double t0, secs;
	int c, ret = 0;

	while ((c = getopt_long(argc, argv, "", longopts, NULL)) != -1) {
		switch (c) {
		case 'f':
			o.format = optarg;
			break;
		case 'e':
			eng = optarg;
			break;
		case 'D':
			o.direct = true;
			break;
		case 'w':
			b.write = true;
			break;
		case 'p':
			pat = optarg;
			break;
		case 'S':
			b.step = strtoull(optarg, NULL, 0);
			break;
		case 's':
			b.bs = strtoull(optarg, NULL, 0);
			break;
		case 'd':
			depth = (unsigned int)strtoul(optarg, NULL, 0);
			break;
		case 'c':
			b.count = strtoull(optarg, NULL, 0);
			break;
		case 't':
			b.time_limit = strtod(optarg, NULL);
			break;
		default:
			usage();
		}
	}
	if (optind + 1 != argc || depth == 0 || depth > 1024 || b.bs == 0 ||
	    b.bs % DISK_SECTOR_SIZE || b.bs > (64u << 20))
		usage();
	if (!strcmp(eng, "auto"))
		o.engine = DISK_ENGINE_AUTO;
	else if (!strcmp(eng, "aio"))
		o.engine = DISK_ENGINE_AIO;
	else if (!strcmp(eng, "threads"))
		o.engine = DISK_ENGINE_THREADS;
	else if (!strcmp(eng, "sync"))
		o.engine = DISK_ENGINE_SYNC;
	else
		usage();
	if (!strcmp(pat, "seq"))
		b.pattern = PAT_SEQ;
	else if (!strcmp(pat, "stride"))
		b.pattern = PAT_STRIDE;
	else if (!strcmp(pat, "random"))
		b.pattern = PAT_RANDOM;
	else
		usage();
	if (!b.step)
		b.step = b.bs;
	o.readonly = !b.write;
	o.queue_depth = depth < 128 ? 128 : depth;

	if (disk_open(argv[optind], &o, &b.d, err, sizeof(err))) {
		fprintf(stderr, "disk_backend: %s\n", err);
		return 1;
	}
	if (b.d->size < b.bs) {
		fprintf(stderr, "disk_backend: image smaller than one request\n");
		disk_close(b.d);
		return 1;
	}
	slots = calloc(depth, sizeof(*slots));
	if (!slots) {
		disk_close(b.d);
		return 1;
	}
	for (unsigned int i = 0; i < depth; i++) {
		/* page aligned, so O_DIRECT needs no bounce buffer */
		if (posix_memalign(&slots[i].iov.iov_base, 4096, b.bs)) {
			ret = 1;
			goto out;
		}
		memset(slots[i].iov.iov_base, 0xa5, b.bs);
		slots[i].iov.iov_len = b.bs;
		slots[i].b = &b;
		slots[i].next = b.free_list;
		b.free_list = &slots[i];
	}

	t0 = now_s();
	if (submit_free(&b, false)) {
		ret = 1;
		goto drain;
	}
	while (b.completed < b.submitted) {
		struct pollfd p = { .fd = disk_event_fd(b.d), .events = POLLIN };
		bool stop;

		if (poll(&p, 1, -1) < 0 && errno != EINTR) {
			perror("disk_backend: poll");
			ret = 1;
			break;
		}
		disk_process(b.d);
		stop = b.errors || (b.time_limit > 0 && now_s() - t0 >= b.time_limit);
		if (submit_free(&b, stop)) {
			ret = 1;
			break;
		}
	}
drain:
	disk_drain(b.d);
	secs = now_s() - t0;
	if (b.errors)
		ret = 1;
	if (!ret)
		printf("disk_backend: format=%s engine=%s direct=%d rw=%s pattern=%s bs=%llu "
		       "depth=%u ops=%llu secs=%.3f iops=%.0f mbps=%.1f\n",
		       b.d->format,
		       ioe_kind(b.d->engine) == DISK_ENGINE_AIO	      ? "aio"
		       : ioe_kind(b.d->engine) == DISK_ENGINE_THREADS ? "threads"
								      : "sync",
		       o.direct, b.write ? "write" : "read", pat, (unsigned long long)b.bs, depth,
		       (unsigned long long)b.completed, secs, (double)b.completed / secs,
		       (double)b.completed * (double)b.bs / secs / 1e6);
out:
	for (unsigned int i = 0; i < depth; i++)
		free(slots[i].iov.iov_base);
	free(slots);
	disk_close(b.d);
	return ret;
}
