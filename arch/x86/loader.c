/* SPDX-License-Identifier: MIT */
/*
 * x86_load_kernel(): read the kernel file, tell a bzImage from an ELF
 * kernel by its magic, and hand it to bzimage.c or elf.c. Also the part of
 * the zero page every kernel gets (boot_finish): the command line, the
 * initrd and the e820 map (Documentation/x86/boot.rst and
 * Documentation/x86/zero-page.rst of Linux 6.1).
 *
 * Guest-physical layout used here (base/layout.h):
 *   LAYOUT_ZERO_PAGE   struct boot_params
 *   LAYOUT_CMDLINE     the NUL-terminated command line
 *   1 MiB ..           the kernel (see bzimage.c / elf.c for where exactly)
 *   top of low RAM     the initrd, page-aligned, as high as it may go
 */
#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <elf.h>

#include "arch/x86/boot.h"
#include "arch/x86/loader_priv.h"
#include "base/err.h"
#include "base/file.h"
#include "base/layout.h"

/* "HdrS" at offset 0x202 marks a kernel with a 2.00+ setup header. */
#define BZ_MAGIC_OFFSET 0x202
#define BZ_MAGIC	0x53726448U

static const char *kernel_name(const struct x86_boot_request *req)
{
	return req && req->kernel_path ? req->kernel_path : "kernel";
}

int boot_fail(const struct x86_boot_request *req, struct x86_boot_result *res, int err,
	      const char *fmt, ...)
{
	va_list ap;
	int n;

	/* "<kernel>: <message>", cut to fit: a long path must not hide the reason
	 * entirely, so it is only the tail of the message that can be lost. */
	n = snprintf(res->err, sizeof(res->err), "%.120s: ", kernel_name(req));
	if (n < 0)
		n = 0;
	va_start(ap, fmt);
	err = err_vset(res->err + n, sizeof(res->err) - (size_t)n, err, fmt, ap);
	va_end(ap);
	return err;
}

void *boot_guest_range(const struct guest_mem *gm, uint64_t gpa, uint64_t len)
{
	uint64_t end;

	if (__builtin_add_overflow(gpa, len, &end) || end > BOOT_MAPPED_END)
		return NULL;
	return gm_slice(gm, gpa, len);
}

/*
 * Read exactly `len` bytes at `off`; a short read means the file shrank
 * under us, which we report rather than load half a file.
 */
static int read_full(int fd, void *dst, uint64_t len)
{
	uint8_t *p = dst;
	uint64_t done = 0;

	while (done < len) {
		uint64_t chunk = len - done;
		ssize_t n;

		if (chunk > (1U << 30))
			chunk = 1U << 30;
		n = pread(fd, p + done, chunk, (off_t)done);
		if (n < 0) {
			if (errno == EINTR)
				continue;
			return -errno;
		}
		if (n == 0)
			return -EIO;
		done += (uint64_t)n;
	}
	return 0;
}

/* Open a regular file for reading and return its size in *size. */
static int open_regular(const char *path, uint64_t *size)
{
	struct stat st;
	int fd, ret;

	fd = open(path, O_RDONLY | O_CLOEXEC | O_NONBLOCK); /* base/file.h */
	if (fd < 0)
		return -errno;
	if (fstat(fd, &st) < 0) {
		ret = -errno;
		close(fd);
		return ret;
	}
	if (!S_ISREG(st.st_mode)) {
		close(fd);
		return -EINVAL;
	}
	ret = file_set_blocking(fd);
	if (ret) {
		close(fd);
		return ret;
	}
	*size = (uint64_t)st.st_size;
	return fd;
}

static int load_cmdline(const struct guest_mem *gm, const struct x86_boot_request *req,
			struct x86_boot_result *res, struct boot_params *bp,
			const struct boot_limits *lim)
{
	const char *cmdline = req->cmdline ? req->cmdline : "";
	uint64_t max = lim->cmdline_max;
	size_t len = strlen(cmdline);

	/* Our buffer at LAYOUT_CMDLINE holds LAYOUT_CMDLINE_MAX bytes with the NUL. */
	if (max > LAYOUT_CMDLINE_MAX - 1)
		max = LAYOUT_CMDLINE_MAX - 1;
	/*
	 * The kernel would silently truncate a longer line (boot.rst, "The
	 * Kernel Command Line"), dropping whatever came last: refuse instead.
	 */
	if (len > max)
		return boot_fail(
			req, res, -E2BIG,
			"command line is %zu bytes, longer than the kernel's limit of %llu", len,
			(unsigned long long)max);
	if (gm_write(gm, LAYOUT_CMDLINE, cmdline, len + 1) < 0)
		return boot_fail(req, res, -EFAULT,
				 "guest RAM has no room for the command line at %#llx",
				 LAYOUT_CMDLINE);
	/* cmd_line_ptr (0x228): obligatory for 2.02+; the high half lives in
	 * boot_params.ext_cmd_line_ptr (read by head64.c get_cmd_line_ptr). */
	bp->hdr.cmd_line_ptr = (uint32_t)LAYOUT_CMDLINE;
	bp->ext_cmd_line_ptr = (uint32_t)(LAYOUT_CMDLINE >> 32);
	return 0;
}

/*
 * The initrd goes page-aligned as high as possible: below min(initrd_max + 1,
 * top of low RAM, 4 GiB) and above the end of the kernel (including the
 * memory the kernel claims while it starts, init_size for a bzImage). Linux
 * moves it if it must (setup.c relocate_initrd), but placing it high keeps
 * it out of the way of the decompressor and the early page allocator.
 */
static int load_initrd(const struct guest_mem *gm, const struct x86_boot_request *req,
		       struct x86_boot_result *res, struct boot_params *bp,
		       const struct boot_limits *lim)
{
	uint64_t size, top, bottom, addr;
	void *dst;
	int fd, ret;

	if (!req->initrd_path)
		return 0;
	fd = open_regular(req->initrd_path, &size);
	if (fd < 0)
		return boot_fail(req, res, fd, "cannot read initrd %s: %s", req->initrd_path,
				 fd == -EINVAL ? "not a regular file" : strerror(-fd));
	if (size == 0) {
		ret = boot_fail(req, res, -EINVAL, "initrd %s is empty", req->initrd_path);
		goto out;
	}

	top = gm_low_ram_end(gm);
	if (top > BOOT_MAPPED_END)
		top = BOOT_MAPPED_END;
	if (lim->initrd_max < top)
		top = lim->initrd_max + 1; /* initrd_max is the highest byte, inclusive */
	bottom = (res->kernel_end + BOOT_PAGE_SIZE - 1) & ~(BOOT_PAGE_SIZE - 1);
	if (bottom < res->kernel_end || size > top ||
	    ((top - size) & ~(BOOT_PAGE_SIZE - 1)) < bottom) {
		ret = boot_fail(req, res, -ENOMEM,
				"initrd %s (%llu bytes) does not fit in guest RAM between the "
				"kernel end %#llx and %#llx",
				req->initrd_path, (unsigned long long)size,
				(unsigned long long)res->kernel_end, (unsigned long long)top);
		goto out;
	}
	addr = (top - size) & ~(BOOT_PAGE_SIZE - 1);
	dst = boot_guest_range(gm, addr, size);
	if (!dst) {
		ret = boot_fail(req, res, -ENOMEM, "initrd range %#llx+%#llx is not guest RAM",
				(unsigned long long)addr, (unsigned long long)size);
		goto out;
	}
	ret = read_full(fd, dst, size);
	if (ret < 0) {
		ret = boot_fail(req, res, ret, "cannot read initrd %s: %s", req->initrd_path,
				ret == -EIO ? "file shrank while reading" : strerror(-ret));
		goto out;
	}
	/* ramdisk_image/size (0x218/0x21c), high halves in ext_ramdisk_* (0x0c0/0x0c4) */
	bp->hdr.ramdisk_image = (uint32_t)addr;
	bp->ext_ramdisk_image = (uint32_t)(addr >> 32);
	bp->hdr.ramdisk_size = (uint32_t)size;
	bp->ext_ramdisk_size = (uint32_t)(size >> 32);
	res->initrd_start = addr;
	res->initrd_size = size;
	ret = 0;
out:
	close(fd);
	return ret;
}

/* e820_entries (0x1e8) and e820_table (0x2d0): Linux's primary memory map. */
static int load_e820(const struct x86_boot_request *req, struct x86_boot_result *res,
		     struct boot_params *bp)
{
	unsigned int i;

	if (req->ne820 == 0 || !req->e820)
		return boot_fail(req, res, -EINVAL, "no e820 memory map to give the kernel");
	if (req->ne820 > E820_MAX_ENTRIES_ZEROPAGE)
		return boot_fail(req, res, -E2BIG,
				 "e820 map has %u entries, the zero page holds %d", req->ne820,
				 E820_MAX_ENTRIES_ZEROPAGE);
	for (i = 0; i < req->ne820; i++) {
		bp->e820_table[i].addr = req->e820[i].addr;
		bp->e820_table[i].size = req->e820[i].size;
		bp->e820_table[i].type = req->e820[i].type;
	}
	bp->e820_entries = (uint8_t)req->ne820;
	return 0;
}

int boot_finish(const struct guest_mem *gm, const struct x86_boot_request *req,
		struct x86_boot_result *res, struct boot_params *bp, const struct boot_limits *lim)
{
	int ret;

	ret = load_e820(req, res, bp);
	if (ret < 0)
		return ret;
	ret = load_cmdline(gm, req, res, bp, lim);
	if (ret < 0)
		return ret;
	ret = load_initrd(gm, req, res, bp, lim);
	if (ret < 0)
		return ret;
	if (gm_write(gm, LAYOUT_ZERO_PAGE, bp, sizeof(*bp)) < 0)
		return boot_fail(req, res, -EFAULT,
				 "guest RAM has no room for the zero page at %#llx",
				 LAYOUT_ZERO_PAGE);
	res->zero_page = LAYOUT_ZERO_PAGE;
	return 0;
}

int x86_load_kernel(const struct guest_mem *gm, const struct x86_boot_request *req,
		    struct x86_boot_result *res)
{
	uint8_t *buf = NULL;
	uint64_t size;
	uint32_t magic;
	int fd, ret;

	memset(res, 0, sizeof(*res));
	if (!req || !req->kernel_path)
		return boot_fail(req, res, -EINVAL, "no kernel file given");
	fd = open_regular(req->kernel_path, &size);
	if (fd < 0)
		return boot_fail(req, res, fd, "cannot open: %s",
				 fd == -EINVAL ? "not a regular file" : strerror(-fd));
	if (size == 0) {
		ret = boot_fail(req, res, -EINVAL, "file is empty");
		goto out;
	}
	/* No kernel can be larger than the RAM it is loaded into; this also
	 * bounds the buffer we allocate. */
	if (size > gm->ram_size) {
		ret = boot_fail(req, res, -EFBIG,
				"file (%llu bytes) is larger than guest RAM (%llu bytes)",
				(unsigned long long)size, (unsigned long long)gm->ram_size);
		goto out;
	}
	buf = malloc(size);
	if (!buf) {
		ret = boot_fail(req, res, -ENOMEM, "cannot allocate %llu bytes to read it",
				(unsigned long long)size);
		goto out;
	}
	ret = read_full(fd, buf, size);
	if (ret < 0) {
		ret = boot_fail(req, res, ret, "cannot read: %s",
				ret == -EIO ? "file shrank while reading" : strerror(-ret));
		goto out;
	}

	if (size >= SELFMAG && memcmp(buf, ELFMAG, SELFMAG) == 0) {
		ret = x86_load_elf(gm, buf, size, req, res);
		goto out;
	}
	if (size < BZ_MAGIC_OFFSET + sizeof(magic)) {
		ret = boot_fail(req, res, -ENOEXEC,
				"file is too small (%llu bytes) to be a bzImage or ELF kernel",
				(unsigned long long)size);
		goto out;
	}
	memcpy(&magic, buf + BZ_MAGIC_OFFSET, sizeof(magic));
	if (magic == BZ_MAGIC)
		ret = x86_load_bzimage(gm, buf, size, req, res);
	else
		ret = boot_fail(req, res, -ENOEXEC,
				"not a bzImage or ELF kernel (no \"HdrS\" at 0x202, no ELF magic)");
out:
	free(buf);
	close(fd);
	return ret;
}
