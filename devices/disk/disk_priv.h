/* SPDX-License-Identifier: MIT */
/*
 * Between disk.c (opening, probing, the public API) and the format drivers
 * (raw.c, qcow2*.c). Not for devices or tools.
 */
#ifndef VMM_DEVICES_DISK_PRIV_H
#define VMM_DEVICES_DISK_PRIV_H

#include <stddef.h>

#include "base/err.h"
#include "devices/disk/disk.h"
#include "devices/disk/io_engine.h"

/* Backing chains longer than this are refused (and loops with them). */
#define DISK_MAX_CHAIN 16

/*
 * Format drivers. `d` has path, readonly, engine and alignment filled in;
 * the driver sets ops, format, size, can_discard, priv (and backing). `fd`
 * belongs to the driver from then on (it closes it in ops->close, or on
 * failure). `depth` is this image's place in a backing chain (0 = top).
 */
int raw_open(struct disk *d, int fd, const struct disk_open_opts *o, char *err, size_t errlen)
	__attribute__((warn_unused_result));
int qcow2_open(struct disk *d, int fd, const struct disk_open_opts *o, unsigned int depth,
	       char *err, size_t errlen) __attribute__((warn_unused_result));

/*
 * Open `path` as a backing file: read-only, format `format` (NULL: probe),
 * sharing `engine`. Used by qcow2_open for its backing file.
 */
int disk_open_backing(const char *path, const char *format, struct io_engine *engine,
		      unsigned int depth, struct disk **out, char *err, size_t errlen)
	__attribute__((warn_unused_result));

/* Range check shared by all formats: offset+len inside [0, size) without
 * overflow, sector aligned. 0 or -EINVAL. */
int disk_check_range(const struct disk *d, uint64_t offset, uint64_t len)
	__attribute__((warn_unused_result));

#endif /* VMM_DEVICES_DISK_PRIV_H */
