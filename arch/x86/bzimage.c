/* SPDX-License-Identifier: MIT */
/*
 * bzImage loader: Linux x86 boot protocol 2.12+ with the 64-bit entry point
 * (Documentation/x86/boot.rst of Linux 6.1, "64-bit Boot Protocol").
 *
 * File layout: the boot sector and the real-mode setup code take
 * (setup_sects + 1) * 512 bytes (setup_sects == 0 means 4); the setup
 * header sits at 0x1f1 and ends at 0x202 + the byte at 0x201 (the target
 * of the 2-byte jump at 0x200). Everything after the setup code is the
 * protected-mode kernel (the decompressor plus the compressed vmlinux).
 *
 * Where the kernel goes: always at 1 MiB (LAYOUT_KERNEL_START), the
 * classic bzImage address that every bzImage accepts whether or not it is
 * relocatable, and which keeps the initrd free to take the top of RAM. We do
 * not load at pref_address: the decompressor of a relocatable kernel moves
 * itself to its run address anyway (arch/x86/boot/compressed/head_64.S,
 * startup_64), so loading there would save one memmove at the cost of a
 * placement policy. What we must respect is where it *runs*: it needs
 * init_size bytes from its runtime start (setup header field init_size),
 * and that is what we check against guest RAM and keep the initrd out of.
 *
 * The vCPU enters at load address + 0x200 (startup_64, "64bit entry is
 * 0x200 and it is ABI so immutable") in long mode with rsi = zero page.
 */
#include <errno.h>
#include <stddef.h>
#include <string.h>

#include "arch/x86/boot.h"
#include "arch/x86/loader_priv.h"
#include "base/layout.h"

#define BZ_HDR_OFFSET	       0x1f1 /* struct setup_header inside the file and boot_params */
#define BZ_JUMP_OFFSET	       0x201 /* second byte of the jump: header end - 0x202 */
#define BZ_VERSION_OFFSET      0x206
#define BZ_SECTOR	       512
#define BZ_DEFAULT_SETUP_SECTS 4
#define BZ_ENTRY_64	       0x200  /* 64-bit entry: startup_64 in compressed/head_64.S */
#define BZ_MIN_VERSION	       0x020c /* 2.12: xloadflags (XLF_KERNEL_64) */
#define BZ_HEAP_END	       0xe000 /* boot.rst "Sample Boot Configuration" */
#define BZ_LOADER_UNDEFINED    0xff
/* boot.rst, initrd_addr_max: "For boot protocols 2.02 or earlier ... 0x37FFFFFF" */
#define BZ_DEFAULT_INITRD_MAX  0x37ffffffU

_Static_assert(offsetof(struct boot_params, hdr) == BZ_HDR_OFFSET,
	       "setup header must sit at 0x1f1 in the zero page");

/* The setup header must reach at least up to init_size (0x260/4). */
#define BZ_MIN_HDR_END (BZ_HDR_OFFSET + offsetof(struct setup_header, init_size) + 4)

/*
 * Runtime start of the kernel (boot.rst, init_size): a relocatable kernel
 * runs at align_up(load_address, kernel_alignment), but Linux 6.1's
 * decompressor never runs below LOAD_PHYSICAL_ADDR, which is what it
 * publishes as pref_address (boot/header.S); a non-relocatable kernel runs
 * at pref_address. Returns 0 and *start, or -EINVAL for a bad alignment.
 */
static int bz_runtime_start(const struct setup_header *hdr, uint64_t load, uint64_t *start)
{
	uint64_t align = hdr->kernel_alignment, s;

	if (!hdr->relocatable_kernel) {
		*start = hdr->pref_address ? hdr->pref_address : load;
		return 0;
	}
	if (align == 0 || (align & (align - 1)))
		return -EINVAL;
	if (__builtin_add_overflow(load, align - 1, &s))
		return -EINVAL;
	s &= ~(align - 1);
	if (s < hdr->pref_address)
		s = hdr->pref_address;
	*start = s;
	return 0;
}

/*
 * The setup header's frame in the file: the "HdrS" signature, where the
 * header ends (*hdr_end) and a protocol with the 64-bit entry point.
 */
static int bz_check_frame(const uint8_t *buf, size_t len, const struct x86_boot_request *req,
			  struct x86_boot_result *res, size_t *hdr_end)
{
	uint16_t version;

	if (len < BZ_VERSION_OFFSET + sizeof(version))
		return boot_fail(req, res, -ENOEXEC,
				 "too small (%zu bytes) for a bzImage setup header", len);
	if (memcmp(buf + 0x202, "HdrS", 4) != 0)
		return boot_fail(req, res, -ENOEXEC, "not a bzImage (no \"HdrS\" at 0x202)");
	*hdr_end = 0x202 + (size_t)buf[BZ_JUMP_OFFSET];
	if (*hdr_end > len)
		return boot_fail(
			req, res, -ENOEXEC,
			"setup header ends at %#zx, beyond the end of the file (%zu bytes)",
			*hdr_end, len);
	memcpy(&version, buf + BZ_VERSION_OFFSET, sizeof(version));
	res->boot_protocol = version;
	if (version < BZ_MIN_VERSION)
		return boot_fail(req, res, -ENOEXEC,
				 "boot protocol %u.%02u is older than 2.12 (no 64-bit entry point)",
				 version >> 8, version & 0xff);
	if (*hdr_end < BZ_MIN_HDR_END)
		return boot_fail(req, res, -ENOEXEC,
				 "setup header ends at %#zx, too short for protocol %u.%02u",
				 *hdr_end, version >> 8, version & 0xff);
	return 0;
}

/*
 * "The memory for struct boot_params ... initialized to all zero. Then the
 * setup header at offset 0x01f1 of kernel image on should be loaded into
 * struct boot_params" (boot.rst, 64-bit Boot Protocol). A header longer than
 * the one we know (a future protocol) is cut to ours: we cannot fill fields
 * we do not know, and zero is their "not used" value. Then the load flags:
 * a bzImage loaded high, with a 64-bit entry point.
 */
static int bz_read_setup(const uint8_t *buf, size_t hdr_end, struct boot_params *bp,
			 const struct x86_boot_request *req, struct x86_boot_result *res)
{
	struct setup_header *hdr = &bp->hdr;
	size_t copy_len = hdr_end - BZ_HDR_OFFSET;

	memset(bp, 0, sizeof(*bp));
	if (copy_len > sizeof(bp->hdr))
		copy_len = sizeof(bp->hdr);
	memcpy(hdr, buf + BZ_HDR_OFFSET, copy_len);

	if (!(hdr->loadflags & LOADED_HIGH))
		return boot_fail(
			req, res, -ENOEXEC,
			"zImage kernels (loadflags without LOADED_HIGH) are not supported");
	if (!(hdr->xloadflags & XLF_KERNEL_64))
		return boot_fail(
			req, res, -ENOEXEC,
			"kernel has no 64-bit entry point (xloadflags %#x lacks XLF_KERNEL_64)",
			hdr->xloadflags);
	return 0;
}

/* Where the protected-mode kernel starts in the file (*setup_size, after the
 * setup code), checked against the file's length. */
static int bz_find_kernel(const struct setup_header *hdr, size_t len,
			  const struct x86_boot_request *req, struct x86_boot_result *res,
			  uint64_t *setup_size)
{
	unsigned int setup_sects = hdr->setup_sects ? hdr->setup_sects : BZ_DEFAULT_SETUP_SECTS;
	uint64_t pm_len;

	*setup_size = (uint64_t)(setup_sects + 1) * BZ_SECTOR;
	if (*setup_size >= len)
		return boot_fail(req, res, -ENOEXEC,
				 "setup_sects (%u) points beyond the end of the file (%zu bytes)",
				 setup_sects, len);
	pm_len = len - *setup_size;
	/* syssize (0x1f4, 2.04+): the protected-mode code in 16-byte units. The
	 * file may carry more (a signature appended to a signed kernel), never less. */
	if ((uint64_t)hdr->syssize * 16 > pm_len)
		return boot_fail(req, res, -ENOEXEC,
				 "file is truncated: protected-mode kernel needs %llu bytes "
				 "(syssize), file has %llu",
				 (unsigned long long)hdr->syssize * 16, (unsigned long long)pm_len);
	return 0;
}

/*
 * Copy the protected-mode kernel (pm, pm_len bytes) to `load`, once both what
 * is copied and what the kernel needs where it runs (init_size from its
 * runtime start) fit in low guest RAM. Fills the kernel's extent and entry
 * point in res.
 */
static int bz_copy_kernel(const struct guest_mem *gm, const uint8_t *pm, uint64_t pm_len,
			  const struct setup_header *hdr, uint64_t load,
			  const struct x86_boot_request *req, struct x86_boot_result *res)
{
	uint64_t run_start, run_end, low_end;
	void *dst;

	if (bz_runtime_start(hdr, load, &run_start) < 0)
		return boot_fail(req, res, -ENOEXEC, "kernel_alignment %#x is not a power of two",
				 hdr->kernel_alignment);
	low_end = gm_low_ram_end(gm);
	if (__builtin_add_overflow(run_start, (uint64_t)hdr->init_size, &run_end) ||
	    !boot_guest_range(gm, run_start, hdr->init_size) || run_end > low_end)
		return boot_fail(req, res, -ENOMEM,
				 "kernel too big for RAM: it needs %#x bytes (init_size) from "
				 "%#llx, low guest RAM ends at %#llx",
				 hdr->init_size, (unsigned long long)run_start,
				 (unsigned long long)low_end);
	dst = boot_guest_range(gm, load, pm_len);
	if (!dst || load + pm_len > low_end)
		return boot_fail(
			req, res, -ENOMEM,
			"kernel too big for RAM: %llu bytes at %#llx, low guest RAM ends at %#llx",
			(unsigned long long)pm_len, (unsigned long long)load,
			(unsigned long long)low_end);
	memcpy(dst, pm, pm_len);

	res->kernel_start = load;
	res->kernel_end = load + pm_len > run_end ? load + pm_len : run_end;
	res->entry = load + BZ_ENTRY_64;
	return 0;
}

/* The fields a boot loader writes (boot.rst, "Details of Header Fields"). */
static void bz_set_loader_fields(struct setup_header *hdr, uint64_t load)
{
	hdr->type_of_loader = BZ_LOADER_UNDEFINED; /* no assigned id: 0xff */
	/* CAN_USE_HEAP with heap_end_ptr: obligatory, though the real-mode code
	 * that uses the heap does not run on the 64-bit entry. LOADED_HIGH stays. */
	hdr->heap_end_ptr = BZ_HEAP_END - 0x200;
	hdr->loadflags |= CAN_USE_HEAP;
	/* code32_start: "a boot loader ... [that] loads a relocatable kernel at
	 * a nonstandard address" must set it; ours is the standard one. */
	hdr->code32_start = (uint32_t)load;
}

int x86_load_bzimage(const struct guest_mem *gm, const uint8_t *buf, size_t len,
		     const struct x86_boot_request *req, struct x86_boot_result *res)
{
	const uint64_t load = LAYOUT_KERNEL_START;
	struct boot_params bp;
	struct boot_limits lim;
	uint64_t setup_size = 0;
	size_t hdr_end = 0;
	int ret;

	memset(res, 0, sizeof(*res));
	res->kind = X86_KERNEL_BZIMAGE;
	ret = bz_check_frame(buf, len, req, res, &hdr_end);
	if (ret)
		return ret;
	ret = bz_read_setup(buf, hdr_end, &bp, req, res);
	if (ret)
		return ret;
	ret = bz_find_kernel(&bp.hdr, len, req, res, &setup_size);
	if (ret)
		return ret;
	ret = bz_copy_kernel(gm, buf + setup_size, len - setup_size, &bp.hdr, load, req, res);
	if (ret)
		return ret;
	bz_set_loader_fields(&bp.hdr, load);

	lim.cmdline_max = bp.hdr.cmdline_size;
	lim.initrd_max = bp.hdr.initrd_addr_max ? bp.hdr.initrd_addr_max : BZ_DEFAULT_INITRD_MAX;
	ret = boot_finish(gm, req, res, &bp, &lim);
	if (ret < 0)
		return ret;
	return 0;
}
