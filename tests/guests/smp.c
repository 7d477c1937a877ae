// SPDX-License-Identifier: MIT
/*
 * smp: finds the CPUs in the ACPI MADT (which also checks the vmm's RSDP,
 * XSDT and MADT and their checksums), wakes every application processor
 * with INIT, SIPI, SIPI through the xAPIC ICR (the MP spec's universal
 * start-up algorithm, MP spec 1.4 appendix B.4; Intel SDM vol. 3, 9.4.4),
 * and waits until each has reported from the real-mode trampoline in
 * smp_trampoline.S. Prints "all N CPUs up" and exits 0 on success; a bad
 * table, an AP that does not come up, or a CPU count that differs from
 * `cpus=N` on the command line is a nonzero status. With `corrupt_madt=1`
 * it instead damages the MADT and checks that the lookup then fails.
 */
#include "lib/acpi.h"
#include "lib/guest.h"
#include "smp.h"

int guest_main(uint64_t zero_page);

extern const char smp_trampoline_start[], smp_trampoline_end[];

#define MAX_CPUS 256

/* MADT (ACPI 6.4, 5.2.12) */
#define MADT_LAPIC_ADDR	   36
#define MADT_ENTRIES	   44
#define MADT_TYPE_LAPIC	   0
#define MADT_TYPE_X2APIC   9
#define MADT_LAPIC_ENABLED 0x1

/* xAPIC registers (Intel SDM vol. 3, table 10-1) */
#define LAPIC_ID	     0x20
#define LAPIC_SVR	     0xf0
#define LAPIC_ICR_LO	     0x300
#define LAPIC_ICR_HI	     0x310
#define LAPIC_SVR_ENABLE     0x100
#define ICR_DELIVERY_PENDING (1U << 12)
#define ICR_LEVEL_ASSERT     (1U << 14)
#define ICR_DM_INIT	     (5U << 8)
#define ICR_DM_STARTUP	     (6U << 8)

/* MP spec B.4: 10 ms after INIT, 200 us after each STARTUP IPI. */
#define INIT_DELAY_US 10000
#define SIPI_DELAY_US 200
/* How long to wait for the APs: generous, since their real-mode code is
 * interpreted on PVM hosts. Polled in 1 ms steps. */
#define AP_WAIT_MS    10000

struct cpus {
	uint8_t apic_id[MAX_CPUS];
	unsigned int n;
	uint64_t lapic;
};

static volatile uint8_t *smp_byte(unsigned int off)
{
	return phys(SMP_TRAMPOLINE + off);
}

/* The console lock shared with the APs (byte at SMP_LOCK_OFF). */
static void console_lock(void)
{
	volatile uint8_t *l = smp_byte(SMP_LOCK_OFF);

	while (__atomic_exchange_n(l, 1, __ATOMIC_ACQUIRE))
		while (*l)
			cpu_relax();
}

static void console_unlock(void)
{
	__atomic_store_n(smp_byte(SMP_LOCK_OFF), 0, __ATOMIC_RELEASE);
}

static int madt_parse(const struct acpi_sdt_header *madt, struct cpus *cpus)
{
	const uint8_t *t = (const uint8_t *)madt;
	uint32_t off = MADT_ENTRIES;

	if (madt->length < MADT_ENTRIES) {
		con_puts("smp: MADT too short\n");
		return GS_BAD_TABLE;
	}
	cpus->lapic = *(const uint32_t *)(t + MADT_LAPIC_ADDR);
	cpus->n = 0;
	while (off + 2 <= madt->length) {
		uint8_t type = t[off], len = t[off + 1];
		uint32_t id, flags;

		if (len < 2 || off + len > madt->length) {
			printf("smp: MADT entry at offset %u has bad length %u\n", off, len);
			return GS_BAD_TABLE;
		}
		if (type == MADT_TYPE_LAPIC && len >= 8) {
			id = t[off + 3];
			flags = *(const uint32_t *)(t + off + 4);
		} else if (type == MADT_TYPE_X2APIC && len >= 16) {
			id = *(const uint32_t *)(t + off + 4);
			flags = *(const uint32_t *)(t + off + 8);
		} else {
			off += len;
			continue;
		}
		off += len;
		if (!(flags & MADT_LAPIC_ENABLED))
			continue;
		if (id > 255 || cpus->n == MAX_CPUS) {
			printf("smp: cannot start CPU with APIC id %u in xAPIC mode\n", id);
			return GS_BAD_CONFIG;
		}
		cpus->apic_id[cpus->n++] = (uint8_t)id;
	}
	return 0;
}

static int icr_wait_idle(uint64_t lapic)
{
	unsigned int i;

	for (i = 0; i < 1000; i++) {
		if (!(mmio_read32(lapic + LAPIC_ICR_LO) & ICR_DELIVERY_PENDING))
			return 0;
		delay_us(10);
	}
	return GS_TIMEOUT;
}

static int send_ipi(uint64_t lapic, uint8_t apic_id, uint32_t icr)
{
	if (icr_wait_idle(lapic))
		return GS_TIMEOUT;
	mmio_write32(lapic + LAPIC_ICR_HI, (uint32_t)apic_id << 24);
	mmio_write32(lapic + LAPIC_ICR_LO, icr);
	return icr_wait_idle(lapic);
}

static int start_ap(uint64_t lapic, uint8_t apic_id)
{
	int i;

	if (send_ipi(lapic, apic_id, ICR_DM_INIT | ICR_LEVEL_ASSERT))
		return GS_TIMEOUT;
	delay_us(INIT_DELAY_US);
	/* Two STARTUPs, as the MP spec says; KVM ignores the second one
	 * when the first has already started the AP. */
	for (i = 0; i < 2; i++) {
		if (send_ipi(lapic, apic_id, ICR_DM_STARTUP | ICR_LEVEL_ASSERT | SMP_SIPI_VECTOR))
			return GS_TIMEOUT;
		delay_us(SIPI_DELAY_US);
	}
	return 0;
}

int guest_main(uint64_t zero_page)
{
	const char *cmdline = bp_cmdline(zero_page);
	size_t tsize = (size_t)(smp_trampoline_end - smp_trampoline_start);
	const struct acpi_sdt_header *madt;
	volatile uint16_t *count = phys(SMP_TRAMPOLINE + SMP_COUNT_OFF);
	struct cpus cpus;
	uint64_t expected;
	uint32_t a, b, c, d;
	unsigned int i, naps, ms, bsp_id;
	int err;

	err = acpi_find_table("APIC", &madt);
	if (err)
		return err;
	if (cmdline_get_uint(cmdline, "corrupt_madt", &expected) && expected) {
		/* Self-test of the checksum check: damage the (valid) MADT in
		 * guest RAM and look it up again; that must now fail. */
		con_puts("smp: corrupting the MADT's OEM revision\n");
		((struct acpi_sdt_header *)madt)->oem_revision ^= 1;
		err = acpi_find_table("APIC", &madt);
		if (!err)
			con_puts("smp: the corrupted MADT was accepted\n");
		return err ? err : GS_BAD_STATE;
	}
	err = madt_parse(madt, &cpus);
	if (err)
		return err;
	printf("smp: MADT lists %u CPUs, local APIC at 0x%lx\n", cpus.n, cpus.lapic);
	if (cmdline_get_uint(cmdline, "cpus", &expected) && expected != cpus.n) {
		printf("smp: expected %lu CPUs\n", expected);
		return GS_BAD_CONFIG;
	}
	if (!cpus.lapic || cpus.lapic >= (1ULL << 32)) {
		con_puts("smp: unusable local APIC address\n");
		return GS_BAD_CONFIG;
	}

	bsp_id = mmio_read32(cpus.lapic + LAPIC_ID) >> 24;
	cpuid(1, &a, &b, &c, &d);
	printf("smp: BSP APIC id %u (CPUID says %u)\n", bsp_id, b >> 24);
	if (bsp_id != b >> 24) {
		con_puts("smp: LAPIC ID register and CPUID disagree\n");
		return GS_BAD_STATE;
	}
	for (i = 0; i < cpus.n && cpus.apic_id[i] != bsp_id; i++)
		;
	if (i == cpus.n) {
		con_puts("smp: the BSP is not in the MADT\n");
		return GS_BAD_CONFIG;
	}

	if (tsize > SMP_TRAMPOLINE_MAX) {
		con_puts("smp: trampoline too large\n");
		return GS_BAD_STATE;
	}
	memcpy(phys(SMP_TRAMPOLINE), smp_trampoline_start, tsize);
	memset(phys(SMP_TRAMPOLINE + SMP_LOCK_OFF), 0, SMP_DATA_SIZE);
	/* Software-enable the local APIC (spurious vector 0xff), as an OS
	 * does before using it. */
	mmio_write32(cpus.lapic + LAPIC_SVR, LAPIC_SVR_ENABLE | 0xff);

	naps = 0;
	for (i = 0; i < cpus.n; i++) {
		if (cpus.apic_id[i] == bsp_id)
			continue;
		console_lock();
		printf("smp: starting AP %u\n", cpus.apic_id[i]);
		console_unlock();
		err = start_ap(cpus.lapic, cpus.apic_id[i]);
		if (err) {
			console_lock();
			printf("smp: ICR stuck busy for AP %u\n", cpus.apic_id[i]);
			return err; /* keep the lock: nothing else must print */
		}
		naps++;
	}

	for (ms = 0; ms < AP_WAIT_MS && *count != naps; ms++)
		delay_us(1000);

	console_lock();
	if (*count != naps) {
		printf("smp: only %u of %u APs came up after %u ms\n", *count, naps, ms);
		return GS_TIMEOUT;
	}
	for (i = 0; i < cpus.n; i++) {
		if (cpus.apic_id[i] != bsp_id && !*smp_byte(SMP_SEEN_OFF + cpus.apic_id[i])) {
			printf("smp: AP %u did not report (another CPU did twice?)\n",
			       cpus.apic_id[i]);
			return GS_BAD_STATE;
		}
	}
	printf("all %u CPUs up\n", cpus.n);
	console_unlock();
	return GS_OK;
}
