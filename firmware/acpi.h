/* SPDX-License-Identifier: MIT */
/*
 * ACPI tables: RSDP, XSDT, FADT (hardware-reduced, with SLEEP_CONTROL,
 * SLEEP_STATUS and RESET registers), MADT (a LAPIC per vCPU, the IOAPIC,
 * interrupt source overrides) and a DSDT (COM1, pvpanic, virtio-mmio
 * devices, the GED and power button, \_S5) produced by the AML writer in
 * aml.c.
 */
#ifndef FIRMWARE_ACPI_H
#define FIRMWARE_ACPI_H

#include <stdint.h>

#include "base/guest_mem.h"

#define ACPI_MAX_MMIO_DEVS 32
/* Processor Local APIC entries carry 8-bit APIC ids; 255 is broadcast and
 * the IOAPIC takes the id after the last CPU. */
#define ACPI_MAX_CPUS	   254

/* A virtio-mmio device to announce in the DSDT (_HID "LNRO0005",
 * _CRS = Memory32Fixed(base, size) + Interrupt(irq, edge, active high)). */
struct acpi_mmio_dev {
	uint64_t base;
	uint32_t size;
	uint32_t irq;
};

struct acpi_config {
	unsigned int ncpus; /* APIC ids 0..ncpus-1; IOAPIC id ncpus */
	struct acpi_mmio_dev mmio_devs[ACPI_MAX_MMIO_DEVS];
	unsigned int nmmio_devs;
	/* The Generic Event Device (devices/ged.h) and the power button it
	 * notifies: its one-byte register's port and its GSI (edge, active
	 * high). ged_port 0: neither is described. */
	uint16_t ged_port;
	uint32_t ged_irq;
};

/* Write all tables into [start, end) of guest memory, RSDP at `start`
 * (16-byte aligned, inside the 0xe0000..0xfffff scan area), then XSDT,
 * FADT, MADT and DSDT, each 16-byte aligned. Returns 0 or a negative errno:
 * -ENOSPC if they do not fit, -EFAULT if [start, end) is not guest RAM,
 * -EINVAL for a misaligned start or a bad config (ncpus 0 or more than
 * ACPI_MAX_CPUS, too many devices, a window not below 4 GiB, an irq that is
 * not an IOAPIC pin). */
int acpi_write_tables(const struct guest_mem *gm, uint64_t start, uint64_t end,
		      const struct acpi_config *cfg) __attribute__((warn_unused_result));

#endif /* FIRMWARE_ACPI_H */
