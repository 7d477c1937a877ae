/* SPDX-License-Identifier: MIT */
/*
 * Block backends: what a disk image looks like to a device (virtio-blk) and
 * to tools (vmm-img, tests, benchmarks). A backend never includes virtio
 * headers; a device never knows which image format it is talking to.
 *
 * Requests are asynchronous. disk_submit() queues a request and returns; its
 * `done` callback runs later from disk_process() -- never from inside
 * disk_submit() -- on the thread that calls disk_process(). A disk (with its
 * backing chain and I/O engine) is used by one thread at a time: in the VMM,
 * the event-loop thread, which watches disk_event_fd() and calls
 * disk_process() when it is readable.
 *
 * Ordering: requests in flight at the same time may complete in any order.
 * A FLUSH completes only after every write that completed before the flush
 * was submitted is on stable storage (fdatasync), metadata included; that is
 * the guarantee virtio-blk's VIRTIO_BLK_T_FLUSH gives the guest.
 */
#ifndef VMM_DEVICES_DISK_H
#define VMM_DEVICES_DISK_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/uio.h>

#include "base/log.h"

#define DISK_SECTOR_SIZE 512U

enum disk_op {
	DISK_READ,
	DISK_WRITE,
	DISK_FLUSH,
	DISK_DISCARD,	   /* may deallocate; later reads return zeros or old data */
	DISK_WRITE_ZEROES, /* later reads return zeros; `unmap` allows deallocation */
};

struct disk_req {
	/* Filled in by the caller. Byte offsets and lengths; for READ/WRITE
	 * len is the sum of the iovec lengths. The iovecs must stay valid
	 * until done() runs. */
	enum disk_op op;
	uint64_t offset;
	uint64_t len;
	const struct iovec *iov;
	int iovcnt;
	bool unmap;
	/* ret: 0, or a negative errno (-EIO, -ENOSPC, -EROFS, -EINVAL, ...). */
	void (*done)(struct disk_req *req, int ret);
	void *opaque;

	/* Backend-private bookkeeping; do not touch. */
	void *priv;
	int64_t priv_pending;
	int priv_err;
};

enum disk_engine_kind {
	DISK_ENGINE_AUTO,    /* libaio for O_DIRECT; buffered: reads inline (RWF_NOWAIT, misses to a
			      * thread pool), writes inline; threads if io_setup fails */
	DISK_ENGINE_AIO,     /* Linux AIO (libaio) */
	DISK_ENGINE_THREADS, /* a small thread pool doing preadv/pwritev */
	DISK_ENGINE_SYNC,    /* the I/O is done inside submit (still reported from disk_process) */
};

struct disk_open_opts {
	bool readonly;
	bool direct; /* O_DIRECT; an error where the file system refuses it */
	enum disk_engine_kind engine;
	const char *format;	  /* a name or alias in format.h's table, or NULL to probe */
	unsigned int queue_depth; /* engine depth; 0 = 128 */
	/* Do not open the files the image names (vmm-img info): reads of what
	 * they would have supplied return zeros. */
	bool no_backing;
	/* Skip the ordering fdatasyncs a driver makes on its own (allocation
	 * metadata after what it points to): only DISK_FLUSH and close make
	 * data stable, and a crash before them may leave a broken image. For an
	 * image nothing uses until it is complete: vmm-img convert's output,
	 * removed unless the conversion finishes (qemu-img's cache=unsafe). */
	bool unsafe;
};

struct disk;

/* What a range of an image holds, as far as reading it goes. */
enum disk_status {
	DISK_STATUS_DATA, /* read it: it may hold anything */
	DISK_STATUS_ZERO, /* reads as zeros without being read */
	/* Only from disk_ops.block_status: not this image's own, read from
	 * d->backing (zeros without one, or past its end). */
	DISK_STATUS_BACKING,
};

struct disk_ops {
	int (*submit)(struct disk *d, struct disk_req *req);
	/* What [off, off + len) (inside the disk, sector aligned, len > 0)
	 * starts with: *n bytes (1 <= *n <= len) of one kind. From the
	 * image's own tables, synchronously; no data is read. NULL: all DATA. */
	int (*block_status)(struct disk *d, uint64_t off, uint64_t len, enum disk_status *kind,
			    uint64_t *n);
	/* Release everything; requests still in flight are completed first. */
	void (*close)(struct disk *d);
};

struct io_engine;

struct disk {
	const struct disk_ops *ops;
	const char *format; /* the driver's name (format.h), e.g. "raw", "qcow2" */
	bool format_probed; /* no format was given: it was found by probing */
	char *path;
	uint64_t size; /* virtual size, bytes, a multiple of DISK_SECTOR_SIZE */
	bool readonly;
	bool can_discard;   /* DISCARD/WRITE_ZEROES(unmap) free space */
	uint32_t alignment; /* required buffer/offset alignment (512, or 4096 with O_DIRECT) */
	struct io_engine *engine; /* shared with the backing chain */
	bool owns_engine;
	struct disk *backing; /* qcow2 backing file, or NULL */
	void *priv;	      /* format driver state */
	/* Raw because probing found no other format (no format= given): a
	 * guest write that would make it probe as another format is refused
	 * (disk_submit, -EPERM). */
	bool probed_raw;
	bool unsafe;		   /* disk_open_opts.unsafe */
	struct ratelimit rl_guest; /* warnings about what the guest wrote */
};

/*
 * Open an image. On failure returns a negative errno and writes a one-line,
 * human-readable reason (no trailing newline, naming the file) into `err`:
 * "disk.qcow2: unsupported qcow2 feature: compressed clusters".
 * `opts` may be NULL (read-write, probe, AUTO engine).
 */
/* The format the first bytes of an image say it is: the name of the
 * format.h driver whose probe scores highest, "raw" if none. A pure
 * function of buf[0..len). */
const char *disk_probe_buf(const void *buf, size_t len);

/* A file named inside `image` (backing file, parent, extent), as QEMU
 * resolves it: an absolute name as is, a relative one relative to the
 * image's directory (not the current one). malloc'ed; NULL without memory. */
char *disk_resolve_path(const char *image, const char *name);

int disk_open(const char *path, const struct disk_open_opts *opts, struct disk **out, char *err,
	      size_t errlen) __attribute__((warn_unused_result));
void disk_close(struct disk *d);

/* Call fn for every file `d` itself opened besides d->path and its backing
 * file (a VMDK descriptor's extents). Not recursive: walk d->backing. */
void disk_list_files(struct disk *d, void (*fn)(void *opaque, const char *path), void *opaque);

/* Queue a request. Returns 0 (done() will run from disk_process()), or a
 * negative errno for a request rejected outright (done() will not run):
 * -EINVAL for a range outside [0, size) or misaligned, -EROFS for a write
 * to a read-only disk, -EOPNOTSUPP for DISCARD on a disk that cannot,
 * -EPERM for a write that would make a probed raw image (probed_raw) probe
 * as another format. */
int disk_submit(struct disk *d, struct disk_req *req) __attribute__((warn_unused_result));

/*
 * What [off, off + len) of `d` starts with, through its backing chain:
 * *n bytes (a multiple of DISK_SECTOR_SIZE, 1 sector <= *n <= len) that are
 * DISK_STATUS_DATA or DISK_STATUS_ZERO (never BACKING). ZERO is a promise
 * (reads return zeros); DATA is not (those bytes may be zeros too). Lets a
 * copy skip holes without reading them (vmm-img convert). Synchronous; on
 * the thread that owns the disk. 0, or -EINVAL for a bad range, or the
 * -errno of a table that could not be read.
 */
int disk_block_status(struct disk *d, uint64_t off, uint64_t len, enum disk_status *kind,
		      uint64_t *n) __attribute__((warn_unused_result));

/* A file descriptor that becomes readable when completions are pending. */
int disk_event_fd(const struct disk *d);
/* Run the done() callbacks of finished requests; returns how many. */
int disk_process(struct disk *d);
/* Block until nothing is in flight, running callbacks. */
void disk_drain(struct disk *d);

/* Synchronous helpers for tools and tests (submit, then wait). */
int disk_pread(struct disk *d, void *buf, size_t len, uint64_t off)
	__attribute__((warn_unused_result));
int disk_pwrite(struct disk *d, const void *buf, size_t len, uint64_t off)
	__attribute__((warn_unused_result));
int disk_flush(struct disk *d) __attribute__((warn_unused_result));

/* The format by content (disk_probe_buf of the first DISK_PROBE_LEN
 * bytes), or NULL on a read error (errno set). */
const char *disk_probe_format(int fd);

#endif /* VMM_DEVICES_DISK_H */
