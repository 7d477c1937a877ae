/* SPDX-License-Identifier: MIT */
/* ACPI tables, found and checked the way an OS does: from the RSDP. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "firmware/acpi.h"
#include "fw_test.h"
#include "base/layout.h"

struct tables {
	const uint8_t *rsdp, *xsdt, *fadt, *madt, *dsdt;
	uint64_t top; /* end of the highest table */
};

static const uint8_t *table_at(const struct fw_fake_guest *g, uint64_t gpa, const char *sig,
			       struct tables *t)
{
	const uint8_t *p;
	uint32_t len;

	assert_true(gpa >= LAYOUT_ACPI_START && gpa + 36 <= LAYOUT_ACPI_END);
	assert_int_equal(gpa % 8, 0);
	p = g->ram + gpa;
	assert_memory_equal(p, sig, 4);
	len = fw_le32(p + 4);
	assert_true(gpa + len <= LAYOUT_ACPI_END);
	assert_int_equal(fw_sum8(p, len), 0);
	assert_memory_equal(p + 10, "VMM   ", 6);
	if (gpa + len > t->top)
		t->top = gpa + len;
	return p;
}

/* Follow RSDP -> XSDT -> FADT/MADT, FADT -> DSDT; check every header. */
static void find_tables(const struct fw_fake_guest *g, struct tables *t)
{
	const uint8_t *r = g->ram + LAYOUT_ACPI_START;
	unsigned int i;

	memset(t, 0, sizeof(*t));
	t->rsdp = r;
	t->top = LAYOUT_ACPI_START + 36;
	assert_memory_equal(r, "RSD PTR ", 8);
	assert_int_equal(fw_sum8(r, 20), 0);
	assert_int_equal(r[15], 2); /* revision: ACPI 2.0+ */
	assert_int_equal(fw_le32(r + 20), 36);
	assert_int_equal(fw_sum8(r, 36), 0);
	assert_int_equal(fw_le32(r + 16), 0); /* no RSDT */

	t->xsdt = table_at(g, fw_le64(r + 24), "XSDT", t);
	assert_int_equal(fw_le32(t->xsdt + 4), 36 + 2 * 8);
	for (i = 0; i < 2; i++) {
		uint64_t at = fw_le64(t->xsdt + 36 + 8 * i);

		if (memcmp(g->ram + at, "FACP", 4) == 0)
			t->fadt = table_at(g, at, "FACP", t);
		else
			t->madt = table_at(g, at, "APIC", t);
	}
	assert_non_null(t->fadt);
	assert_non_null(t->madt);
	assert_int_equal(fw_le32(t->fadt + 40), 0); /* DSDT: X_DSDT is used */
	t->dsdt = table_at(g, fw_le64(t->fadt + 140), "DSDT", t);
}

static void write_tables(struct fw_fake_guest *g, struct acpi_config *cfg, struct tables *t)
{
	assert_int_equal(fw_fake_guest_init(g, FW_TEST_RAM_SIZE), 0);
	assert_int_equal(acpi_write_tables(&g->gm, LAYOUT_ACPI_START, LAYOUT_ACPI_END, cfg), 0);
	find_tables(g, t);
	/* Nothing outside the tables was written. */
	assert_true(fw_untouched(g, 0, LAYOUT_ACPI_START));
	assert_true(fw_untouched(g, t->top, g->size));
}

static void add_mmio_devs(struct acpi_config *cfg, unsigned int n)
{
	unsigned int i;

	cfg->nmmio_devs = n;
	for (i = 0; i < n; i++)
		cfg->mmio_devs[i] = (struct acpi_mmio_dev){
			.base = LAYOUT_VIRTIO_MMIO_START + i * LAYOUT_VIRTIO_MMIO_SIZE,
			.size = LAYOUT_VIRTIO_MMIO_SIZE,
			.irq = LAYOUT_VIRTIO_IRQ_BASE +
			       i % (LAYOUT_IOAPIC_PINS - LAYOUT_VIRTIO_IRQ_BASE),
		};
}

static void check_gas_io8(const uint8_t *gas, uint16_t port)
{
	assert_int_equal(gas[0], 1); /* System I/O */
	assert_int_equal(gas[1], 8); /* bit width */
	assert_int_equal(gas[2], 0); /* bit offset */
	assert_int_equal(gas[3], 1); /* byte access */
	assert_int_equal(fw_le64(gas + 4), port);
}

static void test_fadt(void **state)
{
	struct acpi_config cfg = { .ncpus = 2 };
	struct fw_fake_guest g;
	struct tables t;
	const uint8_t *f;

	(void)state;
	write_tables(&g, &cfg, &t);
	f = t.fadt;
	assert_int_equal(fw_le32(f + 4), 276);
	assert_int_equal(f[8], 6);
	assert_int_equal(fw_le32(f + 112), (1U << 20) | (1U << 10));
	/* IAPC_BOOT_ARCH: VGA not present, MSI not supported, ASPM, no CMOS RTC */
	assert_int_equal(fw_le16(f + 109), 0x3c);
	check_gas_io8(f + 116, LAYOUT_PORT_ACPI_RESET);
	assert_int_equal(f[128], LAYOUT_ACPI_RESET_VALUE);
	check_gas_io8(f + 244, LAYOUT_PORT_ACPI_SLEEP_CTL);
	check_gas_io8(f + 256, LAYOUT_PORT_ACPI_SLEEP_STS);
	assert_memory_equal(f + 268, "vmm     ", 8);
	/* Hardware-reduced: no FACS, SCI, SMI command, PM1 or GPE blocks. */
	assert_int_equal(fw_le32(f + 36), 0);
	assert_int_equal(fw_le16(f + 46), 0);
	assert_int_equal(fw_le32(f + 48), 0);
	for (unsigned int off = 52; off < 109; off++)
		assert_int_equal(f[off], 0);
	for (unsigned int off = 132; off < 140; off++)
		assert_int_equal(f[off], 0);
	for (unsigned int off = 148; off < 244; off++)
		assert_int_equal(f[off], 0);
	fw_fake_guest_destroy(&g);
}

static void check_madt(unsigned int ncpus)
{
	struct acpi_config cfg = { .ncpus = ncpus };
	unsigned int lapics = 0, ioapics = 0, isos = 0, nmis = 0;
	struct fw_fake_guest g;
	const uint8_t *m, *p, *end;
	struct tables t;

	write_tables(&g, &cfg, &t);
	m = t.madt;
	assert_int_equal(fw_le32(m + 4), 44 + 8 * ncpus + 12 + 10 + 6);
	assert_int_equal(fw_le32(m + 36), 0xfee00000);
	assert_int_equal(fw_le32(m + 40), 0);
	p = m + 44;
	end = m + fw_le32(m + 4);
	while (p < end) {
		assert_true(p[1] >= 2 && p + p[1] <= end);
		switch (p[0]) {
		case 0:
			assert_int_equal(p[1], 8);
			assert_int_equal(p[2], lapics); /* processor UID */
			assert_int_equal(p[3], lapics); /* APIC id */
			assert_int_equal(fw_le32(p + 4), 1);
			lapics++;
			break;
		case 1:
			assert_int_equal(p[1], 12);
			assert_int_equal(p[2], ncpus);
			assert_int_equal(fw_le32(p + 4), 0xfec00000);
			assert_int_equal(fw_le32(p + 8), 0);
			ioapics++;
			break;
		case 2:
			assert_int_equal(p[1], 10);
			assert_int_equal(p[2], 0);	     /* ISA */
			assert_int_equal(p[3], 0);	     /* IRQ 0 */
			assert_int_equal(fw_le32(p + 4), 2); /* -> GSI 2 */
			assert_int_equal(fw_le16(p + 8), 0);
			isos++;
			break;
		case 4:
			assert_int_equal(p[1], 6);
			assert_int_equal(p[2], 0xff); /* all processors */
			assert_int_equal(p[5], 1);    /* LINT1 */
			nmis++;
			break;
		default:
			fail_msg("unexpected MADT entry type %u", p[0]);
		}
		p += p[1];
	}
	assert_ptr_equal(p, end);
	assert_int_equal(lapics, ncpus);
	assert_int_equal(ioapics, 1);
	assert_int_equal(isos, 1);
	assert_int_equal(nmis, 1);
	fw_fake_guest_destroy(&g);
}

static void test_madt(void **state)
{
	(void)state;
	check_madt(1);
	check_madt(2);
	check_madt(4);
	check_madt(ACPI_MAX_CPUS);
}

/* A resource template starting with `res` appears once and its End Tag
 * checksum makes its bytes sum to zero. `res` ends with the End Tag byte. */
static void check_template(const uint8_t *dsdt, uint32_t len, const uint8_t *res, size_t n)
{
	const uint8_t *at;

	assert_int_equal(fw_count(dsdt, len, res, n), 1);
	at = memmem(dsdt, len, res, n);
	assert_true(at + n < dsdt + len);
	assert_int_equal(fw_sum8(at, n + 1), 0);
}

static void check_dsdt(unsigned int ndevs)
{
	/* Name(\_S5_, Package(4){5, 0, 0, 0}) */
	static const uint8_t s5[] = { 0x08, '\\', '_',	'S',  '5',  '_',  0x12,
				      0x07, 0x04, 0x0a, 0x05, 0x00, 0x00, 0x00 };
	/* _HID EISAID("PNP0501") and the COM1 resources */
	static const uint8_t com1_hid[] = {
		0x08, '_', 'H', 'I', 'D', 0x0c, 0x41, 0xd0, 0x05, 0x01
	};
	static const uint8_t com1_res[] = { 0x47, 0x01, 0xf8, 0x03, 0xf8, 0x03,
					    0x01, 0x08, 0x22, 0x10, 0x00, 0x79 };
	static const uint8_t pvpanic_res[] = {
		0x47, 0x01, 0x05, 0x05, 0x05, 0x05, 0x01, 0x01, 0x79
	};
	struct acpi_config cfg = { .ncpus = 2 };
	struct fw_fake_guest g;
	struct tables t;
	uint32_t len;
	unsigned int i;

	add_mmio_devs(&cfg, ndevs);
	write_tables(&g, &cfg, &t);
	len = fw_le32(t.dsdt + 4);
	assert_int_equal(t.dsdt[8], 2); /* 64-bit integers */
	assert_int_equal(fw_count(t.dsdt, len, s5, sizeof(s5)), 1);
	assert_int_equal(fw_count(t.dsdt, len, com1_hid, sizeof(com1_hid)), 1);
	check_template(t.dsdt, len, com1_res, sizeof(com1_res));
	assert_int_equal(fw_count(t.dsdt, len, "QEMU0001", 8), 1);
	check_template(t.dsdt, len, pvpanic_res, sizeof(pvpanic_res));
	assert_int_equal(fw_count(t.dsdt, len, "LNRO0005", 8), ndevs);
	assert_int_equal(fw_count(t.dsdt, len, "\\_SB_", 5), 1);
	for (i = 0; i < ndevs; i++) {
		const struct acpi_mmio_dev *d = &cfg.mmio_devs[i];
		uint8_t res[22] = { 0x86, 0x09, 0x00, 0x01 };

		/* Memory32Fixed(ReadWrite, base, size), then
		 * Interrupt(ResourceConsumer, Edge, ActiveHigh, Exclusive){irq} */
		memcpy(res + 4, &(uint32_t){ (uint32_t)d->base }, 4);
		memcpy(res + 8, &d->size, 4);
		memcpy(res + 12, (const uint8_t[]){ 0x89, 0x06, 0x00, 0x03, 0x01 }, 5);
		memcpy(res + 17, &d->irq, 4);
		res[21] = 0x79;
		check_template(t.dsdt, len, res, sizeof(res));
	}
	fw_fake_guest_destroy(&g);
}

static void test_dsdt(void **state)
{
	(void)state;
	check_dsdt(0);
	check_dsdt(1);
	check_dsdt(3);
	check_dsdt(ACPI_MAX_MMIO_DEVS);
}

/* The tables must fit, byte for byte. */
static void test_enospc(void **state)
{
	struct acpi_config cfg = { .ncpus = 4 };
	struct fw_fake_guest g;
	struct tables t;
	uint64_t need, end;

	(void)state;
	add_mmio_devs(&cfg, 3);
	write_tables(&g, &cfg, &t);
	need = t.top - LAYOUT_ACPI_START;
	memset(g.ram, FW_TEST_FILL, g.size);
	for (end = LAYOUT_ACPI_START + 1; end < t.top; end += 37)
		assert_int_equal(acpi_write_tables(&g.gm, LAYOUT_ACPI_START, end, &cfg), -ENOSPC);
	assert_int_equal(acpi_write_tables(&g.gm, LAYOUT_ACPI_START, t.top - 1, &cfg), -ENOSPC);
	assert_true(fw_untouched(&g, 0, g.size));
	assert_int_equal(
		acpi_write_tables(&g.gm, LAYOUT_ACPI_START, LAYOUT_ACPI_START + need, &cfg), 0);
	find_tables(&g, &t);
	fw_fake_guest_destroy(&g);
}

static void test_bad_args(void **state)
{
	struct acpi_config cfg = { .ncpus = 1 };
	struct fw_fake_guest g;

	(void)state;
	assert_int_equal(fw_fake_guest_init(&g, FW_TEST_RAM_SIZE), 0);
#define WRITE(c) acpi_write_tables(&g.gm, LAYOUT_ACPI_START, LAYOUT_ACPI_END, (c))
	cfg.ncpus = 0;
	assert_int_equal(WRITE(&cfg), -EINVAL);
	cfg.ncpus = ACPI_MAX_CPUS + 1;
	assert_int_equal(WRITE(&cfg), -EINVAL);
	cfg.ncpus = 1;
	cfg.nmmio_devs = ACPI_MAX_MMIO_DEVS + 1;
	assert_int_equal(WRITE(&cfg), -EINVAL);
	add_mmio_devs(&cfg, 1);
	cfg.mmio_devs[0].irq = LAYOUT_IOAPIC_PINS;
	assert_int_equal(WRITE(&cfg), -EINVAL);
	add_mmio_devs(&cfg, 1);
	cfg.mmio_devs[0].size = 0;
	assert_int_equal(WRITE(&cfg), -EINVAL);
	add_mmio_devs(&cfg, 1);
	cfg.mmio_devs[0].base = 0xfffff000;
	cfg.mmio_devs[0].size = 0x2000; /* crosses 4 GiB */
	assert_int_equal(WRITE(&cfg), -EINVAL);
	cfg.mmio_devs[0].base = 1ULL << 32;
	cfg.mmio_devs[0].size = 0x1000;
	assert_int_equal(WRITE(&cfg), -EINVAL);
#undef WRITE
	add_mmio_devs(&cfg, 1);
	/* Misaligned start, empty area, area that is not guest RAM. */
	assert_int_equal(acpi_write_tables(&g.gm, LAYOUT_ACPI_START + 4, LAYOUT_ACPI_END, &cfg),
			 -EINVAL);
	assert_int_equal(acpi_write_tables(&g.gm, LAYOUT_ACPI_START, LAYOUT_ACPI_START, &cfg),
			 -EINVAL);
	assert_int_equal(acpi_write_tables(&g.gm, g.size - 0x100, g.size + 0x10000, &cfg), -EFAULT);
	assert_true(fw_untouched(&g, 0, g.size));
	fw_fake_guest_destroy(&g);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_fadt),	 cmocka_unit_test(test_madt),
		cmocka_unit_test(test_dsdt),	 cmocka_unit_test(test_enospc),
		cmocka_unit_test(test_bad_args),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
