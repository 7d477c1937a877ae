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
 *
 * This file is the device manager: it chooses every window and GSI (from
 * base/layout.h) and hands them to the devices, and it alone talks to KVM
 * on their behalf (irqfds for interrupts, ioeventfds for queue notifies),
 * as Firecracker's device manager does. Every setup failure ends in one
 * log line here.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <arpa/inet.h>

#include "devices/disk/disk.h"
#include "devices/net/dgram.h"
#include "devices/net/slirp.h"
#include "devices/net/stream.h"
#include "devices/net/tap.h"
#include "devices/net/vde.h"
#include "devices/fs/p9_server.h"
#include "devices/virtio/9p.h"
#include "devices/virtio/blk.h"
#include "devices/virtio/mmio.h"
#include "devices/virtio/net.h"
#include "firmware/acpi.h"
#include "base/err.h"
#include "base/kvm_eventfd.h"
#include "base/layout.h"
#include "base/log.h"
#include "vmm/vm.h"

enum vm_virtio_kind {
	VM_VIRTIO_BLK, /* a --disk: disk backend + virtio-blk */
	VM_VIRTIO_NET, /* a --net: net backend + virtio-net */
	VM_VIRTIO_9P,  /* a --share: 9P2000.L server + virtio-9p */
};

struct vm_virtio_dev {
	enum vm_virtio_kind kind;
	struct virtio_mmio mmio;
	struct irq_line irq;
	uint64_t base;
	uint32_t gsi;
	bool irq_ready, mmio_ready;
	unsigned int nnotifiers; /* queues 0.. whose notifier is a KVM ioeventfd */
	char name[32];
	union {
		struct {
			const struct cli_disk *cfg;
			struct disk *disk;
			struct virtio_blk *dev;
		} blk; /* VM_VIRTIO_BLK */
		struct {
			const struct cli_net *cfg;
			struct netbe *backend;
			struct vnet *dev;
		} net; /* VM_VIRTIO_NET */
		struct {
			const struct cli_share *cfg;
			struct p9_server *server;
			struct virtio_9p *dev;
		} share; /* VM_VIRTIO_9P */
	};
};

/* vm_virtio_describe can always describe every device. */
_Static_assert(CLI_MAX_VIRTIO <= ACPI_MAX_MMIO_DEVS, "the DSDT must hold every virtio device");

static int open_disk(struct vm_virtio_dev *v, unsigned int i)
{
	const struct cli_disk *cd = v->blk.cfg;
	char err[512];
	int ret;

	/* vda, vdb, ...: the name Linux will give it (probe order = DSDT order) */
	snprintf(v->name, sizeof(v->name), "virtio-blk vd%c", 'a' + i);
	ret = disk_open(cd->path, &cd->opts, &v->blk.disk, err, sizeof(err));
	if (ret) {
		log_err("%s", err[0] ? err : strerror(-ret));
		return ret;
	}
	log_info("disk %u: %s (%s, %llu bytes%s)", i, cd->path, v->blk.disk->format,
		 (unsigned long long)v->blk.disk->size, v->blk.disk->readonly ? ", read-only" : "");
	return 0;
}

static void log_net(const struct vm_virtio_dev *v, unsigned int i)
{
	const struct cli_net *cn = v->net.cfg;
	const uint8_t *m = cn->mac;
	char a[INET_ADDRSTRLEN], b[INET_ADDRSTRLEN];
	unsigned int j;

	log_info("net %u: %s, MAC %02x:%02x:%02x:%02x:%02x:%02x", i, v->net.backend->name, m[0],
		 m[1], m[2], m[3], m[4], m[5]);
	if (cn->kind != CLI_NET_USER)
		return;
	for (j = 0; j < cn->user.nfwd; j++) {
		const struct netbe_hostfwd *f = &cn->user.fwd[j];

		inet_ntop(AF_INET, &f->host_addr, a, sizeof(a));
		inet_ntop(AF_INET, &f->guest_addr, b, sizeof(b));
		log_info("net %u: hostfwd %s %s:%u -> %s:%u", i, f->udp ? "udp" : "tcp", a,
			 f->host_port, b, f->guest_port);
	}
}

static int open_net(struct vm *vm, struct vm_virtio_dev *v, unsigned int i)
{
	const struct cli_net *cn = v->net.cfg;
	char err[512] = "";
	int ret;

	/* eth0, eth1, ...: the name Linux will give it (probe order = DSDT order) */
	snprintf(v->name, sizeof(v->name), "virtio-net eth%u", i);
	if (cn->kind == CLI_NET_USER)
		ret = netbe_slirp_create(&cn->user, &vm->loop, &v->net.backend, err, sizeof(err));
	else if (cn->kind == CLI_NET_VDE)
		ret = netbe_vde_create(&cn->vde, &vm->loop, &v->net.backend, err, sizeof(err));
	else if (cn->kind == CLI_NET_STREAM)
		ret = netbe_stream_create(&cn->stream, &vm->loop, &v->net.backend, err,
					  sizeof(err));
	else if (cn->kind == CLI_NET_DGRAM)
		ret = netbe_dgram_create(&cn->dgram, &vm->loop, &v->net.backend, err, sizeof(err));
	else
		ret = netbe_tap_create(&cn->tap, &vm->loop, &v->net.backend, err, sizeof(err));
	if (ret) {
		static const char *const kinds[] = {
			[CLI_NET_USER] = "user",   [CLI_NET_TAP] = "tap",
			[CLI_NET_VDE] = "vde",	   [CLI_NET_STREAM] = "stream",
			[CLI_NET_DGRAM] = "dgram",
		};

		/* The backend says what failed; the flag is ours to name. */
		log_err("--net %s: %s", kinds[cn->kind], err[0] ? err : strerror(-ret));
		return ret;
	}
	log_net(v, i);
	return 0;
}

static int open_share(struct vm_virtio_dev *v)
{
	const struct cli_share *cs = v->share.cfg;
	char err[512] = "";
	int ret;

	snprintf(v->name, sizeof(v->name), "virtio-9p %.20s", cs->tag);
	ret = p9_server_create(
		&(struct p9_server_params){ .dir = cs->dir, .readonly = cs->readonly },
		&v->share.server, err, sizeof(err));
	if (ret) {
		log_err("--share %s: %s", cs->dir, err[0] ? err : strerror(-ret));
		return ret;
	}
	log_info("share: %s as tag '%s'%s", cs->dir, cs->tag, cs->readonly ? ", read-only" : "");
	return 0;
}

/*
 * Every address and interrupt of a virtio device is chosen here: device i
 * (disks first, then NICs, then shares, in command-line order) gets the i-th 4 KiB
 * window from LAYOUT_VIRTIO_MMIO_START and GSI LAYOUT_VIRTIO_IRQ_BASE + i.
 */
int vm_virtio_open(struct vm *vm)
{
	const struct vmm_config *cfg = vm->cfg;
	unsigned int i, n = cfg->ndisks + cfg->nnets + cfg->nshares;
	int ret;

	if (!n)
		return 0;
	/* GSIs LAYOUT_VIRTIO_IRQ_BASE.. must stay IOAPIC pins (cli.c caps the count). */
	if (LAYOUT_VIRTIO_IRQ_BASE + n > LAYOUT_IOAPIC_PINS) {
		log_err("%u virtio devices: at most %u fit the IOAPIC's pins", n,
			LAYOUT_IOAPIC_PINS - LAYOUT_VIRTIO_IRQ_BASE);
		return -EINVAL;
	}
	vm->virtio = calloc(n, sizeof(*vm->virtio));
	if (!vm->virtio) {
		log_err("cannot allocate %u virtio devices: %s", n, strerror(ENOMEM));
		return -ENOMEM;
	}
	for (i = 0; i < n; i++) {
		struct vm_virtio_dev *v = &vm->virtio[i];

		v->base = LAYOUT_VIRTIO_MMIO_START + i * LAYOUT_VIRTIO_MMIO_SIZE;
		v->gsi = LAYOUT_VIRTIO_IRQ_BASE + i;
		vm->nvirtio++;
		if (i < cfg->ndisks) {
			v->kind = VM_VIRTIO_BLK;
			v->blk.cfg = &cfg->disks[i];
			ret = open_disk(v, i);
		} else if (i < cfg->ndisks + cfg->nnets) {
			v->kind = VM_VIRTIO_NET;
			v->net.cfg = &cfg->nets[i - cfg->ndisks];
			ret = open_net(vm, v, i - cfg->ndisks);
		} else {
			v->kind = VM_VIRTIO_9P;
			v->share.cfg = &cfg->shares[i - cfg->ndisks - cfg->nnets];
			ret = open_share(v);
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
	if (!s) {
		log_err("cannot build the virtio_mmio.device= command line: %s", strerror(ENOMEM));
		return -ENOMEM;
	}
	s[0] = '\0';
	for (i = 0; i < vm->nvirtio; i++)
		len += (size_t)snprintf(s + len, cap - len, "%svirtio_mmio.device=%lluK@0x%llx:%u",
					i ? " " : "",
					(unsigned long long)(LAYOUT_VIRTIO_MMIO_SIZE >> 10),
					(unsigned long long)vm->virtio[i].base, vm->virtio[i].gsi);
	*out = s;
	return 0;
}

static int create_device(struct vm *vm, struct vm_virtio_dev *v, struct virtio_dev **dev, char *err,
			 size_t errlen)
{
	struct vnet_params np = {
		.el = &vm->loop,
		.name = v->name,
	};
	int ret;

	switch (v->kind) {
	case VM_VIRTIO_BLK:
		ret = virtio_blk_create(
			&(struct virtio_blk_params){
				.disk = v->blk.disk,
				.serial = v->blk.cfg->serial,
				.el = &vm->loop,
				.name = v->name,
			},
			&v->blk.dev, err, errlen);
		if (!ret)
			*dev = virtio_blk_dev(v->blk.dev);
		return ret;
	case VM_VIRTIO_NET:
		np.backend = v->net.backend;
		memcpy(np.mac, v->net.cfg->mac, sizeof(np.mac));
		ret = vnet_create(&np, &v->net.dev);
		if (!ret)
			*dev = vnet_dev(v->net.dev);
		return ret;
	case VM_VIRTIO_9P:
		ret = virtio_9p_create(
			&(struct virtio_9p_params){
				.server = v->share.server,
				.tag = v->share.cfg->tag,
				.el = &vm->loop,
				.name = v->name,
			},
			&v->share.dev, err, errlen);
		if (!ret)
			*dev = virtio_9p_dev(v->share.dev);
		return ret;
	}
	return -EINVAL;
}

/*
 * Hand each queue's notifier to KVM as an ioeventfd: the guest's write to
 * QueueNotify then signals the transport's eventfd inside the kernel, with
 * no exit to userspace. On failure, the ones already wired stay counted in
 * v->nnotifiers for vm_virtio_destroy to unwire.
 */
static int wire_notifiers(struct vm *vm, struct vm_virtio_dev *v)
{
	struct virtio_mmio_notifier n;
	int ret;

	while (virtio_mmio_get_notifier(&v->mmio, v->nnotifiers, &n) == 0) {
		ret = kvm_ioeventfd_assign(vm->vm_fd, n.fd, n.addr, n.len, false, true, n.value);
		if (ret) {
			log_err("%s: cannot wire queue %u's notify to an ioeventfd: %s", v->name,
				v->nnotifiers, strerror(-ret));
			return ret;
		}
		v->nnotifiers++;
	}
	return 0;
}

/* Before the transport closes the eventfds: KVM finds them by fd. */
static void unwire_notifiers(struct vm *vm, struct vm_virtio_dev *v)
{
	struct virtio_mmio_notifier n;

	while (v->nnotifiers > 0) {
		v->nnotifiers--;
		if (virtio_mmio_get_notifier(&v->mmio, v->nnotifiers, &n) == 0)
			(void)kvm_ioeventfd_deassign(vm->vm_fd, n.fd, n.addr, n.len, false, true,
						     n.value);
	}
}

static int attach_one(struct vm *vm, struct vm_virtio_dev *v)
{
	struct virtio_dev *dev;
	char err[256];
	int ret;

	ret = irq_line_init_irqfd(&v->irq, vm->vm_fd, v->gsi);
	if (ret) {
		log_err("%s: cannot set up its irqfd: %s", v->name, strerror(-ret));
		return ret;
	}
	v->irq_ready = true;
	err[0] = '\0';
	ret = create_device(vm, v, &dev, err, sizeof(err));
	if (ret) {
		log_err("%s: cannot create the device: %s", v->name, err[0] ? err : strerror(-ret));
		return ret;
	}
	ret = virtio_mmio_init(&v->mmio, dev,
			       &(struct virtio_mmio_params){
				       .mem = &vm->mem,
				       .el = &vm->loop,
				       .irq = &v->irq,
				       .base = v->base,
			       });
	if (ret) {
		log_err("%s: cannot set up its virtio-mmio transport: %s", v->name, strerror(-ret));
		return ret;
	}
	v->mmio_ready = true;
	ret = virtio_mmio_register(&v->mmio, &vm->mmio, err, sizeof(err));
	if (ret) {
		log_err("%s", err);
		return ret;
	}
	return wire_notifiers(vm, v);
}

int vm_virtio_attach(struct vm *vm)
{
	unsigned int i;
	int ret;

	for (i = 0; i < vm->nvirtio; i++) {
		ret = attach_one(vm, &vm->virtio[i]);
		if (ret)
			return ret;
	}
	return 0;
}

/* The 9p server's counters (-v): a guest sending malformed messages shows
 * up here rather than as a warning per message. */
static void log_share_stats(const struct vm_virtio_dev *v)
{
	struct p9_stats st;

	p9_server_stats(v->share.server, &st);
	log_info("%s: %llu requests, %llu errors, %llu malformed", v->name,
		 (unsigned long long)st.requests, (unsigned long long)st.errors,
		 (unsigned long long)st.malformed);
}

/* With the vCPUs joined and the event loop no longer running. */
void vm_virtio_destroy(struct vm *vm)
{
	unsigned int i;

	for (i = 0; i < vm->nvirtio; i++) {
		struct vm_virtio_dev *v = &vm->virtio[i];

		unwire_notifiers(vm, v);
		if (v->mmio_ready)
			virtio_mmio_destroy(&v->mmio);
		switch (v->kind) {
		case VM_VIRTIO_BLK:
			if (v->blk.dev)
				virtio_blk_destroy(v->blk.dev);
			/* Closing completes what is in flight and writes metadata back. */
			if (v->blk.disk)
				disk_close(v->blk.disk);
			break;
		case VM_VIRTIO_NET:
			if (v->net.dev)
				vnet_destroy(v->net.dev);
			if (v->net.backend)
				v->net.backend->ops->destroy(v->net.backend);
			break;
		case VM_VIRTIO_9P:
			if (v->share.dev)
				virtio_9p_destroy(v->share.dev);
			if (v->share.server)
				log_share_stats(v);
			p9_server_destroy(v->share.server);
			break;
		}
		if (v->irq_ready)
			irq_line_destroy(&v->irq);
	}
	free(vm->virtio);
	vm->virtio = NULL;
	vm->nvirtio = 0;
}

/* Snapshots (vmm/snapshot.c): the transport's state of device i and its
 * backend's (libslirp's for --net user; *backend NULL for a disk). Other
 * NIC backends are not saved yet. */
int vm_virtio_state_save(struct vm *vm, unsigned int i, struct virtio_mmio_state *st,
			 uint8_t **backend, size_t *backend_len, int *backend_version, char *err,
			 size_t errlen)
{
	struct vm_virtio_dev *v = &vm->virtio[i];
	int ret;

	*backend = NULL;
	*backend_len = 0;
	*backend_version = 0;
	if (v->kind == VM_VIRTIO_NET && v->net.cfg->kind != CLI_NET_USER)
		return err_set(err, errlen, -ENOTSUP,
			       "%s: snapshots of a NIC on %s are not supported yet (--net user is)",
			       v->name, v->net.backend->name);
	ret = virtio_mmio_state_save(&v->mmio, st, err, errlen);
	if (ret || v->kind != VM_VIRTIO_NET)
		return ret;
	return netbe_slirp_state_save(v->net.backend, backend, backend_len, backend_version, err,
				      errlen);
}

void vm_virtio_poll(struct vm *vm, unsigned int i)
{
	if (vm->virtio[i].kind == VM_VIRTIO_BLK)
		virtio_blk_poll(vm->virtio[i].blk.dev);
}

int vm_virtio_state_load(struct vm *vm, unsigned int i, const struct virtio_mmio_state *st,
			 const uint8_t *backend, size_t backend_len, int backend_version, char *err,
			 size_t errlen)
{
	struct vm_virtio_dev *v = &vm->virtio[i];
	int ret;

	if ((v->kind == VM_VIRTIO_NET) != (backend != NULL))
		return err_set(err, errlen, -EINVAL, "%s: the snapshot's device state is %s",
			       v->name, backend ? "a NIC's" : "not a NIC's");
	if (backend) {
		ret = netbe_slirp_state_load(v->net.backend, backend, backend_len, backend_version,
					     err, errlen);
		if (ret)
			return ret;
	}
	virtio_mmio_state_load(&v->mmio, st);
	return 0;
}
