/* SPDX-License-Identifier: MIT */
/*
 * libFuzzer target for the VDI driver: the input is an image file. Its
 * header and block map go through the pure parsers (vdi_header_parse,
 * vdi_bmap_check); what they accept goes through fuzz_disk_image
 * (fuzz_disk.c): opened read-only and read-write, read, written (an
 * allocation on a hostile map) and flushed.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "devices/disk/vdi.h"
#include "fuzz_disk.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct vdi_header h;
	uint32_t *bmap, alloc, next;
	uint64_t bytes;
	char err[256];
	int ret;

	if (vdi_header_parse(data, size, size, &h, err, sizeof(err)) != 0)
		return 0; /* disk_open would refuse it the same way */
	/* the parser guarantees the map lies inside the input */
	bytes = (uint64_t)h.blocks_in_image * 4;
	bmap = malloc(bytes ? bytes : 4);
	if (!bmap)
		return 0;
	memcpy(bmap, data + h.offset_bmap, bytes);
	ret = vdi_bmap_check(bmap, &h, size, &alloc, &next, err, sizeof(err));
	free(bmap);
	if (ret == 0)
		fuzz_disk_image(data, size, "vdi");
	return 0;
}
