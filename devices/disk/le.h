/* SPDX-License-Identifier: MIT */
/*
 * Little-endian fields of image headers and tables (VDI, QED), read from
 * and written to byte buffers of any alignment.
 */
#ifndef VMM_DEVICES_DISK_LE_H
#define VMM_DEVICES_DISK_LE_H

#include <endian.h>
#include <stdint.h>
#include <string.h>

static inline uint32_t le32_get(const uint8_t *p)
{
	uint32_t v;

	memcpy(&v, p, 4);
	return le32toh(v);
}

static inline uint64_t le64_get(const uint8_t *p)
{
	uint64_t v;

	memcpy(&v, p, 8);
	return le64toh(v);
}

static inline void le32_put(uint8_t *p, uint32_t v)
{
	v = htole32(v);
	memcpy(p, &v, 4);
}

static inline void le64_put(uint8_t *p, uint64_t v)
{
	v = htole64(v);
	memcpy(p, &v, 8);
}

#endif /* VMM_DEVICES_DISK_LE_H */
