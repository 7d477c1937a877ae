// SPDX-License-Identifier: MIT
/*
 * powerbtn: waits for the ACPI power button (QMP system_powerdown) the way
 * the DSDT's _EVT method would see it: by reading the Generic Event
 * Device's register (devices/ged.h), here polled rather than on its
 * interrupt. A press sets bit 0, which the read clears; the guest then
 * checks that a second read finds it clear and powers off through the
 * FADT's sleep control register (S5), as an OS does when its button is
 * pressed. Gives up after `wait=S` seconds (default 60) with GS_TIMEOUT.
 */
#include "lib/guest.h"

/* Mirror base/layout.h */
#define PORT_GED	     0x604
#define PORT_ACPI_SLEEP_CTL  0x600
#define GED_POWER_BUTTON     0x01
#define ACPI_S5_SLEEP_ENABLE 0x34 /* SLP_TYP 5 << 2 | SLP_EN */

int guest_main(uint64_t zero_page);

int guest_main(uint64_t zero_page)
{
	uint64_t wait = 60, ms;
	uint8_t v;

	cmdline_get_uint(bp_cmdline(zero_page), "wait", &wait);
	v = inb(PORT_GED);
	if (v) {
		printf("powerbtn: GED register 0x%x before any press\n", v);
		return GS_BAD_STATE;
	}
	con_puts("powerbtn: waiting for the power button\n");
	/* ~10 ms per poll; the TSC-based delay may run long on slow hosts,
	 * which only lengthens the wait */
	for (ms = 0; ms < wait * 1000; ms += 10) {
		v = inb(PORT_GED);
		if (v & GED_POWER_BUTTON)
			break;
		delay_us(10000);
	}
	if (!(v & GED_POWER_BUTTON)) {
		con_puts("powerbtn: no power button press\n");
		return GS_TIMEOUT;
	}
	printf("powerbtn: power button pressed (GED 0x%x)\n", v);
	v = inb(PORT_GED);
	if (v) {
		printf("powerbtn: GED register 0x%x after the read that clears it\n", v);
		return GS_BAD_STATE;
	}
	con_puts("powerbtn: powering off\n");
	outb(PORT_ACPI_SLEEP_CTL, ACPI_S5_SLEEP_ENABLE);
	return GS_STILL_RUNNING;
}
