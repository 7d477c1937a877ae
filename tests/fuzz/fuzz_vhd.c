/* SPDX-License-Identifier: MIT */
/*
 * libFuzzer target for the VHD driver: the input is an image file. Its
 * first and last 512 bytes go through vhd_footer_parse(), the 1024 bytes
 * the footer points to through vhd_dyn_parse(), a locator's bytes through
 * vhd_locator_path(); then (in a memfd) the file through disk_open() as
 * vpc, read-only (reads spread over the disk) and read-write (a write, a
 * write-zeroes, a flush: allocation on hostile BATs). Anything may fail;
 * nothing may crash, hang or leak.
 */
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "devices/disk/disk.h"
#include "devices/disk/vhd.h"
#include "base/log.h"
#include "fuzz_disk.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct vhd_footer f;
	struct vhd_dyn h;
	char out[256];

	if (size < VHD_FOOTER_LEN)
		return 0;
	(void)!vhd_footer_parse(data + size - VHD_FOOTER_LEN, &f, NULL, 0);
	if (vhd_footer_parse(data, &f, NULL, 0) == 0 && f.data_offset < size &&
	    size - f.data_offset >= VHD_DYN_LEN &&
	    vhd_dyn_parse(data + f.data_offset, size, f.size, &h, NULL, 0) == 0) {
		(void)!vhd_utf16_to_utf8(h.parent_name, sizeof(h.parent_name), true, out,
					 sizeof(out));
		for (int i = 0; i < 8; i++)
			if (h.loc[i].offset < size && h.loc[i].len <= size - h.loc[i].offset)
				(void)!vhd_locator_path(h.loc[i].code, data + h.loc[i].offset,
							h.loc[i].len, out, sizeof(out));
	}
	fuzz_disk_image(data, size, "vpc");
	return 0;
}
