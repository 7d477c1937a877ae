/* SPDX-License-Identifier: MIT */
/*
 * An 8250/16550A UART: the guest's console. The VMM chooses its ports and
 * interrupt (COM1: 0x3f8, IRQ 4) and hands them in with serial_config.
 *
 * Register model: RBR/THR, IER, IIR/FCR, LCR (DLAB), MCR (incl. loopback),
 * LSR, MSR, SCR, divisor latch; 16-byte receive FIFO; THR-empty and
 * receive-data interrupts, level-driven on the irq_line.
 *
 * Output bytes go to cfg.tx; input arrives with serial_receive() (from the
 * event loop reading stdin).
 *
 * Locking: s->lock protects everything below it. serial_register() hands
 * it to the bus, which takes it around serial_bus_ops (which therefore do
 * not lock); serial_receive() and serial_rx_space()
 * take it themselves. The callbacks (cfg.tx, cfg.rx_space) and the irq
 * line's set() run with s->lock held and must not call back into the
 * serial. Lock order: s->lock, then whatever the callbacks take.
 */
#ifndef DEVICES_SERIAL_H
#define DEVICES_SERIAL_H

#include <pthread.h>
#include <stddef.h>
#include <stdint.h>

#include "base/bus.h"
#include "base/irq.h"

#define SERIAL_REG_COUNT 8
#define SERIAL_FIFO_SIZE 16

struct serial_config {
	uint16_t port; /* the first of SERIAL_REG_COUNT I/O ports */
	struct irq_line *irq;
	/* transmit: guest wrote bytes (one at a time today; may batch later) */
	void (*tx)(void *opaque, const uint8_t *buf, size_t len);
	void *tx_opaque;
	/* called when the receive FIFO gains space after being full, or after
	 * serial_receive()/serial_rx_space() told the caller there was none
	 * (guest read, FIFO reset, leaving loopback) */
	void (*rx_space)(void *opaque);
	void *rx_opaque;
};

struct serial {
	pthread_mutex_t lock;
	struct serial_config cfg;
	/* registers */
	uint8_t ier, iir, lcr, mcr, lsr, msr, scr, fcr;
	uint8_t dll, dlm;
	/* receive FIFO */
	uint8_t rx_fifo[SERIAL_FIFO_SIZE];
	unsigned int rx_head, rx_count;
	int thr_empty_pending; /* THRE interrupt pending until IIR read or THR write */
	int irq_level;	       /* what the irq line was last driven to */
	int rx_waiting;	       /* the host was refused input: call rx_space on room */
};

void serial_init(struct serial *s, const struct serial_config *cfg);
void serial_destroy(struct serial *s);

/* Register the SERIAL_REG_COUNT ports from cfg.port on the PIO bus. On
 * failure, a one-line reason in err. */
int serial_register(struct serial *s, struct bus *pio, char *err, size_t errlen)
	__attribute__((warn_unused_result));

/* The bus ops; opaque is the struct serial, lock is &s->lock. */
extern const struct bus_dev_ops serial_bus_ops;

/* Queue host input for the guest. Returns how many bytes were accepted
 * (0 when the FIFO is full or the UART is in loopback: wait for rx_space).
 * The FIFO holds SERIAL_FIFO_SIZE bytes while the guest has it enabled
 * (FCR bit 0) and a single byte (the 8250's RBR) otherwise. */
size_t serial_receive(struct serial *s, const uint8_t *buf, size_t len);

/* Free space in the receive FIFO (0 in loopback). If 0, rx_space will be
 * called once room appears. */
size_t serial_rx_space(struct serial *s);

/* The guest-visible state, for snapshots: the registers and the receive
 * FIFO (IIR and the interrupt line are derived from them on load). */
struct serial_state {
	uint8_t ier, lcr, mcr, lsr, msr, scr, fcr, dll, dlm;
	uint8_t rx_fifo[SERIAL_FIFO_SIZE];
	uint32_t rx_head, rx_count;
	uint32_t thr_empty_pending;
};
void serial_state_save(struct serial *s, struct serial_state *st);
/* Rejects a FIFO position or count out of range (the file is hostile). */
int serial_state_load(struct serial *s, const struct serial_state *st, char *err, size_t errlen)
	__attribute__((warn_unused_result));

#endif /* DEVICES_SERIAL_H */
