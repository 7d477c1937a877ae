// SPDX-License-Identifier: MIT
/*
 * hello: the smallest end-to-end check of the ELF loader, the zero page and
 * the console. Prints a greeting, the command line and the e820 map, then
 * exits through debug-exit with the status given as `exit=N` on the command
 * line (default 0).
 */
#include "lib/guest.h"

int guest_main(uint64_t zero_page);

int guest_main(uint64_t zero_page)
{
	const char *cmdline = bp_cmdline(zero_page);
	uint64_t status = 0;

	con_puts("hello from guest\n");
	printf("cmdline: %s\n", cmdline);
	printf("e820: %u entries\n", bp_print_e820(zero_page));
	if (cmdline_get_uint(cmdline, "exit", &status) && status > 255) {
		printf("hello: exit=%lu does not fit in a byte\n", status);
		return GS_BAD_CONFIG;
	}
	printf("hello: exiting with status %lu\n", status);
	return (int)status;
}
