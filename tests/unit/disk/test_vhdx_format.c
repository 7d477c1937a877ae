/* SPDX-License-Identifier: MIT */
/*
 * The VHDX parsers (vhdx_parse.c): CRC-32C against the standard check
 * values, headers, region tables and metadata with hostile fields, and the
 * log: the active sequence found and replayed, torn or foreign entries
 * ignored.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include <endian.h>
#include <errno.h>

#include "base/byteorder.h"
#include "devices/disk/vhdx.h"

#define MiB (1ULL << 20)

static void test_crc32c_vectors(void **state)
{
	static const uint8_t zeros[32], ones[32] = { [0 ... 31] = 0xff };
	uint8_t inc[32];

	(void)state;
	for (int i = 0; i < 32; i++)
		inc[i] = (uint8_t)i;
	/* RFC 3720 B.4 and the "123456789" check value */
	assert_int_equal(vhdx_crc32c(0, "123456789", 9), 0xe3069283);
	assert_int_equal(vhdx_crc32c(0, zeros, 32), 0x8a9136aa);
	assert_int_equal(vhdx_crc32c(0, ones, 32), 0x62a8ab43);
	assert_int_equal(vhdx_crc32c(0, inc, 32), 0x46dd794e);
	/* chaining */
	assert_int_equal(vhdx_crc32c(vhdx_crc32c(0, "1234", 4), "56789", 5), 0xe3069283);
}

static void test_header_roundtrip(void **state)
{
	uint8_t buf[VHDX_HEADER_LEN];
	struct vhdx_header h = { .seq = 9, .version = 1, .log_length = MiB, .log_offset = MiB }, g;

	(void)state;
	memset(h.log_guid, 0xab, 16);
	vhdx_header_write(buf, &h);
	assert_int_equal(vhdx_header_parse(buf, &g), 0);
	assert_int_equal(g.seq, 9);
	assert_memory_equal(g.log_guid, h.log_guid, 16);
	assert_int_equal(g.log_offset, MiB);
	buf[4000] ^= 1; /* the CRC covers all 4 KiB */
	assert_int_equal(vhdx_header_parse(buf, &g), -EINVAL);
	h.version = 2;
	vhdx_header_write(buf, &h);
	assert_int_equal(vhdx_header_parse(buf, &g), -EINVAL);
}

static uint8_t *regions(uint64_t bat, uint32_t bat_len, uint64_t meta, uint32_t meta_len)
{
	uint8_t *b = calloc(1, VHDX_REGION_LEN);

	memcpy(b, "regi", 4);
	put_le32(b + 8, 2);
	memcpy(b + 16, vhdx_guid_bat, 16);
	put_le64(b + 32, bat);
	put_le32(b + 40, bat_len);
	memcpy(b + 48, vhdx_guid_meta, 16);
	put_le64(b + 64, meta);
	put_le32(b + 72, meta_len);
	put_le32(b + 4, vhdx_checksum(b, VHDX_REGION_LEN, 4));
	return b;
}

static void test_regions(void **state)
{
	struct vhdx_regions r;
	uint8_t *b;

	(void)state;
	b = regions(2 * MiB, MiB, 3 * MiB, MiB);
	assert_int_equal(vhdx_regions_parse(b, 4 * MiB, &r, NULL, 0), 0);
	assert_int_equal(r.meta_off, 3 * MiB);
	assert_int_equal(vhdx_regions_parse(b, 4 * MiB - 1, &r, NULL, 0), -EINVAL);
	b[100] ^= 1;
	assert_int_equal(vhdx_regions_parse(b, 4 * MiB, &r, NULL, 0), -EINVAL);
	free(b);
	b = regions(2 * MiB, 2 * MiB, 3 * MiB, MiB); /* overlap */
	assert_int_equal(vhdx_regions_parse(b, 8 * MiB, &r, NULL, 0), -EINVAL);
	free(b);
	b = regions(0, MiB, 3 * MiB, MiB); /* BAT over the header section */
	assert_int_equal(vhdx_regions_parse(b, 8 * MiB, &r, NULL, 0), -EINVAL);
	free(b);
	b = regions(UINT64_MAX - MiB + 1, MiB, 3 * MiB, MiB); /* overflow */
	assert_int_equal(vhdx_regions_parse(b, 8 * MiB, &r, NULL, 0), -EINVAL);
	free(b);
}

/* A metadata region with the five required items. */
static uint8_t *meta(uint32_t bs, uint64_t size, uint32_t lss, uint32_t item_off)
{
	uint8_t *b = calloc(1, 2 * 65536);
	const uint8_t *ids[] = { vhdx_guid_file_params, vhdx_guid_vsize, vhdx_guid_page83,
				 vhdx_guid_logical, vhdx_guid_physical };
	const uint32_t lens[] = { 8, 8, 16, 4, 4 };
	uint32_t off = item_off;

	memcpy(b, "metadata", 8);
	b[10] = 5;
	for (int i = 0; i < 5; i++) {
		memcpy(b + 32 + 32 * i, ids[i], 16);
		put_le32(b + 32 + 32 * i + 16, off);
		put_le32(b + 32 + 32 * i + 20, lens[i]);
		off += lens[i];
	}
	if (item_off + 40 <= 2 * 65536) {
		put_le32(b + item_off, bs);
		put_le64(b + item_off + 8, size);
		put_le32(b + item_off + 32, lss);
		put_le32(b + item_off + 36, 512);
	}
	return b;
}

static void test_meta(void **state)
{
	struct vhdx_meta m;
	uint8_t *b;

	(void)state;
	b = meta(1 << 20, 64 * MiB, 512, 65536);
	assert_int_equal(vhdx_meta_parse(b, 2 * 65536, &m, NULL, 0), 0);
	assert_int_equal(m.chunk_ratio, 4096);
	assert_int_equal(m.data_blocks, 64);
	assert_int_equal(m.bat_entries, 64);
	free(b);
	b = meta(1 << 20, 8193 * MiB, 512, 65536); /* a sector bitmap entry in between */
	assert_int_equal(vhdx_meta_parse(b, 2 * 65536, &m, NULL, 0), 0);
	assert_int_equal(m.bat_entries, 8193 + 2);
	free(b);
	b = meta(3 << 20, 64 * MiB, 512, 65536); /* block size not a power of two */
	assert_int_equal(vhdx_meta_parse(b, 2 * 65536, &m, NULL, 0), -EINVAL);
	free(b);
	b = meta(1 << 20, 65 * (1ULL << 40), 512, 65536); /* above 64 TiB */
	assert_int_equal(vhdx_meta_parse(b, 2 * 65536, &m, NULL, 0), -EINVAL);
	free(b);
	b = meta(1 << 20, 64 * MiB, 1024, 65536); /* logical sector size */
	assert_int_equal(vhdx_meta_parse(b, 2 * 65536, &m, NULL, 0), -EINVAL);
	free(b);
	b = meta(1 << 20, 64 * MiB, 512, 2 * 65536 - 10); /* items past the region */
	assert_int_equal(vhdx_meta_parse(b, 2 * 65536, &m, NULL, 0), -EINVAL);
	free(b);
	b = meta(1 << 20, 64 * MiB, 512, 100); /* items inside the table */
	assert_int_equal(vhdx_meta_parse(b, 2 * 65536, &m, NULL, 0), -EINVAL);
	free(b);
}

/* One entry at pos in log: a data sector for file offset `target` filled
 * with `fill`, and a zero descriptor. */
static void log_entry(uint8_t *log, uint64_t pos, uint64_t seq, const uint8_t *guid,
		      uint64_t target, uint8_t fill)
{
	uint8_t *e = log + pos, *d, *s;
	uint8_t sector[4096];

	memset(sector, fill, sizeof(sector));
	memset(e, 0, 2 * 4096);
	memcpy(e, "loge", 4);
	put_le32(e + 8, 2 * 4096);
	put_le64(e + 16, seq);
	put_le32(e + 24, 2);
	memcpy(e + 32, guid, 16);
	d = e + 64;
	memcpy(d, "desc", 4);
	memcpy(d + 4, sector + 4092, 4);
	memcpy(d + 8, sector, 8);
	put_le64(d + 16, target);
	put_le64(d + 24, seq);
	d += 32;
	memcpy(d, "zero", 4);
	put_le64(d + 8, 8192);
	put_le64(d + 16, target + 4096);
	put_le64(d + 24, seq);
	s = e + 4096;
	memcpy(s, "data", 4);
	put_le32(s + 4, (uint32_t)(seq >> 32));
	memcpy(s + 8, sector + 8, 4084);
	put_le32(s + 4092, (uint32_t)seq);
	put_le32(e + 4, vhdx_checksum(e, 2 * 4096, 4));
}

struct applied {
	int n;
	uint64_t off[8], len[8];
	uint8_t first[8];
};

static int record(void *opaque, uint64_t off, const uint8_t *data, uint64_t n)
{
	struct applied *a = opaque;

	if (a->n == 8)
		return -E2BIG;
	a->off[a->n] = off;
	a->len[a->n] = n;
	a->first[a->n] = data ? data[100] : 0;
	a->n++;
	return 0;
}

static void test_log(void **state)
{
	static uint8_t log[16 * 4096];
	uint8_t guid[16], other[16];
	struct vhdx_log_seq seq;
	struct applied a = { 0 };

	(void)state;
	memset(guid, 0x11, 16);
	memset(other, 0x22, 16);
	/* an old sequence (5,6), and the active one (9,10) */
	log_entry(log, 0, 5, guid, 8 * MiB, 0x50);
	log_entry(log, 2 * 4096, 6, guid, 8 * MiB, 0x60);
	log_entry(log, 6 * 4096, 9, guid, 9 * MiB, 0x90);
	log_entry(log, 8 * 4096, 10, guid, 10 * MiB, 0xa0);
	log_entry(log, 10 * 4096, 12, other, 11 * MiB, 0xc0); /* another log's */
	vhdx_log_find(log, sizeof(log), guid, &seq);
	assert_true(seq.valid);
	assert_int_equal(seq.start, 6 * 4096);
	assert_int_equal(seq.count, 2);
	assert_int_equal(vhdx_log_replay(log, sizeof(log), &seq, record, &a), 0);
	assert_int_equal(a.n, 4);
	assert_int_equal(a.off[0], 9 * MiB);
	assert_int_equal(a.first[0], 0x90);
	assert_int_equal(a.off[1], 9 * MiB + 4096);
	assert_int_equal(a.len[1], 8192);
	assert_int_equal(a.off[2], 10 * MiB);
	assert_int_equal(a.first[2], 0xa0);
	/* a torn second entry (bad CRC): the sequence ends at the first */
	log[8 * 4096 + 5000] ^= 1;
	vhdx_log_find(log, sizeof(log), guid, &seq);
	assert_true(seq.valid);
	assert_int_equal(seq.count, 1);
	assert_int_equal(seq.start, 6 * 4096);
	/* a data sector whose sequence number does not match */
	log[6 * 4096 + 4096 + 4092] ^= 1;
	vhdx_log_find(log, sizeof(log), guid, &seq);
	assert_true(seq.valid);
	assert_int_equal(seq.start, 0); /* the old sequence is all that is left */
	/* nothing with this GUID */
	vhdx_log_find(log, sizeof(log), (const uint8_t[16]){ 0 }, &seq);
	assert_false(seq.valid);
}

static void test_log_wraps(void **state)
{
	static uint8_t log[4 * 4096];
	uint8_t guid[16], tmp[2 * 4096];
	struct vhdx_log_seq seq;
	struct applied a = { 0 };

	(void)state;
	memset(guid, 0x33, 16);
	/* an entry written at the last sector, wrapping to the first */
	log_entry(tmp, 0, 4, guid, 5 * MiB, 0x44);
	memcpy(log + 3 * 4096, tmp, 4096);
	memcpy(log, tmp + 4096, 4096);
	vhdx_log_find(log, sizeof(log), guid, &seq);
	assert_true(seq.valid);
	assert_int_equal(seq.start, 3 * 4096);
	assert_int_equal(vhdx_log_replay(log, sizeof(log), &seq, record, &a), 0);
	assert_int_equal(a.off[0], 5 * MiB);
	assert_int_equal(a.first[0], 0x44);
}

/* What the driver writes, the search finds and the replay returns. */
static void test_log_entry_build(void **state)
{
	static uint8_t log[8 * 4096];
	uint8_t guid[16], sector[4096];
	struct vhdx_log_seq seq;
	struct applied a = { 0 };

	(void)state;
	memset(guid, 0x5c, 16);
	for (int i = 0; i < 4096; i++)
		sector[i] = (uint8_t)(i * 7);
	vhdx_log_entry_build(log, guid, 41, 0, 9 * MiB, 2 * MiB, sector);
	sector[100] = 0xee;
	vhdx_log_entry_build(log + VHDX_LOG_ENTRY_LEN, guid, 42, 0, 9 * MiB, 2 * MiB + 4096,
			     sector);
	vhdx_log_find(log, sizeof(log), guid, &seq);
	assert_true(seq.valid);
	assert_int_equal(seq.start, 0);
	assert_int_equal(seq.count, 2);
	assert_int_equal(seq.flushed_file_offset, 9 * MiB);
	assert_int_equal(vhdx_log_replay(log, sizeof(log), &seq, record, &a), 0);
	assert_int_equal(a.n, 2);
	assert_int_equal(a.off[0], 2 * MiB);
	assert_int_equal(a.first[0], (uint8_t)(100 * 7));
	assert_int_equal(a.off[1], 2 * MiB + 4096);
	assert_int_equal(a.first[1], 0xee);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_crc32c_vectors),
		cmocka_unit_test(test_header_roundtrip),
		cmocka_unit_test(test_regions),
		cmocka_unit_test(test_meta),
		cmocka_unit_test(test_log),
		cmocka_unit_test(test_log_wraps),
		cmocka_unit_test(test_log_entry_build),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
