/* SPDX-License-Identifier: MIT */
/*
 * A vCPU: its KVM fd, its shared kvm_run page and the thread running the
 * KVM_RUN loop. I/O exits are dispatched to the PIO/MMIO buses; an exit
 * that ends the VM is reported through env->stop(). Created, started,
 * kicked, joined and destroyed by the composition root (vm.c).
 *
 * A vCPU knows nothing of struct vm: like Firecracker's Vcpu, which holds
 * only its buses and an exit event, it gets what it needs in a struct
 * vcpu_env that its owner keeps alive as long as the vCPU.
 */
#ifndef VMM_VCPU_H
#define VMM_VCPU_H

#include <linux/kvm.h>
#include <pthread.h>
#include <signal.h>
#include <stdbool.h>
#include <stdint.h>

#include "base/bus.h"
#include "arch/x86/elf_syms.h"
#include "base/guest_mem.h"
#include "vmm/exit_trace.h"

/* Why a vCPU ends the VM. */
enum vcpu_stop {
	VCPU_STOP_RESET,    /* triple fault, or KVM_SYSTEM_EVENT_RESET */
	VCPU_STOP_POWEROFF, /* any other KVM_SYSTEM_EVENT */
	VCPU_STOP_ERROR,    /* KVM_RUN failed, internal error, failed entry, unknown exit */
};

/* Where a vCPU thread calls vcpu_env.checkpoint (vm_pause.c parks it). */
enum vcpu_checkpoint {
	VCPU_CP_START,	/* the thread started, before its first KVM_RUN */
	VCPU_CP_KICKED, /* KVM_RUN returned -EINTR/-EAGAIN: nothing pending */
	VCPU_CP_EXIT,	/* the thread leaves its loop */
};

struct vcpu;

/* What every vCPU of a VM shares. */
struct vcpu_env {
	int vm_fd;
	int run_size; /* mmap size of struct kvm_run */
	unsigned int ncpus;
	struct bus *pio;
	struct bus *mmio;
	/* Non-NULL when the PVM workarounds are on: the guest RAM they read
	 * the faulting instruction from (arch/x86/pvm.h). */
	const struct guest_mem *pvm_mem;
	bool trace; /* --trace-exits: count exits by address, time them */
	/* For the state dump (vcpu_dump.h): guest RAM, to read the stack, and
	 * the kernel's symbols (may be empty, or NULL). */
	const struct guest_mem *mem;
	const struct elf_syms *syms;
	/* vCPU 0 stores clock_monotonic_ns() here just before its first
	 * KVM_RUN */
	uint64_t *first_run_ns;
	/* Ask the VM to stop (the first request wins), and whether it is
	 * stopping (checked before each KVM_RUN). */
	void (*stop)(void *opaque, enum vcpu_stop why);
	bool (*stopping)(void *opaque);
	/* Optional (NULL: never called). Called on the vCPU's own thread at
	 * the points above; it may block (pause). At VCPU_CP_KICKED every
	 * exit the last KVM_RUN reported has been completed by KVM (an I/O
	 * read's data is in the registers), so the state is consistent. */
	void (*checkpoint)(void *opaque, struct vcpu *vcpu, enum vcpu_checkpoint where);
	void *opaque;
};

struct vcpu {
	const struct vcpu_env *env;
	unsigned int id;
	int fd;
	struct kvm_run *run;
	pthread_t thread;
	struct exit_trace_cpu trace;
	/* vcpu_dump.c: a request (set by the dumper, taken by this thread),
	 * the answer and whether it is ready, and whether the thread has left
	 * its loop (then the dumper reads the state itself). Atomics. */
	int dump_pending;
	int dump_ready;
	int exited;
	char dump_text[2048];
	/* Set by the thread itself at VCPU_CP_START (before any KVM_RUN): its
	 * Linux thread id (QMP query-cpus-fast) and its pthread, which
	 * vm_pause.c kicks; `running` is 1 between start and exit. The
	 * checkpoint callback's lock guards them. */
	int tid;
	pthread_t self;
	bool running;
};

/* Create vCPU `id` (KVM_CREATE_VCPU, map kvm_run, CPUID, MSRs, FPU, LAPIC);
 * `cpuid` is what x86_cpuid_supported() returned. Logs why it failed. */
int vcpu_create(struct vcpu *vcpu, const struct vcpu_env *env, unsigned int id,
		const struct kvm_cpuid2 *cpuid) __attribute__((warn_unused_result));
int vcpu_start(struct vcpu *vcpu) __attribute__((warn_unused_result));
/* Make KVM_RUN return (immediate_exit + signal) so the thread sees the stop. */
void vcpu_kick(struct vcpu *vcpu);
/* The same, to thread `t` (a vCPU thread that may not have been recorded in
 * vcpu->thread yet: see vcpu->self). */
void vcpu_kick_thread(struct vcpu *vcpu, pthread_t t);
void vcpu_join(struct vcpu *vcpu);
/* Safe on a vcpu that was zeroed with fd = -1 and never created. */
void vcpu_destroy(struct vcpu *vcpu);

/* The signal used to kick vCPU threads out of KVM_RUN. */
#define VCPU_KICK_SIGNAL SIGUSR1
void vcpu_install_kick_handler(void);
/* The process's signal setup for a VM, before any thread starts: the kick
 * handler, and SIGINT/SIGTERM/SIGHUP, the kick and the dump signal blocked
 * (the event loop reads them through a signalfd); SIGPIPE ignored. */
void vcpu_block_process_signals(void);

#endif /* VMM_VCPU_H */
