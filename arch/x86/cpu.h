/* SPDX-License-Identifier: MIT */
/*
 * Putting a vCPU into the state the Linux 64-bit boot protocol expects
 * (Documentation/arch/x86/boot.rst, "64-bit Boot Protocol"): long mode,
 * paging with an identity map covering the kernel, zero page and command
 * line, a GDT with __BOOT_CS (0x10) and __BOOT_DS (0x18) flat segments,
 * interrupts disabled, rsi = address of struct boot_params.
 */
#ifndef ARCH_X86_CPU_H
#define ARCH_X86_CPU_H

#include <linux/kvm.h>
#include <stdint.h>

#include "base/guest_mem.h"

#define X86_BOOT_CS  0x10
#define X86_BOOT_DS  0x18
#define X86_BOOT_TSS 0x20

/* Write the boot GDT, an empty IDT and the identity-mapping page tables
 * (0..4 GiB with 2 MiB pages) at the base/layout.h addresses. */
int x86_write_boot_tables(const struct guest_mem *gm) __attribute__((warn_unused_result));

/* Registers of the boot CPU: long mode at `entry` with rsi = zero_page. */
int x86_vcpu_set_boot_regs(int vcpu_fd, uint64_t entry, uint64_t zero_page)
	__attribute__((warn_unused_result));

/* State every vCPU needs: FPU/SSE control words, MSRs, LAPIC LINT0 =
 * ExtINT and LINT1 = NMI (as a BIOS programs them for the virtual wire). */
int x86_vcpu_init_common(int vcpu_fd) __attribute__((warn_unused_result));

/* CPUID: KVM_GET_SUPPORTED_CPUID once per VM (malloc'd, free() it)... */
struct kvm_cpuid2 *x86_cpuid_supported(int kvm_fd, int *err);

/* ...then per vCPU, patched with its APIC id and the topology (one core
 * per vCPU, one thread per core, one package) and set with KVM_SET_CPUID2. */
int x86_vcpu_set_cpuid(int vcpu_fd, const struct kvm_cpuid2 *supported, uint32_t apic_id,
		       uint32_t ncpus) __attribute__((warn_unused_result));

/* Patch one copy of the table (exposed for unit tests). It may add up to
 * X86_CPUID_EXTRA_ENTRIES entries (missing topology subleaves): the table
 * must have room for them after its nent entries. */
#define X86_CPUID_EXTRA_ENTRIES 4
void x86_cpuid_patch(struct kvm_cpuid2 *cpuid, uint32_t apic_id, uint32_t ncpus);

#endif /* ARCH_X86_CPU_H */
