/* SPDX-License-Identifier: MIT */
/*
 * --jail, --jail-user and the home of the cgroup limits: a supervising
 * parent and the VM in a child.
 *
 * jail_supervise() creates the VM's cgroup (cgroup.h), forks, puts the
 * child in it, and for --jail makes the child PID 1 of a new PID namespace
 * that enters new mount, IPC, UTS (and network) namespaces and an empty
 * root (jail_root.c) before it runs the VM. The parent forwards
 * SIGINT/SIGTERM/SIGHUP and SIGUSR2 (the vCPU dump), passes the child's exit status through, names
 * an OOM kill by the cgroup, and removes the cgroup.
 */
#ifndef VMM_JAIL_H
#define VMM_JAIL_H

#include <pthread.h>
#include <stdbool.h>
#include <stddef.h>

#include "vmm/cli.h"

/* Exit status when the cgroup's OOM killer ended the VM (--mem-limit). */
#define JAIL_EXIT_OOM 7

/* Whether the VM runs under jail_supervise(): --jail or a limit. */
bool jail_wanted(const struct vmm_config *cfg);

/* Run run(cfg, go_fd) in the child; returns the status for exit().
 * Prints one line on failure (VM_EXIT_ERROR). run() builds the VM while
 * the parent moves the child into the cgroup, and must call
 * jail_wait_go(go_fd) before the guest first runs (go_fd is -1 when run()
 * is called outside jail_supervise()). */
int jail_supervise(struct vmm_config *cfg, int (*run)(struct vmm_config *cfg, int go_fd));
/* In the child: wait until the parent has put it in the cgroup. 0, or
 * -EPERM when it could not (the parent said why: exit quietly). */
int jail_wait_go(int go_fd) __attribute__((warn_unused_result));

/* jail_root.c, in the child: new mount, IPC, UTS (and network) namespaces,
 * pivot_root into a tmpfs holding bind mounts of the files cfg names, then
 * --jail-user. 0 or -errno with one line in err. */
int jail_enter(const struct vmm_config *cfg, char *err, size_t errlen)
	__attribute__((warn_unused_result));

/* --cpu-affinity: pin vCPU `index`'s thread. 0, or -errno with err. */
int jail_pin_vcpu(const struct jail_config *j, unsigned int index, pthread_t thread, char *err,
		  size_t errlen) __attribute__((warn_unused_result));

#endif /* VMM_JAIL_H */
