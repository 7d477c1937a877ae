/* SPDX-License-Identifier: MIT */
/*
 * Shared by the loader tests: a fake guest (malloc'd RAM behind
 * gm_add_region), an e820 map like the one firmware/e820.c builds, temp
 * files, and builders for a synthetic bzImage and a synthetic ELF64 kernel.
 */
#ifndef TEST_LOADER_FIXTURE_H
#define TEST_LOADER_FIXTURE_H

#include <asm/bootparam.h>
#include <elf.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <setjmp.h>
#include <cmocka.h>

#include "arch/x86/boot.h"
#include "base/layout.h"

#define MiB (1024ULL * 1024ULL)

/*
 * The setup header (file offsets 0x1f1 .. 0x26b, i.e. up to 0x202 + the byte
 * at 0x201 = 0x26c) of a real Linux 6.1 x86-64 bzImage: Debian's
 * /boot/vmlinuz-6.1.0-56-cloud-amd64 from linux-image-6.1.0-56-cloud-amd64
 * 6.1.192-2 (bookworm-security), dumped with a few lines of Python. Its
 * values: setup_sects 0x27, root_flags 1, syssize 0xd8220, vid_mode 0xffff,
 * boot_flag 0xaa55, jump eb 6a, "HdrS", version 0x020f, loadflags 0x01
 * (LOADED_HIGH), code32_start 0x100000, initrd_addr_max 0x7fffffff,
 * kernel_alignment 0x200000, relocatable_kernel 1, min_alignment 0x15,
 * xloadflags 0x7f, cmdline_size 0x7ff, payload_offset 0x2cc, payload_length
 * 0xd696cc, pref_address 0x1000000, init_size 0x3378000, handover_offset
 * 0xd72f10, kernel_info_offset 0xd7f91c.
 */
static const uint8_t real_61_setup_header[] = {
	0x27, 0x01, 0x00, 0x20, 0x82, 0x0d, 0x00, 0x00, 0x00, 0xff, 0xff, 0x00, 0x00, 0x55,
	0xaa, 0xeb, 0x6a, 0x48, 0x64, 0x72, 0x53, 0x0f, 0x02, 0x00, 0x00, 0x00, 0x00, 0x00,
	0x10, 0xc0, 0x42, 0x00, 0x01, 0x00, 0x80, 0x00, 0x00, 0x10, 0x00, 0x00, 0x00, 0x00,
	0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0xe0, 0x5b, 0x00, 0x00, 0x00,
	0x00, 0x00, 0x00, 0xff, 0xff, 0xff, 0x7f, 0x00, 0x00, 0x20, 0x00, 0x01, 0x15, 0x7f,
	0x00, 0xff, 0x07, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00,
	0x00, 0x00, 0x00, 0xcc, 0x02, 0x00, 0x00, 0xcc, 0x96, 0xd6, 0x00, 0x00, 0x00, 0x00,
	0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x01, 0x00, 0x00, 0x00, 0x00, 0x00,
	0x80, 0x37, 0x03, 0x10, 0x2f, 0xd7, 0x00, 0x1c, 0xf9, 0xd7, 0x00,
};
_Static_assert(sizeof(real_61_setup_header) == 0x26c - 0x1f1, "header is 0x1f1..0x26b");

/* Where the real kernel runs and how much it needs: pref_address + init_size. */
#define REAL_RUN_START 0x1000000ULL
#define REAL_INIT_SIZE 0x3378000ULL

struct fake_guest {
	struct guest_mem gm;
	uint8_t *ram;
	uint64_t size;
	struct e820_entry e820[3];
};

/* RAM at 0 of `size` bytes, filled with 0xaa so that "zeroed" means something. */
static inline void fake_guest_init(struct fake_guest *g, uint64_t size)
{
	memset(g, 0, sizeof(*g));
	g->ram = malloc(size);
	assert_non_null(g->ram);
	memset(g->ram, 0xaa, size);
	g->size = size;
	assert_int_equal(gm_add_region(&g->gm, 0, size, g->ram), 0);
	/* the shape of firmware/e820.c's map */
	g->e820[0] = (struct e820_entry){ 0, LAYOUT_EBDA_START, E820_TYPE_RAM };
	g->e820[1] = (struct e820_entry){ LAYOUT_EBDA_START, LAYOUT_BIOS_END - LAYOUT_EBDA_START,
					  E820_TYPE_RESERVED };
	g->e820[2] = (struct e820_entry){ LAYOUT_BIOS_END, size - LAYOUT_BIOS_END, E820_TYPE_RAM };
}

static inline void fake_guest_destroy(struct fake_guest *g)
{
	gm_destroy(&g->gm); /* caller-owned region: not unmapped */
	free(g->ram);
}

static inline struct x86_boot_request fake_request(const struct fake_guest *g, const char *cmdline)
{
	return (struct x86_boot_request){
		.kernel_path = "test-kernel",
		.cmdline = cmdline,
		.e820 = g->e820,
		.ne820 = 3,
	};
}

static inline const struct boot_params *zero_page(const struct fake_guest *g)
{
	return (const struct boot_params *)(g->ram + LAYOUT_ZERO_PAGE);
}

/* Write `len` bytes to a new temp file; its name goes to `path` (>= 32 bytes). */
static inline void temp_file(char *path, const void *buf, size_t len)
{
	int fd;

	strcpy(path, "/tmp/vmm-loader-XXXXXX");
	fd = mkstemp(path);
	assert_true(fd >= 0);
	assert_int_equal(write(fd, buf, len), (ssize_t)len);
	close(fd);
}

/* Deterministic byte pattern for payloads: distinguishes offsets. */
static inline uint8_t pattern_byte(uint64_t i, uint8_t seed)
{
	return (uint8_t)((i * 131u) ^ (i >> 8) ^ seed);
}

/*
 * A bzImage with the real 6.1 header: (setup_sects + 1) * 512 bytes of
 * boot sector and setup code, then `pm_len` bytes (a multiple of 16) of
 * protected-mode kernel, with syssize patched to match. `setup_sects` is
 * written to the header (0 means 4 sectors, as in boot.rst).
 */
struct bz_image {
	uint8_t *buf;
	size_t len;
	size_t setup_size;
};

static inline struct setup_header *bz_hdr(struct bz_image *bz)
{
	return (struct setup_header *)(bz->buf + 0x1f1);
}

static inline void bz_build(struct bz_image *bz, uint8_t setup_sects, size_t pm_len)
{
	size_t i, sects = setup_sects ? setup_sects : 4;

	bz->setup_size = (sects + 1) * 512;
	bz->len = bz->setup_size + pm_len;
	bz->buf = calloc(1, bz->len);
	assert_non_null(bz->buf);
	memcpy(bz->buf + 0x1f1, real_61_setup_header, sizeof(real_61_setup_header));
	bz->buf[0x1f1] = setup_sects;
	bz_hdr(bz)->syssize = (uint32_t)(pm_len / 16);
	for (i = 0; i < pm_len; i++)
		bz->buf[bz->setup_size + i] = pattern_byte(i, 0x5a);
}

static inline void bz_free(struct bz_image *bz)
{
	free(bz->buf);
}

/*
 * A vmlinux-shaped ELF64: two PT_LOAD segments linked at the kernel's
 * virtual addresses (0xffffffff8xxxxxxx) and loaded at physical 2 MiB and
 * 3 MiB, the second with bss, plus a PT_NOTE that must be ignored.
 */
#define ELF_VBASE	0xffffffff80000000ULL
#define ELF_SEG0_PADDR	0x200000ULL
#define ELF_SEG0_SIZE	0x1000ULL
#define ELF_SEG1_PADDR	0x300000ULL
#define ELF_SEG1_FILESZ 0x800ULL
#define ELF_SEG1_MEMSZ	0x3000ULL
#define ELF_SEG0_OFF	0x1000ULL
#define ELF_SEG1_OFF	0x2000ULL
#define ELF_FILE_SIZE	(ELF_SEG1_OFF + ELF_SEG1_FILESZ)

struct elf_image {
	uint8_t buf[ELF_FILE_SIZE];
};

static inline Elf64_Ehdr *elf_ehdr(struct elf_image *e)
{
	return (Elf64_Ehdr *)e->buf;
}

static inline Elf64_Phdr *elf_phdr(struct elf_image *e, unsigned int i)
{
	return (Elf64_Phdr *)(e->buf + sizeof(Elf64_Ehdr)) + i;
}

static inline void elf_build(struct elf_image *e)
{
	Elf64_Ehdr *eh = elf_ehdr(e);
	uint64_t i;

	memset(e, 0, sizeof(*e));
	memcpy(eh->e_ident, ELFMAG, SELFMAG);
	eh->e_ident[EI_CLASS] = ELFCLASS64;
	eh->e_ident[EI_DATA] = ELFDATA2LSB;
	eh->e_ident[EI_VERSION] = EV_CURRENT;
	eh->e_type = ET_EXEC;
	eh->e_machine = EM_X86_64;
	eh->e_version = EV_CURRENT;
	eh->e_entry = ELF_SEG0_PADDR + 0x10; /* physical, like vmlinux */
	eh->e_phoff = sizeof(Elf64_Ehdr);
	eh->e_ehsize = sizeof(Elf64_Ehdr);
	eh->e_phentsize = sizeof(Elf64_Phdr);
	eh->e_phnum = 3;
	*elf_phdr(e, 0) = (Elf64_Phdr){
		.p_type = PT_LOAD,
		.p_flags = PF_R | PF_X,
		.p_offset = ELF_SEG0_OFF,
		.p_vaddr = ELF_VBASE + ELF_SEG0_PADDR,
		.p_paddr = ELF_SEG0_PADDR,
		.p_filesz = ELF_SEG0_SIZE,
		.p_memsz = ELF_SEG0_SIZE,
		.p_align = 0x1000,
	};
	*elf_phdr(e, 1) = (Elf64_Phdr){
		.p_type = PT_NOTE,
		.p_offset = ELF_SEG0_OFF,
		.p_vaddr = 0,
		.p_paddr = 0,
		.p_filesz = 0x10,
		.p_memsz = 0x10,
	};
	*elf_phdr(e, 2) = (Elf64_Phdr){
		.p_type = PT_LOAD,
		.p_flags = PF_R | PF_W,
		.p_offset = ELF_SEG1_OFF,
		.p_vaddr = ELF_VBASE + ELF_SEG1_PADDR,
		.p_paddr = ELF_SEG1_PADDR,
		.p_filesz = ELF_SEG1_FILESZ,
		.p_memsz = ELF_SEG1_MEMSZ,
		.p_align = 0x1000,
	};
	for (i = ELF_SEG0_OFF; i < ELF_FILE_SIZE; i++)
		e->buf[i] = pattern_byte(i, 0x3c);
}

/* A failed load must leave exactly one line of explanation. */
static inline void assert_clean_error(const struct x86_boot_result *res, int ret)
{
	assert_true(ret < 0);
	assert_true(res->err[0] != '\0');
	assert_null(strchr(res->err, '\n'));
	assert_true(strnlen(res->err, sizeof(res->err)) < sizeof(res->err));
}

/* Assert that res->err mentions `what`, printing it if not. */
static inline void assert_err_has(const struct x86_boot_result *res, const char *what)
{
	if (!strstr(res->err, what))
		print_error("error \"%s\" does not mention \"%s\"\n", res->err, what);
	assert_non_null(strstr(res->err, what));
}

#endif /* TEST_LOADER_FIXTURE_H */
