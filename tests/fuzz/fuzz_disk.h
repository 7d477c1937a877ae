/* SPDX-License-Identifier: MIT */
/*
 * What the image-format fuzz targets share: put an image in a memfd and
 * drive it through disk_open() as `format`, read-only and read-write.
 */
#ifndef VMM_TESTS_FUZZ_DISK_H
#define VMM_TESTS_FUZZ_DISK_H

#include <stddef.h>
#include <stdint.h>

/* The file's bytes are `data`; reads land where the last 8 bytes say. */
void fuzz_disk_image(const uint8_t *data, size_t size, const char *format);
/* The same, for a file already in fd (size bytes). */
void fuzz_disk_fd(int fd, uint64_t seed, const char *format);

#endif /* VMM_TESTS_FUZZ_DISK_H */
