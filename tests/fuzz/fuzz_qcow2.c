/* SPDX-License-Identifier: MIT */
/*
 * libFuzzer target for the qcow2 driver: the input is an image file. It goes
 * through qcow2_header_parse(), then (in a memfd, fuzz_disk.c) through
 * disk_open() read-only -- reading a few clusters spread over the disk --
 * and read-write, where one write and one write-zeroes exercise allocation,
 * L2 and refcount updates on hostile metadata. Anything may fail; nothing
 * may crash, hang or leak.
 */
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "devices/disk/disk.h"
#include "devices/disk/qcow2.h"
#include "base/log.h"
#include "fuzz_disk.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct qcow2_header h;
	char err[256];

	if (qcow2_header_parse(data, size, size, &h, err, sizeof(err)) != 0)
		return 0;		   /* disk_open would refuse it the same way */
	fuzz_disk_image(data, size, NULL); /* probed, as a user's image */
	return 0;
}
