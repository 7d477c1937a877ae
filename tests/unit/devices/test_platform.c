/* SPDX-License-Identifier: MIT */
/*
 * debug-exit, pvpanic, ACPI sleep/reset registers, i8042 and port 0x80,
 * driven through the PIO bus.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include <errno.h>

#include "devices/platform.h"
#include "base/bus.h"
#include "base/layout.h"

struct fx {
	struct bus bus;
	struct platform_devs p;
	int nevents;
	enum platform_event ev[16];
	uint8_t arg[16];
	int lock_held; /* the event callback ran with p->lock held */
};

static void fake_event(void *opaque, enum platform_event ev, uint8_t arg)
{
	struct fx *f = opaque;

	assert_true(f->nevents < 16);
	f->ev[f->nevents] = ev;
	f->arg[f->nevents] = arg;
	f->nevents++;
	/* trylock fails with EBUSY if the bus holds the lock (default mutex) */
	if (pthread_mutex_trylock(&f->p.lock) == EBUSY)
		f->lock_held++;
	else
		pthread_mutex_unlock(&f->p.lock);
}

static int setup(void **state)
{
	struct fx *f = calloc(1, sizeof(*f));
	struct platform_config cfg;
	char err[128];

	if (!f)
		return -1;
	/* the VMM's ports (vmm/vm.c), so the tests read like the guest's view */
	cfg = (struct platform_config){ .event = fake_event, .opaque = f };
	cfg.ports = (struct platform_ports){ .debug_exit = LAYOUT_PORT_DEBUG_EXIT,
					     .pvpanic = LAYOUT_PORT_PVPANIC,
					     .acpi_pm = LAYOUT_PORT_ACPI_SLEEP_CTL,
					     .i8042_data = LAYOUT_PORT_I8042_DATA,
					     .i8042_cmd = LAYOUT_PORT_I8042_CMD,
					     .post = LAYOUT_PORT_POST };
	platform_init(&f->p, &cfg);
	bus_init(&f->bus, "pio");
	if (platform_register(&f->p, &f->bus, err, sizeof(err)) != 0)
		return -1;
	*state = f;
	return 0;
}

static int teardown(void **state)
{
	struct fx *f = *state;

	bus_destroy(&f->bus);
	platform_destroy(&f->p);
	free(f);
	return 0;
}

static uint8_t in(struct fx *f, uint16_t port)
{
	uint8_t v = 0;

	assert_int_equal(bus_read(&f->bus, port, &v, 1), 0);
	return v;
}

static void out(struct fx *f, uint16_t port, uint8_t v)
{
	assert_int_equal(bus_write(&f->bus, port, &v, 1), 0);
}

static void test_debug_exit(void **state)
{
	struct fx *f = *state;
	uint16_t w = 0x0101;

	out(f, LAYOUT_PORT_DEBUG_EXIT, 0x42);
	assert_int_equal(f->nevents, 1);
	assert_int_equal(f->ev[0], PLATFORM_EVENT_DEBUG_EXIT);
	assert_int_equal(f->arg[0], 0x42);
	assert_int_equal(f->lock_held, 1);
	out(f, LAYOUT_PORT_DEBUG_EXIT, 0);
	assert_int_equal(f->nevents, 2);
	assert_int_equal(f->arg[1], 0);
	/* a 2-byte write straddles the 1-byte device: refused, no event */
	assert_int_not_equal(bus_write(&f->bus, LAYOUT_PORT_DEBUG_EXIT, &w, 2), 0);
	assert_int_equal(f->nevents, 2);
}

static void test_pvpanic(void **state)
{
	struct fx *f = *state;

	assert_int_equal(in(f, LAYOUT_PORT_PVPANIC), 0x03);
	out(f, LAYOUT_PORT_PVPANIC, 0x00);
	out(f, LAYOUT_PORT_PVPANIC, 0x02); /* CRASH_LOADED: informational */
	assert_int_equal(f->nevents, 0);
	out(f, LAYOUT_PORT_PVPANIC, 0x01);
	assert_int_equal(f->nevents, 1);
	assert_int_equal(f->ev[0], PLATFORM_EVENT_PANIC);
	assert_int_equal(f->arg[0], 0x01);
}

static void test_acpi_s5(void **state)
{
	struct fx *f = *state;

	/* SLP_TYP=5 without SLP_EN does nothing */
	out(f, LAYOUT_PORT_ACPI_SLEEP_CTL, 5 << 2);
	assert_int_equal(f->nevents, 0);
	/* what Linux writes with our _S5 package */
	out(f, LAYOUT_PORT_ACPI_SLEEP_CTL, 0x34);
	assert_int_equal(f->nevents, 1);
	assert_int_equal(f->ev[0], PLATFORM_EVENT_POWEROFF);
	assert_int_equal(f->arg[0], 0);
}

static void test_acpi_other_sleep_wakes(void **state)
{
	struct fx *f = *state;

	assert_int_equal(in(f, LAYOUT_PORT_ACPI_SLEEP_STS), 0);
	out(f, LAYOUT_PORT_ACPI_SLEEP_CTL, 0x20 | (3 << 2)); /* S3 */
	assert_int_equal(f->nevents, 0);
	assert_int_equal(in(f, LAYOUT_PORT_ACPI_SLEEP_STS), 0x80); /* WAK_STS */
	out(f, LAYOUT_PORT_ACPI_SLEEP_STS, 0x00);		   /* writing 0 keeps it */
	assert_int_equal(in(f, LAYOUT_PORT_ACPI_SLEEP_STS), 0x80);
	out(f, LAYOUT_PORT_ACPI_SLEEP_STS, 0x80); /* write 1 to clear */
	assert_int_equal(in(f, LAYOUT_PORT_ACPI_SLEEP_STS), 0);
}

static void test_acpi_reset(void **state)
{
	struct fx *f = *state;

	out(f, LAYOUT_PORT_ACPI_RESET, 0x02);
	out(f, LAYOUT_PORT_ACPI_RESET, 0x00);
	assert_int_equal(f->nevents, 0);
	out(f, LAYOUT_PORT_ACPI_RESET, LAYOUT_ACPI_RESET_VALUE);
	assert_int_equal(f->nevents, 1);
	assert_int_equal(f->ev[0], PLATFORM_EVENT_RESET);
}

static void test_acpi_wide_write_is_bytewise(void **state)
{
	struct fx *f = *state;
	uint16_t w = (uint16_t)(LAYOUT_ACPI_RESET_VALUE << 8) | 0x80; /* STS, RESET */

	assert_int_equal(bus_write(&f->bus, LAYOUT_PORT_ACPI_SLEEP_STS, &w, 2), 0);
	assert_int_equal(f->nevents, 1);
	assert_int_equal(f->ev[0], PLATFORM_EVENT_RESET);
}

static void test_i8042_reset(void **state)
{
	struct fx *f = *state;

	/* nothing pending: Linux's kb_wait() (IBF) and flush (OBF) finish */
	assert_int_equal(in(f, LAYOUT_PORT_I8042_CMD) & 0x03, 0);
	out(f, LAYOUT_PORT_I8042_CMD, 0xff); /* pulse nothing */
	assert_int_equal(f->nevents, 0);
	out(f, LAYOUT_PORT_I8042_CMD, 0xfe);
	assert_int_equal(f->nevents, 1);
	assert_int_equal(f->ev[0], PLATFORM_EVENT_RESET);
	assert_int_equal(f->lock_held, 1);
	/* output port write with the reset line low */
	out(f, LAYOUT_PORT_I8042_CMD, 0xd1);
	out(f, LAYOUT_PORT_I8042_DATA, 0x02);
	assert_int_equal(f->nevents, 2);
	assert_int_equal(f->ev[1], PLATFORM_EVENT_RESET);
	out(f, LAYOUT_PORT_I8042_CMD, 0xd1);
	out(f, LAYOUT_PORT_I8042_DATA, 0x03);
	assert_int_equal(f->nevents, 2);
}

static void test_i8042_probe(void **state)
{
	struct fx *f = *state;
	uint8_t ctr;

	/* self-test */
	out(f, LAYOUT_PORT_I8042_CMD, 0xaa);
	assert_int_equal(in(f, LAYOUT_PORT_I8042_CMD) & 0x01, 0x01);
	assert_int_equal(in(f, LAYOUT_PORT_I8042_DATA), 0x55);
	assert_int_equal(in(f, LAYOUT_PORT_I8042_CMD) & 0x01, 0);

	/* read, then write the command byte */
	out(f, LAYOUT_PORT_I8042_CMD, 0x20);
	assert_int_equal(in(f, LAYOUT_PORT_I8042_CMD) & 0x01, 0x01);
	ctr = in(f, LAYOUT_PORT_I8042_DATA);
	out(f, LAYOUT_PORT_I8042_CMD, 0x60);
	out(f, LAYOUT_PORT_I8042_DATA, (uint8_t)((ctr | 0x10) & ~0x01));
	assert_int_equal(in(f, LAYOUT_PORT_I8042_CMD) & 0x01, 0);
	out(f, LAYOUT_PORT_I8042_CMD, 0x20);
	assert_int_equal(in(f, LAYOUT_PORT_I8042_DATA), (uint8_t)((ctr | 0x10) & ~0x01));

	/* keyboard enable/disable go through the command byte */
	out(f, LAYOUT_PORT_I8042_CMD, 0xae);
	out(f, LAYOUT_PORT_I8042_CMD, 0x20);
	assert_int_equal(in(f, LAYOUT_PORT_I8042_DATA) & 0x10, 0);
	out(f, LAYOUT_PORT_I8042_CMD, 0xad);
	out(f, LAYOUT_PORT_I8042_CMD, 0x20);
	assert_int_equal(in(f, LAYOUT_PORT_I8042_DATA) & 0x10, 0x10);

	/* no aux port: loop test answers without AUXDATA, aux test fails */
	out(f, LAYOUT_PORT_I8042_CMD, 0xd3);
	out(f, LAYOUT_PORT_I8042_DATA, 0x5a);
	assert_int_equal(in(f, LAYOUT_PORT_I8042_CMD) & 0x21, 0x01);
	assert_int_equal(in(f, LAYOUT_PORT_I8042_DATA), 0x5a);
	out(f, LAYOUT_PORT_I8042_CMD, 0xa9);
	assert_int_equal(in(f, LAYOUT_PORT_I8042_DATA), 0x01);

	/* a byte for the absent keyboard gets no answer */
	out(f, LAYOUT_PORT_I8042_DATA, 0xf2);
	assert_int_equal(in(f, LAYOUT_PORT_I8042_CMD) & 0x03, 0);
	/* the status register says whether the last write was a command */
	assert_int_equal(in(f, LAYOUT_PORT_I8042_CMD) & 0x08, 0);
	out(f, LAYOUT_PORT_I8042_CMD, 0xad);
	assert_int_equal(in(f, LAYOUT_PORT_I8042_CMD) & 0x08, 0x08);
	assert_int_equal(f->nevents, 0);
}

static void test_post_port(void **state)
{
	struct fx *f = *state;
	uint64_t before = bus_unclaimed(&f->bus);

	out(f, LAYOUT_PORT_POST, 0x12);
	assert_int_equal(in(f, LAYOUT_PORT_POST), 0xff);
	assert_int_equal(f->nevents, 0);
	assert_int_equal(bus_unclaimed(&f->bus), before);
}

static void test_register_twice_fails(void **state)
{
	struct fx *f = *state;
	struct platform_devs other;

	char err[128] = "";

	platform_init(&other, &(struct platform_config){ .ports = f->p.cfg.ports });
	assert_int_equal(platform_register(&other, &f->bus, err, sizeof(err)), -EEXIST);
	/* what was refused, and what is in the way (base/bus.h) */
	assert_string_equal(err, "cannot register debug-exit at port 0x501: it overlaps debug-exit "
				 "at 0x501..0x501");
	assert_null(strchr(err, '\n'));
	platform_destroy(&other);
}

/* The devices sit where the config says, not at fixed ports. */
static void test_ports_from_config(void **state)
{
	struct fx *f = *state;
	struct platform_devs moved;
	struct bus bus;
	char err[128];
	uint8_t v = 7;

	platform_init(&moved, &(struct platform_config){
				      .ports = { .debug_exit = 0x1000,
						 .pvpanic = 0x1001,
						 .acpi_pm = 0x1010,
						 .i8042_data = 0x1020,
						 .i8042_cmd = 0x1021,
						 .post = 0x1030 },
				      .event = fake_event,
				      .opaque = f,
			      });
	bus_init(&bus, "pio");
	assert_int_equal(platform_register(&moved, &bus, err, sizeof(err)), 0);
	assert_int_equal(bus_write(&bus, 0x1000, &v, 1), 0);
	assert_int_equal(f->nevents, 1);
	assert_int_equal(f->ev[0], PLATFORM_EVENT_DEBUG_EXIT);
	assert_int_equal(f->arg[0], 7);
	v = 0x34; /* S5 through the moved ACPI block */
	assert_int_equal(bus_write(&bus, 0x1010 + PLATFORM_ACPI_SLEEP_CTL, &v, 1), 0);
	assert_int_equal(f->nevents, 2);
	assert_int_equal(f->ev[1], PLATFORM_EVENT_POWEROFF);
	assert_int_equal(bus_write(&bus, LAYOUT_PORT_DEBUG_EXIT, &v, 1),
			 -ENOENT); /* nobody there */
	assert_int_equal(f->nevents, 2);
	bus_destroy(&bus);
	platform_destroy(&moved);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_debug_exit, setup, teardown),
		cmocka_unit_test_setup_teardown(test_pvpanic, setup, teardown),
		cmocka_unit_test_setup_teardown(test_acpi_s5, setup, teardown),
		cmocka_unit_test_setup_teardown(test_acpi_other_sleep_wakes, setup, teardown),
		cmocka_unit_test_setup_teardown(test_acpi_reset, setup, teardown),
		cmocka_unit_test_setup_teardown(test_acpi_wide_write_is_bytewise, setup, teardown),
		cmocka_unit_test_setup_teardown(test_i8042_reset, setup, teardown),
		cmocka_unit_test_setup_teardown(test_i8042_probe, setup, teardown),
		cmocka_unit_test_setup_teardown(test_post_port, setup, teardown),
		cmocka_unit_test_setup_teardown(test_register_twice_fails, setup, teardown),
		cmocka_unit_test_setup_teardown(test_ports_from_config, setup, teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
