/* SPDX-License-Identifier: MIT */
/*
 * libFuzzer target for the VHDX driver. A VHDX file is megabytes of mostly
 * zeros, so the input is a squashed image: its 4 KiB chunks are the file's
 * 4 KiB pages at the places qemu-img (and vmm-img) put the structures --
 * file identifier, both headers, both region tables (first page; the rest
 * of each 64 KiB table is zeros), the log's first three pages, the BAT's
 * first page, the metadata table and items, one payload page -- and the
 * file is that big and otherwise zero (a sparse memfd). Each structure
 * also goes through its pure parser directly. Seeds: qemu-img images
 * squashed by tests/fuzz/squash_vhdx.py.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "devices/disk/vhdx.h"
#include "base/log.h"
#include "fuzz_disk.h"

#define MiB (1ULL << 20)

/* Where input chunk i goes in the file (squash_vhdx.py has the same list). */
static const uint64_t page_at[] = {
	0,	   64 << 10, 128 << 10,	      192 << 10,
	256 << 10, 1 * MiB,  1 * MiB + 4096,  1 * MiB + 8192,
	2 * MiB,   3 * MiB,  3 * MiB + 65536, 4 * MiB,
};
#define NPAGES	  (sizeof(page_at) / sizeof(page_at[0]))
#define FILE_SIZE (5 * MiB)

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static int apply_nothing(void *opaque, uint64_t off, const uint8_t *d, uint64_t n)
{
	(void)opaque;
	(void)off;
	(void)d;
	(void)n;
	return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static uint8_t region[VHDX_REGION_LEN], meta[65536 + 4096];
	uint8_t page[NPAGES][4096];
	struct vhdx_header h;
	struct vhdx_regions rg;
	struct vhdx_meta m;
	struct vhdx_log_seq seq;
	uint64_t seed = 0;
	int fd;

	memset(page, 0, sizeof(page));
	for (size_t i = 0; i < NPAGES && i * 4096 < size; i++)
		memcpy(page[i], data + i * 4096, size - i * 4096 < 4096 ? size - i * 4096 : 4096);
	for (size_t i = 0; i < 8 && i < size; i++)
		seed = seed << 8 | data[size - 1 - i];

	(void)!vhdx_header_parse(page[1], &h);
	if (vhdx_header_parse(page[2], &h) == 0)
		vhdx_log_find(page[5], 3 * 4096, h.log_guid, &seq);
	else
		vhdx_log_find(page[5], 3 * 4096, page[1] + 48, &seq);
	if (seq.valid)
		(void)!vhdx_log_replay(page[5], 3 * 4096, &seq, apply_nothing, NULL);
	memcpy(region, page[3], 4096);
	(void)!vhdx_regions_parse(region, FILE_SIZE, &rg, NULL, 0);
	memcpy(meta, page[9], 4096);
	memcpy(meta + 65536, page[10], 4096);
	(void)!vhdx_meta_parse(meta, sizeof(meta), &m, NULL, 0);

	fd = memfd_create("fuzz-vhdx", MFD_CLOEXEC);
	if (fd < 0)
		return 0;
	if (ftruncate(fd, FILE_SIZE) == 0) {
		for (size_t i = 0; i < NPAGES; i++)
			if (pwrite(fd, page[i], 4096, (off_t)page_at[i]) != 4096)
				goto out;
		fuzz_disk_fd(fd, seed, "vhdx");
	}
out:
	close(fd);
	return 0;
}
