/* SPDX-License-Identifier: MIT */
/*
 * What --jail, --jail-user, the cgroup limits and --cpu-affinity asked for:
 * a plain value filled by the CLI (cli_jail.c) and read by jail.c,
 * cgroup.c and vm_run(). No resources, nothing to free.
 */
#ifndef VMM_JAIL_CONFIG_H
#define VMM_JAIL_CONFIG_H

#include <sched.h>
#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>

/* --cpu-affinity: at most this many VCPU=CPUS entries (one per vCPU). */
#define JAIL_MAX_AFFINITY 254

enum jail_cgroup_version { JAIL_CGROUP_AUTO = 0, JAIL_CGROUP_V1 = 1, JAIL_CGROUP_V2 = 2 };

struct jail_affinity {
	int vcpu; /* -1: every vCPU (a bare CPU list) */
	cpu_set_t cpus;
};

struct jail_config {
	bool jail;     /* --jail */
	bool user_set; /* --jail-user UID:GID */
	uid_t uid;
	gid_t gid;

	double cpu_limit;	   /* --cpu-limit CPUS, 0: none */
	uint64_t mem_limit;	   /* --mem-limit SIZE in bytes, 0: none */
	uint64_t io_bps;	   /* --io-limit bps=N: bytes/s each way per disk, 0: none */
	uint64_t io_iops;	   /* --io-limit iops=N: requests/s each way per disk, 0: none */
	const char *cgroup_parent; /* --cgroup-parent PATH (argv), NULL: where vmm runs */
	enum jail_cgroup_version cgroup_version;

	struct jail_affinity affinity[JAIL_MAX_AFFINITY];
	unsigned int naffinity;
};

/* Whether any limit asks for a cgroup. */
static inline bool jail_config_has_limits(const struct jail_config *j)
{
	return j->cpu_limit > 0 || j->mem_limit || j->io_bps || j->io_iops;
}

#endif /* VMM_JAIL_CONFIG_H */
