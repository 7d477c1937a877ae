/* SPDX-License-Identifier: MIT */
/*
 * qcow2 (QEMU copy-on-write v2/v3, docs/interop/qcow2.txt in QEMU): the
 * on-disk format as parsed values, plus the entry points tools need
 * (create, check/repair, info). The disk driver itself is reached through
 * disk_open() (disk.h).
 */
#ifndef VMM_DEVICES_DISK_QCOW2_H
#define VMM_DEVICES_DISK_QCOW2_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define QCOW2_MAGIC		   0x514649fbU /* "QFI\xfb" */
#define QCOW2_MIN_CLUSTER_BITS	   9
#define QCOW2_MAX_CLUSTER_BITS	   21
#define QCOW2_DEFAULT_CLUSTER_BITS 16

/* Header incompatible feature bits */
#define QCOW2_INCOMPAT_DIRTY	    (1ULL << 0)
#define QCOW2_INCOMPAT_CORRUPT	    (1ULL << 1)
#define QCOW2_INCOMPAT_DATA_FILE    (1ULL << 2)
#define QCOW2_INCOMPAT_COMPRESSION  (1ULL << 3)
#define QCOW2_INCOMPAT_EXTL2	    (1ULL << 4)
/* Compatible feature bits */
#define QCOW2_COMPAT_LAZY_REFCOUNTS (1ULL << 0)

/* L1/L2 entry bits */
#define QCOW2_OFLAG_COPIED     (1ULL << 63) /* refcount is exactly 1 */
#define QCOW2_OFLAG_COMPRESSED (1ULL << 62)
#define QCOW2_OFLAG_ZERO       (1ULL << 0) /* L2 (v3): reads as zeros */
#define QCOW2_OFFSET_MASK      0x00fffffffffffe00ULL

/* Header compression_type (byte 104, qcow2.txt): what compressed clusters
 * hold. zlib is raw deflate with a 4 KiB window (windowBits -12). */
#define QCOW2_COMPRESSION_ZLIB 0
#define QCOW2_COMPRESSION_ZSTD 1

/* The header (and the extensions we understand), in host byte order. */
struct qcow2_header {
	uint32_t version; /* 2 or 3 */
	uint64_t backing_file_offset;
	uint32_t backing_file_size;
	uint32_t cluster_bits;
	uint64_t size; /* virtual size in bytes */
	uint32_t crypt_method;
	uint32_t l1_size;
	uint64_t l1_table_offset;
	uint64_t refcount_table_offset;
	uint32_t refcount_table_clusters;
	uint32_t nb_snapshots;
	uint64_t snapshots_offset;
	uint64_t incompatible_features;
	uint64_t compatible_features;
	uint64_t autoclear_features;
	uint32_t refcount_order; /* refcount bits = 1 << refcount_order */
	uint32_t header_length;
	uint8_t compression_type;
	char backing_file[1024]; /* "" if none */
	char backing_format[32]; /* from the 0xe2792aca extension, "" if none */
};

/*
 * Parse and validate a header from the first `len` bytes of an image
 * (`len` >= 4096 or the whole file if shorter) whose file is `file_size`
 * bytes long. Every offset and size is checked against the file and the
 * format's limits. Unsupported features (encryption, compression type,
 * external data file, extended L2, internal snapshots) are refused with
 * -ENOTSUP and a message naming the feature; anything malformed with
 * -EINVAL. Returns 0 on success.
 */
int qcow2_header_parse(const uint8_t *buf, size_t len, uint64_t file_size, struct qcow2_header *h,
		       char *err, size_t errlen) __attribute__((warn_unused_result));

struct qcow2_create_opts {
	uint64_t size;		    /* virtual size; 0 with a backing file = its size */
	unsigned int cluster_bits;  /* 0 = 16 (64 KiB) */
	const char *backing_file;   /* NULL for none; stored as given */
	const char *backing_format; /* NULL: probed when opened */
	uint8_t compression_type;   /* QCOW2_COMPRESSION_*: for compressed writes */
};
/* Create a new version 3 image (refcount_order 4, like qemu-img). The file
 * must not exist. */
int qcow2_create(const char *path, const struct qcow2_create_opts *o, char *err, size_t errlen)
	__attribute__((warn_unused_result));

/*
 * Compression as qcow2 stores it (the pure halves of the driver; fuzzed):
 * decompress `in` into exactly `outlen` bytes (trailing bytes of `in` are
 * ignored: a descriptor counts whole sectors); compress into at most
 * `outcap` bytes, *outlen set. 0, -EIO for data that does not decompress
 * to exactly outlen bytes, -ENOSPC if the output does not fit (the caller
 * then stores the cluster uncompressed), -EINVAL for an unknown type.
 */
int qcow2_decompress(uint8_t type, const uint8_t *in, size_t inlen, uint8_t *out, size_t outlen)
	__attribute__((warn_unused_result));
int qcow2_compress(uint8_t type, const uint8_t *in, size_t inlen, uint8_t *out, size_t outcap,
		   size_t *outlen) __attribute__((warn_unused_result));

struct disk;
/*
 * Write one guest cluster of an open qcow2 image compressed (vmm-img
 * convert -c): `goff` cluster aligned, `len` one cluster (less only for the
 * last cluster of the disk: zero-padded). The cluster must be unallocated.
 * A cluster that does not shrink is written uncompressed (qemu-img's rule).
 * Synchronous; for tools, not for a running guest. 0 or -errno.
 */
int qcow2_write_compressed(struct disk *d, uint64_t goff, const void *buf, size_t len)
	__attribute__((warn_unused_result));
/*
 * The same in two steps, so that the compression can run on other threads:
 * qcow2_compress_cluster() only reads the image's cluster size and
 * compression type (safe from any thread while the disk is open): `in` is
 * `len` bytes as above, `out` has room for a cluster; *clen = the
 * compressed size, or 0 for a cluster that does not shrink (then `out`
 * holds the input, zero-padded). qcow2_write_compressed_buf() then places
 * that result (on the disk's thread, synchronously). 0 or -errno.
 */
int qcow2_compress_cluster(const struct disk *d, const void *in, size_t len, void *out,
			   size_t *clen) __attribute__((warn_unused_result));
int qcow2_write_compressed_buf(struct disk *d, uint64_t goff, const void *out, size_t clen)
	__attribute__((warn_unused_result));
/* The cluster size of an open qcow2 image (0 for another format). */
uint64_t qcow2_cluster_size(const struct disk *d);

struct qcow2_check_result {
	uint64_t corruptions; /* refcount too low, bad offsets: data at risk */
	uint64_t leaks;	      /* refcount too high: space wasted only */
	uint64_t corruptions_fixed;
	uint64_t leaks_fixed;
	uint64_t allocated_clusters; /* guest data clusters allocated */
	uint64_t total_clusters;     /* guest clusters in the virtual size */
	uint64_t image_end_offset;   /* end of the last used cluster */
};

/*
 * Check an image's metadata: walk L1/L2 and the refcount structures,
 * recompute every cluster's reference count and compare. With `repair`,
 * fix refcounts that are wrong (leaks and too-low counts) by rewriting
 * refcount blocks. `progress(opaque, done, total)` is called now and then
 * (may be NULL). Returns 0 if the check ran (see res), or -errno with
 * `err` set if the image could not be read.
 */
int qcow2_check(const char *path, bool repair, struct qcow2_check_result *res,
		void (*progress)(void *opaque, uint64_t done, uint64_t total), void *opaque,
		char *err, size_t errlen) __attribute__((warn_unused_result));

/* What qcow2_check_image() may change (qemu-img check -r leaks|all). */
enum qcow2_repair {
	QCOW2_REPAIR_NONE,
	QCOW2_REPAIR_LEAKS, /* only lower refcounts that are too high */
	QCOW2_REPAIR_ALL,   /* also raise too-low refcounts, fix COPIED flags */
};

struct qcow2_check_opts {
	enum qcow2_repair repair;
	void (*progress)(void *opaque, uint64_t done, uint64_t total); /* may be NULL */
	/* One line per problem found, without newline, e.g. "Leaked cluster 7
	 * refcount=2 reference=1" (may be NULL). */
	void (*report)(void *opaque, const char *line);
	void *opaque;
};

/* qcow2_check() with a repair mode and per-problem reports (vmm-img check).
 * qcow2_check(repair) is this with QCOW2_REPAIR_ALL or _NONE. */
int qcow2_check_image(const char *path, const struct qcow2_check_opts *o,
		      struct qcow2_check_result *res, char *err, size_t errlen)
	__attribute__((warn_unused_result));

#endif /* VMM_DEVICES_DISK_QCOW2_H */
