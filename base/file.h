/* SPDX-License-Identifier: MIT */
/*
 * Files named by the user or inside an image are opened with O_NONBLOCK
 * until their type is known: open(2) of a FIFO blocks until a writer comes
 * (and restarts after SIGTERM), so `--disk fifo` would hang instead of
 * being refused. Once the fd is known to be a regular file or a block
 * device, file_set_blocking() takes the flag off again.
 */
#ifndef BASE_FILE_H
#define BASE_FILE_H

#include <errno.h>
#include <fcntl.h>

/* 0 or -errno. */
static inline int file_set_blocking(int fd)
{
	int fl = fcntl(fd, F_GETFL);

	if (fl < 0 || fcntl(fd, F_SETFL, fl & ~O_NONBLOCK) < 0)
		return -errno;
	return 0;
}

#endif /* BASE_FILE_H */
