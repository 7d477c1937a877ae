/* SPDX-License-Identifier: MIT */
/*
 * VHDX parsers: pure functions of bytes (vhdx.h). Section numbers are those
 * of the VHDX Format Specification v1.00.
 */
#include <endian.h>
#include <errno.h>
#include <inttypes.h>
#include <string.h>

#include "devices/disk/vhdx.h"
#include "base/byteorder.h"
#include "base/err.h"

const uint8_t vhdx_guid_bat[16] = { 0x66, 0x77, 0xc2, 0x2d, 0x23, 0xf6, 0x00, 0x42,
				    0x9d, 0x64, 0x11, 0x5e, 0x9b, 0xfd, 0x4a, 0x08 };
const uint8_t vhdx_guid_meta[16] = { 0x06, 0xa2, 0x7c, 0x8b, 0x90, 0x47, 0x9a, 0x4b,
				     0xb8, 0xfe, 0x57, 0x5f, 0x05, 0x0f, 0x88, 0x6e };
const uint8_t vhdx_guid_file_params[16] = { 0x37, 0x67, 0xa1, 0xca, 0x36, 0xfa, 0x43, 0x4d,
					    0xb3, 0xb6, 0x33, 0xf0, 0xaa, 0x44, 0xe7, 0x6b };
const uint8_t vhdx_guid_vsize[16] = { 0x24, 0x42, 0xa5, 0x2f, 0x1b, 0xcd, 0x76, 0x48,
				      0xb2, 0x11, 0x5d, 0xbe, 0xd8, 0x3b, 0xf4, 0xb8 };
const uint8_t vhdx_guid_page83[16] = { 0xab, 0x12, 0xca, 0xbe, 0xe6, 0xb2, 0x23, 0x45,
				       0x93, 0xef, 0xc3, 0x09, 0xe0, 0x00, 0xc7, 0x46 };
const uint8_t vhdx_guid_logical[16] = { 0x1d, 0xbf, 0x41, 0x81, 0x6f, 0xa9, 0x09, 0x47,
					0xba, 0x47, 0xf2, 0x33, 0xa8, 0xfa, 0xab, 0x5f };
const uint8_t vhdx_guid_physical[16] = { 0xc7, 0x48, 0xa3, 0xcd, 0x5d, 0x44, 0x71, 0x44,
					 0x9c, 0xc9, 0xe9, 0x88, 0x52, 0x51, 0xc5, 0x56 };
const uint8_t vhdx_guid_parent[16] = { 0x2d, 0x5f, 0xd3, 0xa8, 0x0b, 0xb3, 0x4d, 0x45,
				       0xab, 0xf7, 0xd3, 0xd8, 0x48, 0x34, 0xab, 0x0c };

/* CRC-32C (Castagnoli, reflected polynomial 0x82F63B78), zlib-style
 * chaining: crc32c(crc32c(0, a), b) == crc32c(0, a || b). No Debian
 * library in our dependency set offers it (zlib has only CRC-32). Table
 * driven; the table is built per call (2 K steps, no mutable file-scope
 * state): it only ever covers headers, region tables and log entries. */
uint32_t vhdx_crc32c(uint32_t crc, const void *buf, size_t len)
{
	const uint8_t *p = buf;
	uint32_t table[256];

	for (uint32_t i = 0; i < 256; i++) {
		uint32_t c = i;

		for (int k = 0; k < 8; k++)
			c = (c >> 1) ^ (0x82f63b78U & (0U - (c & 1)));
		table[i] = c;
	}
	crc = ~crc;
	while (len--)
		crc = table[(crc ^ *p++) & 0xff] ^ (crc >> 8);
	return ~crc;
}

uint32_t vhdx_checksum(const uint8_t *buf, size_t len, size_t crc_off)
{
	static const uint8_t zero[4];
	uint32_t crc = vhdx_crc32c(0, buf, crc_off);

	crc = vhdx_crc32c(crc, zero, 4);
	return vhdx_crc32c(crc, buf + crc_off + 4, len - crc_off - 4);
}

int vhdx_header_parse(const uint8_t *buf, struct vhdx_header *h)
{
	memset(h, 0, sizeof(*h));
	if (memcmp(buf, "head", 4) || vhdx_checksum(buf, VHDX_HEADER_LEN, 4) != get_le32(buf + 4))
		return -EINVAL;
	h->seq = get_le64(buf + 8);
	memcpy(h->file_write_guid, buf + 16, 16);
	memcpy(h->data_write_guid, buf + 32, 16);
	memcpy(h->log_guid, buf + 48, 16);
	h->log_version = get_le16(buf + 64);
	h->version = get_le16(buf + 66);
	h->log_length = get_le32(buf + 68);
	h->log_offset = get_le64(buf + 72);
	return h->version == 1 ? 0 : -EINVAL;
}

void vhdx_header_write(uint8_t *buf, const struct vhdx_header *h)
{
	uint64_t v64;
	uint32_t v32;
	uint16_t v16;

	memset(buf, 0, VHDX_HEADER_LEN);
	memcpy(buf, "head", 4);
	v64 = htole64(h->seq);
	memcpy(buf + 8, &v64, 8);
	memcpy(buf + 16, h->file_write_guid, 16);
	memcpy(buf + 32, h->data_write_guid, 16);
	memcpy(buf + 48, h->log_guid, 16);
	v16 = htole16(h->log_version);
	memcpy(buf + 64, &v16, 2);
	v16 = htole16(h->version);
	memcpy(buf + 66, &v16, 2);
	v32 = htole32(h->log_length);
	memcpy(buf + 68, &v32, 4);
	v64 = htole64(h->log_offset);
	memcpy(buf + 72, &v64, 8);
	v32 = htole32(vhdx_checksum(buf, VHDX_HEADER_LEN, 4));
	memcpy(buf + 4, &v32, 4);
}

/* [off, off + len) 1 MiB aligned, after the header section, in the file. */
static bool region_ok(uint64_t off, uint64_t len, uint64_t file_size)
{
	return off % VHDX_MiB == 0 && off >= VHDX_MiB && len > 0 && off <= file_size &&
	       len <= file_size - off;
}

int vhdx_regions_parse(const uint8_t *buf, uint64_t file_size, struct vhdx_regions *r, char *err,
		       size_t errlen)
{
	uint32_t n;
	bool bat = false, meta = false;

	memset(r, 0, sizeof(*r));
	if (memcmp(buf, "regi", 4) || vhdx_checksum(buf, VHDX_REGION_LEN, 4) != get_le32(buf + 4))
		return err_set(err, errlen, -EINVAL, "VHDX region table: bad signature or CRC");
	n = get_le32(buf + 8);
	if (n > 2047)
		return err_set(err, errlen, -EINVAL, "VHDX region table: %" PRIu32 " entries", n);
	for (uint32_t i = 0; i < n; i++) {
		const uint8_t *e = buf + 16 + 32 * i;
		uint64_t off = get_le64(e + 16);
		uint32_t len = get_le32(e + 24);

		if (!memcmp(e, vhdx_guid_bat, 16) && !bat) {
			bat = true;
			r->bat_off = off;
			r->bat_len = len;
		} else if (!memcmp(e, vhdx_guid_meta, 16) && !meta) {
			meta = true;
			r->meta_off = off;
			r->meta_len = len;
		} else if (get_le32(e + 28) & 1) {
			return err_set(err, errlen, -ENOTSUP,
				       "VHDX region table: unknown required region");
		}
	}
	if (!bat || !meta)
		return err_set(err, errlen, -EINVAL, "VHDX region table: no %s region",
			       bat ? "metadata" : "BAT");
	if (!region_ok(r->bat_off, r->bat_len, file_size) ||
	    !region_ok(r->meta_off, r->meta_len, file_size))
		return err_set(err, errlen, -EINVAL,
			       "VHDX %s region lies outside the file or is misaligned",
			       region_ok(r->bat_off, r->bat_len, file_size) ? "metadata" : "BAT");
	if (r->bat_off < r->meta_off + r->meta_len && r->meta_off < r->bat_off + r->bat_len)
		return err_set(err, errlen, -EINVAL, "VHDX BAT and metadata regions overlap");
	return 0;
}

/* One metadata item: its bytes, if present with at least `need` bytes. */
static const uint8_t *meta_item(const uint8_t *e, const uint8_t *buf, size_t len, uint32_t need)
{
	uint32_t off = get_le32(e + 16), ilen = get_le32(e + 20);

	if (ilen < need || off < 65536 || off > len || ilen > len - off || ilen > VHDX_META_MAX)
		return NULL;
	return buf + off;
}

int vhdx_meta_parse(const uint8_t *buf, size_t len, struct vhdx_meta *m, char *err, size_t errlen)
{
	unsigned int seen = 0;
	uint16_t n;

	memset(m, 0, sizeof(*m));
	if (len < 65536 || memcmp(buf, "metadata", 8))
		return err_set(err, errlen, -EINVAL, "VHDX metadata table: bad signature");
	n = get_le16(buf + 10);
	if (n > 2047)
		return err_set(err, errlen, -EINVAL, "VHDX metadata table: %u entries", n);
	for (uint16_t i = 0; i < n; i++) {
		const uint8_t *e = buf + 32 + 32 * i, *p;
		static const struct {
			const uint8_t *guid;
			uint32_t need;
		} items[] = {
			{ vhdx_guid_file_params, 8 }, { vhdx_guid_vsize, 8 },
			{ vhdx_guid_logical, 4 },     { vhdx_guid_physical, 4 },
			{ vhdx_guid_page83, 16 },     { vhdx_guid_parent, 20 },
		};
		size_t k;

		for (k = 0; k < sizeof(items) / sizeof(items[0]); k++)
			if (!memcmp(e, items[k].guid, 16))
				break;
		if (k == sizeof(items) / sizeof(items[0])) {
			if (get_le32(e + 24) & 4)
				return err_set(err, errlen, -ENOTSUP,
					       "VHDX metadata: unknown required item");
			continue;
		}
		p = meta_item(e, buf, len, items[k].need);
		if (!p)
			return err_set(err, errlen, -EINVAL,
				       "VHDX metadata item %zu lies outside the region", k);
		seen |= 1U << k;
		switch (k) {
		case 0:
			m->block_size = get_le32(p);
			m->fixed = get_le32(p + 4) & 1;
			m->has_parent = get_le32(p + 4) & 2;
			break;
		case 1:
			m->size = get_le64(p);
			break;
		case 2:
			m->logical_sector = get_le32(p);
			break;
		case 3:
			m->physical_sector = get_le32(p);
			break;
		case 4:
			memcpy(m->page83, p, 16);
			break;
		default:
			break; /* parent locator: read by the differencing code */
		}
	}
	if ((seen & 0x1f) != 0x1f)
		return err_set(err, errlen, -EINVAL, "VHDX metadata: a required item is missing");
	if (m->block_size < VHDX_MiB || m->block_size > 256 * VHDX_MiB ||
	    (m->block_size & (m->block_size - 1)))
		return err_set(err, errlen, -EINVAL, "VHDX block size %" PRIu32 " is invalid",
			       m->block_size);
	if (m->logical_sector != 512 && m->logical_sector != 4096)
		return err_set(err, errlen, -EINVAL, "VHDX logical sector size %" PRIu32,
			       m->logical_sector);
	if (m->physical_sector != 512 && m->physical_sector != 4096)
		return err_set(err, errlen, -EINVAL, "VHDX physical sector size %" PRIu32,
			       m->physical_sector);
	if (!m->size || m->size % m->logical_sector || m->size > VHDX_MAX_SIZE)
		return err_set(err, errlen, -EINVAL, "VHDX virtual size %" PRIu64 " is invalid",
			       m->size);
	m->chunk_ratio = VHDX_SECTORS_CHUNK * m->logical_sector / m->block_size;
	m->data_blocks = (m->size + m->block_size - 1) / m->block_size;
	if (m->has_parent)
		m->bat_entries = (m->data_blocks + m->chunk_ratio - 1) / m->chunk_ratio *
				 (m->chunk_ratio + 1);
	else
		m->bat_entries = m->data_blocks + (m->data_blocks - 1) / m->chunk_ratio;
	return 0;
}

/* ---- the log (spec 2.3) ---- */

#define LOG_HDR_LEN 64U

static const uint8_t *log_sector(const uint8_t *log, size_t len, uint64_t pos)
{
	return log + pos % len;
}

/* Descriptor sectors: the 64-byte header and 32-byte descriptors. */
static uint64_t desc_sectors(uint32_t count)
{
	return ((uint64_t)count + 2 + 127) / 128;
}

/* The entry at pos, fully validated (header, CRC, descriptors, data
 * sectors). Returns its sequence number, or 0 if it is not valid. */
static uint64_t log_entry_valid(const uint8_t *log, size_t len, uint64_t pos,
				const uint8_t guid[16], uint32_t *elen)
{
	const uint8_t *h = log_sector(log, len, pos);
	uint32_t el = get_le32(h + 8), cnt = get_le32(h + 24), crc = 0;
	uint64_t seq = get_le64(h + 16), ds = desc_sectors(cnt), data = 0;

	if (memcmp(h, "loge", 4) || !el || el % VHDX_LOG_SECTOR || el > len || !seq ||
	    memcmp(h + 32, guid, 16) || ds * VHDX_LOG_SECTOR > el)
		return 0;
	for (uint64_t s = 0; s < el / VHDX_LOG_SECTOR; s++) {
		const uint8_t *p = log_sector(log, len, pos + s * VHDX_LOG_SECTOR);

		if (s == 0) {
			static const uint8_t zero[4];

			crc = vhdx_crc32c(crc, p, 4);
			crc = vhdx_crc32c(crc, zero, 4);
			crc = vhdx_crc32c(crc, p + 8, VHDX_LOG_SECTOR - 8);
		} else {
			crc = vhdx_crc32c(crc, p, VHDX_LOG_SECTOR);
		}
	}
	if (crc != get_le32(h + 4))
		return 0;
	for (uint32_t i = 0; i < cnt; i++) {
		uint64_t at = LOG_HDR_LEN + 32ULL * i;
		const uint8_t *d =
			log_sector(log, len, pos + at / VHDX_LOG_SECTOR * VHDX_LOG_SECTOR) +
			at % VHDX_LOG_SECTOR;

		if (get_le64(d + 24) != seq || get_le64(d + 16) % VHDX_LOG_SECTOR)
			return 0;
		if (!memcmp(d, "zero", 4)) {
			if (get_le64(d + 8) % VHDX_LOG_SECTOR)
				return 0;
		} else if (!memcmp(d, "desc", 4)) {
			const uint8_t *s;

			if ((ds + data) * VHDX_LOG_SECTOR >= el)
				return 0;
			s = log_sector(log, len, pos + (ds + data) * VHDX_LOG_SECTOR);
			if (memcmp(s, "data", 4) ||
			    ((uint64_t)get_le32(s + 4) << 32 | get_le32(s + 4092)) != seq)
				return 0;
			data++;
		} else {
			return 0;
		}
	}
	*elen = el;
	return seq;
}

void vhdx_log_find(const uint8_t *log, size_t len, const uint8_t guid[16],
		   struct vhdx_log_seq *best)
{
	uint64_t best_seq = 0;

	memset(best, 0, sizeof(*best));
	if (!len || len % VHDX_LOG_SECTOR)
		return;
	for (uint64_t pos = 0; pos < len;) {
		uint32_t el = 0;
		uint64_t seq = log_entry_valid(log, len, pos, guid, &el), p = pos, last = 0;
		struct vhdx_log_seq cur = { .valid = true, .start = pos };

		if (!seq) {
			pos += VHDX_LOG_SECTOR;
			continue;
		}
		/* Follow the chain of entries with consecutive numbers. */
		while (seq && cur.count < len / VHDX_LOG_SECTOR) {
			const uint8_t *h = log_sector(log, len, p);

			cur.count++;
			cur.flushed_file_offset = get_le64(h + 48);
			cur.last_file_offset = get_le64(h + 56);
			last = seq;
			p += el;
			seq = log_entry_valid(log, len, p, guid, &el);
			if (seq != last + 1)
				seq = 0;
		}
		if (last > best_seq) {
			best_seq = last;
			*best = cur;
		}
		if (p >= len)
			break; /* the chain wrapped: everything has been seen */
		pos = p;
	}
}

int vhdx_log_replay(const uint8_t *log, size_t len, const struct vhdx_log_seq *seq,
		    int (*apply)(void *opaque, uint64_t off, const uint8_t *data, uint64_t n),
		    void *opaque)
{
	uint8_t sector[VHDX_LOG_SECTOR];
	uint64_t pos = seq->start;

	for (uint32_t e = 0; e < seq->count; e++) {
		const uint8_t *h = log_sector(log, len, pos);
		uint32_t el = get_le32(h + 8), cnt = get_le32(h + 24);
		uint64_t ds = desc_sectors(cnt), data = 0;
		int ret;

		for (uint32_t i = 0; i < cnt; i++) {
			uint64_t at = LOG_HDR_LEN + 32ULL * i;
			const uint8_t *d =
				log_sector(log, len, pos + at / VHDX_LOG_SECTOR * VHDX_LOG_SECTOR) +
				at % VHDX_LOG_SECTOR;

			if (!memcmp(d, "zero", 4)) {
				ret = apply(opaque, get_le64(d + 16), NULL, get_le64(d + 8));
			} else {
				const uint8_t *s =
					log_sector(log, len, pos + (ds + data++) * VHDX_LOG_SECTOR);

				/* bytes 0-7 and 4092-4095 live in the descriptor */
				memcpy(sector, d + 8, 8);
				memcpy(sector + 8, s + 8, 4084);
				memcpy(sector + 4092, d + 4, 4);
				ret = apply(opaque, get_le64(d + 16), sector, VHDX_LOG_SECTOR);
			}
			if (ret)
				return ret;
		}
		pos += el;
	}
	return 0;
}

void vhdx_log_entry_build(uint8_t *out, const uint8_t guid[16], uint64_t seq, uint32_t tail,
			  uint64_t file_size, uint64_t target, const uint8_t *sector)
{
	uint8_t *d = out + LOG_HDR_LEN, *s = out + VHDX_LOG_SECTOR;

	memset(out, 0, VHDX_LOG_ENTRY_LEN);
	memcpy(out, "loge", 4);
	put_le32(out + 8, VHDX_LOG_ENTRY_LEN);
	put_le32(out + 12, tail);
	put_le64(out + 16, seq);
	put_le32(out + 24, 1); /* one descriptor */
	memcpy(out + 32, guid, 16);
	put_le64(out + 48, file_size);
	put_le64(out + 56, file_size);
	/* bytes 0-7 and 4092-4095 of the sector live in the descriptor */
	memcpy(d, "desc", 4);
	memcpy(d + 4, sector + 4092, 4);
	memcpy(d + 8, sector, 8);
	put_le64(d + 16, target);
	put_le64(d + 24, seq);
	memcpy(s, "data", 4);
	put_le32(s + 4, (uint32_t)(seq >> 32));
	memcpy(s + 8, sector + 8, 4084);
	put_le32(s + 4092, (uint32_t)seq);
	put_le32(out + 4, vhdx_checksum(out, VHDX_LOG_ENTRY_LEN, 4));
}
