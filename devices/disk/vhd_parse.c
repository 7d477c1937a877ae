/* SPDX-License-Identifier: MIT */
/*
 * VHD parsers: pure functions of bytes (vhd.h). Field offsets are those of
 * the specification's "Hard Disk Footer Format" and "Dynamic Disk Header
 * Format" tables; every multi-byte field is big-endian.
 */
#include <endian.h>
#include <errno.h>
#include <inttypes.h>
#include <string.h>

#include "devices/disk/vhd.h"
#include "base/byteorder.h"
#include "base/err.h"

uint32_t vhd_checksum(const uint8_t *buf, size_t len, size_t skip)
{
	uint32_t sum = 0;

	for (size_t i = 0; i < len; i++)
		if (i < skip || i >= skip + 4)
			sum += buf[i];
	return ~sum;
}

uint64_t vhd_virtual_size(const struct vhd_footer *f)
{
	static const char *const by_size[] = { "win ", "qem2", "d2v ", "CTXS" };
	uint64_t chs = (uint64_t)f->cyls * f->heads * f->spt;
	bool use_size = !memcmp(f->creator_app, "tap", 4); /* "tap\0" */

	for (size_t i = 0; i < sizeof(by_size) / sizeof(by_size[0]); i++)
		if (!memcmp(f->creator_app, by_size[i], 4))
			use_size = true;
	/* A maximal geometry cannot describe the disk: trust current_size. */
	if (use_size || chs == VHD_MAX_GEOMETRY)
		return f->current_size / 512 * 512;
	return chs * 512;
}

void vhd_geometry(uint64_t sectors, uint16_t *cyls, uint8_t *heads, uint8_t *spt)
{
	uint32_t cth;

	if (sectors > VHD_MAX_GEOMETRY)
		sectors = VHD_MAX_GEOMETRY;
	if (sectors >= 65535ULL * 16 * 63) {
		*spt = 255;
		*heads = 16;
		cth = (uint32_t)(sectors / *spt);
	} else {
		*spt = 17;
		cth = (uint32_t)(sectors / *spt);
		*heads = (uint8_t)((cth + 1023) / 1024);
		if (*heads < 4)
			*heads = 4;
		if (cth >= (uint32_t)*heads * 1024 || *heads > 16) {
			*spt = 31;
			*heads = 16;
			cth = (uint32_t)(sectors / *spt);
		}
		if (cth >= (uint32_t)*heads * 1024) {
			*spt = 63;
			*heads = 16;
			cth = (uint32_t)(sectors / *spt);
		}
	}
	*cyls = (uint16_t)(cth / *heads);
}

int vhd_footer_parse(const uint8_t *buf, struct vhd_footer *f, char *err, size_t errlen)
{
	uint32_t sum;

	memset(f, 0, sizeof(*f));
	if (memcmp(buf, "conectix", 8))
		return err_set(err, errlen, -EINVAL, "not a VHD image (no \"conectix\" footer)");
	sum = get_be32(buf + 64);
	if (vhd_checksum(buf, VHD_FOOTER_LEN, 64) != sum)
		return err_set(err, errlen, -EINVAL, "VHD footer checksum mismatch");
	f->data_offset = get_be64(buf + 16);
	memcpy(f->creator_app, buf + 28, 4);
	f->orig_size = get_be64(buf + 40);
	f->current_size = get_be64(buf + 48);
	f->cyls = get_be16(buf + 56);
	f->heads = buf[58];
	f->spt = buf[59];
	f->type = get_be32(buf + 60);
	memcpy(f->uuid, buf + 68, 16);
	if (f->type != VHD_TYPE_FIXED && f->type != VHD_TYPE_DYNAMIC && f->type != VHD_TYPE_DIFF)
		return err_set(err, errlen, -EINVAL, "unknown VHD disk type %" PRIu32, f->type);
	f->size = vhd_virtual_size(f);
	if (f->size == 0)
		return err_set(err, errlen, -EINVAL, "VHD virtual size is 0");
	if (f->size / 512 > VHD_MAX_SECTORS)
		return err_set(err, errlen, -EFBIG,
			       "VHD virtual size %" PRIu64 " is above the 2040 GiB limit", f->size);
	return 0;
}

int vhd_dyn_parse(const uint8_t *buf, uint64_t file_size, uint64_t vsize, struct vhd_dyn *h,
		  char *err, size_t errlen)
{
	uint64_t bat_end;

	memset(h, 0, sizeof(*h));
	if (memcmp(buf, "cxsparse", 8))
		return err_set(err, errlen, -EINVAL, "VHD dynamic header: bad cookie");
	if (vhd_checksum(buf, VHD_DYN_LEN, 36) != get_be32(buf + 36))
		return err_set(err, errlen, -EINVAL, "VHD dynamic header checksum mismatch");
	h->table_offset = get_be64(buf + 16);
	h->max_table_entries = get_be32(buf + 28);
	h->block_size = get_be32(buf + 32);
	memcpy(h->parent_uuid, buf + 40, 16);
	h->parent_timestamp = get_be32(buf + 56);
	memcpy(h->parent_name, buf + 64, sizeof(h->parent_name));
	for (int i = 0; i < 8; i++) {
		const uint8_t *l = buf + 576 + 24 * i;

		h->loc[i] = (struct vhd_locator){ .code = get_be32(l),
						  .space = get_be32(l + 4),
						  .len = get_be32(l + 8),
						  .offset = get_be64(l + 16) };
	}
	if (h->block_size < 512 || h->block_size > VHD_MAX_BLOCK ||
	    (h->block_size & (h->block_size - 1)))
		return err_set(err, errlen, -EINVAL, "VHD block size %" PRIu32 " is invalid",
			       h->block_size);
	h->bitmap_size = ((h->block_size / (8 * 512)) + 511) & ~511U;
	if ((uint64_t)h->max_table_entries * h->block_size < vsize)
		return err_set(err, errlen, -EINVAL,
			       "VHD BAT has %" PRIu32 " entries, too few for the disk size",
			       h->max_table_entries);
	if ((uint64_t)h->max_table_entries * h->block_size / 512 > 2 * VHD_MAX_SECTORS)
		return err_set(err, errlen, -EINVAL, "VHD BAT has an absurd %" PRIu32 " entries",
			       h->max_table_entries);
	if (h->table_offset % 512 || h->table_offset < VHD_FOOTER_LEN ||
	    __builtin_add_overflow(h->table_offset, (uint64_t)h->max_table_entries * 4, &bat_end) ||
	    bat_end > file_size)
		return err_set(err, errlen, -EINVAL,
			       "VHD BAT at %" PRIu64 " lies outside the file (%" PRIu64 " bytes)",
			       h->table_offset, file_size);
	return 0;
}

/* One UTF-16 code unit. */
static uint16_t u16_at(const uint8_t *p, bool be)
{
	return be ? (uint16_t)(p[0] << 8 | p[1]) : (uint16_t)(p[1] << 8 | p[0]);
}

int vhd_utf16_to_utf8(const uint8_t *in, size_t len, bool big_endian, char *out, size_t outlen)
{
	size_t o = 0;

	for (size_t i = 0; i + 1 < len; i += 2) {
		uint32_t c = u16_at(in + i, big_endian);
		uint8_t enc[4];
		size_t n;

		if (c == 0)
			break;
		if (c >= 0xd800 && c < 0xdc00) { /* high surrogate: a low one must follow */
			uint32_t lo = i + 3 < len ? u16_at(in + i + 2, big_endian) : 0;

			if (lo < 0xdc00 || lo >= 0xe000)
				return -EINVAL;
			c = 0x10000 + ((c - 0xd800) << 10) + (lo - 0xdc00);
			i += 2;
		} else if (c >= 0xdc00 && c < 0xe000) {
			return -EINVAL;
		}
		if (c < 0x80) {
			enc[0] = (uint8_t)c;
			n = 1;
		} else if (c < 0x800) {
			enc[0] = (uint8_t)(0xc0 | c >> 6);
			enc[1] = (uint8_t)(0x80 | (c & 0x3f));
			n = 2;
		} else if (c < 0x10000) {
			enc[0] = (uint8_t)(0xe0 | c >> 12);
			enc[1] = (uint8_t)(0x80 | ((c >> 6) & 0x3f));
			enc[2] = (uint8_t)(0x80 | (c & 0x3f));
			n = 3;
		} else {
			enc[0] = (uint8_t)(0xf0 | c >> 18);
			enc[1] = (uint8_t)(0x80 | ((c >> 12) & 0x3f));
			enc[2] = (uint8_t)(0x80 | ((c >> 6) & 0x3f));
			enc[3] = (uint8_t)(0x80 | (c & 0x3f));
			n = 4;
		}
		if (o + n >= outlen)
			return -EINVAL;
		memcpy(out + o, enc, n);
		o += n;
	}
	if (!outlen || o == 0)
		return -EINVAL;
	out[o] = '\0';
	return 0;
}

int vhd_locator_path(uint32_t code, const uint8_t *data, size_t len, char *out, size_t outlen)
{
	char *p;

	if (code == VHD_LOC_W2KU || code == VHD_LOC_W2RU) {
		if (vhd_utf16_to_utf8(data, len, false, out, outlen))
			return -EINVAL;
		for (p = out; *p; p++)
			if (*p == '\\')
				*p = '/';
		if (((out[0] | 0x20) >= 'a' && (out[0] | 0x20) <= 'z') && out[1] == ':')
			return -ENOTSUP; /* C:/...: a Windows drive, nothing here */
		if (!strncmp(out, "./", 2))
			memmove(out, out + 2, strlen(out + 2) + 1);
	} else if (code == VHD_LOC_MACX) {
		size_t n = strnlen((const char *)data, len);

		if (n < 8 || strncmp((const char *)data, "file://", 7) || n - 7 >= outlen)
			return -EINVAL;
		memcpy(out, data + 7, n - 7);
		out[n - 7] = '\0';
	} else {
		return -ENOTSUP;
	}
	if (!out[0] || memchr(out, '\0', strlen(out)))
		return -EINVAL;
	return 0;
}
