/* SPDX-License-Identifier: MIT */
/*
 * The VM: the composition root. vm_create() builds the whole machine in
 * one explicit order (KVM, RAM, firmware tables, kernel, devices, vCPUs);
 * vm_run() runs it until something ends it and returns the process exit
 * status; vm_destroy() takes it apart again.
 *
 * Threads: one per vCPU (vcpu.c) plus the event loop, which runs on the
 * thread that calls vm_run().
 */
#ifndef VMM_VM_H
#define VMM_VM_H

#include <pthread.h>
#include <signal.h>
#include <stdbool.h>
#include <stdint.h>

#include "devices/ged.h"
#include "devices/platform.h"
#include "devices/rtc.h"
#include "devices/serial.h"
#include "base/bus.h"
#include "vmm/cli.h"
#include "vmm/qmp.h"
#include "base/event_loop.h"
#include "base/guest_mem.h"
#include "base/irq.h"
#include "vmm/term.h"
#include "vmm/vcpu.h"

/* Process exit statuses (documented in README and --help). */
enum vm_exit_status {
	VM_EXIT_POWEROFF = 0,
	VM_EXIT_ERROR = 1,
	VM_EXIT_USAGE = 2,
	VM_EXIT_RESET = 3,
	VM_EXIT_PANIC = 4,
	VM_EXIT_TIMEOUT = 5,
	VM_EXIT_SANDBOX = 6, /* a thread made a forbidden system call (sandbox.h) */
	VM_EXIT_SIGNAL_BASE = 128,
};

/* Why the VM stopped (for --reboot and for messages). */
enum vm_stop_reason {
	VM_STOP_NONE,
	VM_STOP_POWEROFF,
	VM_STOP_RESET,
	VM_STOP_PANIC,
	VM_STOP_DEBUG_EXIT,
	VM_STOP_TIMEOUT,
	VM_STOP_SIGNAL,
	VM_STOP_USER_QUIT,
	VM_STOP_ERROR,
	VM_STOP_QMP_QUIT, /* QMP quit: exit status 0 */
};

struct vm_virtio_dev;
struct acpi_config;
struct qmp_server;
struct snapshot_in;

/*
 * Pausing (vm_pause.c): every vCPU thread out of KVM_RUN and parked in its
 * checkpoint until vm_resume(). Lock order: lock is a leaf, never held
 * around a device lock or stop_lock.
 */
struct vm_pause {
	pthread_mutex_t lock;
	pthread_cond_t cond;   /* nparked/nrunning changed, or resumed */
	bool requested;	       /* written under lock, read atomically */
	unsigned int nrunning; /* vCPU threads between start and exit */
	unsigned int nparked;  /* of those, parked now */
};

struct vm {
	const struct vmm_config *cfg;
	struct snapshot_in *incoming; /* --incoming: the snapshot being restored */
	bool pvm;
	int kvm_fd;
	int vm_fd;
	int run_size; /* mmap size of struct kvm_run */
	struct guest_mem mem;
	struct bus pio;
	struct bus mmio;
	struct event_loop loop;

	struct serial serial;
	struct irq_line com1_irq;
	struct platform_devs platform;
	struct rtc rtc;
	struct ged ged; /* the ACPI power button's event device */
	struct irq_line ged_irq;

	struct vm_virtio_dev *virtio; /* vm_virtio.c: one per --disk, then one per --net */
	unsigned int nvirtio;

	struct elf_syms syms;	  /* the kernel's symbols, for the vCPU state dump */
	bool syms_tried;	  /* syms read (or tried) at the first dump */
	struct vcpu_env vcpu_env; /* what every vCPU gets from the VM */
	struct vcpu *vcpus;
	unsigned int ncpus;
	unsigned int nstarted;

	struct term term; /* the console: raw mode, stdin, Ctrl-A, --console-log */
	struct el_source signal_src;
	struct el_source timer_src;
	int signal_fd;
	int timer_fd;

	uint64_t timeout_deadline_ns;
	uint64_t first_run_ns; /* CLOCK_MONOTONIC just before vCPU 0's first KVM_RUN */

	/* Lock order: stop_lock is a leaf (taken under device locks). */
	pthread_mutex_t stop_lock;
	enum vm_stop_reason stop_reason;
	int exit_status;

	struct vm_pause pause;

	/* --api-sock: main.c's QMP server, attached by vm_qmp_attach() (NULL:
	 * none); whether the stop in force came from QMP system_reset */
	struct qmp_server *qmp;
	bool qmp_reset;
	struct qmp_migrate_info migrate; /* the last QMP migrate's outcome */
};

/* Build the machine described by cfg. timeout_deadline_ns: CLOCK_MONOTONIC
 * instant at which the VM stops with VM_EXIT_TIMEOUT (0: never). On failure
 * prints one line and returns a negative errno (the caller exits 1). */
int vm_create(struct vm *vm, const struct vmm_config *cfg, uint64_t timeout_deadline_ns)
	__attribute__((warn_unused_result));

/* vm_create() for --incoming: the same machine, but its RAM and state come
 * from the snapshot `in` (kept open by the caller while the VM exists)
 * instead of a kernel being loaded. */
int vm_create_incoming(struct vm *vm, const struct vmm_config *cfg, uint64_t timeout_deadline_ns,
		       struct snapshot_in *in) __attribute__((warn_unused_result));

/* Run until the guest or the user ends the VM; returns the exit status. */
int vm_run(struct vm *vm);

void vm_destroy(struct vm *vm);

/* Ask the VM to stop with `status` (first caller wins: returns whether this
 * was the first). Any thread. */
bool vm_request_stop(struct vm *vm, enum vm_stop_reason reason, int status);

bool vm_stopping(struct vm *vm);

/*
 * vm_pause.c. vm_pause() returns once no vCPU is in KVM_RUN or will enter
 * it before vm_resume(): those running are kicked out and parked, those not
 * started yet park before their first KVM_RUN, those leaving (the VM is
 * stopping) leave. The vCPUs' state is then consistent and may be read or
 * written with the state ioctls from this thread. Both are idempotent and
 * return 0; -ESHUTDOWN if the VM is stopping. Never from a vCPU thread
 * (it would wait for itself). vm_paused(): whether a pause is in force.
 */
int vm_pause(struct vm *vm) __attribute__((warn_unused_result));
int vm_resume(struct vm *vm);
bool vm_paused(struct vm *vm);
/* vm.c's helpers for vm_pause.c: set up/tear down vm->pause, the vCPUs'
 * checkpoint callback, and (vm_run, once stopping) release parked vCPUs. */
void vm_pause_init(struct vm *vm);
void vm_pause_destroy(struct vm *vm);
void vm_pause_checkpoint(void *opaque, struct vcpu *vcpu, enum vcpu_checkpoint where);
void vm_pause_release(struct vm *vm);

/* vm_qmp.c: serve QMP from srv on this VM's event loop (logs why it
 * failed); vm_run() reports the stop (SHUTDOWN or RESET) through
 * vm_qmp_stopped(). */
int vm_qmp_attach(struct vm *vm, struct qmp_server *srv) __attribute__((warn_unused_result));
void vm_qmp_stopped(struct vm *vm);
void vm_qmp_detach(struct vm *vm);

/* vm_virtio.c: the virtio devices, in vm_create()'s order. */
int vm_virtio_open(struct vm *vm) __attribute__((warn_unused_result));
void vm_virtio_describe(struct vm *vm, struct acpi_config *acpi);
/* virtio_mmio.device=... for --virtio-cmdline (NULL otherwise); caller frees. */
int vm_virtio_cmdline(struct vm *vm, char **out) __attribute__((warn_unused_result));
int vm_virtio_attach(struct vm *vm) __attribute__((warn_unused_result));
void vm_virtio_destroy(struct vm *vm);
/* Snapshots: the virtio-mmio transport state of device i and its backend's
 * (libslirp's state, malloc'd, for --net user); -ENOTSUP for other NICs,
 * -EBUSY with requests in flight. */
struct virtio_mmio_state;
int vm_virtio_state_save(struct vm *vm, unsigned int i, struct virtio_mmio_state *st,
			 uint8_t **backend, size_t *backend_len, int *backend_version, char *err,
			 size_t errlen) __attribute__((warn_unused_result));
int vm_virtio_state_load(struct vm *vm, unsigned int i, const struct virtio_mmio_state *st,
			 const uint8_t *backend, size_t backend_len, int backend_version, char *err,
			 size_t errlen) __attribute__((warn_unused_result));
/* Complete device i's finished I/O now (virtio_blk_poll), from any thread. */
void vm_virtio_poll(struct vm *vm, unsigned int i);

#endif /* VMM_VM_H */
