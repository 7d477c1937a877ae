// SPDX-License-Identifier: MIT
/*
 * pvipi: what a Linux guest does when it sends an IPI in xAPIC mode on KVM
 * (issue 15). Linux's kvm-guest code (arch/x86/kernel/kvm.c) replaces
 * apic->send_IPI_mask by a hypercall, KVM_HC_SEND_IPI, whenever CPUID
 * 0x40000001 offers KVM_FEATURE_PV_SEND_IPI; the flat xAPIC driver sends
 * even a single IPI through send_IPI_mask, so the first reschedule IPI an
 * AP sends goes through it. (The x2APIC driver sends single IPIs with an
 * ICR MSR write, so an x2APIC kernel with 2 CPUs never makes the call.)
 *
 * This guest makes the same hypercall the same way (`vmcall`, rax = 10,
 * rbx:rcx = destination bitmap, rdx = lowest APIC id, rsi = ICR value,
 * here a fixed IPI to itself), first an unknown hypercall for comparison,
 * and checks what KVM documents (Documentation/virt/kvm/x86/hypercalls.rst):
 * the unknown one returns -KVM_ENOSYS, SEND_IPI returns the number of CPUs
 * the IPI was delivered to (1) and the vector is pending in the IRR.
 *
 * Command line: hc=send_ipi (default) or hc=unknown only. Exits 0 when
 * everything behaves; a hang (the hypercall never returns) is the failure
 * vmm's --timeout then reports, with the vCPU dump showing RIP on the
 * vmcall.
 */
#include <stdbool.h>

#include "lib/guest.h"

#define LAPIC_BASE	   0xfee00000ULL
#define LAPIC_ID	   0x20
#define LAPIC_SVR	   0xf0
#define LAPIC_IRR	   0x200
#define KVM_CPUID_FEATURES 0x40000001
#define KVM_FEATURE_PV_IPI 11
#define KVM_HC_SEND_IPI	   10
#define KVM_HC_UNKNOWN	   0x7fff
#define KVM_ENOSYS	   1000
#define IPI_VECTOR	   0xfb /* Linux's CALL_FUNCTION_SINGLE_VECTOR */
#define APIC_DM_FIXED	   0x000

int guest_main(uint64_t zero_page);

/* Linux's kvm_hypercall4() (asm/kvm_para.h), with `vmcall` as written in
 * the kernel image (an AMD CPU gets it patched to vmmcall by alternatives;
 * KVM handles both). */
static long hypercall4(bool amd, unsigned long nr, unsigned long p1, unsigned long p2,
		       unsigned long p3, unsigned long p4)
{
	long ret;

	if (amd)
		__asm__ volatile("vmmcall"
				 : "=a"(ret)
				 : "a"(nr), "b"(p1), "c"(p2), "d"(p3), "S"(p4)
				 : "memory");
	else
		__asm__ volatile("vmcall"
				 : "=a"(ret)
				 : "a"(nr), "b"(p1), "c"(p2), "d"(p3), "S"(p4)
				 : "memory");
	return ret;
}

int guest_main(uint64_t zero_page)
{
	const char *cmdline = bp_cmdline(zero_page);
	size_t len = 0;
	const char *hc = cmdline_get_str(cmdline, "hc", &len);
	size_t ilen = 0;
	const char *insn = cmdline_get_str(cmdline, "insn", &ilen);
	bool amd = insn && ilen == 7 && memcmp(insn, "vmmcall", 7) == 0;
	uint32_t a, b, c, d, id, irr;
	long ret;

	cpuid(KVM_CPUID_FEATURES, &a, &b, &c, &d);
	printf("pvipi: KVM_FEATURE_PV_SEND_IPI %s\n",
	       (a >> KVM_FEATURE_PV_IPI) & 1 ? "offered" : "not offered");
	/* software-enable the LAPIC: a disabled one accepts no fixed IPI */
	mmio_write32(LAPIC_BASE + LAPIC_SVR, 0x1ff);
	id = mmio_read32(LAPIC_BASE + LAPIC_ID) >> 24;

	printf("pvipi: unknown hypercall with %s...\n", amd ? "vmmcall" : "vmcall");
	ret = hypercall4(amd, KVM_HC_UNKNOWN, 0, 0, 0, 0);
	printf("pvipi: unknown hypercall returned %ld\n", ret);
	if (ret != -KVM_ENOSYS)
		return GS_BAD_STATE;
	if (hc && len == 7 && memcmp(hc, "unknown", 7) == 0)
		return 0;

	printf("pvipi: KVM_HC_SEND_IPI to APIC id %u, vector 0x%x...\n", id, IPI_VECTOR);
	ret = hypercall4(amd, KVM_HC_SEND_IPI, 1, 0, id, APIC_DM_FIXED | IPI_VECTOR);
	irr = mmio_read32(LAPIC_BASE + LAPIC_IRR + (IPI_VECTOR / 32) * 0x10);
	printf("pvipi: KVM_HC_SEND_IPI returned %ld, vector %s in the IRR\n", ret,
	       (irr >> (IPI_VECTOR % 32)) & 1 ? "pending" : "NOT pending");
	if (ret != 1 || !((irr >> (IPI_VECTOR % 32)) & 1))
		return GS_BAD_STATE;
	con_puts("pvipi: passed\n");
	return 0;
}
