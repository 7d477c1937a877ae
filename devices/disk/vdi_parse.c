/* SPDX-License-Identifier: MIT */
/*
 * VDI header and block map parsers (vdi.h): pure functions of bytes, with
 * QEMU's block/vdi.c rules (vdi_open, vdi_co_check).
 */
#include <endian.h>
#include <errno.h>
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>

#include "devices/disk/vdi.h"
#include "base/err.h"
#include "base/byteorder.h"

static bool uuid_null(const uint8_t *p)
{
	for (int i = 0; i < 16; i++)
		if (p[i])
			return false;
	return true;
}

int vdi_probe(const uint8_t *buf, size_t len)
{
	return len >= VDI_HEADER_LEN && get_le32(buf + VDI_OFF_SIGNATURE) == VDI_SIGNATURE ? 100
											   : 0;
}

/* The field checks of QEMU's vdi_open, in its order. */
static int check_fields(const uint8_t *buf, const struct vdi_header *h, char *err, size_t errlen)
{
	uint32_t sector = get_le32(buf + VDI_OFF_SECTOR_SIZE);

	if (h->version != VDI_VERSION_1_1)
		return err_set(err, errlen, -ENOTSUP, "unsupported VDI image (version %u.%u)",
			       h->version >> 16, h->version & 0xffff);
	if (h->header_size < VDI_HEADER_SIZE || h->header_size > VDI_HEADER_LEN - 0x40)
		return err_set(err, errlen, -EINVAL, "VDI header size %u invalid", h->header_size);
	if (h->image_type != VDI_TYPE_DYNAMIC && h->image_type != VDI_TYPE_STATIC)
		return err_set(err, errlen, -ENOTSUP, "unsupported VDI image type %u",
			       h->image_type);
	if (h->offset_bmap % 512 || h->offset_bmap < VDI_HEADER_LEN)
		return err_set(err, errlen, -EINVAL, "VDI block map offset 0x%x invalid",
			       h->offset_bmap);
	if (h->offset_data % 512)
		return err_set(err, errlen, -EINVAL, "VDI data offset 0x%x is not sector aligned",
			       h->offset_data);
	if (sector != 512)
		return err_set(err, errlen, -ENOTSUP,
			       "unsupported VDI image (sector size %u is not 512)", sector);
	if (h->block_size != VDI_BLOCK_SIZE)
		return err_set(err, errlen, -ENOTSUP,
			       "unsupported VDI image (block size %u is not %u)", h->block_size,
			       VDI_BLOCK_SIZE);
	if (h->disk_size > (uint64_t)h->blocks_in_image * h->block_size)
		return err_set(err, errlen, -EINVAL,
			       "VDI disk size %" PRIu64 " exceeds what the block map covers (%u "
			       "blocks)",
			       h->disk_size, h->blocks_in_image);
	if (!uuid_null(buf + VDI_OFF_UUID_LINK))
		return err_set(err, errlen, -ENOTSUP, "unsupported VDI image (non-NULL link UUID)");
	if (!uuid_null(buf + VDI_OFF_UUID_PARENT))
		return err_set(err, errlen, -ENOTSUP,
			       "unsupported VDI image (non-NULL parent UUID: differencing)");
	if (h->blocks_in_image > VDI_BLOCKS_MAX)
		return err_set(err, errlen, -EINVAL, "VDI image has too many blocks (%u, max %u)",
			       h->blocks_in_image, VDI_BLOCKS_MAX);
	return 0;
}

int vdi_header_parse(const uint8_t *buf, size_t len, uint64_t file_size, struct vdi_header *h,
		     char *err, size_t errlen)
{
	uint64_t bmap_end;
	int ret;

	memset(h, 0, sizeof(*h));
	if (len < VDI_HEADER_LEN || file_size < VDI_HEADER_LEN)
		return err_set(err, errlen, -EINVAL, "file too short for a VDI header");
	if (get_le32(buf + VDI_OFF_SIGNATURE) != VDI_SIGNATURE)
		return err_set(err, errlen, -EINVAL, "not a VDI image (bad signature %08x)",
			       get_le32(buf + VDI_OFF_SIGNATURE));
	h->version = get_le32(buf + VDI_OFF_VERSION);
	h->header_size = get_le32(buf + VDI_OFF_HEADER_SIZE);
	h->image_type = get_le32(buf + VDI_OFF_IMAGE_TYPE);
	h->offset_bmap = get_le32(buf + VDI_OFF_OFFSET_BMAP);
	h->offset_data = get_le32(buf + VDI_OFF_OFFSET_DATA);
	h->disk_size = get_le64(buf + VDI_OFF_DISK_SIZE);
	h->block_size = get_le32(buf + VDI_OFF_BLOCK_SIZE);
	h->blocks_in_image = get_le32(buf + VDI_OFF_BLOCKS);
	h->blocks_allocated = get_le32(buf + VDI_OFF_BLOCKS_ALLOCATED);
	/* VBoxManage convertfromraw makes odd sizes; QEMU rounds them up. */
	if (h->disk_size > UINT64_MAX - 511)
		return err_set(err, errlen, -EINVAL, "VDI disk size %" PRIu64 " invalid",
			       h->disk_size);
	h->disk_size = (h->disk_size + 511) & ~511ULL;
	ret = check_fields(buf, h, err, errlen);
	if (ret)
		return ret;
	bmap_end = h->offset_bmap + (((uint64_t)h->blocks_in_image * 4 + 511) & ~511ULL);
	if (bmap_end > h->offset_data)
		return err_set(err, errlen, -EINVAL,
			       "VDI block map (0x%x, %u entries) overlaps the data area at 0x%x",
			       h->offset_bmap, h->blocks_in_image, h->offset_data);
	if (bmap_end > file_size)
		return err_set(err, errlen, -EINVAL,
			       "VDI block map (0x%x, %u entries) lies past the end of the file",
			       h->offset_bmap, h->blocks_in_image);
	return 0;
}

int vdi_bmap_check(const uint32_t *bmap_le, const struct vdi_header *h, uint64_t file_size,
		   uint32_t *allocated, uint32_t *next, char *err, size_t errlen)
{
	uint32_t n = h->blocks_in_image, count = 0, top = 0;
	uint8_t *seen = calloc((size_t)n / 8 + 1, 1);
	int ret = 0;

	if (!seen)
		return err_set(err, errlen, -ENOMEM, "out of memory");
	for (uint32_t i = 0; i < n; i++) {
		uint32_t e = le32toh(bmap_le[i]);

		if (e == VDI_UNALLOCATED || e == VDI_DISCARDED)
			continue;
		if (e >= n) {
			ret = err_set(err, errlen, -EINVAL,
				      "VDI block map entry %u: block index %u too large (max %u)",
				      i, e, n - 1);
			break;
		}
		if (seen[e / 8] & (1U << (e % 8))) {
			ret = err_set(err, errlen, -EINVAL,
				      "VDI block map entry %u: block index %u used twice", i, e);
			break;
		}
		seen[e / 8] |= (uint8_t)(1U << (e % 8));
		if (h->offset_data + ((uint64_t)e + 1) * h->block_size > file_size) {
			ret = err_set(err, errlen, -EINVAL,
				      "VDI block map entry %u: block %u lies past the end of the "
				      "file",
				      i, e);
			break;
		}
		count++;
		top = e + 1 > top ? e + 1 : top;
	}
	free(seen);
	if (ret)
		return ret;
	*allocated = count;
	*next = top;
	return 0;
}
