/* SPDX-License-Identifier: MIT */
/*
 * libFuzzer target for the VMDK driver. The input is an image file: its
 * first bytes go through vmdk_probe(), vmdk_header_parse() and
 * vmdk_desc_parse() (the pure parsers); a sparse image (KDMV magic) is then
 * opened from a memfd read-only -- reading grains spread over the disk,
 * compressed ones included -- and read-write, where a write allocates a
 * grain on hostile tables. A descriptor file is only parsed: the files it
 * names are host paths, which a fuzzer must not open. Anything may fail;
 * nothing may crash, hang or leak.
 */
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "base/log.h"
#include "devices/disk/disk.h"
#include "devices/disk/vmdk.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerInitialize(int *argc, char ***argv);

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
	(void)argc;
	(void)argv;
	log_set_level(LOG_ERROR); /* the warnings are expected here */
	return 0;
}

static void exercise(const char *path, bool ro, uint64_t seed)
{
	struct disk_open_opts o = { .readonly = ro, .format = "vmdk", .engine = DISK_ENGINE_SYNC };
	static uint8_t buf[65536];
	struct disk *d;
	char err[256];

	if (disk_open(path, &o, &d, err, sizeof(err)))
		return;
	for (unsigned int i = 0; i < 4 && d->size >= sizeof(buf); i++) {
		uint64_t off = ((seed >> (i * 8)) * (d->size / 256)) & ~(uint64_t)511;

		if (off > d->size - sizeof(buf))
			off = d->size - sizeof(buf);
		(void)!disk_pread(d, buf, sizeof(buf), off);
	}
	if (!ro && d->size >= 4096) {
		uint64_t off = (seed % (d->size / 512)) * 512;

		if (off > d->size - 4096)
			off = d->size - 4096;
		memset(buf, 0x5a, 4096);
		(void)!disk_pwrite(d, buf, 4096, off);
		(void)!disk_pread(d, buf, 4096, off);
		(void)!disk_flush(d);
	}
	disk_close(d);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct vmdk_header h;
	struct vmdk_desc desc;
	uint64_t seed = 0;
	char err[256], path[64];
	int fd;

	if (vmdk_desc_parse((const char *)data, size, &desc, err, sizeof(err)) == 0)
		vmdk_desc_free(&desc);
	if (!vmdk_probe(data, size < 4096 ? size : 4096) ||
	    vmdk_header_parse(data, size, size, &h, err, sizeof(err)) != 0)
		return 0; /* not a sparse extent: nothing more to open safely */
	for (size_t i = 0; i < 8 && i < size; i++)
		seed = seed << 8 | data[size - 1 - i];
	fd = memfd_create("fuzz-vmdk", MFD_CLOEXEC);
	if (fd < 0)
		return 0;
	if (write(fd, data, size) == (ssize_t)size) {
		snprintf(path, sizeof(path), "/proc/self/fd/%d", fd);
		exercise(path, true, seed);
		exercise(path, false, seed);
	}
	close(fd);
	return 0;
}
