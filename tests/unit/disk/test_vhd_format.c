/* SPDX-License-Identifier: MIT */
/*
 * The VHD parsers (vhd_parse.c): checksum, CHS geometry and the size rule
 * against values qemu-img 7.2 writes, footer and dynamic-header validation
 * with hostile fields, UTF-16 and parent-locator decoding.
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
#include "devices/disk/vhd.h"

/* A footer like qemu-img's for `app`, size and CHS. */
static void footer(uint8_t *f, const char *app, uint32_t type, uint64_t size, uint16_t c, uint8_t h,
		   uint8_t s)
{
	memset(f, 0, VHD_FOOTER_LEN);
	memcpy(f, "conectix", 8);
	put_be64(f + 16, type == VHD_TYPE_FIXED ? UINT64_MAX : 512);
	memcpy(f + 28, app, 4);
	put_be64(f + 40, size);
	put_be64(f + 48, size);
	f[56] = (uint8_t)(c >> 8);
	f[57] = (uint8_t)c;
	f[58] = h;
	f[59] = s;
	put_be32(f + 60, type);
	put_be32(f + 64, vhd_checksum(f, VHD_FOOTER_LEN, 64));
}

static void test_geometry_matches_qemu(void **state)
{
	/* qemu-img create -f vpc: size -> C/H/S, as read back from its files */
	static const struct {
		uint64_t size;
		uint16_t c;
		uint8_t h, s;
	} t[] = {
		{ 67125248, 964, 8, 17 },
		{ 1073995776, 2081, 16, 63 },
		{ 10514432, 302, 4, 17 },
		{ 136365219840ULL, 65279, 16, 255 },
	};
	(void)state;
	for (size_t i = 0; i < sizeof(t) / sizeof(t[0]); i++) {
		uint16_t c;
		uint8_t h, s;

		vhd_geometry(t[i].size / 512, &c, &h, &s);
		assert_int_equal(c, t[i].c);
		assert_int_equal(h, t[i].h);
		assert_int_equal(s, t[i].s);
	}
}

static void test_size_rule(void **state)
{
	uint8_t f[VHD_FOOTER_LEN];
	struct vhd_footer v;

	(void)state;
	/* "qemu": CHS, even when current_size says otherwise */
	footer(f, "qemu", VHD_TYPE_DYNAMIC, 67108864, 964, 8, 17);
	assert_int_equal(vhd_footer_parse(f, &v, NULL, 0), 0);
	assert_int_equal(v.size, 964ULL * 8 * 17 * 512);
	/* "qem2" and "win ": current_size */
	footer(f, "qem2", VHD_TYPE_DYNAMIC, 67108864, 65535, 16, 255);
	assert_int_equal(vhd_footer_parse(f, &v, NULL, 0), 0);
	assert_int_equal(v.size, 67108864);
	footer(f, "win ", VHD_TYPE_FIXED, 67108864, 964, 8, 17);
	assert_int_equal(vhd_footer_parse(f, &v, NULL, 0), 0);
	assert_int_equal(v.size, 67108864);
	/* "vpc " with the maximal geometry: current_size too */
	footer(f, "vpc ", VHD_TYPE_DYNAMIC, 3ULL << 40, 65535, 16, 255);
	assert_int_equal(vhd_footer_parse(f, &v, NULL, 0), -EFBIG);
	footer(f, "vpc ", VHD_TYPE_DYNAMIC, 200ULL << 30, 65535, 16, 255);
	assert_int_equal(vhd_footer_parse(f, &v, NULL, 0), 0);
	assert_int_equal(v.size, 200ULL << 30);
}

static void test_footer_hostile(void **state)
{
	uint8_t f[VHD_FOOTER_LEN];
	struct vhd_footer v;
	char err[128];

	(void)state;
	footer(f, "qemu", VHD_TYPE_DYNAMIC, 67108864, 964, 8, 17);
	f[100] ^= 1; /* checksum no longer matches */
	assert_int_equal(vhd_footer_parse(f, &v, err, sizeof(err)), -EINVAL);
	assert_non_null(strstr(err, "checksum"));
	footer(f, "qemu", 7, 67108864, 964, 8, 17);
	assert_int_equal(vhd_footer_parse(f, &v, err, sizeof(err)), -EINVAL);
	footer(f, "qemu", VHD_TYPE_FIXED, 0, 0, 0, 0);
	assert_int_equal(vhd_footer_parse(f, &v, err, sizeof(err)), -EINVAL);
	memcpy(f, "conectiy", 8);
	assert_int_equal(vhd_footer_parse(f, &v, err, sizeof(err)), -EINVAL);
}

static void dyn(uint8_t *h, uint64_t bat, uint32_t entries, uint32_t bs)
{
	memset(h, 0, VHD_DYN_LEN);
	memcpy(h, "cxsparse", 8);
	put_be64(h + 8, UINT64_MAX);
	put_be64(h + 16, bat);
	put_be32(h + 28, entries);
	put_be32(h + 32, bs);
	put_be32(h + 36, vhd_checksum(h, VHD_DYN_LEN, 36));
}

static void test_dyn_header(void **state)
{
	uint8_t h[VHD_DYN_LEN];
	struct vhd_dyn d;

	(void)state;
	dyn(h, 1536, 32, 2 << 20);
	assert_int_equal(vhd_dyn_parse(h, 4096, 64 << 20, &d, NULL, 0), 0);
	assert_int_equal(d.bitmap_size, 512);
	assert_int_equal(d.max_table_entries, 32);
	/* too few entries for the disk */
	assert_int_equal(vhd_dyn_parse(h, 4096, 65 << 20, &d, NULL, 0), -EINVAL);
	/* BAT past the end of the file */
	assert_int_equal(vhd_dyn_parse(h, 1536 + 64, 64 << 20, &d, NULL, 0), -EINVAL);
	/* BAT offset that overflows */
	dyn(h, UINT64_MAX - 511, 32, 2 << 20);
	assert_int_equal(vhd_dyn_parse(h, 4096, 64 << 20, &d, NULL, 0), -EINVAL);
	/* block size not a power of two, too small, absurd */
	dyn(h, 1536, 32, 3 << 20);
	assert_int_equal(vhd_dyn_parse(h, 4096, 64 << 20, &d, NULL, 0), -EINVAL);
	dyn(h, 1536, 32, 256);
	assert_int_equal(vhd_dyn_parse(h, 4096, 4096, &d, NULL, 0), -EINVAL);
	dyn(h, 1536, 1, 1U << 31);
	assert_int_equal(vhd_dyn_parse(h, 4096, 4096, &d, NULL, 0), -EINVAL);
	/* bad checksum */
	dyn(h, 1536, 32, 2 << 20);
	h[40] = 1;
	assert_int_equal(vhd_dyn_parse(h, 4096, 64 << 20, &d, NULL, 0), -EINVAL);
}

static void test_utf16(void **state)
{
	static const uint8_t le[] = { 'a', 0, 0xe9, 0, 0x3d, 0xd8, 0x00, 0xde, 0, 0, 'x', 0 };
	static const uint8_t lone[] = { 0x00, 0xdc };
	char out[32];

	(void)state;
	assert_int_equal(vhd_utf16_to_utf8(le, sizeof(le), false, out, sizeof(out)), 0);
	assert_string_equal(out, "a\xc3\xa9\xf0\x9f\x98\x80"); /* stops at NUL */
	assert_int_equal(vhd_utf16_to_utf8(lone, sizeof(lone), false, out, sizeof(out)), -EINVAL);
	assert_int_equal(vhd_utf16_to_utf8(le, sizeof(le), false, out, 4), -EINVAL);
	assert_int_equal(vhd_utf16_to_utf8(le + 8, 2, false, out, sizeof(out)), -EINVAL);
}

static void test_locators(void **state)
{
	static const uint8_t rel[] = { '.', 0, '\\', 0, 'd', 0, '\\', 0, 'p', 0, '.', 0, 'v', 0 };
	static const uint8_t drive[] = { 'C', 0, ':', 0, '\\', 0, 'p', 0 };
	static const char macx[] = "file:///srv/p.vhd";
	char out[64];

	(void)state;
	assert_int_equal(vhd_locator_path(VHD_LOC_W2RU, rel, sizeof(rel), out, sizeof(out)), 0);
	assert_string_equal(out, "d/p.v");
	assert_int_equal(vhd_locator_path(VHD_LOC_W2KU, drive, sizeof(drive), out, sizeof(out)),
			 -ENOTSUP);
	assert_int_equal(vhd_locator_path(VHD_LOC_MACX, (const uint8_t *)macx, sizeof(macx) - 1,
					  out, sizeof(out)),
			 0);
	assert_string_equal(out, "/srv/p.vhd");
	assert_int_equal(
		vhd_locator_path(VHD_LOC_MACX, (const uint8_t *)"http://x", 8, out, sizeof(out)),
		-EINVAL);
	assert_int_equal(vhd_locator_path(0x4d616320, rel, sizeof(rel), out, sizeof(out)),
			 -ENOTSUP);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_geometry_matches_qemu),
		cmocka_unit_test(test_size_rule),
		cmocka_unit_test(test_footer_hostile),
		cmocka_unit_test(test_dyn_header),
		cmocka_unit_test(test_utf16),
		cmocka_unit_test(test_locators),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
