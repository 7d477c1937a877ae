/* SPDX-License-Identifier: MIT */
/*
 * disk_stress run: requests drawn at random, up to --depth in flight, each
 * logged before it reaches disk_submit() and again when it completes (the
 * log format: disk_stress.c).
 */
#include <errno.h>
#include <inttypes.h>
#include <poll.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <time.h>
#include <unistd.h>

#include "tests/disk/disk_stress_priv.h"

#define STALL_SECONDS 60

enum st_op { OP_WRITE, OP_ZERO, OP_DISCARD, OP_FLUSH };
static const char op_char[] = { 'W', 'Z', 'D', 'f' };

static uint64_t rng_below(struct rng *r, uint64_t n)
{
	return n ? rng_next(r) % n : 0;
}

static uint64_t tag_of_seed(uint64_t seed)
{
	struct rng r = { seed ^ 0x5eed5eed5eed5eedULL };

	return rng_next(&r) | 1; /* never 0, so zeros never look tagged */
}

struct stress;

struct slot {
	struct disk_req req;
	struct iovec iov;
	struct stress *st;
	uint8_t *buf;
	enum st_op op;
	uint64_t seq, sector, nsect;
	bool busy, unmap, barrier;
};

struct stress {
	const struct opts *o;
	struct disk *d;
	struct rng rng;
	uint64_t tag, nsectors, next_seq, generated;
	struct slot *slots;
	unsigned int inflight;
	struct slot pending; /* the next request, waiting for a free non-overlapping slot */
	bool have_pending;
	size_t loglen;
	uint64_t failed, flushes;
	char log[65536];
};

static void log_flush(struct stress *st)
{
	size_t off = 0;

	while (off < st->loglen) {
		ssize_t n = write(STDOUT_FILENO, st->log + off, st->loglen - off);

		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0) {
			perror("disk_stress: writing the log");
			exit(1);
		}
		off += (size_t)n;
	}
	st->loglen = 0;
}

/* Append a line (< 128 bytes). Writing early never reorders the log. */
static void log_add(struct stress *st, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void log_add(struct stress *st, const char *fmt, ...)
{
	va_list ap;
	int n;

	if (sizeof(st->log) - st->loglen < 128)
		log_flush(st);
	va_start(ap, fmt);
	n = vsnprintf(st->log + st->loglen, sizeof(st->log) - st->loglen, fmt, ap);
	va_end(ap);
	if (n > 0 && (size_t)n < sizeof(st->log) - st->loglen)
		st->loglen += (size_t)n;
}

/* Draw the next request. Sizes are log-uniform in 1..max_size/512 sectors; a
 * quarter of the requests straddle a cluster boundary, a quarter land in a
 * small hot region so that sectors get overwritten many times. */
static void gen_op(struct stress *st, struct slot *p)
{
	const struct opts *o = st->o;
	struct rng *r = &st->rng;
	uint64_t csect = o->cluster / SECT, n, start, kind;
	unsigned int bits = 0;

	memset(p, 0, sizeof(*p));
	p->seq = ++st->next_seq;
	if (o->ops && st->generated == o->ops) {
		/* --ops done: one last flush so that the whole run is durable. */
		p->op = OP_FLUSH;
		p->barrier = true;
		return;
	}
	if (o->flush_every && rng_below(r, o->flush_every) == 0) {
		p->op = OP_FLUSH;
		return;
	}
	kind = rng_below(r, 100);
	if (kind < o->discard_pct && st->d->can_discard)
		p->op = OP_DISCARD;
	else if (kind < o->discard_pct + o->zero_pct)
		p->op = OP_ZERO;
	else
		p->op = OP_WRITE;
	p->unmap = rng_below(r, 2);

	while ((2ULL << bits) <= o->max_size / SECT)
		bits++;
	n = 1ULL << rng_below(r, bits + 1);
	n += rng_below(r, n);
	if (p->op != OP_WRITE)
		n = n * 4; /* discards are interesting when they cover whole clusters */
	if (n > o->max_size / SECT && p->op == OP_WRITE)
		n = o->max_size / SECT;
	if (n > st->nsectors)
		n = st->nsectors;

	switch (rng_below(r, 4)) {
	case 0: /* cross a cluster boundary */
		if (csect && st->nsectors / csect > 1 && n > 1) {
			uint64_t k = 1 + rng_below(r, st->nsectors / csect - 1);
			uint64_t back = 1 + rng_below(r, n - 1);

			start = k * csect - (back < k * csect ? back : k * csect);
			break;
		}
		/* fall through */
	case 1: { /* hot region: the first 1/16 */
		uint64_t hot = st->nsectors / 16 > n ? st->nsectors / 16 : n;
		start = rng_below(r, hot - n + 1);
		break;
	}
	default:
		start = rng_below(r, st->nsectors - n + 1);
	}
	if (st->d->alignment > SECT) {
		/* O_DIRECT: offsets and lengths in units of the device's block. */
		uint64_t a = st->d->alignment / SECT;

		start -= start % a;
		n = (n + a - 1) / a * a;
		if (n > st->nsectors)
			n = st->nsectors - st->nsectors % a;
	}
	if (start + n > st->nsectors)
		start = st->nsectors - n;
	p->sector = start;
	p->nsect = n;
}

/* Must `p` wait? Requests on overlapping sectors are serialised; the final
 * flush waits for everything (so that it covers the whole run). */
static bool must_wait(const struct stress *st, const struct slot *p)
{
	for (unsigned int i = 0; i < st->o->depth; i++) {
		const struct slot *s = &st->slots[i];

		if (s->busy && (p->barrier || (p->op != OP_FLUSH && s->op != OP_FLUSH &&
					       s->sector < p->sector + p->nsect &&
					       p->sector < s->sector + s->nsect)))
			return true;
	}
	return false;
}

static void on_done(struct disk_req *req, int ret)
{
	struct slot *s = req->opaque;
	struct stress *st = s->st;

	if (s->op == OP_FLUSH && ret == 0) {
		log_add(st, "F %" PRIu64 "\n", s->seq);
		st->flushes++;
	} else {
		log_add(st, "C %" PRIu64 " %d\n", s->seq, ret);
	}
	if (ret) {
		fprintf(stderr,
			"disk_stress: ERROR request %" PRIu64 " (%c sector %" PRIu64 " +%" PRIu64
			") failed: %s\n",
			s->seq, op_char[s->op], s->sector, s->nsect, strerror(-ret));
		st->failed++;
	}
	s->busy = false;
	st->inflight--;
}

static void slot_prepare(struct stress *st, struct slot *s, const struct slot *p)
{
	uint8_t *buf = s->buf;

	*s = *p;
	s->buf = buf;
	s->st = st;
	s->busy = true;
	memset(&s->req, 0, sizeof(s->req));
	s->req.done = on_done;
	s->req.opaque = s;
	s->req.offset = s->sector * SECT;
	s->req.len = s->nsect * SECT;
	s->req.unmap = s->unmap;
	switch (s->op) {
	case OP_WRITE:
		for (uint64_t i = 0; i < s->nsect; i++)
			pat_fill(buf + i * SECT, st->tag, s->seq, s->sector + i);
		s->iov.iov_base = buf;
		s->iov.iov_len = s->req.len;
		s->req.op = DISK_WRITE;
		s->req.iov = &s->iov;
		s->req.iovcnt = 1;
		log_add(st, "W %" PRIu64 " %" PRIu64 " %" PRIu64 "\n", s->seq, s->sector, s->nsect);
		break;
	case OP_ZERO:
	case OP_DISCARD:
		s->req.op = s->op == OP_ZERO ? DISK_WRITE_ZEROES : DISK_DISCARD;
		log_add(st, "%c %" PRIu64 " %" PRIu64 " %" PRIu64 "\n", op_char[s->op], s->seq,
			s->sector, s->nsect);
		break;
	case OP_FLUSH:
		s->req.op = DISK_FLUSH;
		s->req.offset = 0;
		s->req.len = 0;
		log_add(st, "f %" PRIu64 "\n", s->seq);
		break;
	}
}

/* Wait for completions; a backend that completes nothing for a minute while
 * requests are in flight is reported as hung. */
static int wait_completions(struct stress *st)
{
	struct pollfd pfd = { .fd = disk_event_fd(st->d), .events = POLLIN };
	time_t start = time(NULL);

	for (;;) {
		int n = poll(&pfd, 1, 200);

		if (n < 0 && errno != EINTR) {
			perror("disk_stress: poll");
			return -1;
		}
		if (disk_process(st->d) > 0 || !st->inflight)
			return 0;
		if (time(NULL) - start > STALL_SECONDS) {
			fprintf(stderr,
				"disk_stress: ERROR %u requests in flight, none completed in %d "
				"s\n",
				st->inflight, STALL_SECONDS);
			return -1;
		}
	}
}

static int stress_loop(struct stress *st)
{
	const struct opts *o = st->o;
	struct slot *batch[MAX_DEPTH];

	for (;;) {
		unsigned int nb = 0;

		while (st->inflight + nb < o->depth) {
			struct slot *s = NULL;

			if (!st->have_pending) {
				if (o->ops && st->generated > o->ops)
					break;
				gen_op(st, &st->pending);
				st->generated++;
				st->have_pending = true;
			}
			if (must_wait(st, &st->pending))
				break;
			for (unsigned int i = 0; i < o->depth && !s; i++)
				if (!st->slots[i].busy)
					s = &st->slots[i];
			slot_prepare(st, s, &st->pending);
			st->have_pending = false;
			batch[nb++] = s;
		}
		/* The submit lines reach the log file before the requests reach the disk. */
		log_flush(st);
		st->inflight += nb;
		for (unsigned int i = 0; i < nb; i++) {
			int ret = disk_submit(st->d, &batch[i]->req);

			if (ret) {
				batch[i]->busy = false;
				st->inflight--;
				log_add(st, "R %" PRIu64 " %d\n", batch[i]->seq, ret);
				fprintf(stderr,
					"disk_stress: ERROR disk_submit(%c %" PRIu64
					") rejected: %s\n",
					op_char[batch[i]->op], batch[i]->seq, strerror(-ret));
				st->failed++;
			}
		}
		if (!st->inflight && !st->have_pending && o->ops && st->generated > o->ops)
			break;
		if (st->inflight && wait_completions(st))
			return -1;
	}
	log_flush(st);
	return 0;
}

int stress_run(const char *image, const struct opts *o)
{
	struct stress st = { .o = o, .rng = { o->seed }, .tag = tag_of_seed(o->seed) };
	char err[256] = "";
	int ret;

	/* If the test driver dies, do not keep writing forever. */
	prctl(PR_SET_PDEATHSIG, SIGKILL);
	ret = disk_open(image, &o->dopts, &st.d, err, sizeof(err));
	if (ret) {
		fprintf(stderr, "disk_stress: %s\n", err[0] ? err : strerror(-ret));
		return 1;
	}
	st.nsectors = st.d->size / SECT;
	if (!st.nsectors) {
		fprintf(stderr, "disk_stress: %s: empty disk\n", image);
		disk_close(st.d);
		return 1;
	}
	if (st.d->alignment > 4096 || (st.d->alignment && 4096 % st.d->alignment)) {
		fprintf(stderr, "disk_stress: %s: unsupported alignment %u\n", image,
			st.d->alignment);
		disk_close(st.d);
		return 1;
	}
	st.slots = calloc(o->depth, sizeof(*st.slots));
	for (unsigned int i = 0; st.slots && i < o->depth; i++)
		if (posix_memalign((void **)&st.slots[i].buf, 4096,
				   (o->max_size + 4095) & ~4095ULL))
			abort(); /* out of memory in a test tool */
	if (!st.slots)
		abort();
	log_add(&st, "H v1 tag=%016" PRIx64 " sectors=%" PRIu64 " seed=%" PRIu64 " format=%s\n",
		st.tag, st.nsectors, o->seed, st.d->format);
	ret = stress_loop(&st);
	disk_close(st.d);
	fprintf(stderr,
		"disk_stress: %" PRIu64 " requests, %" PRIu64 " flushes, %" PRIu64 " errors\n",
		st.generated, st.flushes, st.failed);
	for (unsigned int i = 0; i < o->depth; i++)
		free(st.slots[i].buf);
	free(st.slots);
	return ret || st.failed ? 1 : 0;
}
