/* SPDX-License-Identifier: MIT */
#include "base/irq.h"

#include <errno.h>
#include <linux/kvm.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/ioctl.h>
#include <unistd.h>

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
	line->efd = -1;
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

int irq_ioeventfd_assign(int vm_fd, int efd, uint64_t addr, uint32_t len, bool is_pio, bool match,
			 uint64_t datamatch)
{
	return ioeventfd_ctl(vm_fd, efd, addr, len, is_pio, match, datamatch, 0);
}

int irq_ioeventfd_deassign(int vm_fd, int efd, uint64_t addr, uint32_t len, bool is_pio, bool match,
			   uint64_t datamatch)
{
	return ioeventfd_ctl(vm_fd, efd, addr, len, is_pio, match, datamatch,
			     KVM_IOEVENTFD_FLAG_DEASSIGN);
}

static int irq_line_set_irqfd(struct irq_line *line, int level)
{
	uint64_t one = 1;

	if (!level)
		return 0;
	if (write(line->efd, &one, sizeof(one)) != sizeof(one))
		return errno == EAGAIN ? 0 : -errno; /* EAGAIN: already pending */
	return 0;
}

int irq_line_init_irqfd(struct irq_line *line, int vm_fd, uint32_t gsi)
{
	int ret;

	memset(line, 0, sizeof(*line));
	line->set = irq_line_set_irqfd;
	line->vm_fd = vm_fd;
	line->gsi = gsi;
	line->efd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
	if (line->efd < 0)
		return -errno;
	ret = irq_irqfd_assign(vm_fd, line->efd, gsi);
	if (ret) {
		close(line->efd);
		line->efd = -1;
	}
	return ret;
}

void irq_line_destroy(struct irq_line *line)
{
	if (line->set != irq_line_set_irqfd || line->efd < 0)
		return;
	(void)irq_irqfd_deassign(line->vm_fd, line->efd, line->gsi);
	close(line->efd);
	line->efd = -1;
}
