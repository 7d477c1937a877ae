/* SPDX-License-Identifier: MIT */
/*
 * raw images: guest offset == file offset. Sparse files are fine: holes
 * read as zeros and the file system allocates on first write.
 *
 * DISCARD punches a hole (FALLOC_FL_PUNCH_HOLE | KEEP_SIZE) so the host
 * gets the space back. WRITE_ZEROES with `unmap` punches too (a hole reads
 * as zeros), otherwise it zeroes in place with FALLOC_FL_ZERO_RANGE, which
 * keeps the blocks allocated as the guest asked; where neither works the
 * engine writes zeros.
 */
#include <errno.h>
#include <fcntl.h>
#include <linux/fs.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/stat.h>
#include <unistd.h>

#include "devices/disk/disk_priv.h"
#include "base/err.h"
#include "base/log.h"

struct raw {
	int fd;
	uint32_t io_align; /* ioe_req.align: d->alignment with O_DIRECT, else 0 */
	bool cached;	   /* ioe_req.cached: fd is not O_DIRECT */
};

/* One guest request in flight. */
struct raw_io {
	struct ioe_req io;
	struct disk_req *req;
};

static void raw_io_done(struct ioe_req *io, int res)
{
	struct raw_io *rio = io->opaque;
	struct disk_req *req = rio->req;
	struct io_engine *e = req->priv;

	if (res == -EOPNOTSUPP && io->op == IOE_PUNCH_HOLE) {
		if (req->op == DISK_DISCARD) {
			/* Discard is a hint (virtio 1.2 5.2.6.2): nothing freed,
			 * nothing lost. */
			res = 0;
		} else {
			/* WRITE_ZEROES with unmap on a file system without
			 * holes: zero in place instead. */
			io->op = IOE_ZERO_RANGE;
			res = ioe_submit(e, io);
			if (res == 0)
				return;
		}
	}
	free(rio);
	req->done(req, res);
}

static int raw_submit(struct disk *d, struct disk_req *req)
{
	struct raw *raw = d->priv;
	struct raw_io *rio;
	int ret;

	rio = calloc(1, sizeof(*rio));
	if (!rio)
		return -ENOMEM;
	rio->req = req;
	req->priv = d->engine;
	rio->io = (struct ioe_req){
		.fd = raw->fd,
		.off = req->offset,
		.len = req->len,
		.done = raw_io_done,
		.opaque = rio,
	};
	switch (req->op) {
	case DISK_READ:
	case DISK_WRITE:
		rio->io.op = req->op == DISK_READ ? IOE_READ : IOE_WRITE;
		rio->io.iov = req->iov;
		rio->io.iovcnt = req->iovcnt;
		rio->io.align = raw->io_align;
		rio->io.cached = raw->cached;
		break;
	case DISK_FLUSH:
		rio->io.op = IOE_FDATASYNC;
		break;
	case DISK_DISCARD:
		rio->io.op = IOE_PUNCH_HOLE;
		break;
	case DISK_WRITE_ZEROES:
		rio->io.op = req->unmap ? IOE_PUNCH_HOLE : IOE_ZERO_RANGE;
		break;
	default:
		free(rio);
		return -EINVAL;
	}
	if (rio->io.op != IOE_FDATASYNC && req->len == 0)
		rio->io.op = IOE_NOP; /* fallocate refuses len 0 */
	ret = ioe_submit(d->engine, &rio->io);
	if (ret)
		free(rio);
	return ret;
}

static void raw_close(struct disk *d)
{
	struct raw *raw = d->priv;

	close(raw->fd);
	free(raw);
	d->priv = NULL;
}

/* Holes of a sparse file (SEEK_DATA/SEEK_HOLE); where the file system or
 * a block device cannot say, everything is data. */
static int raw_block_status(struct disk *d, uint64_t off, uint64_t len, enum disk_status *kind,
			    uint64_t *n)
{
	struct raw *raw = d->priv;
	off_t data = lseek(raw->fd, (off_t)off, SEEK_DATA), hole;

	if (data < 0 && errno == ENXIO) { /* no data from here to the end */
		*kind = DISK_STATUS_ZERO;
		*n = len;
		return 0;
	}
	*kind = DISK_STATUS_DATA;
	*n = len;
	if (data < 0)
		return 0;
	if ((uint64_t)data > off) { /* a hole first */
		*kind = DISK_STATUS_ZERO;
		*n = (uint64_t)data - off < len ? (uint64_t)data - off : len;
		return 0;
	}
	hole = lseek(raw->fd, (off_t)off, SEEK_HOLE);
	if (hole > (off_t)off && (uint64_t)hole - off < len)
		*n = (uint64_t)hole - off;
	return 0;
}

static const struct disk_ops raw_ops = {
	.submit = raw_submit,
	.block_status = raw_block_status,
	.close = raw_close,
};

static int raw_size(int fd, const char *path, uint64_t *size, char *err, size_t errlen)
{
	struct stat st;

	if (fstat(fd, &st) < 0)
		return err_set(err, errlen, -errno, "%s: %s", path, strerror(errno));
	if (S_ISBLK(st.st_mode)) {
		if (ioctl(fd, BLKGETSIZE64, size) < 0)
			return err_set(err, errlen, -errno, "%s: cannot get the device size: %s",
				       path, strerror(errno));
	} else {
		*size = (uint64_t)st.st_size;
	}
	if (*size % DISK_SECTOR_SIZE) {
		/* virtio-blk counts 512-byte sectors; the tail is not reachable. */
		log_warn("%s: size %llu is not a multiple of %u; the last %llu bytes are ignored",
			 path, (unsigned long long)*size, DISK_SECTOR_SIZE,
			 (unsigned long long)(*size % DISK_SECTOR_SIZE));
		*size -= *size % DISK_SECTOR_SIZE;
	}
	if (*size == 0)
		return err_set(err, errlen, -EINVAL, "%s: empty image (size is 0)", path);
	return 0;
}

static int raw_open(struct disk *d, int fd, const struct disk_open_opts *o, unsigned int depth,
		    char *err, size_t errlen)
{
	struct raw *raw;
	int ret;

	(void)depth; /* names no files */
	ret = raw_size(fd, d->path, &d->size, err, errlen);
	if (ret)
		goto err_close;
	raw = calloc(1, sizeof(*raw));
	if (!raw) {
		ret = err_set(err, errlen, -ENOMEM, "%s: out of memory", d->path);
		goto err_close;
	}
	raw->fd = fd;
	raw->io_align = o->direct ? d->alignment : 0;
	raw->cached = !o->direct;
	d->ops = &raw_ops;
	d->format = "raw";
	/* Both regular files (punch hole) and block devices (blkdev_fallocate:
	 * discard/zeroout) take fallocate; where one does not, discard still
	 * succeeds as a no-op (raw_io_done). */
	d->can_discard = !d->readonly;
	d->priv = raw;
	return 0;

err_close:
	close(fd);
	return ret;
}

/* A sparse file: no blocks until the guest writes. Refuses an existing file. */
static int raw_create(const char *path, const struct disk_create_opts *o, char *err, size_t errlen)
{
	static const char *const known[] = { "preallocation", NULL };
	char prealloc[16] = "off";
	int fd, ret;

	ret = disk_opts_check(o->options, "raw", known, err, errlen);
	if (ret)
		return ret;
	disk_opts_get(o->options, "preallocation", prealloc, sizeof(prealloc));
	if (strcmp(prealloc, "off") && strcmp(prealloc, "falloc"))
		return err_set(err, errlen, -EINVAL,
			       "%s: preallocation=%s: raw takes off or falloc", path, prealloc);
	if (o->backing_file)
		return err_set(err, errlen, -EINVAL, "%s: raw images have no backing file", path);
	fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0644);
	if (fd < 0)
		return err_set(err, errlen, -errno, "%s: %s", path, strerror(errno));
	ret = ftruncate(fd, (off_t)o->size) < 0 ? -errno : 0;
	if (!ret && !strcmp(prealloc, "falloc") && o->size)
		ret = -posix_fallocate(fd, 0, (off_t)o->size);
	close(fd);
	if (ret) {
		unlink(path);
		return err_set(err, errlen, ret, "%s: %s", path, strerror(-ret));
	}
	return 0;
}

const struct disk_format disk_format_raw = {
	.name = "raw",
	.probe = NULL, /* the fallback: anything is raw */
	.names_files = false,
	.open = raw_open,
	.create = raw_create,
};
