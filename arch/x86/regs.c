/* SPDX-License-Identifier: MIT */
#include <errno.h>
#include <string.h>
#include <sys/ioctl.h>

#include "arch/x86/cpu.h"
#include "base/layout.h"
#include "base/log.h"

/* Segment descriptor flags (Intel SDM vol. 3, 3.4.5) */
#define GDT_ENTRY(flags, base, limit)                                              \
	((((base)&0xff000000ULL) << (56 - 24)) | (((flags)&0x0000f0ffULL) << 40) | \
	 (((limit)&0x000f0000ULL) << (48 - 16)) | (((base)&0x00ffffffULL) << 16) | \
	 (((limit)&0x0000ffffULL)))

/* Page-table entry bits */
#define PTE_PRESENT (1ULL << 0)
#define PTE_RW	    (1ULL << 1)
#define PTE_PS	    (1ULL << 7) /* 2 MiB page in a PD entry */

#define CR0_PE	 (1ULL << 0)
#define CR0_ET	 (1ULL << 4)
#define CR0_PG	 (1ULL << 31)
#define CR4_PAE	 (1ULL << 5)
#define EFER_LME (1ULL << 8)
#define EFER_LMA (1ULL << 10)

/* The boot GDT, written to guest memory and mirrored in the segment
 * registers: index 2 = __BOOT_CS, 3 = __BOOT_DS, 4 = a TSS (KVM wants a
 * usable TR). */
static const uint64_t boot_gdt[] = {
	GDT_ENTRY(0, 0, 0),
	GDT_ENTRY(0, 0, 0),
	[X86_BOOT_CS / 8] = GDT_ENTRY(0xa09b, 0, 0xfffff), /* code: present, exec/read, L=1, G=1 */
	[X86_BOOT_DS / 8] =
		GDT_ENTRY(0xc093, 0, 0xfffff), /* data: present, read/write, D/B=1, G=1 */
	[X86_BOOT_TSS / 8] = GDT_ENTRY(0x808b, 0, 0xfffff), /* 32-bit busy TSS */
};

int x86_write_boot_tables(const struct guest_mem *gm)
{
	uint64_t idt = 0, e;
	int ret, i;

	ret = gm_write(gm, LAYOUT_GDT_ADDR, boot_gdt, sizeof(boot_gdt));
	if (!ret)
		ret = gm_write(gm, LAYOUT_IDT_ADDR, &idt, sizeof(idt));
	if (ret)
		return ret;

	/* PML4[0] -> PDPT; PDPT[0..3] -> 4 PDs; each PD maps 1 GiB with 2 MiB pages. */
	e = LAYOUT_PDPT | PTE_PRESENT | PTE_RW;
	ret = gm_write(gm, LAYOUT_PML4, &e, sizeof(e));
	for (i = 0; i < 4 && !ret; i++) {
		e = (LAYOUT_PD + (uint64_t)i * 0x1000) | PTE_PRESENT | PTE_RW;
		ret = gm_write(gm, LAYOUT_PDPT + (uint64_t)i * 8, &e, sizeof(e));
	}
	for (i = 0; i < 4 * 512 && !ret; i++) {
		e = ((uint64_t)i << 21) | PTE_PRESENT | PTE_RW | PTE_PS;
		ret = gm_write(gm, LAYOUT_PD + (uint64_t)i * 8, &e, sizeof(e));
	}
	return ret;
}

static struct kvm_segment seg_from_gdt(uint64_t entry, uint16_t selector)
{
	return (struct kvm_segment){
		.base = ((entry >> 16) & 0xffffff) | (((entry >> 56) & 0xff) << 24),
		.limit = (uint32_t)((entry & 0xffff) | (((entry >> 48) & 0xf) << 16)),
		.selector = selector,
		.type = (entry >> 40) & 0xf,
		.present = (entry >> 47) & 1,
		.dpl = (entry >> 45) & 3,
		.db = (entry >> 54) & 1,
		.s = (entry >> 44) & 1,
		.l = (entry >> 53) & 1,
		.g = (entry >> 55) & 1,
		.avl = (entry >> 52) & 1,
	};
}

int x86_vcpu_set_boot_regs(int vcpu_fd, uint64_t entry, uint64_t zero_page)
{
	struct kvm_sregs sregs;
	struct kvm_regs regs;
	struct kvm_segment code, data, tss;

	if (ioctl(vcpu_fd, KVM_GET_SREGS, &sregs) < 0)
		return -errno;
	code = seg_from_gdt(boot_gdt[X86_BOOT_CS / 8], X86_BOOT_CS);
	data = seg_from_gdt(boot_gdt[X86_BOOT_DS / 8], X86_BOOT_DS);
	tss = seg_from_gdt(boot_gdt[X86_BOOT_TSS / 8], X86_BOOT_TSS);
	sregs.cs = code;
	sregs.ds = sregs.es = sregs.fs = sregs.gs = sregs.ss = data;
	sregs.tr = tss;
	sregs.gdt.base = LAYOUT_GDT_ADDR;
	sregs.gdt.limit = sizeof(boot_gdt) - 1;
	sregs.idt.base = LAYOUT_IDT_ADDR;
	sregs.idt.limit = 7;
	sregs.cr0 = CR0_PE | CR0_ET | CR0_PG;
	sregs.cr3 = LAYOUT_PML4;
	sregs.cr4 = CR4_PAE;
	sregs.efer = EFER_LME | EFER_LMA;
	if (ioctl(vcpu_fd, KVM_SET_SREGS, &sregs) < 0)
		return -errno;

	memset(&regs, 0, sizeof(regs));
	regs.rflags = 0x2; /* reserved bit 1; IF clear */
	regs.rip = entry;
	regs.rsi = zero_page;
	regs.rsp = LAYOUT_BOOT_STACK_TOP;
	regs.rbp = LAYOUT_BOOT_STACK_TOP;
	if (ioctl(vcpu_fd, KVM_SET_REGS, &regs) < 0)
		return -errno;
	return 0;
}

#define MSR_IA32_SYSENTER_CS	0x174
#define MSR_IA32_SYSENTER_ESP	0x175
#define MSR_IA32_SYSENTER_EIP	0x176
#define MSR_STAR		0xc0000081
#define MSR_LSTAR		0xc0000082
#define MSR_CSTAR		0xc0000083
#define MSR_SYSCALL_MASK	0xc0000084
#define MSR_KERNEL_GS_BASE	0xc0000102
#define MSR_IA32_TSC		0x10
#define MSR_IA32_MISC_ENABLE	0x1a0
#define MSR_MTRR_DEF_TYPE	0x2ff
#define MISC_ENABLE_FAST_STRING 1ULL
#define MTRR_ENABLE		(1ULL << 11)
#define MTRR_TYPE_WB		6ULL
#define MSR_K7_HWCR		0xc0010015
#define HWCR_TSC_FREQ_SEL	(1ULL << 24)

static int set_msrs(int vcpu_fd)
{
	static const struct {
		uint32_t index;
		uint64_t data;
	} init[] = {
		{ MSR_IA32_SYSENTER_CS, 0 },
		{ MSR_IA32_SYSENTER_ESP, 0 },
		{ MSR_IA32_SYSENTER_EIP, 0 },
		{ MSR_STAR, 0 },
		{ MSR_CSTAR, 0 },
		{ MSR_KERNEL_GS_BASE, 0 },
		{ MSR_SYSCALL_MASK, 0 },
		{ MSR_LSTAR, 0 },
		{ MSR_IA32_TSC, 0 },
		/* as firmware leaves them: fast strings on, MTRRs enabled with
		 * write-back default so the guest does not run uncached */
		{ MSR_IA32_MISC_ENABLE, MISC_ENABLE_FAST_STRING },
		{ MSR_MTRR_DEF_TYPE, MTRR_ENABLE | MTRR_TYPE_WB },
		/* AMD: the TSC counts at the P0 frequency, as firmware sets it
		 * (else Linux warns "[Firmware Bug]: TSC doesn't count with P0
		 * frequency!"). Last: hosts that refuse it (Intel) stop here. */
		{ MSR_K7_HWCR, HWCR_TSC_FREQ_SEL },
	};
	/* struct kvm_msrs ends in a flexible array: room for it in a union
	 * (a struct with the header first is a GNU extension clang rejects) */
	union {
		struct kvm_msrs hdr;
		uint8_t room[sizeof(struct kvm_msrs) +
			     sizeof(init) / sizeof(init[0]) * sizeof(struct kvm_msr_entry)];
	} msrs;
	unsigned int i, n = sizeof(init) / sizeof(init[0]);
	int ret;

	memset(&msrs, 0, sizeof(msrs));
	for (i = 0; i < n; i++) {
		msrs.hdr.entries[i].index = init[i].index;
		msrs.hdr.entries[i].data = init[i].data;
	}
	msrs.hdr.nmsrs = n;
	ret = ioctl(vcpu_fd, KVM_SET_MSRS, &msrs);
	if (ret < 0)
		return -errno;
	/* KVM_SET_MSRS returns how many it set: an MSR this KVM refuses stops
	 * the list. None of them is needed to boot, so note it and go on. */
	if ((unsigned int)ret < n)
		log_debug("KVM refused MSR %#x; %u of %u initial MSRs set", init[ret].index,
			  (unsigned int)ret, n);
	return 0;
}

/* LAPIC local vector table (Intel SDM vol. 3, 10.5.1) */
#define APIC_LVT0	 0x350
#define APIC_LVT1	 0x360
#define APIC_MODE_NMI	 0x4
#define APIC_MODE_EXTINT 0x7

static uint32_t lapic_get(const struct kvm_lapic_state *s, unsigned int reg)
{
	uint32_t v;

	memcpy(&v, &s->regs[reg], sizeof(v));
	return v;
}

static void lapic_set(struct kvm_lapic_state *s, unsigned int reg, uint32_t v)
{
	memcpy(&s->regs[reg], &v, sizeof(v));
}

static int set_lapic(int vcpu_fd)
{
	struct kvm_lapic_state lapic;

	if (ioctl(vcpu_fd, KVM_GET_LAPIC, &lapic) < 0)
		return -errno;
	/* delivery mode lives in bits 8..10 */
	lapic_set(&lapic, APIC_LVT0,
		  (lapic_get(&lapic, APIC_LVT0) & ~0x700u) | (APIC_MODE_EXTINT << 8));
	lapic_set(&lapic, APIC_LVT1,
		  (lapic_get(&lapic, APIC_LVT1) & ~0x700u) | (APIC_MODE_NMI << 8));
	if (ioctl(vcpu_fd, KVM_SET_LAPIC, &lapic) < 0)
		return -errno;
	return 0;
}

int x86_vcpu_init_common(int vcpu_fd)
{
	struct kvm_fpu fpu;
	int ret;

	memset(&fpu, 0, sizeof(fpu));
	fpu.fcw = 0x37f;    /* x87 default after FNINIT */
	fpu.mxcsr = 0x1f80; /* all SSE exceptions masked */
	if (ioctl(vcpu_fd, KVM_SET_FPU, &fpu) < 0)
		return -errno;
	ret = set_msrs(vcpu_fd);
	if (ret)
		return ret;
	return set_lapic(vcpu_fd);
}
