// SPDX-License-Identifier: MIT
/*
 * panic: reports a kernel panic through the pvpanic ISA device (QEMU's
 * docs/specs/pvpanic.rst: reading the port returns the supported events,
 * bit 0 PANICKED; writing 1 reports a panic). The vmm must exit with 4.
 */
#include "lib/guest.h"

#define PVPANIC_PANICKED 0x01

int guest_main(uint64_t zero_page);

int guest_main(uint64_t zero_page)
{
	uint8_t features = inb(PORT_PVPANIC);

	(void)zero_page;
	printf("panic: pvpanic features 0x%x\n", features);
	if (!(features & PVPANIC_PANICKED)) {
		con_puts("panic: pvpanic does not offer PANICKED\n");
		return GS_BAD_CONFIG;
	}
	con_puts("panic: reporting a panic\n");
	outb(PORT_PVPANIC, PVPANIC_PANICKED);
	delay_us(2000000);
	con_puts("panic: still running after pvpanic\n");
	return GS_STILL_RUNNING;
}
