/* SPDX-License-Identifier: MIT */
/*
 * The ACPI Generic Event Device (ACPI 6.4, 5.6.9): how a hardware-reduced
 * machine, which has no PM1 event block, no GPEs and no SCI, tells the
 * guest of a platform event. The DSDT (firmware/acpi.c) declares it as
 * ACPI0013 with one edge-triggered interrupt; its _EVT method reads this
 * device's one-byte register and, for the power button bit, does
 * Notify(\_SB.PWRB, 0x80) on the PNP0C0C power button, as Cloud
 * Hypervisor's and QEMU microvm's GEDs do.
 *
 * The register (read-only): the events pending since the last read, which
 * the read clears. Writes are ignored.
 */
#ifndef DEVICES_GED_H
#define DEVICES_GED_H

#include <pthread.h>
#include <stddef.h>
#include <stdint.h>

#include "base/bus.h"
#include "base/irq.h"

#define GED_EVENT_POWER_BUTTON 0x01 /* bit 0 of the register */
#define GED_REG_LEN	       1

struct ged {
	pthread_mutex_t lock; /* the bus takes it around read/write */
	uint8_t pending;
	struct irq_line *irq;
};

void ged_init(struct ged *g, struct irq_line *irq);
/* The register at `port` on the PIO bus. */
int ged_register(struct ged *g, struct bus *pio, uint16_t port, char *err, size_t errlen)
	__attribute__((warn_unused_result));
/* Any thread: mark the power button pressed and interrupt the guest. */
void ged_press_power_button(struct ged *g);
void ged_destroy(struct ged *g);

#endif /* DEVICES_GED_H */
