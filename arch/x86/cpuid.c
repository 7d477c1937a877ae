/* SPDX-License-Identifier: MIT */
/*
 * CPUID for each vCPU: what KVM supports on this host, with the per-CPU
 * identity filled in. Without the patching every vCPU would claim the same
 * APIC id and Linux would see one CPU several times.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>

#include "arch/x86/cpu.h"

#define CPUID_MAX_ENTRIES 256

struct kvm_cpuid2 *x86_cpuid_supported(int kvm_fd, int *err)
{
	struct kvm_cpuid2 *cpuid;

	cpuid = calloc(1, sizeof(*cpuid) + CPUID_MAX_ENTRIES * sizeof(cpuid->entries[0]));
	if (!cpuid) {
		*err = -ENOMEM;
		return NULL;
	}
	cpuid->nent = CPUID_MAX_ENTRIES;
	if (ioctl(kvm_fd, KVM_GET_SUPPORTED_CPUID, cpuid) < 0) {
		*err = -errno;
		free(cpuid);
		return NULL;
	}
	return cpuid;
}

/* Number of bits needed to number n things (the x2APIC id shift). */
static uint32_t bits_for(uint32_t n)
{
	uint32_t b = 0;

	while ((1u << b) < n)
		b++;
	return b;
}

static struct kvm_cpuid_entry2 *cpuid_find(struct kvm_cpuid2 *cpuid, uint32_t fn, uint32_t index)
{
	uint32_t i;

	for (i = 0; i < cpuid->nent; i++)
		if (cpuid->entries[i].function == fn && cpuid->entries[i].index == index)
			return &cpuid->entries[i];
	return NULL;
}

/*
 * The extended topology leaves (0xb, and 0x1f where the host has it) need
 * three subleaves: SMT, core, and the invalid level that ends the list.
 * KVM_GET_SUPPORTED_CPUID passes on only what the host reports (a host that
 * is itself a small VM may list just subleaf 0), so add what is missing;
 * x86_cpuid_patch() then fills them in.
 */
static void cpuid_add_topology_subleaves(struct kvm_cpuid2 *cpuid)
{
	static const uint32_t leaves[] = { 0xb, 0x1f };
	unsigned int l;
	uint32_t sub;

	for (l = 0; l < 2; l++) {
		if (!cpuid_find(cpuid, leaves[l], 0))
			continue;
		for (sub = 1; sub < 3; sub++) {
			if (cpuid_find(cpuid, leaves[l], sub))
				continue;
			cpuid->entries[cpuid->nent++] = (struct kvm_cpuid_entry2){
				.function = leaves[l],
				.index = sub,
				.flags = KVM_CPUID_FLAG_SIGNIFCANT_INDEX,
			};
		}
	}
}

void x86_cpuid_patch(struct kvm_cpuid2 *cpuid, uint32_t apic_id, uint32_t ncpus)
{
	uint32_t core_bits = bits_for(ncpus);
	uint32_t i;

	cpuid_add_topology_subleaves(cpuid);

	for (i = 0; i < cpuid->nent; i++) {
		struct kvm_cpuid_entry2 *e = &cpuid->entries[i];

		switch (e->function) {
		case 0x1:
			/* EBX[31:24] initial APIC id, [23:16] logical processors
			 * per package; EDX bit 28 HTT says [23:16] is valid. */
			e->ebx = (e->ebx & 0x0000ffff) | (apic_id << 24) | ((ncpus & 0xff) << 16);
			if (ncpus > 1)
				e->edx |= 1u << 28;
			/* ECX bit 31: running under a hypervisor */
			e->ecx |= 1u << 31;
			break;
		case 0x4:
			/* deterministic cache parameters: EAX[31:26] = cores per
			 * package - 1, EAX[25:14] = threads sharing - 1 (keep the
			 * host's sharing for shared caches, but never more than
			 * our package) */
			if ((e->eax & 0x1f) != 0) {
				uint32_t cores = (1u << core_bits) - 1;

				e->eax = (e->eax & 0x03ffffff) | (cores << 26);
				if (((e->eax >> 14) & 0xfff) > cores)
					e->eax = (e->eax & ~(0xfffu << 14)) | (cores << 14);
			}
			break;
		case 0xb:
		case 0x1f:
			/* extended topology: level 0 = SMT (1 thread per core),
			 * level 1 = core (ncpus per package), then invalid. */
			e->edx = apic_id;
			if (e->index == 0) {
				e->eax = 0;
				e->ebx = 1;
				e->ecx = (1u << 8) | 0;
			} else if (e->index == 1) {
				e->eax = core_bits;
				e->ebx = ncpus;
				e->ecx = (2u << 8) | 1;
			} else {
				e->eax = 0;
				e->ebx = 0;
				e->ecx = e->index & 0xff;
			}
			break;
		case 0x8000001e:
			/* AMD extended APIC id and topology (TOPOEXT): Linux takes
			 * the core id and threads per core from here on AMD, so the
			 * host's values would make every vCPU the same core. */
			e->eax = apic_id;
			e->ebx = apic_id & 0xff; /* core id; [15:8] threads per core - 1 = 0 */
			e->ecx = 0;		 /* node 0, one node per package */
			e->edx = 0;
			break;
		case 0x80000008:
			/* ECX[7:0] = cores per package - 1 (AMD), [15:12] id size */
			e->ecx = (e->ecx & ~0xf0ffu) | (core_bits << 12) | ((ncpus - 1) & 0xff);
			break;
		default:
			break;
		}
	}
}

int x86_vcpu_set_cpuid(int vcpu_fd, const struct kvm_cpuid2 *supported, uint32_t apic_id,
		       uint32_t ncpus)
{
	size_t size = sizeof(*supported) + supported->nent * sizeof(supported->entries[0]);
	struct kvm_cpuid2 *cpuid =
		malloc(size + X86_CPUID_EXTRA_ENTRIES * sizeof(supported->entries[0]));
	int ret = 0;

	if (!cpuid)
		return -ENOMEM;
	memcpy(cpuid, supported, size);
	x86_cpuid_patch(cpuid, apic_id, ncpus);
	if (ioctl(vcpu_fd, KVM_SET_CPUID2, cpuid) < 0)
		ret = -errno;
	free(cpuid);
	return ret;
}
