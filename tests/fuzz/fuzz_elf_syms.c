/* SPDX-License-Identifier: MIT */
/*
 * libFuzzer target for the kernel symbol-table reader (arch/x86/elf_syms.c):
 * the input is an ELF file. Every symbol kept must name a NUL-terminated
 * string inside the copied string table, the table must be sorted, and
 * lookups at and around each symbol must stay in bounds.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "arch/x86/elf_syms.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct elf_syms syms;
	char err[256];
	size_t i;

	if (elf_syms_parse(&syms, data, size, err, sizeof(err)) < 0)
		return 0;
	for (i = 0; i < syms.nsyms; i++) {
		uint64_t off;
		const char *name;

		if (syms.syms[i].name >= syms.strtab_len)
			abort();
		if (i > 0 && syms.syms[i - 1].addr > syms.syms[i].addr)
			abort();
		name = elf_syms_lookup(&syms, syms.syms[i].addr, &off);
		if (name && strlen(name) > syms.strtab_len)
			abort();
		(void)elf_syms_lookup(&syms, syms.syms[i].addr - 1, &off);
		(void)elf_syms_lookup(&syms, syms.syms[i].addr + syms.syms[i].size, &off);
	}
	elf_syms_free(&syms);
	return 0;
}
