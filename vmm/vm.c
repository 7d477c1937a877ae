/* SPDX-License-Identifier: MIT */
/*
 * The composition root: the one place that knows every layer. Reading
 * vm_create() from top to bottom is the tour of how a VM is put together;
 * main.c calls vm_create(), vm_run() and vm_destroy().
 *
 * What it composes lives elsewhere: the x86 VM setup in arch/x86/vm.c, the
 * virtio devices in vm_virtio.c, the vCPU threads in vcpu.c (their
 * --trace-exits counters in exit_trace.c), the console in term.c.
 */
#include "vmm/vm.h"

#include <errno.h>
#include <fcntl.h>
#include <linux/kvm.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/ioctl.h>
#include <sys/signalfd.h>
#include <sys/timerfd.h>
#include <time.h>
#include <unistd.h>

#include "arch/x86/boot.h"
#include "arch/x86/cpu.h"
#include "arch/x86/pvm.h"
#include "arch/x86/vm.h"
#include "firmware/acpi.h"
#include "firmware/e820.h"
#include "firmware/mptable.h"
#include "base/clock.h"
#include "base/layout.h"
#include "base/log.h"
#include "base/thread_hook.h"
#include "vmm/snapshot.h"
#include "vmm/term.h"
#include "vmm/exec.h"
#include "vmm/vcpu.h"
#include "vmm/vcpu_dump.h"
#include "vmm/jail.h"

#define KVM_API_EXPECTED 12

/* ---------------------------------------------------------------- KVM */

static int kvm_open_checked(void)
{
	static const struct {
		int cap;
		const char *name;
	} required[] = {
		{ KVM_CAP_IRQCHIP, "KVM_CAP_IRQCHIP" },
		{ KVM_CAP_USER_MEMORY, "KVM_CAP_USER_MEMORY" },
		{ KVM_CAP_SET_TSS_ADDR, "KVM_CAP_SET_TSS_ADDR" },
		{ KVM_CAP_EXT_CPUID, "KVM_CAP_EXT_CPUID" },
		{ KVM_CAP_PIT2, "KVM_CAP_PIT2" },
		{ KVM_CAP_IRQFD, "KVM_CAP_IRQFD" },
		{ KVM_CAP_IOEVENTFD, "KVM_CAP_IOEVENTFD" },
		{ KVM_CAP_IMMEDIATE_EXIT, "KVM_CAP_IMMEDIATE_EXIT" },
		{ KVM_CAP_MP_STATE, "KVM_CAP_MP_STATE" },
	};
	unsigned int i;
	int fd, api;

	fd = open("/dev/kvm", O_RDWR | O_CLOEXEC);
	if (fd < 0) {
		int e = errno;

		if (e == ENOENT)
			log_err("/dev/kvm does not exist: KVM is not available on this host "
				"(load kvm_intel or kvm_amd, or enable virtualization in the "
				"firmware)");
		else if (e == EACCES || e == EPERM)
			log_err("no permission to open /dev/kvm: add your user to the 'kvm' group "
				"or run as root");
		else
			log_err("cannot open /dev/kvm: %s", strerror(e));
		return -e;
	}
	api = ioctl(fd, KVM_GET_API_VERSION, 0);
	if (api != KVM_API_EXPECTED) {
		log_err("/dev/kvm speaks KVM API version %d, vmm needs %d", api, KVM_API_EXPECTED);
		close(fd);
		return -ENOTSUP;
	}
	for (i = 0; i < sizeof(required) / sizeof(required[0]); i++) {
		if (ioctl(fd, KVM_CHECK_EXTENSION, required[i].cap) <= 0) {
			log_err("this KVM lacks %s, which vmm needs", required[i].name);
			close(fd);
			return -ENOTSUP;
		}
	}
	return fd;
}

static int vm_setup_kvm(struct vm *vm)
{
	int max_vcpus, ret;
	char err[256];

	vm->kvm_fd = kvm_open_checked();
	if (vm->kvm_fd < 0)
		return vm->kvm_fd;
	max_vcpus = ioctl(vm->kvm_fd, KVM_CHECK_EXTENSION, KVM_CAP_MAX_VCPUS);
	if (max_vcpus <= 0)
		max_vcpus = ioctl(vm->kvm_fd, KVM_CHECK_EXTENSION, KVM_CAP_NR_VCPUS);
	if (max_vcpus > 0 && vm->ncpus > (unsigned int)max_vcpus) {
		log_err("--cpus %u: this KVM supports at most %d vCPUs", vm->ncpus, max_vcpus);
		return -EINVAL;
	}
	vm->run_size = ioctl(vm->kvm_fd, KVM_GET_VCPU_MMAP_SIZE, 0);
	if (vm->run_size < (int)sizeof(struct kvm_run)) {
		log_err("KVM_GET_VCPU_MMAP_SIZE failed: %s", strerror(errno));
		return -EIO;
	}
	vm->vm_fd = ioctl(vm->kvm_fd, KVM_CREATE_VM, 0);
	if (vm->vm_fd < 0) {
		ret = -errno; /* before log_err can change errno */
		log_err("KVM_CREATE_VM failed: %s", strerror(-ret));
		return ret;
	}
	ret = x86_vm_setup(vm->kvm_fd, vm->vm_fd, err, sizeof(err));
	if (ret) {
		log_err("%s", err);
		return ret;
	}
	return 0;
}

static int vm_setup_memory(struct vm *vm)
{
	char err[256] = "";
	unsigned int i;
	int ret;

	ret = gm_init(&vm->mem, vm->cfg->mem_size, LAYOUT_MMIO_HOLE_START, LAYOUT_MMIO_HOLE_END,
		      vm->cfg->hugepages, err, sizeof(err));
	if (ret) {
		log_err("%s", err[0] ? err : strerror(-ret));
		return ret;
	}
	/* --incoming: the RAM is the snapshot file's, mapped before KVM sees it */
	if (vm->incoming) {
		ret = vm_snapshot_map_ram(vm, err, sizeof(err));
		if (ret) {
			log_err("%s", err);
			return ret;
		}
	}
	for (i = 0; i < vm->mem.nregions; i++) {
		const struct gm_region *r = &vm->mem.regions[i];
		struct kvm_userspace_memory_region region = {
			.slot = i,
			.guest_phys_addr = r->gpa,
			.memory_size = r->size,
			.userspace_addr = (uint64_t)(uintptr_t)r->host,
		};

		if (ioctl(vm->vm_fd, KVM_SET_USER_MEMORY_REGION, &region) < 0) {
			ret = -errno;
			log_err("KVM_SET_USER_MEMORY_REGION failed: %s", strerror(-ret));
			return ret;
		}
	}
	return 0;
}

/* ---------------------------------------------------------- firmware+boot */

/* --exec: the init's initramfs and command-line words (nothing otherwise). */
static int vm_exec_prepare(struct vm *vm, struct exec_boot *exec)
{
	char err[512];
	int ret;

	memset(exec, 0, sizeof(*exec));
	if (!vm->cfg->exec)
		return 0;
	/* the root is the first --share (cli.c adds the host's / when none) */
	ret = exec_boot_prepare(vm->cfg->exec,
				vm->cfg->nshares ? vm->cfg->shares[0].tag : EXEC_ROOT_TAG,
				LAYOUT_PORT_DEBUG_EXIT, vm->cfg->kernel, exec, err, sizeof(err));
	if (ret)
		log_err("%s", err);
	return ret;
}

static int vm_load_guest(struct vm *vm, uint64_t *entry, uint64_t *zero_page)
{
	struct e820_entry e820[E820_MAX_ENTRIES];
	struct exec_boot exec;
	struct x86_boot_result boot;
	struct acpi_config acpi;
	char *cmdline, *virtio;
	int n, ret;

	n = e820_build(&vm->mem, e820, E820_MAX_ENTRIES);
	if (n < 0) {
		log_err("cannot build the e820 map: %s", strerror(-n));
		return n;
	}
	ret = vm_exec_prepare(vm, &exec);
	if (ret)
		return ret;
	ret = vm_virtio_cmdline(vm, &virtio);
	if (ret) {
		exec_boot_free(&exec);
		return ret;
	}
	/* --exec: quiet first, so the user's --cmdline (loglevel=7) can undo it. */
	ret = asprintf(&cmdline, "%s%s%s%s%s%s%s%s", exec.cmdline ? "quiet panic=-1 " : "",
		       vm->cfg->cmdline, virtio ? " " : "", virtio ? virtio : "",
		       vm->pvm ? " " : "", vm->pvm ? pvm_cmdline_extra() : "",
		       exec.cmdline ? " " : "", exec.cmdline ? exec.cmdline : "");
	free(virtio);
	if (ret < 0)
		exec_boot_free(&exec);
	if (ret < 0) {
		log_err("cannot build the kernel command line: %s", strerror(ENOMEM));
		return -ENOMEM;
	}
	memset(&boot, 0, sizeof(boot));
	ret = x86_load_kernel(&vm->mem,
			      &(struct x86_boot_request){
				      .kernel_path = vm->cfg->kernel,
				      .initrd_path = exec.initrd ? exec.initrd : vm->cfg->initrd,
				      .cmdline = cmdline,
				      .e820 = e820,
				      .ne820 = (unsigned int)n,
			      },
			      &boot);
	free(cmdline);
	exec_boot_free(&exec);
	if (ret) {
		log_err("%s", boot.err[0] ? boot.err : strerror(-ret));
		return ret;
	}
	log_info("kernel %s: %s, entry 0x%llx", vm->cfg->kernel,
		 boot.kind == X86_KERNEL_BZIMAGE ? "bzImage" : "ELF",
		 (unsigned long long)boot.entry);

	memset(&acpi, 0, sizeof(acpi));
	acpi.ncpus = vm->ncpus;
	acpi.ged_port = LAYOUT_PORT_GED;
	acpi.ged_irq = LAYOUT_GED_IRQ;
	vm_virtio_describe(vm, &acpi);
	ret = acpi_write_tables(&vm->mem, LAYOUT_ACPI_START, LAYOUT_ACPI_END, &acpi);
	if (ret) {
		log_err("cannot write the ACPI tables: %s", strerror(-ret));
		return ret;
	}
	ret = mptable_write(&vm->mem, LAYOUT_MPTABLE_START, LAYOUT_BIOS_END, vm->ncpus);
	if (ret) {
		log_err("cannot write the MP table: %s", strerror(-ret));
		return ret;
	}
	ret = x86_write_boot_tables(&vm->mem);
	if (ret) {
		log_err("cannot write the boot page tables: %s", strerror(-ret));
		return ret;
	}
	*entry = boot.entry;
	*zero_page = boot.zero_page;
	return 0;
}

/* ------------------------------------------------------------ stopping */

bool vm_request_stop(struct vm *vm, enum vm_stop_reason reason, int status)
{
	bool first;

	pthread_mutex_lock(&vm->stop_lock);
	first = vm->stop_reason == VM_STOP_NONE;
	if (first) {
		vm->exit_status = status;
		__atomic_store_n(&vm->stop_reason, reason, __ATOMIC_RELEASE);
	}
	pthread_mutex_unlock(&vm->stop_lock);
	if (first)
		el_stop(&vm->loop);
	return first;
}

bool vm_stopping(struct vm *vm)
{
	return __atomic_load_n(&vm->stop_reason, __ATOMIC_ACQUIRE) != VM_STOP_NONE;
}

/* term.c: Ctrl-A x on the console ends the VM as SIGINT would */
static void vm_console_quit(void *opaque)
{
	vm_request_stop(opaque, VM_STOP_USER_QUIT, VM_EXIT_SIGNAL_BASE + SIGINT);
}

/* devices/platform.c events: runs on a vCPU thread */
static void platform_event(void *opaque, enum platform_event ev, uint8_t arg)
{
	struct vm *vm = opaque;

	switch (ev) {
	case PLATFORM_EVENT_POWEROFF:
		log_info("guest powered off");
		vm_request_stop(vm, VM_STOP_POWEROFF, VM_EXIT_POWEROFF);
		break;
	case PLATFORM_EVENT_RESET:
		log_info("guest reset");
		vm_request_stop(vm, VM_STOP_RESET, VM_EXIT_RESET);
		break;
	case PLATFORM_EVENT_PANIC:
		log_warn("guest kernel panicked (pvpanic)");
		vm_request_stop(vm, VM_STOP_PANIC, VM_EXIT_PANIC);
		break;
	case PLATFORM_EVENT_DEBUG_EXIT:
		log_info("guest exit through the debug-exit port: status %u", arg);
		vm_request_stop(vm, VM_STOP_DEBUG_EXIT, arg);
		break;
	}
}

/*
 * Print where every vCPU is (event-loop thread). The kernel's symbols are
 * read at the first dump, not at start: most runs never dump, and a
 * vmlinux's symbol table is ~25k entries. vcpu_dump_all() publishes them to
 * the vCPU threads with its release store of each dump request.
 */
static void vm_dump_vcpus(struct vm *vm)
{
	char err[256] = "";

	if (!vm->syms_tried) {
		vm->syms_tried = true;
		/* optional: without symbols the dump shows bare addresses */
		if (elf_syms_load(&vm->syms, vm->cfg->kernel, err, sizeof(err)) < 0)
			log_warn("kernel symbols not read (the vCPU dump shows addresses only): %s",
				 err);
	}
	vcpu_dump_all(vm->vcpus, vm->nstarted, stderr);
}

static void signal_handler(struct el_source *src, uint32_t events)
{
	struct vm *vm = src->opaque;
	struct signalfd_siginfo si;

	if (read(vm->signal_fd, &si, sizeof(si)) != sizeof(si))
		return;
	if (si.ssi_signo == VCPU_DUMP_SIGNAL) {
		vm_dump_vcpus(vm);
		return;
	}
	log_info("stopping on signal %u", si.ssi_signo);
	vm_request_stop(vm, VM_STOP_SIGNAL, VM_EXIT_SIGNAL_BASE + (int)si.ssi_signo);
}

static void timer_handler(struct el_source *src, uint32_t events)
{
	struct vm *vm = src->opaque;
	uint64_t expirations;

	if (read(vm->timer_fd, &expirations, sizeof(expirations)) < 0)
		return;
	log_warn("timeout: the guest ran for %g s; where its vCPUs were:", vm->cfg->timeout_sec);
	vm_dump_vcpus(vm);
	vm_request_stop(vm, VM_STOP_TIMEOUT, VM_EXIT_TIMEOUT);
}

/* ------------------------------------------------------------ devices */

/* The FADT names the ACPI registers by their LAYOUT_ ports; the platform
 * device has them as one block from LAYOUT_PORT_ACPI_SLEEP_CTL. */
_Static_assert(LAYOUT_PORT_ACPI_SLEEP_STS == LAYOUT_PORT_ACPI_SLEEP_CTL + PLATFORM_ACPI_SLEEP_STS,
	       "ACPI sleep status port");
_Static_assert(LAYOUT_PORT_ACPI_RESET == LAYOUT_PORT_ACPI_SLEEP_CTL + PLATFORM_ACPI_RESET,
	       "ACPI reset port");

_Static_assert(LAYOUT_VIRTIO_IRQ_BASE + CLI_MAX_VIRTIO <= LAYOUT_GED_IRQ,
	       "the GED's GSI is above the virtio devices'");

/* Every port and IRQ is chosen here, from base/layout.h; the devices
 * register themselves where they are told. */
static int vm_setup_devices(struct vm *vm)
{
	char err[128];
	int ret;

	irq_line_init_kvm(&vm->com1_irq, vm->vm_fd, LAYOUT_COM1_IRQ);
	serial_init(&vm->serial, &(struct serial_config){
					 .port = LAYOUT_PORT_COM1,
					 .irq = &vm->com1_irq,
					 .tx = term_tx,
					 .tx_opaque = &vm->term,
					 .rx_space = term_rx_space,
					 .rx_opaque = &vm->term,
				 });
	ret = serial_register(&vm->serial, &vm->pio, err, sizeof(err));
	if (ret)
		goto fail;
	platform_init(&vm->platform, &(struct platform_config){
					     .ports = {
						     .debug_exit = LAYOUT_PORT_DEBUG_EXIT,
						     .pvpanic = LAYOUT_PORT_PVPANIC,
						     .acpi_pm = LAYOUT_PORT_ACPI_SLEEP_CTL,
						     .i8042_data = LAYOUT_PORT_I8042_DATA,
						     .i8042_cmd = LAYOUT_PORT_I8042_CMD,
						     .post = LAYOUT_PORT_POST,
					     },
					     .event = platform_event,
					     .opaque = vm,
				     });
	ret = platform_register(&vm->platform, &vm->pio, err, sizeof(err));
	if (ret)
		goto fail;
	/* .now = NULL: the host's clock */
	rtc_init(&vm->rtc, &(struct rtc_config){ .port = LAYOUT_PORT_RTC });
	ret = rtc_register(&vm->rtc, &vm->pio, err, sizeof(err));
	if (ret)
		goto fail;
	irq_line_init_kvm(&vm->ged_irq, vm->vm_fd, LAYOUT_GED_IRQ);
	ged_init(&vm->ged, &vm->ged_irq);
	ret = ged_register(&vm->ged, &vm->pio, LAYOUT_PORT_GED, err, sizeof(err));
	if (ret)
		goto fail;
	return 0;
fail:
	log_err("cannot set up devices: %s", err);
	return ret;
}

static int vm_setup_event_sources(struct vm *vm)
{
	sigset_t set;
	int ret;

	sigemptyset(&set);
	sigaddset(&set, SIGINT);
	sigaddset(&set, SIGTERM);
	sigaddset(&set, SIGHUP);
	sigaddset(&set, VCPU_DUMP_SIGNAL);
	vm->signal_fd = signalfd(-1, &set, SFD_CLOEXEC | SFD_NONBLOCK);
	if (vm->signal_fd < 0)
		return -errno;
	vm->signal_src =
		(struct el_source){ .fd = vm->signal_fd, .handler = signal_handler, .opaque = vm };
	ret = el_add(&vm->loop, &vm->signal_src, EPOLLIN);
	if (ret)
		return ret;

	if (vm->timeout_deadline_ns) {
		/* An absolute deadline, so --timeout bounds the whole run even
		 * when --reboot starts the VM again. */
		struct itimerspec its = { 0 };

		its.it_value.tv_sec = (time_t)(vm->timeout_deadline_ns / CLOCK_NS_PER_SEC);
		its.it_value.tv_nsec = (long)(vm->timeout_deadline_ns % CLOCK_NS_PER_SEC);
		vm->timer_fd = timerfd_create(CLOCK_MONOTONIC, TFD_CLOEXEC | TFD_NONBLOCK);
		if (vm->timer_fd < 0 ||
		    timerfd_settime(vm->timer_fd, TFD_TIMER_ABSTIME, &its, NULL) < 0)
			return -errno;
		vm->timer_src = (struct el_source){ .fd = vm->timer_fd,
						    .handler = timer_handler,
						    .opaque = vm };
		ret = el_add(&vm->loop, &vm->timer_src, EPOLLIN);
		if (ret)
			return ret;
	}

	/* stdin feeds the UART */
	term_attach_input(&vm->term);
	return 0;
}

/* ------------------------------------------------------------ vCPUs */

/* vcpu.c: an exit that ends the VM (KVM_RUN failed, triple fault...) */
static void vm_vcpu_stop(void *opaque, enum vcpu_stop why)
{
	struct vm *vm = opaque;

	switch (why) {
	case VCPU_STOP_RESET:
		vm_request_stop(vm, VM_STOP_RESET, VM_EXIT_RESET);
		break;
	case VCPU_STOP_POWEROFF:
		vm_request_stop(vm, VM_STOP_POWEROFF, VM_EXIT_POWEROFF);
		break;
	case VCPU_STOP_ERROR:
		vm_request_stop(vm, VM_STOP_ERROR, VM_EXIT_ERROR);
		break;
	}
}

static bool vm_vcpu_stopping(void *opaque)
{
	return vm_stopping(opaque);
}

/* Every vCPU gets CPUID, MSRs and its LAPIC; the boot CPU also the
 * registers of the 64-bit boot protocol (entry, rsi = zero page). */
static int vm_setup_vcpus(struct vm *vm, uint64_t entry, uint64_t zero_page)
{
	struct kvm_cpuid2 *cpuid;
	unsigned int i;
	int ret;

	vm->vcpu_env = (struct vcpu_env){
		.vm_fd = vm->vm_fd,
		.run_size = vm->run_size,
		.ncpus = vm->ncpus,
		.pio = &vm->pio,
		.mmio = &vm->mmio,
		.pvm_mem = vm->pvm ? &vm->mem : NULL,
		.trace = vm->cfg->trace_exits,
		.mem = &vm->mem,
		.syms = &vm->syms,
		.first_run_ns = &vm->first_run_ns,
		.stop = vm_vcpu_stop,
		.stopping = vm_vcpu_stopping,
		.checkpoint = vm_pause_checkpoint,
		.opaque = vm,
	};
	cpuid = x86_cpuid_supported(vm->kvm_fd, &ret);
	if (!cpuid) {
		log_err("KVM_GET_SUPPORTED_CPUID failed: %s", strerror(-ret));
		return ret;
	}
	if (vm->pvm)
		log_debug("PVM: not offering the hypercall-based paravirt features %#x",
			  pvm_cpuid_fixup(cpuid));
	ret = -ENOMEM;
	vm->vcpus = calloc(vm->ncpus, sizeof(*vm->vcpus));
	if (!vm->vcpus) {
		log_err("cannot allocate %u vCPUs: %s", vm->ncpus, strerror(-ret));
		goto out;
	}
	for (i = 0; i < vm->ncpus; i++)
		vm->vcpus[i].fd = -1;
	for (i = 0; i < vm->ncpus; i++) {
		ret = vcpu_create(&vm->vcpus[i], &vm->vcpu_env, i, cpuid);
		if (ret)
			goto out;
	}
	if (vm->incoming) /* the registers come from the snapshot */
		goto out;
	ret = x86_vcpu_set_boot_regs(vm->vcpus[0].fd, entry, zero_page);
	if (ret)
		log_err("cannot set the boot CPU's registers: %s", strerror(-ret));
out:
	free(cpuid);
	return ret;
}

/* ------------------------------------------------------------ lifecycle */

/* Zero the VM and mark every resource as not acquired yet, so that
 * vm_destroy() is safe after whichever step fails. Cannot fail. */
static void vm_init_state(struct vm *vm, const struct vmm_config *cfg, uint64_t timeout_deadline_ns)
{
	memset(vm, 0, sizeof(*vm));
	vm->cfg = cfg;
	vm->timeout_deadline_ns = timeout_deadline_ns;
	vm->kvm_fd = vm->vm_fd = vm->signal_fd = vm->timer_fd = -1;
	vm->ncpus = cfg->cpus;
	vm->pvm = cfg->pvm == CLI_PVM_ON || (cfg->pvm == CLI_PVM_AUTO && pvm_detect());
	pthread_mutex_init(&vm->stop_lock, NULL);
	vm_pause_init(vm);
	bus_init(&vm->pio, "pio");
	bus_init(&vm->mmio, "mmio");
	term_init(&vm->term, &(struct term_config){
				     .loop = &vm->loop,
				     .serial = &vm->serial,
				     .in_fd = STDIN_FILENO,
				     .out_fd = STDOUT_FILENO,
				     .quit = vm_console_quit,
				     .opaque = vm,
			     });
}

/* The host side, before anything the guest sees: the event loop and the
 * console log. */
static int vm_setup_host(struct vm *vm)
{
	int ret;

	ret = el_init(&vm->loop);
	if (ret) {
		log_err("cannot create the event loop: %s", strerror(-ret));
		return ret;
	}
	if (vm->cfg->console_log) {
		ret = term_open_log(&vm->term, vm->cfg->console_log);
		if (ret)
			return ret;
	}
	if (vm->pvm)
		log_info("host KVM is PVM: applying the PVM workarounds");
	return 0;
}

/* -vv: how long each step of building the machine took */
static void vm_log_step(uint64_t *t, const char *step)
{
	uint64_t now = clock_monotonic_ns();

	log_debug("%-28s %7.3f ms", step, (double)(now - *t) / 1e6);
	*t = now;
}

/* The machine, step by step. Each step logs why it failed and leaves what
 * it built for vm_destroy(), which the caller runs on failure too. With a
 * snapshot (`in`), no kernel is loaded: the RAM and every vCPU's and
 * device's state come from it. */
static int vm_build(struct vm *vm, const struct vmm_config *cfg, uint64_t timeout_deadline_ns,
		    struct snapshot_in *in)
{
	uint64_t entry = 0, zero_page = 0, t = clock_monotonic_ns();
	char err[512] = "";
	int ret;

	vm_init_state(vm, cfg, timeout_deadline_ns);
	vm->incoming = in;
	/* the event loop and the console log */
	ret = vm_setup_host(vm);
	if (ret)
		return ret;
	/* 0. disk images: a bad one is reported before anything else happens */
	ret = vm_virtio_open(vm);
	if (ret)
		return ret;
	vm_log_step(&t, "disk images");

	/* 1. KVM: the VM, its interrupt controllers and timer */
	ret = vm_setup_kvm(vm);
	if (ret)
		return ret;
	vm_log_step(&t, "KVM VM, irqchip, PIT");
	/* 2. guest RAM, registered with KVM */
	ret = vm_setup_memory(vm);
	if (ret)
		return ret;
	vm_log_step(&t, "guest RAM");
	/* 3. what firmware would leave: e820, ACPI, MP table; the kernel itself
	 * (a snapshot's RAM holds them already) */
	ret = in ? 0 : vm_load_guest(vm, &entry, &zero_page);
	if (ret)
		return ret;
	vm_log_step(&t, "kernel and firmware tables");
	/* 4. devices on the buses */
	ret = vm_setup_devices(vm); /* logs its own errors */
	if (ret)
		return ret;
	ret = vm_virtio_attach(vm); /* logs its own errors */
	if (ret)
		return ret;
	vm_log_step(&t, "devices");
	/* 5. vCPUs: all get CPUID/MSRs/LAPIC, the BSP also the boot registers */
	ret = vm_setup_vcpus(vm, entry, zero_page);
	if (ret)
		return ret;
	vm_log_step(&t, "vCPUs");
	if (in) {
		ret = vm_snapshot_restore(vm, err, sizeof(err));
		if (ret) {
			log_err("%s", err);
			return ret;
		}
		vm_log_step(&t, "snapshot state");
	}
	/* 6. the event loop's own sources */
	ret = vm_setup_event_sources(vm);
	if (ret) {
		log_err("cannot set up signal/timer handling: %s", strerror(-ret));
		return ret;
	}
	vm_log_step(&t, "event sources");
	return 0;
}

int vm_create(struct vm *vm, const struct vmm_config *cfg, uint64_t timeout_deadline_ns)
{
	return vm_build(vm, cfg, timeout_deadline_ns, NULL);
}

int vm_create_incoming(struct vm *vm, const struct vmm_config *cfg, uint64_t timeout_deadline_ns,
		       struct snapshot_in *in)
{
	return vm_build(vm, cfg, timeout_deadline_ns, in);
}

/* Peak resident set of this process (VmHWM). Unlike getrusage's ru_maxrss
 * it starts afresh at exec, so it is vmm's own, not its parent's. */
static unsigned long peak_rss_kib(void)
{
	unsigned long kib = 0;
	char line[256];
	FILE *f = fopen("/proc/self/status", "re");

	if (!f)
		return 0;
	while (fgets(line, sizeof(line), f))
		if (sscanf(line, "VmHWM: %lu kB", &kib) == 1)
			break;
	fclose(f);
	return kib;
}

/* --trace-exits: every vCPU's exits in one table (after the joins) */
static void vm_print_trace(struct vm *vm)
{
	struct exit_trace_sum sum;
	unsigned int i;

	memset(&sum, 0, sizeof(sum));
	for (i = 0; i < vm->ncpus; i++)
		exit_trace_sum_add(&sum, &vm->vcpus[i].trace);
	exit_trace_print(stderr, &sum);
}

int vm_run(struct vm *vm)
{
	unsigned int i;
	char err[256];
	int ret;

	term_raw_enter(&vm->term);
	for (i = 0; i < vm->ncpus; i++) {
		ret = vcpu_start(&vm->vcpus[i]);
		if (ret) {
			log_err("cannot start vCPU thread %u: %s", i, strerror(-ret));
			vm_request_stop(vm, VM_STOP_ERROR, VM_EXIT_ERROR);
			break;
		}
		vm->nstarted++;
		ret = jail_pin_vcpu(&vm->cfg->jail, i, vm->vcpus[i].thread, err, sizeof(err));
		if (ret) {
			log_err("%s", err);
			vm_request_stop(vm, VM_STOP_ERROR, VM_EXIT_ERROR);
			break;
		}
	}
	/* The main thread's filter goes in only now: the vCPU threads would
	 * inherit it (vmm/sandbox.h). */
	thread_hook_run(THREAD_KIND_MAIN);
	if (!vm_stopping(vm)) {
		ret = el_run(&vm->loop);
		if (ret) {
			log_err("event loop failed: %s", strerror(-ret));
			vm_request_stop(vm, VM_STOP_ERROR, VM_EXIT_ERROR);
		}
	}
	/* Every thread is told, then joined: nothing outlives vm_run(). A
	 * parked (paused) one is released first. */
	vm_pause_release(vm);
	for (i = 0; i < vm->nstarted; i++)
		vcpu_kick(&vm->vcpus[i]);
	for (i = 0; i < vm->nstarted; i++)
		vcpu_join(&vm->vcpus[i]);
	vm_qmp_stopped(vm); /* SHUTDOWN or RESET to QMP clients */
	/* Numbers for bench/ (and the curious): when the guest first ran, in
	 * the same clock a parent process can read, and how much guest RAM
	 * the host had to commit. */
	log_info("first KVM_RUN at monotonic %llu ns; guest RAM touched: %llu KiB; "
		 "peak RSS: %lu KiB",
		 (unsigned long long)vm->first_run_ns,
		 (unsigned long long)(gm_resident_bytes(&vm->mem) >> 10), peak_rss_kib());
	if (vm->cfg->trace_exits) {
		vm_print_trace(vm);
		fprintf(stderr, "vmm: unclaimed accesses: pio %llu, mmio %llu\r\n",
			(unsigned long long)bus_unclaimed(&vm->pio),
			(unsigned long long)bus_unclaimed(&vm->mmio));
	}
	term_raw_restore(&vm->term);
	return vm->exit_status;
}

void vm_destroy(struct vm *vm)
{
	unsigned int i;

	if (vm->vcpus) {
		for (i = 0; i < vm->ncpus; i++)
			vcpu_destroy(&vm->vcpus[i]);
		free(vm->vcpus);
	}
	elf_syms_free(&vm->syms);
	vm_qmp_detach(vm);
	vm_virtio_destroy(vm);
	serial_destroy(&vm->serial);
	platform_destroy(&vm->platform);
	rtc_destroy(&vm->rtc);
	ged_destroy(&vm->ged);
	bus_destroy(&vm->pio);
	bus_destroy(&vm->mmio);
	gm_destroy(&vm->mem);
	el_destroy(&vm->loop);
	if (vm->signal_fd >= 0)
		close(vm->signal_fd);
	if (vm->timer_fd >= 0)
		close(vm->timer_fd);
	term_destroy(&vm->term);
	if (vm->vm_fd >= 0)
		close(vm->vm_fd);
	if (vm->kvm_fd >= 0)
		close(vm->kvm_fd);
	pthread_mutex_destroy(&vm->stop_lock);
	vm_pause_destroy(vm);
}
