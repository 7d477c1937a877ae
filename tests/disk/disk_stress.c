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
#include <inttypes.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "tests/disk/disk_stress_priv.h"

/* ------------------------------------------------------------- pattern --- */

/* splitmix64: tiny, fast, and the same on every host. */
uint64_t rng_next(struct rng *r)
{
	uint64_t z = (r->s += 0x9e3779b97f4a7c15ULL);

	z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
	z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
	return z ^ (z >> 31);
}

static uint64_t pat_checksum(const uint64_t *w)
{
	uint64_t h = 0xcbf29ce484222325ULL;

	for (unsigned int i = 0; i < PAT_WORDS - 1; i++)
		h = (h ^ w[i]) * 0x100000001b3ULL;
	return h;
}

void pat_fill(void *p, uint64_t tag, uint64_t seq, uint64_t sector)
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

bool pat_parse(const void *p, uint64_t *tag, uint64_t *seq, uint64_t *sector)
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

/* ---------------------------------------------------------------- main --- */

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
		return stress_run(argv[optind], &o);
	if (!strcmp(argv[1], "verify") && optind + 2 == argc)
		return stress_verify(argv[optind], argv[optind + 1], &o);
	if (strcmp(argv[1], "run") && strcmp(argv[1], "verify"))
		fprintf(stderr, "disk_stress: unknown mode '%s' (run or verify)\n", argv[1]);
	else
		fprintf(stderr, "disk_stress: %s takes %s\n", argv[1],
			argv[1][0] == 'r' ? "one IMAGE" : "IMAGE and LOG");
	return 2;
}
