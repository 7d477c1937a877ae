/* SPDX-License-Identifier: MIT */
/*
 * New VHDX images (vmm-img create -f vhdx), laid out as qemu-img 7.2 lays
 * them out (block/vhdx.c vhdx_co_create): the 1 MiB header section, the
 * log at 1 MiB (log_size, default 1 MiB), the BAT region, then a 1 MiB
 * metadata region; block_size chosen from the size when not given (8 MiB
 * up to 1 GiB, 16 MiB up to 100 GiB, 32 MiB up to 32 TiB, then 64 MiB).
 * Fixed images get every payload block allocated, in order, after the
 * metadata.
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
#include "devices/disk/vhdx.h"
#include "base/byteorder.h"
#include "base/err.h"

static void random_guid(uint8_t *g)
{
	if (getrandom(g, 16, 0) != 16)
		memset(g, 0x5a, 16); /* an identity, not a secret */
	g[7] = (uint8_t)((g[7] & 0x0f) | 0x40);
	g[8] = (uint8_t)((g[8] & 0x3f) | 0x80);
}

/* "8M", "1048576", "2G": a size in bytes, or 0 if malformed. */
static uint64_t parse_size(const char *s)
{
	char *end;
	unsigned long long v = strtoull(s, &end, 10);
	int shift = 0;

	if (end == s)
		return 0;
	switch (*end) {
	case 'k':
	case 'K':
		shift = 10;
		break;
	case 'M':
		shift = 20;
		break;
	case 'G':
		shift = 30;
		break;
	case '\0':
		break;
	default:
		return 0;
	}
	if (*end && end[1])
		return 0;
	return v > (UINT64_MAX >> shift) ? 0 : (uint64_t)v << shift;
}

static uint32_t default_block_size(uint64_t size)
{
	if (size > (32ULL << 40))
		return 64U << 20;
	if (size > (100ULL << 30))
		return 32U << 20;
	if (size > (1ULL << 30))
		return 16U << 20;
	return 8U << 20;
}

static int write_tables(int fd, uint64_t size, uint32_t bs, uint64_t log_size, bool fixed,
			uint64_t *file_end)
{
	uint64_t chunk = VHDX_SECTORS_CHUNK * 512 / bs, blocks = (size + bs - 1) / bs;
	uint64_t entries = blocks + (blocks - 1) / chunk;
	uint64_t bat_off = VHDX_MiB + log_size;
	uint64_t bat_len = (entries * 8 + VHDX_MiB - 1) & ~(VHDX_MiB - 1);
	uint64_t meta_off = bat_off + bat_len, data = meta_off + VHDX_MiB;
	static const struct {
		const uint8_t *guid;
		uint32_t len, flags;
	} items[] = {
		{ vhdx_guid_file_params, 8, 4 }, { vhdx_guid_vsize, 8, 6 },
		{ vhdx_guid_page83, 16, 6 },	 { vhdx_guid_logical, 4, 6 },
		{ vhdx_guid_physical, 4, 6 },
	};
	uint8_t *buf, *bat = NULL;
	uint32_t off = 65536;
	int ret;

	buf = calloc(1, VHDX_REGION_LEN + 4096);
	if (!buf)
		return -ENOMEM;
	/* region table, twice */
	memcpy(buf, "regi", 4);
	put_le32(buf + 8, 2);
	memcpy(buf + 16, vhdx_guid_bat, 16);
	put_le64(buf + 32, bat_off);
	put_le32(buf + 40, (uint32_t)bat_len);
	put_le32(buf + 44, 1); /* required */
	memcpy(buf + 48, vhdx_guid_meta, 16);
	put_le64(buf + 64, meta_off);
	put_le32(buf + 72, (uint32_t)VHDX_MiB);
	put_le32(buf + 76, 1);
	put_le32(buf + 4, vhdx_checksum(buf, VHDX_REGION_LEN, 4));
	ret = disk_file_pwrite(fd, buf, VHDX_REGION_LEN, VHDX_REGION1_OFF);
	if (ret == 0)
		ret = disk_file_pwrite(fd, buf, VHDX_REGION_LEN, VHDX_REGION2_OFF);
	if (ret)
		goto out;
	/* metadata table and items (2.6) */
	memset(buf, 0, VHDX_REGION_LEN + 4096);
	memcpy(buf, "metadata", 8);
	put_le16(buf + 10, 5);
	for (size_t i = 0; i < sizeof(items) / sizeof(items[0]); i++) {
		uint8_t *e = buf + 32 + 32 * i;

		memcpy(e, items[i].guid, 16);
		put_le32(e + 16, off);
		put_le32(e + 20, items[i].len);
		put_le32(e + 24, items[i].flags);
		off += items[i].len;
	}
	put_le32(buf + 65536, bs);
	put_le32(buf + 65540, fixed ? 1 : 0);
	put_le64(buf + 65544, size);
	random_guid(buf + 65552);
	put_le32(buf + 65568, 512);
	put_le32(buf + 65572, 512);
	ret = disk_file_pwrite(fd, buf, 65536 + 4096, meta_off);
	if (ret)
		goto out;
	/* BAT: all "not present", or every block allocated in order */
	*file_end = data;
	if (fixed) {
		bat = calloc(1, entries * 8);
		if (!bat) {
			ret = -ENOMEM;
			goto out;
		}
		for (uint64_t b = 0; b < blocks; b++)
			put_le64(bat + (b + b / chunk) * 8, (data + b * bs) | VHDX_BLK_FULL);
		ret = disk_file_pwrite(fd, bat, entries * 8, bat_off);
		*file_end = data + blocks * bs;
	}
	if (ret == 0 && ftruncate(fd, (off_t)*file_end) < 0)
		ret = -errno;
out:
	free(bat);
	free(buf);
	return ret;
}

int vhdx_create(const char *path, const struct disk_create_opts *o, char *err, size_t errlen)
{
	static const char *const known[] = { "subformat", "block_size", "log_size",
					     "block_state_zero", NULL };
	char sub[32] = "dynamic", v[32];
	uint64_t size = (o->size + 511) & ~511ULL, log_size = VHDX_MiB, end = 0;
	uint32_t bs;
	uint8_t hb[VHDX_HEADER_LEN], id[4096] = "vhdxfile";
	struct vhdx_header h = { .version = 1, .log_offset = VHDX_MiB };
	int fd, ret;

	ret = disk_opts_check(o->options, "vhdx", known, err, errlen);
	if (ret)
		return ret;
	if (o->backing_file)
		return err_set(err, errlen, -ENOTSUP,
			       "%s: differencing VHDX images are not supported", path);
	disk_opts_get(o->options, "subformat", sub, sizeof(sub));
	if (strcmp(sub, "dynamic") && strcmp(sub, "fixed"))
		return err_set(err, errlen, -EINVAL,
			       "%s: vhdx subformat must be dynamic or fixed, not '%s'", path, sub);
	if (!size || size > VHDX_MAX_SIZE)
		return err_set(err, errlen, -EINVAL, "%s: size must be 1 byte to 64 TiB", path);
	bs = default_block_size(size);
	if (disk_opts_get(o->options, "block_size", v, sizeof(v))) {
		uint64_t b = parse_size(v);

		if (b && (b < VHDX_MiB || b > 256 * VHDX_MiB || (b & (b - 1))))
			return err_set(err, errlen, -EINVAL,
				       "%s: block_size must be a power of two, 1M to 256M", path);
		if (b)
			bs = (uint32_t)b;
	}
	if (disk_opts_get(o->options, "log_size", v, sizeof(v))) {
		log_size = parse_size(v);
		if (log_size < VHDX_MiB || log_size % VHDX_MiB || log_size > VHDX_MAX_LOG)
			return err_set(err, errlen, -EINVAL,
				       "%s: log_size must be a multiple of 1M, 1M to 64M", path);
	}
	h.log_length = (uint32_t)log_size;

	fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0644);
	if (fd < 0)
		return err_set(err, errlen, -errno, "%s: %s", path, strerror(errno));
	/* file identifier: signature, then the creator in UTF-16LE */
	for (int i = 0; i < 3; i++)
		id[8 + 2 * i] = (uint8_t) "vmm"[i];
	ret = disk_file_pwrite(fd, id, sizeof(id), 0);
	random_guid(h.file_write_guid);
	random_guid(h.data_write_guid);
	for (int i = 0; i < 2 && ret == 0; i++) {
		h.seq = (uint64_t)i + 1;
		vhdx_header_write(hb, &h);
		ret = disk_file_pwrite(fd, hb, sizeof(hb), i ? VHDX_HEADER2_OFF : VHDX_HEADER1_OFF);
	}
	if (ret == 0)
		ret = write_tables(fd, size, bs, log_size, !strcmp(sub, "fixed"), &end);
	if (ret == 0 && fsync(fd) < 0)
		ret = -errno;
	close(fd);
	if (ret) {
		unlink(path);
		return err_set(err, errlen, ret, "%s: %s", path, strerror(-ret));
	}
	return 0;
}
