/* SPDX-License-Identifier: MIT */
/*
 * An 8250/16550A UART (COM1 at 0x3f8, IRQ 4): the guest's console.
 *
 * Register model: RBR/THR, IER, IIR/FCR, LCR (DLAB), MCR (incl. loopback),
 * LSR, MSR, SCR, divisor latch; 16-byte receive FIFO; THR-empty and
 * receive-data interrupts, level-driven on the irq_line.
 *
 * Output bytes go to cfg.tx; input arrives with serial_receive() (from the
 * event loop reading stdin). Locking: every entry point takes s->lock; the
 * bus is given the same lock for register accesses, so callbacks (tx,
 * rx_space) run with s->lock held and must not call back into the serial.
 */
#ifndef DEVICES_SERIAL_H
#define DEVICES_SERIAL_H

#include <pthread.h>
#include <stddef.h>
#include <stdint.h>

#include "vmm/bus.h"
#include "vmm/irq.h"

#define SERIAL_REG_COUNT 8
#define SERIAL_FIFO_SIZE 16

struct serial_config {
	struct irq_line *irq;
	/* transmit: guest wrote bytes (one at a time today; may batch later) */
	void (*tx)(void *opaque, const uint8_t *buf, size_t len);
	void *tx_opaque;
	/* called when the receive FIFO gains space after being full */
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
	int irq_level;
};

void serial_init(struct serial *s, const struct serial_config *cfg);
void serial_destroy(struct serial *s);

/* The bus ops; opaque is the struct serial, lock is &s->lock. */
extern const struct bus_dev_ops serial_bus_ops;

/* Queue host input for the guest. Returns how many bytes were accepted
 * (0 when the FIFO is full: wait for rx_space). */
size_t serial_receive(struct serial *s, const uint8_t *buf, size_t len);

/* Free space in the receive FIFO. */
size_t serial_rx_space(struct serial *s);

#endif /* DEVICES_SERIAL_H */
