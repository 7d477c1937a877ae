/* SPDX-License-Identifier: MIT */
/*
 * The VM's own cgroup for --cpu-limit, --mem-limit and --io-limit, v1 or v2.
 *
 * cgroup_create() makes one cgroup per needed controller (v1) or one cgroup
 * (v2), named vmm-PID, below the cgroup this process runs in (read from
 * /proc/self/cgroup) or below --cgroup-parent, and writes the limits into
 * it. It never changes a cgroup it did not create: a v2 controller that
 * the parent does not delegate is an error saying how to enable it.
 * cgroup_add_pid() moves a process in; cgroup_destroy() removes what
 * cgroup_create() made, once the processes in it have exited.
 */
#ifndef VMM_CGROUP_H
#define VMM_CGROUP_H

#include <stdbool.h>
#include <stddef.h>
#include <sys/types.h>

#include "vmm/cli.h"

#define CGROUP_MAX_DIRS 3 /* v1: cpu, memory, blkio */

struct cgroup {
	int version;		     /* 1 or 2 */
	char *dirs[CGROUP_MAX_DIRS]; /* the cgroups created (absolute paths) */
	unsigned int ndirs;
	const char *mem_dir; /* one of dirs: where the memory files are, or NULL */
};

int cgroup_create(struct cgroup *cg, const struct vmm_config *cfg, char *err, size_t errlen)
	__attribute__((warn_unused_result));
/* Move pid into every cgroup of cg but the memory one (cgroup_enter_memory). */
int cgroup_add_pid(const struct cgroup *cg, pid_t pid, char *err, size_t errlen)
	__attribute__((warn_unused_result));
/* Move the caller, still single-threaded, into cg's memory cgroup (if any):
 * it must be there before it allocates what the limit is to count. */
int cgroup_enter_memory(const struct cgroup *cg, char *err, size_t errlen)
	__attribute__((warn_unused_result));
/* Whether the memory controller's OOM killer killed a process in cg. */
bool cgroup_oom_killed(const struct cgroup *cg);
/* Remove the cgroups (empty by now) and free cg. Safe on a zeroed cg. */
void cgroup_destroy(struct cgroup *cg);
/* Free cg but leave the cgroups (a child's copy: the parent removes them). */
void cgroup_free(struct cgroup *cg);

/* Pure helpers, unit-tested: */
/* The path of this process's cgroup for `controller` ("" for the v2 line
 * "0::PATH") in the text of /proc/self/cgroup. 0, -ENOENT or -ENAMETOOLONG. */
int cgroup_parse_self(const char *text, const char *controller, char *out, size_t outlen)
	__attribute__((warn_unused_result));
/* The CFS quota for `cpus` CPUs' worth of time per `period_us`. */
long cgroup_cpu_quota_us(double cpus, long period_us);
/* "oom_kill N" in memory.oom_control (v1) or memory.events (v2): N, or 0. */
unsigned long cgroup_parse_oom_kills(const char *text);

#endif /* VMM_CGROUP_H */
