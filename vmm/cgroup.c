/* SPDX-License-Identifier: MIT */
/*
 * The VM's cgroup (see cgroup.h). Where the files are:
 *   v1: /sys/fs/cgroup/CONTROLLER/<vmm's cgroup or --cgroup-parent>/vmm-PID
 *   v2: /sys/fs/cgroup (unified) or /sys/fs/cgroup/unified (hybrid), same
 * and what is written (the kernel's Documentation/admin-guide/cgroup-v1/ and
 * cgroup-v2.rst):
 *   --cpu-limit   v1 cpu.cfs_period_us + cpu.cfs_quota_us; v2 cpu.max
 *   --mem-limit   v1 memory.limit_in_bytes + memory.memsw.limit_in_bytes
 *                 (so the VM cannot swap past it); v2 memory.max +
 *                 memory.swap.max = 0
 *   --io-limit    v1 blkio.throttle.{read,write}_{bps,iops}_device; v2 io.max,
 *                 for the whole block device under each disk image
 */
#include "vmm/cgroup.h"

#include "base/err.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/statfs.h>
#include <sys/sysmacros.h>
#include <time.h>
#include <unistd.h>

#include <linux/magic.h>

#define CGROUP_FS	"/sys/fs/cgroup"
#define CFS_PERIOD_US	100000L
#define CGROUP_MAX_DEVS CLI_MAX_DISKS

/* Whether the comma-separated list [t, end) holds name. */
static bool list_has(const char *t, const char *end, const char *name)
{
	size_t len = strlen(name);

	while (t < end) {
		const char *comma = memchr(t, ',', (size_t)(end - t));
		const char *te = comma ? comma : end;

		if ((size_t)(te - t) == len && !memcmp(t, name, len))
			return true;
		t = te + 1;
	}
	return false;
}

int cgroup_parse_self(const char *text, const char *controller, char *out, size_t outlen)
{
	const char *line, *next;

	/* each line: "ID:CONTROLLER[,CONTROLLER...]:PATH"; v2's is "0::PATH" */
	for (line = text; line && *line; line = next) {
		const char *c = strchr(line, ':'), *p, *end;

		end = strchr(line, '\n');
		next = end ? end + 1 : NULL;
		if (!end)
			end = line + strlen(line);
		if (!c || c > end || !(p = memchr(c + 1, ':', (size_t)(end - c - 1))))
			continue;
		c++;
		if (*controller ? !list_has(c, p, controller) : p != c)
			continue;
		p++;
		if ((size_t)(end - p) >= outlen)
			return -ENAMETOOLONG;
		memcpy(out, p, (size_t)(end - p));
		out[end - p] = '\0';
		return 0;
	}
	return -ENOENT;
}

long cgroup_cpu_quota_us(double cpus, long period_us)
{
	long q = (long)(cpus * (double)period_us + 0.5);

	return q < 1000 ? 1000 : q; /* the kernel's minimum quota is 1 ms */
}

unsigned long cgroup_parse_oom_kills(const char *text)
{
	const char *p = text;

	while ((p = strstr(p, "oom_kill "))) {
		if (p == text || p[-1] == '\n')
			return strtoul(p + 9, NULL, 10);
		p++;
	}
	return 0;
}

static int read_text(const char *path, char *buf, size_t len)
{
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	ssize_t n;

	if (fd < 0)
		return -errno;
	n = read(fd, buf, len - 1);
	close(fd);
	if (n < 0)
		return -errno;
	buf[n] = '\0';
	return 0;
}

/* Write one control file; the kernel takes the value in a single write. */
static int write_ctl(const char *dir, const char *file, const char *val, char *err, size_t errlen)
{
	char path[PATH_MAX];
	int fd, ret = 0;

	snprintf(path, sizeof(path), "%s/%s", dir, file);
	fd = open(path, O_WRONLY | O_CLOEXEC);
	if (fd < 0 || write(fd, val, strlen(val)) < 0)
		ret = -errno;
	if (fd >= 0)
		close(fd);
	if (ret)
		return err_set(err, errlen, ret, "cannot write '%s' to %s: %s", val, path,
			       strerror(-ret));
	return 0;
}

static bool is_fs(const char *path, unsigned long magic)
{
	struct statfs sf;

	return statfs(path, &sf) == 0 && (unsigned long)sf.f_type == magic;
}

/* The v2 hierarchy's mount: the whole of /sys/fs/cgroup, or its unified/
 * in a hybrid layout. NULL if neither. */
static const char *v2_root(void)
{
	if (is_fs(CGROUP_FS, CGROUP2_SUPER_MAGIC))
		return CGROUP_FS;
	if (is_fs(CGROUP_FS "/unified", CGROUP2_SUPER_MAGIC))
		return CGROUP_FS "/unified";
	return NULL;
}

/* mkdir ROOT/PARENT/vmm-PID; PARENT is --cgroup-parent or where we run. */
static int make_dir(struct cgroup *cg, const char *root, const char *controller,
		    const struct jail_config *j, char *err, size_t errlen)
{
	char self[PATH_MAX / 2], text[4096], *dir;
	const char *parent = j->cgroup_parent;
	int ret;

	if (!parent) {
		ret = read_text("/proc/self/cgroup", text, sizeof(text));
		if (!ret)
			ret = cgroup_parse_self(text, controller, self, sizeof(self));
		if (ret)
			return err_set(err, errlen, ret,
				       "cannot find vmm's own %s cgroup in /proc/self/cgroup: "
				       "give --cgroup-parent",
				       *controller ? controller : "v2");
		parent = self;
	}
	if (asprintf(&dir, "%s%s%s/vmm-%d", root, *parent == '/' ? "" : "/",
		     strcmp(parent, "/") ? parent : "", (int)getpid()) < 0)
		return err_set(err, errlen, -ENOMEM, "out of memory");
	if (mkdir(dir, 0755) < 0) {
		ret = -errno;
		if (ret == -ENOENT)
			err_set(err, errlen, ret,
				"cannot create the cgroup %s: its parent does not exist (create "
				"it, or give another --cgroup-parent)",
				dir);
		else
			err_set(err, errlen, ret,
				"cannot create the cgroup %s: %s (run as root, or give "
				"--cgroup-parent a cgroup delegated to you)",
				dir, strerror(-ret));
		free(dir);
		return ret;
	}
	cg->dirs[cg->ndirs++] = dir;
	return 0;
}

/* The whole block device under a disk image: a file's file system's device,
 * or the device itself, and for a partition its disk (the throttles take
 * whole disks only). 0 or -ENODEV for tmpfs, overlay and the like. */
static int disk_block_dev(const char *path, dev_t *out)
{
	char link[128], text[32];
	unsigned int maj, min;
	struct stat st;

	if (stat(path, &st) < 0)
		return -errno;
	*out = S_ISBLK(st.st_mode) ? st.st_rdev : st.st_dev;
	if (major(*out) == 0)
		return -ENODEV;
	snprintf(link, sizeof(link), "/sys/dev/block/%u:%u/partition", major(*out), minor(*out));
	if (access(link, F_OK) == 0) {
		snprintf(link, sizeof(link), "/sys/dev/block/%u:%u/../dev", major(*out),
			 minor(*out));
		if (read_text(link, text, sizeof(text)) == 0 &&
		    sscanf(text, "%u:%u", &maj, &min) == 2)
			*out = makedev(maj, min);
	}
	return 0;
}

static int apply_io(const char *dir, int version, const struct vmm_config *cfg, char *err,
		    size_t errlen)
{
	const struct jail_config *j = &cfg->jail;
	dev_t devs[CGROUP_MAX_DEVS];
	unsigned int n = 0, i, k;
	char val[160];
	int ret;

	for (i = 0; i < cfg->ndisks; i++) {
		dev_t d = 0;

		ret = disk_block_dev(cfg->disks[i].path, &d);
		if (ret == -ENODEV)
			return err_set(err, errlen, ret,
				       "--io-limit: %s is on a file system with no block device "
				       "(tmpfs, overlay...) that a cgroup could throttle: move the "
				       "image to a disk, or drop --io-limit",
				       cfg->disks[i].path);
		if (ret)
			return err_set(err, errlen, ret, "--io-limit: %s: %s", cfg->disks[i].path,
				       strerror(-ret));
		for (k = 0; k < n && devs[k] != d; k++)
			;
		if (k == n)
			devs[n++] = d;
	}
	for (i = 0; i < n; i++) {
		unsigned int ma = major(devs[i]), mi = minor(devs[i]);
		static const char *const v1_files[4] = { "blkio.throttle.read_bps_device",
							 "blkio.throttle.write_bps_device",
							 "blkio.throttle.read_iops_device",
							 "blkio.throttle.write_iops_device" };

		if (version == 2) {
			int len = snprintf(val, sizeof(val), "%u:%u", ma, mi);

			if (j->io_bps)
				len += snprintf(val + len, sizeof(val) - (size_t)len,
						" rbps=%llu wbps=%llu",
						(unsigned long long)j->io_bps,
						(unsigned long long)j->io_bps);
			if (j->io_iops)
				snprintf(val + len, sizeof(val) - (size_t)len,
					 " riops=%llu wiops=%llu", (unsigned long long)j->io_iops,
					 (unsigned long long)j->io_iops);
			ret = write_ctl(dir, "io.max", val, err, errlen);
			if (ret)
				return ret;
			continue;
		}
		for (k = 0; k < 4; k++) {
			uint64_t v = k < 2 ? j->io_bps : j->io_iops;

			if (!v)
				continue;
			snprintf(val, sizeof(val), "%u:%u %llu", ma, mi, (unsigned long long)v);
			ret = write_ctl(dir, v1_files[k], val, err, errlen);
			if (ret)
				return ret;
		}
	}
	return 0;
}

/* The v1 cgroup for one controller, for the option that needs it: *dir. */
static int v1_make(struct cgroup *cg, const char *controller, const char *option,
		   const struct jail_config *j, const char **dir, char *err, size_t errlen)
{
	char root[64];
	int ret;

	snprintf(root, sizeof(root), CGROUP_FS "/%s", controller);
	if (!is_fs(root, CGROUP_SUPER_MAGIC))
		return err_set(err, errlen, -ENOTSUP,
			       "%s: no cgroup v1 %s controller at %s (try --cgroup-version 2)",
			       option, controller, root);
	ret = make_dir(cg, root, controller, j, err, errlen);
	if (!ret)
		*dir = cg->dirs[cg->ndirs - 1];
	return ret;
}

static int create_v1(struct cgroup *cg, const struct vmm_config *cfg, char *err, size_t errlen)
{
	const struct jail_config *j = &cfg->jail;
	char val[64], path[PATH_MAX];
	const char *dir;
	int ret;

	cg->version = 1;
	if (j->cpu_limit > 0) {
		ret = v1_make(cg, "cpu", "--cpu-limit", j, &dir, err, errlen);
		snprintf(val, sizeof(val), "%ld", CFS_PERIOD_US);
		if (!ret)
			ret = write_ctl(dir, "cpu.cfs_period_us", val, err, errlen);
		snprintf(val, sizeof(val), "%ld", cgroup_cpu_quota_us(j->cpu_limit, CFS_PERIOD_US));
		if (!ret)
			ret = write_ctl(dir, "cpu.cfs_quota_us", val, err, errlen);
		if (ret)
			return ret;
	}
	if (j->mem_limit) {
		ret = v1_make(cg, "memory", "--mem-limit", j, &dir, err, errlen);
		cg->mem_dir = ret ? NULL : dir;
		snprintf(val, sizeof(val), "%llu", (unsigned long long)j->mem_limit);
		if (!ret)
			ret = write_ctl(dir, "memory.limit_in_bytes", val, err, errlen);
		/* memory+swap: without it the guest's RAM would go to swap
		 * instead of meeting the limit (absent without swap accounting) */
		snprintf(path, sizeof(path), "%s/memory.memsw.limit_in_bytes", ret ? "" : dir);
		if (!ret && access(path, F_OK) == 0)
			ret = write_ctl(dir, "memory.memsw.limit_in_bytes", val, err, errlen);
		if (ret)
			return ret;
	}
	if (j->io_bps || j->io_iops) {
		ret = v1_make(cg, "blkio", "--io-limit", j, &dir, err, errlen);
		if (!ret)
			ret = apply_io(dir, 1, cfg, err, errlen);
		return ret;
	}
	return 0;
}

/* v2: the parent must offer each controller to its children; enabling one
 * would change a cgroup vmm did not create, so that is left to the user. */
static int v2_check_controller(const char *parent_dir, const char *root, const char *name,
			       char *err, size_t errlen)
{
	char path[PATH_MAX], text[512], *p;

	snprintf(path, sizeof(path), "%s/cgroup.subtree_control", parent_dir);
	if (read_text(path, text, sizeof(text)) == 0)
		for (p = strtok(text, " \n"); p; p = strtok(NULL, " \n"))
			if (!strcmp(p, name))
				return 0;
	snprintf(path, sizeof(path), "%s/cgroup.controllers", root);
	if (read_text(path, text, sizeof(text)) == 0 && !strstr(text, name))
		return err_set(err, errlen, -ENOTSUP,
			       "cgroup v2 has no %s controller on this host (it is bound to a v1 "
			       "hierarchy): use --cgroup-version 1 or auto",
			       name);
	return err_set(err, errlen, -ENOTSUP,
		       "the cgroup v2 %s controller is not enabled for the children of %s: run "
		       "`echo +%s > %s/cgroup.subtree_control` (or give --cgroup-parent a cgroup "
		       "that has it)",
		       name, parent_dir, name, parent_dir);
}

static int create_v2(struct cgroup *cg, const struct vmm_config *cfg, const char *root, char *err,
		     size_t errlen)
{
	const struct jail_config *j = &cfg->jail;
	char val[64], parent[PATH_MAX], path[PATH_MAX], *slash;
	const char *dir;
	int ret;

	cg->version = 2;
	ret = make_dir(cg, root, "", j, err, errlen);
	if (ret)
		return ret;
	dir = cg->dirs[0];
	snprintf(parent, sizeof(parent), "%s", dir);
	slash = strrchr(parent, '/');
	*slash = '\0';
	if (j->cpu_limit > 0) {
		ret = v2_check_controller(parent, root, "cpu", err, errlen);
		snprintf(val, sizeof(val), "%ld %ld",
			 cgroup_cpu_quota_us(j->cpu_limit, CFS_PERIOD_US), CFS_PERIOD_US);
		if (!ret)
			ret = write_ctl(dir, "cpu.max", val, err, errlen);
		if (ret)
			return ret;
	}
	if (j->mem_limit) {
		cg->mem_dir = dir;
		ret = v2_check_controller(parent, root, "memory", err, errlen);
		snprintf(val, sizeof(val), "%llu", (unsigned long long)j->mem_limit);
		if (!ret)
			ret = write_ctl(dir, "memory.max", val, err, errlen);
		/* no swap either (the file is absent without swap accounting) */
		snprintf(path, sizeof(path), "%s/memory.swap.max", dir);
		if (!ret && access(path, F_OK) == 0)
			ret = write_ctl(dir, "memory.swap.max", "0", err, errlen);
		if (ret)
			return ret;
	}
	if (j->io_bps || j->io_iops) {
		ret = v2_check_controller(parent, root, "io", err, errlen);
		if (!ret)
			ret = apply_io(dir, 2, cfg, err, errlen);
		if (ret)
			return ret;
	}
	return 0;
}

int cgroup_create(struct cgroup *cg, const struct vmm_config *cfg, char *err, size_t errlen)
{
	enum jail_cgroup_version v = cfg->jail.cgroup_version;
	const char *root = v2_root();
	int ret;

	memset(cg, 0, sizeof(*cg));
	/* auto: v2 where it is the only hierarchy, v1 in a hybrid layout (the
	 * controllers live there, the unified mount is empty) */
	if (v == JAIL_CGROUP_AUTO)
		v = root && !strcmp(root, CGROUP_FS) ? JAIL_CGROUP_V2 : JAIL_CGROUP_V1;
	if (v == JAIL_CGROUP_V2 && !root)
		return err_set(err, errlen, -ENOTSUP,
			       "--cgroup-version 2: no cgroup2 file system at " CGROUP_FS
			       " or " CGROUP_FS "/unified (use --cgroup-version 1)");
	ret = v == JAIL_CGROUP_V2 ? create_v2(cg, cfg, root, err, errlen)
				  : create_v1(cg, cfg, err, errlen);
	if (ret)
		cgroup_destroy(cg);
	return ret;
}

int cgroup_add_pid(const struct cgroup *cg, pid_t pid, char *err, size_t errlen)
{
	char val[32];
	unsigned int i;
	int ret;

	snprintf(val, sizeof(val), "%d", (int)pid);
	for (i = 0; i < cg->ndirs; i++) {
		if (cg->dirs[i] == cg->mem_dir)
			continue; /* cgroup_enter_memory() */
		ret = write_ctl(cg->dirs[i], "cgroup.procs", val, err, errlen);
		if (ret)
			return ret;
	}
	return 0;
}

int cgroup_enter_memory(const struct cgroup *cg, char *err, size_t errlen)
{
	if (!cg->mem_dir)
		return 0;
	/* v1 "tasks" with 0 moves the calling thread alone, which skips the
	 * global lock (and its RCU grace period) that moving a whole process
	 * through cgroup.procs takes; the caller is single-threaded, so that
	 * is the process. v2 has no such file: cgroup.procs. */
	return write_ctl(cg->mem_dir, cg->version == 1 ? "tasks" : "cgroup.procs", "0", err,
			 errlen);
}

bool cgroup_oom_killed(const struct cgroup *cg)
{
	char path[PATH_MAX], text[1024];

	if (!cg->mem_dir)
		return false;
	snprintf(path, sizeof(path), "%s/%s", cg->mem_dir,
		 cg->version == 2 ? "memory.events" : "memory.oom_control");
	return read_text(path, text, sizeof(text)) == 0 && cgroup_parse_oom_kills(text) > 0;
}

void cgroup_free(struct cgroup *cg)
{
	unsigned int i;

	for (i = 0; i < cg->ndirs; i++)
		free(cg->dirs[i]);
	memset(cg, 0, sizeof(*cg));
}

void cgroup_destroy(struct cgroup *cg)
{
	unsigned int i, tries;

	/* a process that just exited may still be leaving the cgroup */
	for (i = cg->ndirs; i-- > 0;)
		for (tries = 0; rmdir(cg->dirs[i]) < 0 && errno == EBUSY && tries < 100; tries++)
			nanosleep(&(struct timespec){ .tv_nsec = 10 * 1000 * 1000 }, NULL);
	cgroup_free(cg);
}
