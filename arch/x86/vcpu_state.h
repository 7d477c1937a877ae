/* SPDX-License-Identifier: MIT */
/*
 * The KVM state of a vCPU and of the VM's in-kernel devices, as plain
 * structs: read out with the KVM_GET_* ioctls for a snapshot, written back
 * with KVM_SET_* into a new VM on restore. What each holds is KVM's own
 * uapi layout (linux/kvm.h), so a snapshot stores the structs' fields, not
 * an interpretation of them.
 *
 * The vCPUs must be out of KVM_RUN (paused or stopped) while their state is
 * read or written, and x86_vcpu_complete_io() must have run first: an exit
 * to userspace for an `in` leaves its result to be written into RAX by the
 * next KVM_RUN (Documentation/virt/kvm/api.rst, KVM_CAP_IMMEDIATE_EXIT).
 *
 * Order on restore: registers, FPU/XSAVE, XCRs, special registers, MP
 * state, LAPIC, MSRs (after the LAPIC: the TSC deadline), events, debug
 * registers.
 */
#ifndef ARCH_X86_VCPU_STATE_H
#define ARCH_X86_VCPU_STATE_H

#include <linux/kvm.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* MSRs saved per vCPU: KVM's KVM_GET_MSR_INDEX_LIST has ~60 here */
#define X86_STATE_MAX_MSRS  512
/* The XSAVE area (KVM_CAP_XSAVE2 size; 4 KiB without it; AMX needs ~11 KiB) */
#define X86_STATE_MAX_XSAVE 16384

struct x86_vcpu_state {
	struct kvm_regs regs;
	struct kvm_sregs sregs;
	struct kvm_fpu fpu;
	uint32_t xsave_size; /* 0: the host has no XSAVE (the FPU state is all) */
	uint8_t xsave[X86_STATE_MAX_XSAVE];
	bool has_xcrs;
	struct kvm_xcrs xcrs;
	uint32_t nmsrs;
	struct kvm_msr_entry msrs[X86_STATE_MAX_MSRS];
	struct kvm_lapic_state lapic;
	struct kvm_mp_state mp_state;
	struct kvm_vcpu_events events;
	struct kvm_debugregs debugregs;
	uint32_t tsc_khz; /* 0: unknown */
};

/* The in-kernel irqchip (PIC master, PIC slave, IOAPIC), PIT and kvm-clock. */
struct x86_vm_state {
	struct kvm_irqchip pic_master;
	struct kvm_irqchip pic_slave;
	struct kvm_irqchip ioapic;
	struct kvm_pit_state2 pit;
	struct kvm_clock_data clock;
};

/* The MSRs KVM can save and restore (KVM_GET_MSR_INDEX_LIST on /dev/kvm). */
int x86_msr_index_list(int kvm_fd, uint32_t *idx, uint32_t max, uint32_t *n, char *err,
		       size_t errlen) __attribute__((warn_unused_result));

/* Finish an I/O exit that userspace has handled (KVM_RUN with
 * immediate_exit set returns EINTR at once after completing it). */
int x86_vcpu_complete_io(int vcpu_fd, struct kvm_run *run) __attribute__((warn_unused_result));

/* Read every piece of state; `msr_idx` is what x86_msr_index_list gave.
 * An MSR the vCPU refuses to read is left out (KVM lists MSRs of features
 * the vCPU's CPUID does not have). */
int x86_vcpu_state_get(int vm_fd, int vcpu_fd, const uint32_t *msr_idx, uint32_t nmsr_idx,
		       struct x86_vcpu_state *st, char *err, size_t errlen)
	__attribute__((warn_unused_result));
int x86_vcpu_state_set(int vcpu_fd, const struct x86_vcpu_state *st, char *err, size_t errlen)
	__attribute__((warn_unused_result));

int x86_vm_state_get(int vm_fd, struct x86_vm_state *st, char *err, size_t errlen)
	__attribute__((warn_unused_result));
int x86_vm_state_set(int vm_fd, const struct x86_vm_state *st, char *err, size_t errlen)
	__attribute__((warn_unused_result));

#endif /* ARCH_X86_VCPU_STATE_H */
