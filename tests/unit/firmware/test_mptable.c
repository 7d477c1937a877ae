/* SPDX-License-Identifier: MIT */
/* MP spec 1.4 tables, read back as Linux's mpparse.c would. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "firmware/mptable.h"
#include "fw_test.h"
#include "base/layout.h"

#define MP_AT	 LAYOUT_MPTABLE_START
#define MP_LIMIT LAYOUT_BIOS_END

static size_t expected_size(unsigned int ncpus)
{
	/* floating pointer, header, CPUs, bus, IOAPIC, 15 ISA IRQs, 2 LINTs */
	return 16 + 44 + 20 * ncpus + 8 + 8 + 15 * 8 + 2 * 8;
}

struct mp_counts {
	unsigned int cpus, bsps, buses, ioapics, intsrcs, lintsrcs;
	uint8_t pin_of_irq[16]; /* 0xff: not routed */
	int lint_extint, lint_nmi;
};

/* Check the pointer and header and walk the entries. */
static void mp_parse(const uint8_t *ram, unsigned int ncpus, struct mp_counts *c)
{
	const uint8_t *mpf = ram + MP_AT, *mpc, *p, *end;
	uint16_t len, count, i;

	memset(c, 0, sizeof(*c));
	memset(c->pin_of_irq, 0xff, sizeof(c->pin_of_irq));
	c->lint_extint = c->lint_nmi = -1;

	assert_memory_equal(mpf, "_MP_", 4);
	assert_int_equal(mpf[8], 1); /* length in paragraphs */
	assert_int_equal(mpf[9], 4); /* spec 1.4 */
	assert_int_equal(fw_sum8(mpf, 16), 0);
	assert_int_equal(mpf[11], 0); /* feature 1: a table, no default config */
	assert_int_equal(fw_le32(mpf + 4), MP_AT + 16);

	mpc = ram + fw_le32(mpf + 4);
	len = fw_le16(mpc + 4);
	count = fw_le16(mpc + 34);
	assert_memory_equal(mpc, "PCMP", 4);
	assert_int_equal(len, expected_size(ncpus) - 16);
	assert_int_equal(mpc[6], 4);
	assert_int_equal(fw_sum8(mpc, len), 0);
	assert_int_equal(fw_le32(mpc + 36), 0xfee00000);
	assert_int_equal(fw_le16(mpc + 40), 0); /* no extended table */
	assert_int_equal(count, ncpus + 1 + 1 + 15 + 2);

	p = mpc + 44;
	end = mpc + len;
	for (i = 0; i < count; i++) {
		assert_true(p < end);
		switch (p[0]) {
		case 0: /* processor */
			assert_true(p + 20 <= end);
			assert_int_equal(p[1], c->cpus); /* APIC id = index */
			assert_int_equal(p[2], 0x14);
			assert_true(p[3] & 1); /* enabled */
			if (p[3] & 2) {
				assert_int_equal(p[1], 0); /* the BSP is CPU 0 */
				c->bsps++;
			}
			assert_int_equal(fw_le32(p + 4) & 0xf00, 0x600); /* family 6 */
			assert_true(fw_le32(p + 8) & (1U << 9));	 /* APIC */
			c->cpus++;
			p += 20;
			break;
		case 1:
			assert_memory_equal(p + 2, "ISA   ", 6);
			c->buses++;
			p += 8;
			break;
		case 2:
			assert_int_equal(p[1], ncpus);
			assert_int_equal(p[2], 0x11);
			assert_int_equal(p[3] & 1, 1);
			assert_int_equal(fw_le32(p + 4), 0xfec00000);
			c->ioapics++;
			p += 8;
			break;
		case 3:
			assert_int_equal(p[1], 0); /* INT */
			assert_int_equal(p[4], 0); /* the ISA bus */
			assert_true(p[5] < 16);
			assert_int_equal(c->pin_of_irq[p[5]], 0xff); /* once per IRQ */
			assert_int_equal(p[6], ncpus);
			c->pin_of_irq[p[5]] = p[7];
			c->intsrcs++;
			p += 8;
			break;
		case 4:
			assert_int_equal(p[6], 0xff); /* all local APICs */
			if (p[1] == 3)
				c->lint_extint = p[7];
			else if (p[1] == 1)
				c->lint_nmi = p[7];
			c->lintsrcs++;
			p += 8;
			break;
		default:
			fail_msg("unknown entry type %u", p[0]);
		}
	}
	assert_ptr_equal(p, end);
}

static void check_ncpus(unsigned int ncpus)
{
	struct fw_fake_guest g;
	struct mp_counts c;
	unsigned int irq;

	assert_int_equal(fw_fake_guest_init(&g, FW_TEST_RAM_SIZE), 0);
	assert_int_equal(mptable_write(&g.gm, MP_AT, MP_LIMIT, ncpus), 0);
	mp_parse(g.ram, ncpus, &c);
	assert_int_equal(c.cpus, ncpus);
	assert_int_equal(c.bsps, 1);
	assert_int_equal(c.buses, 1);
	assert_int_equal(c.ioapics, 1);
	assert_int_equal(c.intsrcs, 15);
	assert_int_equal(c.lintsrcs, 2);
	assert_int_equal(c.lint_extint, 0);
	assert_int_equal(c.lint_nmi, 1);
	assert_int_equal(c.pin_of_irq[0], 2);
	assert_int_equal(c.pin_of_irq[2], 0xff);
	for (irq = 1; irq < 16; irq++)
		if (irq != 2)
			assert_int_equal(c.pin_of_irq[irq], irq);
	/* Nothing written outside the tables. */
	assert_true(fw_untouched(&g, 0, MP_AT));
	assert_true(fw_untouched(&g, MP_AT + expected_size(ncpus), g.size));
	fw_fake_guest_destroy(&g);
}

static void test_cpus(void **state)
{
	(void)state;
	check_ncpus(1);
	check_ncpus(2);
	check_ncpus(4);
	check_ncpus(MPTABLE_MAX_CPUS);
}

static void test_bounds(void **state)
{
	struct fw_fake_guest g;
	size_t size = expected_size(4);

	(void)state;
	assert_int_equal(fw_fake_guest_init(&g, FW_TEST_RAM_SIZE), 0);
	assert_int_equal(mptable_write(&g.gm, MP_AT, MP_AT + size - 1, 4), -ENOSPC);
	assert_int_equal(mptable_write(&g.gm, MP_AT, MP_AT, 4), -ENOSPC);
	assert_int_equal(mptable_write(&g.gm, MP_AT, 0, 4), -ENOSPC);
	assert_int_equal(mptable_write(&g.gm, UINT64_MAX - 15, UINT64_MAX, 1), -ENOSPC);
	assert_true(fw_untouched(&g, 0, g.size));
	assert_int_equal(mptable_write(&g.gm, MP_AT, MP_AT + size, 4), 0);
	assert_true(fw_untouched(&g, MP_AT + size, g.size));

	assert_int_equal(mptable_write(&g.gm, MP_AT, MP_LIMIT, 0), -EINVAL);
	assert_int_equal(mptable_write(&g.gm, MP_AT, MP_LIMIT, MPTABLE_MAX_CPUS + 1), -EINVAL);
	assert_int_equal(mptable_write(&g.gm, MP_AT + 8, MP_LIMIT, 1), -EINVAL); /* alignment */
	/* Not guest RAM: the fake guest ends at 2 MiB. */
	assert_int_equal(mptable_write(&g.gm, g.size - 16, g.size + 0x10000, 1), -EFAULT);
	/* Above 4 GiB the 32-bit physical pointer cannot reach. */
	assert_int_equal(mptable_write(&g.gm, 1ULL << 32, UINT64_MAX, 1), -EINVAL);
	fw_fake_guest_destroy(&g);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_cpus),
		cmocka_unit_test(test_bounds),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
