/* SPDX-License-Identifier: MIT */
/*
 * x86 VM setup: what an x86 VM needs right after KVM_CREATE_VM and before
 * its memory, devices and vCPUs, as kvm-host's arch/x86/vm.c and kvmtool's
 * x86/kvm.c keep it. Called once per VM by the composition root
 * (vmm/vm.c, vm_setup_kvm()).
 */
#ifndef ARCH_X86_VM_H
#define ARCH_X86_VM_H

#include <stddef.h>

/*
 * On the VM fd `vm_fd` (of /dev/kvm fd `kvm_fd`): place the TSS and the
 * identity map (hosts that refuse them, e.g. on AMD, do without: only a
 * debug message), then create the in-kernel PIC, IOAPIC and LAPICs
 * (KVM_CREATE_IRQCHIP) and the PIT (KVM_CREATE_PIT2). Returns 0, or a
 * negative errno with one line in err saying which step failed.
 */
int x86_vm_setup(int kvm_fd, int vm_fd, char *err, size_t errlen)
	__attribute__((warn_unused_result));

#endif /* ARCH_X86_VM_H */
