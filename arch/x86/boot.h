/* SPDX-License-Identifier: MIT */
/*
 * Loading a kernel into guest memory (Linux x86 boot protocol,
 * Documentation/arch/x86/boot.rst):
 *
 *  - bzImage: the setup header (at 0x1f1) is checked (magic "HdrS", version
 *    >= 2.12 for the 64-bit entry, XLF_KERNEL_64), the protected-mode kernel
 *    (after (setup_sects+1)*512 bytes) is copied to 1 MiB (always: every
 *    bzImage accepts it, and a relocatable kernel's decompressor moves
 *    itself to its run address anyway), RAM for init_size bytes from where
 *    the kernel will run (align_up(1 MiB, kernel_alignment) or pref_address,
 *    whichever is higher) is checked and kept free of the initrd, the zero
 *    page is filled from the setup header, and the entry is the 64-bit
 *    entry point, load address + 0x200.
 *  - ELF vmlinux (or any ELF64 x86-64 executable, such as our test guests):
 *    PT_LOAD segments are copied to their p_paddr, the entry is e_entry (a
 *    physical address for vmlinux; a virtual e_entry is translated through
 *    the segment containing it), entered in 64-bit mode. Segments must lie
 *    in RAM between 1 MiB and 4 GiB; the command line is limited to 2047
 *    bytes (x86 COMMAND_LINE_SIZE), which a vmlinux would silently cut.
 *
 * Both get a zero page at LAYOUT_ZERO_PAGE (struct boot_params) with the
 * command line (at LAYOUT_CMDLINE), the initrd (placed page-aligned as high
 * as possible below min(initrd_addr_max, top of low RAM) and above the
 * kernel), and the e820 map. Everything is placed below 4 GiB, the range the
 * boot page tables identity-map. The vCPU starts at `entry` in 64-bit mode
 * with rsi = zero page.
 *
 * Implemented in loader.c (file reading, command line, initrd, e820),
 * bzimage.c and elf.c.
 */
#ifndef ARCH_X86_BOOT_H
#define ARCH_X86_BOOT_H

#include <stddef.h>
#include <stdint.h>

#include "firmware/e820.h"
#include "base/guest_mem.h"

enum x86_kernel_kind { X86_KERNEL_BZIMAGE, X86_KERNEL_ELF };

struct x86_boot_request {
	const char *kernel_path;
	const char *initrd_path; /* may be NULL */
	const char *cmdline;	 /* may be NULL or "" */
	const struct e820_entry *e820;
	unsigned int ne820; /* 1 .. E820_MAX_ENTRIES_ZEROPAGE (128) */
};

struct x86_boot_result {
	enum x86_kernel_kind kind;
	uint64_t entry;	       /* guest-physical 64-bit entry point */
	uint64_t zero_page;    /* LAYOUT_ZERO_PAGE */
	uint64_t kernel_start; /* where the kernel image landed */
	uint64_t kernel_end;   /* bzImage: also covers run start + init_size */
	uint64_t initrd_start; /* 0 if none */
	uint64_t initrd_size;
	uint16_t boot_protocol; /* setup header version (bzImage), 0 for ELF */
	char err[256];		/* one-line reason on failure */
};

/*
 * Load kernel (and initrd) and fill the zero page. Returns 0, or a negative
 * errno with res->err set to a one-line message naming the file and the
 * problem ("not a bzImage or ELF kernel", "boot protocol 2.10 is older than
 * 2.12", "segment 0x... does not fit in guest RAM", ...).
 */
int x86_load_kernel(const struct guest_mem *gm, const struct x86_boot_request *req,
		    struct x86_boot_result *res) __attribute__((warn_unused_result));

/*
 * The pieces, for unit tests and for callers that already hold the image in
 * memory. `buf`/`len` is the whole kernel file.
 */
int x86_load_bzimage(const struct guest_mem *gm, const uint8_t *buf, size_t len,
		     const struct x86_boot_request *req, struct x86_boot_result *res)
	__attribute__((warn_unused_result));
int x86_load_elf(const struct guest_mem *gm, const uint8_t *buf, size_t len,
		 const struct x86_boot_request *req, struct x86_boot_result *res)
	__attribute__((warn_unused_result));

#endif /* ARCH_X86_BOOT_H */
