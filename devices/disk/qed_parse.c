/* SPDX-License-Identifier: MIT */
/*
 * QED header parser (qed.h): a pure function of bytes, with the rules of
 * QEMU's bdrv_qed_do_open.
 */
#include <endian.h>
#include <errno.h>
#include <inttypes.h>
#include <string.h>

#include "devices/disk/qed.h"
#include "base/err.h"
#include "base/byteorder.h"

static bool pow2_in(uint64_t v, uint64_t lo, uint64_t hi)
{
	return v >= lo && v <= hi && !(v & (v - 1));
}

int qed_probe(const uint8_t *buf, size_t len)
{
	return len >= QED_HEADER_LEN && get_le32(buf) == QED_MAGIC ? 100 : 0;
}

/* The backing file name: inside the header clusters, the bytes we were
 * given and the name buffer, no NUL inside. */
static int parse_backing(const uint8_t *buf, size_t len, struct qed_header *h, char *err,
			 size_t errlen)
{
	uint32_t off = get_le32(buf + 0x38), n = get_le32(buf + 0x3c);

	if (!(h->features & QED_F_BACKING_FILE))
		return 0;
	if ((uint64_t)off + n > (uint64_t)h->cluster_size * h->header_size ||
	    off < QED_HEADER_LEN || (uint64_t)off + n > len)
		return err_set(err, errlen, -EINVAL, "QED backing file name offset is invalid");
	if (n == 0 || n >= sizeof(h->backing_file))
		return err_set(err, errlen, -EINVAL, "QED backing file name length %u invalid", n);
	memcpy(h->backing_file, buf + off, n);
	h->backing_file[n] = '\0';
	if (strlen(h->backing_file) != n)
		return err_set(err, errlen, -EINVAL, "QED backing file name contains a NUL byte");
	return 0;
}

int qed_header_parse(const uint8_t *buf, size_t len, uint64_t file_size, struct qed_header *h,
		     char *err, size_t errlen)
{
	uint64_t cs, l1_end, max;

	memset(h, 0, sizeof(*h));
	if (len < QED_HEADER_LEN || file_size < QED_HEADER_LEN)
		return err_set(err, errlen, -EINVAL, "file too short for a QED header");
	if (get_le32(buf) != QED_MAGIC)
		return err_set(err, errlen, -EINVAL, "not a QED image (bad magic)");
	h->cluster_size = get_le32(buf + 4);
	h->table_size = get_le32(buf + 8);
	h->header_size = get_le32(buf + 12);
	h->features = get_le64(buf + 16);
	h->compat_features = get_le64(buf + 24);
	h->autoclear_features = get_le64(buf + 32);
	h->l1_table_offset = get_le64(buf + 40);
	h->image_size = get_le64(buf + 48);
	if (h->features & ~QED_FEATURE_MASK)
		return err_set(err, errlen, -ENOTSUP, "unsupported QED features: 0x%" PRIx64,
			       (uint64_t)(h->features & ~QED_FEATURE_MASK));
	if (!pow2_in(h->cluster_size, QED_MIN_CLUSTER_SIZE, QED_MAX_CLUSTER_SIZE))
		return err_set(err, errlen, -EINVAL, "QED cluster size %u invalid",
			       h->cluster_size);
	if (!pow2_in(h->table_size, 1, QED_MAX_TABLE_SIZE))
		return err_set(err, errlen, -EINVAL, "QED table size %u invalid", h->table_size);
	cs = h->cluster_size;
	h->table_entries = (uint64_t)h->table_size * cs / 8;
	h->cluster_bits = (unsigned int)__builtin_ctzll(cs);
	h->l2_bits = (unsigned int)__builtin_ctzll(h->table_entries);
	/* table_entries^2 clusters: at most 2^(21 + 26 + 21 + 26 ...) -- cap
	 * the shift so it cannot overflow (QEMU's qed_max_image_size). */
	max = h->cluster_bits + 2 * h->l2_bits >= 64 ? UINT64_MAX
						     : 1ULL << (h->cluster_bits + 2 * h->l2_bits);
	if (h->image_size % 512 || h->image_size > max)
		return err_set(err, errlen, -EINVAL, "QED image size %" PRIu64 " invalid",
			       h->image_size);
	if (h->header_size == 0 || h->header_size > UINT32_MAX / h->cluster_size)
		return err_set(err, errlen, -EINVAL, "QED header size %u invalid", h->header_size);
	/* The L1 table: cluster aligned, after the header, inside the file
	 * (its first and last clusters, as qed_check_table_offset). */
	if (h->l1_table_offset % cs || h->l1_table_offset < (uint64_t)h->header_size * cs ||
	    __builtin_add_overflow(h->l1_table_offset, (uint64_t)h->table_size * cs, &l1_end) ||
	    l1_end > ((file_size / cs) * cs))
		return err_set(err, errlen, -EINVAL,
			       "QED L1 table offset 0x%" PRIx64 " is invalid (file of %" PRIu64
			       " bytes)",
			       h->l1_table_offset, file_size);
	return parse_backing(buf, len < file_size ? len : (size_t)file_size, h, err, errlen);
}
