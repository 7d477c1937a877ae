/* SPDX-License-Identifier: MIT */
/*
 * VDI (VirtualBox Virtual Disk Image, version 1.1, as QEMU's block/vdi.c
 * reads and writes it): a 512-byte header, a block map of 32-bit
 * little-endian entries (one per 1 MiB block of the virtual disk: the
 * block's index in the data area, or VDI_UNALLOCATED / VDI_DISCARDED, both
 * of which read as zeros), then the data area. Static images have every
 * block allocated at creation; dynamic ones append blocks as they are
 * written. VDI names no other files (QEMU refuses link/parent UUIDs).
 *
 * The parsers here are pure functions of bytes (tests/fuzz/fuzz_vdi.c).
 */
#ifndef VMM_DEVICES_DISK_VDI_H
#define VMM_DEVICES_DISK_VDI_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define VDI_SIGNATURE	 0xbeda107fU
#define VDI_VERSION_1_1	 0x00010001U
#define VDI_HEADER_LEN	 512U	/* the header with its padding */
#define VDI_HEADER_SIZE	 0x180U /* header_size field of version 1.1 */
#define VDI_TYPE_DYNAMIC 1U
#define VDI_TYPE_STATIC	 2U
#define VDI_BLOCK_SIZE	 (1U << 20) /* the only size QEMU (and we) accept */
#define VDI_UNALLOCATED	 0xffffffffU
#define VDI_DISCARDED	 0xfffffffeU
#define VDI_BLOCKS_MAX	 (0xfffffffeU / 4) /* QEMU's VDI_BLOCKS_IN_IMAGE_MAX */
#define VDI_TEXT	 "<<< QEMU VM Virtual Disk Image >>>\n"

/* Header field offsets (QEMU's VdiHeader). */
#define VDI_OFF_SIGNATURE	 0x40
#define VDI_OFF_VERSION		 0x44
#define VDI_OFF_HEADER_SIZE	 0x48
#define VDI_OFF_IMAGE_TYPE	 0x4c
#define VDI_OFF_OFFSET_BMAP	 0x154
#define VDI_OFF_OFFSET_DATA	 0x158
#define VDI_OFF_SECTOR_SIZE	 0x168
#define VDI_OFF_DISK_SIZE	 0x170
#define VDI_OFF_BLOCK_SIZE	 0x178
#define VDI_OFF_BLOCKS		 0x180
#define VDI_OFF_BLOCKS_ALLOCATED 0x184
#define VDI_OFF_UUID_IMAGE	 0x188
#define VDI_OFF_UUID_SNAP	 0x198
#define VDI_OFF_UUID_LINK	 0x1a8
#define VDI_OFF_UUID_PARENT	 0x1b8

struct vdi_header {
	uint32_t version;
	uint32_t header_size;
	uint32_t image_type; /* VDI_TYPE_* */
	uint32_t offset_bmap;
	uint32_t offset_data;
	uint64_t disk_size; /* rounded up to whole sectors, as QEMU does */
	uint32_t block_size;
	uint32_t blocks_in_image;
	uint32_t blocks_allocated;
};

/*
 * Parse and validate the header (the first `len` bytes of an image of
 * `file_size` bytes) with QEMU's rules: signature, version 1.1, 512-byte
 * sectors, 1 MiB blocks, no link or parent UUID, a block map that fits
 * before the data area and inside the file. 0, or -EINVAL / -ENOTSUP with
 * one line in err.
 */
int vdi_header_parse(const uint8_t *buf, size_t len, uint64_t file_size, struct vdi_header *h,
		     char *err, size_t errlen) __attribute__((warn_unused_result));

/*
 * Check a block map (`n` = blocks_in_image entries, little-endian as on
 * disk): every allocated entry names a block below blocks_in_image, no two
 * the same, each inside the file. *allocated: how many are allocated;
 * *next: the data-area index a new block gets (past every used one).
 * 0, or -EINVAL with one line naming the first bad entry.
 */
int vdi_bmap_check(const uint32_t *bmap_le, const struct vdi_header *h, uint64_t file_size,
		   uint32_t *allocated, uint32_t *next, char *err, size_t errlen)
	__attribute__((warn_unused_result));

/* 100 for a VDI header, else 0 (format.h probe). */
int vdi_probe(const uint8_t *buf, size_t len);

#endif /* VMM_DEVICES_DISK_VDI_H */
