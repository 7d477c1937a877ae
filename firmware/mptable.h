/* SPDX-License-Identifier: MIT */
/*
 * Intel MultiProcessor Specification 1.4 tables: the floating pointer and
 * the configuration table (processors, ISA bus, IOAPIC, I/O and local
 * interrupt assignments). Kernels without ACPI find CPUs here.
 */
#ifndef FIRMWARE_MPTABLE_H
#define FIRMWARE_MPTABLE_H

#include <stdint.h>

#include "base/guest_mem.h"

/* Largest vCPU count the tables describe (the xAPIC id is 8 bits; 255 is
 * broadcast, and the IOAPIC takes the id after the last CPU). */
#define MPTABLE_MAX_CPUS 254

/* Write the floating pointer at `gpa` and the configuration table right
 * after it; everything must fit below `limit`. APIC ids are 0..ncpus-1,
 * the IOAPIC id is ncpus. Returns 0 or a negative errno. */
int mptable_write(const struct guest_mem *gm, uint64_t gpa, uint64_t limit, unsigned int ncpus)
	__attribute__((warn_unused_result));

#endif /* FIRMWARE_MPTABLE_H */
