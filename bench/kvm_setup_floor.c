/* SPDX-License-Identifier: MIT */
/*
 * The floor for VM start-up: only the KVM calls every VMM of vmm's shape
 * must make before its first KVM_RUN (open /dev/kvm, create the VM, the
 * in-kernel irqchip and PIT, one RAM slot, the vCPUs), timed in-process.
 * bench/startup.py prints it beside vmm's process-start-to-first-KVM_RUN.
 *
 * usage: kvm_setup_floor MEM_MIB NCPUS   prints "floor: T ms ..." per step
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

static double now_ms(void)
{
	return (double)clock_monotonic_ns() / 1e6;
}

int main(int argc, char **argv)
{
	struct kvm_pit_config pit = { .flags = KVM_PIT_SPEAKER_DUMMY };
	struct kvm_userspace_memory_region region;
	double t0, t_vm, t_irq, t_pit, t_mem, t_cpu;
	uint64_t size;
	void *ram;
	int kvm, vm, i, ncpus;

	if (argc != 3) {
		fprintf(stderr, "usage: kvm_setup_floor MEM_MIB NCPUS\n");
		return 2;
	}
	size = strtoull(argv[1], NULL, 10) << 20;
	ncpus = atoi(argv[2]);
	t0 = now_ms();
	kvm = open("/dev/kvm", O_RDWR | O_CLOEXEC);
	if (kvm < 0) {
		fprintf(stderr, "kvm_setup_floor: /dev/kvm: %s\n", strerror(errno));
		return 77;
	}
	vm = ioctl(kvm, KVM_CREATE_VM, 0);
	t_vm = now_ms();
	if (vm < 0 || ioctl(vm, KVM_CREATE_IRQCHIP, 0) < 0)
		return 1;
	t_irq = now_ms();
	if (ioctl(vm, KVM_CREATE_PIT2, &pit) < 0)
		return 1;
	t_pit = now_ms();
	ram = mmap(NULL, size, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE,
		   -1, 0);
	region = (struct kvm_userspace_memory_region){ .slot = 0,
						       .memory_size = size,
						       .userspace_addr = (uintptr_t)ram };
	if (ram == MAP_FAILED || ioctl(vm, KVM_SET_USER_MEMORY_REGION, &region) < 0)
		return 1;
	t_mem = now_ms();
	for (i = 0; i < ncpus; i++)
		if (ioctl(vm, KVM_CREATE_VCPU, i) < 0)
			return 1;
	t_cpu = now_ms();
	printf("floor: %.2f ms (create VM %.2f, irqchip %.2f, PIT %.2f, RAM slot %.2f, "
	       "%d vCPUs %.2f)\n",
	       t_cpu - t0, t_vm - t0, t_irq - t_vm, t_pit - t_irq, t_mem - t_pit, ncpus,
	       t_cpu - t_mem);
	return 0;
}
