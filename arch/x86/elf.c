/* SPDX-License-Identifier: MIT */
/*
 * ELF kernel loader: a Linux vmlinux, or any ELF64 x86-64 executable such as
 * our test guests, entered directly at its 64-bit entry point with rsi =
 * zero page. This skips the bzImage decompressor, which matters where guest
 * ring-0 code is interpreted (see KVM-ON-THESE-HOSTS.md).
 *
 * PT_LOAD segments are copied to their physical address p_paddr (for a
 * vmlinux p_vaddr is the 0xffffffff8xxxxxxx kernel mapping; the kernel's
 * head_64.S builds that mapping itself from where it was loaded). The entry
 * is e_entry, which for a vmlinux is already physical (the linker script
 * says ENTRY(phys_startup_64)); an entry that only matches a segment's
 * virtual range is translated with that segment's p_vaddr -> p_paddr.
 *
 * Every field of the file is untrusted: header and program header tables
 * are bounds-checked against the file, every sum is overflow-checked, and a
 * segment must lie in guest RAM between 1 MiB and 4 GiB, clear of the boot
 * structures (zero page, command line, page tables, ACPI) below 1 MiB.
 */
#include <elf.h>
#include <errno.h>
#include <stdbool.h>
#include <string.h>

#include "arch/x86/boot.h"
#include "arch/x86/loader_priv.h"
#include "base/layout.h"

/*
 * Zero-page values for a kernel that has no setup header of its own. What
 * a 6.1 vmlinux reads on the 64-bit path: head64.c copy_bootdata() takes
 * cmd_line_ptr (+ ext_cmd_line_ptr) and copies COMMAND_LINE_SIZE bytes from
 * it; x86_64_start_reservations() expects hdr.version != 0; setup.c reads
 * type_of_loader (no initrd is reserved while it is 0!), ramdisk_image/size,
 * vid_mode, root_dev/root_flags, and e820_table/e820_entries
 * (e820.c e820__memory_setup_default). The rest (HdrS, boot_flag,
 * kernel_alignment) is for tools that inspect boot_params, as Firecracker
 * also fills them.
 */
#define ELF_ZP_VERSION		0x020f /* the protocol of a Linux 6.1 bzImage */
#define ELF_ZP_BOOT_FLAG	0xaa55
#define ELF_ZP_HEADER		0x53726448U /* "HdrS" */
#define ELF_ZP_KERNEL_ALIGNMENT 0x1000000U
#define ELF_ZP_VID_MODE		0xffff	    /* "normal" (boot.rst, vga=) */
#define ELF_ZP_INITRD_MAX	0x7fffffffU /* what a 6.1 bzImage declares */
/* x86 COMMAND_LINE_SIZE is 2048 with the NUL (arch/x86/include/asm/setup.h):
 * a bzImage of the same kernel publishes cmdline_size = 2047. Longer lines
 * are cut by copy_bootdata(), so we refuse them instead. */
#define ELF_CMDLINE_MAX		2047
#define ELF_MAX_PHNUM		128 /* vmlinux has ~5; bounds our loops */

/* A PT_LOAD segment contains the address if a <= addr < a + memsz. */
static int seg_contains(uint64_t base, uint64_t memsz, uint64_t addr)
{
	return addr >= base && addr - base < memsz;
}

static int elf_check_header(const Elf64_Ehdr *eh, size_t len, const struct x86_boot_request *req,
			    struct x86_boot_result *res)
{
	uint64_t ph_size, ph_end;

	if (memcmp(eh->e_ident, ELFMAG, SELFMAG) != 0)
		return boot_fail(req, res, -ENOEXEC, "not an ELF file");
	if (eh->e_ident[EI_CLASS] != ELFCLASS64)
		return boot_fail(req, res, -ENOEXEC, "ELF kernel is not 64-bit (class %u)",
				 eh->e_ident[EI_CLASS]);
	if (eh->e_ident[EI_DATA] != ELFDATA2LSB)
		return boot_fail(req, res, -ENOEXEC, "ELF kernel is not little-endian");
	if (eh->e_machine != EM_X86_64)
		return boot_fail(req, res, -ENOEXEC, "ELF kernel is not x86-64 (e_machine %u)",
				 eh->e_machine);
	if (eh->e_type != ET_EXEC)
		return boot_fail(req, res, -ENOEXEC, "ELF kernel is not an executable (e_type %u)",
				 eh->e_type);
	if (eh->e_phentsize != sizeof(Elf64_Phdr))
		return boot_fail(req, res, -ENOEXEC, "ELF program header size %u is not %zu",
				 eh->e_phentsize, sizeof(Elf64_Phdr));
	if (eh->e_phnum == 0 || eh->e_phnum > ELF_MAX_PHNUM)
		return boot_fail(req, res, -ENOEXEC, "ELF kernel has %u program headers (1..%d)",
				 eh->e_phnum, ELF_MAX_PHNUM);
	ph_size = (uint64_t)eh->e_phnum * sizeof(Elf64_Phdr);
	if (__builtin_add_overflow(eh->e_phoff, ph_size, &ph_end) || ph_end > len)
		return boot_fail(
			req, res, -ENOEXEC,
			"ELF program headers (%#llx + %llu bytes) lie beyond the end of the file",
			(unsigned long long)eh->e_phoff, (unsigned long long)ph_size);
	return 0;
}

static int elf_check_segment(const struct guest_mem *gm, const Elf64_Phdr *ph, unsigned int i,
			     size_t len, const struct x86_boot_request *req,
			     struct x86_boot_result *res)
{
	uint64_t file_end, mem_end;

	if (ph->p_filesz > ph->p_memsz)
		return boot_fail(req, res, -ENOEXEC,
				 "ELF segment %u: p_filesz %#llx is larger than p_memsz %#llx", i,
				 (unsigned long long)ph->p_filesz, (unsigned long long)ph->p_memsz);
	if (__builtin_add_overflow(ph->p_offset, ph->p_filesz, &file_end) || file_end > len)
		return boot_fail(
			req, res, -ENOEXEC,
			"ELF segment %u: file range %#llx + %#llx lies beyond the end of the file",
			i, (unsigned long long)ph->p_offset, (unsigned long long)ph->p_filesz);
	if (__builtin_add_overflow(ph->p_paddr, ph->p_memsz, &mem_end))
		return boot_fail(req, res, -ENOEXEC,
				 "ELF segment %u: address %#llx + %#llx overflows", i,
				 (unsigned long long)ph->p_paddr, (unsigned long long)ph->p_memsz);
	if (ph->p_paddr < LAYOUT_KERNEL_START)
		return boot_fail(
			req, res, -ENOEXEC,
			"ELF segment %u at %#llx is below 1 MiB, where the boot structures are", i,
			(unsigned long long)ph->p_paddr);
	if (!boot_guest_range(gm, ph->p_paddr, ph->p_memsz) || mem_end > gm_low_ram_end(gm))
		return boot_fail(
			req, res, -ENOMEM,
			"ELF segment %u (%#llx..%#llx) does not fit in guest RAM below %#llx", i,
			(unsigned long long)ph->p_paddr, (unsigned long long)mem_end,
			(unsigned long long)gm_low_ram_end(gm));
	return 0;
}

int x86_load_elf(const struct guest_mem *gm, const uint8_t *buf, size_t len,
		 const struct x86_boot_request *req, struct x86_boot_result *res)
{
	struct boot_params bp;
	struct boot_limits lim;
	Elf64_Ehdr eh;
	Elf64_Phdr ph;
	uint64_t start = UINT64_MAX, end = 0, phys_entry = 0, virt_entry = 0;
	bool phys_found = false, virt_found = false;
	unsigned int i, nload = 0;
	int ret;

	memset(res, 0, sizeof(*res));
	res->kind = X86_KERNEL_ELF;
	if (len < sizeof(eh))
		return boot_fail(req, res, -ENOEXEC, "too small (%zu bytes) for an ELF header",
				 len);
	memcpy(&eh, buf, sizeof(eh)); /* buf need not be aligned */
	ret = elf_check_header(&eh, len, req, res);
	if (ret < 0)
		return ret;

	/* Pass 1: validate every PT_LOAD and find the entry before touching RAM. */
	for (i = 0; i < eh.e_phnum; i++) {
		memcpy(&ph, buf + eh.e_phoff + (uint64_t)i * sizeof(ph), sizeof(ph));
		if (ph.p_type != PT_LOAD || ph.p_memsz == 0)
			continue;
		ret = elf_check_segment(gm, &ph, i, len, req, res);
		if (ret < 0)
			return ret;
		nload++;
		if (ph.p_paddr < start)
			start = ph.p_paddr;
		if (ph.p_paddr + ph.p_memsz > end)
			end = ph.p_paddr + ph.p_memsz;
		/* A physical entry (vmlinux) wins over a virtual one. */
		if (seg_contains(ph.p_paddr, ph.p_memsz, eh.e_entry)) {
			phys_entry = eh.e_entry;
			phys_found = true;
		} else if (!virt_found && seg_contains(ph.p_vaddr, ph.p_memsz, eh.e_entry)) {
			/* inside the segment, so below p_paddr + p_memsz: no overflow */
			virt_entry = eh.e_entry - ph.p_vaddr + ph.p_paddr;
			virt_found = true;
		}
	}
	if (nload == 0)
		return boot_fail(req, res, -ENOEXEC, "ELF kernel has no loadable segment");
	if (!phys_found && !virt_found)
		return boot_fail(req, res, -ENOEXEC,
				 "ELF entry point %#llx is not inside any loadable segment",
				 (unsigned long long)eh.e_entry);

	/* Pass 2: copy the file part, zero the rest (bss): RAM may be reused. */
	for (i = 0; i < eh.e_phnum; i++) {
		uint8_t *dst;

		memcpy(&ph, buf + eh.e_phoff + (uint64_t)i * sizeof(ph), sizeof(ph));
		if (ph.p_type != PT_LOAD || ph.p_memsz == 0)
			continue;
		dst = boot_guest_range(gm, ph.p_paddr, ph.p_memsz); /* checked in pass 1 */
		if (!dst)
			return boot_fail(req, res, -EFAULT, "ELF segment %u vanished", i);
		memcpy(dst, buf + ph.p_offset, ph.p_filesz);
		memset(dst + ph.p_filesz, 0, ph.p_memsz - ph.p_filesz);
	}
	res->entry = phys_found ? phys_entry : virt_entry;
	res->kernel_start = start;
	res->kernel_end = end;

	memset(&bp, 0, sizeof(bp));
	bp.hdr.boot_flag = ELF_ZP_BOOT_FLAG;
	bp.hdr.header = ELF_ZP_HEADER;
	bp.hdr.version = ELF_ZP_VERSION;
	bp.hdr.vid_mode = ELF_ZP_VID_MODE;
	bp.hdr.type_of_loader = 0xff;
	bp.hdr.loadflags = LOADED_HIGH | CAN_USE_HEAP;
	bp.hdr.kernel_alignment = ELF_ZP_KERNEL_ALIGNMENT;
	bp.hdr.initrd_addr_max = ELF_ZP_INITRD_MAX;
	bp.hdr.cmdline_size = ELF_CMDLINE_MAX;
	lim.cmdline_max = ELF_CMDLINE_MAX;
	lim.initrd_max = ELF_ZP_INITRD_MAX;
	return boot_finish(gm, req, res, &bp, &lim);
}
