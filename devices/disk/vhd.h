/* SPDX-License-Identifier: MIT */
/*
 * VHD (Microsoft Virtual Hard Disk, qemu-img's "vpc"): fixed, dynamic and
 * differencing images, per the "Virtual Hard Disk Image Format
 * Specification" (2006) and as QEMU's block/vpc.c reads and writes them.
 *
 *   fixed          raw data, then a 512-byte footer at the end of the file
 *   dynamic        footer copy at 0, dynamic header at footer.data_offset,
 *                  a BAT (one big-endian u32 sector number per block,
 *                  0xFFFFFFFF = unallocated), blocks = sector bitmap + data,
 *                  the footer again at the end
 *   differencing   dynamic, plus a parent: unset bitmap bits read from it
 *
 * The parsers are pure functions of bytes (fuzzed by tests/fuzz/fuzz_vhd.c).
 */
#ifndef VMM_DEVICES_DISK_VHD_H
#define VMM_DEVICES_DISK_VHD_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "devices/disk/format.h"

#define VHD_FOOTER_LEN	 512U
#define VHD_DYN_LEN	 1024U
#define VHD_TYPE_FIXED	 2U
#define VHD_TYPE_DYNAMIC 3U
#define VHD_TYPE_DIFF	 4U
#define VHD_BAT_FREE	 0xffffffffU
/* QEMU's limits: 2040 GiB, and the largest CHS geometry. */
#define VHD_MAX_SECTORS	 0xff000000ULL
#define VHD_CHS_MAX_C	 65535U
#define VHD_CHS_MAX_H	 16U
#define VHD_CHS_MAX_S	 255U
#define VHD_MAX_GEOMETRY ((uint64_t)VHD_CHS_MAX_C * VHD_CHS_MAX_H * VHD_CHS_MAX_S)
#define VHD_MAX_BLOCK	 (256U << 20) /* ours: far above any real image's 2 MiB */
/* Seconds from the Unix epoch to 2000-01-01 00:00:00 UTC (VHD timestamps). */
#define VHD_EPOCH	 946684800U

/* Parent locator platform codes (spec: "Parent Locator Entries"). */
#define VHD_LOC_W2KU 0x57326b75U /* absolute Windows path, UTF-16LE */
#define VHD_LOC_W2RU 0x57327275U /* relative Windows path, UTF-16LE */
#define VHD_LOC_MACX 0x4d616358U /* file:// URL, UTF-8 */

struct vhd_footer {
	uint32_t type;
	uint64_t data_offset;
	uint64_t orig_size, current_size;
	uint16_t cyls;
	uint8_t heads, spt;
	char creator_app[5];
	uint8_t uuid[16];
	uint64_t size; /* the virtual size by QEMU's CHS/current_size rule */
};

struct vhd_locator {
	uint32_t code, space, len;
	uint64_t offset;
};

struct vhd_dyn {
	uint64_t table_offset;
	uint32_t max_table_entries;
	uint32_t block_size;
	uint32_t bitmap_size; /* derived: bytes of sector bitmap before each block */
	uint8_t parent_uuid[16];
	uint32_t parent_timestamp;
	uint8_t parent_name[512]; /* UTF-16BE, as stored */
	struct vhd_locator loc[8];
};

/* The ones' complement of the byte sum, with the 4 bytes at `skip` (the
 * checksum field) counted as zero. */
uint32_t vhd_checksum(const uint8_t *buf, size_t len, size_t skip);

/* The virtual size QEMU gives an image: CHS (cyls * heads * spt) for
 * creators that size by geometry ("vpc ", "qemu", unknown), current_size
 * for "win ", "qem2", "d2v ", "CTXS", "tap\0", and for any image whose
 * geometry is the maximum 65535/16/255. */
uint64_t vhd_virtual_size(const struct vhd_footer *f);

/* QEMU's calculate_geometry(): CHS for `sectors` (at most the max). */
void vhd_geometry(uint64_t sectors, uint16_t *cyls, uint8_t *heads, uint8_t *spt);

/* A 512-byte footer: cookie "conectix", checksum, type, size rule. 0 or
 * -EINVAL with the problem in err (without the file name). */
int vhd_footer_parse(const uint8_t *buf, struct vhd_footer *f, char *err, size_t errlen)
	__attribute__((warn_unused_result));

/* A 1024-byte dynamic header of an image of `file_size` bytes and virtual
 * size `vsize`: cookie, checksum, block size, BAT inside the file and big
 * enough for vsize. */
int vhd_dyn_parse(const uint8_t *buf, uint64_t file_size, uint64_t vsize, struct vhd_dyn *h,
		  char *err, size_t errlen) __attribute__((warn_unused_result));

/* UTF-16 (big_endian or little) to UTF-8, stopping at a NUL or at len
 * bytes. -EINVAL for a lone surrogate, a NUL-less overflow of out, or an
 * empty result. */
int vhd_utf16_to_utf8(const uint8_t *in, size_t len, bool big_endian, char *out, size_t outlen)
	__attribute__((warn_unused_result));

/* A parent locator's bytes as a path usable here: W2ru/W2ku with '\\'
 * turned into '/' (".\\" dropped; a drive-letter path is refused), MacX
 * with "file://" dropped. 0, or -EINVAL/-ENOTSUP. */
int vhd_locator_path(uint32_t code, const uint8_t *data, size_t len, char *out, size_t outlen)
	__attribute__((warn_unused_result));

/* vhd_create.c: the format's create and check hooks (format.h). */
int vhd_create(const char *path, const struct disk_create_opts *o, char *err, size_t errlen)
	__attribute__((warn_unused_result));
int vhd_check(const char *path, const struct disk_check_opts *o, struct disk_check_result *r,
	      char *err, size_t errlen) __attribute__((warn_unused_result));

extern const struct disk_format disk_format_vpc;

#endif /* VMM_DEVICES_DISK_VHD_H */
