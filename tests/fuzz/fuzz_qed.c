/* SPDX-License-Identifier: MIT */
/*
 * libFuzzer target for the QED driver: the input is an image file. Its
 * header goes through the pure parser (qed_header_parse); what it accepts
 * goes through fuzz_disk_image (fuzz_disk.c): opened read-only and
 * read-write -- a writable open of a dirty image runs the check and
 * repair -- read, written (an allocation on hostile tables) and flushed.
 * A backing file named inside is resolved against /proc/self/fd (the
 * memfd's directory), so it names nothing the target made.
 */
#include <stdint.h>

#include "devices/disk/qed.h"
#include "fuzz_disk.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct qed_header h;
	char err[256];

	if (qed_header_parse(data, size, size, &h, err, sizeof(err)) == 0)
		fuzz_disk_image(data, size, "qed");
	return 0;
}
