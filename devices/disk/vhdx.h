/* SPDX-License-Identifier: MIT */
/*
 * VHDX (Hyper-V virtual hard disk v2), per Microsoft's "VHDX Format
 * Specification v1.00" and as QEMU's block/vhdx*.c reads and writes it.
 * All multi-byte fields are little-endian; GUIDs are stored as Microsoft
 * lays them out (data1..3 little-endian), compared here as 16 raw bytes.
 *
 *   0        file identifier "vhdxfile" + creator (UTF-16)
 *   64 KiB   header 1 \ 4 KiB each under a CRC-32C; the valid one with the
 *   128 KiB  header 2 / higher sequence number is current
 *   192 KiB  region table 1, 256 KiB region table 2 (64 KiB, CRC-32C):
 *            where the BAT and the metadata region are
 *   log      at header.log_offset (1 MiB aligned): a circular buffer of
 *            4 KiB sectors; entries not yet applied must be replayed
 *   metadata file parameters (block size, fixed, has parent), virtual
 *            size, logical/physical sector size, page 83 id, parent locator
 *   BAT      one u64 per payload block (state in bits 0-2, file offset in
 *            MiB in bits 20-63), with a sector-bitmap entry after every
 *            chunk_ratio payload entries
 *
 * The parsers are pure functions of bytes (fuzzed by tests/fuzz/fuzz_vhdx.c).
 */
#ifndef VMM_DEVICES_DISK_VHDX_H
#define VMM_DEVICES_DISK_VHDX_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "devices/disk/format.h"

#define VHDX_HEADER1_OFF   (64U << 10)
#define VHDX_HEADER2_OFF   (128U << 10)
#define VHDX_REGION1_OFF   (192U << 10)
#define VHDX_REGION2_OFF   (256U << 10)
#define VHDX_HEADER_LEN	   4096U
#define VHDX_REGION_LEN	   (64U << 10)
#define VHDX_LOG_SECTOR	   4096U
#define VHDX_MiB	   (1ULL << 20)
#define VHDX_MAX_SIZE	   (64ULL << 40) /* the spec's 64 TiB */
#define VHDX_MAX_LOG	   (64ULL << 20) /* ours: log bytes we read at open */
#define VHDX_META_MAX	   (1ULL << 20)	 /* metadata items are <= 1 MiB */
#define VHDX_SECTORS_CHUNK (1ULL << 23)	 /* sectors one bitmap block covers */

/* BAT payload block states */
#define VHDX_BLK_NOT_PRESENT 0
#define VHDX_BLK_UNDEFINED   1
#define VHDX_BLK_ZERO	     2
#define VHDX_BLK_UNMAPPED    3
#define VHDX_BLK_UNMAPPED_Q  5 /* QEMU's value for "unmapped" */
#define VHDX_BLK_FULL	     6
#define VHDX_BLK_PARTIAL     7
#define VHDX_SB_PRESENT	     6

uint32_t vhdx_crc32c(uint32_t crc, const void *buf, size_t len);
/* CRC-32C of buf with the 4 bytes at crc_off taken as zero. */
uint32_t vhdx_checksum(const uint8_t *buf, size_t len, size_t crc_off);

struct vhdx_header {
	uint64_t seq;
	uint8_t file_write_guid[16], data_write_guid[16], log_guid[16];
	uint16_t log_version, version;
	uint32_t log_length;
	uint64_t log_offset;
};

/* A 4 KiB header: signature, CRC, version 1. 0 or -EINVAL. */
int vhdx_header_parse(const uint8_t *buf, struct vhdx_header *h)
	__attribute__((warn_unused_result));
/* Serialize h into a 4 KiB buffer (zeroed), with its CRC. */
void vhdx_header_write(uint8_t *buf, const struct vhdx_header *h);

struct vhdx_regions {
	uint64_t bat_off, meta_off;
	uint32_t bat_len, meta_len;
};

/* A 64 KiB region table of a file of `file_size` bytes: signature, CRC,
 * both required regions present, 1 MiB aligned, inside the file, not
 * overlapping each other or the first MiB; unknown required regions
 * refused. */
int vhdx_regions_parse(const uint8_t *buf, uint64_t file_size, struct vhdx_regions *r, char *err,
		       size_t errlen) __attribute__((warn_unused_result));

struct vhdx_meta {
	uint32_t block_size;
	bool fixed;	 /* LeaveBlocksAllocated */
	bool has_parent; /* differencing */
	uint64_t size;
	uint32_t logical_sector, physical_sector;
	uint8_t page83[16];
	/* derived */
	uint64_t chunk_ratio, data_blocks, bat_entries;
};

/* The metadata region (its first `len` bytes; len <= region length): the
 * table and the items it points to, each inside the region. */
int vhdx_meta_parse(const uint8_t *buf, size_t len, struct vhdx_meta *m, char *err, size_t errlen)
	__attribute__((warn_unused_result));

/* Where the active log sequence is (QEMU's vhdx_log_search: the run of
 * consecutive valid entries with the highest sequence number). */
struct vhdx_log_seq {
	bool valid;
	uint64_t start; /* byte offset in the log of its first entry */
	uint32_t count;
	uint64_t last_file_offset; /* of its last entry */
	uint64_t flushed_file_offset;
};

/* log: the whole log region (len a multiple of 4 KiB). */
void vhdx_log_find(const uint8_t *log, size_t len, const uint8_t guid[16],
		   struct vhdx_log_seq *seq);

/* Replay `seq`: apply(opaque, file_offset, data, length) for each
 * descriptor in order -- data is one 4 KiB sector, or NULL for `length`
 * bytes of zeros. Stops at the first non-zero return. */
int vhdx_log_replay(const uint8_t *log, size_t len, const struct vhdx_log_seq *seq,
		    int (*apply)(void *opaque, uint64_t off, const uint8_t *data, uint64_t n),
		    void *opaque) __attribute__((warn_unused_result));

/* One log entry of VHDX_LOG_ENTRY_LEN bytes into out: the header, one data
 * descriptor putting `sector` (4 KiB) at file offset `target`, its data
 * sector; CRC-32C over it all. tail: log offset of the oldest entry still
 * needed; flushed/last: the file's size (spec 2.3.1.1). */
#define VHDX_LOG_ENTRY_LEN (2 * VHDX_LOG_SECTOR)
void vhdx_log_entry_build(uint8_t *out, const uint8_t guid[16], uint64_t seq, uint32_t tail,
			  uint64_t file_size, uint64_t target, const uint8_t *sector);

/* vhdx_create.c */
int vhdx_create(const char *path, const struct disk_create_opts *o, char *err, size_t errlen)
	__attribute__((warn_unused_result));
int vhdx_check(const char *path, const struct disk_check_opts *o, struct disk_check_result *r,
	       char *err, size_t errlen) __attribute__((warn_unused_result));

/* The well-known GUIDs, as stored. */
extern const uint8_t vhdx_guid_bat[16], vhdx_guid_meta[16], vhdx_guid_file_params[16],
	vhdx_guid_vsize[16], vhdx_guid_page83[16], vhdx_guid_logical[16], vhdx_guid_physical[16],
	vhdx_guid_parent[16];

extern const struct disk_format disk_format_vhdx;

#endif /* VMM_DEVICES_DISK_VHDX_H */
