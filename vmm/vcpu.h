/* SPDX-License-Identifier: MIT */
/*
 * A vCPU: its KVM fd, its shared kvm_run page and the thread running the
 * KVM_RUN loop. I/O exits are dispatched to the PIO/MMIO buses; everything
 * that ends the VM goes through vm_request_stop().
 */
#ifndef VMM_VCPU_H
#define VMM_VCPU_H

#include <linux/kvm.h>
#include <pthread.h>
#include <stdint.h>

struct vm;

#define VCPU_TRACE_SLOTS 64

/* --trace-exits: counts per exit reason and per (bus, address). */
struct vcpu_trace_slot {
	uint64_t key; /* bit 63: MMIO, bit 62: write; low bits: address */
	uint64_t count;
};

struct vcpu_stats {
	uint64_t exits_by_reason[64];
	uint64_t runs;
	uint64_t exit_ns; /* when the last KVM_RUN returned */
	uint64_t user_ns; /* time handling exits, between KVM_RUNs */
	struct vcpu_trace_slot slots[VCPU_TRACE_SLOTS];
	uint64_t slots_overflow;
};

struct vcpu {
	struct vm *vm;
	unsigned int id;
	int fd;
	struct kvm_run *run;
	pthread_t thread;
	struct vcpu_stats stats;
};

/* Create vCPU `id` (KVM_CREATE_VCPU, map kvm_run, CPUID, MSRs, FPU, LAPIC). */
int vcpu_create(struct vm *vm, struct vcpu *vcpu, unsigned int id, const struct kvm_cpuid2 *cpuid)
	__attribute__((warn_unused_result));
int vcpu_start(struct vcpu *vcpu) __attribute__((warn_unused_result));
/* Make KVM_RUN return (immediate_exit + signal) so the thread sees the stop. */
void vcpu_kick(struct vcpu *vcpu);
void vcpu_join(struct vcpu *vcpu);
void vcpu_destroy(struct vcpu *vcpu);

/* Print the --trace-exits table for all vCPUs to stderr. */
void vcpu_print_trace(struct vcpu *vcpus, unsigned int n);

/* The signal used to kick vCPU threads out of KVM_RUN. */
#define VCPU_KICK_SIGNAL SIGUSR1
void vcpu_install_kick_handler(void);

#endif /* VMM_VCPU_H */
