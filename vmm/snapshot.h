/* SPDX-License-Identifier: MIT */
/*
 * Snapshot and restore: the whole machine (vCPUs, in-kernel irqchip, PIT
 * and clock, the serial port, RTC and platform devices, guest RAM) into
 * one file (the format: snapshot_fmt.h), and back into a new VM with
 * `vmm --incoming file:PATH`.
 *
 * Restore maps the RAM MAP_PRIVATE from the file, so start-up copies
 * nothing: the kernel reads a page when the guest first touches it.
 */
#ifndef VMM_SNAPSHOT_H
#define VMM_SNAPSHOT_H

#include <stddef.h>
#include <stdint.h>

#include "vmm/cli.h"
#include "vmm/snapshot_fmt.h"

struct vm;

/* An opened, parsed snapshot file: kept open while the VM runs (its RAM is
 * mapped from fd). */
struct snapshot_in {
	int fd;
	uint64_t file_size;
	struct snapshot_state st;
};

/* Open and check `uri` ("file:PATH", as QEMU spells it). */
int snapshot_open(const char *uri, struct snapshot_in *in, char *err, size_t errlen)
	__attribute__((warn_unused_result));
void snapshot_close(struct snapshot_in *in);

/* The configuration to restore with: the snapshot's own command line, with
 * the host-side options given beside --incoming (`given`) on top; the
 * paths of `given`'s disks replace those of the snapshot's first disks
 * (moved there from `given`). The strings of *cfg point into `in` (keep it
 * open). */
int snapshot_config(struct vmm_config *given, struct snapshot_in *in, struct vmm_config *cfg,
		    char *err, size_t errlen) __attribute__((warn_unused_result));

/* Save the VM into `path` (written as PATH.tmp, then renamed, so a failed
 * save leaves no half file). The vCPUs must be out of KVM_RUN (paused, or
 * joined); the VM is untouched and can go on running after a failure. */
int vm_snapshot_save(struct vm *vm, const char *path, char *err, size_t errlen)
	__attribute__((warn_unused_result));

/* vm_create() for --incoming: map the RAM from the file (before the memory
 * is registered with KVM)... */
int vm_snapshot_map_ram(struct vm *vm, char *err, size_t errlen)
	__attribute__((warn_unused_result));
/* ...and once the devices and vCPUs exist, set all their state. */
int vm_snapshot_restore(struct vm *vm, char *err, size_t errlen)
	__attribute__((warn_unused_result));

#endif /* VMM_SNAPSHOT_H */
