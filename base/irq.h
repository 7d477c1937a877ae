/* SPDX-License-Identifier: MIT */
/*
 * Interrupt lines, as a device sees them: a device is handed a struct
 * irq_line at construction and calls irq_line_set() on it. It never learns
 * whether the other end is KVM's in-kernel IOAPIC (KVM_IRQ_LINE), an irqfd,
 * or a unit test's fake.
 *
 * The KVM wiring of eventfds (irqfd, and ioeventfd for the other direction)
 * is in kvm_eventfd.h.
 */
#ifndef BASE_IRQ_H
#define BASE_IRQ_H

#include <stdbool.h>
#include <stdint.h>

struct irq_line {
	int (*set)(struct irq_line *line, int level);
	void *opaque;
	uint32_t gsi;
	int vm_fd; /* for the KVM implementations */
	int efd;   /* the irqfd's eventfd, or -1 */
};

/* A line driven with KVM_IRQ_LINE on the VM fd. */
void irq_line_init_kvm(struct irq_line *line, int vm_fd, uint32_t gsi);

/*
 * A line backed by a KVM irqfd: set(1) signals the eventfd and KVM injects
 * `gsi` without a trip through userspace; set(0) does nothing. KVM's irqfd
 * raises and lowers the pin at once, so this is an edge: declare the
 * interrupt edge-triggered to the guest.
 */
int irq_line_init_irqfd(struct irq_line *line, int vm_fd, uint32_t gsi)
	__attribute__((warn_unused_result));
/* Undo irq_line_init_irqfd (a no-op for other lines). */
void irq_line_destroy(struct irq_line *line);

static inline int irq_line_set(struct irq_line *line, int level)
{
	return line->set(line, level);
}

/* Raise then lower: an edge for edge-triggered consumers. */
int irq_line_pulse(struct irq_line *line);

#endif /* BASE_IRQ_H */
