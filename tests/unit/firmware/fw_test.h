/* SPDX-License-Identifier: MIT */
/*
 * Helpers shared by the firmware unit tests: a fake guest (malloc'd RAM at
 * guest-physical 0) and little-endian readers for the tables written there.
 */
#ifndef TESTS_UNIT_FIRMWARE_FW_TEST_H
#define TESTS_UNIT_FIRMWARE_FW_TEST_H

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "base/guest_mem.h"

/* Enough for the BIOS area and a page above 1 MiB. */
#define FW_TEST_RAM_SIZE (2ULL << 20)
#define FW_TEST_FILL	 0xa5

struct fw_fake_guest {
	struct guest_mem gm;
	uint8_t *ram;
	size_t size;
};

/* RAM at 0, filled with FW_TEST_FILL so that stray writes show up.
 * Returns 0 or -1. */
static inline int fw_fake_guest_init(struct fw_fake_guest *g, size_t size)
{
	memset(g, 0, sizeof(*g));
	g->ram = malloc(size);
	if (!g->ram)
		return -1;
	memset(g->ram, FW_TEST_FILL, size);
	g->size = size;
	if (gm_add_region(&g->gm, 0, size, g->ram) < 0) {
		free(g->ram);
		return -1;
	}
	return 0;
}

static inline void fw_fake_guest_destroy(struct fw_fake_guest *g)
{
	gm_destroy(&g->gm); /* caller-owned region: not unmapped */
	free(g->ram);
	memset(g, 0, sizeof(*g));
}

/* True if every byte of [from, to) still holds the fill pattern. */
static inline int fw_untouched(const struct fw_fake_guest *g, uint64_t from, uint64_t to)
{
	uint64_t i;

	for (i = from; i < to; i++)
		if (g->ram[i] != FW_TEST_FILL)
			return 0;
	return 1;
}

static inline uint8_t fw_sum8(const void *p, size_t len)
{
	const uint8_t *b = p;
	uint8_t s = 0;

	while (len--)
		s = (uint8_t)(s + *b++);
	return s;
}

static inline uint16_t fw_le16(const uint8_t *p)
{
	return (uint16_t)(p[0] | p[1] << 8);
}

static inline uint32_t fw_le32(const uint8_t *p)
{
	return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
}

static inline uint64_t fw_le64(const uint8_t *p)
{
	return (uint64_t)fw_le32(p) | (uint64_t)fw_le32(p + 4) << 32;
}

/* Number of non-overlapping occurrences of `needle` in `hay`. */
static inline unsigned int fw_count(const uint8_t *hay, size_t len, const void *needle, size_t n)
{
	unsigned int count = 0;
	const uint8_t *p = hay, *end = hay + len;

	while ((size_t)(end - p) >= n) {
		const uint8_t *q = memmem(p, (size_t)(end - p), needle, n);

		if (!q)
			break;
		count++;
		p = q + n;
	}
	return count;
}

#endif /* TESTS_UNIT_FIRMWARE_FW_TEST_H */
