/* SPDX-License-Identifier: MIT */
/*
 * The snapshot format (vmm/snapshot_fmt.c): a state built and parsed back
 * is the same state; a damaged, newer or incomplete tree is refused with a
 * line that says what is wrong.
 */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>
#include <libfdt.h>

#include "vmm/snapshot_fmt.h"

static char err[256];
static char *argv_saved[] = { "vmm", "--kernel", "k.elf", "--cpus", "2", NULL };

static void sample(struct snapshot_state *s)
{
	unsigned int i;

	memset(s, 0, sizeof(*s));
	s->version = SNAPSHOT_VERSION;
	s->argc = 5;
	s->argv = argv_saved;
	memcpy(s->model.vendor, "GenuineIntel", 13);
	s->model.signature = 0x906ea;
	s->model.features[0] = 0x7ffafbff;
	s->model.features[1] = 0xbfebfbff;
	s->ncpus = 2;
	s->cpus = calloc(2, sizeof(*s->cpus));
	assert_non_null(s->cpus);
	for (i = 0; i < 2; i++) {
		s->cpus[i].regs.rip = 0xffffffff81000000ULL + i;
		s->cpus[i].regs.rflags = 0x246;
		s->cpus[i].sregs.cr3 = 0x1a09000;
		s->cpus[i].xsave_size = sizeof(struct kvm_xsave);
		s->cpus[i].xsave[7] = 0x5a;
		s->cpus[i].has_xcrs = true;
		s->cpus[i].xcrs.nr_xcrs = 1;
		s->cpus[i].nmsrs = 2;
		s->cpus[i].msrs[0] = (struct kvm_msr_entry){ .index = 0x10, .data = 123456789 };
		s->cpus[i].msrs[1] =
			(struct kvm_msr_entry){ .index = 0x4b564d01, .data = 1ULL << 40 };
		s->cpus[i].mp_state.mp_state = i;
		s->cpus[i].tsc_khz = 2445424;
	}
	s->vm.pic_master.chip_id = KVM_IRQCHIP_PIC_MASTER;
	s->vm.pic_slave.chip_id = KVM_IRQCHIP_PIC_SLAVE;
	s->vm.ioapic.chip_id = KVM_IRQCHIP_IOAPIC;
	s->vm.clock.clock = 987654321;
	s->serial.lcr = 3;
	s->serial.rx_count = 2;
	s->serial.rx_fifo[0] = 'h';
	s->rtc.cmos[10] = 0x26;
	s->rtc.offset = -3600;
	s->platform.i8042_ctr = 0x47;
	s->nvirtio = 1;
	s->virtio[0].status = 15;
	s->virtio[0].driver_features = 1ULL << 32;
	s->virtio[0].q[0] = (struct virtio_mmio_queue_state){
		.size = 256, .ready = 1, .desc = 0x10000, .used_idx = 77, .last_avail = 77
	};
	s->disks[0].size = 16 << 20;
	s->disks[0].header[0] = 'Q';
	s->nregions = 2;
	s->regions[0] = (struct snapshot_region){ .gpa = 0, .size = 3ULL << 30, .offset = 0x10000 };
	s->regions[1] = (struct snapshot_region){ .gpa = 4ULL << 30,
						  .size = 1ULL << 30,
						  .offset = 0x10000 + (3ULL << 30) };
}

static void *build(const struct snapshot_state *s, size_t *len)
{
	void *dtb = NULL;

	assert_int_equal(snapshot_build(s, &dtb, len, err, sizeof(err)), 0);
	return dtb;
}

static void test_round_trip(void **state)
{
	struct snapshot_state s, p;
	size_t len;
	void *dtb;
	int i;

	(void)state;
	sample(&s);
	dtb = build(&s, &len);
	assert_int_equal(snapshot_parse(dtb, len, &p, err, sizeof(err)), 0);
	assert_int_equal(p.argc, 5);
	for (i = 0; i < 5; i++)
		assert_string_equal(p.argv[i], argv_saved[i]);
	assert_null(p.argv[5]);
	assert_memory_equal(&p.model, &s.model, sizeof(s.model));
	assert_int_equal(p.ncpus, 2);
	for (i = 0; i < 2; i++) {
		assert_memory_equal(&p.cpus[i].regs, &s.cpus[i].regs, sizeof(s.cpus[i].regs));
		assert_memory_equal(&p.cpus[i].sregs, &s.cpus[i].sregs, sizeof(s.cpus[i].sregs));
		assert_int_equal(p.cpus[i].xsave_size, sizeof(struct kvm_xsave));
		assert_int_equal(p.cpus[i].xsave[7], 0x5a);
		assert_true(p.cpus[i].has_xcrs);
		assert_int_equal(p.cpus[i].nmsrs, 2);
		assert_int_equal(p.cpus[i].msrs[1].index, 0x4b564d01);
		assert_int_equal(p.cpus[i].msrs[1].data, 1ULL << 40);
		assert_int_equal(p.cpus[i].mp_state.mp_state, (unsigned int)i);
		assert_int_equal(p.cpus[i].tsc_khz, 2445424);
	}
	assert_memory_equal(&p.vm, &s.vm, offsetof(struct x86_vm_state, clock));
	assert_int_equal(p.vm.clock.clock, 987654321);
	assert_memory_equal(&p.serial, &s.serial, sizeof(s.serial));
	assert_memory_equal(&p.rtc, &s.rtc, sizeof(s.rtc));
	assert_memory_equal(&p.platform, &s.platform, sizeof(s.platform));
	assert_int_equal(p.nvirtio, 1);
	assert_memory_equal(&p.virtio[0], &s.virtio[0], sizeof(s.virtio[0]));
	assert_memory_equal(&p.disks[0], &s.disks[0], sizeof(s.disks[0]));
	assert_int_equal(p.nregions, 2);
	assert_memory_equal(p.regions, s.regions, 2 * sizeof(s.regions[0]));
	snapshot_state_free(&p);
	free(dtb);
	free(s.cpus);
}

static void expect_refused(const void *dtb, size_t len, const char *needle)
{
	struct snapshot_state p;

	assert_true(snapshot_parse(dtb, len, &p, err, sizeof(err)) < 0);
	snapshot_state_free(&p);
	if (!strstr(err, needle))
		fail_msg("error '%s' does not mention '%s'", err, needle);
	assert_null(strchr(err, '\n'));
}

/* Change one property of the built tree in place (same length). */
static void set_cell(void *dtb, const char *path, const char *prop, uint32_t v)
{
	int node = fdt_path_offset(dtb, path);

	assert_true(node >= 0);
	assert_int_equal(fdt_setprop_inplace_u32(dtb, node, prop, v), 0);
}

static void test_refused(void **state)
{
	struct snapshot_state s;
	size_t len;
	uint8_t *dtb, *copy;

	(void)state;
	sample(&s);
	dtb = build(&s, &len);
	copy = malloc(len);
	assert_non_null(copy);

	expect_refused(dtb, len / 2, "truncated");
	expect_refused(dtb, 10, "no device tree header");
	memcpy(copy, dtb, len);
	copy[0] ^= 1;
	expect_refused(copy, len, "not a vmm snapshot");

	memcpy(copy, dtb, len);
	set_cell(copy, "/vmm", "version", SNAPSHOT_VERSION + 1);
	expect_refused(copy, len, "format version 2");

	memcpy(copy, dtb, len);
	assert_int_equal(fdt_setprop_inplace_u64(copy, fdt_path_offset(copy, "/memory/region@1"),
						 "size", 4097),
			 0);
	expect_refused(copy, len, "region 1");

	memcpy(copy, dtb, len);
	set_cell(copy, "/devices/serial@3f8", "lcr", 0x100);
	expect_refused(copy, len, "not a byte");

	memcpy(copy, dtb, len);
	assert_int_equal(fdt_nop_property(copy, fdt_path_offset(copy, "/cpus/cpu@1"), "rip"), 0);
	expect_refused(copy, len, "/cpus/cpu@1/rip is missing");

	memcpy(copy, dtb, len);
	assert_int_equal(fdt_nop_node(copy, fdt_path_offset(copy, "/kvm")), 0);
	expect_refused(copy, len, "no /kvm node");

	memcpy(copy, dtb, len);
	assert_int_equal(fdt_nop_node(copy, fdt_path_offset(copy, "/cpus/cpu@0")), 0);
	expect_refused(copy, len, "node cpu@1 where cpu@0 belongs");

	free(copy);
	free(dtb);
	free(s.cpus);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_round_trip),
		cmocka_unit_test(test_refused),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
