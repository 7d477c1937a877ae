/* SPDX-License-Identifier: MIT */
/* The AML writer: encodings checked byte by byte against ACPI 6.4 ch. 20. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "firmware/aml.h"
#include "fw_test.h"

#define BYTES(...) ((const uint8_t[]){ __VA_ARGS__ }), sizeof((const uint8_t[]){ __VA_ARGS__ })

static void assert_mem(const uint8_t *got, const uint8_t *want, size_t n)
{
	assert_memory_equal(got, want, n);
}

static void assert_bytes(const struct aml_buf *b, const uint8_t *want, size_t n)
{
	assert_int_equal(aml_error(b), 0);
	assert_int_equal(b->len, n);
	assert_memory_equal(b->data, want, n);
}

/* An independent PkgLength decoder (20.2.4): returns the encoded total
 * length and the number of bytes used. */
static size_t decode_pkglength(const uint8_t *p, unsigned int *nbytes)
{
	unsigned int follow = p[0] >> 6, i;
	size_t v;

	*nbytes = follow + 1;
	if (follow == 0)
		return p[0] & 0x3f;
	assert_int_equal(p[0] & 0x30, 0); /* bits 4-5 reserved when bytes follow */
	v = p[0] & 0x0f;
	for (i = 1; i <= follow; i++)
		v |= (size_t)p[i] << (4 + 8 * (i - 1));
	return v;
}

static void test_pkglength_boundaries(void **state)
{
	static const struct {
		size_t content;
		int n;
		uint8_t enc[4];
	} cases[] = {
		{ 0, 1, { 0x01 } },
		{ 62, 1, { 0x3f } },	   /* total 63: the largest 1-byte form */
		{ 63, 2, { 0x41, 0x04 } }, /* total 64 needs 2 bytes: 65 = 0x41 */
		{ 64, 2, { 0x42, 0x04 } },
		{ 4093, 2, { 0x4f, 0xff } },	   /* total 4095: the largest 2-byte form */
		{ 4094, 3, { 0x81, 0x00, 0x01 } }, /* total 4097 */
		{ 4095, 3, { 0x82, 0x00, 0x01 } },
		{ 4096, 3, { 0x83, 0x00, 0x01 } },
		{ 0xffffc, 3, { 0x8f, 0xff, 0xff } }, /* total 0xfffff */
		{ 0xffffd, 4, { 0xc1, 0x00, 0x00, 0x01 } },
		{ AML_PKGLENGTH_MAX - 4, 4, { 0xcf, 0xff, 0xff, 0xff } },
	};
	uint8_t out[4];
	unsigned int i;

	(void)state;
	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		int n = aml_pkglength_encode(cases[i].content, out);

		assert_int_equal(n, cases[i].n);
		assert_memory_equal(out, cases[i].enc, (size_t)n);
	}
	assert_int_equal(aml_pkglength_encode(AML_PKGLENGTH_MAX - 3, out), -E2BIG);
	assert_int_equal(aml_pkglength_encode(SIZE_MAX, out), -E2BIG);
}

/* Every length up to 1 MiB + a bit: decodes back, and uses the fewest bytes. */
static void test_pkglength_roundtrip(void **state)
{
	uint8_t out[4];
	size_t content;

	(void)state;
	for (content = 0; content < 0x100100; content++) {
		unsigned int nb;
		int n = aml_pkglength_encode(content, out);
		size_t total = decode_pkglength(out, &nb);
		int minimal = content + 1 <= 0x3f      ? 1
			      : content + 2 <= 0xfff   ? 2
			      : content + 3 <= 0xfffff ? 3
						       : 4;

		if (n != minimal || nb != (unsigned int)n || total != content + (size_t)n)
			fail_msg("content %zu: n %d nb %u total %zu", content, n, nb, total);
	}
}

/* Buffers of 63, 64, 4095, 4096 bytes: the PkgLength spans exactly the
 * BufferSize and the bytes. */
static void test_buffer_sizes(void **state)
{
	static const size_t sizes[] = { 0, 1, 58, 59, 63, 64, 4095, 4096, 70000 };
	static uint8_t data[70000];
	unsigned int i;

	(void)state;
	memset(data, 0x5a, sizeof(data));
	for (i = 0; i < sizeof(sizes) / sizeof(sizes[0]); i++) {
		struct aml_buf b;
		unsigned int nb;
		size_t total;

		aml_init(&b);
		aml_buffer(&b, data, sizes[i]);
		assert_int_equal(aml_error(&b), 0);
		assert_int_equal(b.data[0], 0x11);
		total = decode_pkglength(b.data + 1, &nb);
		assert_int_equal(1 + total, b.len);
		assert_memory_equal(b.data + b.len - sizes[i], data, sizes[i]);
		aml_free(&b);
	}
}

static void test_integers(void **state)
{
	static const struct {
		uint64_t v;
		uint8_t enc[9];
		size_t n;
	} cases[] = {
		{ 0, { 0x00 }, 1 },
		{ 1, { 0x01 }, 1 },
		{ 2, { 0x0a, 0x02 }, 2 },
		{ 0xff, { 0x0a, 0xff }, 2 },
		{ 0x100, { 0x0b, 0x00, 0x01 }, 3 },
		{ 0xffff, { 0x0b, 0xff, 0xff }, 3 },
		{ 0x10000, { 0x0c, 0x00, 0x00, 0x01, 0x00 }, 5 },
		{ 0xfee00000, { 0x0c, 0x00, 0x00, 0xe0, 0xfe }, 5 },
		{ 0xffffffff, { 0x0c, 0xff, 0xff, 0xff, 0xff }, 5 },
		{ 0x100000000ULL, { 0x0e, 0, 0, 0, 0, 1, 0, 0, 0 }, 9 },
		{ UINT64_MAX, { 0x0e, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff }, 9 },
	};
	unsigned int i;

	(void)state;
	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		struct aml_buf b;

		aml_init(&b);
		aml_integer(&b, cases[i].v);
		assert_bytes(&b, cases[i].enc, cases[i].n);
		aml_free(&b);
	}
}

static void test_name_strings(void **state)
{
	struct aml_buf b;

	(void)state;
	aml_init(&b);
	aml_name_string(&b, "_SB_");
	assert_bytes(&b, BYTES('_', 'S', 'B', '_'));
	aml_free(&b);

	aml_init(&b);
	aml_name_string(&b, "\\_SB_.COM1");
	assert_bytes(&b, BYTES('\\', 0x2e, '_', 'S', 'B', '_', 'C', 'O', 'M', '1'));
	aml_free(&b);

	aml_init(&b);
	aml_name_string(&b, "A.B1.C");
	assert_bytes(&b,
		     BYTES(0x2f, 3, 'A', '_', '_', '_', 'B', '1', '_', '_', 'C', '_', '_', '_'));
	aml_free(&b);

	aml_init(&b);
	aml_name_string(&b, "^^FOO");
	assert_bytes(&b, BYTES('^', '^', 'F', 'O', 'O', '_'));
	aml_free(&b);

	aml_init(&b);
	aml_name_string(&b, "\\");
	assert_bytes(&b, BYTES('\\', 0x00));
	aml_free(&b);
}

static void test_name_strings_invalid(void **state)
{
	static const char *const bad[] = { "",	 "1ABC", "ABCDE", "abc",	  "A..B", "A.",
					   ".A", "\\.",	 "A-B",	  "\\_SB_.COM12", NULL };
	unsigned int i;

	(void)state;
	for (i = 0; bad[i]; i++) {
		struct aml_buf b;

		aml_init(&b);
		aml_name_string(&b, bad[i]);
		if (aml_error(&b) != -EINVAL)
			fail_msg("name \"%s\" accepted", bad[i]);
		aml_free(&b);
	}
}

/* The first error sticks and later emitters do nothing. */
static void test_sticky_error(void **state)
{
	struct aml_buf b;
	size_t len;

	(void)state;
	aml_init(&b);
	aml_integer(&b, 5);
	aml_name(&b, "TOOLONG");
	len = b.len;
	aml_integer(&b, 7);
	aml_string(&b, "x");
	assert_int_equal(aml_error(&b), -EINVAL);
	assert_int_equal(b.len, len);
	aml_free(&b);

	aml_init(&b);
	aml_close(&b, 0); /* nothing open */
	assert_int_equal(aml_error(&b), -EINVAL);
	aml_free(&b);
}

static void test_strings_and_eisaid(void **state)
{
	struct aml_buf b;

	(void)state;
	aml_init(&b);
	aml_string(&b, "LNRO0005");
	assert_bytes(&b, BYTES(0x0d, 'L', 'N', 'R', 'O', '0', '0', '0', '5', 0));
	aml_free(&b);

	aml_init(&b);
	aml_string(&b, "\xc3\xa9");
	assert_int_equal(aml_error(&b), -EINVAL);
	aml_free(&b);

	/* iasl: EISAID("PNP0501") = 0x0105D041, EISAID("PNP0A03") = 0x030AD041 */
	aml_init(&b);
	aml_eisaid(&b, "PNP0501");
	aml_eisaid(&b, "PNP0A03");
	assert_bytes(&b, BYTES(0x0c, 0x41, 0xd0, 0x05, 0x01, 0x0c, 0x41, 0xd0, 0x0a, 0x03));
	aml_free(&b);

	static const char *const bad[] = { "pnp0501", "PNP050G", "PNP05", "PNP05011",
					   "PN10501", "PNP0a03", NULL };
	for (unsigned int i = 0; bad[i]; i++) {
		aml_init(&b);
		aml_eisaid(&b, bad[i]);
		if (aml_error(&b) != -EINVAL)
			fail_msg("EISAID \"%s\" accepted", bad[i]);
		aml_free(&b);
	}
}

static void test_device_method_package(void **state)
{
	struct aml_buf b;
	size_t dev, m, pkg;

	(void)state;
	aml_init(&b);
	dev = aml_device_open(&b, "COM1");
	aml_name(&b, "_UID");
	aml_integer(&b, 0);
	aml_close(&b, dev);
	/* Device(COM1){Name(_UID, Zero)}: 10 bytes of contents, PkgLength 11 */
	assert_bytes(&b,
		     BYTES(0x5b, 0x82, 0x0b, 'C', 'O', 'M', '1', 0x08, '_', 'U', 'I', 'D', 0x00));
	aml_free(&b);

	aml_init(&b);
	m = aml_method_open(&b, "_STA", 0, false);
	aml_return(&b);
	aml_integer(&b, 0x0f);
	aml_close(&b, m);
	m = aml_method_open(&b, "FOO", 3, true);
	aml_close(&b, m);
	assert_bytes(&b, BYTES(0x14, 0x09, '_', 'S', 'T', 'A', 0x00, 0xa4, 0x0a, 0x0f, 0x14, 0x06,
			       'F', 'O', 'O', '_', 0x0b));
	aml_free(&b);

	aml_init(&b);
	aml_name(&b, "\\_S5_");
	pkg = aml_package_open(&b, 4);
	aml_integer(&b, 5);
	aml_integer(&b, 0);
	aml_integer(&b, 0);
	aml_integer(&b, 0);
	aml_close(&b, pkg);
	assert_bytes(&b,
		     BYTES(0x08, '\\', '_', 'S', '5', '_', 0x12, 0x07, 0x04, 0x0a, 0x05, 0, 0, 0));
	aml_free(&b);

	aml_init(&b);
	(void)aml_method_open(&b, "BAD", 8, false);
	assert_int_equal(aml_error(&b), -EINVAL);
	aml_free(&b);
}

/* The GED's building blocks (ACPI 6.4 20.2.5): OperationRegion, a Field
 * with one named field, Store/And/If/Notify in prefix order, Local0. */
static void test_region_field_statements(void **state)
{
	struct aml_buf b;
	size_t cond;

	(void)state;
	aml_init(&b);
	aml_op_region(&b, "GDST", AML_SPACE_SYSTEM_IO, 0x604, 1);
	aml_field(&b, "GDST", AML_FIELD_BYTE_ACC, "GDAT", 8);
	/* OperationRegion(GDST, SystemIO, 0x604, One); Field(GDST, ByteAcc)
	 * {GDAT, 8}: PkgLength 11 = itself, NameSeg, flags, NameSeg, 8 */
	assert_bytes(&b, BYTES(0x5b, 0x80, 'G', 'D', 'S', 'T', 0x01, 0x0b, 0x04, 0x06, 0x01, 0x5b,
			       0x81, 0x0b, 'G', 'D', 'S', 'T', 0x01, 'G', 'D', 'A', 'T', 0x08));
	aml_free(&b);

	aml_init(&b);
	aml_store(&b);
	aml_name_string(&b, "GDAT");
	aml_local(&b, 0);
	cond = aml_if_open(&b);
	aml_and(&b);
	aml_local(&b, 0);
	aml_integer(&b, 1);
	aml_null_target(&b);
	aml_notify(&b);
	aml_name_string(&b, "PWRB");
	aml_integer(&b, 0x80);
	aml_close(&b, cond);
	/* Store(GDAT, Local0); If(And(Local0, One, NullName)) {Notify(PWRB, 0x80)} */
	assert_bytes(&b, BYTES(0x70, 'G', 'D', 'A', 'T', 0x60, 0xa0, 0x0c, 0x7b, 0x60, 0x01, 0x00,
			       0x86, 'P', 'W', 'R', 'B', 0x0a, 0x80));
	aml_free(&b);

	/* a field name must be one bare NameSeg, its width 1..63 bits; a
	 * local 0..7 */
	aml_init(&b);
	aml_field(&b, "GDST", AML_FIELD_BYTE_ACC, "\\GDA", 8);
	assert_int_equal(aml_error(&b), -EINVAL);
	aml_free(&b);
	aml_init(&b);
	aml_field(&b, "GDST", AML_FIELD_BYTE_ACC, "GDAT", 64);
	assert_int_equal(aml_error(&b), -EINVAL);
	aml_free(&b);
	aml_init(&b);
	aml_local(&b, 8);
	assert_int_equal(aml_error(&b), -EINVAL);
	aml_free(&b);
}

/* An inner object that shrinks its PkgLength must leave the outer one right. */
static void test_nesting(void **state)
{
	uint8_t data[100];
	struct aml_buf b;
	size_t scope, dev;
	unsigned int nb;

	(void)state;
	memset(data, 0x33, sizeof(data));
	aml_init(&b);
	scope = aml_scope_open(&b, "\\_SB_");
	dev = aml_device_open(&b, "DEV0");
	aml_name(&b, "BUF0");
	aml_buffer(&b, data, sizeof(data));
	aml_close(&b, dev);
	dev = aml_device_open(&b, "DEV1");
	aml_close(&b, dev);
	aml_close(&b, scope);
	assert_int_equal(aml_error(&b), 0);

	/* Buffer: 0x11, PkgLength(2), 0x0a 0x64, 100 bytes = 105.
	 * DEV0: 5b 82, PkgLength(2) over name 4 + Name 5 + 105 = 114 -> 116.
	 * DEV1: 5b 82 05 "DEV1" = 7. Scope: 10, PkgLength(2) over 5 + 118 + 7. */
	assert_int_equal(b.data[0], 0x10);
	assert_int_equal(decode_pkglength(b.data + 1, &nb), 2 + 5 + 118 + 7);
	assert_int_equal(nb, 2);
	assert_int_equal(b.len, 1 + 2 + 5 + 118 + 7);
	assert_mem(b.data + 8, BYTES(0x5b, 0x82));
	assert_int_equal(decode_pkglength(b.data + 10, &nb), 116);
	assert_mem(b.data + b.len - 7, BYTES(0x5b, 0x82, 0x05, 'D', 'E', 'V', '1'));
	aml_free(&b);
}

static void test_resource_template(void **state)
{
	struct aml_buf r, b;

	(void)state;
	aml_init(&r);
	aml_res_io(&r, 0x3f8, 0x3f8, 1, 8);
	aml_res_irq_noflags(&r, 4);
	aml_res_memory32_fixed(&r, true, 0xd0000000, 0x1000);
	aml_res_ext_irq(&r, AML_IRQ_CONSUMER, 5);
	aml_res_end(&r);
	assert_int_equal(aml_error(&r), 0);
	assert_int_equal(r.len, 8 + 3 + 12 + 9 + 2);
	assert_mem(r.data,
		   BYTES(0x47, 0x01, 0xf8, 0x03, 0xf8, 0x03, 0x01, 0x08, /* IO */
			 0x22, 0x10, 0x00,				 /* IRQNoFlags */
			 0x86, 0x09, 0x00, 0x01, 0x00, 0x00, 0x00, 0xd0, 0x00, 0x10, 0x00,
			 0x00,						       /* Memory32Fixed */
			 0x89, 0x06, 0x00, 0x01, 0x01, 0x05, 0x00, 0x00, 0x00, /* Interrupt */
			 0x79));
	assert_int_equal(fw_sum8(r.data, r.len), 0);

	aml_init(&b);
	aml_resource_template(&b, &r);
	assert_int_equal(aml_error(&b), 0);
	/* Buffer(34){...}: 0x11, PkgLength 1 + 2 + 34 = 37, 0x0a 0x22 */
	assert_int_equal(b.len, 1 + 1 + 2 + 34);
	assert_mem(b.data, BYTES(0x11, 37, 0x0a, 34));
	assert_memory_equal(b.data + 4, r.data, r.len);
	aml_free(&b);
	aml_free(&r);

	/* A template without its end tag is refused. */
	aml_init(&r);
	aml_init(&b);
	aml_res_io(&r, 0x505, 0x505, 1, 1);
	aml_resource_template(&b, &r);
	assert_int_equal(aml_error(&b), -EINVAL);
	aml_free(&b);
	aml_free(&r);

	/* ISA IRQs are 0..15; flag bits above bit 4 do not exist. */
	aml_init(&r);
	aml_res_irq_noflags(&r, 16);
	assert_int_equal(aml_error(&r), -EINVAL);
	aml_free(&r);
	aml_init(&r);
	aml_res_ext_irq(&r, 1U << 5, 5);
	assert_int_equal(aml_error(&r), -EINVAL);
	aml_free(&r);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_pkglength_boundaries),
		cmocka_unit_test(test_pkglength_roundtrip),
		cmocka_unit_test(test_buffer_sizes),
		cmocka_unit_test(test_integers),
		cmocka_unit_test(test_name_strings),
		cmocka_unit_test(test_name_strings_invalid),
		cmocka_unit_test(test_sticky_error),
		cmocka_unit_test(test_strings_and_eisaid),
		cmocka_unit_test(test_device_method_package),
		cmocka_unit_test(test_region_field_statements),
		cmocka_unit_test(test_nesting),
		cmocka_unit_test(test_resource_template),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
