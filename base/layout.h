/* SPDX-License-Identifier: MIT */
/*
 * The machine vmm builds, in one place: every guest-physical address and
 * I/O port the VMM, its firmware tables and its devices agree on.
 *
 * Like every base/ header it includes nothing from the project, so every
 * layer may use it. The composition root (vmm/vm.c) and the device manager
 * (vmm/vm_virtio.c) read these values and hand each device its addresses
 * and interrupt line; devices do not pick their own.
 */
// clang-format off
/*
 *   guest-physical                 what sits there
 *   ---------------------------    -----------------------------------------------
 *   0x0000_0500                    boot GDT (4 entries), then an empty IDT
 *   0x0000_7000 .. 0x0000_7fff     zero page (struct boot_params)
 *   0x0000_8000 .. 0x0000_8fff     boot CPU's initial stack (grows down)
 *   0x0000_9000 .. 0x0000_efff     page tables: PML4, PDPT, 4 PDs
 *                                    (identity map of 0..4G with 2M pages)
 *   0x0001_0000 .. 0x0001_ffff     free for guests (test guests' AP trampoline)
 *   0x0002_0000 .. 0x0002_ffff     kernel command line
 *   0x0009_fc00 .. 0x0009_ffff     reserved (where an EBDA would be)
 *   0x000e_0000 .. 0x000e_ffff     ACPI: RSDP at 0xe0000, then XSDT, FADT, MADT, DSDT
 *   0x000f_0000 .. 0x000f_ffff     MP floating pointer and MP configuration table
 *   0x0010_0000 .. top of low RAM  RAM: the kernel (at 1M or its ELF p_paddr),
 *                                    the initrd near the top
 *   0xc000_0000 .. 0xffff_ffff     32-bit MMIO hole:
 *     0xd000_0000 + n * 0x1000       virtio-mmio window of device n
 *     0xfec0_0000                    IOAPIC
 *     0xfee0_0000                    LAPIC
 *   0x1_0000_0000 ..               RAM above the hole when --mem is over 3 GiB
 *
 *   I/O ports: 0x60/0x64 i8042, 0x70/0x71 CMOS RTC, 0x80 POST sink,
 *   0x3f8 COM1 (IRQ 4), 0x501 debug-exit, 0x505 pvpanic,
 *   0x600..0x602 ACPI sleep control/status and reset registers.
 */
// clang-format on
#ifndef BASE_LAYOUT_H
#define BASE_LAYOUT_H

/* ---- guest-physical memory ---- */
#define LAYOUT_GDT_ADDR	      0x500ULL
#define LAYOUT_IDT_ADDR	      0x520ULL
#define LAYOUT_ZERO_PAGE      0x7000ULL
#define LAYOUT_BOOT_STACK_TOP 0x8ff0ULL
#define LAYOUT_PML4	      0x9000ULL
#define LAYOUT_PDPT	      0xa000ULL
#define LAYOUT_PD	      0xb000ULL /* 4 pages: 0xb000 .. 0xefff */
#define LAYOUT_GUEST_FREE     0x10000ULL
#define LAYOUT_CMDLINE	      0x20000ULL
#define LAYOUT_CMDLINE_MAX    0x10000ULL
#define LAYOUT_EBDA_START     0x9fc00ULL
#define LAYOUT_LOW_RAM_END    0xa0000ULL /* end of conventional memory (640K) */
#define LAYOUT_ACPI_START     0xe0000ULL /* RSDP; Linux scans 0xe0000..0xfffff */
#define LAYOUT_ACPI_END	      0xf0000ULL
#define LAYOUT_MPTABLE_START  0xf0000ULL /* Linux scans 0xf0000..0xfffff */
#define LAYOUT_BIOS_END	      0x100000ULL
#define LAYOUT_KERNEL_START   0x100000ULL /* 1 MiB */

#define LAYOUT_MMIO_HOLE_START	 0xc0000000ULL	/* 3 GiB */
#define LAYOUT_MMIO_HOLE_END	 0x100000000ULL /* 4 GiB */
#define LAYOUT_VIRTIO_MMIO_START 0xd0000000ULL	/* virtio-mmio windows, 4 KiB each */
#define LAYOUT_VIRTIO_MMIO_SIZE	 0x1000ULL
#define LAYOUT_IOAPIC_ADDR	 0xfec00000ULL
#define LAYOUT_LAPIC_ADDR	 0xfee00000ULL
#define LAYOUT_HIGH_RAM_START	 0x100000000ULL

/* ---- I/O ports ---- */
#define LAYOUT_PORT_I8042_DATA	   0x60
#define LAYOUT_PORT_I8042_CMD	   0x64 /* write 0xfe: pulse the reset line */
#define LAYOUT_PORT_RTC		   0x70 /* CMOS RTC index/data (0x70, 0x71) */
#define LAYOUT_PORT_POST	   0x80 /* Linux's io_delay writes here; a sink */
#define LAYOUT_PORT_COM1	   0x3f8
#define LAYOUT_COM1_IRQ		   4
#define LAYOUT_PORT_DEBUG_EXIT	   0x501 /* write byte v: the VMM exits with status v */
#define LAYOUT_PORT_PVPANIC	   0x505 /* QEMU's pvpanic ISA port (ACPI QEMU0001) */
/* ACPI hardware-reduced registers (FADT SLEEP_CONTROL/SLEEP_STATUS/RESET_REG) */
#define LAYOUT_PORT_ACPI_SLEEP_CTL 0x600
#define LAYOUT_PORT_ACPI_SLEEP_STS 0x601
#define LAYOUT_PORT_ACPI_RESET	   0x602
#define LAYOUT_ACPI_RESET_VALUE	   0x01
/* the ACPI Generic Event Device's register (devices/ged.h), and its GSI:
 * the IOAPIC's last pin, above the virtio devices' 5..20 */
#define LAYOUT_PORT_GED		   0x604
#define LAYOUT_GED_IRQ		   23
/* sleep control: SLP_EN is bit 5, SLP_TYP bits 2..4 (ACPI 6.4, 4.8.3.7);
 * Linux writes (5 << 2) | (1 << 5) = 0x34 to enter S5 with our _S5 package. */
#define LAYOUT_ACPI_SLP_TYP_S5	   5
#define LAYOUT_ACPI_SLP_EN	   0x20

/* ---- interrupts ---- */
#define LAYOUT_IOAPIC_PINS     24
#define LAYOUT_VIRTIO_IRQ_BASE 5 /* first GSI handed to virtio-mmio devices */

#endif /* BASE_LAYOUT_H */
