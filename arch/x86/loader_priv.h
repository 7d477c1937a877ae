/* SPDX-License-Identifier: MIT */
/*
 * Shared between the kernel loaders (loader.c, bzimage.c, elf.c); not part
 * of the interface (that is arch/x86/boot.h).
 *
 * Both loaders validate their image, copy it into guest RAM, build a zero
 * page in a host-side struct boot_params and then hand it to
 * boot_finish(), which adds what every kernel gets (command line, initrd,
 * e820 map) and writes the zero page to LAYOUT_ZERO_PAGE.
 */
#ifndef ARCH_X86_LOADER_PRIV_H
#define ARCH_X86_LOADER_PRIV_H

#include <asm/bootparam.h>
#include <stdint.h>

#include "arch/x86/boot.h"
#include "base/guest_mem.h"

#define BOOT_PAGE_SIZE 0x1000ULL

/*
 * Everything the loaders put in guest RAM must lie below 4 GiB: the vCPU
 * starts with an identity map of 0..4 GiB only (see the CLI contract), and
 * the 64-bit boot protocol requires the kernel's init_size range, the zero
 * page and the command line to be identity-mapped at entry (boot.rst,
 * "64-bit Boot Protocol").
 */
#define BOOT_MAPPED_END 0x100000000ULL

/* What the kernel-specific loader tells boot_finish(). */
struct boot_limits {
	uint64_t cmdline_max; /* longest command line accepted, without the NUL */
	uint64_t initrd_max;  /* highest byte the initrd may occupy (initrd_addr_max) */
};

/*
 * The loaders' err_set (base/err.h): set res->err to "<kernel>: <message>"
 * and return `err` (a negative errno), so that callers can write
 * `return boot_fail(req, res, -EINVAL, "...")`.
 */
int boot_fail(const struct x86_boot_request *req, struct x86_boot_result *res, int err,
	      const char *fmt, ...) __attribute__((format(printf, 4, 5), warn_unused_result));

/*
 * Check that [gpa, gpa+len) is guest RAM below BOOT_MAPPED_END and does not
 * wrap. Returns the host pointer or NULL.
 */
void *boot_guest_range(const struct guest_mem *gm, uint64_t gpa, uint64_t len);

/*
 * Common tail of both loaders: write the command line to LAYOUT_CMDLINE,
 * place and read the initrd above res->kernel_end, copy the e820 map, and
 * write `bp` to LAYOUT_ZERO_PAGE. Fills the cmd_line_ptr, ramdisk_* and
 * e820 fields of `bp` (and their ext_* high halves).
 */
int boot_finish(const struct guest_mem *gm, const struct x86_boot_request *req,
		struct x86_boot_result *res, struct boot_params *bp, const struct boot_limits *lim)
	__attribute__((warn_unused_result));

#endif /* ARCH_X86_LOADER_PRIV_H */
