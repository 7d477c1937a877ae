// SPDX-License-Identifier: MIT
#include "acpi.h"
#include "guest.h"

#define RSDP_SCAN_START 0xe0000ULL
#define RSDP_SCAN_END	0x100000ULL
#define RSDP_V1_LEN	20 /* the part covered by the first checksum */
#define RSDP_V2_LEN	36

/* A table must at least hold its header and stay inside the 4 GiB identity map. */
#define ACPI_TABLE_MAX (1U << 20)

uint8_t acpi_sum(const void *p, uint32_t len)
{
	const uint8_t *b = p;
	uint8_t s = 0;

	while (len--)
		s = (uint8_t)(s + *b++);
	return s;
}

static const uint8_t *rsdp_scan(void)
{
	uint64_t pa;

	for (pa = RSDP_SCAN_START; pa < RSDP_SCAN_END; pa += 16)
		if (!memcmp(phys(pa), "RSD PTR ", 8))
			return phys(pa);
	return NULL;
}

/* Check a table's address, length and checksum before anyone reads it. */
static int sdt_check(uint64_t pa, const char *what, const struct acpi_sdt_header **out)
{
	const struct acpi_sdt_header *h;

	if (!pa || pa >= (1ULL << 32) - ACPI_TABLE_MAX) {
		printf("acpi: %s at 0x%lx is outside the identity map\n", what, pa);
		return GS_BAD_TABLE;
	}
	h = phys(pa);
	if (h->length < sizeof(*h) || h->length > ACPI_TABLE_MAX) {
		printf("acpi: %s at 0x%lx has bad length %u\n", what, pa, h->length);
		return GS_BAD_TABLE;
	}
	if (acpi_sum(h, h->length)) {
		printf("acpi: %s at 0x%lx has a bad checksum\n", what, pa);
		return GS_BAD_TABLE;
	}
	*out = h;
	return 0;
}

int acpi_find_root(const struct acpi_sdt_header **root, unsigned int *entry_size)
{
	const uint8_t *rsdp = rsdp_scan();
	uint8_t rev;
	int err;

	if (!rsdp) {
		con_puts("acpi: no RSDP in 0xe0000..0xfffff\n");
		return GS_NO_RSDP;
	}
	if (acpi_sum(rsdp, RSDP_V1_LEN)) {
		printf("acpi: RSDP at %p: bad checksum\n", (const void *)rsdp);
		return GS_BAD_RSDP;
	}
	rev = rsdp[15];
	if (rev >= 2) {
		uint32_t len = *(const uint32_t *)(rsdp + 20);

		if (len < RSDP_V2_LEN || len > 4096 || acpi_sum(rsdp, len)) {
			printf("acpi: RSDP at %p: bad extended checksum or length %u\n",
			       (const void *)rsdp, len);
			return GS_BAD_RSDP;
		}
		err = sdt_check(*(const uint64_t *)(rsdp + 24), "XSDT", root);
		if (err)
			return GS_BAD_XSDT;
		if (memcmp((*root)->signature, "XSDT", 4)) {
			con_puts("acpi: XSDT pointer does not point at an XSDT\n");
			return GS_BAD_XSDT;
		}
		*entry_size = 8;
	} else {
		err = sdt_check(*(const uint32_t *)(rsdp + 16), "RSDT", root);
		if (err)
			return GS_BAD_XSDT;
		if (memcmp((*root)->signature, "RSDT", 4)) {
			con_puts("acpi: RSDT pointer does not point at an RSDT\n");
			return GS_BAD_XSDT;
		}
		*entry_size = 4;
	}
	return 0;
}

int acpi_find_table(const char *sig, const struct acpi_sdt_header **table)
{
	const struct acpi_sdt_header *root;
	unsigned int esz, n, i;
	int err;

	err = acpi_find_root(&root, &esz);
	if (err)
		return err;
	n = (root->length - (uint32_t)sizeof(*root)) / esz;
	for (i = 0; i < n; i++) {
		const uint8_t *e = (const uint8_t *)(root + 1) + i * esz;
		uint64_t pa = esz == 8 ? *(const uint64_t *)e : *(const uint32_t *)e;
		const struct acpi_sdt_header *h;

		if (!pa || pa >= (1ULL << 32) - ACPI_TABLE_MAX)
			continue;
		h = phys(pa);
		if (memcmp(h->signature, sig, 4))
			continue;
		err = sdt_check(pa, sig, table);
		return err ? GS_BAD_TABLE : 0;
	}
	printf("acpi: no %s table\n", sig);
	return GS_NO_TABLE;
}
