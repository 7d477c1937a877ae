/* SPDX-License-Identifier: MIT */
/*
 * Writing and parsing the snapshot's device tree (see snapshot_fmt.h).
 * Pure functions: no files, no KVM.
 */
#include "vmm/snapshot_fmt.h"

#include <errno.h>
#include <libfdt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/err.h"

/* A struct member shown as its own property: 1-, 4- and 8-byte integers as
 * cells (readable in dtc's output), anything else as a byte string. */
struct snap_field {
	const char *name;
	size_t off;
	size_t size;
};
#define SNAP_FIELD(type, member, name)                                    \
	{                                                                 \
		name, offsetof(type, member), sizeof(((type *)0)->member) \
	}

static const struct snap_field regs_fields[] = {
	SNAP_FIELD(struct kvm_regs, rax, "rax"), SNAP_FIELD(struct kvm_regs, rbx, "rbx"),
	SNAP_FIELD(struct kvm_regs, rcx, "rcx"), SNAP_FIELD(struct kvm_regs, rdx, "rdx"),
	SNAP_FIELD(struct kvm_regs, rsi, "rsi"), SNAP_FIELD(struct kvm_regs, rdi, "rdi"),
	SNAP_FIELD(struct kvm_regs, rsp, "rsp"), SNAP_FIELD(struct kvm_regs, rbp, "rbp"),
	SNAP_FIELD(struct kvm_regs, r8, "r8"),	 SNAP_FIELD(struct kvm_regs, r9, "r9"),
	SNAP_FIELD(struct kvm_regs, r10, "r10"), SNAP_FIELD(struct kvm_regs, r11, "r11"),
	SNAP_FIELD(struct kvm_regs, r12, "r12"), SNAP_FIELD(struct kvm_regs, r13, "r13"),
	SNAP_FIELD(struct kvm_regs, r14, "r14"), SNAP_FIELD(struct kvm_regs, r15, "r15"),
	SNAP_FIELD(struct kvm_regs, rip, "rip"), SNAP_FIELD(struct kvm_regs, rflags, "rflags"),
};

static const struct snap_field serial_fields[] = {
	SNAP_FIELD(struct serial_state, ier, "ier"),
	SNAP_FIELD(struct serial_state, lcr, "lcr"),
	SNAP_FIELD(struct serial_state, mcr, "mcr"),
	SNAP_FIELD(struct serial_state, lsr, "lsr"),
	SNAP_FIELD(struct serial_state, msr, "msr"),
	SNAP_FIELD(struct serial_state, scr, "scr"),
	SNAP_FIELD(struct serial_state, fcr, "fcr"),
	SNAP_FIELD(struct serial_state, dll, "dll"),
	SNAP_FIELD(struct serial_state, dlm, "dlm"),
	SNAP_FIELD(struct serial_state, rx_fifo, "rx-fifo"),
	SNAP_FIELD(struct serial_state, rx_head, "rx-head"),
	SNAP_FIELD(struct serial_state, rx_count, "rx-count"),
	SNAP_FIELD(struct serial_state, thr_empty_pending, "thr-empty-pending"),
};

static const struct snap_field rtc_fields[] = {
	SNAP_FIELD(struct rtc_state, index, "index"),
	SNAP_FIELD(struct rtc_state, cmos, "cmos"),
	SNAP_FIELD(struct rtc_state, offset, "offset"),
	SNAP_FIELD(struct rtc_state, frozen, "frozen"),
	SNAP_FIELD(struct rtc_state, frozen_tm, "frozen-tm"),
};

static const struct snap_field platform_fields[] = {
	SNAP_FIELD(struct platform_state, sleep_sts, "sleep-sts"),
	SNAP_FIELD(struct platform_state, i8042_cmd, "i8042-cmd"),
	SNAP_FIELD(struct platform_state, i8042_out, "i8042-out"),
	SNAP_FIELD(struct platform_state, i8042_status, "i8042-status"),
	SNAP_FIELD(struct platform_state, i8042_ctr, "i8042-ctr"),
	SNAP_FIELD(struct platform_state, i8042_outport, "i8042-outport"),
};

/* KVM's structs kept whole, as byte strings */
static const struct snap_field cpu_blobs[] = {
	SNAP_FIELD(struct x86_vcpu_state, sregs, "sregs"),
	SNAP_FIELD(struct x86_vcpu_state, fpu, "fpu"),
	SNAP_FIELD(struct x86_vcpu_state, lapic, "lapic"),
	SNAP_FIELD(struct x86_vcpu_state, events, "events"),
	SNAP_FIELD(struct x86_vcpu_state, debugregs, "debugregs"),
	SNAP_FIELD(struct x86_vcpu_state, mp_state.mp_state, "mp-state"),
	SNAP_FIELD(struct x86_vcpu_state, tsc_khz, "tsc-khz"),
};

static const struct snap_field vm_fields[] = {
	SNAP_FIELD(struct x86_vm_state, pic_master, "pic-master"),
	SNAP_FIELD(struct x86_vm_state, pic_slave, "pic-slave"),
	SNAP_FIELD(struct x86_vm_state, ioapic, "ioapic"),
	SNAP_FIELD(struct x86_vm_state, pit, "pit"),
	SNAP_FIELD(struct x86_vm_state, clock.clock, "clock"),
};

static const struct snap_field virtio_fields[] = {
	SNAP_FIELD(struct virtio_mmio_state, status, "device-status"),
	SNAP_FIELD(struct virtio_mmio_state, device_features_sel, "device-features-sel"),
	SNAP_FIELD(struct virtio_mmio_state, driver_features_sel, "driver-features-sel"),
	SNAP_FIELD(struct virtio_mmio_state, queue_sel, "queue-sel"),
	SNAP_FIELD(struct virtio_mmio_state, interrupt_status, "interrupt-status"),
	SNAP_FIELD(struct virtio_mmio_state, config_generation, "config-generation"),
	SNAP_FIELD(struct virtio_mmio_state, features_bad, "features-bad"),
	SNAP_FIELD(struct virtio_mmio_state, driver_features, "driver-features"),
};

static const struct snap_field queue_fields[] = {
	SNAP_FIELD(struct virtio_mmio_queue_state, size, "size"),
	SNAP_FIELD(struct virtio_mmio_queue_state, ready, "ready"),
	SNAP_FIELD(struct virtio_mmio_queue_state, desc, "desc"),
	SNAP_FIELD(struct virtio_mmio_queue_state, avail, "avail"),
	SNAP_FIELD(struct virtio_mmio_queue_state, used, "used"),
	SNAP_FIELD(struct virtio_mmio_queue_state, last_avail, "last-avail"),
	SNAP_FIELD(struct virtio_mmio_queue_state, used_idx, "used-idx"),
	SNAP_FIELD(struct virtio_mmio_queue_state, signalled_used, "signalled-used"),
	SNAP_FIELD(struct virtio_mmio_queue_state, signalled_used_valid, "signalled-used-valid"),
};

static const struct snap_field disk_fields[] = {
	SNAP_FIELD(struct snapshot_disk, size, "disk-size"),
	SNAP_FIELD(struct snapshot_disk, mtime_ns, "disk-mtime-ns"),
	SNAP_FIELD(struct snapshot_disk, header, "disk-header"),
};

static const struct snap_field model_fields[] = {
	SNAP_FIELD(struct snapshot_cpu_model, signature, "signature"),
};

static const struct snap_field region_fields[] = {
	SNAP_FIELD(struct snapshot_region, gpa, "gpa"),
	SNAP_FIELD(struct snapshot_region, size, "size"),
	SNAP_FIELD(struct snapshot_region, offset, "offset"),
};

#define COUNT(a) (sizeof(a) / sizeof((a)[0]))

/* ---------------------------------------------------------------- writing */

static int put_fields(void *fdt, const void *base, const struct snap_field *f, size_t n)
{
	size_t i;
	int ret = 0;

	for (i = 0; i < n && !ret; i++) {
		const uint8_t *p = (const uint8_t *)base + f[i].off;
		uint64_t v64;
		uint32_t v32;

		switch (f[i].size) {
		case 1:
			ret = fdt_property_cell(fdt, f[i].name, *p);
			break;
		case 4:
			memcpy(&v32, p, 4);
			ret = fdt_property_cell(fdt, f[i].name, v32);
			break;
		case 8:
			memcpy(&v64, p, 8);
			ret = fdt_property_u64(fdt, f[i].name, v64);
			break;
		default:
			ret = fdt_property(fdt, f[i].name, p, (int)f[i].size);
		}
	}
	return ret;
}

/* `reg` (>= 0): the unit address of name@reg, which dtc wants as a property */
static int put_node(void *fdt, const char *name, int64_t reg, const void *base,
		    const struct snap_field *f, size_t n)
{
	int ret = fdt_begin_node(fdt, name);

	if (!ret && reg >= 0)
		ret = fdt_property_cell(fdt, "reg", (uint32_t)reg);
	if (!ret)
		ret = put_fields(fdt, base, f, n);
	if (!ret)
		ret = fdt_end_node(fdt);
	return ret;
}

static int put_cpu(void *fdt, unsigned int i, const struct x86_vcpu_state *c)
{
	char name[32];
	uint32_t *cells;
	uint32_t j;
	int ret;

	snprintf(name, sizeof(name), "cpu@%u", i);
	ret = fdt_begin_node(fdt, name);
	if (!ret)
		ret = fdt_property_cell(fdt, "reg", i);
	if (!ret)
		ret = put_fields(fdt, &c->regs, regs_fields, COUNT(regs_fields));
	if (!ret)
		ret = put_fields(fdt, c, cpu_blobs, COUNT(cpu_blobs));
	if (!ret && c->xsave_size)
		ret = fdt_property(fdt, "xsave", c->xsave, (int)c->xsave_size);
	if (!ret && c->has_xcrs)
		ret = fdt_property(fdt, "xcrs", &c->xcrs, sizeof(c->xcrs));
	/* msrs = <index value-hi value-lo>, one triple per MSR */
	if (!ret)
		ret = fdt_property_placeholder(fdt, "msrs", (int)(c->nmsrs * 12), (void **)&cells);
	for (j = 0; !ret && j < c->nmsrs; j++) {
		cells[3 * j] = cpu_to_fdt32(c->msrs[j].index);
		cells[3 * j + 1] = cpu_to_fdt32((uint32_t)(c->msrs[j].data >> 32));
		cells[3 * j + 2] = cpu_to_fdt32((uint32_t)c->msrs[j].data);
	}
	if (!ret)
		ret = fdt_end_node(fdt);
	return ret;
}

static int put_virtio(void *fdt, unsigned int i, const struct virtio_mmio_state *v,
		      const struct snapshot_disk *d, const struct snapshot_backend *be)
{
	char name[32];
	unsigned int q;
	int ret;

	snprintf(name, sizeof(name), "virtio@%u", i);
	ret = fdt_begin_node(fdt, name);
	ret = ret ?: fdt_property_cell(fdt, "reg", i);
	ret = ret ?: put_fields(fdt, v, virtio_fields, COUNT(virtio_fields));
	ret = ret ?: put_fields(fdt, d, disk_fields, COUNT(disk_fields));
	if (be->data) {
		ret = ret ?: fdt_property(fdt, "backend-state", be->data, (int)be->len);
		ret = ret ?: fdt_property_cell(fdt, "backend-state-version", be->version);
	}
	ret = ret ?: fdt_property_cell(fdt, "#address-cells", 1);
	ret = ret ?: fdt_property_cell(fdt, "#size-cells", 0);
	for (q = 0; !ret && q < VIRTIO_MAX_QUEUES; q++) {
		snprintf(name, sizeof(name), "queue@%u", q);
		ret = put_node(fdt, name, q, &v->q[q], queue_fields, COUNT(queue_fields));
	}
	ret = ret ?: fdt_end_node(fdt);
	return ret;
}

static int put_tree(void *fdt, const struct snapshot_state *s)
{
	char name[32];
	size_t arglen = 0;
	unsigned int i;
	char *args;
	int ret = 0, a;

	ret = fdt_finish_reservemap(fdt);
	ret = ret ?: fdt_begin_node(fdt, "");
	ret = ret ?: fdt_property_string(fdt, "compatible", "vmm,snapshot");
	ret = ret ?: fdt_begin_node(fdt, "vmm");
	ret = ret ?: fdt_property_cell(fdt, "version", s->version);
	/* argv as a string list: the strings one after another, each with its NUL */
	for (a = 0; a < s->argc; a++)
		arglen += strlen(s->argv[a]) + 1;
	ret = ret ?: fdt_property_placeholder(fdt, "argv", (int)arglen, (void **)&args);
	for (a = 0; !ret && a < s->argc; a++) {
		size_t l = strlen(s->argv[a]) + 1;

		memcpy(args, s->argv[a], l);
		args += l;
	}
	ret = ret ?: fdt_end_node(fdt);

	ret = ret ?: fdt_begin_node(fdt, "cpus");
	ret = ret ?: fdt_property_cell(fdt, "#address-cells", 1);
	ret = ret ?: fdt_property_cell(fdt, "#size-cells", 0);
	ret = ret ?: fdt_property_string(fdt, "vendor", s->model.vendor);
	ret = ret ?: put_fields(fdt, &s->model, model_fields, COUNT(model_fields));
	ret = ret
		      ?: fdt_property(fdt, "features",
				      (uint32_t[]){ cpu_to_fdt32(s->model.features[0]),
						    cpu_to_fdt32(s->model.features[1]) },
				      8);
	for (i = 0; !ret && i < s->ncpus; i++)
		ret = put_cpu(fdt, i, &s->cpus[i]);
	ret = ret ?: fdt_end_node(fdt);

	ret = ret ?: put_node(fdt, "kvm", -1, &s->vm, vm_fields, COUNT(vm_fields));
	ret = ret ?: fdt_begin_node(fdt, "devices");
	ret = ret ?: fdt_property_cell(fdt, "#address-cells", 1);
	ret = ret ?: fdt_property_cell(fdt, "#size-cells", 0);
	ret = ret
		      ?: put_node(fdt, "serial@3f8", 0x3f8, &s->serial, serial_fields,
				  COUNT(serial_fields));
	ret = ret ?: put_node(fdt, "rtc@70", 0x70, &s->rtc, rtc_fields, COUNT(rtc_fields));
	ret = ret
		      ?: put_node(fdt, "platform", -1, &s->platform, platform_fields,
				  COUNT(platform_fields));
	for (i = 0; !ret && i < s->nvirtio; i++)
		ret = put_virtio(fdt, i, &s->virtio[i], &s->disks[i], &s->backends[i]);
	ret = ret ?: fdt_end_node(fdt);

	/* regions by index: a gpa above 4 GiB would not fit one reg cell */
	ret = ret ?: fdt_begin_node(fdt, "memory");
	ret = ret ?: fdt_property_cell(fdt, "#address-cells", 1);
	ret = ret ?: fdt_property_cell(fdt, "#size-cells", 0);
	for (i = 0; !ret && i < s->nregions; i++) {
		snprintf(name, sizeof(name), "region@%u", i);
		ret = put_node(fdt, name, i, &s->regions[i], region_fields, COUNT(region_fields));
	}
	ret = ret ?: fdt_end_node(fdt);
	ret = ret ?: fdt_end_node(fdt);
	ret = ret ?: fdt_finish(fdt);
	return ret;
}

int snapshot_build(const struct snapshot_state *s, void **out, size_t *outlen, char *err,
		   size_t errlen)
{
	/* Room for everything: each vCPU's struct is an upper bound of what
	 * its node holds, plus names and tags. */
	size_t size = (256u << 10) + (size_t)s->ncpus * (sizeof(struct x86_vcpu_state) + 4096) +
		      (size_t)s->nvirtio * (16u << 10);
	unsigned int i;
	void *fdt;
	int ret;

	for (i = 0; i < s->nvirtio && i < SNAPSHOT_MAX_VIRTIO; i++)
		size += s->backends[i].len;
	*out = NULL;
	fdt = calloc(1, size);
	if (!fdt)
		return err_set(err, errlen, -ENOMEM, "out of memory for the snapshot's state");
	ret = fdt_create(fdt, (int)size);
	ret = ret ?: put_tree(fdt, s);
	if (ret) {
		free(fdt);
		return err_set(err, errlen, -EIO, "cannot build the snapshot's device tree: %s",
			       fdt_strerror(ret));
	}
	*out = fdt;
	*outlen = fdt_totalsize(fdt);
	return 0;
}

/* ---------------------------------------------------------------- parsing */

static uint64_t cells_to_u64(const fdt32_t *c)
{
	return ((uint64_t)fdt32_to_cpu(c[0]) << 32) | fdt32_to_cpu(c[1]);
}

static int get_fields(const void *fdt, int node, const char *where, void *base,
		      const struct snap_field *f, size_t n, char *err, size_t errlen)
{
	size_t i;

	for (i = 0; i < n; i++) {
		uint8_t *p = (uint8_t *)base + f[i].off;
		size_t want = f[i].size == 1 ? 4 : f[i].size;
		const fdt32_t *v;
		uint64_t v64;
		uint32_t v32;
		int len;

		v = fdt_getprop(fdt, node, f[i].name, &len);
		if (!v || len < 0 || (size_t)len != want)
			return err_set(err, errlen, -EINVAL, "%s/%s is %s (%zu bytes expected)",
				       where, f[i].name, v ? "the wrong length" : "missing", want);
		switch (f[i].size) {
		case 1:
			v32 = fdt32_to_cpu(v[0]);
			if (v32 > 0xff)
				return err_set(err, errlen, -EINVAL, "%s/%s: %u is not a byte",
					       where, f[i].name, v32);
			*p = (uint8_t)v32;
			break;
		case 4:
			v32 = fdt32_to_cpu(v[0]);
			memcpy(p, &v32, 4);
			break;
		case 8:
			v64 = cells_to_u64(v);
			memcpy(p, &v64, 8);
			break;
		default:
			memcpy(p, v, f[i].size);
		}
	}
	return 0;
}

static int get_node(const void *fdt, const char *path, void *base, const struct snap_field *f,
		    size_t n, char *err, size_t errlen)
{
	int node = fdt_path_offset(fdt, path);

	if (node < 0)
		return err_set(err, errlen, -EINVAL, "no %s node", path);
	return get_fields(fdt, node, path, base, f, n, err, errlen);
}

static int get_argv(const void *fdt, int node, struct snapshot_state *s, char *err, size_t errlen)
{
	const char *v;
	int len = 0, n, i;
	size_t ptrs;
	char *strs;

	v = fdt_getprop(fdt, node, "argv", &len);
	n = v ? fdt_stringlist_count(fdt, node, "argv") : -1;
	if (!v || len <= 0 || n < 1 || n > SNAPSHOT_MAX_ARGS || v[len - 1] != '\0')
		return err_set(err, errlen, -EINVAL, "/vmm/argv is missing or not a string list");
	ptrs = (size_t)(n + 1) * sizeof(char *);
	s->argv = malloc(ptrs + (size_t)len);
	if (!s->argv)
		return err_set(err, errlen, -ENOMEM, "out of memory");
	strs = (char *)s->argv + ptrs;
	memcpy(strs, v, (size_t)len);
	for (i = 0; i < n; i++) {
		s->argv[i] = strs;
		strs += strlen(strs) + 1;
	}
	s->argv[n] = NULL;
	s->argc = n;
	return 0;
}

static int get_cpu(const void *fdt, int node, unsigned int i, struct x86_vcpu_state *c, char *err,
		   size_t errlen)
{
	char where[32];
	const fdt32_t *v;
	uint32_t j;
	int len, ret;

	snprintf(where, sizeof(where), "/cpus/cpu@%u", i);
	ret = get_fields(fdt, node, where, &c->regs, regs_fields, COUNT(regs_fields), err, errlen);
	ret = ret ?: get_fields(fdt, node, where, c, cpu_blobs, COUNT(cpu_blobs), err, errlen);
	if (ret)
		return ret;
	v = fdt_getprop(fdt, node, "xsave", &len);
	if (v) {
		if (len < (int)sizeof(struct kvm_xsave) || len > X86_STATE_MAX_XSAVE)
			return err_set(err, errlen, -EINVAL, "%s/xsave: %d bytes", where, len);
		memcpy(c->xsave, v, (size_t)len);
		c->xsave_size = (uint32_t)len;
	}
	v = fdt_getprop(fdt, node, "xcrs", &len);
	if (v) {
		if (len != sizeof(c->xcrs))
			return err_set(err, errlen, -EINVAL, "%s/xcrs: %d bytes", where, len);
		memcpy(&c->xcrs, v, sizeof(c->xcrs));
		c->has_xcrs = true;
	}
	v = fdt_getprop(fdt, node, "msrs", &len);
	if (!v || len < 0 || len % 12 || len / 12 > X86_STATE_MAX_MSRS)
		return err_set(err, errlen, -EINVAL, "%s/msrs is missing or malformed", where);
	c->nmsrs = (uint32_t)len / 12;
	for (j = 0; j < c->nmsrs; j++) {
		c->msrs[j].index = fdt32_to_cpu(v[3 * j]);
		c->msrs[j].data = cells_to_u64(&v[3 * j + 1]);
	}
	return 0;
}

static int get_cpus(const void *fdt, struct snapshot_state *s, char *err, size_t errlen)
{
	int cpus = fdt_path_offset(fdt, "/cpus"), node, len;
	const fdt32_t *feat;
	const char *vendor;
	unsigned int n = 0;
	char want[32];

	if (cpus < 0)
		return err_set(err, errlen, -EINVAL, "no /cpus node");
	vendor = fdt_getprop(fdt, cpus, "vendor", &len);
	/* twelve characters and the NUL: one inside would not survive a new save */
	if (!vendor || len != 13 || strnlen(vendor, 13) != 12)
		return err_set(err, errlen, -EINVAL, "/cpus/vendor is missing or malformed");
	feat = fdt_getprop(fdt, cpus, "features", &len);
	if (!feat || len != 8)
		return err_set(err, errlen, -EINVAL, "/cpus/features is missing or malformed");
	if (get_fields(fdt, cpus, "/cpus", &s->model, model_fields, COUNT(model_fields), err,
		       errlen))
		return -EINVAL;
	memcpy(s->model.vendor, vendor, 13);
	s->model.features[0] = fdt32_to_cpu(feat[0]);
	s->model.features[1] = fdt32_to_cpu(feat[1]);
	fdt_for_each_subnode(node, fdt, cpus) n++;
	if (n < 1 || n > SNAPSHOT_MAX_CPUS)
		return err_set(err, errlen, -EINVAL, "%u vCPUs (1..%d)", n, SNAPSHOT_MAX_CPUS);
	s->cpus = calloc(n, sizeof(*s->cpus));
	if (!s->cpus)
		return err_set(err, errlen, -ENOMEM, "out of memory for %u vCPUs", n);
	s->ncpus = n;
	n = 0;
	fdt_for_each_subnode(node, fdt, cpus)
	{
		const char *name = fdt_get_name(fdt, node, NULL);
		int ret;

		snprintf(want, sizeof(want), "cpu@%u", n);
		if (!name || strcmp(name, want))
			return err_set(err, errlen, -EINVAL, "/cpus: node %s where %s belongs",
				       name ? name : "?", want);
		ret = get_cpu(fdt, node, n, &s->cpus[n], err, errlen);
		if (ret)
			return ret;
		n++;
	}
	return 0;
}

static int get_backend(const void *fdt, int node, struct snapshot_backend *be, char *err,
		       size_t errlen)
{
	const fdt32_t *ver;
	const void *v;
	int len, vlen;

	v = fdt_getprop(fdt, node, "backend-state", &len);
	if (!v)
		return 0;
	ver = fdt_getprop(fdt, node, "backend-state-version", &vlen);
	if (len <= 0 || (uint32_t)len > SNAPSHOT_MAX_BACKEND || !ver || vlen != 4)
		return err_set(err, errlen, -EINVAL,
			       "a virtio device's backend-state is malformed");
	be->data = malloc((size_t)len);
	if (!be->data)
		return err_set(err, errlen, -ENOMEM, "out of memory");
	memcpy(be->data, v, (size_t)len);
	be->len = (uint32_t)len;
	be->version = fdt32_to_cpu(*ver);
	return 0;
}

/* /devices/virtio@0, @1, ...: as many as there are, in order */
static int get_virtio(const void *fdt, struct snapshot_state *s, char *err, size_t errlen)
{
	int devices = fdt_path_offset(fdt, "/devices"), node, qnode, ret;
	char name[32];
	unsigned int q;

	if (devices < 0)
		return err_set(err, errlen, -EINVAL, "no /devices node");
	for (s->nvirtio = 0;; s->nvirtio++) {
		snprintf(name, sizeof(name), "virtio@%u", s->nvirtio);
		node = fdt_subnode_offset(fdt, devices, name);
		if (node < 0)
			return 0;
		if (s->nvirtio == SNAPSHOT_MAX_VIRTIO)
			return err_set(err, errlen, -EINVAL, "more than %d virtio devices",
				       SNAPSHOT_MAX_VIRTIO);
		ret = get_fields(fdt, node, "/devices/virtio", &s->virtio[s->nvirtio],
				 virtio_fields, COUNT(virtio_fields), err, errlen);
		ret = ret
			      ?: get_fields(fdt, node, "/devices/virtio", &s->disks[s->nvirtio],
					    disk_fields, COUNT(disk_fields), err, errlen);
		ret = ret ?: get_backend(fdt, node, &s->backends[s->nvirtio], err, errlen);
		for (q = 0; !ret && q < VIRTIO_MAX_QUEUES; q++) {
			snprintf(name, sizeof(name), "queue@%u", q);
			qnode = fdt_subnode_offset(fdt, node, name);
			if (qnode < 0)
				return err_set(err, errlen, -EINVAL, "/devices/virtio@%u has no %s",
					       s->nvirtio, name);
			ret = get_fields(fdt, qnode, "/devices/virtio/queue",
					 &s->virtio[s->nvirtio].q[q], queue_fields,
					 COUNT(queue_fields), err, errlen);
		}
		if (ret)
			return ret;
	}
}

static int get_regions(const void *fdt, struct snapshot_state *s, char *err, size_t errlen)
{
	int mem = fdt_path_offset(fdt, "/memory"), node, ret;
	uint64_t end;

	if (mem < 0)
		return err_set(err, errlen, -EINVAL, "no /memory node");
	fdt_for_each_subnode(node, fdt, mem)
	{
		struct snapshot_region *r = &s->regions[s->nregions];

		if (s->nregions == GM_MAX_REGIONS)
			return err_set(err, errlen, -EINVAL, "more than %d RAM regions",
				       GM_MAX_REGIONS);
		ret = get_fields(fdt, node, "/memory/region", r, region_fields,
				 COUNT(region_fields), err, errlen);
		if (ret)
			return ret;
		if (!r->size || (r->size | r->offset | r->gpa) & (SNAPSHOT_PAGE - 1) ||
		    __builtin_add_overflow(r->offset, r->size, &end) ||
		    __builtin_add_overflow(r->gpa, r->size, &end))
			return err_set(err, errlen, -EINVAL,
				       "RAM region %u is not page-aligned or overflows",
				       s->nregions);
		s->nregions++;
	}
	if (!s->nregions)
		return err_set(err, errlen, -EINVAL, "no RAM regions");
	return 0;
}

int snapshot_parse(const void *buf, size_t len, struct snapshot_state *s, char *err, size_t errlen)
{
	const fdt32_t *ver;
	int node, vlen, ret;

	memset(s, 0, sizeof(*s));
	if (len < sizeof(struct fdt_header) || fdt_magic(buf) != FDT_MAGIC)
		return err_set(err, errlen, -EINVAL, "not a vmm snapshot (no device tree header)");
	if (fdt_totalsize(buf) > len)
		return err_set(err, errlen, -EINVAL,
			       "truncated: the state is %u bytes, the file has only %zu",
			       fdt_totalsize(buf), len);
	ret = fdt_check_full(buf, len);
	if (ret)
		return err_set(err, errlen, -EINVAL, "corrupted state: %s", fdt_strerror(ret));
	node = fdt_path_offset(buf, "/vmm");
	if (node < 0 || fdt_node_check_compatible(buf, 0, "vmm,snapshot"))
		return err_set(err, errlen, -EINVAL, "not a vmm snapshot (no /vmm node)");
	ver = fdt_getprop(buf, node, "version", &vlen);
	if (!ver || vlen != 4)
		return err_set(err, errlen, -EINVAL, "no /vmm/version");
	s->version = fdt32_to_cpu(*ver);
	if (s->version != SNAPSHOT_VERSION)
		return err_set(err, errlen, -ENOTSUP,
			       "snapshot format version %u: this vmm reads version %d only",
			       s->version, SNAPSHOT_VERSION);
	ret = get_argv(buf, node, s, err, errlen);
	ret = ret ?: get_cpus(buf, s, err, errlen);
	ret = ret ?: get_node(buf, "/kvm", &s->vm, vm_fields, COUNT(vm_fields), err, errlen);
	ret = ret
		      ?: get_node(buf, "/devices/serial@3f8", &s->serial, serial_fields,
				  COUNT(serial_fields), err, errlen);
	ret = ret
		      ?: get_node(buf, "/devices/rtc@70", &s->rtc, rtc_fields, COUNT(rtc_fields),
				  err, errlen);
	ret = ret
		      ?: get_node(buf, "/devices/platform", &s->platform, platform_fields,
				  COUNT(platform_fields), err, errlen);
	ret = ret ?: get_virtio(buf, s, err, errlen);
	ret = ret ?: get_regions(buf, s, err, errlen);
	return ret;
}

void snapshot_state_free(struct snapshot_state *s)
{
	unsigned int i;

	for (i = 0; i < SNAPSHOT_MAX_VIRTIO; i++) {
		free(s->backends[i].data);
		s->backends[i].data = NULL;
	}
	free(s->argv);
	free(s->cpus);
	s->argv = NULL;
	s->cpus = NULL;
}
