/* SPDX-License-Identifier: MIT */
/*
 * Between the parts of disk_stress (the log format and the contract it
 * checks: disk_stress.c):
 *   disk_stress.c    main: options; the self-describing sector pattern
 *   stress_run.c     run: requests in flight, logged before submission
 *   stress_verify.c  verify: the image against the log
 */
#ifndef VMM_TESTS_DISK_STRESS_PRIV_H
#define VMM_TESTS_DISK_STRESS_PRIV_H

#include <stdbool.h>
#include <stdint.h>

#include "devices/disk/disk.h"

#define SECT	  DISK_SECTOR_SIZE
#define PAT_MAGIC 0x3153534552545344ULL /* "DSTRESS1" */
#define PAT_WORDS (SECT / 8)
#define MAX_DEPTH 256U
#define MAX_NSECT 512U /* 256 KiB */

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

/* A pseudo-random sequence (rng_next: splitmix64), the same on every host. */
struct rng {
	uint64_t s;
};

uint64_t rng_next(struct rng *r);

/* The 512 bytes write `seq` puts into `sector` in the run tagged `tag`. */
void pat_fill(void *p, uint64_t tag, uint64_t seq, uint64_t sector);
/* Parse a sector's header: true if it is a well-formed pattern sector. */
bool pat_parse(const void *p, uint64_t *tag, uint64_t *seq, uint64_t *sector);

/* The two modes; each returns the process exit status. */
int stress_run(const char *image, const struct opts *o);
int stress_verify(const char *image, const char *logpath, const struct opts *o);

#endif
