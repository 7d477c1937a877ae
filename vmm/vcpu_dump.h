/* SPDX-License-Identifier: MIT */
/*
 * Where is each vCPU? A few lines per vCPU, for a guest that hangs:
 *
 *   vCPU 1: runnable, 64-bit, rip 0xffffffff8102a4c5 <native_safe_halt+0x5>,
 *           rsp ..., rflags 0x246 (IF)
 *     cr0 ... cr3 ... cr4 ... efer ...
 *     lapic: base 0xfee00800 (xAPIC, enabled) id 1 ldr ... icr ... isr/irr ...
 *     stack: <do_idle+0x..> <cpu_startup_entry+0x..> ...
 *
 * printed on SIGUSR2 (the VM runs on) and when --timeout ends the VM.
 *
 * KVM takes a vCPU's mutex for KVM_RUN and for every state ioctl, so only
 * the vCPU's own thread can read its state without waiting for the guest:
 * vcpu_dump_all() asks each vCPU thread (a flag and a kick), the thread
 * formats its state between two KVM_RUNs (vcpu_dump_answer()), and the
 * caller prints the answers in vCPU order.
 */
#ifndef VMM_VCPU_DUMP_H
#define VMM_VCPU_DUMP_H

#include <linux/kvm.h>
#include <stddef.h>
#include <stdio.h>

#include "vmm/vcpu.h"

/* The signal that prints the dump (SIGUSR1 is VCPU_KICK_SIGNAL). */
#define VCPU_DUMP_SIGNAL SIGUSR2

/* "real mode", "16-bit protected", "32-bit protected", "64-bit",
 * "compatibility (32-bit in long mode)": the CPU mode of sregs. */
const char *vcpu_dump_mode(const struct kvm_sregs *sregs);

/* "runnable", "halted", "wait-for-SIPI" (uninitialised/INIT received)... */
const char *vcpu_dump_mp_state(unsigned int mp_state);

/* Format vcpu's state into buf (always NUL-terminated). Call on the
 * vCPU's own thread, or on any thread while no KVM_RUN is in progress. */
void vcpu_dump_format(struct vcpu *vcpu, char *buf, size_t len);

/* On the vCPU thread between two KVM_RUNs: answer a pending request. */
void vcpu_dump_answer(struct vcpu *vcpu);

/* Ask every vCPU for its state and print the answers to out; a vCPU that
 * does not answer within a second is named as such. Any thread but a vCPU
 * thread. */
void vcpu_dump_all(struct vcpu *vcpus, unsigned int n, FILE *out);

#endif /* VMM_VCPU_DUMP_H */
