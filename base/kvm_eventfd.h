/* SPDX-License-Identifier: MIT */
/*
 * Eventfds wired to a KVM VM file descriptor, both directions:
 *   - KVM_IRQFD: a write to the eventfd injects an interrupt into the guest
 *     (the irqfd-backed irq_line in irq.c uses it);
 *   - KVM_IOEVENTFD: a guest write to an address signals the eventfd inside
 *     KVM, without an exit to userspace (the device manager, vmm/vm_virtio.c,
 *     wires the virtio-mmio transport's notify eventfds with it).
 *
 * Why base/ and not irq.h or vmm/: an ioeventfd is not an interrupt line,
 * so it does not belong beside struct irq_line; but both the irq lines
 * (base/irq.c) and the top layer need these ioctls, base/ may use the Linux
 * uapi, and devices never call them (a device knows no KVM: it exposes
 * eventfds and the top layer wires them).
 *
 * Each call returns 0 or a negative errno from the ioctl.
 */
#ifndef BASE_KVM_EVENTFD_H
#define BASE_KVM_EVENTFD_H

#include <stdbool.h>
#include <stdint.h>

/* KVM_IRQFD: writes to `efd` inject `gsi`. */
int kvm_irqfd_assign(int vm_fd, int efd, uint32_t gsi) __attribute__((warn_unused_result));
int kvm_irqfd_deassign(int vm_fd, int efd, uint32_t gsi);

/* KVM_IOEVENTFD: a guest write of `len` bytes to `addr` signals `efd`
 * without leaving the kernel (is_pio selects the PIO bus). If `match` is
 * true the write must carry `datamatch`; other writes exit as usual. */
int kvm_ioeventfd_assign(int vm_fd, int efd, uint64_t addr, uint32_t len, bool is_pio, bool match,
			 uint64_t datamatch) __attribute__((warn_unused_result));
/* Undo kvm_ioeventfd_assign (the same arguments). Call it before closing
 * `efd`: KVM finds the registration by the fd. */
int kvm_ioeventfd_deassign(int vm_fd, int efd, uint64_t addr, uint32_t len, bool is_pio, bool match,
			   uint64_t datamatch);

#endif /* BASE_KVM_EVENTFD_H */
