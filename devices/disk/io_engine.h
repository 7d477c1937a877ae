/* SPDX-License-Identifier: MIT */
/*
 * The I/O engine under the disk formats: asynchronous preadv/pwritev,
 * fdatasync and fallocate on file descriptors, with one completion eventfd.
 *
 * Kinds: libaio (io_submit/io_getevents; truly asynchronous with O_DIRECT,
 * and with io_set_eventfd so completions wake the event loop), a small thread
 * pool (used for fdatasync and fallocate, which Linux AIO does not do, and
 * for everything when io_setup fails), and sync (the operation is performed
 * inside ioe_submit; the callback still runs from ioe_process).
 *
 * AUTO (reported as AIO when io_setup works) treats the two kinds of file
 * descriptor differently, because libaio is only asynchronous for O_DIRECT:
 *   - O_DIRECT fds (ioe_req.cached false): libaio, as AIO does.
 *   - page-cache fds (ioe_req.cached true): with a buffered fd io_submit
 *     does the copy synchronously inside the syscall, so libaio gives no
 *     parallelism at queue depth 32 and a read that misses the page cache
 *     blocks the event loop on the disk. QEMU (cache=writeback) sends all
 *     of it to a thread pool instead; measured here (2 cores, bench/
 *     disk_backend.py) that costs 4-5x at queue depth 1 for 4 KiB requests
 *     (~20 us thread hand-off vs a ~4 us page-cache copy) but gains ~50% for
 *     1 MiB reads at depth 32 (two cores copying). So AUTO does both: a read
 *     is first tried inline with preadv2(RWF_NOWAIT), which copies what is in
 *     the page cache and never waits for the disk; what is left (a cache
 *     miss, or part of one) goes to the pool. A read larger than 64 KiB is
 *     sent to the pool while other requests are in flight, so that at depth
 *     the copies run on several cores; alone, it is done inline (a hand-off
 *     would only add latency). Writes are done inline: a page-cache copy,
 *     exactly what libaio did inside io_submit, and buffered writes to one
 *     file serialise on its inode lock anyway, so the pool measured slower
 *     at every depth. (Like with libaio, a write can still wait in the
 *     kernel's dirty-page throttling when the guest outruns the disk.)
 *   Completions of inline requests are still reported from ioe_process().
 *
 * Callbacks run only from ioe_process()/ioe_drain(), never from inside
 * ioe_submit(), on the calling thread. An engine serves one thread at a time.
 *
 * Short transfers: the engine resubmits the remainder of a short write or
 * read; a read that reaches end of file fills the rest with zeros (a qcow2
 * cluster at the end of a file, a raw image shorter than its size).
 */
#ifndef VMM_DEVICES_DISK_IO_ENGINE_H
#define VMM_DEVICES_DISK_IO_ENGINE_H

#include <stdbool.h>
#include <stdint.h>
#include <sys/uio.h>

#include "devices/disk/disk.h"

enum ioe_op {
	IOE_READ,
	IOE_WRITE,
	IOE_FDATASYNC,
	IOE_PUNCH_HOLE, /* fallocate(PUNCH_HOLE | KEEP_SIZE) over [off, off+len) */
	IOE_ZERO_RANGE, /* fallocate(ZERO_RANGE), falling back to writing zeros */
	IOE_NOP,	/* no I/O: just run done(r, 0) from ioe_process(). For work a
			 * format finishes without touching a file (a read of an
			 * unallocated cluster) but must not complete inside submit. */
};

#define IOE_MAX_IOV 1024 /* IOV_MAX */

struct ioe_req {
	/* Filled in by the caller; iov must stay valid until done() runs. */
	enum ioe_op op;
	int fd;
	uint64_t off;
	uint64_t len; /* PUNCH_HOLE/ZERO_RANGE; READ/WRITE use the iovecs */
	const struct iovec *iov;
	int iovcnt; /* <= IOE_MAX_IOV */
	/* res: 0 on success (the full length was transferred), or -errno. */
	void (*done)(struct ioe_req *r, int res);
	void *opaque;
	/* READ/WRITE on an O_DIRECT fd: the alignment the fd needs (0 = none).
	 * Buffers not aligned to it go through an aligned bounce buffer; off
	 * and the total length must be multiples of it (else -EINVAL). */
	uint32_t align;
	/* READ/WRITE: fd is not O_DIRECT (goes through the page cache). With
	 * AUTO such requests are served inline or by the pool, not by libaio
	 * (see above). false: treated as O_DIRECT (always correct). */
	bool cached;

	/* Engine-private. */
	uint64_t priv_done;  /* bytes transferred so far */
	uint64_t priv_total; /* READ/WRITE: sum of the iovec lengths */
	struct ioe_req *priv_next;
	void *priv_bounce;	/* aligned copy of the data, or NULL */
	struct iovec priv_biov; /* the one iovec over priv_bounce */
	int priv_res;
	uint64_t priv_iocb[8]; /* struct iocb (64 bytes), kept opaque here */
};

int ioe_create(enum disk_engine_kind kind, unsigned int depth, struct io_engine **out)
	__attribute__((warn_unused_result));
/* Completes everything in flight, then frees. */
void ioe_destroy(struct io_engine *e);
/* The kind actually in use (AUTO resolved). */
enum disk_engine_kind ioe_kind(const struct io_engine *e);

/* 0, or -errno if the request cannot be queued (done() will not run).
 * More than `depth` requests may be submitted: the excess waits in the
 * engine's own queue. */
int ioe_submit(struct io_engine *e, struct ioe_req *r) __attribute__((warn_unused_result));
int ioe_event_fd(const struct io_engine *e);
/* Run callbacks of finished requests (non-blocking); returns how many. */
int ioe_process(struct io_engine *e);
/* Block until nothing is in flight, running callbacks. */
void ioe_drain(struct io_engine *e);
unsigned int ioe_inflight(const struct io_engine *e);

#endif /* VMM_DEVICES_DISK_IO_ENGINE_H */
