/* SPDX-License-Identifier: MIT */
/*
 * Between the parts of the QED driver:
 *   qed_parse.c   the header (pure)
 *   qed.c         open/close, the table walk and allocation (bmap.h's map)
 *   qed_check.c   check and repair (vmm-img check, and at open after a crash)
 *   qed_create.c  new images
 *
 * How metadata is kept: tables are written through (pwrite, on the
 * event-loop thread) when they change; clusters are appended at the end of
 * the file, which is extended (a hole: zeros) before any table entry points
 * into it. A partial write into an unallocated cluster over a backing file
 * first copies that cluster from the backing file (synchronously, through a
 * second handle on it with an engine of its own, so no other request's
 * completion can run inside ours) and writes it, and only then the L2
 * entry. So after a killed process every entry points at the right data or
 * at zeros that read as what was there; after a power loss, the need-check
 * flag (set and synced before the first allocation since the last flush)
 * makes the next open check and repair the tables.
 */
#ifndef VMM_DEVICES_DISK_QED_PRIV_H
#define VMM_DEVICES_DISK_QED_PRIV_H

#include "devices/disk/bmap.h"
#include "devices/disk/format.h"
#include "devices/disk/qed.h"

#define QED_L2_CACHE 8 /* tables (256 KiB each by default: 2 GiB of disk each) */

struct qed_l2 {
	uint64_t *t; /* little-endian, as on disk */
	uint64_t l1_idx;
	uint64_t lru;
	bool used;
};

struct qed {
	struct bmap bm; /* first: d->priv is both */
	struct qed_header h;
	uint64_t *l1; /* little-endian, as on disk */
	uint64_t table_bytes;
	struct qed_l2 l2[QED_L2_CACHE];
	uint64_t clock;
	uint64_t file_end;    /* where the next cluster or table goes */
	bool need_check;      /* QED_F_NEED_CHECK is set in the file */
	struct disk *cow_src; /* the backing file again, own engine (COW) */
	unsigned int depth;   /* this image's place in the chain */
	uint8_t *cow_buf;     /* one cluster */
};

/* qed_check.c: check the image open on `fd` (header h already parsed);
 * with repair, clear table entries that point outside the file, into the
 * metadata or at a cluster used twice. */
int qed_check_fd(int fd, const char *path, const struct qed_header *h,
		 const struct disk_check_opts *o, struct disk_check_result *r, char *err,
		 size_t errlen) __attribute__((warn_unused_result));
int qed_check(const char *path, const struct disk_check_opts *o, struct disk_check_result *r,
	      char *err, size_t errlen) __attribute__((warn_unused_result));
/* qed_create.c */
int qed_create(const char *path, const struct disk_create_opts *o, char *err, size_t errlen)
	__attribute__((warn_unused_result));

#endif /* VMM_DEVICES_DISK_QED_PRIV_H */
