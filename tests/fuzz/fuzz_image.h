/* SPDX-License-Identifier: MIT */
/*
 * What the image-format fuzz targets (fuzz_qcow2, fuzz_qed, fuzz_vdi) do
 * with an input their parser accepted: put it in a memfd and open it
 * through disk_open as `format`, read-only and then read-write; read at a
 * few places (chosen by the input's last bytes), then write, write zeroes
 * and flush (allocations and table updates on hostile metadata). Anything
 * may fail; nothing may crash, hang or leak.
 */
#ifndef VMM_TESTS_FUZZ_IMAGE_H
#define VMM_TESTS_FUZZ_IMAGE_H

#include <stddef.h>
#include <stdint.h>

void fuzz_image_run(const uint8_t *data, size_t size, const char *format);
/* LLVMFuzzerInitialize's work: quiet the expected warnings. */
void fuzz_image_init(void);

#endif
