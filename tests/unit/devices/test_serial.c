/* SPDX-License-Identifier: MIT */
/*
 * The 16550A model, driven through the PIO bus the way a guest would,
 * including the probe sequence of Linux's 8250 autoconfig().
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "devices/serial.h"
#include "base/bus.h"
#include "base/irq.h"

#define BASE 0x3f8
enum {
	RBR = 0,
	THR = 0,
	DLL = 0,
	IER = 1,
	DLM = 1,
	IIR = 2,
	FCR = 2,
	LCR = 3,
	MCR = 4,
	LSR = 5,
	MSR = 6,
	SCR = 7
};

struct fx {
	struct bus bus;
	struct serial s;
	struct irq_line irq;
	int level; /* last level driven */
	int set_calls;
	uint8_t tx[512];
	size_t ntx;
	int rx_space_calls;
};

static int fake_irq_set(struct irq_line *line, int level)
{
	struct fx *f = line->opaque;

	f->level = level;
	f->set_calls++;
	return 0;
}

static void fake_tx(void *opaque, const uint8_t *buf, size_t len)
{
	struct fx *f = opaque;

	assert_true(f->ntx + len <= sizeof(f->tx));
	memcpy(f->tx + f->ntx, buf, len);
	f->ntx += len;
}

static void fake_rx_space(void *opaque)
{
	struct fx *f = opaque;

	f->rx_space_calls++;
}

static int setup(void **state)
{
	struct fx *f = calloc(1, sizeof(*f));
	struct serial_config cfg;
	char err[128];

	if (!f)
		return -1;
	f->irq.set = fake_irq_set;
	f->irq.opaque = f;
	f->irq.gsi = 4;
	cfg = (struct serial_config){ .port = BASE,
				      .irq = &f->irq,
				      .tx = fake_tx,
				      .tx_opaque = f,
				      .rx_space = fake_rx_space,
				      .rx_opaque = f };
	serial_init(&f->s, &cfg);
	bus_init(&f->bus, "pio");
	if (serial_register(&f->s, &f->bus, err, sizeof(err)) != 0)
		return -1;
	*state = f;
	return 0;
}

static int teardown(void **state)
{
	struct fx *f = *state;

	bus_destroy(&f->bus);
	serial_destroy(&f->s);
	free(f);
	return 0;
}

static uint8_t in(struct fx *f, unsigned int reg)
{
	uint8_t v = 0;

	assert_int_equal(bus_read(&f->bus, BASE + reg, &v, 1), 0);
	return v;
}

static void out(struct fx *f, unsigned int reg, uint8_t v)
{
	assert_int_equal(bus_write(&f->bus, BASE + reg, &v, 1), 0);
}

static void test_reset_values(void **state)
{
	struct fx *f = *state;

	assert_int_equal(in(f, LSR), 0x60); /* THRE | TEMT */
	assert_int_equal(in(f, IIR), 0x01); /* no interrupt, FIFOs off */
	assert_int_equal(in(f, MSR), 0xb0); /* DCD | DSR | CTS, no deltas */
	assert_int_equal(in(f, IER), 0);
	assert_int_equal(in(f, LCR), 0);
	assert_int_equal(in(f, MCR), 0);
	assert_int_equal(in(f, SCR), 0);
	assert_int_equal(f->level, 0);
	assert_int_equal(f->set_calls, 0);
	assert_int_equal(serial_rx_space(&f->s), 1); /* 16450 mode: RBR only */
}

static void test_dlab(void **state)
{
	struct fx *f = *state;

	out(f, LCR, 0x83); /* DLAB, 8N1 */
	out(f, DLL, 0x01);
	out(f, DLM, 0x02);
	assert_int_equal(in(f, DLL), 0x01);
	assert_int_equal(in(f, DLM), 0x02);
	assert_int_equal(f->ntx, 0); /* the divisor write was not a THR write */
	out(f, LCR, 0x03);
	assert_int_equal(in(f, LCR), 0x03);
	assert_int_equal(in(f, IER), 0); /* IER, not DLM */
	out(f, THR, 'A');
	assert_int_equal(f->ntx, 1);
	assert_int_equal(f->tx[0], 'A');
	out(f, LCR, 0x80);
	assert_int_equal(in(f, DLL), 0x01); /* THR write left DLL alone */
	assert_int_equal(in(f, DLM), 0x02);
}

static void test_scratch_and_ier_mask(void **state)
{
	struct fx *f = *state;

	out(f, SCR, 0x55);
	assert_int_equal(in(f, SCR), 0x55);
	out(f, SCR, 0xaa);
	assert_int_equal(in(f, SCR), 0xaa);
	out(f, IER, 0xff); /* bits 4-7 do not exist on a 16550A */
	assert_int_equal(in(f, IER), 0x0f);
	out(f, MCR, 0xff);
	assert_int_equal(in(f, MCR), 0x1f);
}

static void test_loopback(void **state)
{
	struct fx *f = *state;
	uint8_t b = 'h';

	out(f, MCR, 0x10 | 0x0a); /* LOOP | OUT2 | RTS: Linux's loop test */
	assert_int_equal(in(f, MSR) & 0xf0, 0x90);
	out(f, MCR, 0x10 | 0x0f);
	assert_int_equal(in(f, MSR) & 0xf0, 0xf0);
	out(f, MCR, 0x10 | 0x01); /* DTR only -> DSR */
	assert_int_equal(in(f, MSR) & 0xf0, 0x20);

	out(f, THR, 'x');
	assert_int_equal(f->ntx, 0); /* not sent out */
	assert_int_equal(in(f, LSR) & 0x01, 0x01);
	assert_int_equal(in(f, RBR), 'x');
	assert_int_equal(in(f, LSR) & 0x01, 0);

	/* host input is disconnected in loopback */
	assert_int_equal(serial_receive(&f->s, &b, 1), 0);
	assert_int_equal(f->rx_space_calls, 0);
	out(f, MCR, 0x00); /* back to normal: host lines return, host told */
	assert_int_equal(in(f, MSR) & 0xf0, 0xb0);
	assert_int_equal(f->rx_space_calls, 1);
	assert_int_equal(serial_receive(&f->s, &b, 1), 1);
	assert_int_equal(in(f, RBR), 'h');
}

static void test_msr_deltas(void **state)
{
	struct fx *f = *state;

	out(f, IER, 0x08);		    /* modem status interrupt */
	out(f, MCR, 0x10 | 0x08 | 0x04);    /* LOOP, OUT2->DCD, OUT1->RI */
	assert_int_equal(in(f, IIR), 0x00); /* modem status pending */
	/* CTS, DSR went away (DCTS, DDSR), DCD stayed: no DDCD */
	assert_int_equal(in(f, MSR), 0xc0 | 0x01 | 0x02);
	assert_int_equal(in(f, MSR), 0xc0); /* deltas cleared by the read */
	assert_int_equal(in(f, IIR), 0x01);
	out(f, MCR, 0x10 | 0x08); /* RI falls: trailing edge */
	assert_int_equal(in(f, MSR), 0x80 | 0x04);
	assert_int_equal(f->level, 0); /* loopback keeps the line low */
}

static void test_fifo_enable_in_iir(void **state)
{
	struct fx *f = *state;

	out(f, FCR, 0x01);
	assert_int_equal(in(f, IIR), 0xc1);
	assert_int_equal(serial_rx_space(&f->s), SERIAL_FIFO_SIZE);
	out(f, FCR, 0x21); /* 64-byte mode bit: a 16750 feature, not ours */
	assert_int_equal(in(f, IIR) & 0x20, 0);
	out(f, FCR, 0x00);
	assert_int_equal(in(f, IIR), 0x01);
	assert_int_equal(serial_rx_space(&f->s), 1);
}

/* Linux 6.1 autoconfig() + autoconfig_16550a() (with the variant probes)
 * + size_fifo(), reduced to the reads that decide the port type. */
static void test_linux_autoconfig_finds_16550a(void **state)
{
	struct fx *f = *state;
	uint8_t save, st1, st2, iir;
	int count;

	save = in(f, IER);
	out(f, IER, 0);
	assert_int_equal(in(f, IER) & 0x0f, 0);
	out(f, IER, 0x0f);
	assert_int_equal(in(f, IER) & 0x0f, 0x0f);
	out(f, IER, save);

	out(f, MCR, 0x10 | 0x0a);
	assert_int_equal(in(f, MSR) & 0xf0, 0x90);
	out(f, MCR, 0);

	out(f, LCR, 0xbf);
	out(f, 2, 0); /* EFR */
	out(f, LCR, 0);
	out(f, FCR, 0x01);
	iir = in(f, IIR);
	assert_int_equal(iir >> 6, 3); /* -> autoconfig_16550a() */

	out(f, LCR, 0x80);
	assert_int_not_equal(in(f, 2), 0); /* no EFRv1 */
	out(f, LCR, 0xbf);
	assert_int_not_equal(in(f, 2), 0); /* no EFRv2 */

	/* National Semiconductor check: "EXCR1" must not follow MCR.LOOP */
	out(f, LCR, 0);
	st1 = in(f, MCR);
	out(f, LCR, 0xe0);
	st2 = in(f, 2);
	assert_int_equal((st1 ^ st2) & 0x10, 0);
	out(f, LCR, 0);
	out(f, MCR, st1 ^ 0x10);
	out(f, LCR, 0xe0);
	st2 = in(f, 2);
	out(f, LCR, 0);
	out(f, MCR, st1);
	assert_int_equal((st2 ^ st1) & 0x10, 0);

	/* TI16750 */
	out(f, FCR, 0x21);
	st1 = in(f, IIR) >> 5;
	out(f, FCR, 0x01);
	out(f, LCR, 0x80);
	out(f, FCR, 0x21);
	st2 = in(f, IIR) >> 5;
	out(f, FCR, 0x01);
	out(f, LCR, 0);
	assert_false(st1 == 6 && st2 == 7);

	/* XScale UUE bit does not stick */
	save = in(f, IER);
	out(f, IER, save | 0x40);
	assert_int_equal(in(f, IER) & 0x40, 0);
	out(f, IER, save);

	/* size_fifo(): 256 bytes in loopback, count what arrives */
	out(f, FCR, 0x07);
	out(f, MCR, 0x10);
	out(f, LCR, 0x03);
	for (count = 0; count < 256; count++)
		out(f, THR, (uint8_t)count);
	for (count = 0; (in(f, LSR) & 0x01) && count < 256; count++)
		assert_int_equal(in(f, RBR), count);
	assert_int_equal(count, 16);
	out(f, MCR, 0);
	assert_int_equal(f->ntx, 0);
}

static void test_thre_interrupt(void **state)
{
	struct fx *f = *state;

	out(f, MCR, 0x08); /* OUT2 */
	assert_int_equal(f->level, 0);
	out(f, IER, 0x02);
	assert_int_equal(f->level, 1);
	assert_int_equal(in(f, IIR), 0x02);
	/* reading IIR cleared it */
	assert_int_equal(f->level, 0);
	assert_int_equal(in(f, IIR), 0x01);
	assert_int_equal(in(f, LSR) & 0x60, 0x60); /* THR still empty */

	/* Linux's UART_BUG_THRE test: toggling ETBEI re-raises */
	out(f, IER, 0);
	out(f, IER, 0x02);
	assert_int_equal(f->level, 1);
	assert_int_equal(in(f, IIR), 0x02);
	/* rewriting IER without a rising edge does not */
	out(f, IER, 0x02);
	assert_int_equal(in(f, IIR), 0x01);

	/* a THR write empties again at once: next THRE interrupt */
	out(f, THR, 'z');
	assert_int_equal(f->ntx, 1);
	assert_int_equal(f->level, 1);
	assert_int_equal(in(f, IIR), 0x02);
	assert_int_equal(f->level, 0);

	/* disabling ETBEI drops a pending THRE */
	out(f, THR, 'y');
	assert_int_equal(f->level, 1);
	out(f, IER, 0);
	assert_int_equal(f->level, 0);
	assert_int_equal(in(f, IIR), 0x01);
}

static void test_receive_interrupt(void **state)
{
	struct fx *f = *state;
	const uint8_t msg[] = "ab";

	out(f, FCR, 0x01);
	out(f, MCR, 0x08);
	out(f, IER, 0x01);
	assert_int_equal(f->level, 0);
	assert_int_equal(in(f, LSR) & 0x01, 0);
	assert_int_equal(serial_receive(&f->s, msg, 2), 2);
	assert_int_equal(f->level, 1);
	assert_int_equal(in(f, IIR), 0xc4);
	assert_int_equal(in(f, LSR) & 0x01, 0x01);
	assert_int_equal(in(f, RBR), 'a');
	assert_int_equal(f->level, 1); /* one byte still waiting */
	assert_int_equal(in(f, RBR), 'b');
	assert_int_equal(f->level, 0);
	assert_int_equal(in(f, LSR) & 0x01, 0);
	assert_int_equal(in(f, IIR), 0xc1);
	assert_int_equal(f->rx_space_calls, 0); /* the FIFO never filled */
}

static void test_priority_rx_over_thre(void **state)
{
	struct fx *f = *state;
	uint8_t b = '1';

	out(f, FCR, 0x01);
	out(f, MCR, 0x08);
	out(f, IER, 0x03);
	assert_int_equal(serial_receive(&f->s, &b, 1), 1);
	assert_int_equal(in(f, IIR) & 0x0f, 0x04); /* data beats THRE */
	assert_int_equal(in(f, RBR), '1');
	assert_int_equal(in(f, IIR) & 0x0f, 0x02); /* THRE was still pending */
	assert_int_equal(in(f, IIR) & 0x0f, 0x01);
}

static void test_fifo_full_and_rx_space(void **state)
{
	struct fx *f = *state;
	uint8_t buf[20];
	int i;

	for (i = 0; i < 20; i++)
		buf[i] = (uint8_t)('a' + i);
	out(f, FCR, 0x01);
	assert_int_equal(serial_receive(&f->s, buf, 20), 16);
	assert_int_equal(serial_receive(&f->s, buf + 16, 4), 0);
	assert_int_equal(serial_rx_space(&f->s), 0);
	assert_int_equal(f->rx_space_calls, 0);
	assert_int_equal(in(f, LSR) & 0x02, 0); /* host input never overruns */
	assert_int_equal(in(f, RBR), 'a');
	assert_int_equal(f->rx_space_calls, 1);
	assert_int_equal(serial_rx_space(&f->s), 1);
	assert_int_equal(in(f, RBR), 'b');
	assert_int_equal(f->rx_space_calls, 1); /* only once per refusal */
	assert_int_equal(serial_receive(&f->s, buf + 16, 4), 2);
	for (i = 2; i < 18; i++)
		assert_int_equal(in(f, RBR), 'a' + i);
	assert_int_equal(in(f, LSR) & 0x01, 0);
	assert_int_equal(f->rx_space_calls, 2);
}

static void test_fifo_reset_wakes_host(void **state)
{
	struct fx *f = *state;
	uint8_t buf[2] = { 'p', 'q' };

	/* 16450 mode holds one byte */
	assert_int_equal(serial_receive(&f->s, buf, 2), 1);
	out(f, FCR, 0x01); /* enabling the FIFOs clears them */
	assert_int_equal(in(f, LSR) & 0x01, 0);
	assert_int_equal(f->rx_space_calls, 1);
	assert_int_equal(serial_receive(&f->s, buf, 2), 2);
	out(f, FCR, 0x03); /* clear receiver */
	assert_int_equal(in(f, LSR) & 0x01, 0);
	assert_int_equal(in(f, IIR), 0xc1);
}

static void test_out2_gates_irq(void **state)
{
	struct fx *f = *state;
	uint8_t b = 'k';

	out(f, IER, 0x01);
	assert_int_equal(serial_receive(&f->s, &b, 1), 1);
	assert_int_equal(in(f, IIR) & 0x0f, 0x04); /* pending ... */
	assert_int_equal(f->level, 0);		   /* ... but OUT2 is off */
	assert_int_equal(f->set_calls, 0);
	out(f, MCR, 0x08);
	assert_int_equal(f->level, 1);
	out(f, MCR, 0x00);
	assert_int_equal(f->level, 0);
	out(f, MCR, 0x08);
	assert_int_equal(f->level, 1);
	assert_int_equal(in(f, RBR), 'k');
	assert_int_equal(f->level, 0);
}

static void test_overrun(void **state)
{
	struct fx *f = *state;
	int i;

	out(f, FCR, 0x01);
	out(f, IER, 0x04); /* receiver line status */
	out(f, MCR, 0x10);
	for (i = 0; i < 17; i++)
		out(f, THR, (uint8_t)i);
	assert_int_equal(in(f, IIR) & 0x0f, 0x06);
	assert_int_equal(in(f, LSR) & 0x03, 0x03); /* DR | OE */
	assert_int_equal(in(f, LSR) & 0x03, 0x01); /* OE cleared by the read */
	assert_int_equal(in(f, IIR) & 0x0f, 0x01);
	for (i = 0; i < 16; i++)
		assert_int_equal(in(f, RBR), i); /* the 17th byte was lost */
	assert_int_equal(in(f, LSR) & 0x01, 0);

	/* 16450 mode: the new byte overwrites RBR */
	out(f, FCR, 0x00);
	out(f, THR, 'm');
	out(f, THR, 'n');
	assert_int_equal(in(f, LSR) & 0x03, 0x03);
	assert_int_equal(in(f, RBR), 'n');
}

static void test_wide_access_is_bytewise(void **state)
{
	struct fx *f = *state;
	uint16_t w = 0x0803; /* LCR=0x03, MCR=0x08 (little-endian) */
	uint16_t r = 0;

	assert_int_equal(bus_write(&f->bus, BASE + LCR, &w, 2), 0);
	assert_int_equal(in(f, LCR), 0x03);
	assert_int_equal(in(f, MCR), 0x08);
	assert_int_equal(bus_read(&f->bus, BASE + LCR, &r, 2), 0);
	assert_int_equal(r, 0x0803);
	/* straddling the end of the device is refused by the bus */
	assert_int_not_equal(bus_write(&f->bus, BASE + SCR, &w, 2), 0);
	assert_int_equal(f->ntx, 0);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_reset_values, setup, teardown),
		cmocka_unit_test_setup_teardown(test_dlab, setup, teardown),
		cmocka_unit_test_setup_teardown(test_scratch_and_ier_mask, setup, teardown),
		cmocka_unit_test_setup_teardown(test_loopback, setup, teardown),
		cmocka_unit_test_setup_teardown(test_msr_deltas, setup, teardown),
		cmocka_unit_test_setup_teardown(test_fifo_enable_in_iir, setup, teardown),
		cmocka_unit_test_setup_teardown(test_linux_autoconfig_finds_16550a, setup,
						teardown),
		cmocka_unit_test_setup_teardown(test_thre_interrupt, setup, teardown),
		cmocka_unit_test_setup_teardown(test_receive_interrupt, setup, teardown),
		cmocka_unit_test_setup_teardown(test_priority_rx_over_thre, setup, teardown),
		cmocka_unit_test_setup_teardown(test_fifo_full_and_rx_space, setup, teardown),
		cmocka_unit_test_setup_teardown(test_fifo_reset_wakes_host, setup, teardown),
		cmocka_unit_test_setup_teardown(test_out2_gates_irq, setup, teardown),
		cmocka_unit_test_setup_teardown(test_overrun, setup, teardown),
		cmocka_unit_test_setup_teardown(test_wide_access_is_bytewise, setup, teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
