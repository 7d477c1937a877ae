/* SPDX-License-Identifier: MIT */
#include "arch/x86/pvm.h"

#include <errno.h>
#include <string.h>
#include <sys/ioctl.h>
#include <unistd.h>

#include "base/log.h"

#define X86_INSN_INT3  0xcc
#define X86_INSN_FWAIT 0x9b
#define X86_VECTOR_BP  3

bool pvm_detect(void)
{
	return access("/sys/module/kvm_pvm", F_OK) == 0;
}

const char *pvm_cmdline_extra(void)
{
	/* The guest sees the host's CPUID whatever KVM_SET_CPUID2 says, and PVM
	 * does not virtualise these features for the guest kernel; Linux must
	 * be told not to use them (measured on 6.1, see docs/pvm.md). The
	 * older "noxsave" is not needed: Linux 6.1 no longer knows it (it would
	 * pass it on to /init) and clearcpuid=xsave does the same. */
	return "clearcpuid=smap,smep,cx16,pku,umip,xsave,popcnt,bmi1,bmi2,movbe,abm,"
	       "fsgsbase,rdrand,rdseed,rdpid,adx,clflushopt,clwb,erms,fsrm,sha_ni,aes,pclmulqdq,"
	       "avx,avx2,fma,f16c,sse4_1,sse4_2,ssse3,invpcid,pcid,rdtscp";
}

uint32_t pvm_cpuid_fixup(struct kvm_cpuid2 *cpuid)
{
	uint32_t i, cleared = 0;

	/* 0x40000001 is KVM_CPUID_FEATURES at KVM's usual base 0x40000000
	 * (KVM_GET_SUPPORTED_CPUID does not move it: no Hyper-V leaves) */
	for (i = 0; i < cpuid->nent; i++) {
		struct kvm_cpuid_entry2 *e = &cpuid->entries[i];

		if (e->function != 0x40000001)
			continue;
		cleared |= e->eax & PVM_KVM_HYPERCALL_FEATURES;
		e->eax &= ~PVM_KVM_HYPERCALL_FEATURES;
	}
	return cleared;
}

/* The first byte of the faulting instruction: from the exit itself when KVM
 * reports the bytes, else by translating RIP and reading guest memory. */
static int insn_first_byte(int vcpu_fd, const struct kvm_run *run, const struct guest_mem *gm,
			   uint8_t *byte)
{
	struct kvm_translation tr;
	struct kvm_regs regs;
	struct kvm_sregs sregs;

	if ((run->emulation_failure.flags & KVM_INTERNAL_ERROR_EMULATION_FLAG_INSTRUCTION_BYTES) &&
	    run->emulation_failure.insn_size > 0) {
		*byte = run->emulation_failure.insn_bytes[0];
		return 0;
	}
	if (ioctl(vcpu_fd, KVM_GET_REGS, &regs) < 0 || ioctl(vcpu_fd, KVM_GET_SREGS, &sregs) < 0)
		return -errno;
	memset(&tr, 0, sizeof(tr));
	tr.linear_address = regs.rip + sregs.cs.base;
	if (ioctl(vcpu_fd, KVM_TRANSLATE, &tr) < 0)
		return -errno;
	if (!tr.valid)
		return -EFAULT;
	return gm_read(gm, tr.physical_address, byte, 1);
}

static int skip_insn(int vcpu_fd, unsigned int len)
{
	struct kvm_regs regs;

	if (ioctl(vcpu_fd, KVM_GET_REGS, &regs) < 0)
		return -errno;
	regs.rip += len;
	if (ioctl(vcpu_fd, KVM_SET_REGS, &regs) < 0)
		return -errno;
	return 0;
}

int pvm_handle_emulation_failure(int vcpu_fd, const struct kvm_run *run, const struct guest_mem *gm)
{
	struct kvm_vcpu_events events;
	uint8_t op;
	int ret;

	if (run->internal.suberror != KVM_INTERNAL_ERROR_EMULATION)
		return -ENOTSUP;
	ret = insn_first_byte(vcpu_fd, run, gm, &op);
	if (ret)
		return ret;
	switch (op) {
	case X86_INSN_FWAIT:
		/* fwait only checks for pending x87 exceptions; with none
		 * (we never unmask any on the guest's behalf) it is a no-op. */
		return skip_insn(vcpu_fd, 1);
	case X86_INSN_INT3:
		/* int3 is a trap: #BP is delivered with RIP after the
		 * instruction, so advance first, then inject. */
		ret = skip_insn(vcpu_fd, 1);
		if (ret)
			return ret;
		if (ioctl(vcpu_fd, KVM_GET_VCPU_EVENTS, &events) < 0)
			return -errno;
		events.exception.injected = 1;
		events.exception.nr = X86_VECTOR_BP;
		events.exception.has_error_code = 0;
		events.exception.error_code = 0;
		events.flags = 0;
		if (ioctl(vcpu_fd, KVM_SET_VCPU_EVENTS, &events) < 0)
			return -errno;
		return 0;
	default:
		return -ENOTSUP;
	}
}
