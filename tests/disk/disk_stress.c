/* SPDX-License-Identifier: MIT */
/*
 * disk_stress: drive a disk image through the block backend exactly the way
 * virtio-blk does (disk_open, many requests in flight, completions from
 * disk_process() on one thread), and check an image afterwards.
 *
 *   disk_stress run IMAGE [options]      write until --ops are done or killed
 *   disk_stress verify IMAGE LOG [opts]  check IMAGE against run's log
 *
 * Every written sector is self-describing: magic, run tag, the write's
 * sequence number, the sector number, pseudo-random filler derived from those
 * and a checksum, so a reader can tell exactly which write a sector came from
 * (or that it came from none: misdirected, torn or stale data).
 *
 * The log (stdout, one write(2) per batch so that a kill -9 loses at most
 * a line that had not been acted upon yet) has one line per event, in the
 * order the events happened:
 *   H v1 tag=<hex> sectors=<n> seed=<n>   header
 *   W|Z|D <seq> <sector> <nsect>          WRITE / WRITE_ZEROES / DISCARD submitted
 *   f <seq>                               FLUSH submitted
 *   C <seq> <ret>                         request completed (done() ran)
 *   F <seq>                               FLUSH completed successfully
 *   R <seq> <ret>                         disk_submit() rejected the request
 * A submit line is written before disk_submit() is called, so nothing can
 * reach the image without being in the log.
 *
 * The contract checked (disk.h): a FLUSH covers every write whose done()
 * ran before the flush was submitted. Writes to overlapping sectors are never
 * in flight together (a guest file system does not do that either, and it
 * makes "the latest write of a sector" well defined), so for each sector the
 * requests covering it are totally ordered and the durable ones are a prefix.
 * After a kill, a sector must hold the latest durable request's data or the
 * data of any request submitted after it; a DISCARD allows zeros or older
 * data (disk.h); a sector never written holds zeros or the backing file's data.
 */
#include <errno.h>
#include <getopt.h>
#include <stddef.h>
#include <inttypes.h>
#include <poll.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <signal.h>
#include <time.h>
#include <unistd.h>

#include "devices/disk/disk.h"

#define SECT	      DISK_SECTOR_SIZE
#define PAT_MAGIC     0x3153534552545344ULL /* "DSTRESS1" */
#define PAT_WORDS     (SECT / 8)
#define MAX_DEPTH     256U
#define MAX_NSECT     512U /* 256 KiB */
#define STALL_SECONDS 60
#define VERIFY_CHUNK  2048U /* sectors per read: 1 MiB */

enum st_op { OP_WRITE, OP_ZERO, OP_DISCARD, OP_FLUSH };
static const char op_char[] = { 'W', 'Z', 'D', 'f' };

struct opts {
	uint64_t seed;
	uint64_t depth;
	uint64_t ops; /* 0: until killed */
	uint64_t flush_every;
	uint64_t cluster; /* bytes: writes are steered across these boundaries */
	uint64_t discard_pct, zero_pct;
	uint64_t max_size; /* bytes */
	uint64_t max_errors;
	struct disk_open_opts dopts;
	const char *backing; /* verify: image holding the initial content */
	const char *base;    /* verify: what a discarded sector may also read as */
};

/* splitmix64: tiny, fast, and the same on every host. */
struct rng {
	uint64_t s;
};

static uint64_t rng_next(struct rng *r)
{
	uint64_t z = (r->s += 0x9e3779b97f4a7c15ULL);

	z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
	z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
	return z ^ (z >> 31);
}

static uint64_t rng_below(struct rng *r, uint64_t n)
{
	return n ? rng_next(r) % n : 0;
}

static uint64_t pat_checksum(const uint64_t *w)
{
	uint64_t h = 0xcbf29ce484222325ULL;

	for (unsigned int i = 0; i < PAT_WORDS - 1; i++)
		h = (h ^ w[i]) * 0x100000001b3ULL;
	return h;
}

/* The 512 bytes write `seq` puts into `sector` in the run tagged `tag`. */
static void pat_fill(void *p, uint64_t tag, uint64_t seq, uint64_t sector)
{
	uint64_t w[PAT_WORDS];
	struct rng r = { tag ^ (seq * 0xff51afd7ed558ccdULL) ^ (sector * 0xc4ceb9fe1a85ec53ULL) };

	w[0] = PAT_MAGIC;
	w[1] = tag;
	w[2] = seq;
	w[3] = sector;
	for (unsigned int i = 4; i < PAT_WORDS - 1; i++)
		w[i] = rng_next(&r);
	w[PAT_WORDS - 1] = pat_checksum(w);
	memcpy(p, w, SECT);
}

/* Parse a sector's header: true if it is a well-formed pattern sector. */
static bool pat_parse(const void *p, uint64_t *tag, uint64_t *seq, uint64_t *sector)
{
	uint64_t w[PAT_WORDS];

	memcpy(w, p, SECT);
	if (w[0] != PAT_MAGIC || w[PAT_WORDS - 1] != pat_checksum(w))
		return false;
	*tag = w[1];
	*seq = w[2];
	*sector = w[3];
	return true;
}

static bool is_zero(const uint8_t *p, size_t n)
{
	for (size_t i = 0; i < n; i++)
		if (p[i])
			return false;
	return true;
}

static uint64_t tag_of_seed(uint64_t seed)
{
	struct rng r = { seed ^ 0x5eed5eed5eed5eedULL };

	return rng_next(&r) | 1; /* never 0, so zeros never look tagged */
}

/* ---------------------------------------------------------------- run --- */

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

static int do_run(const char *image, const struct opts *o)
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

/* ------------------------------------------------------------- verify --- */

struct vop {
	char op; /* 'W' 'Z' 'D' 'f', 0 = never submitted */
	bool rejected;
	uint64_t sector, nsect;
	uint64_t submit_line, done_line; /* done_line 0: not completed (successfully) */
};

struct vlog {
	uint64_t tag, nsectors, nops;
	struct vop *ops;		       /* indexed by seq */
	uint64_t flush_seq, flush_submit_line; /* the last completed flush */
};

static int vlog_read(const char *path, struct vlog *v)
{
	FILE *f = fopen(path, "r");
	char line[256];
	uint64_t lineno = 0, cap = 0;

	if (!f) {
		fprintf(stderr, "disk_stress: %s: %s\n", path, strerror(errno));
		return -1;
	}
	memset(v, 0, sizeof(*v));
	while (fgets(line, sizeof(line), f)) {
		uint64_t seq = 0, a = 0, b = 0;
		char c = line[0];
		int ret = 0;

		lineno++;
		if (!strchr(line, '\n'))
			break; /* the torn last line of a killed run: never acted upon */
		if (c == 'H') {
			if (sscanf(line, "H v1 tag=%" SCNx64 " sectors=%" SCNu64, &v->tag,
				   &v->nsectors) != 2)
				goto bad;
			continue;
		}
		if (sscanf(line + 1, " %" SCNu64 " %" SCNu64 " %" SCNu64, &seq, &a, &b) < 1 ||
		    !seq || seq > (1ULL << 32) || !v->tag)
			goto bad;
		if (seq >= cap) {
			uint64_t ncap = cap ? cap * 2 : 4096;
			struct vop *p;

			while (ncap <= seq)
				ncap *= 2;
			p = realloc(v->ops, ncap * sizeof(*p));
			if (!p)
				goto oom;
			memset(p + cap, 0, (ncap - cap) * sizeof(*p));
			v->ops = p;
			cap = ncap;
		}
		if (seq >= v->nops)
			v->nops = seq + 1;
		struct vop *op = &v->ops[seq];
		switch (c) {
		case 'W':
		case 'Z':
		case 'D':
			if (!b || a + b > v->nsectors || a + b < a)
				goto bad;
			op->sector = a;
			op->nsect = b;
			/* fall through */
		case 'f':
			op->op = c;
			op->submit_line = lineno;
			break;
		case 'C':
			ret = (int)(int64_t)a;
			if (!op->op)
				goto bad;
			if (!ret)
				op->done_line = lineno;
			break;
		case 'F':
			if (op->op != 'f')
				goto bad;
			op->done_line = lineno;
			v->flush_seq = seq;
			v->flush_submit_line = op->submit_line;
			break;
		case 'R':
			op->rejected = true;
			break;
		default:
			goto bad;
		}
	}
	fclose(f);
	/* No header: killed before the first write(2) of the log, so nothing
	 * was submitted; the whole image must read as its initial content. */
	return 0;
bad:
	fprintf(stderr, "disk_stress: %s:%" PRIu64 ": malformed line: %s", path, lineno, line);
	goto fail;
oom:
	fprintf(stderr, "disk_stress: out of memory\n");
fail:
	fclose(f);
	free(v->ops);
	v->ops = NULL;
	return -1;
}

static bool vop_counts(const struct vop *op)
{
	return op->op && op->op != 'f' && !op->rejected;
}

static bool vop_durable(const struct vlog *v, const struct vop *op)
{
	return op->done_line && v->flush_submit_line && op->done_line < v->flush_submit_line;
}

struct vstats {
	uint64_t sectors, errors, durable, newer, initial, written;
};

/* Check one sector. L: the seqs of the requests covering it, in order. */
static void verify_sector(const struct vlog *v, const struct opts *o, uint64_t s, const uint32_t *L,
			  uint64_t n, const uint8_t *data, const uint8_t *initial,
			  const uint8_t *base, struct vstats *vs)
{
	int64_t j = -1;
	uint64_t lo, tag, seq, sec;
	bool zero_ok = false, initial_ok = false, discarded = false, ok = false;
	char why[160];

	for (uint64_t i = 0; i < n; i++)
		if (vop_durable(v, &v->ops[L[i]]))
			j = (int64_t)i;
	/* Whatever is at or after the durable request may be there; a DISCARD
	 * at or after it also allows zeros and anything older (disk.h). */
	lo = j < 0 ? 0 : (uint64_t)j;
	initial_ok = j < 0;
	for (uint64_t i = lo; i < n; i++) {
		char c = v->ops[L[i]].op;

		if (c == 'Z')
			zero_ok = true;
		if (c == 'D') {
			zero_ok = initial_ok = discarded = true;
			lo = 0;
		}
	}
	if (initial_ok && (!initial || is_zero(initial, SECT)))
		zero_ok = true;

	if (is_zero(data, SECT)) {
		ok = zero_ok;
		snprintf(why, sizeof(why), "reads zeros");
		if (ok && n)
			vs->initial++;
	} else if ((initial && initial_ok && !memcmp(data, initial, SECT)) ||
		   (base && discarded && !memcmp(data, base, SECT))) {
		ok = true;
		vs->initial++;
	} else if (pat_parse(data, &tag, &seq, &sec)) {
		if (tag != v->tag) {
			snprintf(why, sizeof(why),
				 "holds data of another run (tag %016" PRIx64 " seq %" PRIu64
				 " sector %" PRIu64 ")",
				 tag, seq, sec);
		} else if (sec != s) {
			snprintf(why, sizeof(why),
				 "holds seq %" PRIu64 "'s data for sector %" PRIu64
				 " (misdirected)",
				 seq, sec);
		} else {
			uint8_t exp[SECT];

			pat_fill(exp, tag, seq, sec);
			for (uint64_t i = lo; i < n && !ok; i++)
				ok = L[i] == seq && v->ops[seq].op == 'W';
			if (ok && memcmp(exp, data, SECT)) {
				ok = false;
				snprintf(why, sizeof(why), "seq %" PRIu64 " is damaged", seq);
			} else if (!ok) {
				snprintf(why, sizeof(why), "holds seq %" PRIu64 "%s", seq,
					 seq < v->nops && v->ops[seq].op
						 ? " (an older write: newer data lost)"
						 : " (never written here)");
			}
			if (ok && j >= 0 && seq == L[j])
				vs->durable++;
			else if (ok)
				vs->newer++;
		}
	} else {
		snprintf(why, sizeof(why),
			 "holds unrecognised data (first bytes %02x%02x%02x%02x%02x%02x%02x%02x)",
			 data[0], data[1], data[2], data[3], data[4], data[5], data[6], data[7]);
	}
	vs->sectors++;
	vs->written += n > 0;
	if (ok)
		return;
	if (vs->errors++ < o->max_errors) {
		printf("BAD sector %" PRIu64 " (byte %" PRIu64 "): %s; allowed:", s, s * SECT, why);
		if (zero_ok)
			printf(" zeros");
		if (initial_ok)
			printf(" initial");
		if (discarded && base)
			printf(" base");
		for (uint64_t i = lo; i < n; i++)
			printf(" %c%u%s", v->ops[L[i]].op, L[i],
			       j >= 0 && i == (uint64_t)j ? "(durable)" : "");
		printf("\n");
	}
}

/* Read sectors [s0, s0+n) of a reference image (zeros past its end). */
static int read_other(struct disk *b, uint8_t *buf, uint64_t s0, uint64_t n, bool *have)
{
	uint64_t bn;
	int ret;

	*have = false;
	if (!b || s0 * SECT >= b->size)
		return 0;
	bn = (b->size - s0 * SECT) / SECT < n ? (b->size - s0 * SECT) / SECT : n;
	memset(buf, 0, n * SECT);
	ret = disk_pread(b, buf, bn * SECT, s0 * SECT);
	if (ret) {
		fprintf(stderr, "disk_stress: reading %s: %s\n", b->path, strerror(-ret));
		return -1;
	}
	*have = true;
	return 0;
}

static int do_verify(const char *image, const char *logpath, const struct opts *o)
{
	struct disk_open_opts dopts = o->dopts;
	struct disk *d = NULL, *b = NULL;
	struct vlog v;
	struct vstats vs = { 0 };
	uint64_t *start = NULL, total = 0, ndurable = 0;
	uint32_t *list = NULL;
	uint8_t *buf = NULL, *ibuf = NULL, *bbuf = NULL;
	struct disk *bd = NULL;
	char err[256] = "";
	int rc = 1;

	if (vlog_read(logpath, &v))
		return 1;
	dopts.readonly = true;
	if (disk_open(image, &dopts, &d, err, sizeof(err))) {
		fprintf(stderr, "disk_stress: %s\n", err);
		goto out;
	}
	if (!v.tag)
		v.nsectors = d->size / SECT;
	if (d->size / SECT != v.nsectors) {
		fprintf(stderr, "disk_stress: %s has %" PRIu64 " sectors, the log %" PRIu64 "\n",
			image, d->size / SECT, v.nsectors);
		goto out;
	}
	if ((o->backing && disk_open(o->backing, &dopts, &b, err, sizeof(err))) ||
	    (o->base && disk_open(o->base, &dopts, &bd, err, sizeof(err)))) {
		fprintf(stderr, "disk_stress: %s\n", err);
		goto out;
	}
	/* Per sector, the requests covering it, in seq order (CSR layout). */
	start = calloc(v.nsectors + 1, sizeof(*start));
	if (!start)
		goto oom;
	for (uint64_t q = 1; q < v.nops; q++)
		if (vop_counts(&v.ops[q])) {
			for (uint64_t s = v.ops[q].sector; s < v.ops[q].sector + v.ops[q].nsect;
			     s++)
				start[s + 1]++;
			ndurable += vop_durable(&v, &v.ops[q]);
			total++;
		}
	for (uint64_t s = 0; s < v.nsectors; s++)
		start[s + 1] += start[s];
	list = malloc((start[v.nsectors] + 1) * sizeof(*list));
	if (!list)
		goto oom;
	{
		uint64_t *fill = calloc(v.nsectors, sizeof(*fill));

		if (!fill)
			goto oom;
		for (uint64_t q = 1; q < v.nops; q++)
			if (vop_counts(&v.ops[q]))
				for (uint64_t s = v.ops[q].sector;
				     s < v.ops[q].sector + v.ops[q].nsect; s++)
					list[start[s] + fill[s]++] = (uint32_t)q;
		free(fill);
	}
	buf = aligned_alloc(4096, VERIFY_CHUNK * SECT);
	ibuf = aligned_alloc(4096, VERIFY_CHUNK * SECT);
	bbuf = aligned_alloc(4096, VERIFY_CHUNK * SECT);
	if (!buf || !ibuf || !bbuf)
		goto oom;
	for (uint64_t s0 = 0; s0 < v.nsectors; s0 += VERIFY_CHUNK) {
		uint64_t n = v.nsectors - s0 < VERIFY_CHUNK ? v.nsectors - s0 : VERIFY_CHUNK;
		int ret = disk_pread(d, buf, n * SECT, s0 * SECT);
		bool have_initial = false, have_base = false;

		if (ret) {
			fprintf(stderr, "disk_stress: reading %s at %" PRIu64 ": %s\n", image,
				s0 * SECT, strerror(-ret));
			goto out;
		}
		if (read_other(b, ibuf, s0, n, &have_initial) ||
		    read_other(bd, bbuf, s0, n, &have_base))
			goto out;
		for (uint64_t i = 0; i < n; i++) {
			uint64_t s = s0 + i;

			verify_sector(&v, o, s, list + start[s], start[s + 1] - start[s],
				      buf + i * SECT, have_initial ? ibuf + i * SECT : NULL,
				      have_base ? bbuf + i * SECT : NULL, &vs);
		}
	}
	printf("verify: %s sectors=%" PRIu64 " bytes=%" PRIu64 " requests=%" PRIu64
	       " durable_requests=%" PRIu64 " last_flush=%" PRIu64 " sectors_written=%" PRIu64
	       " sectors_durable=%" PRIu64 " sectors_newer=%" PRIu64
	       " sectors_zero_or_initial=%" PRIu64 " errors=%" PRIu64 "\n",
	       vs.errors ? "FAILED" : "OK", vs.sectors, vs.sectors * SECT, total, ndurable,
	       v.flush_seq, vs.written, vs.durable, vs.newer, vs.initial, vs.errors);
	rc = vs.errors ? 1 : 0;
	goto out;
oom:
	fprintf(stderr, "disk_stress: out of memory\n");
out:
	free(buf);
	free(ibuf);
	free(bbuf);
	free(list);
	free(start);
	free(v.ops);
	if (b)
		disk_close(b);
	if (bd)
		disk_close(bd);
	if (d)
		disk_close(d);
	return rc;
}

/* --------------------------------------------------------------- main --- */

static void usage(FILE *f)
{
	fprintf(f,
		"usage: disk_stress run IMAGE [options] > LOG\n"
		"       disk_stress verify IMAGE LOG [--backing F] [--base F] [--engine E] "
		"[--max-errors N]\n"
		"options:\n"
		"  --seed N          pseudo-random seed (default 1)\n"
		"  --engine E        auto | aio | threads | sync (default auto)\n"
		"  --direct          open with O_DIRECT\n"
		"  --depth N         requests in flight, 1..%u (default 16)\n"
		"  --ops N           requests to issue, then flush and exit (default 0: until "
		"killed)\n"
		"  --flush-every N   one FLUSH per N requests on average (default 16, 0: never)\n"
		"  --cluster-size B  steer writes across B-byte boundaries (default 65536)\n"
		"  --max-size B      largest write, 512..262144 (default 262144)\n"
		"  --discard-pct P   DISCARD share in percent (default 3)\n"
		"  --zero-pct P      WRITE_ZEROES share in percent (default 3)\n"
		"  --backing FILE    verify: the image a never-written sector may read as\n"
		"  --base FILE       verify: what a discarded sector may also read as\n",
		MAX_DEPTH);
}

/* The numeric options: name, range, required multiple, where it goes. */
struct num_opt {
	const char *name;
	uint64_t min, max, multiple;
	size_t off;
};

static const struct num_opt num_opts[] = {
	{ "seed", 0, UINT64_MAX, 1, offsetof(struct opts, seed) },
	{ "depth", 1, MAX_DEPTH, 1, offsetof(struct opts, depth) },
	{ "ops", 0, 1ULL << 31, 1, offsetof(struct opts, ops) },
	{ "flush-every", 0, 1U << 20, 1, offsetof(struct opts, flush_every) },
	{ "cluster-size", SECT, 1U << 30, SECT, offsetof(struct opts, cluster) },
	{ "max-size", SECT, MAX_NSECT *SECT, SECT, offsetof(struct opts, max_size) },
	{ "discard-pct", 0, 50, 1, offsetof(struct opts, discard_pct) },
	{ "zero-pct", 0, 50, 1, offsetof(struct opts, zero_pct) },
	{ "max-errors", 0, 1U << 30, 1, offsetof(struct opts, max_errors) },
};
#define N_NUM_OPTS (sizeof(num_opts) / sizeof(num_opts[0]))

static int parse_num(const struct num_opt *n, const char *s, struct opts *o)
{
	char *end;
	unsigned long long v;

	errno = 0;
	v = strtoull(s, &end, 0);
	if (errno || end == s || *end || s[0] == '-' || v < n->min || v > n->max ||
	    v % n->multiple) {
		fprintf(stderr,
			"disk_stress: --%s: expected a number in %" PRIu64 "..%" PRIu64
			"%s, got '%s'\n",
			n->name, n->min, n->max, n->multiple > 1 ? " (a multiple of 512)" : "", s);
		return -1;
	}
	memcpy((char *)o + n->off, &(uint64_t){ v }, sizeof(uint64_t));
	return 0;
}

static int parse_engine(const char *s, enum disk_engine_kind *out)
{
	static const char *const names[] = {
		[DISK_ENGINE_AUTO] = "auto",
		[DISK_ENGINE_AIO] = "aio",
		[DISK_ENGINE_THREADS] = "threads",
		[DISK_ENGINE_SYNC] = "sync",
	};

	for (size_t i = 0; i < sizeof(names) / sizeof(names[0]); i++)
		if (!strcmp(s, names[i])) {
			*out = (enum disk_engine_kind)i;
			return 0;
		}
	fprintf(stderr, "disk_stress: --engine: expected auto, aio, threads or sync, got '%s'\n",
		s);
	return -1;
}

int main(int argc, char **argv)
{
	struct option lo[N_NUM_OPTS + 6] = {
		{ "engine", required_argument, NULL, 'e' },
		{ "direct", no_argument, NULL, 'D' },
		{ "backing", required_argument, NULL, 'b' },
		{ "base", required_argument, NULL, 'B' },
		{ "help", no_argument, NULL, 'h' },
	};
	struct opts o = { .seed = 1,
			  .depth = 16,
			  .flush_every = 16,
			  .cluster = 65536,
			  .discard_pct = 3,
			  .zero_pct = 3,
			  .max_size = MAX_NSECT * SECT,
			  .max_errors = 20 };
	int c, idx;

	for (size_t i = 0; i < N_NUM_OPTS; i++)
		lo[5 + i] = (struct option){ num_opts[i].name, required_argument, NULL, 'N' };
	if (argc < 2 || !strcmp(argv[1], "--help") || !strcmp(argv[1], "-h")) {
		usage(argc < 2 ? stderr : stdout);
		return argc < 2 ? 2 : 0;
	}
	optind = 2;
	while ((c = getopt_long(argc, argv, "", lo, &idx)) != -1) {
		if (c == 'N' && parse_num(&num_opts[idx - 5], optarg, &o))
			return 2;
		else if (c == 'e' && parse_engine(optarg, &o.dopts.engine))
			return 2;
		else if (c == 'D')
			o.dopts.direct = true;
		else if (c == 'b')
			o.backing = optarg;
		else if (c == 'B')
			o.base = optarg;
		else if (c == 'h') {
			usage(stdout);
			return 0;
		} else if (c == '?') {
			usage(stderr);
			return 2;
		}
	}
	if (!strcmp(argv[1], "run") && optind + 1 == argc)
		return do_run(argv[optind], &o);
	if (!strcmp(argv[1], "verify") && optind + 2 == argc)
		return do_verify(argv[optind], argv[optind + 1], &o);
	if (strcmp(argv[1], "run") && strcmp(argv[1], "verify"))
		fprintf(stderr, "disk_stress: unknown mode '%s' (run or verify)\n", argv[1]);
	else
		fprintf(stderr, "disk_stress: %s takes %s\n", argv[1],
			argv[1][0] == 'r' ? "one IMAGE" : "IMAGE and LOG");
	return 2;
}
