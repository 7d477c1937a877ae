/* SPDX-License-Identifier: MIT */
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
#include "base/log.h"
#include "vmm/vm.h"

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

int vcpu_create(struct vm *vm, struct vcpu *vcpu, unsigned int id, const struct kvm_cpuid2 *cpuid)
{
	void *run;
	int ret;

	memset(vcpu, 0, sizeof(*vcpu));
	vcpu->vm = vm;
	vcpu->id = id;
	vcpu->fd = ioctl(vm->vm_fd, KVM_CREATE_VCPU, (unsigned long)id);
	if (vcpu->fd < 0) {
		ret = -errno;
		log_err("cannot create vCPU %u: %s", id, strerror(-ret));
		return ret;
	}
	run = mmap(NULL, (size_t)vm->run_size, PROT_READ | PROT_WRITE, MAP_SHARED, vcpu->fd, 0);
	if (run == MAP_FAILED) {
		ret = -errno;
		log_err("cannot map kvm_run of vCPU %u: %s", id, strerror(-ret));
		goto err_close;
	}
	vcpu->run = run;
	ret = x86_vcpu_set_cpuid(vcpu->fd, cpuid, id, vm->ncpus);
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
	munmap(vcpu->run, (size_t)vm->run_size);
	vcpu->run = NULL;
err_close:
	close(vcpu->fd);
	vcpu->fd = -1;
	return ret;
}

static void trace_access(struct vcpu_stats *st, bool mmio, bool write, uint64_t addr)
{
	uint64_t key = addr | (mmio ? 1ULL << 63 : 0) | (write ? 1ULL << 62 : 0);
	unsigned int h = (unsigned int)((key * 0x9e3779b97f4a7c15ULL) >> 58), i;

	for (i = 0; i < VCPU_TRACE_SLOTS; i++) {
		struct vcpu_trace_slot *s = &st->slots[(h + i) % VCPU_TRACE_SLOTS];

		if (s->count && s->key != key)
			continue;
		s->key = key;
		s->count++;
		return;
	}
	st->slots_overflow++;
}

static void handle_io(struct vcpu *vcpu)
{
	struct kvm_run *run = vcpu->run;
	uint8_t *data = (uint8_t *)run + run->io.data_offset;
	bool write = run->io.direction == KVM_EXIT_IO_OUT;
	uint32_t i;

	if (vcpu->vm->cfg->trace_exits)
		trace_access(&vcpu->stats, false, write, run->io.port);
	/* string I/O (rep outsb/insb) arrives as `count` back-to-back items */
	for (i = 0; i < run->io.count; i++, data += run->io.size) {
		if (write)
			(void)bus_write(&vcpu->vm->pio, run->io.port, data, run->io.size);
		else
			(void)bus_read(&vcpu->vm->pio, run->io.port, data, run->io.size);
	}
}

static void handle_mmio(struct vcpu *vcpu)
{
	struct kvm_run *run = vcpu->run;
	uint32_t len = run->mmio.len;

	if (vcpu->vm->cfg->trace_exits)
		trace_access(&vcpu->stats, true, run->mmio.is_write, run->mmio.phys_addr);
	if (len > sizeof(run->mmio.data))
		return;
	if (run->mmio.is_write)
		(void)bus_write(&vcpu->vm->mmio, run->mmio.phys_addr, run->mmio.data, len);
	else
		(void)bus_read(&vcpu->vm->mmio, run->mmio.phys_addr, run->mmio.data, len);
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

/* Handle one exit. Returns false when the vCPU must stop running. */
static bool handle_exit(struct vcpu *vcpu)
{
	struct vm *vm = vcpu->vm;
	struct kvm_run *run = vcpu->run;

	if (run->exit_reason < 64)
		vcpu->stats.exits_by_reason[run->exit_reason]++;
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
		vm_request_stop(vm, VM_STOP_RESET, VM_EXIT_RESET);
		return false;
	case KVM_EXIT_SYSTEM_EVENT:
		if (run->system_event.type == KVM_SYSTEM_EVENT_RESET)
			vm_request_stop(vm, VM_STOP_RESET, VM_EXIT_RESET);
		else
			vm_request_stop(vm, VM_STOP_POWEROFF, VM_EXIT_POWEROFF);
		return false;
	case KVM_EXIT_INTERNAL_ERROR:
		if (vm->pvm && pvm_handle_emulation_failure(vcpu->fd, run, &vm->mem) == 0)
			return true;
		report_internal_error(vcpu);
		vm_request_stop(vm, VM_STOP_ERROR, VM_EXIT_ERROR);
		return false;
	case KVM_EXIT_FAIL_ENTRY:
		log_err("vCPU %u: VM entry failed, hardware reason 0x%llx", vcpu->id,
			(unsigned long long)run->fail_entry.hardware_entry_failure_reason);
		vm_request_stop(vm, VM_STOP_ERROR, VM_EXIT_ERROR);
		return false;
	default:
		log_err("vCPU %u: unhandled exit reason %u", vcpu->id, run->exit_reason);
		vm_request_stop(vm, VM_STOP_ERROR, VM_EXIT_ERROR);
		return false;
	}
}

static void *vcpu_thread(void *arg)
{
	struct vcpu *vcpu = arg;
	struct vm *vm = vcpu->vm;
	char name[16];
	sigset_t set;

	snprintf(name, sizeof(name), "vcpu%u", vcpu->id);
	pthread_setname_np(pthread_self(), name);
	/* The kick signal is blocked everywhere else; here it interrupts KVM_RUN. */
	sigemptyset(&set);
	sigaddset(&set, VCPU_KICK_SIGNAL);
	pthread_sigmask(SIG_UNBLOCK, &set, NULL);

	if (vcpu->id == 0)
		vm->first_run_ns = vm_monotonic_ns();
	while (!vm_stopping(vm)) {
		int ret;

		/* --trace-exits: time spent in vmm between two KVM_RUNs */
		if (vm->cfg->trace_exits && vcpu->stats.runs)
			vcpu->stats.user_ns += vm_monotonic_ns() - vcpu->stats.exit_ns;
		ret = ioctl(vcpu->fd, KVM_RUN, 0);
		if (vm->cfg->trace_exits)
			vcpu->stats.exit_ns = vm_monotonic_ns();
		vcpu->stats.runs++;
		if (ret < 0) {
			if (errno == EINTR || errno == EAGAIN) {
				/* EINTR: kicked (or a stray signal); EAGAIN: an AP
				 * not yet woken by SIPI on PVM. Either way retry
				 * unless we are stopping. */
				vcpu->run->immediate_exit = 0;
				continue;
			}
			log_err("vCPU %u: KVM_RUN failed: %s", vcpu->id, strerror(errno));
			vm_request_stop(vm, VM_STOP_ERROR, VM_EXIT_ERROR);
			break;
		}
		if (!handle_exit(vcpu))
			break;
	}
	return NULL;
}

int vcpu_start(struct vcpu *vcpu)
{
	int ret = pthread_create(&vcpu->thread, NULL, vcpu_thread, vcpu);

	return -ret;
}

void vcpu_kick(struct vcpu *vcpu)
{
	/* immediate_exit covers the window before the thread enters KVM_RUN;
	 * the signal covers a thread already inside it. */
	__atomic_store_n(&vcpu->run->immediate_exit, 1, __ATOMIC_SEQ_CST);
	pthread_kill(vcpu->thread, VCPU_KICK_SIGNAL);
}

void vcpu_join(struct vcpu *vcpu)
{
	pthread_join(vcpu->thread, NULL);
}

void vcpu_destroy(struct vcpu *vcpu)
{
	if (vcpu->run)
		munmap(vcpu->run, (size_t)vcpu->vm->run_size);
	if (vcpu->fd >= 0)
		close(vcpu->fd);
	vcpu->run = NULL;
	vcpu->fd = -1;
}

static const char *exit_reason_name(unsigned int r)
{
	static const char *const names[] = {
		[KVM_EXIT_UNKNOWN] = "unknown",
		[KVM_EXIT_EXCEPTION] = "exception",
		[KVM_EXIT_IO] = "io",
		[KVM_EXIT_HYPERCALL] = "hypercall",
		[KVM_EXIT_DEBUG] = "debug",
		[KVM_EXIT_HLT] = "hlt",
		[KVM_EXIT_MMIO] = "mmio",
		[KVM_EXIT_IRQ_WINDOW_OPEN] = "irq_window_open",
		[KVM_EXIT_SHUTDOWN] = "shutdown",
		[KVM_EXIT_FAIL_ENTRY] = "fail_entry",
		[KVM_EXIT_INTR] = "intr",
		[KVM_EXIT_INTERNAL_ERROR] = "internal_error",
		[KVM_EXIT_SYSTEM_EVENT] = "system_event",
	};

	if (r < sizeof(names) / sizeof(names[0]) && names[r])
		return names[r];
	return "other";
}

void vcpu_print_trace(struct vcpu *vcpus, unsigned int n)
{
	struct vcpu_trace_slot merged[VCPU_TRACE_SLOTS * 4];
	uint64_t reasons[64] = { 0 }, runs = 0, overflow = 0, user_ns = 0;
	unsigned int nmerged = 0, i, j, k;

	for (i = 0; i < n; i++) {
		runs += vcpus[i].stats.runs;
		user_ns += vcpus[i].stats.user_ns;
		overflow += vcpus[i].stats.slots_overflow;
		for (j = 0; j < 64; j++)
			reasons[j] += vcpus[i].stats.exits_by_reason[j];
		for (j = 0; j < VCPU_TRACE_SLOTS; j++) {
			const struct vcpu_trace_slot *s = &vcpus[i].stats.slots[j];

			if (!s->count)
				continue;
			for (k = 0; k < nmerged && merged[k].key != s->key; k++)
				;
			if (k == nmerged) {
				if (nmerged == sizeof(merged) / sizeof(merged[0])) {
					overflow += s->count;
					continue;
				}
				merged[nmerged++] = (struct vcpu_trace_slot){ s->key, 0 };
			}
			merged[k].count += s->count;
		}
	}
	/* most frequent first (insertion sort: the table is small) */
	for (i = 1; i < nmerged; i++)
		for (j = i; j > 0 && merged[j].count > merged[j - 1].count; j--) {
			struct vcpu_trace_slot t = merged[j];

			merged[j] = merged[j - 1];
			merged[j - 1] = t;
		}
	fprintf(stderr,
		"vmm: VM exits: %llu KVM_RUN calls on %u vCPUs, %.0f ns in vmm per exit\r\n",
		(unsigned long long)runs, n, runs > n ? (double)user_ns / (double)(runs - n) : 0.0);
	for (j = 0; j < 64; j++)
		if (reasons[j])
			fprintf(stderr, "vmm:   %-16s %12llu\r\n", exit_reason_name(j),
				(unsigned long long)reasons[j]);
	fprintf(stderr, "vmm: by address:\r\n");
	for (i = 0; i < nmerged; i++) {
		uint64_t key = merged[i].key;

		fprintf(stderr, "vmm:   %s %-5s 0x%-10llx %12llu\r\n", key >> 63 ? "mmio" : "pio ",
			(key >> 62) & 1 ? "write" : "read",
			(unsigned long long)(key & ((1ULL << 62) - 1)),
			(unsigned long long)merged[i].count);
	}
	if (overflow)
		fprintf(stderr, "vmm:   (other addresses) %llu\r\n", (unsigned long long)overflow);
}
