/* SPDX-License-Identifier: MIT */
/*
 * libFuzzer target for the QED driver: the input is an image file. Its
 * header goes through the pure parser (qed_header_parse); what it accepts
 * is opened (in a memfd) read-only and read-write through disk_open -- a
 * writable open of a dirty image runs the check and repair -- read at a
 * few places, written once (an allocation on hostile tables) and flushed.
 * A backing file named inside is not opened (the memfd's directory is
 * /proc/self/fd: the name does not resolve to a file we made). Nothing may
 * crash, hang, leak or touch bytes outside the file.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "devices/disk/disk.h"
#include "devices/disk/qed.h"
#include "base/log.h"

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
	struct disk_open_opts o = { .readonly = ro, .engine = DISK_ENGINE_SYNC, .format = "qed" };
	static uint8_t buf[8192];
	struct disk *d;
	char err[256];

	if (disk_open(path, &o, &d, err, sizeof(err)))
		return;
	for (unsigned int i = 0; i < 4 && d->size >= sizeof(buf); i++) {
		uint64_t off = ((seed >> (i * 8)) % 256) * (d->size / 256) & ~(uint64_t)511;

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
	struct qed_header h;
	uint64_t seed = 0;
	char err[256], path[64];
	int fd;

	if (qed_header_parse(data, size, size, &h, err, sizeof(err)) != 0)
		return 0; /* disk_open would refuse it the same way */
	for (size_t i = 0; i < 8 && i < size; i++)
		seed = seed << 8 | data[size - 1 - i];
	fd = memfd_create("fuzz-qed", MFD_CLOEXEC);
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
