/* SPDX-License-Identifier: MIT */
/* CPUID patching and the boot GDT/page tables (arch/x86/cpuid.c, regs.c). */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "arch/x86/cpu.h"
#include "arch/x86/pvm.h"
#include "base/layout.h"

static struct kvm_cpuid2 *make_cpuid(void)
{
	/* a host-like table: leaf 1, leaf 4 (two cache levels), leaf 0xb
	 * (two levels + invalid), 0x80000008 */
	static const struct kvm_cpuid_entry2 host[] = {
		{ .function = 0x1,
		  .eax = 0x806f8,
		  .ebx = 0x12340800,
		  .ecx = 0x7ffafbff,
		  .edx = 0x0fabfbff },
		{ .function = 0x4, .index = 0, .eax = 0xfc004121 },
		{ .function = 0x4, .index = 3, .eax = 0xfc3fc163 },
		{ .function = 0x4, .index = 4, .eax = 0 },
		{ .function = 0xb, .index = 0, .eax = 1, .ebx = 2, .ecx = 0x100, .edx = 7 },
		{ .function = 0xb, .index = 1, .eax = 7, .ebx = 96, .ecx = 0x201, .edx = 7 },
		{ .function = 0xb, .index = 2, .eax = 0, .ebx = 0, .ecx = 2, .edx = 7 },
		/* a host that lists only subleaf 0 of 0x1f: 1 and 2 get added */
		{ .function = 0x1f, .index = 0, .eax = 1, .ebx = 2, .ecx = 0x100, .edx = 7 },
		{ .function = 0x80000008, .eax = 0x3030, .ecx = 0x705f },
		{ .function = 0x8000001e, .eax = 0x0e, .ebx = 0x0107, .ecx = 0x0300 },
	};
	size_t n = sizeof(host) / sizeof(host[0]);
	struct kvm_cpuid2 *c =
		calloc(1, sizeof(*c) + (n + X86_CPUID_EXTRA_ENTRIES) * sizeof(c->entries[0]));

	assert_non_null(c);
	c->nent = (uint32_t)n;
	memcpy(c->entries, host, sizeof(host));
	return c;
}

static const struct kvm_cpuid_entry2 *leaf(const struct kvm_cpuid2 *c, uint32_t fn, uint32_t idx)
{
	uint32_t i;

	for (i = 0; i < c->nent; i++)
		if (c->entries[i].function == fn && c->entries[i].index == idx)
			return &c->entries[i];
	fail_msg("leaf %#x.%u missing", fn, idx);
	return NULL;
}

static void test_cpuid_apic_ids_and_topology(void **state)
{
	uint32_t id;

	(void)state;
	for (id = 0; id < 6; id++) {
		struct kvm_cpuid2 *c = make_cpuid();

		x86_cpuid_patch(c, id, 6);
		/* leaf 1: APIC id, 6 logical CPUs, HTT, hypervisor bit; family kept */
		assert_int_equal(leaf(c, 1, 0)->ebx >> 24, id);
		assert_int_equal((leaf(c, 1, 0)->ebx >> 16) & 0xff, 6);
		assert_int_equal(leaf(c, 1, 0)->ebx & 0xffff, 0x0800);
		assert_true(leaf(c, 1, 0)->edx & (1u << 28));
		assert_true(leaf(c, 1, 0)->ecx & (1u << 31));
		assert_int_equal(leaf(c, 1, 0)->eax, 0x806f8);
		/* leaf 0xb: x2APIC id in edx on every level; SMT level 1 thread,
		 * core level 6 CPUs with a 3-bit shift */
		assert_int_equal(leaf(c, 0xb, 0)->edx, id);
		assert_int_equal(leaf(c, 0xb, 0)->ebx, 1);
		assert_int_equal((leaf(c, 0xb, 0)->ecx >> 8) & 0xff, 1);
		assert_int_equal(leaf(c, 0xb, 1)->eax, 3);
		assert_int_equal(leaf(c, 0xb, 1)->ebx, 6);
		assert_int_equal((leaf(c, 0xb, 1)->ecx >> 8) & 0xff, 2);
		assert_int_equal(leaf(c, 0xb, 2)->ebx, 0);
		assert_int_equal(leaf(c, 0xb, 2)->edx, id);
		/* the same for 0x1f, whose subleaves 1 and 2 were missing */
		assert_int_equal(leaf(c, 0x1f, 1)->eax, 3);
		assert_int_equal(leaf(c, 0x1f, 1)->ebx, 6);
		assert_int_equal(leaf(c, 0x1f, 1)->edx, id);
		assert_int_equal(leaf(c, 0x1f, 1)->flags, KVM_CPUID_FLAG_SIGNIFCANT_INDEX);
		assert_int_equal((leaf(c, 0x1f, 2)->ecx >> 8) & 0xff, 0);
		/* leaf 4: cores per package - 1 = 7 (rounded to a power of two) */
		assert_int_equal(leaf(c, 4, 0)->eax >> 26, 7);
		assert_true(((leaf(c, 4, 3)->eax >> 14) & 0xfff) <= 7);
		assert_int_equal(leaf(c, 4, 4)->eax, 0); /* the terminator stays */
		/* AMD: cores - 1 */
		assert_int_equal(leaf(c, 0x80000008, 0)->ecx & 0xff, 5);
		assert_int_equal(leaf(c, 0x80000008, 0)->eax, 0x3030);
		/* AMD TOPOEXT: extended APIC id, core id = APIC id, 1 thread
		 * per core, node 0 */
		assert_int_equal(leaf(c, 0x8000001e, 0)->eax, id);
		assert_int_equal(leaf(c, 0x8000001e, 0)->ebx, id);
		assert_int_equal(leaf(c, 0x8000001e, 0)->ecx, 0);
		free(c);
	}
}

static void test_cpuid_single_cpu(void **state)
{
	struct kvm_cpuid2 *c = make_cpuid();

	(void)state;
	x86_cpuid_patch(c, 0, 1);
	assert_int_equal(leaf(c, 1, 0)->ebx >> 24, 0);
	assert_int_equal(leaf(c, 0xb, 1)->eax, 0);
	assert_int_equal(leaf(c, 0xb, 1)->ebx, 1);
	assert_int_equal(leaf(c, 4, 0)->eax >> 26, 0);
	free(c);
}

/* On PVM the KVM features that are hypercalls are withdrawn (issue 15): this
 * host's 0x40000001 EAX (0x1007efb) loses PV_UNHALT, PV_SEND_IPI and
 * PV_SCHED_YIELD; kvm-clock, steal time, PV EOI, PV TLB flush... stay. */
static void test_pvm_cpuid_fixup(void **state)
{
	struct kvm_cpuid2 *c = make_cpuid();

	(void)state;
	c->entries[c->nent++] =
		(struct kvm_cpuid_entry2){ .function = 0x40000001, .eax = 0x1007efb, .edx = 1 };
	assert_int_equal(pvm_cpuid_fixup(c), (1u << 7) | (1u << 11) | (1u << 13));
	assert_int_equal(leaf(c, 0x40000001, 0)->eax, 0x1007efbu & ~0x2880u);
	assert_int_equal(leaf(c, 0x40000001, 0)->edx, 1);   /* hints untouched */
	assert_int_equal(leaf(c, 0x1, 0)->ecx, 0x7ffafbff); /* other leaves too */
	assert_int_equal(pvm_cpuid_fixup(c), 0);	    /* nothing left to clear */
	free(c);
}

static void test_boot_tables(void **state)
{
	struct guest_mem gm = { 0 };
	uint8_t *ram = calloc(1, 0x100000);
	uint64_t e, gdt[5];
	unsigned int i;

	(void)state;
	assert_int_equal(gm_add_region(&gm, 0, 0x100000, ram), 0);
	assert_int_equal(x86_write_boot_tables(&gm), 0);
	/* GDT: __BOOT_CS 64-bit code, __BOOT_DS flat data */
	assert_int_equal(gm_read(&gm, LAYOUT_GDT_ADDR, gdt, sizeof(gdt)), 0);
	assert_int_equal(gdt[0], 0);
	assert_int_equal(gdt[X86_BOOT_CS / 8], 0x00af9b000000ffffULL);
	assert_int_equal(gdt[X86_BOOT_DS / 8], 0x00cf93000000ffffULL);
	/* PML4[0] -> PDPT; PDPT[i] -> PD i; PD entries map 2 MiB pages 1:1 */
	assert_int_equal(gm_read(&gm, LAYOUT_PML4, &e, 8), 0);
	assert_int_equal(e, LAYOUT_PDPT | 3);
	for (i = 0; i < 4; i++) {
		assert_int_equal(gm_read(&gm, LAYOUT_PDPT + i * 8, &e, 8), 0);
		assert_int_equal(e, (LAYOUT_PD + i * 0x1000ULL) | 3);
	}
	assert_int_equal(gm_read(&gm, LAYOUT_PDPT + 4 * 8, &e, 8), 0);
	assert_int_equal(e, 0);
	/* the LAPIC page (0xfee00000) is reachable: PD 3, entry 0x1f7 */
	assert_int_equal(gm_read(&gm, LAYOUT_PD + ((LAYOUT_LAPIC_ADDR >> 21) * 8), &e, 8), 0);
	assert_int_equal(e, (LAYOUT_LAPIC_ADDR & ~((1ULL << 21) - 1)) | 0x83);
	assert_int_equal(gm_read(&gm, LAYOUT_PD + 5 * 8, &e, 8), 0);
	assert_int_equal(e, (5ULL << 21) | 0x83);
	free(ram);
}

static void test_boot_tables_need_ram(void **state)
{
	struct guest_mem gm = { 0 };
	uint8_t *ram = calloc(1, 0x8000);

	(void)state;
	/* RAM ends before the page tables: a clean error, not a write */
	assert_int_equal(gm_add_region(&gm, 0, 0x8000, ram), 0);
	assert_int_equal(x86_write_boot_tables(&gm), -EFAULT);
	free(ram);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_cpuid_apic_ids_and_topology),
		cmocka_unit_test(test_cpuid_single_cpu),
		cmocka_unit_test(test_pvm_cpuid_fixup),
		cmocka_unit_test(test_boot_tables),
		cmocka_unit_test(test_boot_tables_need_ram),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
