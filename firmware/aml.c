/* SPDX-License-Identifier: MIT */
/*
 * The AML writer described in aml.h. Section numbers are those of the ACPI
 * 6.4 specification.
 */
#include "firmware/aml.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "firmware/checksum.h"

/* Opcodes (20.3 "AML Byte Stream Byte Values") */
#define AML_ZERO_OP	       0x00
#define AML_ONE_OP	       0x01
#define AML_NAME_OP	       0x08
#define AML_BYTE_PREFIX	       0x0a
#define AML_WORD_PREFIX	       0x0b
#define AML_DWORD_PREFIX       0x0c
#define AML_STRING_PREFIX      0x0d
#define AML_QWORD_PREFIX       0x0e
#define AML_SCOPE_OP	       0x10
#define AML_BUFFER_OP	       0x11
#define AML_PACKAGE_OP	       0x12
#define AML_METHOD_OP	       0x14
#define AML_DUAL_NAME_PREFIX   0x2e
#define AML_MULTI_NAME_PREFIX  0x2f
#define AML_EXT_OP_PREFIX      0x5b
#define AML_EXT_DEVICE_OP      0x82
#define AML_ROOT_CHAR	       '\\'
#define AML_PARENT_PREFIX_CHAR '^'
#define AML_RETURN_OP	       0xa4
#define AML_EXT_OP_REGION_OP   0x80
#define AML_EXT_FIELD_OP       0x81
#define AML_LOCAL0_OP	       0x60
#define AML_STORE_OP	       0x70
#define AML_AND_OP	       0x7b
#define AML_NOTIFY_OP	       0x86
#define AML_IF_OP	       0xa0

/* Resource descriptor tags (6.4.2 small items, 6.4.3 large items) */
#define AML_RES_IRQ_NOFLAGS    0x22 /* small item 0x04, length 2 */
#define AML_RES_IO	       0x47 /* small item 0x08, length 7 */
#define AML_RES_END_TAG	       0x79 /* small item 0x0f, length 1 */
#define AML_RES_MEMORY32_FIXED 0x86
#define AML_RES_EXT_IRQ	       0x89

/* aml_*_open() reserves the largest PkgLength; aml_close() shrinks it. */
#define AML_PKGLENGTH_RESERVED 4

void aml_init(struct aml_buf *b)
{
	memset(b, 0, sizeof(*b));
}

void aml_free(struct aml_buf *b)
{
	free(b->data);
	memset(b, 0, sizeof(*b));
}

int aml_error(const struct aml_buf *b)
{
	return b->err;
}

static void aml_fail(struct aml_buf *b, int err)
{
	if (!b->err)
		b->err = err;
}

void aml_append(struct aml_buf *b, const void *p, size_t n)
{
	size_t need;

	if (b->err || n == 0)
		return;
	if (__builtin_add_overflow(b->len, n, &need)) {
		aml_fail(b, -E2BIG);
		return;
	}
	if (need > b->cap) {
		size_t cap = b->cap ? b->cap : 256;
		uint8_t *p2;

		while (cap < need) {
			if (__builtin_mul_overflow(cap, 2, &cap)) {
				aml_fail(b, -E2BIG);
				return;
			}
		}
		p2 = realloc(b->data, cap);
		if (!p2) {
			aml_fail(b, -ENOMEM);
			return;
		}
		b->data = p2;
		b->cap = cap;
	}
	memcpy(b->data + b->len, p, n);
	b->len = need;
}

void aml_byte(struct aml_buf *b, uint8_t v)
{
	aml_append(b, &v, 1);
}

static void aml_le(struct aml_buf *b, uint64_t v, unsigned int n)
{
	uint8_t tmp[8];
	unsigned int i;

	for (i = 0; i < n; i++)
		tmp[i] = (uint8_t)(v >> (8 * i));
	aml_append(b, tmp, n);
}

/*
 * 20.2.4: the top two bits of the lead byte count the bytes that follow.
 * With none, bits 0-5 hold the length (up to 63); otherwise bits 0-3 hold
 * its low nibble and each following byte eight more bits. The length
 * includes the PkgLength bytes themselves.
 */
int aml_pkglength_encode(size_t content_len, uint8_t out[4])
{
	static const uint32_t max_total[4] = { 0x3f, 0xfff, 0xfffff, AML_PKGLENGTH_MAX };
	unsigned int n, i;

	for (n = 1; n <= 4; n++) {
		size_t total = content_len + n;

		if (content_len > AML_PKGLENGTH_MAX || total > max_total[n - 1])
			continue;
		if (n == 1) {
			out[0] = (uint8_t)total;
			return 1;
		}
		out[0] = (uint8_t)(((n - 1) << 6) | (total & 0x0f));
		for (i = 1; i < n; i++)
			out[i] = (uint8_t)(total >> (4 + 8 * (i - 1)));
		return (int)n;
	}
	return -E2BIG;
}

static size_t aml_pkg_reserve(struct aml_buf *b)
{
	static const uint8_t zero[AML_PKGLENGTH_RESERVED];
	size_t mark = b->len;

	aml_append(b, zero, sizeof(zero));
	return mark;
}

void aml_close(struct aml_buf *b, size_t mark)
{
	uint8_t enc[4];
	size_t body, content_len;
	int n;

	if (b->err)
		return;
	if (mark > b->len || b->len - mark < AML_PKGLENGTH_RESERVED) {
		aml_fail(b, -EINVAL);
		return;
	}
	body = mark + AML_PKGLENGTH_RESERVED;
	content_len = b->len - body;
	n = aml_pkglength_encode(content_len, enc);
	if (n < 0) {
		aml_fail(b, n);
		return;
	}
	memcpy(b->data + mark, enc, (size_t)n);
	memmove(b->data + mark + n, b->data + body, content_len);
	b->len -= AML_PKGLENGTH_RESERVED - (size_t)n;
}

static bool aml_seg_char_ok(char c, bool lead)
{
	if ((c >= 'A' && c <= 'Z') || c == '_')
		return true;
	return !lead && c >= '0' && c <= '9';
}

/* 20.2.2: NameString := <RootChar NamePath> | <PrefixPath NamePath>. */
void aml_name_string(struct aml_buf *b, const char *path)
{
	uint8_t segs[255][4];
	unsigned int nsegs = 0, i;
	const char *p = path;

	if (!path || !*path) {
		aml_fail(b, -EINVAL);
		return;
	}
	if (*p == AML_ROOT_CHAR) {
		aml_byte(b, AML_ROOT_CHAR);
		p++;
	} else {
		while (*p == AML_PARENT_PREFIX_CHAR) {
			aml_byte(b, AML_PARENT_PREFIX_CHAR);
			p++;
		}
	}
	while (*p) {
		unsigned int n = 0;

		if (nsegs == 255) {
			aml_fail(b, -EINVAL);
			return;
		}
		memset(segs[nsegs], '_', 4);
		while (*p && *p != '.') {
			if (n == 4 || !aml_seg_char_ok(*p, n == 0)) {
				aml_fail(b, -EINVAL);
				return;
			}
			segs[nsegs][n++] = (uint8_t)*p++;
		}
		if (n == 0) {
			aml_fail(b, -EINVAL); /* empty segment: "..", leading or trailing '.' */
			return;
		}
		nsegs++;
		if (*p == '.' && *++p == '\0') {
			aml_fail(b, -EINVAL);
			return;
		}
	}
	if (nsegs == 0) {
		aml_byte(b, 0x00); /* NullName: only "\\" or "^" */
		return;
	}
	if (nsegs == 2) {
		aml_byte(b, AML_DUAL_NAME_PREFIX);
	} else if (nsegs > 2) {
		aml_byte(b, AML_MULTI_NAME_PREFIX);
		aml_byte(b, (uint8_t)nsegs);
	}
	for (i = 0; i < nsegs; i++)
		aml_append(b, segs[i], 4);
}

/* 20.2.3 ComputationalData: the smallest of ZeroOp, OneOp and the
 * Byte/Word/DWord/QWord prefixes. OnesOp is not used: its value depends on
 * the table revision (32 or 64 bits). */
void aml_integer(struct aml_buf *b, uint64_t v)
{
	if (v == 0) {
		aml_byte(b, AML_ZERO_OP);
	} else if (v == 1) {
		aml_byte(b, AML_ONE_OP);
	} else if (v <= 0xff) {
		aml_byte(b, AML_BYTE_PREFIX);
		aml_le(b, v, 1);
	} else if (v <= 0xffff) {
		aml_byte(b, AML_WORD_PREFIX);
		aml_le(b, v, 2);
	} else if (v <= 0xffffffffULL) {
		aml_byte(b, AML_DWORD_PREFIX);
		aml_le(b, v, 4);
	} else {
		aml_byte(b, AML_QWORD_PREFIX);
		aml_le(b, v, 8);
	}
}

void aml_string(struct aml_buf *b, const char *s)
{
	const char *p;

	if (!s) {
		aml_fail(b, -EINVAL);
		return;
	}
	for (p = s; *p; p++) {
		if ((unsigned char)*p > 0x7f) {
			aml_fail(b, -EINVAL); /* AsciiCharList: 0x01-0x7f */
			return;
		}
	}
	aml_byte(b, AML_STRING_PREFIX);
	aml_append(b, s, strlen(s) + 1);
}

/* DefBuffer := BufferOp PkgLength BufferSize ByteList */
void aml_buffer(struct aml_buf *b, const void *data, size_t n)
{
	size_t mark;

	aml_byte(b, AML_BUFFER_OP);
	mark = aml_pkg_reserve(b);
	aml_integer(b, n);
	aml_append(b, data, n);
	aml_close(b, mark);
}

static int hex_digit(char c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'A' && c <= 'F')
		return c - 'A' + 10;
	return -1;
}

/*
 * The compressed EISA id: bytes 0-1 hold the three letters, five bits each
 * ('A' = 1), big-endian; bytes 2-3 the four hex digits as written. The
 * DWord in AML is those four bytes in memory order.
 */
void aml_eisaid(struct aml_buf *b, const char *id)
{
	uint32_t letters = 0;
	uint8_t out[4];
	int i;

	if (!id || strlen(id) != 7) {
		aml_fail(b, -EINVAL);
		return;
	}
	for (i = 0; i < 3; i++) {
		if (id[i] < 'A' || id[i] > 'Z') {
			aml_fail(b, -EINVAL);
			return;
		}
		letters = (letters << 5) | (uint32_t)(id[i] - 0x40);
	}
	out[0] = (uint8_t)(letters >> 8);
	out[1] = (uint8_t)letters;
	for (i = 0; i < 2; i++) {
		int hi = hex_digit(id[3 + 2 * i]), lo = hex_digit(id[4 + 2 * i]);

		if (hi < 0 || lo < 0) {
			aml_fail(b, -EINVAL);
			return;
		}
		out[2 + i] = (uint8_t)(hi << 4 | lo);
	}
	aml_integer(b, (uint32_t)out[0] | (uint32_t)out[1] << 8 | (uint32_t)out[2] << 16 |
			       (uint32_t)out[3] << 24);
}

void aml_name(struct aml_buf *b, const char *name)
{
	aml_byte(b, AML_NAME_OP);
	aml_name_string(b, name);
}

void aml_return(struct aml_buf *b)
{
	aml_byte(b, AML_RETURN_OP);
}

/* DefScope := ScopeOp PkgLength NameString TermList */
size_t aml_scope_open(struct aml_buf *b, const char *name)
{
	size_t mark;

	aml_byte(b, AML_SCOPE_OP);
	mark = aml_pkg_reserve(b);
	aml_name_string(b, name);
	return mark;
}

/* DefDevice := DeviceOp(0x5b 0x82) PkgLength NameString TermList */
size_t aml_device_open(struct aml_buf *b, const char *name)
{
	size_t mark;

	aml_byte(b, AML_EXT_OP_PREFIX);
	aml_byte(b, AML_EXT_DEVICE_OP);
	mark = aml_pkg_reserve(b);
	aml_name_string(b, name);
	return mark;
}

/* DefMethod := MethodOp PkgLength NameString MethodFlags TermList;
 * MethodFlags: bits 0-2 ArgCount, bit 3 SerializeFlag, bits 4-7 SyncLevel. */
size_t aml_method_open(struct aml_buf *b, const char *name, unsigned int nargs, bool serialized)
{
	size_t mark;

	if (nargs > 7)
		aml_fail(b, -EINVAL);
	aml_byte(b, AML_METHOD_OP);
	mark = aml_pkg_reserve(b);
	aml_name_string(b, name);
	aml_byte(b, (uint8_t)((nargs & 7) | (serialized ? 1U << 3 : 0)));
	return mark;
}

/* DefOpRegion := OpRegionOp(0x5b 0x80) NameString RegionSpace(ByteData)
 * RegionOffset(TermArg) RegionLen(TermArg) */
void aml_op_region(struct aml_buf *b, const char *name, uint8_t space, uint64_t offset,
		   uint64_t len)
{
	aml_byte(b, AML_EXT_OP_PREFIX);
	aml_byte(b, AML_EXT_OP_REGION_OP);
	aml_name_string(b, name);
	aml_byte(b, space);
	aml_integer(b, offset);
	aml_integer(b, len);
}

/* DefField := FieldOp(0x5b 0x81) PkgLength NameString FieldFlags FieldList,
 * here one NamedField := NameSeg PkgLength(bits): a length under 64 bits
 * is its own one-byte PkgLength (20.2.5.2). */
void aml_field(struct aml_buf *b, const char *region, uint8_t flags, const char *field,
	       unsigned int bits)
{
	size_t mark;

	if (bits == 0 || bits > 63 || strlen(field) != 4 || strchr(field, '.') ||
	    field[0] == AML_ROOT_CHAR || field[0] == AML_PARENT_PREFIX_CHAR)
		aml_fail(b, -EINVAL);
	aml_byte(b, AML_EXT_OP_PREFIX);
	aml_byte(b, AML_EXT_FIELD_OP);
	mark = aml_pkg_reserve(b);
	aml_name_string(b, region);
	aml_byte(b, flags);
	aml_name_string(b, field); /* one segment: the bare NameSeg */
	aml_byte(b, (uint8_t)bits);
	aml_close(b, mark);
}

void aml_local(struct aml_buf *b, unsigned int n)
{
	if (n > 7)
		aml_fail(b, -EINVAL);
	aml_byte(b, (uint8_t)(AML_LOCAL0_OP + (n & 7)));
}

void aml_store(struct aml_buf *b)
{
	aml_byte(b, AML_STORE_OP);
}

void aml_and(struct aml_buf *b)
{
	aml_byte(b, AML_AND_OP);
}

void aml_null_target(struct aml_buf *b)
{
	aml_byte(b, AML_ZERO_OP); /* NullName, the same byte as Zero */
}

void aml_notify(struct aml_buf *b)
{
	aml_byte(b, AML_NOTIFY_OP);
}

/* DefIfElse := IfOp PkgLength Predicate TermList (no Else) */
size_t aml_if_open(struct aml_buf *b)
{
	size_t mark;

	aml_byte(b, AML_IF_OP);
	mark = aml_pkg_reserve(b);
	return mark;
}

/* DefPackage := PackageOp PkgLength NumElements(ByteData) PackageElementList */
size_t aml_package_open(struct aml_buf *b, unsigned int nelems)
{
	size_t mark;

	if (nelems > 255)
		aml_fail(b, -EINVAL); /* more needs VarPackageOp */
	aml_byte(b, AML_PACKAGE_OP);
	mark = aml_pkg_reserve(b);
	aml_byte(b, (uint8_t)nelems);
	return mark;
}

/* 6.4.2.5 I/O Port Descriptor; information bit 0: 16-bit decode. */
void aml_res_io(struct aml_buf *r, uint16_t min, uint16_t max, uint8_t align, uint8_t len)
{
	uint8_t d[8] = { AML_RES_IO,   0x01,
			 (uint8_t)min, (uint8_t)(min >> 8),
			 (uint8_t)max, (uint8_t)(max >> 8),
			 align,	       len };

	aml_append(r, d, sizeof(d));
}

/* 6.4.2.1 IRQ Descriptor without the flags byte: edge, active high,
 * exclusive. Bit n of the mask is ISA IRQ n. */
void aml_res_irq_noflags(struct aml_buf *r, unsigned int irq)
{
	uint8_t d[3] = { AML_RES_IRQ_NOFLAGS, 0, 0 };

	if (irq > 15) {
		aml_fail(r, -EINVAL);
		return;
	}
	d[1] = (uint8_t)(1U << irq);
	d[2] = (uint8_t)((1U << irq) >> 8);
	aml_append(r, d, sizeof(d));
}

/* 6.4.3.4 32-Bit Fixed Memory Range Descriptor; information bit 0:
 * read/write. */
void aml_res_memory32_fixed(struct aml_buf *r, bool writable, uint32_t base, uint32_t size)
{
	aml_byte(r, AML_RES_MEMORY32_FIXED);
	aml_le(r, 9, 2); /* length of what follows the length field */
	aml_byte(r, writable ? 1 : 0);
	aml_le(r, base, 4);
	aml_le(r, size, 4);
}

/* 6.4.3.6 Extended Interrupt Descriptor with one interrupt and no
 * resource source. */
void aml_res_ext_irq(struct aml_buf *r, unsigned int flags, uint32_t gsi)
{
	if (flags & ~0x1fU) {
		aml_fail(r, -EINVAL);
		return;
	}
	aml_byte(r, AML_RES_EXT_IRQ);
	aml_le(r, 6, 2); /* flags, table length, one DWord */
	aml_byte(r, (uint8_t)flags);
	aml_byte(r, 1);
	aml_le(r, gsi, 4);
}

/* 6.4.2.9 End Tag: the checksum makes the bytes of the whole template,
 * end tag included, sum to zero. */
void aml_res_end(struct aml_buf *r)
{
	aml_byte(r, AML_RES_END_TAG);
	if (r->err)
		return;
	aml_byte(r, fw_checksum8(r->data, r->len));
}

void aml_resource_template(struct aml_buf *b, const struct aml_buf *r)
{
	if (r->err) {
		aml_fail(b, r->err);
		return;
	}
	if (r->len < 2 || r->data[r->len - 2] != AML_RES_END_TAG) {
		aml_fail(b, -EINVAL);
		return;
	}
	aml_buffer(b, r->data, r->len);
}
