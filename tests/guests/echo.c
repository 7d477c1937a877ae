// SPDX-License-Identifier: MIT
/*
 * echo: console input. Reads bytes from the UART (polling LSR.DR) until a
 * '.', then prints how many it got and their sum, and exits 0. The runner
 * sends ~1000 bytes at once and the UART (FIFO off) holds one, so this also
 * proves vmm holds input back while the UART is full instead of dropping it.
 */
#include "lib/guest.h"

#define COM1	 0x3f8
#define UART_LSR 5
#define LSR_DR	 0x01

int guest_main(uint64_t zero_page);

int guest_main(uint64_t zero_page)
{
	uint64_t count = 0, sum = 0;
	uint8_t c;

	(void)zero_page;
	/* The FIFO stays off (its reset state): enabling it would clear what
	 * may already have arrived, as on a real 16550. Without the FIFO the
	 * UART holds one byte, so vmm must hold back all the others. */
	con_puts("echo: ready\n");
	for (;;) {
		while (!(inb(COM1 + UART_LSR) & LSR_DR))
			cpu_relax();
		c = inb(COM1);
		if (c == '.')
			break;
		count++;
		sum += c;
	}
	printf("echo: %lu bytes, sum %lu\n", count, sum);
	return 0;
}
