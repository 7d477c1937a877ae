// SPDX-License-Identifier: MIT
/*
 * reboot: pulses the CPU reset line through the i8042 keyboard controller
 * the way Linux's reboot=k does (arch/x86/kernel/reboot.c: wait for the
 * input buffer to empty, write command 0xfe to port 0x64). The vmm must
 * exit with status 3; if we are still running a moment later, that is a
 * failure.
 */
#include "lib/guest.h"

#define I8042_STATUS_IBF 0x02 /* input buffer full: controller busy */
#define I8042_CMD_RESET	 0xfe

int guest_main(uint64_t zero_page);

int guest_main(uint64_t zero_page)
{
	unsigned int i;

	(void)zero_page;
	for (i = 0; i < 1000 && (inb(PORT_I8042_CMD) & I8042_STATUS_IBF); i++)
		cpu_relax();
	con_puts("reboot: pulsing the reset line (i8042 0xfe)\n");
	outb(PORT_I8042_CMD, I8042_CMD_RESET);
	delay_us(2000000);
	con_puts("reboot: still running after the reset pulse\n");
	return GS_STILL_RUNNING;
}
