// SPDX-License-Identifier: MIT
/*
 * cpuid: prints the CPUID leaves that describe this vCPU's identity and
 * topology (1, 0xb, 0x80000008, 0x8000001e) as the guest sees them, and
 * checks the APIC id fields agree with the LAPIC. Exits 0, or 16 when they
 * disagree.
 */
#include "lib/guest.h"

int guest_main(uint64_t zero_page);

int guest_main(uint64_t zero_page)
{
	uint32_t a, b, c, d, apic = mmio_read32(0xfee00020) >> 24;
	uint32_t leaves[] = { 0x1, 0xb, 0xb, 0x80000008, 0x8000001e };
	uint32_t sub[] = { 0, 0, 1, 0, 0 };
	int bad = 0;
	unsigned int i;

	(void)zero_page;
	for (i = 0; i < sizeof(leaves) / sizeof(leaves[0]); i++) {
		cpuid_count(leaves[i], sub[i], &a, &b, &c, &d);
		printf("cpuid %x.%u: eax=%x ebx=%x ecx=%x edx=%x\n", leaves[i], sub[i], a, b, c, d);
	}
	cpuid_count(1, 0, &a, &b, &c, &d);
	if (b >> 24 != apic)
		bad = 1;
	cpuid_count(0xb, 0, &a, &b, &c, &d);
	if (b != 0 && d != apic)
		bad = 1;
	printf("cpuid: lapic id %u, %s\n", apic, bad ? "MISMATCH" : "consistent");
	return bad ? 16 : 0;
}
