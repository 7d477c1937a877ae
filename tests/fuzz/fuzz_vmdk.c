/* SPDX-License-Identifier: MIT */
/*
 * libFuzzer target for the VMDK driver. The input is an image file: its
 * first bytes go through vmdk_probe(), vmdk_header_parse() and
 * vmdk_desc_parse() (the pure parsers); a sparse image (KDMV magic) is then
 * opened from a memfd and exercised read-only and read-write by
 * fuzz_disk.c (grains spread over the disk, compressed ones included, and
 * a write that allocates a grain on hostile tables). A descriptor file is
 * only parsed: the files it names are host paths, which a fuzzer must not
 * open. The stream writer (vmdk_stream.c, vmm-img convert) also opens the
 * image as an empty streamOptimized one to write grains into; what it
 * wrote is then opened again. Anything may fail; nothing may crash, hang
 * or leak.
 */
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <sys/mman.h>
#include <unistd.h>

#include "devices/disk/vmdk.h"
#include "fuzz_disk.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* Grains at the start, out of order, and at the end of the disk. */
static void fuzz_stream(const uint8_t *data, size_t size, const struct vmdk_header *h)
{
	static uint8_t grain[VMDK_MAX_GRAIN_SECTORS * 512];
	struct vmdk_stream *s;
	char path[64], err[256];
	uint64_t g, cap = h->capacity * 512;
	int fd = memfd_create("fuzz-stream", MFD_CLOEXEC);

	if (fd < 0)
		return;
	snprintf(path, sizeof(path), "/proc/self/fd/%d", fd);
	if (write(fd, data, size) != (ssize_t)size ||
	    vmdk_stream_open(path, &s, err, sizeof(err))) {
		close(fd);
		return;
	}
	g = vmdk_stream_grain(s);
	for (size_t i = 0; i < sizeof(grain); i++)
		grain[i] = (uint8_t)(i * 7 + (i >> 9));
	(void)!vmdk_stream_write(s, 0, grain, g < cap ? g : cap);
	(void)!vmdk_stream_write(s, 0, grain, g < cap ? g : cap);
	if (cap > g)
		(void)!vmdk_stream_write(s, (cap - 1) / g * g, grain, cap - (cap - 1) / g * g);
	if (vmdk_stream_close(s, true, err, sizeof(err)) == 0)
		fuzz_disk_fd(fd, 0, "vmdk");
	close(fd);
}

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
	fuzz_stream(data, size, &h);
	return 0;
}
