/* SPDX-License-Identifier: MIT */
/*
 * The little library every test guest is linked with.
 *
 * A guest is entered by the vmm in 64-bit mode at its ELF entry point with
 * paging on (identity map of 0..4 GiB), interrupts off and rsi = the
 * guest-physical address of the zero page (Linux's struct boot_params,
 * Documentation/arch/x86/zero-page.rst). The entry stub (start.S) sets up a
 * stack, calls guest_main(zero_page) and hands its return value to
 * debug_exit(), so a guest that returns ends the VM with that status.
 *
 * Ring-0 code is interpreted on PVM hosts (~1.5 us per instruction), so
 * everything here is written to execute few instructions; loops that wait
 * for the machine are bounded.
 */
#ifndef GUEST_H
#define GUEST_H

#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

/* Ports and addresses of the machine (mirrors base/layout.h, which is a host
 * header the freestanding guests do not include). */
#define PORT_COM1	0x3f8
#define PORT_I8042_CMD	0x64
#define PORT_DEBUG_EXIT 0x501
#define PORT_PVPANIC	0x505
#define LAPIC_BASE	0xfee00000ULL

/* Exit statuses a guest reports through debug-exit when a check fails. The
 * vmm's own statuses are 0..5, so guest failures start at 10. */
enum guest_status {
	GS_OK = 0,
	GS_NO_RSDP = 10,
	GS_BAD_RSDP = 11,
	GS_BAD_XSDT = 12,
	GS_NO_TABLE = 13,
	GS_BAD_TABLE = 14,
	GS_BAD_CONFIG = 15,    /* tables parse but say the wrong thing */
	GS_TIMEOUT = 16,       /* the machine did not do what we waited for */
	GS_STILL_RUNNING = 17, /* we asked the VMM to stop the VM and it did not */
	GS_BAD_EXCEPTION = 18, /* an exception we did not expect */
	GS_BAD_STATE = 19,
};

/* ---- port and memory access ---- */
static inline void outb(uint16_t port, uint8_t v)
{
	__asm__ volatile("outb %0, %1" : : "a"(v), "Nd"(port) : "memory");
}

static inline uint8_t inb(uint16_t port)
{
	uint8_t v;

	__asm__ volatile("inb %1, %0" : "=a"(v) : "Nd"(port) : "memory");
	return v;
}

/*
 * A pointer to guest-physical address `pa` (identity mapped). The asm hides
 * the constant from gcc, which otherwise warns about dereferencing small
 * integer addresses (-Warray-bounds) and may assume they are null.
 */
static inline void *phys(uint64_t pa)
{
	__asm__("" : "+r"(pa));
	return (void *)pa;
}

static inline uint32_t mmio_read32(uint64_t pa)
{
	return *(volatile uint32_t *)phys(pa);
}

static inline void mmio_write32(uint64_t pa, uint32_t v)
{
	*(volatile uint32_t *)phys(pa) = v;
}

static inline void cpu_relax(void)
{
	__asm__ volatile("pause" ::: "memory");
}

static inline uint64_t rdtsc(void)
{
	uint32_t lo, hi;

	__asm__ volatile("rdtsc" : "=a"(lo), "=d"(hi));
	return ((uint64_t)hi << 32) | lo;
}

static inline void cpuid_count(uint32_t leaf, uint32_t sub, uint32_t *a, uint32_t *b, uint32_t *c,
			       uint32_t *d)
{
	__asm__ volatile("cpuid" : "=a"(*a), "=b"(*b), "=c"(*c), "=d"(*d) : "a"(leaf), "c"(sub));
}

static inline void cpuid(uint32_t leaf, uint32_t *a, uint32_t *b, uint32_t *c, uint32_t *d)
{
	__asm__ volatile("cpuid" : "=a"(*a), "=b"(*b), "=c"(*c), "=d"(*d) : "a"(leaf), "c"(0));
}

/* ---- ending the VM ---- */
/* Write `status` to the debug-exit port: the vmm exits with that status. If
 * it somehow returns, the CPU is halted for good. */
__attribute__((noreturn)) void debug_exit(uint8_t status);
__attribute__((noreturn)) void halt_forever(void);

/*
 * Busy-wait at least `us` microseconds on a TSC of up to 5 GHz (longer on a
 * slower one: the TSC frequency is not known without calibration).
 */
void delay_us(uint64_t us);

/* ---- console (COM1, polled: LSR bit 5 = transmitter holding register empty) ---- */
void con_putc(char c);
void con_puts(const char *s); /* no newline added; "\n" is sent as "\r\n" */
int printf(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
int vprintf(const char *fmt, va_list ap);

/* ---- a few string helpers (gcc may emit calls to the mem* ones) ---- */
void *memset(void *d, int c, size_t n);
void *memcpy(void *d, const void *s, size_t n);
int memcmp(const void *a, const void *b, size_t n);
size_t strlen(const char *s);

/* ---- the zero page (struct boot_params) ---- */
#define BP_EXT_CMD_LINE_PTR 0x0c8 /* u32: high 32 bits of cmd_line_ptr */
#define BP_E820_ENTRIES	    0x1e8 /* u8 */
#define BP_CMD_LINE_PTR	    0x228 /* u32: hdr.cmd_line_ptr */
#define BP_E820_TABLE	    0x2d0 /* struct boot_e820_entry[128], 20 bytes each */
#define BP_E820_MAX	    128

/* The kernel command line ("" when there is none). */
const char *bp_cmdline(uint64_t zero_page);

/* The value of the first `key=` word of the command line and its length
 * (up to the next space), or NULL. */
const char *cmdline_get_str(const char *cmdline, const char *key, size_t *len);

/*
 * Find `key=value` as a whole word of the command line and parse the value
 * (decimal, or hex with 0x). Returns 1 and sets *val if found, 0 otherwise.
 */
int cmdline_get_uint(const char *cmdline, const char *key, uint64_t *val);

/* Print the e820 map handed over in the zero page. Returns the number of entries. */
unsigned int bp_print_e820(uint64_t zero_page);

#endif /* GUEST_H */
