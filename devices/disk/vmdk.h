/* SPDX-License-Identifier: MIT */
/*
 * VMDK (VMware's virtual disk), the parts a tool or test may need: the
 * sparse extent header and the text descriptor, both parsed by pure
 * functions of bytes (fuzzed by tests/fuzz/fuzz_vmdk.c).
 *
 * A VMDK is a descriptor (text) naming one or more extents:
 *   monolithicSparse      one sparse file; the descriptor is embedded in it
 *   monolithicFlat        a descriptor file + one flat (raw) extent file
 *   twoGbMaxExtentSparse  a descriptor file + sparse extents of <= 2 GiB
 *   twoGbMaxExtentFlat    a descriptor file + flat extents of <= 2 GiB
 *   streamOptimized       one sparse file of deflate-compressed grains with
 *                         markers, written once front to back (read-only here)
 * A sparse extent maps grains (default 64 KiB) through a grain directory of
 * grain tables (512 entries each), kept twice (the redundant copy, "RGD").
 * Sizes and offsets in the format are in 512-byte sectors.
 */
#ifndef VMM_DEVICES_DISK_VMDK_H
#define VMM_DEVICES_DISK_VMDK_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define VMDK4_MAGIC 0x564d444bU /* "KDMV" read as a little-endian u32 */
#define VMDK3_MAGIC 0x44574f43U /* "COWD": ESX 2 sparse, refused */

#define VMDK_FLAG_NL_DETECT   (1U << 0)
#define VMDK_FLAG_RGD	      (1U << 1)	 /* a redundant grain directory exists */
#define VMDK_FLAG_ZERO_GRAIN  (1U << 2)	 /* grain table entry 1 = zeroed grain */
#define VMDK_FLAG_COMPRESS    (1U << 16) /* grains are compressed */
#define VMDK_FLAG_MARKER      (1U << 17) /* stream markers (streamOptimized) */
#define VMDK_COMPRESS_DEFLATE 1
#define VMDK_GD_AT_END	      0xffffffffffffffffULL

#define VMDK_MAX_GRAIN_SECTORS 4096	    /* 2 MiB grains: more is refused */
#define VMDK_MAX_GTES	       4096	    /* entries per grain table */
#define VMDK_MAX_CAPACITY      (1ULL << 37) /* sectors: 64 TiB */
#define VMDK_MAX_DESC	       (1U << 20)   /* a descriptor longer than 1 MiB is refused */
#define VMDK_MAX_EXTENTS       1024

/* The sparse extent header (512 bytes on disk, little endian), host order. */
struct vmdk_header {
	uint32_t version; /* 1..3 */
	uint32_t flags;
	uint64_t capacity;    /* sectors */
	uint64_t grain_size;  /* sectors, a power of two */
	uint64_t desc_offset; /* sectors; 0: no embedded descriptor */
	uint64_t desc_size;   /* sectors */
	uint32_t num_gtes_per_gt;
	uint64_t rgd_offset; /* sectors */
	uint64_t gd_offset;  /* sectors, or VMDK_GD_AT_END (the footer has it) */
	uint64_t overhead;   /* sectors of metadata before the first grain */
	bool unclean_shutdown;
	uint16_t compress_algorithm;
};

/* 0 if buf[0..len) is a usable sparse extent header of a file of
 * `file_size` bytes, else -EINVAL (-ENOTSUP for VMDK3 or an unknown
 * compression) with the reason in err (no file name). With gd_offset ==
 * VMDK_GD_AT_END the table checks are left to the footer's header. */
int vmdk_header_parse(const uint8_t *buf, size_t len, uint64_t file_size, struct vmdk_header *h,
		      char *err, size_t errlen) __attribute__((warn_unused_result));
/* Encode (for create and tests); buf has 512 bytes. */
void vmdk_header_encode(const struct vmdk_header *h, uint8_t *buf);
/* How many grain directory entries a header's capacity needs. */
uint64_t vmdk_gd_entries(const struct vmdk_header *h);

enum vmdk_extent_type {
	VMDK_EXTENT_SPARSE,
	VMDK_EXTENT_FLAT, /* FLAT and VMFS */
	VMDK_EXTENT_ZERO,
};

struct vmdk_extent_desc {
	enum vmdk_extent_type type;
	bool readonly; /* RDONLY */
	uint64_t sectors;
	uint64_t offset; /* FLAT: sectors into the file */
	char file[256];	 /* as written (relative to the descriptor's folder) */
};

struct vmdk_desc {
	unsigned int version;
	uint32_t cid, parent_cid;
	char create_type[40];
	char adapter_type[16];
	bool has_parent; /* parentFileNameHint: a delta disk (refused by the driver) */
	unsigned int nextents;
	struct vmdk_extent_desc *extents; /* malloc'ed; vmdk_desc_free */
};

/* Parse descriptor text (len bytes, need not be NUL-terminated; stops at a
 * NUL as an embedded descriptor ends with one). 0, or -EINVAL/-ENOMEM with
 * the reason (and line number) in err. */
int vmdk_desc_parse(const char *text, size_t len, struct vmdk_desc *d, char *err, size_t errlen)
	__attribute__((warn_unused_result));
void vmdk_desc_free(struct vmdk_desc *d);

/* format.h probe: 100 for a sparse header magic or a descriptor whose first
 * line that is not a comment is "version=1|2|3" (QEMU's rule), else 0. */
int vmdk_probe(const uint8_t *buf, size_t len);

/*
 * Writing a streamOptimized image (vmm-img convert; vmdk_stream.c): open
 * the empty image `create` made, write its grains once, in increasing
 * order (whole grains; the disk's last may be short; all-zero grains stay
 * unallocated), then close, which writes the grain tables and the footer
 * (commit) or leaves the image as it is (the caller removes it). Writes:
 * 0 or -errno (-EINVAL for an offset out of order).
 */
struct vmdk_stream;
int vmdk_stream_open(const char *path, struct vmdk_stream **out, char *err, size_t errlen)
	__attribute__((warn_unused_result));
uint64_t vmdk_stream_grain(const struct vmdk_stream *s);
int vmdk_stream_write(struct vmdk_stream *s, uint64_t off, const void *buf, size_t len)
	__attribute__((warn_unused_result));
int vmdk_stream_close(struct vmdk_stream *s, bool commit, char *err, size_t errlen);

#endif /* VMM_DEVICES_DISK_VMDK_H */
