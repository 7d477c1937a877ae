/* SPDX-License-Identifier: MIT */
/*
 * The snapshot file format: a flattened device tree (libfdt) that holds
 * the machine's configuration and the state of every vCPU and device,
 * followed in the same file by guest RAM at a page-aligned offset.
 *
 *   offset 0        the DTB (its header's totalsize says how long it is)
 *   ram offset      each RAM region's bytes at /memory/region@N `offset`;
 *                   zero pages are holes (the file is sparse)
 *
 *   / { compatible = "vmm,snapshot";
 *       vmm     { version = <1>; argv = "vmm", "--kernel", ...; }
 *       cpus    { vendor = "GenuineIntel"; signature = <eax of leaf 1>;
 *                 features = <ecx edx of leaf 1>;
 *                 cpu@0 { rip = <hi lo>; ...; sregs = [..]; msrs = <...>; ... } }
 *       kvm     { pic-master = [..]; pic-slave; ioapic; pit; clock; }
 *       devices { serial@3f8 {...}; rtc@70 {...}; platform {...};
 *                 virtio@0 { device-status; ...; disk-size; ...; [backend-state;]
 *                            queue@0 { size; desc; avail; used; last-avail; ... } } }
 *       memory  { region@0 { gpa; size; offset; } region@1 ... } }
 *
 * Integers are big-endian cells (64-bit ones as two cells, as the device
 * tree spec writes them); KVM's own structs (sregs, lapic, xsave, ...) are
 * byte strings in KVM's uapi layout. `dtc -I dtb -O dts FILE` shows it all.
 *
 * snapshot_parse() is the hostile-input part: a pure function of the
 * file's first bytes, fuzzed by tests/fuzz/fuzz_snapshot.c.
 */
#ifndef VMM_SNAPSHOT_FMT_H
#define VMM_SNAPSHOT_FMT_H

#include <stddef.h>
#include <stdint.h>

#include "arch/x86/vcpu_state.h"
#include "base/guest_mem.h"
#include "devices/platform.h"
#include "devices/rtc.h"
#include "devices/serial.h"
#include "devices/virtio/mmio.h"

#define SNAPSHOT_VERSION     1
#define SNAPSHOT_MAX_CPUS    254
#define SNAPSHOT_MAX_ARGS    256
#define SNAPSHOT_PAGE	     4096ULL
#define SNAPSHOT_MAX_VIRTIO  16
#define SNAPSHOT_DISK_HEADER 512

struct snapshot_region {
	uint64_t gpa, size, offset; /* offset: in the file, page-aligned */
};

/* What identifies the vCPU model: a snapshot is refused on another one. */
struct snapshot_cpu_model {
	char vendor[13];      /* CPUID leaf 0, "GenuineIntel" */
	uint32_t signature;   /* CPUID leaf 1 eax: family, model, stepping */
	uint32_t features[2]; /* CPUID leaf 1 ecx, edx */
};

/* What identifies a disk image: restore refuses one that changed since. */
struct snapshot_disk {
	uint64_t size;
	uint64_t mtime_ns;
	uint8_t header[SNAPSHOT_DISK_HEADER]; /* the first bytes: qcow2's header */
};

/* A device backend's own state (libslirp's for --net user), opaque here. */
struct snapshot_backend {
	uint8_t *data; /* malloc'd; NULL when the device has none */
	uint32_t len;
	uint32_t version;
};
#define SNAPSHOT_MAX_BACKEND (16u << 20)

struct snapshot_state {
	uint32_t version;
	/* the command line that built the machine (argv[0] included) */
	int argc;
	char **argv; /* argv[argc] == NULL; one malloc'd block */
	struct snapshot_cpu_model model;
	unsigned int nregions;
	struct snapshot_region regions[GM_MAX_REGIONS];
	struct x86_vm_state vm;
	struct serial_state serial;
	struct rtc_state rtc;
	struct platform_state platform;
	unsigned int nvirtio; /* --disk devices, in the machine's order */
	struct virtio_mmio_state virtio[SNAPSHOT_MAX_VIRTIO];
	struct snapshot_disk disks[SNAPSHOT_MAX_VIRTIO];
	struct snapshot_backend backends[SNAPSHOT_MAX_VIRTIO];
	unsigned int ncpus;
	struct x86_vcpu_state *cpus; /* malloc'd, ncpus of them */
};

void snapshot_state_free(struct snapshot_state *s);

/* The DTB for `s` (malloc'd into *out, *outlen bytes). */
int snapshot_build(const struct snapshot_state *s, void **out, size_t *outlen, char *err,
		   size_t errlen) __attribute__((warn_unused_result));

/* Parse the first `len` bytes of a snapshot file into `s` (free it with
 * snapshot_state_free, also after a failure). Checks the tree, the
 * version, every property's length and every range; says in err what is
 * wrong. The RAM is not read: only its regions' places are checked
 * (page-aligned, non-overlapping) here, and against the file's size by
 * the caller. */
int snapshot_parse(const void *buf, size_t len, struct snapshot_state *s, char *err, size_t errlen)
	__attribute__((warn_unused_result));

#endif /* VMM_SNAPSHOT_FMT_H */
