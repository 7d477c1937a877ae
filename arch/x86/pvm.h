/* SPDX-License-Identifier: MIT */
/*
 * PVM: the "Pagetable-based Virtual Machine" KVM (kvm_pvm) that runs on
 * cloud VMs without nested VMX/SVM. It speaks the ordinary KVM API, but
 * (see docs/pvm.md):
 *   - guest ring-0 code is interpreted, and two instructions are not
 *     emulated: `int3` and `fwait` end KVM_RUN with an emulation failure;
 *   - the guest sees the host's CPUID features whatever KVM_SET_CPUID2 says,
 *     so Linux must be told on its command line not to use some of them;
 *   - a KVM hypercall (vmcall or vmmcall) from the guest kernel never
 *     completes: the vCPU stays on the instruction, with no exit. The KVM
 *     leaf 0x40000001 is set from KVM_SET_CPUID2 as usual, so the paravirt
 *     features that make Linux call hypercalls are not offered.
 * Everything vmm does differently on PVM is in this file.
 */
#ifndef ARCH_X86_PVM_H
#define ARCH_X86_PVM_H

#include <linux/kvm.h>
#include <stdbool.h>
#include <stdint.h>

#include "base/guest_mem.h"

/* True when /dev/kvm is provided by kvm_pvm. */
bool pvm_detect(void);

/* Kernel command-line options a Linux 6.1 guest needs to boot on PVM. */
const char *pvm_cmdline_extra(void);

/* The KVM paravirt features (CPUID 0x40000001 EAX, Linux's
 * uapi/asm/kvm_para.h) whose use is a hypercall. */
#define PVM_KVM_FEATURE_PV_UNHALT	 (1u << 7)  /* pv spinlocks: KVM_HC_KICK_CPU */
#define PVM_KVM_FEATURE_PV_SEND_IPI	 (1u << 11) /* KVM_HC_SEND_IPI */
#define PVM_KVM_FEATURE_PV_SCHED_YIELD	 (1u << 13) /* KVM_HC_SCHED_YIELD */
#define PVM_KVM_FEATURE_HC_MAP_GPA_RANGE (1u << 16) /* KVM_HC_MAP_GPA_RANGE */
#define PVM_KVM_HYPERCALL_FEATURES                                 \
	(PVM_KVM_FEATURE_PV_UNHALT | PVM_KVM_FEATURE_PV_SEND_IPI | \
	 PVM_KVM_FEATURE_PV_SCHED_YIELD | PVM_KVM_FEATURE_HC_MAP_GPA_RANGE)

/*
 * Withdraw the hypercall-based paravirt features from a KVM_GET_SUPPORTED_CPUID
 * table (before it is patched per vCPU). Without this, Linux in xAPIC mode
 * sends its first IPI with KVM_HC_SEND_IPI and that vCPU hangs for good
 * (issue 15; docs/pvm.md). Returns the bits it cleared.
 */
uint32_t pvm_cpuid_fixup(struct kvm_cpuid2 *cpuid);

/*
 * Handle a KVM_EXIT_INTERNAL_ERROR that PVM raises for an instruction it
 * does not emulate. Returns 0 if handled (the vCPU may run on), or a
 * negative errno if this is a genuine failure.
 */
int pvm_handle_emulation_failure(int vcpu_fd, const struct kvm_run *run, const struct guest_mem *gm)
	__attribute__((warn_unused_result));

#endif /* ARCH_X86_PVM_H */
