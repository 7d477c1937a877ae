/* SPDX-License-Identifier: MIT */
/*
 * An 8250/16550A UART, modelled on the National Semiconductor PC16550D data
 * sheet ("PC16550D UART with FIFOs"; cited below as "DS, <register>") and
 * checked against what Linux's 8250 driver does with it
 * (drivers/tty/serial/8250/8250_port.c: autoconfig(), serial8250_do_startup(),
 * serial8250_handle_irq()).
 *
 * The line is infinitely fast: a byte written to THR is handed to cfg.tx at
 * once, so THR and the transmitter are always empty again by the time the
 * guest looks (LSR.THRE and LSR.TEMT stay set). The host side never blocks
 * the guest; if the host cannot keep up, cfg.tx buffers or drops.
 *
 * Every function here runs with s->lock held (see serial.h).
 */
#include "devices/serial.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "base/err.h"

/* Register offsets from the base port (DS, register summary). */
enum {
	UART_RBR_THR = 0, /* DLAB=0: receive buffer (read), transmit holding (write) */
	UART_IER = 1,	  /* DLAB=0: interrupt enable */
	UART_IIR_FCR = 2, /* interrupt identification (read), FIFO control (write) */
	UART_LCR = 3,
	UART_MCR = 4,
	UART_LSR = 5,
	UART_MSR = 6,
	UART_SCR = 7,
	/* with LCR.DLAB=1, offsets 0 and 1 are the divisor latch (DLL, DLM) */
};

#define IER_ERBFI 0x01 /* received data available */
#define IER_ETBEI 0x02 /* transmitter holding register empty */
#define IER_ELSI  0x04 /* receiver line status */
#define IER_EDSSI 0x08 /* modem status */
/* Bits 4-7 read as zero on a 16550A. Linux's autoconfig() checks that
 * writing 0x0f reads back 0x0f, and that the XScale UUE bit (6) does not
 * stick, else it would take us for an XScale UART. */
#define IER_MASK  0x0f

/* IIR (DS, IIR): bit 0 clear = interrupt pending; bits 1-3 the
 * source, highest priority first; bits 6-7 set while the FIFOs are enabled.
 * Bits 4-5 stay zero: bit 5 set would make Linux detect a 16750. */
#define IIR_NO_INT	 0x01
#define IIR_RLS		 0x06 /* receiver line status: OE/PE/FE/BI */
#define IIR_RDA		 0x04 /* received data available */
#define IIR_THRE	 0x02 /* transmitter holding register empty */
#define IIR_MSR		 0x00 /* modem status */
#define IIR_FIFO_ENABLED 0xc0
#define IIR_ID_MASK	 0x0f

#define FCR_ENABLE     0x01
#define FCR_CLEAR_RCVR 0x02
#define FCR_CLEAR_XMIT 0x04
/* What the FCR keeps: enable, DMA mode select (3) and the receiver trigger
 * level (6-7). Bit 5 (64-byte FIFO) exists only on the 16750. */
#define FCR_KEPT       0xc9

#define LCR_DLAB 0x80

#define MCR_DTR	 0x01
#define MCR_RTS	 0x02
#define MCR_OUT1 0x04
#define MCR_OUT2 0x08
#define MCR_LOOP 0x10
#define MCR_MASK 0x1f /* bits 5-7 are always zero (DS, MCR) */

#define LSR_DR	     0x01
#define LSR_OE	     0x02
#define LSR_PE	     0x04
#define LSR_FE	     0x08
#define LSR_BI	     0x10
#define LSR_THRE     0x20
#define LSR_TEMT     0x40
#define LSR_FIFO_ERR 0x80
#define LSR_ERRORS   (LSR_OE | LSR_PE | LSR_FE | LSR_BI | LSR_FIFO_ERR)

#define MSR_DCTS   0x01
#define MSR_DDSR   0x02
#define MSR_TERI   0x04
#define MSR_DDCD   0x08
#define MSR_DELTAS 0x0f
#define MSR_CTS	   0x10
#define MSR_DSR	   0x20
#define MSR_RI	   0x40
#define MSR_DCD	   0x80
#define MSR_LINES  0xf0

/* Not in loopback, the other end of the cable is a modem that is always
 * there and ready: carrier detected, data set ready, clear to send. */
#define MSR_HOST_LINES (MSR_DCD | MSR_DSR | MSR_CTS)

/* 115200 / 12 = 9600 baud, what a PC BIOS leaves behind. */
#define DIVISOR_RESET 12

static bool serial_loopback(const struct serial *s)
{
	return s->mcr & MCR_LOOP;
}

/* Receive FIFO depth: with the FIFOs disabled (16450 mode) the UART holds
 * one byte, its RBR. */
static unsigned int serial_rx_capacity(const struct serial *s)
{
	return (s->fcr & FCR_ENABLE) ? SERIAL_FIFO_SIZE : 1;
}

/* Room for host input: none in loopback, where the receiver listens to the
 * transmitter instead of the serial input pin (DS, MCR bit 4). */
static unsigned int serial_rx_room(const struct serial *s)
{
	if (serial_loopback(s))
		return 0;
	return serial_rx_capacity(s) - s->rx_count;
}

/* The highest-priority pending interrupt, as IIR bits 0-3 (DS, IIR). */
static uint8_t serial_pending(const struct serial *s)
{
	if ((s->ier & IER_ELSI) && (s->lsr & (LSR_OE | LSR_PE | LSR_FE | LSR_BI)))
		return IIR_RLS;
	/* No trigger level or character timeout: any byte in the FIFO is
	 * reported as data available at once. Linux treats the timeout
	 * interrupt (0x0c) the same way, and the guest never waits. */
	if ((s->ier & IER_ERBFI) && s->rx_count)
		return IIR_RDA;
	if ((s->ier & IER_ETBEI) && s->thr_empty_pending)
		return IIR_THRE;
	if ((s->ier & IER_EDSSI) && (s->msr & MSR_DELTAS))
		return IIR_MSR;
	return IIR_NO_INT;
}

/*
 * Recompute IIR and drive the interrupt line. On a PC the UART's INTR pin
 * reaches the interrupt controller through a tri-state buffer enabled by
 * the UART's OUT2 output, so the line is (pending && MCR.OUT2). Linux sets
 * OUT2 in serial8250_do_startup() ("Most PC uarts need OUT2 raised to enable
 * interrupts") and clears it on shutdown; its THRE probes run with OUT2
 * clear and must not raise the IRQ. In loopback the OUT2 pin is forced
 * inactive (DS, MCR), so the line is low there too.
 */
static void serial_update(struct serial *s)
{
	uint8_t id = serial_pending(s);
	int level;

	s->iir = id | ((s->fcr & FCR_ENABLE) ? IIR_FIFO_ENABLED : 0);
	level = !(id & IIR_NO_INT) && (s->mcr & MCR_OUT2) && !serial_loopback(s);
	if (level != s->irq_level) {
		s->irq_level = level;
		if (s->cfg.irq)
			(void)irq_line_set(s->cfg.irq, level);
	}
}

/* Host input became possible again: tell whoever was refused. */
static void serial_rx_wake(struct serial *s)
{
	if (!s->rx_waiting || serial_rx_room(s) == 0)
		return;
	s->rx_waiting = 0;
	if (s->cfg.rx_space)
		s->cfg.rx_space(s->cfg.rx_opaque);
}

static void serial_rx_clear(struct serial *s)
{
	s->rx_head = 0;
	s->rx_count = 0;
	s->lsr &= ~LSR_DR;
}

/*
 * A byte arrives at the receiver (host input or loopback). When there is
 * no room it is an overrun (DS, LSR bit 1): with FIFOs the byte in the
 * shift register is lost and the FIFO kept; without, the new byte
 * overwrites RBR.
 */
static void serial_rx_push(struct serial *s, uint8_t byte)
{
	unsigned int cap = serial_rx_capacity(s);

	if (s->rx_count == cap) {
		s->lsr |= LSR_OE;
		if (cap == 1)
			s->rx_fifo[s->rx_head] = byte;
		return;
	}
	s->rx_fifo[(s->rx_head + s->rx_count) % SERIAL_FIFO_SIZE] = byte;
	s->rx_count++;
	s->lsr |= LSR_DR;
}

static uint8_t serial_rx_pop(struct serial *s)
{
	uint8_t byte;

	if (s->rx_count == 0) /* an empty RBR reads back its last byte */
		return s->rx_fifo[s->rx_head];
	byte = s->rx_fifo[s->rx_head];
	s->rx_count--;
	if (s->rx_count == 0)
		s->lsr &= ~LSR_DR;
	else
		s->rx_head = (s->rx_head + 1) % SERIAL_FIFO_SIZE;
	serial_rx_wake(s);
	return byte;
}

/* The modem status inputs: from the host (always ready), or in loopback
 * from the MCR outputs (DS, MCR: DTR->DSR, RTS->CTS, OUT1->RI, OUT2->DCD;
 * Linux's autoconfig() loop test expects MCR 0x1a to read MSR 0x90). */
static uint8_t serial_msr_lines(const struct serial *s)
{
	uint8_t lines = 0;

	if (!serial_loopback(s))
		return MSR_HOST_LINES;
	if (s->mcr & MCR_DTR)
		lines |= MSR_DSR;
	if (s->mcr & MCR_RTS)
		lines |= MSR_CTS;
	if (s->mcr & MCR_OUT1)
		lines |= MSR_RI;
	if (s->mcr & MCR_OUT2)
		lines |= MSR_DCD;
	return lines;
}

/* Latch new input lines and the deltas they imply (DS, MSR): any change of
 * CTS, DSR or DCD, and RI going inactive (trailing edge). The deltas stay
 * set until the guest reads MSR. */
static void serial_msr_update(struct serial *s)
{
	uint8_t old = s->msr & MSR_LINES, now = serial_msr_lines(s);
	uint8_t changed = old ^ now, delta = 0;

	if (changed & MSR_CTS)
		delta |= MSR_DCTS;
	if (changed & MSR_DSR)
		delta |= MSR_DDSR;
	if ((old & MSR_RI) && !(now & MSR_RI))
		delta |= MSR_TERI;
	if (changed & MSR_DCD)
		delta |= MSR_DDCD;
	s->msr = now | (s->msr & MSR_DELTAS) | delta;
}

static void serial_write_thr(struct serial *s, uint8_t byte)
{
	if (serial_loopback(s)) {
		/* DS, MCR: the transmitter output is looped back to the
		 * receiver input and the serial output pin stays idle. */
		serial_rx_push(s, byte);
	} else if (s->cfg.tx) {
		s->cfg.tx(s->cfg.tx_opaque, &byte, 1);
	}
	/*
	 * Writing THR clears a pending THRE interrupt (DS, IIR), but the
	 * byte moves on at once, so THR is empty again: a new THRE interrupt
	 * is due, as on real hardware once the byte reaches the shift
	 * register. Linux's serial8250_tx_chars() writes up to 16 bytes per
	 * THRE interrupt and waits for the next one for the rest.
	 */
	s->lsr |= LSR_THRE | LSR_TEMT;
	s->thr_empty_pending = (s->ier & IER_ETBEI) != 0;
}

static void serial_write_ier(struct serial *s, uint8_t val)
{
	uint8_t old = s->ier;

	s->ier = val & IER_MASK;
	/*
	 * Enabling ETBEI while THR is empty raises a THRE interrupt even if an
	 * earlier one was cleared by reading IIR. The data sheet is silent;
	 * Linux's serial8250_do_startup() tests exactly this (IER=THRI, read
	 * IIR, IER=0, IER=THRI, read IIR) and falls back to polling with a
	 * timer (UART_BUG_THRE) if the interrupt is not re-raised; its
	 * start_tx path relies on it too. With ETBEI clear the latch is
	 * meaningless, so drop it.
	 */
	if ((s->ier & IER_ETBEI) && !(old & IER_ETBEI))
		s->thr_empty_pending = (s->lsr & LSR_THRE) != 0;
	else if (!(s->ier & IER_ETBEI))
		s->thr_empty_pending = 0;
}

/* DS, FCR: FCR bit 0 must be set for the other bits to take effect; toggling
 * it (16450 <-> FIFO mode) empties both FIFOs. Our transmitter has no FIFO
 * to clear. */
static void serial_write_fcr(struct serial *s, uint8_t val)
{
	bool was_enabled = s->fcr & FCR_ENABLE;

	if (!(val & FCR_ENABLE)) {
		s->fcr = 0;
		if (was_enabled)
			serial_rx_clear(s);
	} else {
		s->fcr = val & FCR_KEPT;
		if (!was_enabled || (val & FCR_CLEAR_RCVR))
			serial_rx_clear(s);
	}
	serial_rx_wake(s);
}

static void serial_write_mcr(struct serial *s, uint8_t val)
{
	s->mcr = val & MCR_MASK;
	serial_msr_update(s);
	serial_rx_wake(s); /* leaving loopback reconnects the host */
}

static uint8_t serial_read_iir(struct serial *s)
{
	uint8_t val = s->iir;

	/* Reading IIR clears a THRE interrupt if it is the one reported
	 * (DS, IIR, "reading the IIR (if source of interrupt)"). */
	if ((val & IIR_ID_MASK) == IIR_THRE)
		s->thr_empty_pending = 0;
	return val;
}

static uint8_t serial_read_reg(struct serial *s, unsigned int reg)
{
	uint8_t val;

	switch (reg) {
	case UART_RBR_THR:
		return (s->lcr & LCR_DLAB) ? s->dll : serial_rx_pop(s);
	case UART_IER:
		return (s->lcr & LCR_DLAB) ? s->dlm : s->ier;
	case UART_IIR_FCR:
		return serial_read_iir(s);
	case UART_LCR:
		return s->lcr;
	case UART_MCR:
		return s->mcr;
	case UART_LSR:
		/* Reading LSR clears the error bits and with them the
		 * receiver line status interrupt (DS, LSR). */
		val = s->lsr;
		s->lsr &= ~LSR_ERRORS;
		return val;
	case UART_MSR:
		/* Reading MSR clears the delta bits (DS, MSR). */
		val = s->msr;
		s->msr &= ~MSR_DELTAS;
		return val;
	default:
		return s->scr;
	}
}

static void serial_write_reg(struct serial *s, unsigned int reg, uint8_t val)
{
	switch (reg) {
	case UART_RBR_THR:
		if (s->lcr & LCR_DLAB)
			s->dll = val;
		else
			serial_write_thr(s, val);
		break;
	case UART_IER:
		if (s->lcr & LCR_DLAB)
			s->dlm = val;
		else
			serial_write_ier(s, val);
		break;
	case UART_IIR_FCR:
		/* Also reached with LCR=0xbf, where 16650+ UARTs keep their
		 * EFR; a 16550A has none, which is what Linux concludes when
		 * the "EFR" reads back as the non-zero IIR. */
		serial_write_fcr(s, val);
		break;
	case UART_LCR:
		s->lcr = val;
		break;
	case UART_MCR:
		serial_write_mcr(s, val);
		break;
	case UART_LSR:
	case UART_MSR:
		/* writable only "for factory test" (DS, LSR); ignored */
		break;
	default:
		s->scr = val;
		break;
	}
}

/* Bus ops: called under s->lock, taken by the bus. A wider access (the
 * guest's inw/inl) is treated as successive byte accesses, which is how the
 * UART's 8-bit data bus would see them. */
static void serial_bus_read(void *opaque, uint64_t off, void *data, uint32_t len)
{
	struct serial *s = opaque;
	uint8_t *out = data;
	uint32_t i;

	for (i = 0; i < len; i++)
		out[i] = serial_read_reg(s, (unsigned int)(off + i) % SERIAL_REG_COUNT);
	serial_update(s);
}

static void serial_bus_write(void *opaque, uint64_t off, const void *data, uint32_t len)
{
	struct serial *s = opaque;
	const uint8_t *in = data;
	uint32_t i;

	for (i = 0; i < len; i++)
		serial_write_reg(s, (unsigned int)(off + i) % SERIAL_REG_COUNT, in[i]);
	serial_update(s);
}

const struct bus_dev_ops serial_bus_ops = {
	.read = serial_bus_read,
	.write = serial_bus_write,
};

void serial_init(struct serial *s, const struct serial_config *cfg)
{
	memset(s, 0, sizeof(*s));
	pthread_mutex_init(&s->lock, NULL);
	if (cfg)
		s->cfg = *cfg;
	/* Reset values (DS, reset table): everything zero except an
	 * empty transmitter and the host's modem lines. */
	s->lsr = LSR_THRE | LSR_TEMT;
	s->msr = MSR_HOST_LINES;
	s->dll = DIVISOR_RESET;
	s->iir = IIR_NO_INT;
	/* The line is low when we start; irq_level says so. */
}

int serial_register(struct serial *s, struct bus *pio, char *err, size_t errlen)
{
	char why[BUS_ERR_MAX];
	int ret = bus_register(pio, s->cfg.port, SERIAL_REG_COUNT, &serial_bus_ops, s, &s->lock,
			       "serial", why, sizeof(why));

	if (ret)
		return err_set(err, errlen, ret, "cannot register the serial port at %#x: %s",
			       s->cfg.port, why);
	return 0;
}

void serial_state_save(struct serial *s, struct serial_state *st)
{
	pthread_mutex_lock(&s->lock);
	*st = (struct serial_state){
		.ier = s->ier,
		.lcr = s->lcr,
		.mcr = s->mcr,
		.lsr = s->lsr,
		.msr = s->msr,
		.scr = s->scr,
		.fcr = s->fcr,
		.dll = s->dll,
		.dlm = s->dlm,
		.rx_head = s->rx_head,
		.rx_count = s->rx_count,
		.thr_empty_pending = (uint32_t)s->thr_empty_pending,
	};
	memcpy(st->rx_fifo, s->rx_fifo, sizeof(st->rx_fifo));
	pthread_mutex_unlock(&s->lock);
}

int serial_state_load(struct serial *s, const struct serial_state *st, char *err, size_t errlen)
{
	if (st->rx_head >= SERIAL_FIFO_SIZE || st->rx_count > SERIAL_FIFO_SIZE ||
	    st->thr_empty_pending > 1)
		return err_set(err, errlen, -EINVAL,
			       "serial: receive FIFO head %u, count %u out of range", st->rx_head,
			       st->rx_count);
	pthread_mutex_lock(&s->lock);
	s->ier = st->ier;
	s->lcr = st->lcr;
	s->mcr = st->mcr;
	s->lsr = st->lsr;
	s->msr = st->msr;
	s->scr = st->scr;
	s->fcr = st->fcr;
	s->dll = st->dll;
	s->dlm = st->dlm;
	memcpy(s->rx_fifo, st->rx_fifo, sizeof(s->rx_fifo));
	s->rx_head = st->rx_head;
	s->rx_count = st->rx_count;
	s->thr_empty_pending = (int)st->thr_empty_pending;
	serial_update(s); /* IIR and the line follow from the registers */
	pthread_mutex_unlock(&s->lock);
	return 0;
}

void serial_destroy(struct serial *s)
{
	pthread_mutex_destroy(&s->lock);
}

size_t serial_receive(struct serial *s, const uint8_t *buf, size_t len)
{
	size_t n = 0;

	pthread_mutex_lock(&s->lock);
	while (n < len && serial_rx_room(s) > 0)
		serial_rx_push(s, buf[n++]);
	/* Refused input, or a full FIFO the caller may now stop feeding:
	 * promise an rx_space call once the guest makes room. */
	if (n < len || serial_rx_room(s) == 0)
		s->rx_waiting = 1;
	serial_update(s);
	pthread_mutex_unlock(&s->lock);
	return n;
}

size_t serial_rx_space(struct serial *s)
{
	size_t room;

	pthread_mutex_lock(&s->lock);
	room = serial_rx_room(s);
	if (room == 0)
		s->rx_waiting = 1;
	pthread_mutex_unlock(&s->lock);
	return room;
}
