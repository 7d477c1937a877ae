/* SPDX-License-Identifier: MIT */
/*
 * Between the parts of the VMDK driver:
 *   vmdk_parse.c   header and descriptor (pure; vmdk.h)
 *   vmdk.c         open (descriptor, extents, tables), close, info, check
 *   vmdk_io.c      requests: grain lookup, allocation, compressed grains
 *   vmdk_create.c  vmdk-img create, every writable subformat
 *
 * Crash safety of allocation (a write to a grain with no place yet): the
 * file is first grown in steps of VMDK_GROW bytes and the new length made
 * stable (grow.h, which has the argument), then the grain is written in
 * full (the guest's bytes, zeros around them) at the next free place inside
 * that stable length, then the grain table entries (both copies) point to
 * it. A crash at any point leaves entries that point inside the file: at
 * worst at a grain of zeros, which reads like the unallocated grain did. A FLUSH
 * is fdatasync of every extent file, so what was written before it --
 * grains and table entries -- survives a crash, as virtio-blk promises.
 *
 * cache=none (O_DIRECT), as bmap.h does it for VHD/VHDX: the extent keeps
 * a buffered descriptor for its header, tables, compressed grains and
 * allocations (pieces smaller than O_DIRECT allows), and guest reads and
 * writes of allocated grains and flat extents go through an O_DIRECT one
 * (a piece not aligned to the disk's alignment, which only a hand-made
 * image has, through the buffered one). Linux keeps the two coherent: an
 * O_DIRECT read or write first writes back and drops the cached pages of
 * its range. fdatasync through either descriptor syncs the file.
 */
#ifndef VMM_DEVICES_DISK_VMDK_PRIV_H
#define VMM_DEVICES_DISK_VMDK_PRIV_H

#include <stdbool.h>
#include <stdint.h>

#include "devices/disk/disk_priv.h"
#include "devices/disk/grow.h"
#include "devices/disk/vmdk.h"

#define VMDK_GROW (32ULL << 20)

struct vmdk_extent {
	enum vmdk_extent_type type;
	char *path;
	int fd;	     /* buffered (metadata, allocation); -1 for ZERO extents */
	bool direct; /* cache=none: guest data goes through data_fd ... */
	int data_fd; /* ... a second descriptor, O_DIRECT (only when direct) */
	bool readonly;
	uint64_t start;	    /* guest bytes before this extent */
	uint64_t len;	    /* guest bytes in it */
	uint64_t flat_off;  /* FLAT: where the data starts in the file, bytes */
	uint64_t file_size; /* bytes, as opened (grows by allocation) */

	/* SPARSE only. */
	struct vmdk_header h;
	uint64_t grain;	       /* bytes */
	uint64_t gd_n;	       /* grain directory entries */
	uint32_t *gd, *rgd;    /* sectors of each grain table (rgd NULL if none) */
	uint32_t **gt;	       /* loaded grain tables (host order), NULL until used */
	bool compressed;       /* deflate grains (streamOptimized): read-only */
	bool markers;	       /* each compressed grain starts with a 12-byte marker */
	uint8_t *cache;	       /* compressed: the last grain inflated ... */
	uint32_t cache_gte;    /* ... and its sector (0: none) */
	uint64_t next_alloc;   /* where the next grain goes, bytes */
	struct disk_grow grow; /* the file, grown ahead of next_alloc */
};

struct vmdk {
	struct disk *d;
	int desc_fd; /* a descriptor file, kept open for its lock; -1 if none */
	struct vmdk_desc desc;
	char create_type[40];
	unsigned int n;
	struct vmdk_extent *ext;
	struct ratelimit rl;
};

/* A grain table entry that maps no data: unallocated (0), or a zeroed
 * grain (1, where the header enables those). */
static inline bool vmdk_gte_is_zero(const struct vmdk_extent *e, uint32_t gte)
{
	return gte == 0 || (gte == 1 && (e->h.flags & VMDK_FLAG_ZERO_GRAIN));
}

/* Grain data at sector `gte` lies after the metadata and inside the file
 * (a compressed grain: at least its 12-byte marker). */
static inline bool vmdk_grain_in_file(const struct vmdk_extent *e, uint32_t gte)
{
	return gte >= e->h.overhead &&
	       (uint64_t)gte * 512 + (e->compressed ? 12 : e->grain) <= e->file_size;
}

/* vmdk_io.c */
int vmdk_submit(struct disk *d, struct disk_req *req);
/* disk_ops.block_status: grains by their grain table entries. */
int vmdk_block_status(struct disk *d, uint64_t off, uint64_t len, enum disk_status *kind,
		      uint64_t *n) __attribute__((warn_unused_result));
/* The grain table entry for grain `g` of a sparse extent (loading its
 * table); 0 or -EIO after a rate-limited warning (a table outside the file). */
int vmdk_gte(struct vmdk *v, struct vmdk_extent *e, uint64_t g, uint32_t *out)
	__attribute__((warn_unused_result));

/* vmdk_stream.c: the end of a streamOptimized image at byte `at` (a
 * sector boundary): footer marker, footer (a copy of h), end-of-stream
 * marker; the file ends there. 0 or -errno. */
int vmdk_stream_tail(int fd, const struct vmdk_header *h, uint64_t at)
	__attribute__((warn_unused_result));

/* vmdk_create.c */
int vmdk_create(const char *path, const struct disk_create_opts *o, char *err, size_t errlen)
	__attribute__((warn_unused_result));

#endif /* VMM_DEVICES_DISK_VMDK_PRIV_H */
