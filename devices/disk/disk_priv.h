/* SPDX-License-Identifier: MIT */
/*
 * Between disk.c (opening, probing, the public API) and the format drivers
 * (raw.c, qcow2*.c). Not for devices or tools.
 */
#ifndef VMM_DEVICES_DISK_PRIV_H
#define VMM_DEVICES_DISK_PRIV_H

#include <stddef.h>
#include <unistd.h>

#include "base/err.h"
#include "devices/disk/disk.h"
#include "devices/disk/format.h"
#include "devices/disk/io_engine.h"

/* Backing chains longer than this are refused (and loops with them). */
#define DISK_MAX_CHAIN 16

/*
 * Open `path` as a backing file: read-only, format `format` (NULL: probe),
 * sharing `engine`. Used by format drivers for the files their images name
 * (format.h: a file without a recorded format is probed only as raw or as a
 * format that names no files).
 */
int disk_open_backing(const char *path, const char *format, struct io_engine *engine,
		      unsigned int depth, struct disk **out, char *err, size_t errlen)
	__attribute__((warn_unused_result));

/* Range check shared by all formats: offset+len inside [0, size) without
 * overflow, sector aligned. 0 or -EINVAL. */
int disk_check_range(const struct disk *d, uint64_t offset, uint64_t len)
	__attribute__((warn_unused_result));

/* Full pread/pwrite for metadata (retrying short transfers and EINTR); a
 * read past the end of the file fills zeros. 0 or -errno. */
int disk_file_pread(int fd, void *buf, size_t len, uint64_t off)
	__attribute__((warn_unused_result));
int disk_file_pwrite(int fd, const void *buf, size_t len, uint64_t off)
	__attribute__((warn_unused_result));

/* A second descriptor of the file open as fd -- the same file, whatever
 * happened to its name since -- with other flags (O_DIRECT or not; a
 * driver keeps a buffered one for metadata beside an O_DIRECT one for guest
 * data). open(2)'s convention: the fd, or -1 with errno. */
int disk_reopen_fd(int fd, int flags);

/* An ordering barrier inside a driver (what new metadata points to is
 * stable before the metadata is written): fdatasync(fd), or nothing for an
 * unsafe disk (disk_open_opts.unsafe). fdatasync's return convention. */
static inline int disk_barrier(const struct disk *d, int fd)
{
	return d->unsafe ? 0 : fdatasync(fd);
}

#endif /* VMM_DEVICES_DISK_PRIV_H */
