/* SPDX-License-Identifier: MIT */
/*
 * disk_stress verify: read the log of a (possibly killed) run, then check
 * every sector of the image against what the log allows it to hold (the
 * contract: disk_stress.c).
 */
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "tests/disk/disk_stress_priv.h"

#define VERIFY_CHUNK 2048U /* sectors per read: 1 MiB */

static bool is_zero(const uint8_t *p, size_t n)
{
	for (size_t i = 0; i < n; i++)
		if (p[i])
			return false;
	return true;
}

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

/* Per sector, the requests covering it, in seq order (CSR layout): sector
 * s's are list[start[s]] .. list[start[s + 1] - 1]. */
struct vindex {
	uint64_t *start;
	uint32_t *list;
	uint64_t total, ndurable; /* requests that count, and the durable ones */
};

static int vindex_build(const struct vlog *v, struct vindex *ix)
{
	uint64_t *fill;

	ix->start = calloc(v->nsectors + 1, sizeof(*ix->start));
	if (!ix->start)
		return -ENOMEM;
	for (uint64_t q = 1; q < v->nops; q++)
		if (vop_counts(&v->ops[q])) {
			for (uint64_t s = v->ops[q].sector; s < v->ops[q].sector + v->ops[q].nsect;
			     s++)
				ix->start[s + 1]++;
			ix->ndurable += vop_durable(v, &v->ops[q]);
			ix->total++;
		}
	for (uint64_t s = 0; s < v->nsectors; s++)
		ix->start[s + 1] += ix->start[s];
	ix->list = malloc((ix->start[v->nsectors] + 1) * sizeof(*ix->list));
	fill = calloc(v->nsectors, sizeof(*fill));
	if (!ix->list || !fill) {
		free(fill);
		return -ENOMEM;
	}
	for (uint64_t q = 1; q < v->nops; q++)
		if (vop_counts(&v->ops[q]))
			for (uint64_t s = v->ops[q].sector; s < v->ops[q].sector + v->ops[q].nsect;
			     s++)
				ix->list[ix->start[s] + fill[s]++] = (uint32_t)q;
	free(fill);
	return 0;
}

int stress_verify(const char *image, const char *logpath, const struct opts *o)
{
	struct disk_open_opts dopts = o->dopts;
	struct disk *d = NULL, *b = NULL;
	struct vlog v;
	struct vstats vs = { 0 };
	struct vindex ix = { 0 };
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
	if (vindex_build(&v, &ix))
		goto oom;
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

			verify_sector(&v, o, s, ix.list + ix.start[s],
				      ix.start[s + 1] - ix.start[s], buf + i * SECT,
				      have_initial ? ibuf + i * SECT : NULL,
				      have_base ? bbuf + i * SECT : NULL, &vs);
		}
	}
	printf("verify: %s sectors=%" PRIu64 " bytes=%" PRIu64 " requests=%" PRIu64
	       " durable_requests=%" PRIu64 " last_flush=%" PRIu64 " sectors_written=%" PRIu64
	       " sectors_durable=%" PRIu64 " sectors_newer=%" PRIu64
	       " sectors_zero_or_initial=%" PRIu64 " errors=%" PRIu64 "\n",
	       vs.errors ? "FAILED" : "OK", vs.sectors, vs.sectors * SECT, ix.total, ix.ndurable,
	       v.flush_seq, vs.written, vs.durable, vs.newer, vs.initial, vs.errors);
	rc = vs.errors ? 1 : 0;
	goto out;
oom:
	fprintf(stderr, "disk_stress: out of memory\n");
out:
	free(buf);
	free(ibuf);
	free(bbuf);
	free(ix.list);
	free(ix.start);
	free(v.ops);
	if (b)
		disk_close(b);
	if (bd)
		disk_close(bd);
	if (d)
		disk_close(d);
	return rc;
}
