/* SPDX-License-Identifier: MIT */
/*
 * QED (QEMU Enhanced Disk, QEMU's docs/interop/qed_spec.txt): a header
 * cluster, an L1 table and L2 tables of 64-bit little-endian cluster
 * offsets (0: unallocated -- the backing file's data or zeros; 1: a zero
 * cluster), no reference counts. Clusters are only ever appended.
 *
 * The need-check rule: QED_F_NEED_CHECK is set (and synced) before the
 * first allocating write after open or after a flush, and cleared once a
 * flush has made every allocation stable. An image found with it set was
 * not closed cleanly: it is checked, and repaired, before it is written.
 *
 * The parsers are pure functions of bytes (tests/fuzz/fuzz_qed.c).
 */
#ifndef VMM_DEVICES_DISK_QED_H
#define VMM_DEVICES_DISK_QED_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define QED_MAGIC		      0x00444551U /* "QED\0" little-endian */
#define QED_HEADER_LEN		      64U	  /* fields up to the backing name's */
#define QED_F_BACKING_FILE	      0x01ULL
#define QED_F_NEED_CHECK	      0x02ULL
#define QED_F_BACKING_FORMAT_NO_PROBE 0x04ULL /* the backing file is raw */
#define QED_FEATURE_MASK	      0x07ULL
#define QED_MIN_CLUSTER_SIZE	      (4U << 10)
#define QED_MAX_CLUSTER_SIZE	      (64U << 20)
#define QED_DEFAULT_CLUSTER_SIZE      (64U << 10)
#define QED_MAX_TABLE_SIZE	      16U
#define QED_DEFAULT_TABLE_SIZE	      4U
#define QED_ZERO_CLUSTER	      1ULL /* an L2 entry: reads as zeros */
#define QED_OFF_FEATURES	      0x10

struct qed_header {
	uint32_t cluster_size;
	uint32_t table_size;  /* clusters per L1/L2 table */
	uint32_t header_size; /* clusters */
	uint64_t features;
	uint64_t compat_features;
	uint64_t autoclear_features;
	uint64_t l1_table_offset;
	uint64_t image_size;
	char backing_file[1024]; /* "" if none */
	/* derived */
	uint64_t table_entries; /* entries per table */
	unsigned int cluster_bits, l2_bits;
};

/*
 * Parse and validate the header from the first `len` bytes of an image of
 * `file_size` bytes with QEMU's rules (bdrv_qed_do_open): magic, known
 * features, cluster and table sizes powers of two in range, the image size
 * within what two table levels address, the L1 table and the backing name
 * inside the file and the header. 0, or -EINVAL / -ENOTSUP with one line.
 */
int qed_header_parse(const uint8_t *buf, size_t len, uint64_t file_size, struct qed_header *h,
		     char *err, size_t errlen) __attribute__((warn_unused_result));

/* 100 for a QED header, else 0 (format.h probe). */
int qed_probe(const uint8_t *buf, size_t len);

#endif /* VMM_DEVICES_DISK_QED_H */
