/* SPDX-License-Identifier: MIT */
/*
 * bzImage loading and the parts common to every kernel (command line,
 * initrd, e820, file errors), on a fake guest of malloc'd RAM.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdint.h>
#include <sys/stat.h>

#include "test_loader_fixture.h"

/* Large enough for the real header: it runs at 16 MiB and needs init_size. */
#define RAM_SIZE (128 * MiB)

static void check_e820(const struct fake_guest *g, const struct boot_params *bp)
{
	unsigned int i;

	assert_int_equal(bp->e820_entries, 3);
	for (i = 0; i < 3; i++) {
		assert_int_equal(bp->e820_table[i].addr, g->e820[i].addr);
		assert_int_equal(bp->e820_table[i].size, g->e820[i].size);
		assert_int_equal(bp->e820_table[i].type, g->e820[i].type);
	}
	assert_int_equal(bp->e820_table[3].size, 0); /* zeroed past the map */
}

static void test_bzimage_loads(void **state)
{
	static const char cmdline[] = "console=ttyS0 root=/dev/vda rw";
	struct fake_guest g;
	struct bz_image bz;
	struct x86_boot_request req;
	struct x86_boot_result res;
	const struct boot_params *bp;
	char kpath[32], ipath[32];
	uint8_t initrd[10000];
	uint64_t expect_initrd;
	size_t i;

	fake_guest_init(&g, RAM_SIZE);
	bz_build(&bz, 0x27, 64 * 1024);
	for (i = 0; i < sizeof(initrd); i++)
		initrd[i] = pattern_byte(i, 0x11);
	temp_file(kpath, bz.buf, bz.len);
	temp_file(ipath, initrd, sizeof(initrd));
	req = fake_request(&g, cmdline);
	req.kernel_path = kpath;
	req.initrd_path = ipath;

	assert_int_equal(x86_load_kernel(&g.gm, &req, &res), 0);
	assert_int_equal(res.kind, X86_KERNEL_BZIMAGE);
	assert_int_equal(res.entry, 0x100000 + 0x200);
	assert_int_equal(res.zero_page, LAYOUT_ZERO_PAGE);
	assert_int_equal(res.kernel_start, 0x100000);
	/* the kernel claims init_size bytes from where it runs (pref_address) */
	assert_int_equal(res.kernel_end, REAL_RUN_START + REAL_INIT_SIZE);
	assert_int_equal(res.boot_protocol, 0x020f);

	/* protected-mode part copied to 1 MiB */
	assert_memory_equal(g.ram + 0x100000, bz.buf + bz.setup_size, 64 * 1024);

	bp = zero_page(&g);
	/* header copied from the file: the read-only parts are byte-identical */
	assert_memory_equal(&bp->hdr, bz.buf + 0x1f1, 0x210 - 0x1f1);
	assert_memory_equal((const uint8_t *)bp + 0x22c, bz.buf + 0x22c, 0x26c - 0x22c);
	assert_int_equal(bp->hdr.version, 0x020f);
	assert_int_equal(bp->hdr.kernel_alignment, 0x200000);
	assert_int_equal(bp->hdr.init_size, REAL_INIT_SIZE);
	assert_int_equal(bp->hdr.pref_address, REAL_RUN_START);
	assert_int_equal(bp->hdr.xloadflags, 0x7f);
	assert_int_equal(bp->hdr.vid_mode, 0xffff);
	/* what the loader writes */
	assert_int_equal(bp->hdr.type_of_loader, 0xff);
	assert_int_equal(bp->hdr.loadflags, LOADED_HIGH | CAN_USE_HEAP);
	assert_int_equal(bp->hdr.heap_end_ptr, 0xe000 - 0x200);
	assert_int_equal(bp->hdr.code32_start, 0x100000);
	assert_int_equal(bp->hdr.cmd_line_ptr, LAYOUT_CMDLINE);
	assert_int_equal(bp->ext_cmd_line_ptr, 0);
	assert_string_equal((const char *)g.ram + LAYOUT_CMDLINE, cmdline);
	/* initrd: page-aligned, as high as it goes in RAM */
	expect_initrd = (RAM_SIZE - sizeof(initrd)) & ~0xfffULL;
	assert_int_equal(res.initrd_start, expect_initrd);
	assert_int_equal(res.initrd_size, sizeof(initrd));
	assert_int_equal(bp->hdr.ramdisk_image, expect_initrd);
	assert_int_equal(bp->hdr.ramdisk_size, sizeof(initrd));
	assert_int_equal(bp->ext_ramdisk_image, 0);
	assert_int_equal(bp->ext_ramdisk_size, 0);
	assert_memory_equal(g.ram + expect_initrd, initrd, sizeof(initrd));
	check_e820(&g, bp);
	/* everything outside the header was zeroed, not left as RAM garbage */
	assert_int_equal(bp->sentinel, 0);
	assert_int_equal(bp->screen_info.orig_video_isVGA, 0);
	assert_int_equal(bp->hdr.setup_data, 0);

	unlink(kpath);
	unlink(ipath);
	bz_free(&bz);
	fake_guest_destroy(&g);
}

/* setup_sects == 0 means 4 (boot.rst): the payload starts at 5 * 512. */
static void test_bzimage_setup_sects_zero(void **state)
{
	struct fake_guest g;
	struct bz_image bz;
	struct x86_boot_request req;
	struct x86_boot_result res;

	fake_guest_init(&g, RAM_SIZE);
	bz_build(&bz, 0, 4096);
	assert_int_equal(bz.setup_size, 5 * 512);
	req = fake_request(&g, NULL);
	assert_int_equal(x86_load_bzimage(&g.gm, bz.buf, bz.len, &req, &res), 0);
	assert_memory_equal(g.ram + 0x100000, bz.buf + 5 * 512, 4096);
	/* no command line: an empty string, but the pointer is still set */
	assert_int_equal(zero_page(&g)->hdr.cmd_line_ptr, LAYOUT_CMDLINE);
	assert_int_equal(g.ram[LAYOUT_CMDLINE], 0);
	assert_int_equal(res.initrd_start, 0);
	assert_int_equal(zero_page(&g)->hdr.ramdisk_image, 0);
	bz_free(&bz);
	fake_guest_destroy(&g);
}

/* A non-relocatable kernel runs at pref_address; a relocatable one at
 * align_up(1 MiB, kernel_alignment) unless pref_address is higher. */
static void test_bzimage_runtime_start(void **state)
{
	struct fake_guest g;
	struct bz_image bz;
	struct x86_boot_request req;
	struct x86_boot_result res;

	fake_guest_init(&g, RAM_SIZE);
	bz_build(&bz, 0x27, 4096);
	req = fake_request(&g, "");
	bz_hdr(&bz)->pref_address = 0;
	bz_hdr(&bz)->kernel_alignment = 0x400000;
	bz_hdr(&bz)->init_size = 0x100000;
	assert_int_equal(x86_load_bzimage(&g.gm, bz.buf, bz.len, &req, &res), 0);
	assert_int_equal(res.kernel_end, 0x400000 + 0x100000);

	bz_hdr(&bz)->relocatable_kernel = 0;
	bz_hdr(&bz)->pref_address = 0x2000000;
	assert_int_equal(x86_load_bzimage(&g.gm, bz.buf, bz.len, &req, &res), 0);
	assert_int_equal(res.kernel_end, 0x2000000 + 0x100000);

	bz_hdr(&bz)->relocatable_kernel = 1;
	bz_hdr(&bz)->kernel_alignment = 0x300000;
	assert_clean_error(&res, x86_load_bzimage(&g.gm, bz.buf, bz.len, &req, &res));
	assert_err_has(&res, "kernel_alignment");
	bz_free(&bz);
	fake_guest_destroy(&g);
}

static void expect_bz_reject(struct bz_image *bz, uint64_t ram, const char *cmdline, int want_err,
			     const char *what)
{
	struct fake_guest g;
	struct x86_boot_request req;
	struct x86_boot_result res;
	int ret;

	fake_guest_init(&g, ram);
	req = fake_request(&g, cmdline);
	ret = x86_load_bzimage(&g.gm, bz->buf, bz->len, &req, &res);
	assert_clean_error(&res, ret);
	assert_int_equal(ret, want_err);
	assert_err_has(&res, what);
	assert_non_null(strstr(res.err, "test-kernel: "));
	fake_guest_destroy(&g);
}

static void test_bzimage_rejects_header(void **state)
{
	struct bz_image bz;

	bz_build(&bz, 0x27, 4096);
	bz_hdr(&bz)->version = 0x020a;
	expect_bz_reject(&bz, RAM_SIZE, "", -ENOEXEC, "boot protocol 2.10 is older than 2.12");
	bz_hdr(&bz)->version = 0x020f;

	bz_hdr(&bz)->xloadflags &= (uint16_t)~XLF_KERNEL_64;
	expect_bz_reject(&bz, RAM_SIZE, "", -ENOEXEC, "XLF_KERNEL_64");
	bz_hdr(&bz)->xloadflags |= XLF_KERNEL_64;

	bz_hdr(&bz)->loadflags &= (uint8_t)~LOADED_HIGH;
	expect_bz_reject(&bz, RAM_SIZE, "", -ENOEXEC, "zImage");
	bz_hdr(&bz)->loadflags |= LOADED_HIGH;

	/* header claims to end before init_size */
	bz.buf[0x201] = 0x40;
	expect_bz_reject(&bz, RAM_SIZE, "", -ENOEXEC, "too short");
	bz.buf[0x201] = 0x6a;

	memcpy(bz.buf + 0x202, "HdrX", 4);
	expect_bz_reject(&bz, RAM_SIZE, "", -ENOEXEC, "HdrS");
	bz_free(&bz);
}

static void test_bzimage_rejects_truncated(void **state)
{
	struct bz_image bz;

	/* syssize says more protected-mode code than the file holds */
	bz_build(&bz, 0x27, 4096);
	bz_hdr(&bz)->syssize = 4096 / 16 + 1;
	expect_bz_reject(&bz, RAM_SIZE, "", -ENOEXEC, "truncated");
	bz_free(&bz);

	/* setup_sects pointing past the end of the file */
	bz_build(&bz, 0x27, 4096);
	bz.buf[0x1f1] = 0xff;
	expect_bz_reject(&bz, RAM_SIZE, "", -ENOEXEC, "setup_sects (255) points beyond");
	bz_free(&bz);

	/* the file ends inside the setup header */
	bz_build(&bz, 0x27, 4096);
	bz.len = 0x240;
	expect_bz_reject(&bz, RAM_SIZE, "", -ENOEXEC, "beyond the end of the file");
	bz.len = 0x100;
	expect_bz_reject(&bz, RAM_SIZE, "", -ENOEXEC, "too small");
	bz_free(&bz);
}

static void test_bzimage_rejects_too_big(void **state)
{
	struct bz_image bz;

	/* The real kernel needs 16 MiB + init_size (~67 MiB): not in 64 MiB. */
	bz_build(&bz, 0x27, 4096);
	expect_bz_reject(&bz, 64 * MiB, "", -ENOMEM, "kernel too big for RAM");
	bz_free(&bz);

	/* a protected-mode part larger than RAM above 1 MiB */
	bz_build(&bz, 0x27, 3 * MiB + 4096);
	bz_hdr(&bz)->init_size = 0x1000;
	bz_hdr(&bz)->pref_address = 0x100000;
	bz_hdr(&bz)->relocatable_kernel = 0;
	expect_bz_reject(&bz, 4 * MiB, "", -ENOMEM, "kernel too big for RAM");
	bz_free(&bz);
}

static void test_bzimage_cmdline_limit(void **state)
{
	struct fake_guest g;
	struct bz_image bz;
	struct x86_boot_request req;
	struct x86_boot_result res;
	char line[0x1000];

	/* cmdline_size is 0x7ff: 2047 characters pass, 2048 do not */
	memset(line, 'x', 2047);
	line[2047] = '\0';
	fake_guest_init(&g, RAM_SIZE);
	bz_build(&bz, 0x27, 4096);
	req = fake_request(&g, line);
	assert_int_equal(x86_load_bzimage(&g.gm, bz.buf, bz.len, &req, &res), 0);
	assert_int_equal(strlen((const char *)g.ram + LAYOUT_CMDLINE), 2047);

	line[2047] = 'y';
	line[2048] = '\0';
	assert_clean_error(&res, x86_load_bzimage(&g.gm, bz.buf, bz.len, &req, &res));
	assert_err_has(&res, "command line is 2048 bytes, longer than the kernel's limit of 2047");

	/* a kernel that accepts more than our buffer is held to the buffer */
	bz_hdr(&bz)->cmdline_size = 0xffffffff;
	memset(line, 'z', sizeof(line) - 1);
	line[sizeof(line) - 1] = '\0';
	assert_int_equal(x86_load_bzimage(&g.gm, bz.buf, bz.len, &req, &res), 0);
	bz_free(&bz);
	fake_guest_destroy(&g);
}

static void test_initrd_errors(void **state)
{
	struct fake_guest g;
	struct bz_image bz;
	struct x86_boot_request req;
	struct x86_boot_result res;
	char ipath[32];
	int fd;

	fake_guest_init(&g, RAM_SIZE);
	bz_build(&bz, 0x27, 4096);
	req = fake_request(&g, "");

	/* larger than the RAM between the kernel's init_size end and the top */
	temp_file(ipath, "x", 1);
	fd = open(ipath, O_WRONLY);
	assert_true(fd >= 0);
	assert_int_equal(ftruncate(fd, (off_t)(RAM_SIZE - REAL_RUN_START - REAL_INIT_SIZE + 1)), 0);
	close(fd);
	req.initrd_path = ipath;
	assert_clean_error(&res, x86_load_bzimage(&g.gm, bz.buf, bz.len, &req, &res));
	assert_int_equal(x86_load_bzimage(&g.gm, bz.buf, bz.len, &req, &res), -ENOMEM);
	assert_err_has(&res, "does not fit");

	/* exactly what is left above the kernel fits */
	fd = open(ipath, O_WRONLY);
	assert_true(fd >= 0);
	assert_int_equal(ftruncate(fd, (off_t)(RAM_SIZE - REAL_RUN_START - REAL_INIT_SIZE)), 0);
	close(fd);
	assert_int_equal(x86_load_bzimage(&g.gm, bz.buf, bz.len, &req, &res), 0);
	assert_int_equal(res.initrd_start, REAL_RUN_START + REAL_INIT_SIZE);

	/* initrd_addr_max bounds the initrd's highest byte */
	bz_hdr(&bz)->initrd_addr_max = 0x5000000 - 1;
	fd = open(ipath, O_WRONLY);
	assert_true(fd >= 0);
	assert_int_equal(ftruncate(fd, 0x1800), 0);
	close(fd);
	assert_int_equal(x86_load_bzimage(&g.gm, bz.buf, bz.len, &req, &res), 0);
	assert_int_equal(res.initrd_start, 0x5000000 - 0x2000);

	/* empty, missing, a directory */
	fd = open(ipath, O_WRONLY | O_TRUNC);
	close(fd);
	assert_clean_error(&res, x86_load_bzimage(&g.gm, bz.buf, bz.len, &req, &res));
	assert_err_has(&res, "is empty");
	unlink(ipath);
	assert_int_equal(x86_load_bzimage(&g.gm, bz.buf, bz.len, &req, &res), -ENOENT);
	assert_err_has(&res, "No such file or directory");
	req.initrd_path = "/tmp";
	assert_clean_error(&res, x86_load_bzimage(&g.gm, bz.buf, bz.len, &req, &res));
	assert_err_has(&res, "not a regular file");
	bz_free(&bz);
	fake_guest_destroy(&g);
}

static void test_e820_errors(void **state)
{
	struct fake_guest g;
	struct bz_image bz;
	struct x86_boot_request req;
	struct x86_boot_result res;
	struct e820_entry many[E820_MAX_ENTRIES_ZEROPAGE + 1];

	fake_guest_init(&g, RAM_SIZE);
	bz_build(&bz, 0x27, 4096);
	req = fake_request(&g, "");
	req.ne820 = 0;
	assert_clean_error(&res, x86_load_bzimage(&g.gm, bz.buf, bz.len, &req, &res));
	assert_err_has(&res, "e820");
	memset(many, 0, sizeof(many));
	req.e820 = many;
	req.ne820 = E820_MAX_ENTRIES_ZEROPAGE + 1;
	assert_int_equal(x86_load_bzimage(&g.gm, bz.buf, bz.len, &req, &res), -E2BIG);
	req.ne820 = E820_MAX_ENTRIES_ZEROPAGE;
	many[127] = (struct e820_entry){ 0x1000, 0x2000, E820_TYPE_ACPI };
	assert_int_equal(x86_load_bzimage(&g.gm, bz.buf, bz.len, &req, &res), 0);
	assert_int_equal(zero_page(&g)->e820_entries, 128);
	assert_int_equal(zero_page(&g)->e820_table[127].addr, 0x1000);
	assert_int_equal(zero_page(&g)->e820_table[127].type, E820_TYPE_ACPI);
	bz_free(&bz);
	fake_guest_destroy(&g);
}

static void expect_file_reject(struct fake_guest *g, const char *path, int want, const char *what)
{
	struct x86_boot_request req = fake_request(g, "");
	struct x86_boot_result res;
	int ret;

	req.kernel_path = path;
	ret = x86_load_kernel(&g->gm, &req, &res);
	assert_clean_error(&res, ret);
	if (want)
		assert_int_equal(ret, want);
	assert_err_has(&res, what);
	assert_non_null(strstr(res.err, path));
}

static void test_kernel_file_errors(void **state)
{
	struct fake_guest g;
	char path[32];
	uint8_t junk[4096];
	size_t i;

	fake_guest_init(&g, 4 * MiB);
	expect_file_reject(&g, "/nonexistent/vmlinux", -ENOENT, "cannot open: No such file");
	expect_file_reject(&g, "/tmp", -EINVAL, "not a regular file");

	temp_file(path, "", 0);
	expect_file_reject(&g, path, -EINVAL, "empty");
	unlink(path);

	temp_file(path, "MZ", 2);
	expect_file_reject(&g, path, -ENOEXEC, "too small");
	unlink(path);

	for (i = 0; i < sizeof(junk); i++)
		junk[i] = (uint8_t)(i * 7);
	temp_file(path, junk, sizeof(junk));
	expect_file_reject(&g, path, -ENOEXEC, "not a bzImage or ELF kernel");
	unlink(path);

	/* a file larger than all of guest RAM is refused before it is read */
	temp_file(path, junk, 16);
	assert_int_equal(truncate(path, 5 * MiB), 0);
	expect_file_reject(&g, path, -EFBIG, "larger than guest RAM");
	unlink(path);
	fake_guest_destroy(&g);
}

/*
 * A real kernel, if one is at hand: $VMM_TEST_BZIMAGE (for example the one
 * guest-images/ builds under ~/.cache/vmm). Skipped otherwise.
 */
static void test_real_bzimage(void **state)
{
	const char *path = getenv("VMM_TEST_BZIMAGE");
	struct fake_guest g;
	struct x86_boot_request req;
	struct x86_boot_result res;
	const struct boot_params *bp;

	if (!path || !*path)
		skip();
	fake_guest_init(&g, 256 * MiB);
	req = fake_request(&g, "console=ttyS0");
	req.kernel_path = path;
	if (x86_load_kernel(&g.gm, &req, &res) < 0)
		print_error("%s\n", res.err);
	assert_int_equal(x86_load_kernel(&g.gm, &req, &res), 0);
	bp = zero_page(&g);
	assert_int_equal(res.kind, X86_KERNEL_BZIMAGE);
	assert_int_equal(res.entry, 0x100200);
	assert_true(res.boot_protocol >= 0x020c);
	assert_int_equal(bp->hdr.header, 0x53726448);
	assert_int_equal(bp->hdr.type_of_loader, 0xff);
	assert_true(res.kernel_end >= bp->hdr.pref_address + bp->hdr.init_size);
	fake_guest_destroy(&g);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_bzimage_loads),
		cmocka_unit_test(test_bzimage_setup_sects_zero),
		cmocka_unit_test(test_bzimage_runtime_start),
		cmocka_unit_test(test_bzimage_rejects_header),
		cmocka_unit_test(test_bzimage_rejects_truncated),
		cmocka_unit_test(test_bzimage_rejects_too_big),
		cmocka_unit_test(test_bzimage_cmdline_limit),
		cmocka_unit_test(test_initrd_errors),
		cmocka_unit_test(test_e820_errors),
		cmocka_unit_test(test_kernel_file_errors),
		cmocka_unit_test(test_real_bzimage),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
