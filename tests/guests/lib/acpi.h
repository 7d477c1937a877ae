/* SPDX-License-Identifier: MIT */
/*
 * Finding ACPI tables the way an OS does (ACPI 6.4 section 5.2): scan the
 * BIOS area 0xe0000..0xfffff on 16-byte boundaries for the RSDP signature,
 * check its checksums, follow the XSDT (or the RSDT for revision 0) and
 * look tables up by signature, checking each table's checksum. These are
 * checks of the VMM's firmware tables as much as helpers for the guests.
 */
#ifndef GUEST_ACPI_H
#define GUEST_ACPI_H

#include <stdint.h>

/* The common header of every system description table (ACPI 6.4, 5.2.6). */
struct acpi_sdt_header {
	char signature[4];
	uint32_t length;
	uint8_t revision;
	uint8_t checksum;
	char oem_id[6];
	char oem_table_id[8];
	uint32_t oem_revision;
	uint32_t creator_id;
	uint32_t creator_revision;
} __attribute__((packed));

/* Generic Address Structure (ACPI 6.4, 5.2.3.2). */
struct acpi_gas {
	uint8_t space_id; /* 0 system memory, 1 system I/O */
	uint8_t bit_width;
	uint8_t bit_offset;
	uint8_t access_size;
	uint64_t address;
} __attribute__((packed));

#define ACPI_GAS_MEMORY 0
#define ACPI_GAS_IO	1

/* Sum of `len` bytes at `p`, mod 256: 0 for a valid table. */
uint8_t acpi_sum(const void *p, uint32_t len);

/*
 * Find and check the RSDP and the XSDT/RSDT. Returns 0 (root table in
 * *root, 8- or 4-byte entries in *entry_size) or a GS_* status after
 * printing what is wrong.
 */
int acpi_find_root(const struct acpi_sdt_header **root, unsigned int *entry_size);

/*
 * Find the table with signature `sig` ("APIC", "FACP"...) through the root
 * table and check its checksum. Returns 0 with *table set, or a GS_* status
 * (GS_NO_TABLE, GS_BAD_TABLE, or whatever acpi_find_root failed with).
 */
int acpi_find_table(const char *sig, const struct acpi_sdt_header **table);

#endif /* GUEST_ACPI_H */
