/* SPDX-License-Identifier: MIT */
/*
 * The floor for a PIO exit: the smallest possible VMM. One vCPU in real
 * mode runs `out 0x80, al` N times; the host loop does nothing but
 * KVM_RUN again. bench/exit_roundtrip.py compares vmm's full path (bus
 * lookup, device lock, handler) against this.
 *
 * usage: kvm_bare_loop N [irqchip]
 *   prints "bare: N exits in T ns (X ns/exit)". With "irqchip" the VM also
 *   gets KVM's in-kernel interrupt controllers, as vmm's VMs have.
 */
#include <errno.h>
#include <fcntl.h>
#include <linux/kvm.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <unistd.h>

#include "base/clock.h"

int main(int argc, char **argv)
{
	/* real mode at 0x1000: mov ecx, N; 1: out 0x80, al; dec ecx; jnz 1b;
	 * out 0x81, al (done) */
	uint8_t code[] = { 0x66, 0xb9, 0, 0, 0, 0, 0xe6, 0x80, 0x66, 0x49, 0x75, 0xfa, 0xe6, 0x81 };
	struct kvm_userspace_memory_region region;
	struct kvm_sregs sregs;
	struct kvm_regs regs;
	struct kvm_run *run;
	uint64_t t0, t1, exits = 0;
	uint32_t n;
	uint8_t *mem;
	int kvm, vm, vcpu, size;

	if (argc < 2 || argc > 3 || (n = (uint32_t)strtoul(argv[1], NULL, 10)) == 0) {
		fprintf(stderr, "usage: kvm_bare_loop N [irqchip]\n");
		return 2;
	}
	memcpy(&code[2], &n, 4);
	kvm = open("/dev/kvm", O_RDWR | O_CLOEXEC);
	if (kvm < 0) {
		fprintf(stderr, "kvm_bare_loop: /dev/kvm: %s\n", strerror(errno));
		return 77;
	}
	vm = ioctl(kvm, KVM_CREATE_VM, 0);
	if (argc == 3 && ioctl(vm, KVM_CREATE_IRQCHIP, 0) < 0)
		return 1;
	mem = mmap(NULL, 0x10000, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	if (vm < 0 || mem == MAP_FAILED)
		return 1;
	memcpy(mem + 0x1000, code, sizeof(code));
	region = (struct kvm_userspace_memory_region){ .slot = 0,
						       .guest_phys_addr = 0,
						       .memory_size = 0x10000,
						       .userspace_addr = (uintptr_t)mem };
	if (ioctl(vm, KVM_SET_USER_MEMORY_REGION, &region) < 0)
		return 1;
	vcpu = ioctl(vm, KVM_CREATE_VCPU, 0);
	size = ioctl(kvm, KVM_GET_VCPU_MMAP_SIZE, 0);
	if (vcpu < 0 || size <= 0)
		return 1;
	run = mmap(NULL, (size_t)size, PROT_READ | PROT_WRITE, MAP_SHARED, vcpu, 0);
	if (run == MAP_FAILED || ioctl(vcpu, KVM_GET_SREGS, &sregs) < 0)
		return 1;
	sregs.cs.base = 0;
	sregs.cs.selector = 0;
	if (ioctl(vcpu, KVM_SET_SREGS, &sregs) < 0)
		return 1;
	memset(&regs, 0, sizeof(regs));
	regs.rip = 0x1000;
	regs.rflags = 0x2;
	if (ioctl(vcpu, KVM_SET_REGS, &regs) < 0)
		return 1;

	t0 = clock_monotonic_ns();
	for (;;) {
		if (ioctl(vcpu, KVM_RUN, 0) < 0) {
			if (errno == EINTR || errno == EAGAIN)
				continue;
			fprintf(stderr, "kvm_bare_loop: KVM_RUN: %s\n", strerror(errno));
			return 1;
		}
		if (run->exit_reason == KVM_EXIT_IO && run->io.port == 0x80) {
			exits++;
			continue;
		}
		if (run->exit_reason == KVM_EXIT_IO && run->io.port == 0x81)
			break;
		fprintf(stderr, "kvm_bare_loop: unexpected exit %u\n", run->exit_reason);
		return 1;
	}
	t1 = clock_monotonic_ns();
	printf("bare: %llu exits in %llu ns (%.0f ns/exit)\n", (unsigned long long)exits,
	       (unsigned long long)(t1 - t0), (double)(t1 - t0) / (double)exits);
	return 0;
}
