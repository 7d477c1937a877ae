/* SPDX-License-Identifier: MIT */
/*
 * A tiny AML (ACPI Machine Language) writer: just enough of ACPI 6.4
 * chapter 20 ("ACPI Machine Language Specification") and section 6.4
 * ("Resource Data Types") to describe a few devices in a DSDT.
 *
 * Everything is appended to a growable byte buffer. Errors are sticky: the
 * emitters return nothing, the first failure (-ENOMEM, -EINVAL for a bad
 * name or value, -E2BIG for a package longer than PkgLength can express) is
 * kept in the buffer and every later call does nothing. Check it once with
 * aml_error() when the table is complete.
 *
 * Objects with a PkgLength (Scope, Device, Method, Package, Buffer) are
 * written in two steps: aml_*_open() writes the opcode, reserves the
 * largest (4-byte) PkgLength and returns a mark; the caller appends the
 * contents; aml_close(mark) encodes the real length in as few bytes as
 * possible and moves the contents down. Opens and closes must nest.
 *
 *   struct aml_buf b;
 *   aml_init(&b);
 *   size_t sb = aml_scope_open(&b, "\\_SB_");
 *   size_t dev = aml_device_open(&b, "COM1");
 *   aml_name(&b, "_HID");
 *   aml_eisaid(&b, "PNP0501");
 *   aml_close(&b, dev);
 *   aml_close(&b, sb);
 *   if (aml_error(&b)) ...
 *   aml_free(&b);
 */
#ifndef FIRMWARE_AML_H
#define FIRMWARE_AML_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct aml_buf {
	uint8_t *data;
	size_t len;
	size_t cap;
	int err; /* first error, 0 while all is well */
};

/* Largest value of a 4-byte PkgLength (20.2.4: 28 bits). */
#define AML_PKGLENGTH_MAX 0x0fffffffU

void aml_init(struct aml_buf *b);
void aml_free(struct aml_buf *b);
int aml_error(const struct aml_buf *b) __attribute__((warn_unused_result));

/* Raw bytes (table headers, resource descriptors). */
void aml_append(struct aml_buf *b, const void *p, size_t n);
void aml_byte(struct aml_buf *b, uint8_t v);

/*
 * PkgLength (20.2.4) for `content_len` bytes following it: the encoded
 * length counts the PkgLength bytes themselves. Writes 1..4 bytes to
 * `out` and returns how many, or -E2BIG.
 */
int aml_pkglength_encode(size_t content_len, uint8_t out[4]) __attribute__((warn_unused_result));

/*
 * NameString (20.2.2): a path such as "\\_SB_.COM1", "^PCI0", "_S5_" or
 * "FOO" (segments shorter than four characters are padded with '_').
 * Segment characters: leading A-Z or '_', then A-Z, 0-9 or '_'.
 */
void aml_name_string(struct aml_buf *b, const char *path);

/* Data objects (20.2.3). */
void aml_integer(struct aml_buf *b, uint64_t v);   /* Zero/One/Byte/Word/DWord/QWord */
void aml_string(struct aml_buf *b, const char *s); /* ASCII 0x01..0x7f */
void aml_buffer(struct aml_buf *b, const void *data, size_t n);
/* EISAID("PNP0501"): three upper-case letters and four hex digits packed
 * into a DWord, as iasl's EISAID() macro does. */
void aml_eisaid(struct aml_buf *b, const char *id);

/* Name(name, <data object that the caller appends next>) */
void aml_name(struct aml_buf *b, const char *name);
/* Return(<term that the caller appends next>) */
void aml_return(struct aml_buf *b);

/* Objects with a PkgLength: open, append the contents, aml_close(). */
size_t aml_scope_open(struct aml_buf *b, const char *name);
size_t aml_device_open(struct aml_buf *b, const char *name);
size_t aml_method_open(struct aml_buf *b, const char *name, unsigned int nargs, bool serialized);
/* Package with `nelems` elements (the caller appends exactly that many). */
size_t aml_package_open(struct aml_buf *b, unsigned int nelems);
void aml_close(struct aml_buf *b, size_t mark);

/* OperationRegion(name, space, offset, len) */
#define AML_SPACE_SYSTEM_MEMORY 0x00
#define AML_SPACE_SYSTEM_IO	0x01
void aml_op_region(struct aml_buf *b, const char *name, uint8_t space, uint64_t offset,
		   uint64_t len);
/* Field(region, flags) { field, bits }: one named field of 1..63 bits;
 * flags: access type in bits 0-3, lock rule bit 4, update rule bits 5-6. */
#define AML_FIELD_BYTE_ACC 0x01
void aml_field(struct aml_buf *b, const char *region, uint8_t flags, const char *field,
	       unsigned int bits);
/*
 * Statements and expressions, in prefix order as AML writes them: the
 * opcode here, its operands appended next by the caller.
 *   Store(source, target)      aml_store, source, target
 *   And(a, b, target)          aml_and, a, b, target (aml_null_target: none)
 *   Notify(object, value)      aml_notify, name string, integer
 *   If (predicate) { ... }     aml_if_open, predicate, the body, aml_close
 */
void aml_local(struct aml_buf *b, unsigned int n); /* Local0..Local7 */
void aml_store(struct aml_buf *b);
void aml_and(struct aml_buf *b);
void aml_null_target(struct aml_buf *b);
void aml_notify(struct aml_buf *b);
size_t aml_if_open(struct aml_buf *b);

/*
 * Resource descriptors (6.4), appended to a buffer of their own which then
 * becomes a Buffer object: aml_res_end() adds the End Tag with a checksum
 * over the whole template, aml_resource_template() emits it.
 */
void aml_res_io(struct aml_buf *r, uint16_t min, uint16_t max, uint8_t align, uint8_t len);
void aml_res_irq_noflags(struct aml_buf *r, unsigned int irq); /* ISA IRQ 0..15 */
void aml_res_memory32_fixed(struct aml_buf *r, bool writable, uint32_t base, uint32_t size);

#define AML_IRQ_CONSUMER   (1U << 0)
#define AML_IRQ_EDGE	   (1U << 1) /* clear: level triggered */
#define AML_IRQ_ACTIVE_LOW (1U << 2) /* clear: active high */
#define AML_IRQ_SHARED	   (1U << 3) /* clear: exclusive */
#define AML_IRQ_WAKE	   (1U << 4)
/* Extended Interrupt descriptor (6.4.3.6) with one interrupt number. */
void aml_res_ext_irq(struct aml_buf *r, unsigned int flags, uint32_t gsi);
void aml_res_end(struct aml_buf *r);
/* Buffer(){template}: `r` must end with aml_res_end(). */
void aml_resource_template(struct aml_buf *b, const struct aml_buf *r);

#endif /* FIRMWARE_AML_H */
