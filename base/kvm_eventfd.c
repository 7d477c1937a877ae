/* SPDX-License-Identifier: MIT */
#include "base/kvm_eventfd.h"

#include <errno.h>
#include <linux/kvm.h>
#include <sys/ioctl.h>

static int irqfd_ctl(int vm_fd, int efd, uint32_t gsi, uint32_t flags)
{
	struct kvm_irqfd irqfd = { .fd = (uint32_t)efd, .gsi = gsi, .flags = flags };

	if (ioctl(vm_fd, KVM_IRQFD, &irqfd) < 0)
		return -errno;
	return 0;
}

int kvm_irqfd_assign(int vm_fd, int efd, uint32_t gsi)
{
	return irqfd_ctl(vm_fd, efd, gsi, 0);
}

int kvm_irqfd_deassign(int vm_fd, int efd, uint32_t gsi)
{
	return irqfd_ctl(vm_fd, efd, gsi, KVM_IRQFD_FLAG_DEASSIGN);
}

static int ioeventfd_ctl(int vm_fd, int efd, uint64_t addr, uint32_t len, bool is_pio, bool match,
			 uint64_t datamatch, uint32_t flags)
{
	struct kvm_ioeventfd io = {
		.datamatch = datamatch,
		.addr = addr,
		.len = len,
		.fd = efd,
		.flags = flags | (is_pio ? KVM_IOEVENTFD_FLAG_PIO : 0) |
			 (match ? KVM_IOEVENTFD_FLAG_DATAMATCH : 0),
	};

	if (ioctl(vm_fd, KVM_IOEVENTFD, &io) < 0)
		return -errno;
	return 0;
}

int kvm_ioeventfd_assign(int vm_fd, int efd, uint64_t addr, uint32_t len, bool is_pio, bool match,
			 uint64_t datamatch)
{
	return ioeventfd_ctl(vm_fd, efd, addr, len, is_pio, match, datamatch, 0);
}

int kvm_ioeventfd_deassign(int vm_fd, int efd, uint64_t addr, uint32_t len, bool is_pio, bool match,
			   uint64_t datamatch)
{
	return ioeventfd_ctl(vm_fd, efd, addr, len, is_pio, match, datamatch,
			     KVM_IOEVENTFD_FLAG_DEASSIGN);
}
