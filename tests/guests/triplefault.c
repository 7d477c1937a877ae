// SPDX-License-Identifier: MIT
/*
 * triplefault: loads an IDT with limit 0 and executes `ud2`. The #UD cannot
 * be delivered (#GP), nor can the #GP (#DF), nor the #DF: the CPU shuts
 * down (Intel SDM vol. 3, 6.15 "Interrupt 8"), KVM reports
 * KVM_EXIT_SHUTDOWN, and the vmm must exit with status 3 (reset). (Not
 * int3: PVM hosts route that through the vmm.)
 */
#include "lib/guest.h"
#include "lib/idt.h"

int guest_main(uint64_t zero_page);

int guest_main(uint64_t zero_page)
{
	(void)zero_page;
	con_puts("triplefault: ud2 with an empty IDT\n");
	idt_load_empty();
	__asm__ volatile("ud2" ::: "memory");
	con_puts("triplefault: still running after ud2\n");
	return GS_STILL_RUNNING;
}
