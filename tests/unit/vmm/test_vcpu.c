/* SPDX-License-Identifier: MIT */
/* A vCPU on its own (vmm/vcpu.c), with no struct vm: a few bytes of 64-bit
 * guest code on a real KVM VM, its exits dispatched to the buses it was
 * given, its stop reported through its callback, the kick, --trace-exits
 * counts. Skipped without /dev/kvm. */
#include <errno.h>
#include <fcntl.h>
#include <linux/kvm.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <time.h>
#include <unistd.h>

#include <cmocka.h>

#include "arch/x86/cpu.h"
#include "arch/x86/vm.h"
#include "base/layout.h"
#include "vmm/vcpu.h"
#include "vmm/vcpu_dump.h"

#define RAM_SIZE   (16ULL << 20)
#define CODE_ADDR  LAYOUT_KERNEL_START
#define PORT_DATA  0x10
#define PORT_STOP  0x11
#define MMIO_ADDR  0x02000000ULL			    /* above RAM, identity-mapped */
#define MMIO_WRITE 0x88, 0x04, 0x25, 0x00, 0x00, 0x00, 0x02 /* mov [MMIO_ADDR], al */

struct vm_fixture {
	int kvm_fd, vm_fd;
	struct guest_mem mem;
	struct bus pio, mmio;
	struct vcpu_env env;
	struct vcpu vcpu;
	uint64_t first_run_ns;
	bool stopping;
	int stops;
	enum vcpu_stop why;
	uint8_t pio_data, mmio_data;
};

static void on_stop(void *opaque, enum vcpu_stop why)
{
	struct vm_fixture *f = opaque;

	f->stops++;
	f->why = why;
	__atomic_store_n(&f->stopping, true, __ATOMIC_RELEASE);
}

static bool on_stopping(void *opaque)
{
	struct vm_fixture *f = opaque;

	return __atomic_load_n(&f->stopping, __ATOMIC_ACQUIRE);
}

/* PIO: a data port that keeps the byte, and a port that ends the test as a
 * device asking the VM to stop would */
static void pio_write(void *opaque, uint64_t off, const void *data, uint32_t len)
{
	struct vm_fixture *f = opaque;

	if (off == 0)
		f->pio_data = *(const uint8_t *)data;
	else
		__atomic_store_n(&f->stopping, true, __ATOMIC_RELEASE);
}

static void mmio_write(void *opaque, uint64_t off, const void *data, uint32_t len)
{
	struct vm_fixture *f = opaque;

	f->mmio_data = *(const uint8_t *)data;
}

static void dev_read(void *opaque, uint64_t off, void *data, uint32_t len)
{
	memset(data, 0xff, len);
}

static const struct bus_dev_ops pio_ops = { .read = dev_read, .write = pio_write };
static const struct bus_dev_ops mmio_ops = { .read = dev_read, .write = mmio_write };

static int vm_fixture_setup(void **state)
{
	struct vm_fixture *f = calloc(1, sizeof(*f));
	struct kvm_userspace_memory_region region;
	char err[128];

	assert_non_null(f);
	*state = f;
	f->vm_fd = -1;
	bus_init(&f->pio, "pio");
	bus_init(&f->mmio, "mmio");
	f->env = (struct vcpu_env){
		.vm_fd = -1,
		.ncpus = 1,
		.pio = &f->pio,
		.mmio = &f->mmio,
		.first_run_ns = &f->first_run_ns,
		.stop = on_stop,
		.stopping = on_stopping,
		.opaque = f,
	};
	f->vcpu.fd = -1;
	f->kvm_fd = open("/dev/kvm", O_RDWR | O_CLOEXEC);
	if (f->kvm_fd < 0)
		return 0; /* the tests that need KVM skip */
	f->env.run_size = ioctl(f->kvm_fd, KVM_GET_VCPU_MMAP_SIZE, 0);
	f->vm_fd = f->env.vm_fd = ioctl(f->kvm_fd, KVM_CREATE_VM, 0);
	assert_true(f->vm_fd >= 0);
	assert_int_equal(x86_vm_setup(f->kvm_fd, f->vm_fd, err, sizeof(err)), 0);
	assert_int_equal(gm_init(&f->mem, RAM_SIZE, LAYOUT_MMIO_HOLE_START, LAYOUT_MMIO_HOLE_END,
				 false, err, sizeof(err)),
			 0);
	region = (struct kvm_userspace_memory_region){
		.memory_size = RAM_SIZE,
		.userspace_addr = (uint64_t)(uintptr_t)f->mem.regions[0].host,
	};
	assert_int_equal(ioctl(f->vm_fd, KVM_SET_USER_MEMORY_REGION, &region), 0);
	assert_int_equal(x86_write_boot_tables(&f->mem), 0);
	assert_int_equal(bus_register(&f->pio, PORT_DATA, 2, &pio_ops, f, NULL, "test", NULL, 0),
			 0);
	assert_int_equal(
		bus_register(&f->mmio, MMIO_ADDR, 0x1000, &mmio_ops, f, NULL, "test", NULL, 0), 0);
	return 0;
}

static int vm_fixture_teardown(void **state)
{
	struct vm_fixture *f = *state;

	vcpu_destroy(&f->vcpu);
	bus_destroy(&f->pio);
	bus_destroy(&f->mmio);
	gm_destroy(&f->mem);
	if (f->vm_fd >= 0)
		close(f->vm_fd);
	if (f->kvm_fd >= 0)
		close(f->kvm_fd);
	free(f);
	return 0;
}

/* Create vCPU 0 at `code` and start its thread. */
static void start_code(struct vm_fixture *f, const uint8_t *code, size_t len)
{
	struct kvm_cpuid2 *cpuid;
	int ret;

	if (f->kvm_fd < 0)
		skip();
	assert_int_equal(gm_write(&f->mem, CODE_ADDR, code, len), 0);
	cpuid = x86_cpuid_supported(f->kvm_fd, &ret);
	assert_non_null(cpuid);
	assert_int_equal(vcpu_create(&f->vcpu, &f->env, 0, cpuid), 0);
	free(cpuid);
	assert_int_equal(x86_vcpu_set_boot_regs(f->vcpu.fd, CODE_ADDR, 0), 0);
	assert_int_equal(vcpu_start(&f->vcpu), 0);
}

/* Create vCPU 0 at `code` and run it until its thread ends. */
static void run_code(struct vm_fixture *f, const uint8_t *code, size_t len, bool kick)
{
	start_code(f, code, len);
	if (kick) {
		nanosleep(&(struct timespec){ .tv_nsec = 50 * 1000 * 1000 }, NULL);
		__atomic_store_n(&f->stopping, true, __ATOMIC_RELEASE);
		vcpu_kick(&f->vcpu);
	}
	vcpu_join(&f->vcpu);
}

static void test_exits_go_to_its_buses(void **state)
{
	static const uint8_t code[] = {
		0xb0,	    0x42,      /* mov al, 0x42 */
		0xe6,	    PORT_DATA, /* out PORT_DATA, al */
		MMIO_WRITE,	       /* mov [MMIO_ADDR], al */
		0xe6,	    PORT_STOP, /* out PORT_STOP, al: the test stops */
		0xeb,	    0xfe,      /* jmp $ */
	};
	struct vm_fixture *f = *state;

	f->env.trace = true;
	run_code(f, code, sizeof(code), false);
	assert_int_equal(f->pio_data, 0x42);
	assert_int_equal(f->mmio_data, 0x42);
	assert_int_equal(f->stops, 0); /* a device stopped it, not the vCPU */
	assert_true(f->first_run_ns > 0);
	/* --trace-exits saw them */
	assert_int_equal(f->vcpu.trace.exits_by_reason[KVM_EXIT_IO], 2);
	assert_int_equal(f->vcpu.trace.exits_by_reason[KVM_EXIT_MMIO], 1);
	assert_true(f->vcpu.trace.runs >= 3);
	assert_true(f->vcpu.trace.user_ns > 0);
}

static void test_no_trace_counts_nothing(void **state)
{
	static const uint8_t code[] = { 0xe6, PORT_STOP, 0xeb, 0xfe };
	struct vm_fixture *f = *state;

	run_code(f, code, sizeof(code), false);
	assert_int_equal(f->vcpu.trace.runs, 0);
	assert_int_equal(f->vcpu.trace.exits_by_reason[KVM_EXIT_IO], 0);
}

static void test_triple_fault_stops_with_reset(void **state)
{
	/* the boot IDT is empty: #UD -> #GP -> #DF -> shutdown */
	static const uint8_t code[] = { 0x0f, 0x0b /* ud2 */ };
	struct vm_fixture *f = *state;

	run_code(f, code, sizeof(code), false);
	assert_int_equal(f->stops, 1);
	assert_int_equal(f->why, VCPU_STOP_RESET);
}

static void test_kick_ends_a_spinning_vcpu(void **state)
{
	static const uint8_t code[] = { 0xeb, 0xfe /* jmp $ */ };
	struct vm_fixture *f = *state;

	run_code(f, code, sizeof(code), true);
	assert_int_equal(f->stops, 0);
}

/* What vcpu_dump_all() prints for vcpu (free() it). */
static char *dump_to_string(struct vcpu *vcpu)
{
	char *text = NULL;
	size_t len = 0;
	FILE *out = open_memstream(&text, &len);

	assert_non_null(out);
	vcpu_dump_all(vcpu, 1, out);
	fclose(out);
	assert_non_null(text);
	return text;
}

/* The state dump (vcpu_dump.c) of a vCPU spinning in "spin": asked of the
 * running thread, which answers and runs on; then of a stopped vCPU, which
 * the dumper reads itself. */
static void test_dump_names_a_spinning_vcpu(void **state)
{
	static const uint8_t code[] = { 0x90, 0xeb, 0xfd /* nop; jmp back */ };
	static char strtab[] = "\0spin";
	struct elf_sym sym = { .addr = CODE_ADDR, .size = sizeof(code), .name = 1 };
	struct elf_syms syms = { .syms = &sym, .nsyms = 1, .strtab = strtab, .strtab_len = 6 };
	struct vm_fixture *f = *state;
	char *text;

	f->env.mem = &f->mem;
	f->env.syms = &syms;
	start_code(f, code, sizeof(code));
	nanosleep(&(struct timespec){ .tv_nsec = 20 * 1000 * 1000 }, NULL);
	text = dump_to_string(&f->vcpu);
	assert_non_null(strstr(text, "vmm: vCPU 0: runnable, 64-bit, rip 0x10000"));
	assert_non_null(strstr(text, " <spin+"));
	/* the guest's code, read through its page tables */
	assert_true(strstr(text, "code at rip: 90 eb fd") || strstr(text, "code at rip: eb fd"));
	assert_non_null(strstr(text, "lapic: base 0xfee00000 (xAPIC, BSP) id 0"));
	assert_null(strstr(text, "did not answer"));
	free(text);
	assert_int_equal(f->stops, 0); /* the dump did not stop it */
	assert_false(__atomic_load_n(&f->vcpu.exited, __ATOMIC_ACQUIRE));

	__atomic_store_n(&f->stopping, true, __ATOMIC_RELEASE);
	vcpu_kick(&f->vcpu);
	vcpu_join(&f->vcpu);
	text = dump_to_string(&f->vcpu);
	assert_non_null(strstr(text, "vmm: vCPU 0: runnable, 64-bit, rip 0x10000"));
	free(text);
}

static void test_dump_names_modes(void **state)
{
	struct kvm_sregs s;

	(void)state;
	memset(&s, 0, sizeof(s));
	assert_string_equal(vcpu_dump_mode(&s), "real mode");
	s.cr0 = 1;
	assert_string_equal(vcpu_dump_mode(&s), "16-bit protected");
	s.cs.db = 1;
	assert_string_equal(vcpu_dump_mode(&s), "32-bit protected");
	s.efer = 1 << 10; /* LMA */
	assert_string_equal(vcpu_dump_mode(&s), "compatibility (32-bit in long mode)");
	s.cs.l = 1;
	s.cs.db = 0;
	assert_string_equal(vcpu_dump_mode(&s), "64-bit");
	assert_string_equal(vcpu_dump_mp_state(KVM_MP_STATE_INIT_RECEIVED),
			    "wait-for-SIPI (INIT received)");
	assert_string_equal(vcpu_dump_mp_state(99), "unknown MP state");
}

static void test_create_fails_cleanly(void **state)
{
	struct vm_fixture *f = *state;
	struct vcpu_env env = f->env;

	env.vm_fd = -1;
	assert_int_equal(vcpu_create(&f->vcpu, &env, 0, NULL), -EBADF);
	assert_int_equal(f->vcpu.fd, -1);
	assert_null(f->vcpu.run);
	vcpu_destroy(&f->vcpu);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_exits_go_to_its_buses, vm_fixture_setup,
						vm_fixture_teardown),
		cmocka_unit_test_setup_teardown(test_no_trace_counts_nothing, vm_fixture_setup,
						vm_fixture_teardown),
		cmocka_unit_test_setup_teardown(test_triple_fault_stops_with_reset,
						vm_fixture_setup, vm_fixture_teardown),
		cmocka_unit_test_setup_teardown(test_kick_ends_a_spinning_vcpu, vm_fixture_setup,
						vm_fixture_teardown),
		cmocka_unit_test_setup_teardown(test_create_fails_cleanly, vm_fixture_setup,
						vm_fixture_teardown),
		cmocka_unit_test_setup_teardown(test_dump_names_a_spinning_vcpu, vm_fixture_setup,
						vm_fixture_teardown),
		cmocka_unit_test(test_dump_names_modes),
	};

	vcpu_install_kick_handler(); /* or the kick signal would end the test */
	return cmocka_run_group_tests(tests, NULL, NULL);
}
