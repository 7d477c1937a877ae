/* SPDX-License-Identifier: MIT */
/*
 * ELF64 .symtab reader (see elf_syms.h). A 6.1 vmlinux built from the
 * project's config has ~25k function symbols; the table is read once at
 * start and looked up by binary search, so a dump costs nothing measurable.
 */
#include "arch/x86/elf_syms.h"

#include <elf.h>
#include <errno.h>
#include <fcntl.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include "base/err.h"

#define ELF_SYMS_LABEL_REACH 0x10000ULL

/* A range [off, off + size) lies inside the file. */
static bool file_range_ok(uint64_t off, uint64_t size, size_t len)
{
	uint64_t end;

	return !__builtin_add_overflow(off, size, &end) && end <= len;
}

static int read_shdr(const uint8_t *buf, size_t len, const Elf64_Ehdr *eh, unsigned int i,
		     Elf64_Shdr *sh)
{
	uint64_t off = eh->e_shoff + (uint64_t)i * sizeof(*sh); /* checked by the caller */

	memcpy(sh, buf + off, sizeof(*sh)); /* buf need not be aligned */
	return file_range_ok(sh->sh_offset, sh->sh_type == SHT_NOBITS ? 0 : sh->sh_size, len)
		       ? 0
		       : -ENOEXEC;
}

static int sym_cmp(const void *a, const void *b)
{
	const struct elf_sym *x = a, *y = b;

	return x->addr < y->addr ? -1 : x->addr > y->addr;
}

/* Is this symbol worth naming an address with? Functions and the untyped
 * labels of assembly code (entry_SYSCALL_64, secondary_startup_64...). */
static bool sym_wanted(const Elf64_Sym *s)
{
	unsigned int type = ELF64_ST_TYPE(s->st_info);

	return s->st_value != 0 && s->st_shndx != SHN_UNDEF && s->st_shndx != SHN_ABS &&
	       (type == STT_FUNC || type == STT_NOTYPE) && s->st_name != 0;
}

/* Copy the wanted symbols of symtab (checked against the file) into syms. */
static int copy_syms(struct elf_syms *syms, const uint8_t *buf, const Elf64_Shdr *symtab,
		     const Elf64_Shdr *strtab, char *err, size_t errlen)
{
	size_t n = symtab->sh_size / sizeof(Elf64_Sym), i;

	syms->strtab = malloc(strtab->sh_size + 1);
	syms->syms = calloc(n ? n : 1, sizeof(*syms->syms));
	if (!syms->strtab || !syms->syms)
		return err_set(err, errlen, -ENOMEM, "no memory for %zu symbols", n);
	memcpy(syms->strtab, buf + strtab->sh_offset, strtab->sh_size);
	syms->strtab[strtab->sh_size] = '\0'; /* a last name without its NUL ends here */
	syms->strtab_len = strtab->sh_size;
	for (i = 0; i < n; i++) {
		Elf64_Sym s;

		memcpy(&s, buf + symtab->sh_offset + i * sizeof(s), sizeof(s));
		if (!sym_wanted(&s) || s.st_name >= strtab->sh_size)
			continue;
		syms->syms[syms->nsyms++] = (struct elf_sym){
			.addr = s.st_value,
			.size = s.st_size,
			.name = s.st_name,
		};
	}
	qsort(syms->syms, syms->nsyms, sizeof(*syms->syms), sym_cmp);
	return 0;
}

int elf_syms_parse(struct elf_syms *syms, const uint8_t *buf, size_t len, char *err, size_t errlen)
{
	Elf64_Ehdr eh;
	Elf64_Shdr sh, strtab;
	unsigned int i;
	int ret;

	memset(syms, 0, sizeof(*syms));
	if (len < sizeof(eh) || memcmp(buf, ELFMAG, SELFMAG) != 0 || buf[EI_CLASS] != ELFCLASS64)
		return err_set(err, errlen, -ENOEXEC, "not an ELF64 file");
	memcpy(&eh, buf, sizeof(eh));
	if (eh.e_shnum == 0)
		return 0; /* no sections at all: nothing to name */
	if (eh.e_shentsize != sizeof(Elf64_Shdr) ||
	    !file_range_ok(eh.e_shoff, (uint64_t)eh.e_shnum * sizeof(Elf64_Shdr), len))
		return err_set(err, errlen, -ENOEXEC,
			       "section header table (%#llx, %u entries of %u bytes) lies beyond "
			       "the end of the file",
			       (unsigned long long)eh.e_shoff, eh.e_shnum, eh.e_shentsize);
	for (i = 0; i < eh.e_shnum; i++) {
		if (read_shdr(buf, len, &eh, i, &sh))
			return err_set(err, errlen, -ENOEXEC,
				       "section %u lies beyond the end of the file", i);
		if (sh.sh_type != SHT_SYMTAB)
			continue;
		if (sh.sh_entsize != sizeof(Elf64_Sym))
			return err_set(err, errlen, -ENOEXEC, "symbol table entry size %llu",
				       (unsigned long long)sh.sh_entsize);
		if (sh.sh_link == 0 || sh.sh_link >= eh.e_shnum ||
		    read_shdr(buf, len, &eh, sh.sh_link, &strtab) || strtab.sh_type != SHT_STRTAB)
			return err_set(err, errlen, -ENOEXEC,
				       "symbol table links to section %u, not a string table",
				       sh.sh_link);
		ret = copy_syms(syms, buf, &sh, &strtab, err, errlen);
		if (ret)
			elf_syms_free(syms);
		return ret; /* an executable has one symbol table */
	}
	return 0;
}

int elf_syms_load(struct elf_syms *syms, const char *path, char *err, size_t errlen)
{
	struct stat st;
	void *map;
	int fd, ret;

	memset(syms, 0, sizeof(*syms));
	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return err_set(err, errlen, -errno, "%s: %s", path, strerror(errno));
	if (fstat(fd, &st) < 0 || !S_ISREG(st.st_mode) || st.st_size == 0) {
		close(fd);
		return 0; /* the loader has its own say about such a file */
	}
	map = mmap(NULL, (size_t)st.st_size, PROT_READ, MAP_PRIVATE, fd, 0);
	close(fd);
	if (map == MAP_FAILED)
		return err_set(err, errlen, -errno, "%s: cannot map: %s", path, strerror(errno));
	if ((size_t)st.st_size < SELFMAG || memcmp(map, ELFMAG, SELFMAG) != 0)
		ret = 0; /* a bzImage: no symbols to read */
	else
		ret = elf_syms_parse(syms, map, (size_t)st.st_size, err, errlen);
	munmap(map, (size_t)st.st_size);
	return ret;
}

const char *elf_syms_lookup(const struct elf_syms *syms, uint64_t addr, uint64_t *offset)
{
	size_t lo = 0, hi = syms->nsyms;
	const struct elf_sym *s;

	/* the last symbol at or below addr */
	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;

		if (syms->syms[mid].addr <= addr)
			lo = mid + 1;
		else
			hi = mid;
	}
	if (lo == 0)
		return NULL;
	s = &syms->syms[lo - 1];
	/* A sized symbol ends where it says; an unsized one (an asm label)
	 * reaches to the next symbol, but not further than ELF_SYMS_LABEL_REACH:
	 * else a marker like __per_cpu_end (a small per-CPU offset) would name
	 * every address up to the kernel text, the direct map included. */
	if (addr - s->addr >= (s->size ? s->size : ELF_SYMS_LABEL_REACH))
		return NULL;
	if (offset)
		*offset = addr - s->addr;
	return syms->strtab + s->name;
}

void elf_syms_free(struct elf_syms *syms)
{
	free(syms->syms);
	free(syms->strtab);
	memset(syms, 0, sizeof(*syms));
}
