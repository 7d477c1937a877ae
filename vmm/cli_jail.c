/* SPDX-License-Identifier: MIT */
/*
 * --jail, --jail-user, --cpu-limit, --mem-limit, --io-limit, --cgroup-parent,
 * --cgroup-version and --cpu-affinity: parsing and checking only (jail.c and
 * cgroup.c do the work), so every error case is unit-testable.
 */
#include "vmm/cli.h"

#include "vmm/cli_priv.h"

#include "base/err.h"
#include "base/opts.h"

#include <ctype.h>
#include <errno.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

/* "1000:1000": both decimal, neither -1 (which setresuid reads as "keep") */
static int parse_user(const char *arg, struct jail_config *j, char *err, size_t errlen)
{
	unsigned long uid, gid;
	const char *colon = strchr(arg, ':');
	char ubuf[16];

	if (!colon || (size_t)(colon - arg) >= sizeof(ubuf))
		goto bad;
	memcpy(ubuf, arg, (size_t)(colon - arg));
	ubuf[colon - arg] = '\0';
	if (cli_parse_uint(ubuf, 0xfffffffeUL, &uid) < 0 ||
	    cli_parse_uint(colon + 1, 0xfffffffeUL, &gid) < 0)
		goto bad;
	j->user_set = true;
	j->uid = (uid_t)uid;
	j->gid = (gid_t)gid;
	return 0;
bad:
	return err_set(err, errlen, -EINVAL, "--jail-user: '%s' is not UID:GID (e.g. 1000:1000)",
		       arg);
}

/* CPUs as a fraction: 0.5 is half of one CPU's time, 2 two CPUs' worth. */
static int parse_cpu_limit(const char *arg, struct jail_config *j, char *err, size_t errlen)
{
	char *end;

	errno = 0;
	j->cpu_limit = strtod(arg, &end);
	/* below 0.01 the CFS quota would be under 1 ms per 100 ms period */
	if (errno || end == arg || *end || !isfinite(j->cpu_limit) || j->cpu_limit < 0.01 ||
	    j->cpu_limit > 4096)
		return err_set(err, errlen, -EINVAL,
			       "--cpu-limit: '%s' is not a number of CPUs from 0.01 (e.g. 0.5, 2)",
			       arg);
	return 0;
}

static int parse_mem_limit(const char *arg, struct jail_config *j, char *err, size_t errlen)
{
	if (cli_parse_size(arg, &j->mem_limit) < 0 || j->mem_limit < CLI_MIN_MEM)
		return err_set(err, errlen, -EINVAL,
			       "--mem-limit: '%s' is not a size of at least 16M (e.g. 768M, 2G)",
			       arg);
	return 0;
}

/* bps=SIZE,iops=N (either or both): per disk, each direction */
static int parse_io_limit(const char *arg, struct jail_config *j, char *err, size_t errlen)
{
	char *copy = strdup(arg), *rest = copy, *opt, *val;
	unsigned long n;
	int ret = 0;

	if (!copy)
		return err_set(err, errlen, -ENOMEM, "out of memory");
	while ((opt = opts_next(&rest, &val))) {
		if (val && !strcmp(opt, "bps") && cli_parse_size(val, &j->io_bps) == 0 &&
		    j->io_bps > 0)
			continue;
		if (val && !strcmp(opt, "iops") && cli_parse_uint(val, 0xffffffffUL, &n) == 0 &&
		    n > 0) {
			j->io_iops = n;
			continue;
		}
		ret = err_set(err, errlen, -EINVAL,
			      "--io-limit: '%s' is not bps=SIZE[,iops=N] (e.g. bps=50M,iops=1000)",
			      arg);
		break;
	}
	free(copy);
	return ret;
}

static int parse_cgroup_version(const char *arg, struct jail_config *j, char *err, size_t errlen)
{
	if (!strcmp(arg, "1"))
		j->cgroup_version = JAIL_CGROUP_V1;
	else if (!strcmp(arg, "2"))
		j->cgroup_version = JAIL_CGROUP_V2;
	else if (!strcmp(arg, "auto"))
		j->cgroup_version = JAIL_CGROUP_AUTO;
	else
		return err_set(err, errlen, -EINVAL, "--cgroup-version: '%s' is not 1, 2 or auto",
			       arg);
	return 0;
}

/* "3" or "2-5" into set; *s moves past it. */
static int parse_cpu_range(const char **s, cpu_set_t *set)
{
	unsigned long lo, hi;
	char *end;

	if (!isdigit((unsigned char)**s))
		return -EINVAL;
	lo = hi = strtoul(*s, &end, 10);
	if (*end == '-') {
		if (!isdigit((unsigned char)end[1]))
			return -EINVAL;
		hi = strtoul(end + 1, &end, 10);
	}
	if (lo > hi || hi >= CPU_SETSIZE)
		return -ERANGE;
	for (; lo <= hi; lo++)
		CPU_SET(lo, set);
	*s = end;
	return 0;
}

/*
 * "0=2,1=3" (vCPU 0 on host CPU 2, vCPU 1 on 3; a range as 0=2-3) or a bare
 * list "2,3" / "2-5" (every vCPU on those CPUs).
 */
static int parse_affinity(const char *arg, struct jail_config *j, char *err, size_t errlen)
{
	const char *s = arg;
	bool pairs = strchr(arg, '=') != NULL;

	j->naffinity = 0;
	if (!*arg)
		goto bad;
	if (!pairs) {
		j->affinity[0].vcpu = -1;
		CPU_ZERO(&j->affinity[0].cpus);
		j->naffinity = 1;
	}
	while (*s) {
		struct jail_affinity *a = &j->affinity[pairs ? j->naffinity : 0];

		if (pairs) {
			char *end;

			if (j->naffinity == JAIL_MAX_AFFINITY || !isdigit((unsigned char)*s))
				goto bad;
			a->vcpu = (int)strtoul(s, &end, 10);
			if (*end != '=' || a->vcpu >= CLI_MAX_CPUS)
				goto bad;
			s = end + 1;
			CPU_ZERO(&a->cpus);
			j->naffinity++;
		}
		if (parse_cpu_range(&s, &a->cpus) < 0)
			goto bad;
		if (*s == ',' && s[1])
			s++;
		else if (*s)
			goto bad;
	}
	return 0;
bad:
	j->naffinity = 0;
	return err_set(err, errlen, -EINVAL,
		       "--cpu-affinity: '%s' is not VCPU=CPU[,VCPU=CPU...] or a CPU list "
		       "(e.g. 0=2,1=3 or 2-3)",
		       arg);
}

int cli_jail_opt(int opt, const char *arg, struct jail_config *j, char *err, size_t errlen)
{
	switch (opt) {
	case OPT_JAIL:
		j->jail = true;
		return 0;
	case OPT_JAIL_USER:
		return parse_user(arg, j, err, errlen);
	case OPT_CPU_LIMIT:
		return parse_cpu_limit(arg, j, err, errlen);
	case OPT_MEM_LIMIT:
		return parse_mem_limit(arg, j, err, errlen);
	case OPT_IO_LIMIT:
		return parse_io_limit(arg, j, err, errlen);
	case OPT_CGROUP_PARENT:
		/* a cgroup path, relative to each hierarchy's root: no ".." */
		if (!*arg || strstr(arg, ".."))
			return err_set(err, errlen, -EINVAL,
				       "--cgroup-parent: '%s' is not a cgroup path like /vmm", arg);
		j->cgroup_parent = arg;
		return 0;
	case OPT_CGROUP_VERSION:
		return parse_cgroup_version(arg, j, err, errlen);
	case OPT_CPU_AFFINITY:
		return parse_affinity(arg, j, err, errlen);
	default:
		return -ENOENT;
	}
}

int cli_jail_check(const struct vmm_config *cfg, char *err, size_t errlen)
{
	const struct jail_config *j = &cfg->jail;
	unsigned int i;

	if (j->user_set && !j->jail)
		return err_set(err, errlen, -EINVAL, "--jail-user needs --jail");
	if ((j->io_bps || j->io_iops) && !cfg->ndisks)
		return err_set(err, errlen, -EINVAL, "--io-limit: there is no --disk to limit");
	if ((j->cgroup_parent || j->cgroup_version) && !jail_config_has_limits(j))
		return err_set(err, errlen, -EINVAL,
			       "--cgroup-parent/--cgroup-version need a limit (--cpu-limit, "
			       "--mem-limit or --io-limit)");
	for (i = 0; j->jail && i < cfg->nnets; i++)
		if (cfg->nets[i].kind == CLI_NET_VDE)
			return err_set(err, errlen, -EINVAL,
				       "--jail: a VDE NIC loads libvdeplug's plugins when it "
				       "connects, which the jail's empty root does not hold: use a "
				       "stream, dgram or tap NIC, or drop --jail");
	for (i = 0; i < j->naffinity; i++)
		if (j->affinity[i].vcpu >= (int)cfg->cpus)
			return err_set(err, errlen, -EINVAL,
				       "--cpu-affinity: there is no vCPU %d (--cpus %u)",
				       j->affinity[i].vcpu, cfg->cpus);
	return 0;
}
