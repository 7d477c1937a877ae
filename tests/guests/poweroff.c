// SPDX-License-Identifier: MIT
/*
 * poweroff: enters ACPI S5 the way Linux does on a hardware-reduced
 * platform (drivers/acpi/acpica/hwxfsleep.c, hwesleep.c): find the FADT
 * through RSDP/XSDT, require the HW_REDUCED_ACPI flag, and write
 * SLP_TYP=5 | SLP_EN to the SLEEP_CONTROL_REG. The vmm must then exit with
 * status 0; if we are still running a moment later, that is a failure.
 * Also checks what Linux needs before it will try: a SLEEP_STATUS_REG and a
 * DSDT with a \_S5 object.
 */
#include "lib/acpi.h"
#include "lib/guest.h"

/* FADT fields (ACPI 6.4, table 5.9) */
#define FADT_DSDT	       40
#define FADT_FLAGS	       112
#define FADT_RESET_REG	       116
#define FADT_X_DSDT	       140
#define FADT_SLEEP_CONTROL_REG 244
#define FADT_SLEEP_STATUS_REG  256
#define FADT_MIN_LEN	       268 /* up to and including SLEEP_STATUS_REG (ACPI 5.0) */
#define FADT_HW_REDUCED_ACPI   (1U << 20)

/* Sleep control register (ACPI 6.4, 4.8.3.7): SLP_TYP bits 2..4, SLP_EN bit 5. */
#define SLP_TYP_S5 5
#define SLP_EN	   0x20

int guest_main(uint64_t zero_page);

static void print_gas(const char *name, const struct acpi_gas *g)
{
	printf("poweroff: %s: space %u width %u offset %u access %u address 0x%lx\n", name,
	       g->space_id, g->bit_width, g->bit_offset, g->access_size, g->address);
}

/* The DSDT must contain the name _S5_ (a Name(_S5, Package...)). */
static int check_dsdt(const uint8_t *fadt)
{
	uint64_t pa = *(const uint64_t *)(fadt + FADT_X_DSDT);
	const struct acpi_sdt_header *dsdt;
	uint32_t i;

	if (!pa)
		pa = *(const uint32_t *)(fadt + FADT_DSDT);
	if (!pa || pa >= (1ULL << 31)) {
		printf("poweroff: DSDT pointer 0x%lx is unusable\n", pa);
		return GS_BAD_TABLE;
	}
	dsdt = phys(pa);
	if (memcmp(dsdt->signature, "DSDT", 4) || dsdt->length < sizeof(*dsdt) ||
	    dsdt->length > (1U << 20) || acpi_sum(dsdt, dsdt->length)) {
		printf("poweroff: DSDT at 0x%lx: bad signature, length or checksum\n", pa);
		return GS_BAD_TABLE;
	}
	for (i = sizeof(*dsdt); i + 4 <= dsdt->length; i++)
		if (!memcmp((const uint8_t *)dsdt + i, "_S5_", 4))
			return 0;
	con_puts("poweroff: the DSDT has no _S5 object\n");
	return GS_BAD_CONFIG;
}

int guest_main(uint64_t zero_page)
{
	const struct acpi_sdt_header *h;
	const uint8_t *fadt;
	struct acpi_gas ctl, sts;
	uint32_t flags;
	uint8_t v = (SLP_TYP_S5 << 2) | SLP_EN;
	int err;

	(void)zero_page;
	err = acpi_find_table("FACP", &h);
	if (err)
		return err;
	fadt = (const uint8_t *)h;
	printf("poweroff: FADT revision %u, %u bytes\n", h->revision, h->length);
	if (h->length < FADT_MIN_LEN) {
		con_puts("poweroff: FADT too short for SLEEP_CONTROL_REG\n");
		return GS_BAD_TABLE;
	}
	flags = *(const uint32_t *)(fadt + FADT_FLAGS);
	printf("poweroff: FADT flags 0x%x\n", flags);
	if (!(flags & FADT_HW_REDUCED_ACPI)) {
		con_puts("poweroff: FADT is not HW_REDUCED_ACPI\n");
		return GS_BAD_CONFIG;
	}
	memcpy(&ctl, fadt + FADT_SLEEP_CONTROL_REG, sizeof(ctl));
	memcpy(&sts, fadt + FADT_SLEEP_STATUS_REG, sizeof(sts));
	print_gas("SLEEP_CONTROL_REG", &ctl);
	print_gas("SLEEP_STATUS_REG", &sts);
	print_gas("RESET_REG", (const struct acpi_gas *)(fadt + FADT_RESET_REG));
	if (!ctl.address || !sts.address) {
		con_puts("poweroff: no sleep control/status register\n");
		return GS_BAD_CONFIG;
	}
	err = check_dsdt(fadt);
	if (err)
		return err;

	printf("poweroff: writing 0x%x to SLEEP_CONTROL_REG\n", v);
	if (ctl.space_id == ACPI_GAS_IO && ctl.address <= 0xffff) {
		outb((uint16_t)ctl.address, v);
	} else if (ctl.space_id == ACPI_GAS_MEMORY && ctl.address < (1ULL << 32)) {
		*(volatile uint8_t *)phys(ctl.address) = v;
	} else {
		con_puts("poweroff: unsupported SLEEP_CONTROL_REG address space\n");
		return GS_BAD_CONFIG;
	}
	delay_us(2000000);
	con_puts("poweroff: still running after the S5 write\n");
	return GS_STILL_RUNNING;
}
