/* SPDX-License-Identifier: MIT */
#include "base/irq.h"

#include <errno.h>
#include <linux/kvm.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/ioctl.h>
#include <unistd.h>

#include "base/eventfd.h"
#include "base/kvm_eventfd.h"

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

/* An edge (irq.h): signalling an irqfd that is already pending is the
 * same edge, so eventfd_signal's EAGAIN-as-success is what we want. */
static int irq_line_set_irqfd(struct irq_line *line, int level)
{
	return level ? eventfd_signal(line->efd) : 0;
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
	ret = kvm_irqfd_assign(vm_fd, line->efd, gsi);
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
	(void)kvm_irqfd_deassign(line->vm_fd, line->efd, line->gsi);
	close(line->efd);
	line->efd = -1;
}
