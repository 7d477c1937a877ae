/* SPDX-License-Identifier: MIT */
#include "base/eventfd.h"

#include <errno.h>
#include <stdint.h>
#include <unistd.h>

/* An eventfd moves 8 bytes or fails: there are no short reads or writes. */

int eventfd_signal(int fd)
{
	uint64_t one = 1;
	int saved = errno, ret = 0;

	if (write(fd, &one, sizeof(one)) < 0 && errno != EAGAIN)
		ret = -errno;
	errno = saved;
	return ret;
}

int eventfd_drain(int fd)
{
	uint64_t cnt;

	if (read(fd, &cnt, sizeof(cnt)) < 0)
		return -errno;
	return 0;
}
