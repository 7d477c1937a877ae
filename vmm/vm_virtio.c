/* SPDX-License-Identifier: MIT */
/*
 * The VM's virtio devices (part of the composition root, with vm.c): each
 * --disk becomes a block backend (devices/disk) and a virtio-blk device,
 * each --net a net backend (devices/net: slirp or tap) and a virtio-net
 * device; every device gets a virtio-mmio transport in its own 4 KiB window
 * with its own GSI (disks first, then NICs), announced to the guest in the
 * ACPI DSDT or, with --virtio-cmdline, on the kernel command line.
 *
 * Order (vm_create): disks are opened and net backends created first,
 * before KVM is touched, so a bad image or a hostfwd port in use is
 * reported before anything else happens; the firmware tables and the
 * command line then describe the devices; the devices are attached to the
 * buses once KVM's VM fd and guest RAM exist.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <arpa/inet.h>

#include "devices/disk/disk.h"
#include "devices/net/slirp.h"
#include "devices/net/tap.h"
#include "devices/virtio/blk.h"
#include "devices/virtio/mmio.h"
#include "devices/virtio/net.h"
#include "firmware/acpi.h"
#include "base/layout.h"
#include "base/log.h"
#include "vmm/vm.h"

struct vm_virtio_dev {
	struct virtio_mmio mmio;
	struct irq_line irq;
	uint64_t base;
	uint32_t gsi;
	bool irq_ready, mmio_ready;
	char name[32];
	/* a disk (cd != NULL) or a NIC (cn != NULL) */
	const struct cli_disk *cd;
	struct disk *disk;
	struct virtio_blk *blk;
	const struct cli_net *cn;
	struct net_backend *nb;
	struct virtio_net *net;
};

static enum disk_engine_kind engine_of(enum cli_aio aio)
{
	switch (aio) {
	case CLI_AIO_NATIVE:
		return DISK_ENGINE_AIO;
	case CLI_AIO_THREADS:
		return DISK_ENGINE_THREADS;
	case CLI_AIO_SYNC:
		return DISK_ENGINE_SYNC;
	case CLI_AIO_AUTO:
		break;
	}
	return DISK_ENGINE_AUTO;
}

static int open_disk(struct vm_virtio_dev *v, unsigned int i)
{
	const struct cli_disk *cd = v->cd;
	struct disk_open_opts o = {
		.readonly = cd->readonly,
		.direct = cd->direct,
		.engine = engine_of(cd->aio),
		.format = cd->format,
	};
	char err[512];
	int ret;

	/* vda, vdb, ...: the name Linux will give it (probe order = DSDT order) */
	snprintf(v->name, sizeof(v->name), "virtio-blk vd%c", 'a' + i);
	ret = disk_open(cd->path, &o, &v->disk, err, sizeof(err));
	if (ret) {
		log_err("%s", err[0] ? err : strerror(-ret));
		return ret;
	}
	log_info("disk %u: %s (%s, %llu bytes%s)", i, cd->path, v->disk->format,
		 (unsigned long long)v->disk->size, v->disk->readonly ? ", read-only" : "");
	return 0;
}

static void log_net(const struct vm_virtio_dev *v, unsigned int i)
{
	const struct cli_net *cn = v->cn;
	const uint8_t *m = cn->mac;
	char a[INET_ADDRSTRLEN], b[INET_ADDRSTRLEN];
	unsigned int j;

	log_info("net %u: %s, MAC %02x:%02x:%02x:%02x:%02x:%02x", i, v->nb->name, m[0], m[1], m[2],
		 m[3], m[4], m[5]);
	if (cn->kind != CLI_NET_USER)
		return;
	for (j = 0; j < cn->user.nfwd; j++) {
		const struct net_hostfwd *f = &cn->user.fwd[j];

		inet_ntop(AF_INET, &f->host_addr, a, sizeof(a));
		inet_ntop(AF_INET, &f->guest_addr, b, sizeof(b));
		log_info("net %u: hostfwd %s %s:%u -> %s:%u", i, f->udp ? "udp" : "tcp", a,
			 f->host_port, b, f->guest_port);
	}
}

static int open_net(struct vm *vm, struct vm_virtio_dev *v, unsigned int i)
{
	char err[512] = "";
	int ret;

	/* eth0, eth1, ...: the name Linux will give it (probe order = DSDT order) */
	snprintf(v->name, sizeof(v->name), "virtio-net eth%u", i);
	if (v->cn->kind == CLI_NET_USER)
		ret = net_slirp_create(&v->cn->user, &vm->loop, &v->nb, err, sizeof(err));
	else
		ret = net_tap_create(&v->cn->tap, &vm->loop, &v->nb, err, sizeof(err));
	if (ret) {
		log_err("%s", err[0] ? err : strerror(-ret));
		return ret;
	}
	log_net(v, i);
	return 0;
}

int vm_virtio_open(struct vm *vm)
{
	const struct vmm_config *cfg = vm->cfg;
	unsigned int i, n = cfg->ndisks + cfg->nnets;
	int ret;

	if (!n)
		return 0;
	/* GSIs LAYOUT_VIRTIO_IRQ_BASE.. must stay IOAPIC pins (cli.c caps the count). */
	if (LAYOUT_VIRTIO_IRQ_BASE + n > LAYOUT_IOAPIC_PINS)
		return -EINVAL;
	vm->virtio = calloc(n, sizeof(*vm->virtio));
	if (!vm->virtio)
		return -ENOMEM;
	for (i = 0; i < n; i++) {
		struct vm_virtio_dev *v = &vm->virtio[i];

		v->base = LAYOUT_VIRTIO_MMIO_START + i * LAYOUT_VIRTIO_MMIO_SIZE;
		v->gsi = LAYOUT_VIRTIO_IRQ_BASE + i;
		vm->nvirtio++;
		if (i < cfg->ndisks) {
			v->cd = &cfg->disks[i];
			ret = open_disk(v, i);
		} else {
			v->cn = &cfg->nets[i - cfg->ndisks];
			ret = open_net(vm, v, i - cfg->ndisks);
		}
		if (ret)
			return ret;
	}
	return 0;
}

void vm_virtio_describe(struct vm *vm, struct acpi_config *acpi)
{
	unsigned int i;

	if (vm->cfg->virtio_cmdline)
		return;
	for (i = 0; i < vm->nvirtio && acpi->nmmio_devs < ACPI_MAX_MMIO_DEVS; i++)
		acpi->mmio_devs[acpi->nmmio_devs++] = (struct acpi_mmio_dev){
			.base = vm->virtio[i].base,
			.size = LAYOUT_VIRTIO_MMIO_SIZE,
			.irq = vm->virtio[i].gsi,
		};
}

int vm_virtio_cmdline(struct vm *vm, char **out)
{
	size_t len = 0, cap = 1;
	unsigned int i;
	char *s;

	*out = NULL;
	if (!vm->cfg->virtio_cmdline)
		return 0;
	/* drivers/virtio/virtio_mmio.c: virtio_mmio.device=<size>@<base>:<irq> */
	cap += vm->nvirtio * 64;
	s = malloc(cap);
	if (!s)
		return -ENOMEM;
	s[0] = '\0';
	for (i = 0; i < vm->nvirtio; i++)
		len += (size_t)snprintf(s + len, cap - len, "%svirtio_mmio.device=%lluK@0x%llx:%u",
					i ? " " : "",
					(unsigned long long)(LAYOUT_VIRTIO_MMIO_SIZE >> 10),
					(unsigned long long)vm->virtio[i].base, vm->virtio[i].gsi);
	*out = s;
	return 0;
}

static int create_device(struct vm *vm, struct vm_virtio_dev *v, struct virtio_dev **dev)
{
	int ret;

	if (v->cd) {
		ret = virtio_blk_create(
			&(struct virtio_blk_params){
				.disk = v->disk,
				.serial = v->cd->serial,
				.el = &vm->loop,
				.name = v->name,
			},
			&v->blk);
		if (!ret)
			*dev = virtio_blk_dev(v->blk);
		return ret;
	}
	struct virtio_net_params p = {
		.backend = v->nb,
		.el = &vm->loop,
		.name = v->name,
	};
	memcpy(p.mac, v->cn->mac, sizeof(p.mac));
	ret = virtio_net_create(&p, &v->net);
	if (!ret)
		*dev = virtio_net_dev(v->net);
	return ret;
}

int vm_virtio_attach(struct vm *vm)
{
	struct virtio_dev *dev;
	unsigned int i;
	int ret;

	for (i = 0; i < vm->nvirtio; i++) {
		struct vm_virtio_dev *v = &vm->virtio[i];

		ret = irq_line_init_irqfd(&v->irq, vm->vm_fd, v->gsi);
		if (ret) {
			log_err("%s: cannot set up its irqfd: %s", v->name, strerror(-ret));
			return ret;
		}
		v->irq_ready = true;
		ret = create_device(vm, v, &dev);
		if (ret) {
			log_err("%s: cannot create the device: %s", v->name, strerror(-ret));
			return ret;
		}
		ret = virtio_mmio_init(&v->mmio, dev,
				       &(struct virtio_mmio_params){
					       .mem = &vm->mem,
					       .el = &vm->loop,
					       .irq = &v->irq,
					       .base = v->base,
					       .vm_fd = vm->vm_fd,
				       });
		if (ret) {
			log_err("%s: cannot set up its virtio-mmio transport: %s", v->name,
				strerror(-ret));
			return ret;
		}
		v->mmio_ready = true;
		ret = bus_register(&vm->mmio, v->base, VIRTIO_MMIO_WINDOW_SIZE,
				   &virtio_mmio_bus_ops, &v->mmio, &v->mmio.lock, v->name);
		if (ret)
			return ret;
	}
	return 0;
}

/* With the vCPUs joined and the event loop no longer running. */
void vm_virtio_destroy(struct vm *vm)
{
	unsigned int i;

	for (i = 0; i < vm->nvirtio; i++) {
		struct vm_virtio_dev *v = &vm->virtio[i];

		if (v->mmio_ready)
			virtio_mmio_destroy(&v->mmio);
		if (v->blk)
			virtio_blk_destroy(v->blk);
		if (v->net)
			virtio_net_destroy(v->net);
		if (v->nb)
			v->nb->ops->destroy(v->nb);
		/* Closing completes what is in flight and writes metadata back. */
		if (v->disk)
			disk_close(v->disk);
		if (v->irq_ready)
			irq_line_destroy(&v->irq);
	}
	free(vm->virtio);
	vm->virtio = NULL;
	vm->nvirtio = 0;
}
