// SPDX-License-Identifier: MIT
/*
 * Ending the VM, delays, string helpers and the zero-page reader.
 */
#include "guest.h"

void halt_forever(void)
{
	for (;;)
		__asm__ volatile("cli; hlt" ::: "memory");
}

void debug_exit(uint8_t status)
{
	outb(PORT_DEBUG_EXIT, status);
	/* Only reached if the vmm has no debug-exit device: say so and stop. */
	con_puts("debug-exit did not end the VM\n");
	halt_forever();
}

/*
 * Assume the TSC runs at no more than 5 GHz, so 5000 ticks are at least a
 * microsecond. The cap on loop iterations only matters if the TSC does not
 * advance: one pause iteration takes at least ~1 ns natively (and ~5 us
 * when interpreted), so 1000 per microsecond never cuts a working delay
 * short, and a stuck TSC still cannot hang the guest forever.
 */
#define TSC_TICKS_PER_US_MAX 5000ULL
#define DELAY_LOOPS_PER_US   1000ULL

void delay_us(uint64_t us)
{
	uint64_t start = rdtsc();
	uint64_t ticks = us * TSC_TICKS_PER_US_MAX;
	uint64_t loops = us * DELAY_LOOPS_PER_US;

	while (rdtsc() - start < ticks && loops--)
		cpu_relax();
}

/* rep stosb / rep movsb rather than C loops: gcc would turn those loops
 * back into calls to memset/memcpy, and one string instruction is also far
 * cheaper than a loop under the PVM interpreter. */
void *memset(void *d, int c, size_t n)
{
	void *ret = d;

	__asm__ volatile("rep stosb" : "+D"(d), "+c"(n) : "a"(c) : "memory");
	return ret;
}

void *memcpy(void *d, const void *s, size_t n)
{
	void *ret = d;

	__asm__ volatile("rep movsb" : "+D"(d), "+S"(s), "+c"(n) : : "memory");
	return ret;
}

int memcmp(const void *a, const void *b, size_t n)
{
	const unsigned char *x = a, *y = b;

	for (; n; n--, x++, y++)
		if (*x != *y)
			return *x - *y;
	return 0;
}

size_t strlen(const char *s)
{
	size_t n = 0;

	while (s[n])
		n++;
	return n;
}

const char *bp_cmdline(uint64_t zero_page)
{
	const uint8_t *bp = phys(zero_page);
	uint64_t p = *(const uint32_t *)(bp + BP_CMD_LINE_PTR) |
		     (uint64_t) * (const uint32_t *)(bp + BP_EXT_CMD_LINE_PTR) << 32;

	/* Protocol 2.02+: 0 means no command line. Anything beyond the 4 GiB
	 * identity map cannot be read. */
	if (!p || p >= (1ULL << 32))
		return "";
	return phys(p);
}

const char *cmdline_get_str(const char *cmdline, const char *key, size_t *len)
{
	size_t klen = strlen(key);
	const char *p = cmdline;

	while (*p) {
		while (*p == ' ')
			p++;
		if (!memcmp(p, key, klen) && p[klen] == '=') {
			const char *v = p + klen + 1;

			for (*len = 0; v[*len] && v[*len] != ' '; (*len)++)
				;
			return v;
		}
		while (*p && *p != ' ')
			p++;
	}
	return NULL;
}

int cmdline_get_uint(const char *cmdline, const char *key, uint64_t *val)
{
	size_t len, i = 0;
	const char *v = cmdline_get_str(cmdline, key, &len);
	unsigned int base = 10;
	uint64_t n = 0;

	if (!v)
		return 0;
	if (len > 2 && v[0] == '0' && (v[1] == 'x' || v[1] == 'X'))
		base = 16, i = 2;
	if (i == len)
		return 0;
	for (; i < len; i++) {
		unsigned int d;

		if (v[i] >= '0' && v[i] <= '9')
			d = (unsigned int)(v[i] - '0');
		else if (base == 16 && v[i] >= 'a' && v[i] <= 'f')
			d = (unsigned int)(v[i] - 'a' + 10);
		else if (base == 16 && v[i] >= 'A' && v[i] <= 'F')
			d = (unsigned int)(v[i] - 'A' + 10);
		else
			return 0;
		n = n * base + d;
	}
	*val = n;
	return 1;
}

unsigned int bp_print_e820(uint64_t zero_page)
{
	const uint8_t *bp = phys(zero_page);
	unsigned int n = bp[BP_E820_ENTRIES], i;

	if (n > BP_E820_MAX)
		n = BP_E820_MAX;
	for (i = 0; i < n; i++) {
		/* struct boot_e820_entry { u64 addr; u64 size; u32 type; } __packed */
		const uint8_t *e = bp + BP_E820_TABLE + i * 20;
		uint64_t addr = *(const uint64_t *)e;
		uint64_t size = *(const uint64_t *)(e + 8);
		uint32_t type = *(const uint32_t *)(e + 16);

		printf("e820: [0x%016lx-0x%016lx] type %u\n", addr, addr + size - 1, type);
	}
	return n;
}
