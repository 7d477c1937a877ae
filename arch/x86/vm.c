/* SPDX-License-Identifier: MIT */
/*
 * x86 VM setup (see vm.h): the TSS and identity-map addresses, the
 * in-kernel irqchip and the PIT. Called by vmm/vm.c right after
 * KVM_CREATE_VM.
 */
#include "arch/x86/vm.h"

#include <errno.h>
#include <linux/kvm.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <sys/ioctl.h>

#include "base/err.h"
#include "base/log.h"

/* Where KVM puts the real-mode TSS and identity page table Intel VMX needs
 * (3 pages + 1 page just below the BIOS ROM, inside the MMIO hole, where no
 * guest RAM is). */
#define X86_KVM_TSS_ADDR	  0xfffbd000ULL
#define X86_KVM_IDENTITY_MAP_ADDR 0xfffbc000ULL

/* KVM uses these pages only on Intel VMX without "unrestricted guest", to
 * run real-mode code; elsewhere a refusal is harmless, so it costs only a
 * debug line. */
static void x86_vm_set_vmx_pages(int kvm_fd, int vm_fd)
{
	if (ioctl(vm_fd, KVM_SET_TSS_ADDR, (unsigned long)X86_KVM_TSS_ADDR) < 0)
		log_debug("KVM_SET_TSS_ADDR: %s", strerror(errno));
	if (ioctl(kvm_fd, KVM_CHECK_EXTENSION, KVM_CAP_SET_IDENTITY_MAP_ADDR) > 0) {
		uint64_t addr = X86_KVM_IDENTITY_MAP_ADDR;

		if (ioctl(vm_fd, KVM_SET_IDENTITY_MAP_ADDR, &addr) < 0)
			log_debug("KVM_SET_IDENTITY_MAP_ADDR: %s", strerror(errno));
	}
}

int x86_vm_setup(int kvm_fd, int vm_fd, char *err, size_t errlen)
{
	struct kvm_pit_config pit = { .flags = KVM_PIT_SPEAKER_DUMMY };
	int ret;

	x86_vm_set_vmx_pages(kvm_fd, vm_fd);
	/* In-kernel PIC, IOAPIC and LAPICs, and the PIT: interrupts and timers
	 * never leave the kernel. */
	if (ioctl(vm_fd, KVM_CREATE_IRQCHIP, 0) < 0) {
		ret = -errno;
		return err_set(err, errlen, ret, "KVM_CREATE_IRQCHIP failed: %s", strerror(-ret));
	}
	if (ioctl(vm_fd, KVM_CREATE_PIT2, &pit) < 0) {
		ret = -errno;
		return err_set(err, errlen, ret, "KVM_CREATE_PIT2 failed: %s", strerror(-ret));
	}
	return 0;
}
