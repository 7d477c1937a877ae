/* SPDX-License-Identifier: MIT */
/*
 * ACPI tables for a hardware-reduced machine (ACPI 6.4 section 4.1:
 * no PM1/GPE blocks, no SCI, no FACS; sleep and reset through the FADT's
 * SLEEP_CONTROL_REG, SLEEP_STATUS_REG and RESET_REG). Section numbers are
 * those of ACPI 6.4; the FADT is the 6.0 layout (revision 6, 276 bytes).
 *
 *   RSDP (5.2.5) at `start` -> XSDT (5.2.8) -> FADT (5.2.9) -> DSDT (5.2.11.1)
 *                                          -> MADT (5.2.12)
 *
 * Linux finds the RSDP by scanning 0xe0000..0xfffff on 16-byte boundaries
 * (drivers/acpi/acpica/tbxfroot.c) and uses the XSDT when the RSDP's
 * revision is 2 or more. Structures are little-endian; vmm runs on x86-64
 * hosts only.
 */
#include "firmware/acpi.h"

#include <errno.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "firmware/aml.h"
#include "firmware/checksum.h"
#include "base/layout.h"

#define ACPI_OEM_ID	      "VMM   "
#define ACPI_OEM_REVISION     1
#define ACPI_CREATOR_ID	      "VMM "
#define ACPI_CREATOR_REVISION 1
#define ACPI_TABLE_ALIGN      16

/* 5.2.5.3 Root System Description Pointer */
struct acpi_rsdp {
	char signature[8]; /* "RSD PTR " */
	uint8_t checksum;  /* first 20 bytes (the ACPI 1.0 structure) */
	char oem_id[6];
	uint8_t revision;      /* 2: ACPI 2.0+, XSDT */
	uint32_t rsdt_address; /* 0: no RSDT, the XSDT is authoritative */
	uint32_t length;
	uint64_t xsdt_address;
	uint8_t extended_checksum; /* all 36 bytes */
	uint8_t reserved[3];
} __attribute__((packed));
_Static_assert(sizeof(struct acpi_rsdp) == 36, "RSDP is 36 bytes");

/* 5.2.6 System Description Table Header */
struct acpi_header {
	char signature[4];
	uint32_t length;
	uint8_t revision;
	uint8_t checksum; /* the whole table sums to 0 */
	char oem_id[6];
	char oem_table_id[8];
	uint32_t oem_revision;
	char creator_id[4];
	uint32_t creator_revision;
} __attribute__((packed));
_Static_assert(sizeof(struct acpi_header) == 36, "table header is 36 bytes");

/* 5.2.3.2 Generic Address Structure */
struct acpi_gas {
	uint8_t space_id; /* 1: System I/O */
	uint8_t bit_width;
	uint8_t bit_offset;
	uint8_t access_size; /* 1: byte access */
	uint64_t address;
} __attribute__((packed));
_Static_assert(sizeof(struct acpi_gas) == 12, "GAS is 12 bytes");

#define ACPI_GAS_SYSTEM_IO   1
#define ACPI_GAS_ACCESS_BYTE 1

/* 5.2.8 XSDT: the FADT and the MADT (the DSDT hangs off the FADT). */
#define ACPI_XSDT_ENTRIES 2
struct acpi_xsdt {
	struct acpi_header h;
	uint64_t entry[ACPI_XSDT_ENTRIES];
} __attribute__((packed));

/* 5.2.9 Fixed ACPI Description Table (Table 5.9), revision 6. The fields
 * a hardware-reduced platform must leave zero are kept as reserved blocks. */
struct acpi_fadt {
	struct acpi_header h;
	uint32_t firmware_ctrl; /* FACS: none (optional when hardware-reduced) */
	uint32_t dsdt;		/* 0: X_DSDT is used */
	uint8_t reserved0;
	uint8_t preferred_pm_profile;
	uint16_t sci_int;
	uint32_t smi_cmd;
	uint8_t legacy_blocks[57]; /* ACPI_ENABLE .. CENTURY: all zero (5.2.9) */
	uint16_t iapc_boot_arch;
	uint8_t reserved1;
	uint32_t flags;
	struct acpi_gas reset_reg;
	uint8_t reset_value;
	uint16_t arm_boot_arch;
	uint8_t minor_version;
	uint64_t x_firmware_ctrl;
	uint64_t x_dsdt;
	struct acpi_gas x_legacy_blocks[8]; /* X_PM1a_EVT_BLK .. X_GPE1_BLK */
	struct acpi_gas sleep_control_reg;
	struct acpi_gas sleep_status_reg;
	char hypervisor_vendor_id[8];
} __attribute__((packed));
_Static_assert(sizeof(struct acpi_fadt) == 276, "FADT revision 6 is 276 bytes");
_Static_assert(offsetof(struct acpi_fadt, iapc_boot_arch) == 109, "IAPC_BOOT_ARCH at 109");
_Static_assert(offsetof(struct acpi_fadt, flags) == 112, "Flags at 112");
_Static_assert(offsetof(struct acpi_fadt, reset_reg) == 116, "RESET_REG at 116");
_Static_assert(offsetof(struct acpi_fadt, x_dsdt) == 140, "X_DSDT at 140");
_Static_assert(offsetof(struct acpi_fadt, sleep_control_reg) == 244, "SLEEP_CONTROL_REG at 244");
_Static_assert(offsetof(struct acpi_fadt, hypervisor_vendor_id) == 268, "vendor id at 268");

/* 5.2.9.3 IA-PC Boot Architecture Flags */
#define ACPI_IAPC_VGA_NOT_PRESENT      (1U << 2)
#define ACPI_IAPC_MSI_NOT_SUPPORTED    (1U << 3)
#define ACPI_IAPC_PCIE_ASPM_CONTROLS   (1U << 4) /* OSPM must not enable ASPM */
#define ACPI_IAPC_CMOS_RTC_NOT_PRESENT (1U << 5)
/* 5.2.9.1 Fixed ACPI Description Table Fixed Feature Flags */
#define ACPI_FADT_RESET_REG_SUP	       (1U << 10)
#define ACPI_FADT_HW_REDUCED_ACPI      (1U << 20)

/* 5.2.12 Multiple APIC Description Table */
struct acpi_madt {
	struct acpi_header h;
	uint32_t lapic_address;
	uint32_t flags; /* PCAT_COMPAT clear: no 8259s to disable */
} __attribute__((packed));

/* 5.2.12.2 Processor Local APIC Structure */
struct acpi_madt_lapic {
	uint8_t type, length;
	uint8_t processor_uid;
	uint8_t apic_id;
	uint32_t flags; /* bit 0: enabled */
} __attribute__((packed));

/* 5.2.12.3 I/O APIC Structure */
struct acpi_madt_ioapic {
	uint8_t type, length;
	uint8_t ioapic_id;
	uint8_t reserved;
	uint32_t address;
	uint32_t gsi_base;
} __attribute__((packed));

/* 5.2.12.5 Interrupt Source Override Structure */
struct acpi_madt_iso {
	uint8_t type, length;
	uint8_t bus; /* 0: ISA */
	uint8_t source;
	uint32_t gsi;
	uint16_t flags; /* 0: polarity and trigger conform to the bus */
} __attribute__((packed));

/* 5.2.12.7 Local APIC NMI Structure */
struct acpi_madt_lapic_nmi {
	uint8_t type, length;
	uint8_t processor_uid; /* 0xff: all processors */
	uint16_t flags;
	uint8_t lint;
} __attribute__((packed));
_Static_assert(sizeof(struct acpi_madt) == 44 && sizeof(struct acpi_madt_lapic) == 8 &&
		       sizeof(struct acpi_madt_ioapic) == 12 &&
		       sizeof(struct acpi_madt_iso) == 10 &&
		       sizeof(struct acpi_madt_lapic_nmi) == 6,
	       "MADT structure sizes");

enum {
	ACPI_MADT_LAPIC = 0,
	ACPI_MADT_IOAPIC = 1,
	ACPI_MADT_ISO = 2,
	ACPI_MADT_LAPIC_NMI = 4,
};

/* Fill a header; the checksum is set by acpi_finish() once the body is. */
static void acpi_header_init(struct acpi_header *h, const char *sig, uint32_t len, uint8_t rev,
			     const char *table_id)
{
	memcpy(h->signature, sig, 4);
	h->length = len;
	h->revision = rev;
	h->checksum = 0;
	memcpy(h->oem_id, ACPI_OEM_ID, 6);
	memcpy(h->oem_table_id, table_id, 8);
	h->oem_revision = ACPI_OEM_REVISION;
	memcpy(h->creator_id, ACPI_CREATOR_ID, 4);
	h->creator_revision = ACPI_CREATOR_REVISION;
}

static void acpi_finish(void *table, size_t len)
{
	struct acpi_header *h = table;

	h->checksum = 0;
	h->checksum = fw_checksum8(table, len);
}

static struct acpi_gas acpi_gas_io8(uint16_t port)
{
	return (struct acpi_gas){
		.space_id = ACPI_GAS_SYSTEM_IO,
		.bit_width = 8,
		.bit_offset = 0,
		.access_size = ACPI_GAS_ACCESS_BYTE,
		.address = port,
	};
}

static void acpi_build_fadt(struct acpi_fadt *f, uint64_t dsdt)
{
	memset(f, 0, sizeof(*f));
	acpi_header_init(&f->h, "FACP", sizeof(*f), 6, "VMMFACP ");
	f->iapc_boot_arch = ACPI_IAPC_VGA_NOT_PRESENT | ACPI_IAPC_MSI_NOT_SUPPORTED |
			    ACPI_IAPC_PCIE_ASPM_CONTROLS | ACPI_IAPC_CMOS_RTC_NOT_PRESENT;
	f->flags = ACPI_FADT_HW_REDUCED_ACPI | ACPI_FADT_RESET_REG_SUP;
	/* 4.8.3.6 Reset Register: a byte write of RESET_VALUE resets. */
	f->reset_reg = acpi_gas_io8(LAYOUT_PORT_ACPI_RESET);
	f->reset_value = LAYOUT_ACPI_RESET_VALUE;
	f->minor_version = 0;
	f->x_dsdt = dsdt;
	/*
	 * 4.8.3.7-8: the guest enters S5 by writing SLP_TYP (from \_S5) << 2 |
	 * SLP_EN to SLEEP_CONTROL_REG (ACPICA hwxfsleep.c/hwesleep.c, after
	 * clearing WAK_STS in SLEEP_STATUS_REG). Linux only offers S5 when
	 * both registers are present (drivers/acpi/sleep.c,
	 * acpi_sleep_state_supported()).
	 */
	f->sleep_control_reg = acpi_gas_io8(LAYOUT_PORT_ACPI_SLEEP_CTL);
	f->sleep_status_reg = acpi_gas_io8(LAYOUT_PORT_ACPI_SLEEP_STS);
	memcpy(f->hypervisor_vendor_id, "vmm     ", 8);
	acpi_finish(f, sizeof(*f));
}

static size_t acpi_madt_size(unsigned int ncpus)
{
	return sizeof(struct acpi_madt) + ncpus * sizeof(struct acpi_madt_lapic) +
	       sizeof(struct acpi_madt_ioapic) + sizeof(struct acpi_madt_iso) +
	       sizeof(struct acpi_madt_lapic_nmi);
}

static void acpi_put(uint8_t **p, const void *src, size_t n)
{
	memcpy(*p, src, n);
	*p += n;
}

/* `buf` holds acpi_madt_size(ncpus) bytes. */
static void acpi_build_madt(uint8_t *buf, unsigned int ncpus)
{
	size_t len = acpi_madt_size(ncpus);
	struct acpi_madt madt = { .lapic_address = (uint32_t)LAYOUT_LAPIC_ADDR, .flags = 0 };
	struct acpi_madt_ioapic ioapic = {
		.type = ACPI_MADT_IOAPIC,
		.length = sizeof(ioapic),
		.ioapic_id = (uint8_t)ncpus,
		.address = (uint32_t)LAYOUT_IOAPIC_ADDR,
		.gsi_base = 0,
	};
	/* The PIT's IRQ 0 is wired to IOAPIC pin 2 (as in the MP table). */
	struct acpi_madt_iso iso = {
		.type = ACPI_MADT_ISO,
		.length = sizeof(iso),
		.bus = 0,
		.source = 0,
		.gsi = 2,
	};
	/* LINT1 of every local APIC is the NMI input (virtual wire mode). */
	struct acpi_madt_lapic_nmi nmi = {
		.type = ACPI_MADT_LAPIC_NMI,
		.length = sizeof(nmi),
		.processor_uid = 0xff,
		.lint = 1,
	};
	uint8_t *p = buf + sizeof(madt);
	unsigned int i;

	for (i = 0; i < ncpus; i++) {
		struct acpi_madt_lapic lapic = {
			.type = ACPI_MADT_LAPIC,
			.length = sizeof(lapic),
			.processor_uid = (uint8_t)i,
			.apic_id = (uint8_t)i,
			.flags = 1,
		};

		acpi_put(&p, &lapic, sizeof(lapic));
	}
	acpi_put(&p, &ioapic, sizeof(ioapic));
	acpi_put(&p, &iso, sizeof(iso));
	acpi_put(&p, &nmi, sizeof(nmi));
	acpi_header_init(&madt.h, "APIC", (uint32_t)len, 4, "VMMMADT ");
	memcpy(buf, &madt, sizeof(madt));
	acpi_finish(buf, len);
}

/* Name(_CRS, ResourceTemplate(){...}) from a finished descriptor list. */
static void dsdt_crs(struct aml_buf *b, struct aml_buf *res)
{
	aml_res_end(res);
	aml_name(b, "_CRS");
	aml_resource_template(b, res);
	aml_free(res);
}

static void dsdt_com1(struct aml_buf *b)
{
	struct aml_buf res;
	size_t dev = aml_device_open(b, "COM1");

	aml_name(b, "_HID");
	aml_eisaid(b, "PNP0501"); /* 16550A-compatible COM port */
	aml_name(b, "_UID");
	aml_integer(b, 0);
	aml_init(&res);
	aml_res_io(&res, LAYOUT_PORT_COM1, LAYOUT_PORT_COM1, 1, 8);
	aml_res_irq_noflags(&res, LAYOUT_COM1_IRQ);
	dsdt_crs(b, &res);
	aml_close(b, dev);
}

/* QEMU's pvpanic ISA device; Linux's pvpanic-mmio driver binds to
 * "QEMU0001" and takes an I/O resource (drivers/misc/pvpanic). */
static void dsdt_pvpanic(struct aml_buf *b)
{
	struct aml_buf res;
	size_t dev = aml_device_open(b, "PEVT"), sta;

	aml_name(b, "_HID");
	aml_string(b, "QEMU0001");
	aml_init(&res);
	aml_res_io(&res, LAYOUT_PORT_PVPANIC, LAYOUT_PORT_PVPANIC, 1, 1);
	dsdt_crs(b, &res);
	/* 6.3.7 _STA: present, enabled, shown in the UI, functioning. */
	sta = aml_method_open(b, "_STA", 0, false);
	aml_return(b);
	aml_integer(b, 0x0f);
	aml_close(b, sta);
	aml_close(b, dev);
}

/* virtio-mmio (Linux drivers/virtio/virtio_mmio.c matches "LNRO0005"). */
static void dsdt_virtio_mmio(struct aml_buf *b, unsigned int i, const struct acpi_mmio_dev *d)
{
	struct aml_buf res;
	char name[8];
	size_t dev;

	snprintf(name, sizeof(name), "VR%02X", i & 0xff);
	dev = aml_device_open(b, name);
	aml_name(b, "_HID");
	aml_string(b, "LNRO0005");
	aml_name(b, "_UID");
	aml_integer(b, i);
	aml_init(&res);
	aml_res_memory32_fixed(&res, true, (uint32_t)d->base, d->size);
	/* An Extended Interrupt descriptor: Linux takes its trigger and
	 * polarity as given, without the ISA defaults (drivers/acpi/resource.c).
	 * Edge, active high: the VMM signals through a KVM irqfd, which raises
	 * and lowers the pin at once. Declared level, a second interrupt that
	 * arrives while the first is still unacknowledged (remote IRR set)
	 * would be lost. */
	aml_res_ext_irq(&res, AML_IRQ_CONSUMER | AML_IRQ_EDGE, d->irq);
	dsdt_crs(b, &res);
	aml_close(b, dev);
}

/* The DSDT (header and AML) into `b`; header length and checksum set. */
/*
 * The power button of a hardware-reduced machine (ACPI 6.4, 5.6.9 and
 * 4.8.2.2.1.2): a PNP0C0C device that a Generic Event Device notifies.
 *
 *   Device (GED_) { _HID "ACPI0013", _CRS Interrupt (Edge, ActiveHigh) {irq}
 *       OperationRegion (GDST, SystemIO, port, 1)
 *       Field (GDST, ByteAcc, NoLock, Preserve) { GDAT, 8 }
 *       Method (_EVT, 1, Serialized) {
 *           Local0 = GDAT            // read-to-clear: the pending events
 *           If (Local0 & 1) { Notify (\_SB.PWRB, 0x80) }   // 0x80: pressed
 *   } }
 *   Device (PWRB) { _HID EISAID ("PNP0C0C") }
 */
static void dsdt_ged(struct aml_buf *b, const struct acpi_config *cfg)
{
	struct aml_buf res;
	size_t dev = aml_device_open(b, "GED_"), evt, cond;

	aml_name(b, "_HID");
	aml_string(b, "ACPI0013");
	aml_name(b, "_UID");
	aml_integer(b, 0);
	aml_init(&res);
	aml_res_ext_irq(&res, AML_IRQ_CONSUMER | AML_IRQ_EDGE, cfg->ged_irq);
	dsdt_crs(b, &res);
	aml_op_region(b, "GDST", AML_SPACE_SYSTEM_IO, cfg->ged_port, 1);
	aml_field(b, "GDST", AML_FIELD_BYTE_ACC, "GDAT", 8);
	evt = aml_method_open(b, "_EVT", 1, true);
	aml_store(b);
	aml_name_string(b, "GDAT");
	aml_local(b, 0);
	cond = aml_if_open(b);
	aml_and(b);
	aml_local(b, 0);
	aml_integer(b, 1); /* GED_EVENT_POWER_BUTTON */
	aml_null_target(b);
	aml_notify(b);
	aml_name_string(b, "\\_SB_.PWRB");
	aml_integer(b, 0x80);
	aml_close(b, cond);
	aml_close(b, evt);
	aml_close(b, dev);

	dev = aml_device_open(b, "PWRB");
	aml_name(b, "_HID");
	aml_eisaid(b, "PNP0C0C");
	aml_name(b, "_UID");
	aml_integer(b, 0);
	aml_close(b, dev);
}

static int acpi_build_dsdt(struct aml_buf *b, const struct acpi_config *cfg)
{
	struct acpi_header h;
	size_t sb, pkg;
	unsigned int i;
	int ret;

	memset(&h, 0, sizeof(h));
	aml_append(b, &h, sizeof(h));

	sb = aml_scope_open(b, "\\_SB_");
	dsdt_com1(b);
	dsdt_pvpanic(b);
	for (i = 0; i < cfg->nmmio_devs; i++)
		dsdt_virtio_mmio(b, i, &cfg->mmio_devs[i]);
	if (cfg->ged_port)
		dsdt_ged(b, cfg);
	aml_close(b, sb);

	/*
	 * 7.4.2 \_S5: Package {SLP_TYPa, SLP_TYPb, reserved, reserved}. With a
	 * hardware-reduced FADT, SLP_TYPa is what goes into SLEEP_CONTROL_REG
	 * bits 2..4 (ACPICA acpi_hw_extended_sleep()): 5 << 2 | SLP_EN = 0x34.
	 */
	aml_name(b, "\\_S5_");
	pkg = aml_package_open(b, 4);
	aml_integer(b, LAYOUT_ACPI_SLP_TYP_S5);
	aml_integer(b, 0);
	aml_integer(b, 0);
	aml_integer(b, 0);
	aml_close(b, pkg);

	ret = aml_error(b);
	if (ret < 0)
		return ret;
	if (b->len > UINT32_MAX)
		return -E2BIG;
	/* Revision 2: integers are 64 bits wide (5.2.11.1). */
	acpi_header_init(&h, "DSDT", (uint32_t)b->len, 2, "VMMDSDT ");
	memcpy(b->data, &h, sizeof(h));
	acpi_finish(b->data, b->len);
	return 0;
}

static int acpi_check_config(const struct acpi_config *cfg)
{
	unsigned int i;

	if (cfg->ncpus == 0 || cfg->ncpus > ACPI_MAX_CPUS)
		return -EINVAL;
	if (cfg->nmmio_devs > ACPI_MAX_MMIO_DEVS)
		return -EINVAL;
	for (i = 0; i < cfg->nmmio_devs; i++) {
		const struct acpi_mmio_dev *d = &cfg->mmio_devs[i];

		/* Memory32Fixed: the window lies below 4 GiB. The GSI is a pin
		 * of the one IOAPIC (GSI base 0). */
		if (d->size == 0 || d->base > LAYOUT_MMIO_HOLE_END ||
		    d->size > LAYOUT_MMIO_HOLE_END - d->base || d->irq >= LAYOUT_IOAPIC_PINS)
			return -EINVAL;
	}
	if (cfg->ged_port && cfg->ged_irq >= LAYOUT_IOAPIC_PINS)
		return -EINVAL;
	return 0;
}

static uint64_t acpi_align(uint64_t v)
{
	return (v + ACPI_TABLE_ALIGN - 1) & ~(uint64_t)(ACPI_TABLE_ALIGN - 1);
}

int acpi_write_tables(const struct guest_mem *gm, uint64_t start, uint64_t end,
		      const struct acpi_config *cfg)
{
	uint64_t rsdp_at = start, xsdt_at, fadt_at, madt_at, dsdt_at, top;
	size_t madt_len = acpi_madt_size(cfg->ncpus);
	struct acpi_rsdp rsdp;
	struct acpi_xsdt xsdt;
	struct acpi_fadt fadt;
	struct aml_buf dsdt;
	uint8_t *madt = NULL;
	int ret;

	if ((start & (ACPI_TABLE_ALIGN - 1)) || start >= end || end - start > UINT32_MAX)
		return -EINVAL;
	/* The whole area must be RAM: every write below stays inside it. */
	if (!gm_slice(gm, start, end - start))
		return -EFAULT;
	ret = acpi_check_config(cfg);
	if (ret < 0)
		return ret;

	aml_init(&dsdt);
	ret = acpi_build_dsdt(&dsdt, cfg);
	if (ret < 0)
		goto out;

	/* Offsets relative to `start` are below 2^32 + a few KiB: no overflow. */
	xsdt_at = acpi_align(rsdp_at + sizeof(rsdp));
	fadt_at = acpi_align(xsdt_at + sizeof(xsdt));
	madt_at = acpi_align(fadt_at + sizeof(fadt));
	dsdt_at = acpi_align(madt_at + madt_len);
	top = dsdt_at + dsdt.len;
	if (top > end || top < start) {
		ret = -ENOSPC;
		goto out;
	}

	madt = calloc(1, madt_len);
	if (!madt) {
		ret = -ENOMEM;
		goto out;
	}
	acpi_build_madt(madt, cfg->ncpus);
	acpi_build_fadt(&fadt, dsdt_at);

	memset(&xsdt, 0, sizeof(xsdt));
	acpi_header_init(&xsdt.h, "XSDT", sizeof(xsdt), 1, "VMMXSDT ");
	xsdt.entry[0] = fadt_at;
	xsdt.entry[1] = madt_at;
	acpi_finish(&xsdt, sizeof(xsdt));

	memset(&rsdp, 0, sizeof(rsdp));
	memcpy(rsdp.signature, "RSD PTR ", 8);
	memcpy(rsdp.oem_id, ACPI_OEM_ID, 6);
	rsdp.revision = 2;
	rsdp.length = sizeof(rsdp);
	rsdp.xsdt_address = xsdt_at;
	rsdp.checksum = fw_checksum8(&rsdp, 20); /* 5.2.5.3: the ACPI 1.0 part */
	rsdp.extended_checksum = fw_checksum8(&rsdp, sizeof(rsdp));

	ret = gm_write(gm, rsdp_at, &rsdp, sizeof(rsdp));
	if (!ret)
		ret = gm_write(gm, xsdt_at, &xsdt, sizeof(xsdt));
	if (!ret)
		ret = gm_write(gm, fadt_at, &fadt, sizeof(fadt));
	if (!ret)
		ret = gm_write(gm, madt_at, madt, madt_len);
	if (!ret)
		ret = gm_write(gm, dsdt_at, dsdt.data, dsdt.len);
out:
	free(madt);
	aml_free(&dsdt);
	return ret;
}
