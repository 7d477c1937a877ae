/* SPDX-License-Identifier: MIT */
/*
 * --jail inside the child (see jail.h): the namespaces and the empty root.
 *
 * The new root is a small tmpfs holding a bind mount of each file vmm
 * needs at the path the command line gave it (relative paths below the same
 * working directory), so that nothing else in vmm changes: the kernel and
 * initrd, each disk and the files of its backing chain, the console log,
 * the directories of unix sockets, /dev/kvm, /dev/net/tun for a tap NIC,
 * and a /proc that shows only processes (subset=pid) for the descriptors'
 * magic links. Each bind is cloned with open_tree() before the tmpfs is
 * mounted, so the tmpfs can hide nothing vmm needs. Read-only where vmm
 * only reads; nosuid and noexec everywhere; the root itself read-only.
 */
#include "vmm/jail.h"

#include "base/clock.h"
#include "base/err.h"
#include "base/log.h"
#include "devices/disk/disk.h"

#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <limits.h>
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/sysmacros.h>
#include <unistd.h>

#define JAIL_NEW_ROOT "/tmp" /* any directory: the tmpfs lands here, then is pivoted to */

struct jail_path {
	char *path; /* absolute, as vmm will open it (not normalised: see add_path) */
	bool dir;
	bool rw;
	bool dev; /* a device node (keeps dev on its mount) */
	int tree; /* open_tree() clone, -1 until taken */
};

struct jail_paths {
	struct jail_path *p;
	unsigned int n, cap;
	char cwd[PATH_MAX];
};

/*
 * Record `path` (relative to the working directory or absolute). It is kept
 * as written, not normalised, because vmm will open it as written: in
 * "/a/link/../b" the kernel walks through the jail's own directory "link".
 * A ".." above "/" is refused, as it would reach out of the new root while
 * it is built.
 */
static int add_path(struct jail_paths *ps, const char *path, bool dir, bool rw, char *err,
		    size_t errlen)
{
	char *abs;
	const char *c;
	int depth = 0;
	unsigned int i;

	if (!path || !*path)
		return 0;
	if (asprintf(&abs, "%s%s%s", *path == '/' ? "" : ps->cwd,
		     *path == '/' || !strcmp(ps->cwd, "/") ? "" : "/", path) < 0)
		return err_set(err, errlen, -ENOMEM, "out of memory");
	for (c = abs; *c; c++) {
		if (*c != '/' || c[1] == '/' || !c[1])
			continue;
		if (!strncmp(c + 1, "..", 2) && (c[3] == '/' || !c[3]))
			depth--;
		else if (!(c[1] == '.' && (c[2] == '/' || !c[2])))
			depth++;
		if (depth < 0) {
			free(abs);
			return err_set(err, errlen, -EINVAL, "%s: '..' above the root", path);
		}
	}
	for (i = 0; i < ps->n; i++)
		if (!strcmp(ps->p[i].path, abs)) {
			ps->p[i].rw |= rw;
			free(abs);
			return 0;
		}
	if (ps->n == ps->cap) {
		struct jail_path *np = realloc(ps->p, (ps->cap * 2 + 16) * sizeof(*np));

		if (!np) {
			free(abs);
			return err_set(err, errlen, -ENOMEM, "out of memory");
		}
		ps->p = np;
		ps->cap = ps->cap * 2 + 16;
	}
	ps->p[ps->n++] = (struct jail_path){ .path = abs, .dir = dir, .rw = rw, .tree = -1 };
	return 0;
}

/* A unix socket's directory: the socket may not exist yet (a server
 * creates it), so the directory is bound, writable. */
static int add_socket_dir(struct jail_paths *ps, const char *sock, char *err, size_t errlen)
{
	char dir[PATH_MAX];
	char *slash;

	snprintf(dir, sizeof(dir), "%s", sock);
	slash = strrchr(dir, '/');
	if (!slash)
		return add_path(ps, ".", true, true, err, errlen);
	if (slash == dir)
		slash[1] = '\0';
	else
		*slash = '\0';
	return add_path(ps, dir, true, true, err, errlen);
}

struct listed {
	struct jail_paths *ps;
	bool rw;
	int ret;
	char *err;
	size_t errlen;
};

static void add_listed(void *opaque, const char *path)
{
	struct listed *l = opaque;

	if (!l->ret)
		l->ret = add_path(l->ps, path, false, l->rw, l->err, l->errlen);
}

/* A disk and every file of its backing chain, and the other files it
 * names (VMDK extents, with the disk's mode), found by opening it the way
 * vm_virtio_open() will (read-only here). */
static int add_disk(struct jail_paths *ps, const struct cli_disk *cd, char *err, size_t errlen)
{
	struct disk_open_opts o = cd->opts;
	struct disk *d, *b;
	int ret;

	ret = add_path(ps, cd->path, false, !cd->opts.readonly, err, errlen);
	if (ret)
		return ret;
	o.readonly = true;
	o.direct = false;
	o.engine = DISK_ENGINE_SYNC;
	/* one that cannot be opened is reported as ever, by vm_virtio_open()
	 * inside the jail */
	if (disk_open(cd->path, &o, &d, err, errlen) < 0)
		return 0;
	for (b = d->backing; b && !ret; b = b->backing)
		ret = add_path(ps, b->path, false, false, err, errlen);
	for (b = d; b && !ret; b = b->backing) {
		struct listed l = { ps, b == d && !cd->opts.readonly, 0, err, errlen };

		disk_list_files(b, add_listed, &l);
		ret = l.ret;
	}
	disk_close(d);
	return ret;
}

static int add_nets(struct jail_paths *ps, const struct vmm_config *cfg, char *err, size_t errlen)
{
	unsigned int i;
	int ret = 0;

	for (i = 0; i < cfg->nnets && !ret; i++) {
		const struct cli_net *n = &cfg->nets[i];

		switch (n->kind) {
		case CLI_NET_TAP:
			ret = add_path(ps, "/dev/net/tun", false, true, err, errlen);
			if (!ret)
				ps->p[ps->n - 1].dev = true;
			break;
		case CLI_NET_VDE: /* refused by cli_jail_check() */
			break;
		case CLI_NET_STREAM:
			if (n->stream.addr.family == AF_UNIX)
				ret = add_socket_dir(ps, n->stream.addr.path, err, errlen);
			break;
		case CLI_NET_DGRAM:
			if (n->dgram.local.family == AF_UNIX)
				ret = add_socket_dir(ps, n->dgram.local.path, err, errlen);
			if (!ret && n->dgram.remote.family == AF_UNIX)
				ret = add_socket_dir(ps, n->dgram.remote.path, err, errlen);
			break;
		case CLI_NET_USER:
			/* slirp answers the guest's DNS (10.0.2.3) through the
			 * host's resolver configuration */
			if (access("/etc/resolv.conf", R_OK) == 0)
				ret = add_path(ps, "/etc/resolv.conf", false, false, err, errlen);
			break;
		}
	}
	return ret;
}

static int collect(struct jail_paths *ps, const struct vmm_config *cfg, char *err, size_t errlen)
{
	unsigned int i;
	int ret, fd;

	if (!getcwd(ps->cwd, sizeof(ps->cwd)))
		return err_set(err, errlen, -errno, "getcwd: %s", strerror(errno));
	ret = add_path(ps, cfg->kernel, false, false, err, errlen);
	if (!ret)
		ret = add_path(ps, cfg->initrd, false, false, err, errlen);
	if (!ret && cfg->console_log) {
		/* vmm creates it: it must exist to be bound */
		fd = open(cfg->console_log, O_WRONLY | O_CREAT | O_CLOEXEC, 0644);
		if (fd >= 0)
			close(fd);
		ret = add_path(ps, cfg->console_log, false, true, err, errlen);
	}
	for (i = 0; !ret && i < cfg->ndisks; i++)
		ret = add_disk(ps, &cfg->disks[i], err, errlen);
	if (!ret)
		ret = add_nets(ps, cfg, err, errlen);
	if (!ret)
		ret = add_path(ps, "/dev/kvm", false, true, err, errlen);
	if (!ret)
		ps->p[ps->n - 1].dev = true;
	return ret;
}

/* mkdir -p of path's directories below the new root; then the mount point
 * itself (an empty file or directory) unless it exists. */
static int make_target(const char *root, const struct jail_path *jp, char *t, size_t tlen)
{
	char *s;
	int fd;

	snprintf(t, tlen, "%s%s", root, jp->path);
	for (s = t + strlen(root) + 1; (s = strchr(s, '/')); s++) {
		*s = '\0';
		if (mkdir(t, 0755) < 0 && errno != EEXIST)
			return -errno;
		*s = '/';
	}
	if (jp->dir)
		return mkdir(t, 0755) < 0 && errno != EEXIST ? -errno : 0;
	fd = open(t, O_RDONLY | O_CREAT | O_CLOEXEC, 0600);
	if (fd < 0)
		return -errno;
	close(fd);
	return 0;
}

/* --jail-user as root: the user gets its own node of the device (as
 * Firecracker's jailer does), since the host's is usually root's only. */
static int make_dev_node(const char *target, const char *host, uid_t uid, gid_t gid)
{
	struct stat st;

	if (stat(host, &st) < 0)
		return -errno;
	unlink(target);
	if (mknod(target, S_IFCHR | 0600, st.st_rdev) < 0 || chown(target, uid, gid) < 0)
		return -errno;
	return 0;
}

static int mount_one(const struct jail_path *jp, const struct jail_config *j, char *err,
		     size_t errlen)
{
	struct mount_attr attr = { .attr_set = MOUNT_ATTR_NOSUID | MOUNT_ATTR_NOEXEC };
	char t[PATH_MAX * 2];
	int ret;

	ret = make_target(JAIL_NEW_ROOT, jp, t, sizeof(t));
	if (ret)
		return err_set(err, errlen, ret, "cannot create %s in the new root: %s", jp->path,
			       strerror(-ret));
	if (jp->dev && j->user_set) {
		ret = make_dev_node(t, jp->path, j->uid, j->gid);
		if (ret)
			return err_set(err, errlen, ret, "cannot make %s for --jail-user: %s",
				       jp->path, strerror(-ret));
		return 0;
	}
	if (!jp->dev)
		attr.attr_set |= MOUNT_ATTR_NODEV;
	if (!jp->rw)
		attr.attr_set |= MOUNT_ATTR_RDONLY;
	if (mount_setattr(jp->tree, "", AT_EMPTY_PATH, &attr, sizeof(attr)) < 0 ||
	    move_mount(jp->tree, "", AT_FDCWD, t, MOVE_MOUNT_F_EMPTY_PATH) < 0)
		return err_set(err, errlen, -errno, "cannot bind %s into the new root: %s",
			       jp->path, strerror(errno));
	return 0;
}

/* Directories first, shallower first, so that a file inside a bound
 * directory gets its own (read-only) mount on top. */
static int cmp_paths(const void *a, const void *b)
{
	const struct jail_path *x = a, *y = b;

	if (x->dir != y->dir)
		return x->dir ? -1 : 1;
	return (int)strlen(x->path) - (int)strlen(y->path);
}

static int build_root(struct jail_paths *ps, const struct jail_config *j, char *err, size_t errlen)
{
	unsigned int i;
	int ret;

	qsort(ps->p, ps->n, sizeof(*ps->p), cmp_paths);
	/* the propagation of our mounts stops here: none reaches the host */
	if (mount(NULL, "/", NULL, MS_REC | MS_PRIVATE, NULL) < 0)
		return err_set(err, errlen, -errno, "cannot make / private: %s", strerror(errno));
	for (i = 0; i < ps->n; i++) {
		ps->p[i].tree =
			open_tree(AT_FDCWD, ps->p[i].path, OPEN_TREE_CLONE | OPEN_TREE_CLOEXEC);
		/* missing: vmm says so inside, in its usual words */
		if (ps->p[i].tree < 0 && errno != ENOENT)
			return err_set(err, errlen, -errno, "%s: %s", ps->p[i].path,
				       strerror(errno));
	}
	if (mount("tmpfs", JAIL_NEW_ROOT, "tmpfs", MS_NOSUID, "size=1m,nr_inodes=4096,mode=0755") <
	    0)
		return err_set(err, errlen, -errno, "cannot mount a tmpfs for the new root: %s",
			       strerror(errno));
	for (i = 0; i < ps->n; i++) {
		if (ps->p[i].tree < 0)
			continue;
		ret = mount_one(&ps->p[i], j, err, errlen);
		if (ret)
			return ret;
	}
	/* /proc for the descriptors' magic links (qcow2 reopens its file
	 * through /proc/self/fd): this PID namespace's processes only */
	if (mkdir(JAIL_NEW_ROOT "/proc", 0555) < 0 ||
	    mount("proc", JAIL_NEW_ROOT "/proc", "proc",
		  MS_NOSUID | MS_NODEV | MS_NOEXEC | MS_RDONLY, "subset=pid") < 0)
		return err_set(err, errlen, -errno, "cannot mount /proc in the new root: %s",
			       strerror(errno));
	return 0;
}

/* Into the new root; the old one is detached, so nothing of the host's
 * file system stays reachable. */
static int pivot(const struct jail_paths *ps, char *err, size_t errlen)
{
	struct jail_path cwd = { .path = (char *)ps->cwd, .dir = true };
	char t[PATH_MAX * 2];
	int ret;

	ret = make_target(JAIL_NEW_ROOT, &cwd, t, sizeof(t));
	if (ret)
		return err_set(err, errlen, ret, "cannot create %s in the new root: %s", ps->cwd,
			       strerror(-ret));
	/* pivot_root(".", "."): the old root ends up on top, then goes
	 * (pivot_root(2), NOTES) */
	if (chdir(JAIL_NEW_ROOT) < 0 || syscall(SYS_pivot_root, ".", ".") < 0 ||
	    umount2(".", MNT_DETACH) < 0 || chdir("/") < 0)
		return err_set(err, errlen, -errno, "pivot_root into the new root: %s",
			       strerror(errno));
	if (mount(NULL, "/", NULL, MS_REMOUNT | MS_BIND | MS_RDONLY | MS_NOSUID, NULL) < 0)
		return err_set(err, errlen, -errno, "cannot make the new root read-only: %s",
			       strerror(errno));
	if (chdir(ps->cwd) < 0)
		return err_set(err, errlen, -errno, "chdir %s: %s", ps->cwd, strerror(errno));
	return 0;
}

static int drop_user(const struct jail_config *j, char *err, size_t errlen)
{
	if (!j->user_set)
		return 0;
	if (setgroups(0, NULL) < 0 || setresgid(j->gid, j->gid, j->gid) < 0 ||
	    setresuid(j->uid, j->uid, j->uid) < 0)
		return err_set(err, errlen, -errno, "--jail-user %u:%u: %s", (unsigned int)j->uid,
			       (unsigned int)j->gid, strerror(errno));
	return 0;
}

int jail_enter(const struct vmm_config *cfg, char *err, size_t errlen)
{
	struct jail_paths ps = { 0 };
	/* a NIC's backend works in the host's network: slirp's sockets are
	 * the host's (hostfwd listens there, the guest's traffic leaves from
	 * there), tap devices and VDE/stream/dgram peers live there. Without
	 * a NIC the VM gets an empty network namespace. */
	int flags = CLONE_NEWNS | CLONE_NEWIPC | CLONE_NEWUTS | (cfg->nnets ? 0 : CLONE_NEWNET);
	unsigned int i;
	int ret;

	uint64_t t0 = clock_monotonic_ns(), t1, t2;

	ret = collect(&ps, cfg, err, errlen);
	t1 = clock_monotonic_ns();
	if (!ret && unshare(flags) < 0)
		ret = err_set(err, errlen, -errno, "cannot create the namespaces: %s",
			      strerror(errno));
	t2 = clock_monotonic_ns();
	if (!ret)
		ret = build_root(&ps, &cfg->jail, err, errlen);
	if (!ret)
		ret = pivot(&ps, err, errlen);
	if (!ret && sethostname("vmm", 3) < 0)
		ret = err_set(err, errlen, -errno, "sethostname: %s", strerror(errno));
	if (!ret)
		ret = drop_user(&cfg->jail, err, errlen);
	/* -vv: what the jail costs, for bench/startup_jail.py */
	log_debug("jail: files %.3f ms, namespaces %.3f ms, root %.3f ms", (double)(t1 - t0) / 1e6,
		  (double)(t2 - t1) / 1e6, (double)(clock_monotonic_ns() - t2) / 1e6);
	for (i = 0; i < ps.n; i++) {
		if (ps.p[i].tree >= 0)
			close(ps.p[i].tree);
		free(ps.p[i].path);
	}
	free(ps.p);
	return ret;
}
