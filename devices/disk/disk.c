/* SPDX-License-Identifier: MIT */
/*
 * Opening images and the format-independent half of the block backend API:
 * open flags, file type, advisory locking, format probing, O_DIRECT
 * alignment, the I/O engine, request validation and the synchronous
 * helpers. The formats (raw.c, qcow2*.c) only map requests to file I/O.
 */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "devices/disk/disk.h"
#include "devices/disk/disk_priv.h"
#include "devices/disk/io_engine.h"
#include "devices/disk/format.h"
#include "base/err.h"
#include "base/file.h"
#include "base/iov.h"
#include "base/log.h"

/* One page: aligned enough for any O_DIRECT device. */
#define PROBE_LEN DISK_PROBE_LEN

int disk_check_range(const struct disk *d, uint64_t offset, uint64_t len)
{
	uint64_t end;

	if ((offset | len) % DISK_SECTOR_SIZE)
		return -EINVAL;
	if (__builtin_add_overflow(offset, len, &end) || end > d->size)
		return -EINVAL;
	return 0;
}

const char *disk_probe_buf(const void *buf, size_t len)
{
	return disk_format_probe(buf, len)->name;
}

const char *disk_probe_format(int fd)
{
	void *buf;
	ssize_t got;
	const char *fmt;

	/* An aligned buffer and length, so the probe also works with O_DIRECT. */
	if (posix_memalign(&buf, PROBE_LEN, PROBE_LEN)) {
		errno = ENOMEM;
		return NULL;
	}
	do {
		got = pread(fd, buf, PROBE_LEN, 0);
	} while (got < 0 && errno == EINTR);
	if (got < 0) {
		int saved = errno;

		free(buf);
		errno = saved;
		return NULL;
	}
	fmt = disk_probe_buf(buf, (size_t)got);
	free(buf);
	return fmt;
}

/*
 * The smallest request alignment O_DIRECT accepts on this file: the
 * logical block size of the device under the file system (512 or 4096).
 * Probed as QEMU does (block/file-posix.c raw_probe_alignment): a read of
 * `a` bytes at offset 0 fails with EINVAL if `a` is too small.
 */
static uint32_t probe_direct_alignment(int fd)
{
	void *buf;
	uint32_t a = 4096;

	if (posix_memalign(&buf, 4096, 4096))
		return 4096;
	for (uint32_t try = 512; try <= 4096; try *= 2) {
		if (pread(fd, buf, try, 0) >= 0 || errno != EINVAL) {
			a = try;
			break;
		}
	}
	free(buf);
	return a;
}

/*
 * An OFD lock (per open file description, released when the fd closes)
 * over the whole file: a write lock for read-write opens, a read lock for
 * read-only ones. Two VMs writing one image corrupt it (qcow2 metadata
 * especially); a writer next to readers gives them torn data.
 */
static int lock_image(int fd, bool readonly, const char *path, char *err, size_t errlen)
{
	struct flock fl = {
		.l_type = readonly ? F_RDLCK : F_WRLCK,
		.l_whence = SEEK_SET,
		.l_start = 0,
		.l_len = 0,
	};

	if (fcntl(fd, F_OFD_SETLK, &fl) == 0)
		return 0;
	if (errno == EAGAIN || errno == EACCES)
		return err_set(err, errlen, -EBUSY, "%s: image is in use by another process", path);
	if (errno == ENOLCK || errno == EOPNOTSUPP || errno == EINVAL) {
		/* Some network file systems have no locks: go on unlocked. */
		log_warn("%s: cannot lock the image (%s); not protected against a second user",
			 path, strerror(errno));
		return 0;
	}
	return err_set(err, errlen, -errno, "%s: cannot lock the image: %s", path, strerror(errno));
}

/* Images are files or block devices, not FIFOs or directories. */
static int check_file_type(int fd, const char *path, char *err, size_t errlen)
{
	struct stat st;

	if (fstat(fd, &st) < 0)
		return err_set(err, errlen, -errno, "%s: %s", path, strerror(errno));
	if (!S_ISREG(st.st_mode) && !S_ISBLK(st.st_mode))
		return err_set(err, errlen, -EINVAL, "%s: not a regular file or block device",
			       path);
	return 0;
}

static int open_file(const char *path, bool readonly, bool direct, int *fdp, char *err,
		     size_t errlen)
{
	int flags = (readonly ? O_RDONLY : O_RDWR) | O_CLOEXEC | O_NONBLOCK; /* base/file.h */
	int fd = -1, ret;

	fd = open(path, flags | (direct ? O_DIRECT : 0));
	if (fd < 0 && direct && errno == EINVAL) {
		/* tmpfs before 6.6 and some FUSE file systems refuse O_DIRECT at
		 * open(); tell that apart from a bad path. */
		fd = open(path, flags);
		if (fd >= 0) {
			close(fd);
			return err_set(err, errlen, -EINVAL,
				       "%s: O_DIRECT not supported on this file system", path);
		}
	}
	if (fd < 0)
		return err_set(err, errlen, -errno, "%s: %s", path, strerror(errno));
	ret = check_file_type(fd, path, err, errlen);
	if (ret)
		goto err_close;
	ret = file_set_blocking(fd);
	if (ret) {
		err_set(err, errlen, ret, "%s: %s", path, strerror(-ret));
		goto err_close;
	}
	ret = lock_image(fd, readonly, path, err, errlen);
	if (ret)
		goto err_close;
	*fdp = fd;
	return 0;

err_close:
	close(fd);
	return ret;
}

/*
 * Which driver opens the file: the one asked for, else the probed one. A
 * file named inside another image without a recorded format (`backing`)
 * may only be probed as a format that names no files itself: otherwise a
 * raw base image the guest wrote a header into could name any host file.
 */
static int pick_format(const char *path, const char *format, bool backing,
		       const struct disk_format *probed, const struct disk_format **out, char *err,
		       size_t errlen)
{
	const struct disk_format *f;

	if (!format) {
		if (backing && probed->names_files)
			return err_set(
				err, errlen, -EPERM,
				"%s: looks like %s, which may name other files, but the image "
				"naming it records no format; refusing to probe it (record "
				"the format, e.g. vmm-img create -F %s)",
				path, probed->name, probed->name);
		*out = probed;
		return 0;
	}
	f = disk_format_find(format);
	if (!f)
		return err_set(err, errlen, -EINVAL, "%s: unknown image format '%s'", path, format);
	/* A file that probes as raw may still be this format: a fixed VHD
	 * says so only in its last 512 bytes; the driver checks that. */
	if (f->probe && f != probed && probed->probe)
		return err_set(err, errlen, -EINVAL, "%s: not a %s image (it looks like %s)", path,
			       f->name, probed->name);
	*out = f;
	return 0;
}

/* What fd's content probes as (*probed), and by pick_format() the driver
 * that reads it (*out). */
static int probe_and_pick(int fd, const char *path, const char *format, bool backing,
			  const struct disk_format **probed, const struct disk_format **out,
			  char *err, size_t errlen)
{
	const char *name = disk_probe_format(fd);

	if (!name)
		return err_set(err, errlen, -errno, "%s: cannot read: %s", path, strerror(errno));
	*probed = disk_format_find(name);
	return pick_format(path, format, backing, *probed, out, err, errlen);
}

int disk_probe_file(const char *path, const char *format, const struct disk_format **out, char *err,
		    size_t errlen)
{
	const struct disk_format *probed;
	int fd, ret;

	/* No lock: only the first bytes are read, and the check that follows
	 * opens the image itself. */
	fd = open(path, O_RDONLY | O_CLOEXEC | O_NONBLOCK); /* base/file.h */
	if (fd < 0)
		return err_set(err, errlen, -errno, "%s: %s", path, strerror(errno));
	ret = check_file_type(fd, path, err, errlen);
	if (ret == 0)
		ret = probe_and_pick(fd, path, format, false, &probed, out, err, errlen);
	close(fd);
	return ret;
}

/*
 * The shared part of disk_open and disk_open_backing. `engine` NULL: create
 * one from the options and own it.
 */
static int open_image(const char *path, const struct disk_open_opts *o, struct io_engine *engine,
		      unsigned int depth, struct disk **out, char *err, size_t errlen)
{
	const struct disk_format *fmt = NULL, *probed;
	struct disk *d;
	int fd = -1, ret;

	if (depth >= DISK_MAX_CHAIN)
		return err_set(err, errlen, -ELOOP, "%s: backing chain longer than %d images", path,
			       DISK_MAX_CHAIN);
	if (o->format && !disk_format_find(o->format))
		return err_set(err, errlen, -EINVAL, "%s: unknown image format '%s'", path,
			       o->format);
	d = calloc(1, sizeof(*d));
	if (!d)
		return err_set(err, errlen, -ENOMEM, "%s: out of memory", path);
	d->path = strdup(path);
	if (!d->path) {
		ret = err_set(err, errlen, -ENOMEM, "%s: out of memory", path);
		goto err_free;
	}
	d->readonly = o->readonly;
	d->unsafe = o->unsafe;

	ret = open_file(path, o->readonly, o->direct, &fd, err, errlen);
	if (ret)
		goto err_free;

	ret = probe_and_pick(fd, path, o->format, depth > 0, &probed, &fmt, err, errlen);
	if (ret)
		goto err_close;
	if (!fmt->probe && probed->probe)
		/* Explicitly asked for: the guest sees the other format's bytes. */
		log_warn("%s: %s image opened as raw, as requested", path, probed->name);

	d->alignment = o->direct ? probe_direct_alignment(fd) : DISK_SECTOR_SIZE;
	if (engine) {
		d->engine = engine;
	} else {
		/* AUTO: libaio for O_DIRECT files, page-cache reads inline with
		 * RWF_NOWAIT (misses to a thread pool) and writes inline for
		 * buffered ones -- libaio is synchronous on a buffered fd. The
		 * drivers say which per request (ioe_req.cached); the numbers
		 * behind the choice are in io_engine.h. */
		ret = ioe_create(o->engine, o->queue_depth, &d->engine);
		if (ret) {
			ret = err_set(err, errlen, ret, "%s: cannot create the I/O engine: %s",
				      path, strerror(-ret));
			goto err_close;
		}
		d->owns_engine = true;
	}

	/* The guest may write anything to a raw image, another format's header
	 * too; the next open must not then take it for that format
	 * (disk_guard_probed_raw). */
	d->format_probed = !o->format;
	d->probed_raw = !o->format && !fmt->probe;
	/* From here the driver owns fd (format.h). */
	ret = fmt->open(d, fd, o, depth, err, errlen);
	if (ret)
		goto err_engine;
	*out = d;
	return 0;

err_engine:
	if (d->owns_engine)
		ioe_destroy(d->engine);
	goto err_free;
err_close:
	close(fd);
err_free:
	free(d->path);
	free(d);
	return ret;
}

int disk_reopen_fd(int fd, int flags)
{
	char p[64];

	snprintf(p, sizeof(p), "/proc/self/fd/%d", fd);
	return open(p, flags | O_CLOEXEC);
}

int disk_file_pread(int fd, void *buf, size_t len, uint64_t off)
{
	uint8_t *p = buf;

	while (len > 0) {
		ssize_t n = pread(fd, p, len, (off_t)off);

		if (n < 0) {
			if (errno == EINTR)
				continue;
			return -errno;
		}
		if (n == 0) { /* end of file: the rest reads as zeros */
			memset(p, 0, len);
			return 0;
		}
		p += n;
		off += (uint64_t)n;
		len -= (size_t)n;
	}
	return 0;
}

int disk_file_pwrite(int fd, const void *buf, size_t len, uint64_t off)
{
	const uint8_t *p = buf;

	while (len > 0) {
		ssize_t n = pwrite(fd, p, len, (off_t)off);

		if (n < 0) {
			if (errno == EINTR)
				continue;
			return -errno;
		}
		p += n;
		off += (uint64_t)n;
		len -= (size_t)n;
	}
	return 0;
}

char *disk_resolve_path(const char *image, const char *name)
{
	const char *slash = strrchr(image, '/');
	char *p;

	if (name[0] == '/' || !slash)
		return strdup(name);
	if (asprintf(&p, "%.*s/%s", (int)(slash - image), image, name) < 0)
		return NULL;
	return p;
}

int disk_open(const char *path, const struct disk_open_opts *opts, struct disk **out, char *err,
	      size_t errlen)
{
	static const struct disk_open_opts defaults = { .engine = DISK_ENGINE_AUTO };

	return open_image(path, opts ? opts : &defaults, NULL, 0, out, err, errlen);
}

int disk_open_backing(const char *path, const char *format, struct io_engine *engine,
		      unsigned int depth, struct disk **out, char *err, size_t errlen)
{
	struct disk_open_opts o = { .readonly = true, .format = format };

	return open_image(path, &o, engine, depth, out, err, errlen);
}

void disk_list_files(struct disk *d, void (*fn)(void *opaque, const char *path), void *opaque)
{
	const struct disk_format *f = disk_format_find(d->format);

	if (f && f->list_files)
		f->list_files(d, fn, opaque);
}

void disk_close(struct disk *d)
{
	if (!d)
		return;
	/* Complete whatever is in flight before the driver frees its state. */
	ioe_drain(d->engine);
	d->ops->close(d);
	if (d->owns_engine)
		ioe_destroy(d->engine);
	free(d->path);
	free(d);
}

/*
 * A raw image whose format was probed (no format=) must stay raw: a guest
 * that writes a qcow2 (or any other format's) header to its sector 0 would,
 * on the next start, get an image whose backing file it names -- any host
 * file (QEMU's CVE-2008-2004, and QEMU's rule: such a write fails). Every
 * format in format.h's table is checked. The first PROBE_LEN
 * bytes are copied out of guest memory once, checked, and written from that
 * copy, so the guest cannot change them after the check.
 */
struct probe_guard {
	uint8_t buf[PROBE_LEN]; /* first: PROBE_LEN-aligned, for O_DIRECT */
	const struct iovec *iov;
	int iovcnt;
	void (*done)(struct disk_req *req, int ret);
	void *opaque;
	struct iovec guarded[IOE_MAX_IOV + 1];
};

static void probe_guard_done(struct disk_req *req, int ret)
{
	struct probe_guard *g = req->opaque;

	req->iov = g->iov;
	req->iovcnt = g->iovcnt;
	req->done = g->done;
	req->opaque = g->opaque;
	free(g);
	req->done(req, ret);
}

static int disk_guard_probed_raw(struct disk *d, struct disk_req *req, struct probe_guard **out)
{
	size_t n = req->len < PROBE_LEN ? (size_t)req->len : PROBE_LEN;
	struct probe_guard *g;
	unsigned int rest;
	const char *fmt;

	*out = NULL;
	if (!d->probed_raw || req->op != DISK_WRITE || req->offset != 0 || !n)
		return 0;
	if (posix_memalign((void **)&g, PROBE_LEN, sizeof(*g)))
		return -ENOMEM;
	iov_to_buf(req->iov, (unsigned int)req->iovcnt, 0, g->buf, n);
	fmt = disk_probe_buf(g->buf, n);
	if (strcmp(fmt, "raw")) {
		free(g);
		log_warn_ratelimited(&d->rl_guest,
				     "%s: refused a guest write to sector 0 that would make this "
				     "image, probed as raw, look like %s (format=raw allows it)",
				     d->path, fmt);
		return -EPERM;
	}
	g->guarded[0] = (struct iovec){ g->buf, n };
	rest = iov_window(req->iov, (unsigned int)req->iovcnt, n, SIZE_MAX, g->guarded + 1);
	if (1 + rest > IOE_MAX_IOV) {
		free(g);
		return -EINVAL;
	}
	g->iov = req->iov;
	g->iovcnt = req->iovcnt;
	g->done = req->done;
	g->opaque = req->opaque;
	req->iov = g->guarded;
	req->iovcnt = (int)(1 + rest);
	req->done = probe_guard_done;
	req->opaque = g;
	*out = g;
	return 0;
}

int disk_submit(struct disk *d, struct disk_req *req)
{
	struct probe_guard *guard;
	uint64_t total = 0;
	int ret;

	switch (req->op) {
	case DISK_READ:
	case DISK_WRITE:
		if (req->iovcnt < 0 || req->iovcnt > IOE_MAX_IOV || (req->iovcnt && !req->iov))
			return -EINVAL;
		for (int i = 0; i < req->iovcnt; i++)
			if (__builtin_add_overflow(total, req->iov[i].iov_len, &total))
				return -EINVAL;
		if (total != req->len)
			return -EINVAL;
		break;
	case DISK_DISCARD:
		if (!d->can_discard)
			return -EOPNOTSUPP;
		break;
	case DISK_FLUSH:
	case DISK_WRITE_ZEROES:
		break;
	default:
		return -EINVAL;
	}
	if (d->readonly && req->op != DISK_READ && req->op != DISK_FLUSH)
		return -EROFS;
	if (req->op != DISK_FLUSH) {
		ret = disk_check_range(d, req->offset, req->len);
		if (ret)
			return ret;
	}
	ret = disk_guard_probed_raw(d, req, &guard);
	if (ret)
		return ret;
	req->priv_pending = 0;
	req->priv_err = 0;
	ret = d->ops->submit(d, req);
	if (ret && guard) { /* refused outright: done() will not run */
		req->iov = guard->iov;
		req->iovcnt = guard->iovcnt;
		req->done = guard->done;
		req->opaque = guard->opaque;
		free(guard);
	}
	return ret;
}

int disk_block_status(struct disk *d, uint64_t off, uint64_t len, enum disk_status *kind,
		      uint64_t *n)
{
	unsigned int depth;
	int ret;

	if (len == 0 || disk_check_range(d, off, len))
		return -EINVAL;
	*n = len;
	/* Down the chain while this image says "not mine"; depth is bounded
	 * by the chain limit disk_open_backing enforces. */
	for (depth = 0;; depth++) {
		uint64_t got = len;

		*kind = DISK_STATUS_DATA;
		if (d->ops->block_status) {
			ret = d->ops->block_status(d, off, len, kind, &got);
			if (ret)
				return ret;
			if (got == 0 || got > len)
				return -EIO; /* a driver bug: never loop on it */
		}
		/* Whole sectors: DATA may grow (reading more is always
		 * right), ZERO only shrinks (a partial sector is read). */
		if (*kind == DISK_STATUS_DATA)
			got = (got + DISK_SECTOR_SIZE - 1) / DISK_SECTOR_SIZE * DISK_SECTOR_SIZE;
		else if (got < DISK_SECTOR_SIZE)
			*kind = DISK_STATUS_DATA, got = DISK_SECTOR_SIZE;
		else
			got -= got % DISK_SECTOR_SIZE;
		if (got > len)
			got = len;
		if (got < *n)
			*n = got;
		if (*kind != DISK_STATUS_BACKING)
			return 0;
		d = d->backing;
		if (!d || off >= d->size || depth >= DISK_MAX_CHAIN) {
			*kind = DISK_STATUS_ZERO; /* nothing under it: zeros */
			return 0;
		}
		len = *n < d->size - off ? *n : d->size - off;
	}
}

int disk_event_fd(const struct disk *d)
{
	return ioe_event_fd(d->engine);
}

int disk_process(struct disk *d)
{
	return ioe_process(d->engine);
}

void disk_drain(struct disk *d)
{
	ioe_drain(d->engine);
}

struct sync_wait {
	bool done;
	int ret;
};

static void sync_done(struct disk_req *req, int ret)
{
	struct sync_wait *w = req->opaque;

	w->done = true;
	w->ret = ret;
}

static int sync_req(struct disk *d, struct disk_req *req)
{
	struct sync_wait w = { 0 };
	int ret;

	req->done = sync_done;
	req->opaque = &w;
	ret = disk_submit(d, req);
	if (ret)
		return ret;
	while (!w.done) {
		struct pollfd p = { .fd = disk_event_fd(d), .events = POLLIN };

		if (poll(&p, 1, -1) < 0 && errno != EINTR)
			return -errno;
		disk_process(d);
	}
	return w.ret;
}

int disk_pread(struct disk *d, void *buf, size_t len, uint64_t off)
{
	struct iovec iov = { .iov_base = buf, .iov_len = len };
	struct disk_req req = {
		.op = DISK_READ, .offset = off, .len = len, .iov = &iov, .iovcnt = 1
	};

	return sync_req(d, &req);
}

int disk_pwrite(struct disk *d, const void *buf, size_t len, uint64_t off)
{
	struct iovec iov = { .iov_base = (void *)buf, .iov_len = len };
	struct disk_req req = {
		.op = DISK_WRITE, .offset = off, .len = len, .iov = &iov, .iovcnt = 1
	};

	return sync_req(d, &req);
}

int disk_flush(struct disk *d)
{
	struct disk_req req = { .op = DISK_FLUSH };

	return sync_req(d, &req);
}
