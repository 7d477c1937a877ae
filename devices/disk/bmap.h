/* SPDX-License-Identifier: MIT */
/*
 * The request path shared by the block-mapped formats (VHD, VHDX): the
 * virtual disk is cut into fixed-size blocks, a table maps each block to a
 * place in the file (or to nothing), and an optional per-sector bitmap says
 * which sectors of a differencing image's block are its own.
 *
 * A format gives one callback, map(): what a guest byte range starting at
 * `off` is (file data at `host`, zeros, or the parent's), and for how many
 * bytes that holds. For a write, map() allocates first (synchronously: see
 * below), so a write always lands on file data. written() runs after a data
 * write has completed (a differencing image sets its bitmap bits then: data
 * before the metadata that makes it visible).
 *
 * Allocation is synchronous on the event-loop thread, done by map(): the
 * file is extended (the new block reads as zeros: a hole), the extension is
 * made stable with fdatasync, and only then is the table entry written.
 * A crash at any point leaves either the old entry (the block leaks) or a
 * new entry pointing at zeros -- which reads exactly like the unallocated
 * block did for a non-differencing image, and like the parent's data for a
 * differencing one (its bitmap is all clear). The guest data itself goes
 * through the I/O engine asynchronously like any in-place write. Blocks are
 * large (VHD 2 MiB, VHDX 1-256 MiB), so allocation is rare. These ordering
 * syncs are disk_barrier()s: none on an unsafe disk (a convert's output,
 * removed unless the conversion finishes).
 */
#ifndef VMM_DEVICES_DISK_BMAP_H
#define VMM_DEVICES_DISK_BMAP_H

#include <stdbool.h>
#include <stdint.h>
#include <sys/uio.h>

#include "devices/disk/disk_priv.h"
#include "base/log.h"

enum bmap_kind {
	BMAP_DATA,   /* in the file at host */
	BMAP_ZERO,   /* reads as zeros */
	BMAP_PARENT, /* reads from d->backing at the same guest offset */
};

struct bmap_ops {
	/*
	 * The range [off, off + len) (len > 0, inside the disk) starts with
	 * *n bytes (1 <= *n <= len, whole sectors) of one kind. For a write
	 * the kind must come back BMAP_DATA (allocate if needed). 0 or -errno
	 * (a bad table entry: -EIO, after a rate-limited warning).
	 */
	int (*map)(void *fmt, uint64_t off, uint64_t len, bool write, enum bmap_kind *kind,
		   uint64_t *host, uint64_t *n);
	/* After a data write to [off, off + len) completed (may be NULL). */
	int (*written)(void *fmt, uint64_t off, uint64_t len);
	/* After a read of file bytes [host, host + len) into iov completed:
	 * patch in what the file does not hold yet (a read-only VHDX with a
	 * log to replay). May be NULL. */
	void (*read_fixup)(void *fmt, uint64_t host, uint64_t len, const struct iovec *iov,
			   int iovcnt);
};

struct bmap {
	struct disk *d;
	int fd;	     /* metadata: buffered */
	int data_fd; /* the fd disk.c gave (may be O_DIRECT): guest data */
	bool cached; /* data_fd is not O_DIRECT */
	const struct bmap_ops *ops;
	void *fmt;
	struct ratelimit rl;
};

/* Take over fd (a second, buffered fd is opened for metadata when fd is
 * O_DIRECT). On failure fd is closed. */
int bmap_init(struct bmap *b, struct disk *d, int fd, const struct bmap_ops *ops, void *fmt,
	      char *err, size_t errlen) __attribute__((warn_unused_result));
/* Close the fds (after the engine has drained). */
void bmap_fini(struct bmap *b);
/* disk_ops.close's common part: drain, fdatasync (read-write), close the
 * parent, bmap_fini. */
void bmap_close(struct bmap *b);
/* disk_ops.block_status for a format whose d->priv starts with its
 * struct bmap: map() for a read, no data read. */
int bmap_block_status(struct disk *d, uint64_t off, uint64_t len, enum disk_status *kind,
		      uint64_t *n) __attribute__((warn_unused_result));
/* disk_ops.submit for the format. */
int bmap_submit(struct bmap *b, struct disk_req *req) __attribute__((warn_unused_result));

#endif /* VMM_DEVICES_DISK_BMAP_H */
