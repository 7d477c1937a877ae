/* SPDX-License-Identifier: MIT */
/*
 * The symbol table (.symtab) of an ELF64 kernel, for naming guest
 * addresses: "rip 0xffffffff81234567 <native_safe_halt+0x7>" tells at once
 * where a hung vCPU is. Used by the vCPU state dump (vmm/vcpu_dump.c).
 *
 * The file is untrusted like the rest of the kernel image (see elf.c): the
 * section header table, the symbol table and its string table are
 * bounds-checked against the file, every sum is overflow-checked, and a
 * name that is not NUL-terminated inside its string table is skipped. Only
 * function and untyped symbols with a non-zero address are kept; the
 * strings are copied, so the file can be unmapped afterwards.
 */
#ifndef ARCH_X86_ELF_SYMS_H
#define ARCH_X86_ELF_SYMS_H

#include <stddef.h>
#include <stdint.h>

struct elf_sym {
	uint64_t addr;
	uint64_t size; /* 0: unknown (the next symbol bounds it) */
	uint32_t name; /* offset in elf_syms.strtab */
};

struct elf_syms {
	struct elf_sym *syms; /* sorted by addr */
	size_t nsyms;
	char *strtab;
	size_t strtab_len;
};

/* Parse the .symtab of the ELF64 image buf/len into syms (which it first
 * clears). A valid ELF file without a symbol table (a stripped vmlinux)
 * gives an empty table and 0; a malformed one -ENOEXEC with err set. */
int elf_syms_parse(struct elf_syms *syms, const uint8_t *buf, size_t len, char *err, size_t errlen)
	__attribute__((warn_unused_result));

/* The same from a file (-errno if it cannot be read; a file that is not ELF,
 * such as a bzImage, gives an empty table and 0). */
int elf_syms_load(struct elf_syms *syms, const char *path, char *err, size_t errlen)
	__attribute__((warn_unused_result));

/* The symbol containing addr, and addr's offset into it; NULL if none (an
 * address below the first symbol, or past the end of a sized one). */
const char *elf_syms_lookup(const struct elf_syms *syms, uint64_t addr, uint64_t *offset);

void elf_syms_free(struct elf_syms *syms);

#endif /* ARCH_X86_ELF_SYMS_H */
