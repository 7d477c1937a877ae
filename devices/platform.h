/* SPDX-License-Identifier: MIT */
/*
 * The small devices through which a guest ends the VM, each at the port the
 * VMM chooses (struct platform_ports; vmm/ takes them from base/layout.h):
 *   - debug-exit: a byte v written -> status v
 *   - pvpanic: QEMU's protocol; read returns the
 *     supported events (bit 0 PANICKED, bit 1 CRASH_LOADED), a write with
 *     bit 0 set reports a guest kernel panic
 *   - ACPI hardware-reduced sleep control/status and reset registers (FADT
 *     SLEEP_CONTROL_REG, SLEEP_STATUS_REG, RESET_REG), one block of byte
 *     registers: SLP_EN with SLP_TYP=5 is S5 (poweroff); writing the reset
 *     value resets
 *   - i8042 (data and command ports): just enough keyboard controller for Linux's
 *     reboot=k (command 0xfe pulses the CPU reset line) and for its i8042
 *     probe to finish quickly: no keyboard or mouse is attached
 *   - a sink for port 0x80 (POST codes / io_delay)
 *
 * Each reports through one callback; the VMM decides what the event means
 * (exit status, --reboot). Devices never stop the VM themselves.
 *
 * Locking: p->lock protects the struct; platform_register() hands it to
 * the bus, which holds it around every access, so cfg.event runs with
 * p->lock held and must not access these ports itself.
 */
#ifndef DEVICES_PLATFORM_H
#define DEVICES_PLATFORM_H

#include <pthread.h>
#include <stddef.h>
#include <stdint.h>

#include "base/bus.h"
#include "base/log.h"

enum platform_event {
	PLATFORM_EVENT_POWEROFF,   /* ACPI S5; arg = 0 */
	PLATFORM_EVENT_RESET,	   /* ACPI reset register or i8042 0xfe; arg = 0 */
	PLATFORM_EVENT_PANIC,	   /* pvpanic PANICKED; arg = the byte written */
	PLATFORM_EVENT_DEBUG_EXIT, /* debug-exit port; arg = status byte */
};

/* The ACPI register block: byte registers at these offsets from
 * platform_ports.acpi_pm (the FADT must name the same ports). */
#define PLATFORM_ACPI_SLEEP_CTL 0
#define PLATFORM_ACPI_SLEEP_STS 1
#define PLATFORM_ACPI_RESET	2
#define PLATFORM_ACPI_PM_LEN	3

/* Where each device sits on the PIO bus (the VMM's choice). */
struct platform_ports {
	uint16_t debug_exit;
	uint16_t pvpanic;
	uint16_t acpi_pm; /* PLATFORM_ACPI_PM_LEN ports */
	uint16_t i8042_data;
	uint16_t i8042_cmd;
	uint16_t post; /* a sink for POST codes (Linux's io_delay) */
};

struct platform_config {
	struct platform_ports ports;
	void (*event)(void *opaque, enum platform_event ev, uint8_t arg);
	void *opaque;
};

struct platform_devs {
	pthread_mutex_t lock;
	struct platform_config cfg;
	uint8_t sleep_sts; /* WAK_STS (bit 7) */
	uint8_t i8042_cmd; /* command written to 0x64 still waiting for its
			    * parameter byte on 0x60, or 0 */
	uint8_t i8042_out; /* output buffer for 0x60 */
	uint8_t i8042_status;
	uint8_t i8042_ctr;     /* controller command byte (0x20 reads, 0x60 writes) */
	uint8_t i8042_outport; /* controller output port (0xd0 reads, 0xd1 writes) */
	struct ratelimit rl;   /* for the guest's mistakes */
};

void platform_init(struct platform_devs *p, const struct platform_config *cfg);
void platform_destroy(struct platform_devs *p);

/* Register all of the above on the PIO bus at cfg.ports. On failure, a
 * one-line reason in err. */
int platform_register(struct platform_devs *p, struct bus *pio, char *err, size_t errlen)
	__attribute__((warn_unused_result));

/* The guest-visible state, for snapshots: the ACPI sleep status and the
 * i8042's registers. */
struct platform_state {
	uint8_t sleep_sts;
	uint8_t i8042_cmd, i8042_out, i8042_status, i8042_ctr, i8042_outport;
};
void platform_state_save(struct platform_devs *p, struct platform_state *st);
void platform_state_load(struct platform_devs *p, const struct platform_state *st);

#endif /* DEVICES_PLATFORM_H */
