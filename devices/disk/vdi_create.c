/* SPDX-License-Identifier: MIT */
/*
 * Creating a VDI image (qemu-img create -f vdi [-o static=on]) with
 * qemu-img's layout: header at 0, block map at 0x200, data right after
 * it; a static image has every block allocated (in order) at creation.
 */
#include <endian.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <unistd.h>

#include "devices/disk/bmap.h"
#include "devices/disk/format.h"
#include "devices/disk/vdi.h"
#include "base/err.h"
#include "base/byteorder.h"

int vdi_create(const char *path, const struct disk_create_opts *o, char *err, size_t errlen);

/* A random (version 4) UUID, as qemu_uuid_generate makes. */
static void uuid_random(uint8_t *u)
{
	if (getrandom(u, 16, 0) != 16)
		memset(u, 0x5a, 16); /* only an identifier: never fails the create */
	u[6] = (uint8_t)((u[6] & 0x0f) | 0x40);
	u[8] = (uint8_t)((u[8] & 0x3f) | 0x80);
}

static int create_opts(const struct disk_create_opts *o, bool *is_static, char *err, size_t errlen)
{
	static const char *const known[] = { "static", "preallocation", NULL };
	char v[16];
	int ret;

	if (o->backing_file)
		return err_set(err, errlen, -ENOTSUP, "vdi does not support backing files");
	ret = disk_opts_check(o->options, "vdi", known, err, errlen);
	if (ret)
		return ret;
	*is_static = false;
	if (disk_opts_get(o->options, "static", v, sizeof(v))) {
		if (strcmp(v, "on") && strcmp(v, "off"))
			return err_set(err, errlen, -EINVAL, "static must be on or off, not '%s'",
				       v);
		*is_static = !strcmp(v, "on");
	}
	if (disk_opts_get(o->options, "preallocation", v, sizeof(v)) && strcmp(v, "off"))
		return err_set(err, errlen, -ENOTSUP,
			       "vdi: preallocation=%s is not supported (use static=on)", v);
	if (o->size == 0 || o->size > (uint64_t)VDI_BLOCKS_MAX * VDI_BLOCK_SIZE)
		return err_set(err, errlen, -EINVAL, "vdi: size must be 1 byte .. %" PRIu64 " TiB",
			       ((uint64_t)VDI_BLOCKS_MAX * VDI_BLOCK_SIZE) >> 40);
	return 0;
}

int vdi_create(const char *path, const struct disk_create_opts *o, char *err, size_t errlen)
{
	uint64_t size = (o->size + 511) & ~511ULL, bmap_bytes, data;
	uint32_t blocks;
	uint8_t *file;
	uint8_t hdr[VDI_HEADER_LEN] = { 0 };
	bool is_static = false;
	int ret;

	ret = create_opts(o, &is_static, err, errlen);
	if (ret)
		return ret;
	blocks = (uint32_t)((size + VDI_BLOCK_SIZE - 1) / VDI_BLOCK_SIZE);
	bmap_bytes = ((uint64_t)blocks * 4 + 511) & ~511ULL;
	data = VDI_HEADER_LEN + bmap_bytes;
	memcpy(hdr, VDI_TEXT, sizeof(VDI_TEXT) - 1);
	put_le32(hdr + VDI_OFF_SIGNATURE, VDI_SIGNATURE);
	put_le32(hdr + VDI_OFF_VERSION, VDI_VERSION_1_1);
	put_le32(hdr + VDI_OFF_HEADER_SIZE, VDI_HEADER_SIZE);
	put_le32(hdr + VDI_OFF_IMAGE_TYPE, is_static ? VDI_TYPE_STATIC : VDI_TYPE_DYNAMIC);
	put_le32(hdr + VDI_OFF_OFFSET_BMAP, VDI_HEADER_LEN);
	put_le32(hdr + VDI_OFF_OFFSET_DATA, (uint32_t)data);
	put_le32(hdr + VDI_OFF_SECTOR_SIZE, 512);
	put_le64(hdr + VDI_OFF_DISK_SIZE, size);
	put_le32(hdr + VDI_OFF_BLOCK_SIZE, VDI_BLOCK_SIZE);
	put_le32(hdr + VDI_OFF_BLOCKS, blocks);
	put_le32(hdr + VDI_OFF_BLOCKS_ALLOCATED, is_static ? blocks : 0);
	uuid_random(hdr + VDI_OFF_UUID_IMAGE);
	uuid_random(hdr + VDI_OFF_UUID_SNAP);
	/* header and block map in one buffer */
	file = calloc(1, VDI_HEADER_LEN + bmap_bytes);
	if (!file)
		return err_set(err, errlen, -ENOMEM, "out of memory");
	memcpy(file, hdr, sizeof(hdr));
	for (uint32_t i = 0; i < blocks; i++)
		put_le32(file + VDI_HEADER_LEN + (size_t)i * 4, is_static ? i : VDI_UNALLOCATED);
	ret = disk_create_file(path, file, VDI_HEADER_LEN + bmap_bytes,
			       is_static ? data + (uint64_t)blocks * VDI_BLOCK_SIZE : 0, err,
			       errlen);
	free(file);
	return ret;
}
