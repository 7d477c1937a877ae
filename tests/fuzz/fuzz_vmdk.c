/* SPDX-License-Identifier: MIT */
/*
 * libFuzzer target for the VMDK driver. The input is an image file: its
 * first bytes go through vmdk_probe(), vmdk_header_parse() and
 * vmdk_desc_parse() (the pure parsers); a sparse image (KDMV magic) is then
 * opened from a memfd and exercised read-only and read-write by
 * fuzz_disk.c (grains spread over the disk, compressed ones included, and
 * a write that allocates a grain on hostile tables). A descriptor file is
 * only parsed: the files it names are host paths, which a fuzzer must not
 * open. Anything may fail; nothing may crash, hang or leak.
 */
#include <stddef.h>
#include <stdint.h>

#include "devices/disk/vmdk.h"
#include "fuzz_disk.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct vmdk_header h;
	struct vmdk_desc desc;
	char err[256];

	if (vmdk_desc_parse((const char *)data, size, &desc, err, sizeof(err)) == 0)
		vmdk_desc_free(&desc);
	if (!vmdk_probe(data, size < 4096 ? size : 4096) ||
	    vmdk_header_parse(data, size, size, &h, err, sizeof(err)) != 0)
		return 0; /* not a sparse extent: nothing more to open safely */
	fuzz_disk_image(data, size, "vmdk");
	return 0;
}
