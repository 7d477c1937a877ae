/* SPDX-License-Identifier: MIT */
/* The kernel symbol table reader (arch/x86/elf_syms.c): an ELF64 file
 * built here with a .symtab, looked up address by address, then broken
 * field by field; and the test binary itself, a real ELF from the linker. */
#include <elf.h>
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "arch/x86/elf_syms.h"

/* Layout of the built file: header, 3 section headers (null, symtab,
 * strtab), the symbols, the strings. */
#define NSYMS	 6
#define SH_OFF	 sizeof(Elf64_Ehdr)
#define SYM_OFF	 (SH_OFF + 3 * sizeof(Elf64_Shdr))
#define STR_OFF	 (SYM_OFF + NSYMS * sizeof(Elf64_Sym))
#define STRINGS	 "\0spin\0halt_label\0data_obj\0undef_fn\0later\0"
#define FILE_LEN (STR_OFF + sizeof(STRINGS))

struct built {
	uint8_t b[FILE_LEN];
};

static Elf64_Sym sym(uint32_t name, unsigned int type, uint64_t value, uint64_t size,
		     uint16_t shndx)
{
	return (Elf64_Sym){ .st_name = name,
			    .st_info = ELF64_ST_INFO(STB_GLOBAL, type),
			    .st_shndx = shndx,
			    .st_value = value,
			    .st_size = size };
}

static void build(struct built *f)
{
	Elf64_Ehdr eh = { 0 };
	Elf64_Shdr sh[3] = { { 0 } };
	Elf64_Sym syms[NSYMS] = {
		{ 0 },
		/* names: spin=1 halt_label=6 data_obj=17 undef_fn=26 later=35 */
		sym(35, STT_FUNC, 0x13000, 0x10, 1), /* out of order on purpose */
		sym(1, STT_FUNC, 0x1000, 0x20, 1),   /* sized function */
		sym(6, STT_NOTYPE, 0x2000, 0, 1),    /* asm label: reaches to the next */
		sym(17, STT_OBJECT, 0x1800, 0x8, 1), /* data: not used to name code */
		sym(26, STT_FUNC, 0x2800, 0x10, SHN_UNDEF),
	};

	memset(f, 0, sizeof(*f));
	memcpy(eh.e_ident, ELFMAG, SELFMAG);
	eh.e_ident[EI_CLASS] = ELFCLASS64;
	eh.e_ident[EI_DATA] = ELFDATA2LSB;
	eh.e_type = ET_EXEC;
	eh.e_machine = EM_X86_64;
	eh.e_shoff = SH_OFF;
	eh.e_shentsize = sizeof(Elf64_Shdr);
	eh.e_shnum = 3;
	sh[1] = (Elf64_Shdr){ .sh_type = SHT_SYMTAB,
			      .sh_offset = SYM_OFF,
			      .sh_size = sizeof(syms),
			      .sh_link = 2,
			      .sh_entsize = sizeof(Elf64_Sym) };
	sh[2] = (Elf64_Shdr){ .sh_type = SHT_STRTAB,
			      .sh_offset = STR_OFF,
			      .sh_size = sizeof(STRINGS) };
	memcpy(f->b, &eh, sizeof(eh));
	memcpy(f->b + SH_OFF, sh, sizeof(sh));
	memcpy(f->b + SYM_OFF, syms, sizeof(syms));
	memcpy(f->b + STR_OFF, STRINGS, sizeof(STRINGS));
}

static const char *lookup(const struct elf_syms *s, uint64_t addr, uint64_t *off)
{
	*off = UINT64_MAX;
	return elf_syms_lookup(s, addr, off);
}

/* Parse f, which must succeed with `nsyms` symbols kept. */
static void parse_ok(const struct built *f, struct elf_syms *s, size_t nsyms)
{
	char err[128] = "";

	assert_int_equal(elf_syms_parse(s, f->b, sizeof(f->b), err, sizeof(err)), 0);
	assert_int_equal(s->nsyms, nsyms);
}

static void test_lookup(void **state)
{
	struct elf_syms s;
	struct built f;
	uint64_t off;

	(void)state;
	build(&f);
	parse_ok(&f, &s, 3); /* spin, halt_label, later */
	assert_null(lookup(&s, 0xfff, &off));
	assert_string_equal(lookup(&s, 0x1000, &off), "spin");
	assert_int_equal(off, 0);
	assert_string_equal(lookup(&s, 0x101f, &off), "spin");
	assert_int_equal(off, 0x1f);
	assert_null(lookup(&s, 0x1020, &off)); /* past the sized function */
	assert_null(lookup(&s, 0x1800, &off)); /* only a data object there */
	assert_string_equal(lookup(&s, 0x2000, &off), "halt_label");
	assert_string_equal(lookup(&s, 0x2fff, &off), "halt_label");
	assert_int_equal(off, 0xfff);
	assert_string_equal(lookup(&s, 0x11fff, &off), "halt_label");
	assert_null(lookup(&s, 0x12000, &off)); /* unsized: 64 KiB at most */
	assert_string_equal(lookup(&s, 0x13004, &off), "later");
	assert_null(lookup(&s, 0x13010, &off));
	assert_null(lookup(&s, UINT64_MAX, &off));
	elf_syms_free(&s);
}

static void expect_bad(const struct built *f, size_t len, const char *why)
{
	struct elf_syms s;
	char err[160] = "";

	assert_int_equal(elf_syms_parse(&s, f->b, len, err, sizeof(err)), -ENOEXEC);
	assert_non_null(strstr(err, why));
	assert_int_equal(s.nsyms, 0);
	assert_null(s.syms);
}

static void put64(struct built *f, size_t off, uint64_t v)
{
	memcpy(f->b + off, &v, sizeof(v));
}

static void put32(struct built *f, size_t off, uint32_t v)
{
	memcpy(f->b + off, &v, sizeof(v));
}

#define SHDR(i, field) (SH_OFF + (i) * sizeof(Elf64_Shdr) + offsetof(Elf64_Shdr, field))

static void test_malformed(void **state)
{
	struct built f;

	(void)state;
	build(&f);
	expect_bad(&f, 10, "not an ELF64");
	f.b[EI_CLASS] = ELFCLASS32;
	expect_bad(&f, sizeof(f.b), "not an ELF64");

	build(&f);
	put64(&f, offsetof(Elf64_Ehdr, e_shoff), UINT64_MAX - 8); /* wraps */
	expect_bad(&f, sizeof(f.b), "section header table");
	build(&f);
	expect_bad(&f, SYM_OFF - 1, "section header table"); /* cut inside it */

	build(&f);
	put64(&f, SHDR(1, sh_size), UINT64_MAX); /* symtab beyond the file */
	expect_bad(&f, sizeof(f.b), "section 1 lies beyond");
	build(&f);
	put64(&f, SHDR(2, sh_offset), sizeof(f.b)); /* strtab just past the end */
	expect_bad(&f, sizeof(f.b), "not a string table");
	build(&f);
	put32(&f, SHDR(1, sh_link), 7); /* no such section */
	expect_bad(&f, sizeof(f.b), "links to section 7");
	build(&f);
	put32(&f, SHDR(1, sh_link), 1); /* itself, not a string table */
	expect_bad(&f, sizeof(f.b), "not a string table");
	build(&f);
	put64(&f, SHDR(1, sh_entsize), 16);
	expect_bad(&f, sizeof(f.b), "entry size 16");
}

/* Names past the string table are skipped; a last name without its NUL
 * ends at the table's end (the copy adds one). */
static void test_bad_names(void **state)
{
	struct elf_syms s;
	struct built f;
	uint64_t off;

	(void)state;
	build(&f);
	put32(&f, SYM_OFF + 2 * sizeof(Elf64_Sym) + offsetof(Elf64_Sym, st_name), 0xffff);
	/* cut the string table inside "later" */
	put64(&f, SHDR(2, sh_size), sizeof(STRINGS) - 4);
	parse_ok(&f, &s, 2);
	assert_null(lookup(&s, 0x1000, &off));
	assert_string_equal(lookup(&s, 0x13000, &off), "lat");
	elf_syms_free(&s);
}

static void test_no_symtab(void **state)
{
	struct elf_syms s;
	struct built f;
	uint64_t off;

	(void)state;
	build(&f);
	put32(&f, SHDR(1, sh_type), SHT_PROGBITS); /* a stripped file */
	parse_ok(&f, &s, 0);
	assert_null(lookup(&s, 0x1000, &off));
	elf_syms_free(&s);
}

/* A real ELF from the linker: this test binary (built with symbols). */
static void test_load_self(void **state)
{
	struct elf_syms s;
	char err[128] = "";
	size_t i;
	bool found = false;

	(void)state;
	assert_int_equal(elf_syms_load(&s, "/proc/self/exe", err, sizeof(err)), 0);
	assert_true(s.nsyms > 10);
	for (i = 0; i < s.nsyms; i++) {
		uint64_t off;
		const char *name;

		if (strcmp(s.strtab + s.syms[i].name, "test_load_self") != 0)
			continue;
		name = elf_syms_lookup(&s, s.syms[i].addr + 1, &off);
		assert_non_null(name);
		assert_int_equal(off, 1);
		found = true;
	}
	assert_true(found);
	for (i = 1; i < s.nsyms; i++)
		assert_true(s.syms[i - 1].addr <= s.syms[i].addr);
	elf_syms_free(&s);
	assert_int_equal(elf_syms_load(&s, "/nonexistent/vmlinux", err, sizeof(err)), -ENOENT);
	assert_non_null(strstr(err, "/nonexistent/vmlinux"));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_lookup),	  cmocka_unit_test(test_malformed),
		cmocka_unit_test(test_bad_names), cmocka_unit_test(test_no_symtab),
		cmocka_unit_test(test_load_self),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
