/* SPDX-License-Identifier: MIT */
/*
 * Growing an image file ahead of its allocations, for the formats that
 * append new blocks/grains at the end of the file and then point a table
 * entry at them (VDI, VMDK).
 *
 * The crash-safety argument, once for all of them: before a table entry
 * may point at [off, off + len), disk_grow_ensure(g, off + len) makes sure
 * the file is at least that long *and that the length is on stable
 * storage* (ftruncate, then fdatasync: the new bytes are a hole and read as
 * zeros). The format then writes the data and only then the entry. After a
 * crash an entry therefore points inside the file, at worst at zeros --
 * which is what the unallocated block read as -- and never past its end
 * (which qemu-img check calls corruption). A length that is not yet stable
 * could be lost while the entry survives: that is the order this keeps.
 *
 * One fdatasync per allocation would cost a disk flush each time, so the
 * file grows in steps: up to the next multiple of `align`, plus `ahead`
 * bytes that start at `unit` and double with each step up to `max_ahead`
 * (never past `limit`). A killed process leaves the unused reserve at the
 * end of the file (a hole: it costs no space, and the format's open takes
 * the file size as the next free place). A clean close gives it back with
 * disk_grow_trim.
 */
#ifndef VMM_DEVICES_DISK_GROW_H
#define VMM_DEVICES_DISK_GROW_H

#include <stdint.h>

struct disk;

struct disk_grow {
	const struct disk *d; /* whose ordering syncs are disk_barrier()s */
	int fd;
	uint64_t end;	    /* [0, end) exists, and that length is stable */
	uint64_t orig;	    /* the length at init: trim never cuts below it */
	uint64_t align;	    /* a grown length is a multiple of it (0: any) */
	uint64_t unit;	    /* the first step's reserve beyond need (0: none) */
	uint64_t max_ahead; /* the reserve doubles up to this */
	uint64_t limit;	    /* never grow past it (0: no limit) */
	uint64_t ahead;	    /* the next step's reserve */
};

/* d: the disk the file belongs to (an unsafe one -- a convert's output --
 * skips the fdatasync: disk_barrier), fd: the file (a buffered
 * descriptor), size: its length now. */
void disk_grow_init(struct disk_grow *g, const struct disk *d, int fd, uint64_t size,
		    uint64_t align, uint64_t unit, uint64_t max_ahead, uint64_t limit);
/* [0, need) exists and is stable (see above). 0 or -errno. */
int disk_grow_ensure(struct disk_grow *g, uint64_t need) __attribute__((warn_unused_result));
/* At close: give back the reserve beyond max(used, the length at init).
 * 0 (also when there is nothing to give back) or -errno. */
int disk_grow_trim(struct disk_grow *g, uint64_t used) __attribute__((warn_unused_result));

#endif /* VMM_DEVICES_DISK_GROW_H */
