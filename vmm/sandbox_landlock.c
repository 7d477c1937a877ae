/* SPDX-License-Identifier: MIT */
#include "vmm/sandbox_landlock.h"

#include <errno.h>
#include <fcntl.h>
#include <libgen.h>
#include <linux/landlock.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "base/err.h"
#include "base/log.h"
#include "devices/disk/disk.h"

/* Newer than the uapi header of Debian 12 (Linux 6.1); the values are ABI. */
#ifndef LANDLOCK_ACCESS_FS_TRUNCATE
#define LANDLOCK_ACCESS_FS_TRUNCATE (1ULL << 14) /* ABI 3 */
#endif
#ifndef LANDLOCK_ACCESS_FS_IOCTL_DEV
#define LANDLOCK_ACCESS_FS_IOCTL_DEV (1ULL << 15) /* ABI 5 */
#endif

#define FS_READ	    (LANDLOCK_ACCESS_FS_READ_FILE | LANDLOCK_ACCESS_FS_READ_DIR)
#define FS_WRITE    (LANDLOCK_ACCESS_FS_WRITE_FILE | LANDLOCK_ACCESS_FS_TRUNCATE)
/* a unix socket bound in a directory, and the stale one removed first */
#define FS_SOCK_DIR (LANDLOCK_ACCESS_FS_MAKE_SOCK | LANDLOCK_ACCESS_FS_REMOVE_FILE)
/* what a rule on a file (not a directory) may carry */
#define FS_FILE_RIGHTS                                                \
	(LANDLOCK_ACCESS_FS_EXECUTE | LANDLOCK_ACCESS_FS_WRITE_FILE | \
	 LANDLOCK_ACCESS_FS_READ_FILE | LANDLOCK_ACCESS_FS_TRUNCATE | \
	 LANDLOCK_ACCESS_FS_IOCTL_DEV)

struct landlock {
	int fd;		  /* the ruleset */
	uint64_t handled; /* the rights this kernel's ABI knows */
};

/* Every file-system right of ABI `abi` (ABI 1: 13 rights; 2: REFER;
 * 3: TRUNCATE; 5: IOCTL_DEV). */
static uint64_t handled_for_abi(int abi)
{
	uint64_t r = (LANDLOCK_ACCESS_FS_MAKE_SYM << 1) - 1;

	if (abi >= 2)
		r |= LANDLOCK_ACCESS_FS_REFER;
	if (abi >= 3)
		r |= LANDLOCK_ACCESS_FS_TRUNCATE;
	if (abi >= 5)
		r |= LANDLOCK_ACCESS_FS_IOCTL_DEV;
	return r;
}

/* Allow `access` beneath path (a file or a directory). A path that does not
 * exist is skipped: whoever opens it later fails as it would anyway. */
static int ll_allow(struct landlock *ll, const char *path, uint64_t access, char *err,
		    size_t errlen)
{
	struct landlock_path_beneath_attr attr = { 0 };
	struct stat st;
	int fd, ret = 0;

	fd = open(path, O_PATH | O_CLOEXEC);
	if (fd < 0) {
		log_debug("landlock: %s: %s (no rule)", path, strerror(errno));
		return 0;
	}
	if (fstat(fd, &st) == 0 && !S_ISDIR(st.st_mode))
		access &= FS_FILE_RIGHTS;
	attr.allowed_access = access & ll->handled;
	attr.parent_fd = fd;
	if (attr.allowed_access &&
	    syscall(SYS_landlock_add_rule, ll->fd, LANDLOCK_RULE_PATH_BENEATH, &attr, 0) < 0)
		ret = err_set(err, errlen, -errno, "landlock: cannot add a rule for %s: %s", path,
			      strerror(errno));
	close(fd);
	return ret;
}

/* The directory a socket is bound in. */
static int ll_allow_sock(struct landlock *ll, const struct netbe_sock_addr *a, char *err,
			 size_t errlen)
{
	char dir[sizeof(a->path)];

	if (a->family != AF_UNIX || !a->path[0])
		return 0;
	snprintf(dir, sizeof(dir), "%s", a->path);
	return ll_allow(ll, dirname(dir), FS_SOCK_DIR | FS_READ | FS_WRITE, err, errlen);
}

/* A disk and its backing chain: the chain is what the image names, so it
 * is read here with the disk layer's own open (the sync engine: no
 * threads), read-only, then closed; vm_create() opens it again. A format
 * that names files other than a backing file (extents: format.h's
 * names_files) must list them here too. */
struct ll_files {
	struct landlock *ll;
	uint64_t access;
	int ret;
};

static void ll_allow_listed(void *opaque, const char *path)
{
	struct ll_files *lf = opaque;
	char e[256];

	if (!lf->ret)
		lf->ret = ll_allow(lf->ll, path, lf->access, e, sizeof(e));
}

static int ll_allow_disk(struct landlock *ll, const struct cli_disk *d, char *err, size_t errlen)
{
	struct disk_open_opts o = d->opts;
	struct disk *disk, *b;
	int ret;

	ret = ll_allow(ll, d->path, d->opts.readonly ? FS_READ : FS_READ | FS_WRITE, err, errlen);
	if (ret)
		return ret;
	o.readonly = true;
	o.direct = false;
	o.engine = DISK_ENGINE_SYNC;
	if (disk_open(d->path, &o, &disk, err, errlen) < 0) {
		err[0] = '\0'; /* vm_create() will say why, with the flag name */
		return 0;
	}
	for (b = disk->backing; b && !ret; b = b->backing)
		ret = ll_allow(ll, b->path, FS_READ, err, errlen);
	/* the other files an image names (VMDK extents), with the disk's mode */
	for (b = disk; b && !ret; b = b->backing) {
		struct ll_files lf = {
			ll, b == disk && !d->opts.readonly ? FS_READ | FS_WRITE : FS_READ, 0
		};

		disk_list_files(b, ll_allow_listed, &lf);
		ret = lf.ret;
	}
	disk_close(disk);
	return ret;
}

static int ll_allow_nets(struct landlock *ll, const struct vmm_config *cfg, char *err,
			 size_t errlen)
{
	int ret = 0;

	for (unsigned int i = 0; i < cfg->nnets && !ret; i++) {
		const struct cli_net *n = &cfg->nets[i];

		switch (n->kind) {
		case CLI_NET_USER:
			/* glib's random numbers; the host's resolver for DNS */
			ret = ll_allow(ll, "/dev/urandom", FS_READ, err, errlen);
			if (!ret)
				ret = ll_allow(ll, "/etc/resolv.conf", FS_READ, err, errlen);
			break;
		case CLI_NET_TAP:
			ret = ll_allow(ll, "/dev/net/tun",
				       FS_READ | FS_WRITE | LANDLOCK_ACCESS_FS_IOCTL_DEV, err,
				       errlen);
			break;
		case CLI_NET_VDE:
			/* libvdeplug loads its plugins when it connects; a classic
			 * switch directory gets our data socket */
			ret = ll_allow(ll, "/usr/lib", FS_READ | LANDLOCK_ACCESS_FS_EXECUTE, err,
				       errlen);
			if (!ret)
				ret = ll_allow(ll, "/dev/urandom", FS_READ, err, errlen);
			if (!ret && n->vde.sock[0] == '/')
				ret = ll_allow(ll, n->vde.sock, FS_SOCK_DIR | FS_READ | FS_WRITE,
					       err, errlen);
			break;
		case CLI_NET_STREAM:
			ret = ll_allow_sock(ll, &n->stream.addr, err, errlen);
			break;
		case CLI_NET_DGRAM:
			ret = ll_allow_sock(ll, &n->dgram.local, err, errlen);
			if (!ret)
				ret = ll_allow_sock(ll, &n->dgram.remote, err, errlen);
			break;
		}
	}
	return ret;
}

static int ll_add_rules(struct landlock *ll, const struct vmm_config *cfg, char *err, size_t errlen)
{
	int ret;

	/* the kernel and initrd (read again by the vCPU dump and --reboot) */
	ret = ll_allow(ll, cfg->kernel, FS_READ, err, errlen);
	if (!ret && cfg->initrd)
		ret = ll_allow(ll, cfg->initrd, FS_READ, err, errlen);
	if (!ret)
		ret = ll_allow(ll, "/dev/kvm", FS_READ | FS_WRITE | LANDLOCK_ACCESS_FS_IOCTL_DEV,
			       err, errlen);
	/* the peak RSS at exit; ASan's and LSan's maps */
	if (!ret)
		ret = ll_allow(ll, "/proc/self", FS_READ, err, errlen);
	if (!ret && cfg->console_log) {
		/* created now, so that the rule can name the file itself */
		int fd = open(cfg->console_log, O_WRONLY | O_CREAT | O_CLOEXEC, 0644);

		if (fd >= 0)
			close(fd);
		ret = ll_allow(ll, cfg->console_log, FS_READ | FS_WRITE, err, errlen);
	}
	for (unsigned int i = 0; i < cfg->ndisks && !ret; i++)
		ret = ll_allow_disk(ll, &cfg->disks[i], err, errlen);
	if (!ret)
		ret = ll_allow_nets(ll, cfg, err, errlen);
	/* virtio-9p shares: everything beneath DIR but running programs */
	for (unsigned int i = 0; i < cfg->nshares && !ret; i++)
		ret = ll_allow(ll, cfg->shares[i].dir,
			       cfg->shares[i].readonly
				       ? FS_READ
				       : FS_READ | FS_WRITE | LANDLOCK_ACCESS_FS_MAKE_REG |
						 LANDLOCK_ACCESS_FS_MAKE_DIR |
						 LANDLOCK_ACCESS_FS_MAKE_SYM |
						 LANDLOCK_ACCESS_FS_MAKE_FIFO |
						 LANDLOCK_ACCESS_FS_MAKE_SOCK |
						 LANDLOCK_ACCESS_FS_REMOVE_FILE |
						 LANDLOCK_ACCESS_FS_REMOVE_DIR |
						 LANDLOCK_ACCESS_FS_REFER,
			       err, errlen);
	/* the QMP socket (listening already): removed at exit */
	if (!ret && cfg->api_sock) {
		char dir[4096];

		snprintf(dir, sizeof(dir), "%s", cfg->api_sock);
		ret = ll_allow(ll, dirname(dir), FS_SOCK_DIR, err, errlen);
	}
	for (unsigned int i = 0; i < cfg->nlandlock && !ret; i++)
		ret = ll_allow(ll, cfg->landlock[i].path,
			       cfg->landlock[i].write
				       ? FS_READ | FS_WRITE | LANDLOCK_ACCESS_FS_MAKE_REG |
						 LANDLOCK_ACCESS_FS_REMOVE_FILE
				       : FS_READ,
			       err, errlen);
	return ret;
}

int sandbox_landlock_apply(const struct vmm_config *cfg, char *err, size_t errlen)
{
	struct landlock_ruleset_attr attr = { 0 };
	struct landlock ll;
	int abi, ret;

	abi = (int)syscall(SYS_landlock_create_ruleset, NULL, 0, LANDLOCK_CREATE_RULESET_VERSION);
	if (abi < 0) {
		log_debug("landlock: not available on this kernel (%s): skipped", strerror(errno));
		return 0;
	}
	ll.handled = handled_for_abi(abi);
	attr.handled_access_fs = ll.handled;
	ll.fd = (int)syscall(SYS_landlock_create_ruleset, &attr, sizeof(attr), 0);
	if (ll.fd < 0)
		return err_set(err, errlen, -errno, "landlock: cannot create a ruleset: %s",
			       strerror(errno));
	ret = ll_add_rules(&ll, cfg, err, errlen);
	if (!ret && syscall(SYS_landlock_restrict_self, ll.fd, 0) < 0)
		ret = err_set(err, errlen, -errno, "landlock: cannot restrict vmm: %s",
			      strerror(errno));
	close(ll.fd);
	if (!ret)
		log_debug("landlock: ABI %d, file system limited to the files vmm was given", abi);
	return ret;
}
