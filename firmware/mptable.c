/* SPDX-License-Identifier: MIT */
/*
 * Intel MultiProcessor Specification, version 1.4 (May 1997): chapter 4,
 * "MP Configuration Table". Linux (arch/x86/kernel/mpparse.c) finds the
 * floating pointer by scanning 0xf0000..0xfffff on 16-byte boundaries,
 * checks its signature, length, revision and checksum, then reads the
 * configuration table at its physical pointer.
 *
 * The structures are little-endian; vmm runs on x86-64 hosts only.
 */
#include "firmware/mptable.h"

#include <errno.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>

#include "firmware/checksum.h"
#include "base/layout.h"

#define MP_SPEC_REV 4 /* 1.4 */

/* 4.1 MP Floating Pointer Structure (Table 4-1) */
struct mpf_intel {
	char signature[4]; /* "_MP_" */
	uint32_t physptr;  /* configuration table */
	uint8_t length;	   /* in 16-byte units: 1 */
	uint8_t spec_rev;
	uint8_t checksum; /* all 16 bytes sum to 0 */
	uint8_t feature1; /* 0: a configuration table is present */
	uint8_t feature2; /* bit 7 IMCRP clear: virtual wire mode, no IMCR */
	uint8_t feature3[3];
} __attribute__((packed));
_Static_assert(sizeof(struct mpf_intel) == 16, "MP floating pointer is 16 bytes");

/* 4.2 MP Configuration Table Header (Table 4-2) */
struct mpc_table {
	char signature[4]; /* "PCMP" */
	uint16_t length;   /* base table: header and entries */
	uint8_t spec_rev;
	uint8_t checksum; /* base table sums to 0 */
	char oem[8];
	char product[12];
	uint32_t oem_ptr;
	uint16_t oem_size;
	uint16_t count; /* entries in the base table */
	uint32_t lapic;
	uint16_t ext_length;
	uint8_t ext_checksum;
	uint8_t reserved;
} __attribute__((packed));
_Static_assert(sizeof(struct mpc_table) == 44, "MP config table header is 44 bytes");

enum { MP_PROCESSOR = 0, MP_BUS = 1, MP_IOAPIC = 2, MP_INTSRC = 3, MP_LINTSRC = 4 };

/* 4.3.1 Processor Entries (Table 4-4) */
struct mpc_cpu {
	uint8_t type;
	uint8_t apicid;
	uint8_t apicver;
	uint8_t cpuflag;      /* bit 0 EN, bit 1 BP */
	uint32_t cpufeature;  /* CPUID.1 EAX: stepping, model, family */
	uint32_t featureflag; /* CPUID.1 EDX */
	uint32_t reserved[2];
} __attribute__((packed));
_Static_assert(sizeof(struct mpc_cpu) == 20, "processor entry is 20 bytes");

#define MP_CPU_ENABLED	 0x01
#define MP_CPU_BSP	 0x02
#define MP_APIC_VERSION	 0x14 /* integrated xAPIC */
/* Family 6, model 0, stepping 0 and FPU + APIC (CPUID.1 EDX bits 0 and 9):
 * what kvmtool and Firecracker report. Linux only logs these. */
#define MP_CPU_SIGNATURE 0x600
#define MP_CPU_FEATURES	 ((1U << 0) | (1U << 9))

/* 4.3.2 Bus Entries (Table 4-8) */
struct mpc_bus {
	uint8_t type;
	uint8_t busid;
	char bustype[6]; /* "ISA   " */
} __attribute__((packed));

/* 4.3.3 I/O APIC Entries (Table 4-10) */
struct mpc_ioapic {
	uint8_t type;
	uint8_t apicid;
	uint8_t apicver;
	uint8_t flags; /* bit 0 EN */
	uint32_t apicaddr;
} __attribute__((packed));

#define MP_IOAPIC_VERSION 0x11

/* 4.3.4 I/O Interrupt Assignment Entries (Table 4-12) and 4.3.5 Local
 * Interrupt Assignment Entries (Table 4-14) share a layout. */
struct mpc_intsrc {
	uint8_t type;
	uint8_t irqtype;  /* 0 INT, 1 NMI, 2 SMI, 3 ExtINT */
	uint16_t irqflag; /* 0: polarity and trigger conform to the bus (ISA: high, edge) */
	uint8_t srcbus;
	uint8_t srcbusirq;
	uint8_t dstapic; /* I/O APIC id, or 0xff: all local APICs */
	uint8_t dstirq;	 /* INTIN or LINTIN */
} __attribute__((packed));
_Static_assert(sizeof(struct mpc_bus) == 8 && sizeof(struct mpc_ioapic) == 8 &&
		       sizeof(struct mpc_intsrc) == 8,
	       "bus, I/O APIC and interrupt entries are 8 bytes");

enum { MP_IRQ_INT = 0, MP_IRQ_NMI = 1, MP_IRQ_EXTINT = 3 };

#define MP_ISA_BUS_ID 0
#define MP_ISA_IRQS   16 /* IRQ 2 is the cascade and is not routed */
#define MP_ALL_LAPICS 0xff

static size_t mptable_size(unsigned int ncpus)
{
	return sizeof(struct mpf_intel) + sizeof(struct mpc_table) +
	       ncpus * sizeof(struct mpc_cpu) + sizeof(struct mpc_bus) + sizeof(struct mpc_ioapic) +
	       (MP_ISA_IRQS - 1) * sizeof(struct mpc_intsrc) + 2 * sizeof(struct mpc_intsrc);
}

static void mp_intsrc(uint8_t **p, uint8_t type, uint8_t irqtype, uint8_t srcbusirq,
		      uint8_t dstapic, uint8_t dstirq)
{
	struct mpc_intsrc e = {
		.type = type,
		.irqtype = irqtype,
		.irqflag = 0,
		.srcbus = MP_ISA_BUS_ID,
		.srcbusirq = srcbusirq,
		.dstapic = dstapic,
		.dstirq = dstirq,
	};

	memcpy(*p, &e, sizeof(e));
	*p += sizeof(e);
}

int mptable_write(const struct guest_mem *gm, uint64_t gpa, uint64_t limit, unsigned int ncpus)
{
	size_t size;
	uint64_t end;
	uint8_t *buf, *p;
	struct mpf_intel mpf;
	struct mpc_table mpc;
	unsigned int i;
	uint8_t ioapic_id = (uint8_t)ncpus;
	int ret;

	if (ncpus == 0 || ncpus > MPTABLE_MAX_CPUS)
		return -EINVAL;
	/* Linux only looks at 16-byte boundaries; the physical pointer is 32 bits. */
	if (gpa & 15)
		return -EINVAL;
	size = mptable_size(ncpus);
	if (__builtin_add_overflow(gpa, size, &end) || end > limit)
		return -ENOSPC;
	if (end > LAYOUT_MMIO_HOLE_END)
		return -EINVAL;

	buf = calloc(1, size);
	if (!buf)
		return -ENOMEM;

	/* Configuration table, right after the floating pointer. */
	p = buf + sizeof(mpf) + sizeof(mpc);
	for (i = 0; i < ncpus; i++) {
		struct mpc_cpu cpu = {
			.type = MP_PROCESSOR,
			.apicid = (uint8_t)i,
			.apicver = MP_APIC_VERSION,
			.cpuflag = MP_CPU_ENABLED | (i == 0 ? MP_CPU_BSP : 0),
			.cpufeature = MP_CPU_SIGNATURE,
			.featureflag = MP_CPU_FEATURES,
		};

		memcpy(p, &cpu, sizeof(cpu));
		p += sizeof(cpu);
	}
	{
		struct mpc_bus bus = { .type = MP_BUS, .busid = MP_ISA_BUS_ID };
		struct mpc_ioapic ioapic = {
			.type = MP_IOAPIC,
			.apicid = ioapic_id,
			.apicver = MP_IOAPIC_VERSION,
			.flags = 1,
			.apicaddr = (uint32_t)LAYOUT_IOAPIC_ADDR,
		};

		memcpy(bus.bustype, "ISA   ", 6);
		memcpy(p, &bus, sizeof(bus));
		p += sizeof(bus);
		memcpy(p, &ioapic, sizeof(ioapic));
		p += sizeof(ioapic);
	}
	/* ISA IRQs to I/O APIC pins: identity, except that the PIT's IRQ 0
	 * is wired to pin 2 (as on every PC since the IOAPIC; Linux assumes it
	 * without an override) and the cascade IRQ 2 does not exist. */
	for (i = 0; i < MP_ISA_IRQS; i++) {
		if (i == 2)
			continue;
		mp_intsrc(&p, MP_INTSRC, MP_IRQ_INT, (uint8_t)i, ioapic_id,
			  i == 0 ? 2 : (uint8_t)i);
	}
	/* The local APICs' LINT0 takes the 8259's ExtINT (virtual wire
	 * mode), LINT1 the NMI (MP spec 5.1, default configurations). */
	mp_intsrc(&p, MP_LINTSRC, MP_IRQ_EXTINT, 0, MP_ALL_LAPICS, 0);
	mp_intsrc(&p, MP_LINTSRC, MP_IRQ_NMI, 0, MP_ALL_LAPICS, 1);

	memset(&mpc, 0, sizeof(mpc));
	memcpy(mpc.signature, "PCMP", 4);
	mpc.length = (uint16_t)(size - sizeof(mpf));
	mpc.spec_rev = MP_SPEC_REV;
	memcpy(mpc.oem, "VMM     ", 8);
	memcpy(mpc.product, "VMM MPTABLE ", 12);
	mpc.count = (uint16_t)(ncpus + 2 + (MP_ISA_IRQS - 1) + 2);
	mpc.lapic = (uint32_t)LAYOUT_LAPIC_ADDR;
	memcpy(buf + sizeof(mpf), &mpc, sizeof(mpc));
	buf[sizeof(mpf) + offsetof(struct mpc_table, checksum)] =
		fw_checksum8(buf + sizeof(mpf), mpc.length);

	memset(&mpf, 0, sizeof(mpf));
	memcpy(mpf.signature, "_MP_", 4);
	mpf.physptr = (uint32_t)(gpa + sizeof(mpf));
	mpf.length = 1;
	mpf.spec_rev = MP_SPEC_REV;
	mpf.checksum = fw_checksum8(&mpf, sizeof(mpf));
	memcpy(buf, &mpf, sizeof(mpf));

	ret = gm_write(gm, gpa, buf, size);
	free(buf);
	return ret;
}
