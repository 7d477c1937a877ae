/* SPDX-License-Identifier: MIT */
/* The image-format fuzz targets' shared driver (fuzz_disk.h). */
#include <stdbool.h>
#include <stdio.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "devices/disk/disk.h"
#include "base/log.h"
#include "fuzz_disk.h"

int LLVMFuzzerInitialize(int *argc, char ***argv);

/* For every target linking this file. */
int LLVMFuzzerInitialize(int *argc, char ***argv)
{
	(void)argc;
	(void)argv;
	log_set_level(LOG_ERROR); /* the warnings are expected here */
	return 0;
}

static void noop_done(struct disk_req *r, int ret)
{
	(void)r;
	(void)ret;
}

static void exercise(const char *path, const char *format, bool ro, uint64_t seed)
{
	struct disk_open_opts o = { .readonly = ro, .engine = DISK_ENGINE_SYNC, .format = format };
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
	if (!ro && d->size >= 8192) {
		struct disk_req z = { .op = DISK_WRITE_ZEROES, .len = 8192, .done = noop_done };
		uint64_t off = (seed % (d->size / 512)) * 512;

		if (off > d->size - 4096)
			off = d->size - 4096;
		memset(buf, 0x5a, 4096);
		(void)!disk_pwrite(d, buf, 4096, off);
		(void)!disk_pread(d, buf, 4096, off);
		z.offset = (seed >> 7) % (d->size / 512) * 512;
		if (z.offset > d->size - z.len)
			z.offset = d->size - z.len;
		if (disk_submit(d, &z) == 0)
			disk_drain(d);
		(void)!disk_flush(d);
	}
	disk_close(d);
}

void fuzz_disk_fd(int fd, uint64_t seed, const char *format)
{
	char path[64];

	snprintf(path, sizeof(path), "/proc/self/fd/%d", fd);
	exercise(path, format, true, seed);
	exercise(path, format, false, seed);
}

void fuzz_disk_image(const uint8_t *data, size_t size, const char *format)
{
	uint64_t seed = 0;
	int fd;

	for (size_t i = 0; i < 8 && i < size; i++)
		seed = seed << 8 | data[size - 1 - i];
	fd = memfd_create("fuzz-disk", MFD_CLOEXEC);
	if (fd < 0)
		return;
	if (write(fd, data, size) == (ssize_t)size)
		fuzz_disk_fd(fd, seed, format);
	close(fd);
}
