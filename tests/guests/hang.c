// SPDX-License-Identifier: MIT
/* hang: spins forever so the vmm's --timeout has something to stop. */
#include "lib/guest.h"

int guest_main(uint64_t zero_page);

int guest_main(uint64_t zero_page)
{
	(void)zero_page;
	con_puts("hang: spinning until the VMM gives up\n");
	for (;;)
		cpu_relax();
}
