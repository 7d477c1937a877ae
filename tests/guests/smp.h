/* SPDX-License-Identifier: MIT */
/*
 * Addresses shared by the smp guest's BSP code (smp.c) and its real-mode AP
 * trampoline (smp_trampoline.S). Everything sits in the 64 KiB that
 * base/layout.h leaves free for guests (0x10000..0x1ffff): the trampoline is
 * copied to its start, and the APs address the rest through DS = SS =
 * 0x1000, so the offsets below are relative to SMP_TRAMPOLINE.
 */
#ifndef SMP_H
#define SMP_H

#define SMP_TRAMPOLINE	   0x10000
#define SMP_SIPI_VECTOR	   (SMP_TRAMPOLINE >> 12) /* SIPI starts at vector << 12 */
#define SMP_TRAMPOLINE_MAX 0x1000
#define SMP_LOCK_OFF	   0x1000 /* u8 console spinlock: 0 free, 1 held */
#define SMP_COUNT_OFF	   0x1004 /* u16: APs that came up */
#define SMP_SEEN_OFF	   0x1100 /* u8[256]: seen[apic id] = 1 */
#define SMP_DATA_SIZE	   0x200
#define SMP_STACK_TOP_OFF  0xf000 /* AP stacks grow down from here, */
#define SMP_STACK_SHIFT	   6	  /* 64 bytes per APIC id: 0x1b000..0x1efff */

#endif /* SMP_H */
