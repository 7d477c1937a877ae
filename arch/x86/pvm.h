/* SPDX-License-Identifier: MIT */
/*
 * PVM: the "Pagetable-based Virtual Machine" KVM (kvm_pvm) that runs on
 * cloud VMs without nested VMX/SVM. It speaks the ordinary KVM API, but
 * (see docs/pvm.md):
 *   - guest ring-0 code is interpreted, and two instructions are not
 *     emulated: `int3` and `fwait` end KVM_RUN with an emulation failure;
 *   - the guest sees the host's CPUID features whatever KVM_SET_CPUID2 says,
 *     so Linux must be told on its command line not to use some of them.
 * Everything vmm does differently on PVM is in this file.
 */
#ifndef ARCH_X86_PVM_H
#define ARCH_X86_PVM_H

#include <linux/kvm.h>
#include <stdbool.h>

#include "base/guest_mem.h"

/* True when /dev/kvm is provided by kvm_pvm. */
bool pvm_detect(void);

/* Kernel command-line options a Linux 6.1 guest needs to boot on PVM. */
const char *pvm_cmdline_extra(void);

/*
 * Handle a KVM_EXIT_INTERNAL_ERROR that PVM raises for an instruction it
 * does not emulate. Returns 0 if handled (the vCPU may run on), or a
 * negative errno if this is a genuine failure.
 */
int pvm_handle_emulation_failure(int vcpu_fd, const struct kvm_run *run, const struct guest_mem *gm)
	__attribute__((warn_unused_result));

#endif /* ARCH_X86_PVM_H */
