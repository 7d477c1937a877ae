// SPDX-License-Identifier: MIT
/*
 * fwait: executes `fwait` (0x9b) with no x87 exception pending, which must
 * do nothing. On PVM hosts the instruction is not emulated and the vmm has
 * to step over it; any exception (#NM, #MF, #UD) is reported as a failure.
 */
#include "lib/guest.h"
#include "lib/idt.h"

int guest_main(uint64_t zero_page);

int guest_main(uint64_t zero_page)
{
	(void)zero_page;
	idt_init();
	con_puts("fwait: executing fwait\n");
	__asm__ volatile("fwait" ::: "memory");
	__asm__ volatile("fwait" ::: "memory");
	con_puts("fwait: execution continued\n");
	return GS_OK;
}
