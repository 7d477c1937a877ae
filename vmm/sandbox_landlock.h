/* SPDX-License-Identifier: MIT */
/*
 * Landlock for vmm: the file system limited to what the command line names
 * (kernel, initrd, disks and their backing chains, the console log, the
 * sockets' directories, --landlock-rules) plus /dev/kvm, /dev/net/tun and
 * what the running VM still reads (/proc/self). Raw system calls: glibc has
 * no wrappers.
 */
#ifndef VMM_SANDBOX_LANDLOCK_H
#define VMM_SANDBOX_LANDLOCK_H

#include <stddef.h>

#include "vmm/cli.h"

/* Restrict the calling thread (and so every thread it starts later). A
 * kernel without Landlock: a debug line and 0. */
int sandbox_landlock_apply(const struct vmm_config *cfg, char *err, size_t errlen)
	__attribute__((warn_unused_result));

#endif /* VMM_SANDBOX_LANDLOCK_H */
