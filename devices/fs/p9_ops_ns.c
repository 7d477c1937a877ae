/* SPDX-License-Identifier: MIT */
/*
 * The 9P2000.L operations on names (link, rename, unlink, readlink) and
 * the small ones (fsync, statfs, locks, xattrs). Same rules as p9_ops.c:
 * every host call is an *at call on a directory fd opened beneath the
 * share with one checked name, never following a symlink, so neither a
 * name nor a rename can reach outside the share.
 */
#include "devices/fs/p9_priv.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <sys/statfs.h>

#include "devices/fs/p9_path.h"

#define P9_LOCK_SUCCESS	   0
#define P9_LOCK_TYPE_UNLCK 2
/* Tunlinkat flags: Linux sends AT_REMOVEDIR's value (P9_DOTL_AT_REMOVEDIR) */
#define P9_AT_REMOVEDIR	   0x200U

/* Tlink dfid[4] fid[4] name[s] -> Rlink: a hard link to fid's file named
 * name in dfid. linkat without AT_SYMLINK_FOLLOW links a symlink itself. */
int p9_op_link(struct p9_server *s, struct p9r *r, struct p9w *w)
{
	uint32_t dfid = p9r_u32(r), fid = p9r_u32(r);
	char name[P9_MAX_STR], *path = NULL;
	const char *base;
	int sfd = -1, dfd = -1, ret;

	p9r_str(r, name, sizeof(name));
	ret = p9_check_change(s, r, name);
	if (!ret)
		ret = p9_fid_path_of(s, fid, &path);
	if (ret)
		return ret;
	sfd = p9_parent_fd(s, path, &base);
	dfd = p9_fid_dir_fd(s, dfid);
	if (sfd < 0 || dfd < 0)
		ret = sfd < 0 ? sfd : dfd;
	else if (linkat(sfd, base, dfd, name, 0))
		ret = -errno;
	if (sfd >= 0)
		close(sfd);
	if (dfd >= 0)
		close(dfd);
	free(path);
	return ret;
}

/* renameat() of one checked name in a directory fid to another. */
static int rename_names(struct p9_server *s, uint32_t odfid, const char *oname, uint32_t ndfid,
			const char *nname)
{
	int ofd, nfd, ret;

	ret = p9_check_change(s, NULL, oname);
	if (!ret)
		ret = p9_check_change(s, NULL, nname);
	if (ret)
		return ret;
	ofd = p9_fid_dir_fd(s, odfid);
	if (ofd < 0)
		return ofd;
	nfd = p9_fid_dir_fd(s, ndfid);
	if (nfd < 0)
		ret = nfd;
	else if (renameat(ofd, oname, nfd, nname))
		ret = -errno;
	close(ofd);
	if (nfd >= 0)
		close(nfd);
	return ret;
}

/* Trenameat olddirfid[4] oldname[s] newdirfid[4] newname[s] -> Rrenameat */
int p9_op_renameat(struct p9_server *s, struct p9r *r, struct p9w *w)
{
	char oname[P9_MAX_STR], nname[P9_MAX_STR];
	uint32_t odfid, ndfid;

	odfid = p9r_u32(r);
	p9r_str(r, oname, sizeof(oname));
	ndfid = p9r_u32(r);
	p9r_str(r, nname, sizeof(nname));
	if (r->bad)
		return -EPROTO;
	return rename_names(s, odfid, oname, ndfid, nname);
}

/* Trename fid[4] dfid[4] name[s] -> Rrename: fid's file moves to dfid/name
 * and the fid follows it. (Other fids below a renamed directory keep their
 * old paths: Linux uses Trenameat, and re-walks on ENOENT.) */
int p9_op_rename(struct p9_server *s, struct p9r *r, struct p9w *w)
{
	uint32_t fid = p9r_u32(r), dfid = p9r_u32(r);
	char name[P9_MAX_STR], *dpath = NULL, *npath = NULL;
	struct p9_fid *f;
	const char *base;
	int ofd = -1, nfd = -1, ret;

	p9r_str(r, name, sizeof(name));
	ret = p9_check_change(s, r, name);
	if (!ret)
		ret = p9_fid_path_of(s, dfid, &dpath);
	if (!ret)
		ret = p9_path_join(dpath, name, &npath);
	if (ret)
		goto out;
	f = p9_fid_get(s, fid);
	if (!f) {
		ret = -EBADF;
		goto out;
	}
	pthread_mutex_lock(&f->lock);
	ofd = p9_parent_fd(s, f->path, &base);
	nfd = p9_open(s, dpath, O_PATH | O_DIRECTORY, 0);
	if (ofd < 0 || nfd < 0) {
		ret = ofd < 0 ? ofd : nfd;
	} else if (renameat(ofd, base, nfd, name)) {
		ret = -errno;
	} else {
		free(f->path);
		f->path = npath;
		npath = NULL;
	}
	pthread_mutex_unlock(&f->lock);
	p9_fid_put(s, f);
out:
	if (ofd >= 0)
		close(ofd);
	if (nfd >= 0)
		close(nfd);
	free(dpath);
	free(npath);
	return ret;
}

/* Tunlinkat dirfd[4] name[s] flags[4] -> Runlinkat */
int p9_op_unlinkat(struct p9_server *s, struct p9r *r, struct p9w *w)
{
	uint32_t dfid = p9r_u32(r), flags;
	char name[P9_MAX_STR];
	int dfd, ret = 0;

	p9r_str(r, name, sizeof(name));
	flags = p9r_u32(r);
	ret = p9_check_change(s, r, name);
	if (ret)
		return ret;
	dfd = p9_fid_dir_fd(s, dfid);
	if (dfd < 0)
		return dfd;
	if (unlinkat(dfd, name, (flags & P9_AT_REMOVEDIR) ? AT_REMOVEDIR : 0))
		ret = -errno;
	close(dfd);
	return ret;
}

/* Treadlink fid[4] -> Rreadlink target[s] */
int p9_op_readlink(struct p9_server *s, struct p9r *r, struct p9w *w)
{
	uint32_t fid = p9r_u32(r);
	char target[PATH_MAX];
	ssize_t n;
	int fd;

	if (r->bad)
		return -EPROTO;
	fd = p9_fid_open(s, fid, O_PATH);
	if (fd < 0)
		return fd;
	n = readlinkat(fd, "", target, sizeof(target) - 1);
	close(fd);
	if (n < 0)
		return -errno;
	target[n] = '\0';
	p9w_str(w, target);
	return 0;
}

/* Tfsync fid[4] datasync[4] -> Rfsync */
int p9_op_fsync(struct p9_server *s, struct p9r *r, struct p9w *w)
{
	uint32_t fid = p9r_u32(r), datasync = p9r_u32(r);
	struct p9_fid *f;
	int ret = 0;

	if (r->bad)
		return -EPROTO;
	f = p9_fid_get(s, fid);
	if (!f)
		return -EBADF;
	pthread_mutex_lock(&f->lock);
	if (f->fd >= 0 && (datasync ? fdatasync(f->fd) : fsync(f->fd)))
		ret = -errno;
	pthread_mutex_unlock(&f->lock);
	p9_fid_put(s, f);
	return ret;
}

/* Tstatfs fid[4] -> Rstatfs type[4] bsize[4] blocks[8] bfree[8] bavail[8]
 * files[8] ffree[8] fsid[8] namelen[4] */
int p9_op_statfs(struct p9_server *s, struct p9r *r, struct p9w *w)
{
	uint32_t fid = p9r_u32(r);
	struct statfs st;
	uint64_t fsid;
	int fd, ret;

	if (r->bad)
		return -EPROTO;
	fd = p9_fid_open(s, fid, O_PATH);
	if (fd < 0)
		return fd;
	ret = fstatfs(fd, &st) ? -errno : 0;
	close(fd);
	if (ret)
		return ret;
	memcpy(&fsid, &st.f_fsid, sizeof(fsid));
	p9w_u32(w, (uint32_t)st.f_type);
	p9w_u32(w, (uint32_t)st.f_bsize);
	p9w_u64(w, st.f_blocks);
	p9w_u64(w, st.f_bfree);
	p9w_u64(w, st.f_bavail);
	p9w_u64(w, st.f_files);
	p9w_u64(w, st.f_ffree);
	p9w_u64(w, fsid);
	p9w_u32(w, (uint32_t)st.f_namelen);
	return 0;
}

/* Tlock fid[4] type[1] flags[4] start[8] length[8] proc_id[4] client_id[s]
 * -> Rlock status[1]. As QEMU: granted without a host lock (the guest's own
 * VFS serialises its processes; the host's are not the guest's business). */
int p9_op_lock(struct p9_server *s, struct p9r *r, struct p9w *w)
{
	char client[256];
	struct p9_fid *f;

	f = p9_fid_get(s, p9r_u32(r));
	(void)p9r_u8(r);
	(void)p9r_u32(r);
	(void)p9r_u64(r);
	(void)p9r_u64(r);
	(void)p9r_u32(r);
	p9r_str(r, client, sizeof(client));
	if (!f)
		return r->bad ? -EPROTO : -EBADF;
	p9_fid_put(s, f);
	if (r->bad)
		return -EPROTO;
	p9w_u8(w, P9_LOCK_SUCCESS);
	return 0;
}

/* Tgetlock fid[4] type[1] start[8] length[8] proc_id[4] client_id[s] ->
 * Rgetlock: the range is always free (see Tlock). */
int p9_op_getlock(struct p9_server *s, struct p9r *r, struct p9w *w)
{
	uint32_t fid = p9r_u32(r), pid;
	char client[256];
	uint64_t start, len;
	struct p9_fid *f;

	(void)p9r_u8(r);
	start = p9r_u64(r);
	len = p9r_u64(r);
	pid = p9r_u32(r);
	p9r_str(r, client, sizeof(client));
	if (r->bad)
		return -EPROTO;
	f = p9_fid_get(s, fid);
	if (!f)
		return -EBADF;
	p9_fid_put(s, f);
	p9w_u8(w, P9_LOCK_TYPE_UNLCK);
	p9w_u64(w, start);
	p9w_u64(w, len);
	p9w_u32(w, pid);
	p9w_str(w, client);
	return 0;
}

/* Txattrwalk fid[4] newfid[4] name[s]: no extended attributes. Linux's
 * getxattr/listxattr then fail with EOPNOTSUPP, which it copes with
 * (CONFIG_9P_FS_POSIX_ACL and _SECURITY are off in our kernel). */
int p9_op_xattrwalk(struct p9_server *s, struct p9r *r, struct p9w *w)
{
	char name[P9_MAX_STR];

	(void)p9r_u32(r);
	(void)p9r_u32(r);
	p9r_str(r, name, sizeof(name));
	return r->bad ? -EPROTO : -EOPNOTSUPP;
}

/* Txattrcreate fid[4] name[s] attr_size[8] flags[4] */
int p9_op_xattrcreate(struct p9_server *s, struct p9r *r, struct p9w *w)
{
	char name[P9_MAX_STR];

	(void)p9r_u32(r);
	p9r_str(r, name, sizeof(name));
	(void)p9r_u64(r);
	(void)p9r_u32(r);
	if (r->bad)
		return -EPROTO;
	return s->readonly ? -EROFS : -EOPNOTSUPP;
}
