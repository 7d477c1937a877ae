/* SPDX-License-Identifier: MIT */
/* Whether a buffer holds only zero bytes (a copy that keeps its output
 * sparse skips those). */
#ifndef BASE_ZERO_H
#define BASE_ZERO_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

static inline bool buf_is_zero(const void *buf, size_t len)
{
	const uint8_t *p = buf;
	uint64_t w;

	/* Eight bytes at a time (memcpy: no alignment assumed). */
	for (; len >= 8; p += 8, len -= 8) {
		memcpy(&w, p, 8);
		if (w)
			return false;
	}
	for (; len; p++, len--)
		if (*p)
			return false;
	return true;
}

#endif /* BASE_ZERO_H */
