/* SPDX-License-Identifier: MIT */
/*
 * The vCPU threads (see vcpu.h): create a vCPU, run its KVM_RUN loop,
 * dispatch its exits to the buses, stop it. Called by vm.c only.
 */
#include "vmm/vcpu.h"

#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <unistd.h>

#include "arch/x86/cpu.h"
#include "arch/x86/pvm.h"
#include "base/clock.h"
#include "base/log.h"
#include "base/thread_hook.h"
#include "vmm/vcpu_dump.h"

static void kick_handler(int sig)
{
	(void)sig; /* only there to make KVM_RUN return -EINTR */
}

void vcpu_install_kick_handler(void)
{
	struct sigaction sa;

	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = kick_handler;
	sigemptyset(&sa.sa_mask);
	sigaction(VCPU_KICK_SIGNAL, &sa, NULL);
}

/* SIGINT/SIGTERM/SIGHUP are read through a signalfd by the event loop and
 * the vCPU kick signal is unblocked only on vCPU threads, so block them all
 * before any thread starts (threads inherit the mask). */
void vcpu_block_process_signals(void)
{
	sigset_t set;

	vcpu_install_kick_handler();
	sigemptyset(&set);
	sigaddset(&set, SIGINT);
	sigaddset(&set, SIGTERM);
	sigaddset(&set, SIGHUP);
	sigaddset(&set, VCPU_KICK_SIGNAL);
	sigaddset(&set, VCPU_DUMP_SIGNAL);
	pthread_sigmask(SIG_BLOCK, &set, NULL);
	signal(SIGPIPE, SIG_IGN); /* a closed console must not kill the VM */
}

int vcpu_create(struct vcpu *vcpu, const struct vcpu_env *env, unsigned int id,
		const struct kvm_cpuid2 *cpuid)
{
	void *run;
	int ret;

	memset(vcpu, 0, sizeof(*vcpu));
	vcpu->env = env;
	vcpu->id = id;
	vcpu->fd = ioctl(env->vm_fd, KVM_CREATE_VCPU, (unsigned long)id);
	if (vcpu->fd < 0) {
		ret = -errno;
		log_err("cannot create vCPU %u: %s", id, strerror(-ret));
		return ret;
	}
	run = mmap(NULL, (size_t)env->run_size, PROT_READ | PROT_WRITE, MAP_SHARED, vcpu->fd, 0);
	if (run == MAP_FAILED) {
		ret = -errno;
		log_err("cannot map kvm_run of vCPU %u: %s", id, strerror(-ret));
		goto err_close;
	}
	vcpu->run = run;
	ret = x86_vcpu_set_cpuid(vcpu->fd, cpuid, id, env->ncpus);
	if (ret) {
		log_err("cannot set CPUID of vCPU %u: %s", id, strerror(-ret));
		goto err_unmap;
	}
	ret = x86_vcpu_init_common(vcpu->fd);
	if (ret) {
		log_err("cannot initialise vCPU %u: %s", id, strerror(-ret));
		goto err_unmap;
	}
	/* Only the boot CPU gets registers; the application processors stay
	 * in KVM's wait-for-SIPI state until the guest wakes them with
	 * INIT/SIPI through its LAPIC (MP spec B.4). */
	return 0;
err_unmap:
	munmap(vcpu->run, (size_t)env->run_size);
	vcpu->run = NULL;
err_close:
	close(vcpu->fd);
	vcpu->fd = -1;
	return ret;
}

static void handle_io(struct vcpu *vcpu)
{
	struct kvm_run *run = vcpu->run;
	uint8_t *data = (uint8_t *)run + run->io.data_offset;
	bool write = run->io.direction == KVM_EXIT_IO_OUT;
	uint32_t i;

	if (vcpu->env->trace)
		exit_trace_access(&vcpu->trace, false, write, run->io.port);
	/* string I/O (rep outsb/insb) arrives as `count` back-to-back items */
	for (i = 0; i < run->io.count; i++, data += run->io.size) {
		if (write)
			(void)bus_write(vcpu->env->pio, run->io.port, data, run->io.size);
		else
			(void)bus_read(vcpu->env->pio, run->io.port, data, run->io.size);
	}
}

static void handle_mmio(struct vcpu *vcpu)
{
	struct kvm_run *run = vcpu->run;
	uint32_t len = run->mmio.len;

	if (vcpu->env->trace)
		exit_trace_access(&vcpu->trace, true, run->mmio.is_write, run->mmio.phys_addr);
	if (len > sizeof(run->mmio.data))
		return;
	if (run->mmio.is_write)
		(void)bus_write(vcpu->env->mmio, run->mmio.phys_addr, run->mmio.data, len);
	else
		(void)bus_read(vcpu->env->mmio, run->mmio.phys_addr, run->mmio.data, len);
}

static void report_internal_error(struct vcpu *vcpu)
{
	struct kvm_regs regs;
	uint64_t rip = 0;

	if (ioctl(vcpu->fd, KVM_GET_REGS, &regs) == 0)
		rip = regs.rip;
	log_err("vCPU %u: KVM internal error, suberror %u at rip 0x%llx", vcpu->id,
		vcpu->run->internal.suberror, (unsigned long long)rip);
}

/* An exit that ends the VM: tell the owner, stop this thread. */
static bool vcpu_stop(struct vcpu *vcpu, enum vcpu_stop why)
{
	vcpu->env->stop(vcpu->env->opaque, why);
	return false;
}

/* Handle one exit. Returns false when the vCPU must stop running. */
static bool handle_exit(struct vcpu *vcpu)
{
	const struct vcpu_env *env = vcpu->env;
	struct kvm_run *run = vcpu->run;

	if (env->trace)
		exit_trace_reason(&vcpu->trace, run->exit_reason);
	switch (run->exit_reason) {
	case KVM_EXIT_IO:
		handle_io(vcpu);
		return true;
	case KVM_EXIT_MMIO:
		handle_mmio(vcpu);
		return true;
	case KVM_EXIT_INTR:
	case KVM_EXIT_IRQ_WINDOW_OPEN:
	case KVM_EXIT_HLT: /* only without an in-kernel LAPIC; we always have one */
		return true;
	case KVM_EXIT_SHUTDOWN:
		/* a triple fault: the CPU resets, as a PC would */
		log_info("vCPU %u: triple fault, resetting", vcpu->id);
		return vcpu_stop(vcpu, VCPU_STOP_RESET);
	case KVM_EXIT_SYSTEM_EVENT:
		if (run->system_event.type == KVM_SYSTEM_EVENT_RESET)
			return vcpu_stop(vcpu, VCPU_STOP_RESET);
		return vcpu_stop(vcpu, VCPU_STOP_POWEROFF);
	case KVM_EXIT_INTERNAL_ERROR:
		if (env->pvm_mem && pvm_handle_emulation_failure(vcpu->fd, run, env->pvm_mem) == 0)
			return true;
		report_internal_error(vcpu);
		return vcpu_stop(vcpu, VCPU_STOP_ERROR);
	case KVM_EXIT_FAIL_ENTRY:
		log_err("vCPU %u: VM entry failed, hardware reason 0x%llx", vcpu->id,
			(unsigned long long)run->fail_entry.hardware_entry_failure_reason);
		return vcpu_stop(vcpu, VCPU_STOP_ERROR);
	default:
		log_err("vCPU %u: unhandled exit reason %u", vcpu->id, run->exit_reason);
		return vcpu_stop(vcpu, VCPU_STOP_ERROR);
	}
}

/* KVM_RUN once. Returns 0 after an exit to handle, -EAGAIN to run again,
 * or another negative errno when the vCPU must stop. */
static int vcpu_run_once(struct vcpu *vcpu)
{
	const struct vcpu_env *env = vcpu->env;
	int ret;

	if (env->trace)
		exit_trace_run_begin(&vcpu->trace, clock_monotonic_ns());
	ret = ioctl(vcpu->fd, KVM_RUN, 0);
	if (env->trace)
		exit_trace_run_end(&vcpu->trace, clock_monotonic_ns());
	if (ret == 0)
		return 0;
	if (errno == EINTR || errno == EAGAIN) {
		/* EINTR: kicked (or a stray signal); EAGAIN: an AP not yet
		 * woken by SIPI on PVM. Either way retry unless we are
		 * stopping. */
		vcpu->run->immediate_exit = 0;
		return -EAGAIN;
	}
	ret = -errno;
	log_err("vCPU %u: KVM_RUN failed: %s", vcpu->id, strerror(-ret));
	vcpu_stop(vcpu, VCPU_STOP_ERROR);
	return ret;
}

static void *vcpu_thread(void *arg)
{
	struct vcpu *vcpu = arg;
	const struct vcpu_env *env = vcpu->env;
	char name[16];
	sigset_t set;

	snprintf(name, sizeof(name), "vcpu%u", vcpu->id);
	pthread_setname_np(pthread_self(), name);
	/* The kick signal is blocked everywhere else; here it interrupts KVM_RUN. */
	sigemptyset(&set);
	sigaddset(&set, VCPU_KICK_SIGNAL);
	pthread_sigmask(SIG_UNBLOCK, &set, NULL);
	thread_hook_run(THREAD_KIND_VCPU); /* the sandbox: from here KVM_RUN and the devices */

	if (env->checkpoint)
		env->checkpoint(env->opaque, vcpu, VCPU_CP_START);
	if (vcpu->id == 0 && env->first_run_ns)
		*env->first_run_ns = clock_monotonic_ns();
	while (!env->stopping(env->opaque)) {
		int ret = vcpu_run_once(vcpu);

		/* after the immediate_exit reset in vcpu_run_once: a dump request
		 * made after it still finds its kick pending (vcpu_dump.h) */
		vcpu_dump_answer(vcpu);
		if (ret == -EAGAIN) {
			/* only here, after a KVM_RUN that completed whatever the
			 * previous exit left pending (KVM's api.rst, KVM_RUN) */
			if (env->checkpoint)
				env->checkpoint(env->opaque, vcpu, VCPU_CP_KICKED);
			continue;
		}
		if (ret < 0 || !handle_exit(vcpu))
			break;
	}
	if (env->checkpoint)
		env->checkpoint(env->opaque, vcpu, VCPU_CP_EXIT);
	__atomic_store_n(&vcpu->exited, 1, __ATOMIC_RELEASE);
	vcpu_dump_answer(vcpu); /* a request that came while we were leaving */
	return NULL;
}

int vcpu_start(struct vcpu *vcpu)
{
	int ret = pthread_create(&vcpu->thread, NULL, vcpu_thread, vcpu);

	return -ret;
}

void vcpu_kick_thread(struct vcpu *vcpu, pthread_t t)
{
	/* immediate_exit covers the window before the thread enters KVM_RUN;
	 * the signal covers a thread already inside it. */
	__atomic_store_n(&vcpu->run->immediate_exit, 1, __ATOMIC_SEQ_CST);
	pthread_kill(t, VCPU_KICK_SIGNAL);
}

void vcpu_kick(struct vcpu *vcpu)
{
	vcpu_kick_thread(vcpu, vcpu->thread);
}

void vcpu_join(struct vcpu *vcpu)
{
	pthread_join(vcpu->thread, NULL);
}

void vcpu_destroy(struct vcpu *vcpu)
{
	if (vcpu->run)
		munmap(vcpu->run, (size_t)vcpu->env->run_size);
	if (vcpu->fd >= 0)
		close(vcpu->fd);
	vcpu->run = NULL;
	vcpu->fd = -1;
}
