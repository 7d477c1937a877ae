/* SPDX-License-Identifier: MIT */
#include "vmm/irq.h"

#include <errno.h>
#include <linux/kvm.h>
#include <string.h>
#include <sys/ioctl.h>

static int irq_line_set_kvm(struct irq_line *line, int level)
{
	struct kvm_irq_level irq = { .irq = line->gsi, .level = level ? 1 : 0 };

	if (ioctl(line->vm_fd, KVM_IRQ_LINE, &irq) < 0)
		return -errno;
	return 0;
}

void irq_line_init_kvm(struct irq_line *line, int vm_fd, uint32_t gsi)
{
	memset(line, 0, sizeof(*line));
	line->set = irq_line_set_kvm;
	line->vm_fd = vm_fd;
	line->gsi = gsi;
}

int irq_line_pulse(struct irq_line *line)
{
	int ret = irq_line_set(line, 1);

	if (ret < 0)
		return ret;
	return irq_line_set(line, 0);
}

static int irqfd_ctl(int vm_fd, int efd, uint32_t gsi, uint32_t flags)
{
	struct kvm_irqfd irqfd = { .fd = (uint32_t)efd, .gsi = gsi, .flags = flags };

	if (ioctl(vm_fd, KVM_IRQFD, &irqfd) < 0)
		return -errno;
	return 0;
}

int irq_irqfd_assign(int vm_fd, int efd, uint32_t gsi)
{
	return irqfd_ctl(vm_fd, efd, gsi, 0);
}

int irq_irqfd_deassign(int vm_fd, int efd, uint32_t gsi)
{
	return irqfd_ctl(vm_fd, efd, gsi, KVM_IRQFD_FLAG_DEASSIGN);
}

int irq_ioeventfd_assign(int vm_fd, int efd, uint64_t addr, uint32_t len, bool is_pio, bool match,
			 uint64_t datamatch)
{
	struct kvm_ioeventfd io = {
		.datamatch = datamatch,
		.addr = addr,
		.len = len,
		.fd = efd,
		.flags = (is_pio ? KVM_IOEVENTFD_FLAG_PIO : 0) |
			 (match ? KVM_IOEVENTFD_FLAG_DATAMATCH : 0),
	};

	if (ioctl(vm_fd, KVM_IOEVENTFD, &io) < 0)
		return -errno;
	return 0;
}
