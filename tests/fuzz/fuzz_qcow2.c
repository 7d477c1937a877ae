/* SPDX-License-Identifier: MIT */
/*
 * libFuzzer target for the qcow2 driver: the input is an image file. It goes
 * through qcow2_header_parse(), then through fuzz_image_run (fuzz_image.h):
 * disk_open() read-only and read-write, where a write and a write-zeroes
 * exercise allocation, L2 and refcount updates on hostile metadata. Anything may fail; nothing may
 * crash, hang or leak.
 */
#include <stdint.h>

#include "devices/disk/qcow2.h"
#include "tests/fuzz/fuzz_image.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerInitialize(int *argc, char ***argv);

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
	(void)argc;
	(void)argv;
	fuzz_image_init();
	return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct qcow2_header h;
	char err[256];

	if (qcow2_header_parse(data, size, size, &h, err, sizeof(err)) == 0)
		fuzz_image_run(data, size, NULL); /* (disk_open refuses the rest the same way) */
	return 0;
}
