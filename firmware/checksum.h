/* SPDX-License-Identifier: MIT */
/*
 * The 8-bit checksum of firmware tables: the byte that makes all bytes of a
 * structure sum to zero (mod 256). ACPI tables (ACPI 6.4, 5.2.6), the RSDP
 * (5.2.5.3), AML resource templates (6.4.2.9) and the MP floating pointer
 * and configuration table (MP spec 1.4, 4.1 and 4.2) all use it.
 */
#ifndef FIRMWARE_CHECKSUM_H
#define FIRMWARE_CHECKSUM_H

#include <stddef.h>
#include <stdint.h>

/* The value to store in a checksum field that is zero while summing. */
static inline uint8_t fw_checksum8(const void *p, size_t len)
{
	const uint8_t *b = p;
	uint8_t sum = 0;

	while (len--)
		sum = (uint8_t)(sum + *b++);
	return (uint8_t)-sum;
}

#endif /* FIRMWARE_CHECKSUM_H */
