/* SPDX-License-Identifier: MIT */
/*
 * ELF kernel loading (vmlinux and test guests): segments, bss, entry
 * translation, the zero page an ELF kernel gets, and every malformed header
 * we can think of.
 */
#include <errno.h>
#include <stdint.h>

#include "test_loader_fixture.h"

#define RAM_SIZE (16 * MiB)

static int load(struct fake_guest *g, struct elf_image *e, const char *cmdline,
		struct x86_boot_result *res)
{
	struct x86_boot_request req = fake_request(g, cmdline);

	return x86_load_elf(&g->gm, e->buf, sizeof(e->buf), &req, res);
}

static void test_elf_loads(void **state)
{
	struct fake_guest g;
	struct elf_image e;
	struct x86_boot_request req;
	struct x86_boot_result res;
	const struct boot_params *bp;
	char kpath[32], ipath[32];
	uint8_t initrd[5000];
	unsigned int i;

	fake_guest_init(&g, RAM_SIZE);
	elf_build(&e);
	memset(initrd, 0x77, sizeof(initrd));
	temp_file(kpath, e.buf, sizeof(e.buf));
	temp_file(ipath, initrd, sizeof(initrd));
	req = fake_request(&g, "console=ttyS0 panic=-1");
	req.kernel_path = kpath;
	req.initrd_path = ipath;
	assert_int_equal(x86_load_kernel(&g.gm, &req, &res), 0);

	assert_int_equal(res.kind, X86_KERNEL_ELF);
	assert_int_equal(res.entry, ELF_SEG0_PADDR + 0x10);
	assert_int_equal(res.kernel_start, ELF_SEG0_PADDR);
	assert_int_equal(res.kernel_end, ELF_SEG1_PADDR + ELF_SEG1_MEMSZ);
	assert_int_equal(res.boot_protocol, 0);
	assert_int_equal(res.zero_page, LAYOUT_ZERO_PAGE);
	/* segments at p_paddr, bss zeroed (RAM was 0xaa) */
	assert_memory_equal(g.ram + ELF_SEG0_PADDR, e.buf + ELF_SEG0_OFF, ELF_SEG0_SIZE);
	assert_memory_equal(g.ram + ELF_SEG1_PADDR, e.buf + ELF_SEG1_OFF, ELF_SEG1_FILESZ);
	for (i = ELF_SEG1_FILESZ; i < ELF_SEG1_MEMSZ; i++)
		assert_int_equal(g.ram[ELF_SEG1_PADDR + i], 0);
	/* the byte after bss and the gap between segments are untouched */
	assert_int_equal(g.ram[ELF_SEG1_PADDR + ELF_SEG1_MEMSZ], 0xaa);
	assert_int_equal(g.ram[ELF_SEG0_PADDR + ELF_SEG0_SIZE], 0xaa);
	/* the PT_NOTE (p_paddr 0) was not loaded */
	assert_int_equal(g.ram[0], 0xaa);

	bp = zero_page(&g);
	assert_int_equal(bp->hdr.header, 0x53726448);
	assert_int_equal(bp->hdr.version, 0x020f);
	assert_int_equal(bp->hdr.boot_flag, 0xaa55);
	assert_int_equal(bp->hdr.type_of_loader, 0xff);
	assert_int_equal(bp->hdr.loadflags, LOADED_HIGH | CAN_USE_HEAP);
	assert_int_equal(bp->hdr.kernel_alignment, 0x1000000);
	assert_int_equal(bp->hdr.cmdline_size, 2047);
	assert_int_equal(bp->hdr.cmd_line_ptr, LAYOUT_CMDLINE);
	assert_string_equal((const char *)g.ram + LAYOUT_CMDLINE, "console=ttyS0 panic=-1");
	assert_int_equal(bp->hdr.ramdisk_image, (RAM_SIZE - sizeof(initrd)) & ~0xfffULL);
	assert_int_equal(bp->hdr.ramdisk_size, sizeof(initrd));
	assert_int_equal(res.initrd_start, bp->hdr.ramdisk_image);
	assert_memory_equal(g.ram + res.initrd_start, initrd, sizeof(initrd));
	assert_int_equal(bp->e820_entries, 3);
	assert_int_equal(bp->e820_table[2].addr, LAYOUT_BIOS_END);
	assert_int_equal(bp->e820_table[2].size, RAM_SIZE - LAYOUT_BIOS_END);
	assert_int_equal(bp->e820_table[2].type, E820_TYPE_RAM);
	assert_int_equal(bp->sentinel, 0);
	assert_int_equal(bp->hdr.setup_sects, 0);

	unlink(kpath);
	unlink(ipath);
	fake_guest_destroy(&g);
}

/* A virtual e_entry (0xffffffff8...) is translated through its segment. */
static void test_elf_virtual_entry(void **state)
{
	struct fake_guest g;
	struct elf_image e;
	struct x86_boot_result res;

	fake_guest_init(&g, RAM_SIZE);
	elf_build(&e);
	elf_ehdr(&e)->e_entry = ELF_VBASE + ELF_SEG1_PADDR + 0x123;
	assert_int_equal(load(&g, &e, NULL, &res), 0);
	assert_int_equal(res.entry, ELF_SEG1_PADDR + 0x123);

	/* an entry in neither the physical nor the virtual range */
	elf_ehdr(&e)->e_entry = ELF_VBASE + 0x100000;
	assert_clean_error(&res, load(&g, &e, NULL, &res));
	assert_err_has(&res, "entry point 0xffffffff80100000 is not inside any loadable segment");
	/* one byte past a segment's end is outside it */
	elf_ehdr(&e)->e_entry = ELF_SEG0_PADDR + ELF_SEG0_SIZE;
	assert_clean_error(&res, load(&g, &e, NULL, &res));
	fake_guest_destroy(&g);
}

static void expect_reject(struct elf_image *e, int want, const char *what)
{
	struct fake_guest g;
	struct x86_boot_result res;
	int ret;

	fake_guest_init(&g, RAM_SIZE);
	ret = load(&g, e, "", &res);
	assert_clean_error(&res, ret);
	assert_int_equal(ret, want);
	assert_err_has(&res, what);
	/* nothing was loaded: validation comes before copying */
	assert_int_equal(g.ram[ELF_SEG0_PADDR], 0xaa);
	fake_guest_destroy(&g);
}

static void test_elf_bad_headers(void **state)
{
	struct elf_image e;

	elf_build(&e);
	elf_ehdr(&e)->e_ident[EI_CLASS] = ELFCLASS32;
	expect_reject(&e, -ENOEXEC, "not 64-bit");

	elf_build(&e);
	elf_ehdr(&e)->e_ident[EI_DATA] = ELFDATA2MSB;
	expect_reject(&e, -ENOEXEC, "little-endian");

	elf_build(&e);
	elf_ehdr(&e)->e_machine = EM_386;
	expect_reject(&e, -ENOEXEC, "not x86-64");

	elf_build(&e);
	elf_ehdr(&e)->e_type = ET_DYN;
	expect_reject(&e, -ENOEXEC, "not an executable");

	elf_build(&e);
	elf_ehdr(&e)->e_phentsize = 32;
	expect_reject(&e, -ENOEXEC, "program header size");

	elf_build(&e);
	elf_ehdr(&e)->e_phnum = 0;
	expect_reject(&e, -ENOEXEC, "0 program headers");

	elf_build(&e);
	elf_ehdr(&e)->e_phnum = 0xffff; /* PN_XNUM and far beyond the file */
	expect_reject(&e, -ENOEXEC, "program headers");

	elf_build(&e);
	elf_ehdr(&e)->e_phoff = sizeof(e.buf);
	expect_reject(&e, -ENOEXEC, "beyond the end of the file");

	elf_build(&e);
	elf_ehdr(&e)->e_phoff = UINT64_MAX - 8; /* phoff + size wraps */
	expect_reject(&e, -ENOEXEC, "beyond the end of the file");

	elf_build(&e);
	elf_phdr(&e, 0)->p_type = PT_NULL;
	elf_phdr(&e, 2)->p_type = PT_NOTE;
	expect_reject(&e, -ENOEXEC, "no loadable segment");

	elf_build(&e);
	memcpy(elf_ehdr(&e)->e_ident, "\177ELG", 4);
	expect_reject(&e, -ENOEXEC, "not an ELF file");
}

static void test_elf_bad_segments(void **state)
{
	struct elf_image e;

	elf_build(&e);
	elf_phdr(&e, 2)->p_filesz = ELF_SEG1_MEMSZ + 1;
	expect_reject(&e, -ENOEXEC, "p_filesz 0x3001 is larger than p_memsz 0x3000");

	elf_build(&e);
	elf_phdr(&e, 2)->p_offset = UINT64_MAX - 0x100; /* offset + filesz wraps */
	expect_reject(&e, -ENOEXEC, "beyond the end of the file");

	elf_build(&e);
	elf_phdr(&e, 2)->p_offset = ELF_SEG1_OFF + 1; /* one byte past the end */
	expect_reject(&e, -ENOEXEC, "segment 2: file range");

	elf_build(&e);
	elf_phdr(&e, 2)->p_paddr = UINT64_MAX - 0x1000; /* paddr + memsz wraps */
	expect_reject(&e, -ENOEXEC, "overflows");

	elf_build(&e);
	elf_phdr(&e, 2)->p_paddr = RAM_SIZE - 0x1000; /* memsz 0x3000: past the end */
	expect_reject(&e, -ENOMEM, "does not fit in guest RAM");

	elf_build(&e);
	elf_phdr(&e, 2)->p_paddr = 0x200000000ULL; /* far above RAM and 4 GiB */
	expect_reject(&e, -ENOMEM, "does not fit in guest RAM");

	elf_build(&e);
	elf_phdr(&e, 0)->p_paddr = LAYOUT_ZERO_PAGE; /* over the zero page */
	elf_ehdr(&e)->e_entry = ELF_VBASE + ELF_SEG0_PADDR;
	expect_reject(&e, -ENOEXEC, "below 1 MiB");

	elf_build(&e);
	elf_phdr(&e, 0)->p_paddr = LAYOUT_KERNEL_START - 0x800; /* straddles 1 MiB */
	expect_reject(&e, -ENOEXEC, "below 1 MiB");
}

/* RAM above 4 GiB exists, but the boot page tables only map 0..4 GiB: a
 * segment there could not be reached at entry, so it is refused. */
static void test_elf_above_4g(void **state)
{
	struct fake_guest g;
	struct elf_image e;
	struct x86_boot_result res;
	uint8_t *high = calloc(1, MiB);

	assert_non_null(high);
	fake_guest_init(&g, RAM_SIZE);
	assert_int_equal(gm_add_region(&g.gm, 0x100000000ULL, MiB, high), 0);
	elf_build(&e);
	elf_phdr(&e, 2)->p_paddr = 0x100000000ULL;
	assert_non_null(gm_slice(&g.gm, 0x100000000ULL, ELF_SEG1_MEMSZ));
	assert_clean_error(&res, load(&g, &e, "", &res));
	assert_err_has(&res, "does not fit in guest RAM");
	assert_int_equal(high[0], 0);
	fake_guest_destroy(&g);
	free(high);
}

/* An empty PT_LOAD (memsz 0) is legal and ignored, wherever it points. */
static void test_elf_empty_segment(void **state)
{
	struct fake_guest g;
	struct elf_image e;
	struct x86_boot_result res;

	fake_guest_init(&g, RAM_SIZE);
	elf_build(&e);
	*elf_phdr(&e, 1) = (Elf64_Phdr){ .p_type = PT_LOAD, .p_paddr = 0x10, .p_offset = 0 };
	assert_int_equal(load(&g, &e, "", &res), 0);
	assert_int_equal(res.kernel_start, ELF_SEG0_PADDR);
	fake_guest_destroy(&g);
}

static void test_elf_limits(void **state)
{
	struct fake_guest g;
	struct elf_image e;
	struct x86_boot_result res;
	char line[2049];

	fake_guest_init(&g, RAM_SIZE);
	elf_build(&e);
	/* a vmlinux copies COMMAND_LINE_SIZE (2048 with the NUL) */
	memset(line, 'a', 2047);
	line[2047] = '\0';
	assert_int_equal(load(&g, &e, line, &res), 0);
	line[2047] = 'b';
	line[2048] = '\0';
	assert_int_equal(load(&g, &e, line, &res), -E2BIG);
	assert_clean_error(&res, -E2BIG);

	/* too small for an ELF header */
	{
		struct x86_boot_request req = fake_request(&g, "");

		assert_int_equal(x86_load_elf(&g.gm, e.buf, 63, &req, &res), -ENOEXEC);
		assert_err_has(&res, "too small");
	}
	fake_guest_destroy(&g);

	/* the initrd must fit above the kernel */
	fake_guest_init(&g, ELF_SEG1_PADDR + ELF_SEG1_MEMSZ + 0x1000);
	{
		struct x86_boot_request req = fake_request(&g, "");
		char ipath[32];
		uint8_t rd[0x1001];

		memset(rd, 1, sizeof(rd));
		temp_file(ipath, rd, sizeof(rd));
		req.initrd_path = ipath;
		assert_int_equal(x86_load_elf(&g.gm, e.buf, sizeof(e.buf), &req, &res), -ENOMEM);
		assert_err_has(&res, "does not fit");
		assert_int_equal(truncate(ipath, 0x1000), 0);
		assert_int_equal(x86_load_elf(&g.gm, e.buf, sizeof(e.buf), &req, &res), 0);
		assert_int_equal(res.initrd_start, ELF_SEG1_PADDR + ELF_SEG1_MEMSZ);
		unlink(ipath);
	}
	fake_guest_destroy(&g);
}

/* A real vmlinux, if one is at hand ($VMM_TEST_VMLINUX); skipped otherwise. */
static void test_real_vmlinux(void **state)
{
	const char *path = getenv("VMM_TEST_VMLINUX");
	struct fake_guest g;
	struct x86_boot_request req;
	struct x86_boot_result res;

	if (!path || !*path)
		skip();
	fake_guest_init(&g, 512 * MiB);
	req = fake_request(&g, "console=ttyS0");
	req.kernel_path = path;
	if (x86_load_kernel(&g.gm, &req, &res) < 0)
		print_error("%s\n", res.err);
	assert_int_equal(x86_load_kernel(&g.gm, &req, &res), 0);
	assert_int_equal(res.kind, X86_KERNEL_ELF);
	/* vmlinux: ENTRY(phys_startup_64), at CONFIG_PHYSICAL_START */
	assert_true(res.entry >= res.kernel_start && res.entry < res.kernel_end);
	assert_true(res.entry < 0x100000000ULL);
	fake_guest_destroy(&g);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_elf_loads),	cmocka_unit_test(test_elf_virtual_entry),
		cmocka_unit_test(test_elf_bad_headers), cmocka_unit_test(test_elf_bad_segments),
		cmocka_unit_test(test_elf_above_4g),	cmocka_unit_test(test_elf_empty_segment),
		cmocka_unit_test(test_elf_limits),	cmocka_unit_test(test_real_vmlinux),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
