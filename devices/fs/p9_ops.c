/* SPDX-License-Identifier: MIT */
/*
 * The 9P2000.L file-system operations (p9_priv.h's handlers). Each one
 * turns a fid into its path beneath the share root (p9_path.h), opens what
 * it needs there with openat2(RESOLVE_BENEATH...), and acts only through
 * that fd: on the file itself (O_PATH + AT_EMPTY_PATH) or on one checked
 * name inside a directory fd (the *at calls, with AT_SYMLINK_NOFOLLOW or
 * O_NOFOLLOW where the call would otherwise follow a symlink). A name from
 * the guest never reaches the host as a path with '/' or "..".
 */
#include "devices/fs/p9_priv.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <sys/syscall.h>

#include "devices/fs/p9_path.h"

/* Tsetattr valid bits (Linux include/net/9p/9p.h, P9_ATTR_*) */
#define P9_ATTR_MODE	  0x1U
#define P9_ATTR_UID	  0x2U
#define P9_ATTR_GID	  0x4U
#define P9_ATTR_SIZE	  0x8U
#define P9_ATTR_ATIME	  0x10U
#define P9_ATTR_MTIME	  0x20U
#define P9_ATTR_ATIME_SET 0x80U
#define P9_ATTR_MTIME_SET 0x100U
/* Rgetattr: the fields we fill (P9_GETATTR_BASIC) */
#define P9_GETATTR_BASIC  0x7ffULL
/* The 9P2000.L open flags (P9_DOTL_*) have x86 Linux's values; these are
 * the ones we pass on. Creation flags come only through Tlcreate; O_DIRECT
 * (alignment the guest cannot know), O_NOATIME (EPERM unless owner),
 * O_ASYNC and O_NOCTTY are dropped, as QEMU does. */
#define P9_OPEN_FLAGS	  (O_ACCMODE | O_TRUNC | O_APPEND | O_DSYNC | O_SYNC | O_DIRECTORY)

#ifndef SYS_fchmodat2
#define SYS_fchmodat2 452
#endif

int p9_fid_open(struct p9_server *s, uint32_t id, int flags)
{
	char *path;
	int ret = p9_fid_path_of(s, id, &path);

	if (ret)
		return ret;
	ret = p9_open(s, path, flags, 0);
	free(path);
	return ret;
}

int p9_fid_dir_fd(struct p9_server *s, uint32_t id)
{
	return p9_fid_open(s, id, O_PATH | O_DIRECTORY);
}

int p9_parent_fd(struct p9_server *s, const char *path, const char **base)
{
	char *parent;
	int fd;

	if (!strcmp(path, "."))
		return -EBUSY; /* the root has no name to act on */
	if (p9_path_parent(path, &parent))
		return -ENOMEM;
	fd = p9_open(s, parent, O_PATH | O_DIRECTORY, 0);
	free(parent);
	*base = p9_path_base(path);
	return fd;
}

static int chmod_fd(int pfd, mode_t mode)
{
	char proc[64];

	if (!syscall(SYS_fchmodat2, pfd, "", mode, AT_EMPTY_PATH))
		return 0;
	if (errno != ENOSYS && errno != EINVAL)
		return -errno;
	/* Before Linux 6.6: through the fd's /proc link (as QEMU does). */
	snprintf(proc, sizeof(proc), "/proc/self/fd/%d", pfd);
	return chmod(proc, mode) ? -errno : 0;
}

/* After a mkdir/mknod/symlink: the mode as asked (not the process umask),
 * the guest's gid if the host lets us (failure ignored: security_model=none),
 * and the new file's stat for its qid. */
static int finish_create(int dfd, const char *name, uint32_t mode, uint32_t gid, struct stat *st)
{
	int fd = openat(dfd, name, O_PATH | O_NOFOLLOW | O_CLOEXEC), ret = 0;

	if (fd < 0)
		return -errno;
	if (fstat(fd, st))
		ret = -errno;
	else if (!S_ISLNK(st->st_mode))
		(void)chmod_fd(fd, mode & 07777);
	(void)!fchownat(fd, "", (uid_t)-1, gid, AT_EMPTY_PATH | AT_SYMLINK_NOFOLLOW);
	close(fd);
	return ret;
}

static void put_stat(struct p9w *w, const struct stat *st)
{
	struct p9_qid q;

	p9_qid_from_stat(st, &q);
	p9w_u64(w, P9_GETATTR_BASIC);
	p9w_qid(w, &q);
	p9w_u32(w, st->st_mode);
	p9w_u32(w, st->st_uid);
	p9w_u32(w, st->st_gid);
	p9w_u64(w, st->st_nlink);
	p9w_u64(w, st->st_rdev);
	p9w_u64(w, (uint64_t)st->st_size);
	p9w_u64(w, (uint64_t)st->st_blksize);
	p9w_u64(w, (uint64_t)st->st_blocks);
	p9w_u64(w, (uint64_t)st->st_atim.tv_sec);
	p9w_u64(w, (uint64_t)st->st_atim.tv_nsec);
	p9w_u64(w, (uint64_t)st->st_mtim.tv_sec);
	p9w_u64(w, (uint64_t)st->st_mtim.tv_nsec);
	p9w_u64(w, (uint64_t)st->st_ctim.tv_sec);
	p9w_u64(w, (uint64_t)st->st_ctim.tv_nsec);
	p9w_u64(w, 0); /* btime */
	p9w_u64(w, 0);
	p9w_u64(w, 0); /* gen */
	p9w_u64(w, 0); /* data_version */
}

/* Tgetattr fid[4] request_mask[8] -> Rgetattr (the basic fields). */
int p9_op_getattr(struct p9_server *s, struct p9r *r, struct p9w *w)
{
	uint32_t fid = p9r_u32(r);
	struct p9_fid *f;
	struct stat st;
	int ret = 0;

	(void)p9r_u64(r);
	if (r->bad)
		return -EPROTO;
	f = p9_fid_get(s, fid);
	if (!f)
		return -EBADF;
	pthread_mutex_lock(&f->lock);
	if (f->fd >= 0)
		ret = fstat(f->fd, &st) ? -errno : 0;
	else
		ret = p9_stat_path(s, f->path, &st);
	pthread_mutex_unlock(&f->lock);
	p9_fid_put(s, f);
	if (!ret)
		put_stat(w, &st);
	return ret;
}

static int open_file(struct p9_server *s, const char *path, int flags, mode_t mode);

static int set_size(struct p9_server *s, struct p9_fid *f, uint64_t size)
{
	int fd, ret;

	if (size > INT64_MAX)
		return -EFBIG;
	if (f->fd >= 0 && (f->oflags & O_ACCMODE) != O_RDONLY)
		return ftruncate(f->fd, (off_t)size) ? -errno : 0;
	fd = open_file(s, f->path, O_WRONLY | O_NONBLOCK, 0);
	if (fd < 0)
		return fd;
	ret = ftruncate(fd, (off_t)size) ? -errno : 0;
	close(fd);
	return ret;
}

/* Tsetattr fid[4] valid[4] mode[4] uid[4] gid[4] size[8] atime_sec[8]
 * atime_nsec[8] mtime_sec[8] mtime_nsec[8] -> Rsetattr. Mode, owner, size,
 * then times last: a truncation would otherwise overwrite the mtime the
 * guest asked for in the same message. */
int p9_op_setattr(struct p9_server *s, struct p9r *r, struct p9w *w)
{
	uint32_t fid = p9r_u32(r), valid = p9r_u32(r), mode = p9r_u32(r), uid = p9r_u32(r),
		 gid = p9r_u32(r);
	uint64_t size = p9r_u64(r);
	struct timespec ts[2];
	struct p9_fid *f;
	int pfd, ret = 0;

	ts[0].tv_sec = (time_t)p9r_u64(r);
	ts[0].tv_nsec = (long)p9r_u64(r);
	ts[1].tv_sec = (time_t)p9r_u64(r);
	ts[1].tv_nsec = (long)p9r_u64(r);
	if (r->bad)
		return -EPROTO;
	if (s->readonly)
		return -EROFS;
	f = p9_fid_get(s, fid);
	if (!f)
		return -EBADF;
	pthread_mutex_lock(&f->lock);
	pfd = p9_open(s, f->path, O_PATH, 0);
	if (pfd < 0) {
		ret = pfd;
		goto out;
	}
	if (valid & P9_ATTR_MODE)
		ret = chmod_fd(pfd, mode & 07777);
	if (!ret && (valid & (P9_ATTR_UID | P9_ATTR_GID)) &&
	    fchownat(pfd, "", (valid & P9_ATTR_UID) ? uid : (uid_t)-1,
		     (valid & P9_ATTR_GID) ? gid : (gid_t)-1, AT_EMPTY_PATH | AT_SYMLINK_NOFOLLOW))
		ret = -errno;
	if (!ret && (valid & P9_ATTR_SIZE))
		ret = set_size(s, f, size);
	if (!ret && (valid & (P9_ATTR_ATIME | P9_ATTR_MTIME))) {
		if (!(valid & P9_ATTR_ATIME))
			ts[0].tv_nsec = UTIME_OMIT;
		else if (!(valid & P9_ATTR_ATIME_SET))
			ts[0].tv_nsec = UTIME_NOW;
		if (!(valid & P9_ATTR_MTIME))
			ts[1].tv_nsec = UTIME_OMIT;
		else if (!(valid & P9_ATTR_MTIME_SET))
			ts[1].tv_nsec = UTIME_NOW;
		if (utimensat(pfd, "", ts, AT_EMPTY_PATH))
			ret = -errno;
	}
	close(pfd);
out:
	pthread_mutex_unlock(&f->lock);
	p9_fid_put(s, f);
	return ret;
}

/* Fill in a count[4] reserved before the data it counts. */
static void put_count(uint8_t *cnt, uint32_t n)
{
	cnt[0] = (uint8_t)n;
	cnt[1] = (uint8_t)(n >> 8);
	cnt[2] = (uint8_t)(n >> 16);
	cnt[3] = (uint8_t)(n >> 24);
}

static bool wants_write(uint32_t flags)
{
	return (flags & O_ACCMODE) != O_RDONLY || (flags & O_TRUNC);
}

static bool is_device(int fd)
{
	struct stat st;

	return fstat(fd, &st) || S_ISCHR(st.st_mode) || S_ISBLK(st.st_mode);
}

/*
 * Open a file for I/O. O_NONBLOCK for the open itself (a FIFO must not
 * block a worker), then cleared again unless asked for. Device nodes are
 * never opened: a share of "/" (or any directory holding one) must not
 * hand the guest the host's disks or /dev/mem. The type is checked before
 * the open (opening some devices has effects) and again on what was opened
 * (the name may have been swapped in between).
 */
static int open_file(struct p9_server *s, const char *path, int flags, mode_t mode)
{
	int fd = p9_open(s, path, O_PATH, 0);

	if (fd >= 0) {
		bool dev = is_device(fd);

		close(fd);
		if (dev)
			return -EPERM;
	} else if (!(flags & O_CREAT)) {
		return fd;
	}
	fd = p9_open(s, path, flags | O_NONBLOCK, mode);
	if (fd >= 0 && is_device(fd)) {
		close(fd);
		return -EPERM;
	}
	if (fd >= 0 && !(flags & O_NONBLOCK))
		(void)fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) & ~O_NONBLOCK);
	return fd;
}

/* Tlopen fid[4] flags[4] -> Rlopen qid iounit[4] */
int p9_op_lopen(struct p9_server *s, struct p9r *r, struct p9w *w)
{
	uint32_t fid = p9r_u32(r), flags = p9r_u32(r) & P9_OPEN_FLAGS;
	struct p9_fid *f;
	struct p9_qid q;
	struct stat st;
	int fd, ret = 0;

	if (r->bad)
		return -EPROTO;
	if ((flags & O_ACCMODE) == O_ACCMODE)
		return -EINVAL;
	if (s->readonly && wants_write(flags))
		return -EROFS;
	f = p9_fid_get(s, fid);
	if (!f)
		return -EBADF;
	pthread_mutex_lock(&f->lock);
	if (f->fd >= 0) {
		ret = -EINVAL; /* opened already */
		goto out;
	}
	fd = open_file(s, f->path, (int)flags, 0);
	if (fd < 0) {
		ret = fd;
		goto out;
	}
	if (fstat(fd, &st)) {
		ret = -errno;
		close(fd);
		goto out;
	}
	f->fd = fd;
	f->oflags = (int)flags;
	p9_qid_from_stat(&st, &q);
	p9w_qid(w, &q);
	p9w_u32(w, 0); /* iounit: 0 = msize - P9_IOHDRSZ */
out:
	pthread_mutex_unlock(&f->lock);
	p9_fid_put(s, f);
	return ret;
}

/* Tlcreate fid[4] name[s] flags[4] mode[4] gid[4] -> Rlcreate qid iounit[4].
 * The fid (a directory) becomes the new, open file. */
int p9_op_lcreate(struct p9_server *s, struct p9r *r, struct p9w *w)
{
	uint32_t fid = p9r_u32(r), flags, mode, gid;
	char name[P9_MAX_STR], *path = NULL;
	struct p9_fid *f;
	struct p9_qid q;
	struct stat st;
	int fd, ret;

	p9r_str(r, name, sizeof(name));
	/* The guest's O_EXCL is kept (open(O_CREAT|O_EXCL) must fail on an
	 * existing file); without it an existing file is opened, as open(2)
	 * does, but never through a symlink (O_NOFOLLOW). */
	flags = p9r_u32(r) & (P9_OPEN_FLAGS | O_EXCL);
	mode = p9r_u32(r);
	gid = p9r_u32(r);
	ret = p9_check_change(s, r, name);
	if (ret)
		return ret;
	if ((flags & O_ACCMODE) == O_ACCMODE)
		return -EINVAL;
	f = p9_fid_get(s, fid);
	if (!f)
		return -EBADF;
	pthread_mutex_lock(&f->lock);
	ret = f->fd >= 0 ? -EINVAL : p9_path_join(f->path, name, &path);
	if (ret)
		goto out;
	fd = open_file(s, path, (int)(flags | O_CREAT), mode & 07777);
	if (fd < 0) {
		ret = fd;
		goto out;
	}
	(void)fchmod(fd, mode & 07777); /* the guest's mode, not our umask */
	(void)!fchown(fd, (uid_t)-1, gid);
	if (fstat(fd, &st)) {
		ret = -errno;
		close(fd);
		goto out;
	}
	free(f->path);
	f->path = path;
	path = NULL;
	f->fd = fd;
	f->oflags = (int)(flags & ~(uint32_t)O_EXCL);
	p9_qid_from_stat(&st, &q);
	p9w_qid(w, &q);
	p9w_u32(w, 0);
out:
	pthread_mutex_unlock(&f->lock);
	p9_fid_put(s, f);
	free(path);
	return ret;
}

/* An open fid's fd, with the fid's reference held; -EBADF if not open. */
static int open_fid(struct p9_server *s, uint32_t id, struct p9_fid **out)
{
	struct p9_fid *f = p9_fid_get(s, id);

	if (!f)
		return -EBADF;
	pthread_mutex_lock(&f->lock);
	if (f->fd < 0) {
		pthread_mutex_unlock(&f->lock);
		p9_fid_put(s, f);
		return -EBADF;
	}
	*out = f;
	return 0;
}

static void close_fid(struct p9_server *s, struct p9_fid *f)
{
	pthread_mutex_unlock(&f->lock);
	p9_fid_put(s, f);
}

/* Tread fid[4] offset[8] count[4] -> Rread count[4] data[count]. The data
 * is read straight into the reply; count is cut to what msize and the
 * guest's reply buffer hold. */
int p9_op_read(struct p9_server *s, struct p9r *r, struct p9w *w)
{
	uint32_t fid = p9r_u32(r), count;
	uint64_t off = p9r_u64(r);
	size_t room, limit = p9_server_msize(s) - P9_HDR_SIZE - 4;
	struct p9_fid *f;
	uint8_t *cnt, *data;
	ssize_t n;
	int ret;

	count = p9r_u32(r);
	if (r->bad)
		return -EPROTO;
	if (off > INT64_MAX)
		return -EINVAL;
	ret = open_fid(s, fid, &f);
	if (ret)
		return ret;
	cnt = p9w_reserve(w, 4);
	room = w->cap - w->pos;
	if (count > limit)
		count = (uint32_t)limit;
	if (count > room)
		count = (uint32_t)room;
	data = p9w_reserve(w, count);
	if (!cnt || !data) {
		ret = -EMSGSIZE;
		goto out;
	}
	n = pread(f->fd, data, count, (off_t)off);
	if (n < 0) {
		ret = -errno;
		goto out;
	}
	w->pos -= count - (size_t)n;
	put_count(cnt, (uint32_t)n);
out:
	close_fid(s, f);
	return ret;
}

/* Twrite fid[4] offset[8] count[4] data[count] -> Rwrite count[4]. */
int p9_op_write(struct p9_server *s, struct p9r *r, struct p9w *w)
{
	uint32_t fid = p9r_u32(r), count;
	uint64_t off = p9r_u64(r);
	const uint8_t *data;
	struct p9_fid *f;
	ssize_t n;
	int ret;

	count = p9r_u32(r);
	data = p9r_bytes(r, count);
	if (r->bad)
		return -EPROTO;
	if (s->readonly)
		return -EROFS;
	if (off > INT64_MAX)
		return -EINVAL;
	ret = open_fid(s, fid, &f);
	if (ret)
		return ret;
	n = (f->oflags & O_APPEND) ? write(f->fd, data, count)
				   : pwrite(f->fd, data, count, (off_t)off);
	if (n < 0)
		ret = -errno;
	else
		p9w_u32(w, (uint32_t)n);
	close_fid(s, f);
	return ret;
}

struct linux_dirent64 {
	uint64_t d_ino;
	int64_t d_off;
	unsigned short d_reclen;
	unsigned char d_type;
	char d_name[];
};

/* Treaddir fid[4] offset[8] count[4] -> Rreaddir count[4] data[count] of
 * qid[13] offset[8] type[1] name[s]. The offsets are the host's d_off
 * cookies; each call seeks to the guest's and reads from there. */
int p9_op_readdir(struct p9_server *s, struct p9r *r, struct p9w *w)
{
	uint32_t fid = p9r_u32(r), count;
	uint64_t off = p9r_u64(r);
	size_t start, pos, limit;
	char buf[32768];
	struct p9_fid *f;
	uint8_t *cnt;
	long n;
	int ret;

	count = p9r_u32(r);
	if (r->bad)
		return -EPROTO;
	ret = open_fid(s, fid, &f);
	if (ret)
		return ret;
	cnt = p9w_reserve(w, 4);
	start = w->pos;
	limit = count < w->cap - start ? count : w->cap - start;
	if (!cnt || off > INT64_MAX || lseek(f->fd, (off_t)off, SEEK_SET) < 0) {
		ret = cnt ? -EINVAL : -EMSGSIZE;
		goto out;
	}
	n = syscall(SYS_getdents64, f->fd, buf, limit < sizeof(buf) ? limit : sizeof(buf));
	if (n < 0) {
		ret = -errno;
		goto out;
	}
	for (pos = 0; pos < (size_t)n;) {
		const struct linux_dirent64 *d = (const void *)(buf + pos);
		size_t need = 13 + 8 + 1 + 2 + strlen(d->d_name);
		struct p9_qid q = {
			.type = d->d_type == DT_DIR   ? P9_QTDIR
				: d->d_type == DT_LNK ? P9_QTSYMLINK
						      : P9_QTFILE,
			.path = d->d_ino,
		};

		if (w->pos - start + need > limit)
			break;
		p9w_qid(w, &q);
		p9w_u64(w, (uint64_t)d->d_off);
		p9w_u8(w, d->d_type);
		p9w_str(w, d->d_name);
		pos += d->d_reclen;
	}
	put_count(cnt, (uint32_t)(w->pos - start));
out:
	close_fid(s, f);
	return ret;
}

/* What Tmkdir, Tmknod and Tsymlink share: the directory fid, one new name
 * in it, the mode and gid to give, and a qid to answer with. */
struct create_args {
	uint32_t dfid;
	char name[P9_MAX_STR];
	uint32_t mode, gid;
};

static int create_node(struct p9_server *s, const struct create_args *a, const char *target,
		       uint32_t rdev, struct p9w *w)
{
	struct p9_qid q;
	struct stat st;
	int dfd, ret = 0;

	ret = p9_check_change(s, NULL, a->name);
	if (ret)
		return ret;
	dfd = p9_fid_dir_fd(s, a->dfid);
	if (dfd < 0)
		return dfd;
	if (target)
		ret = symlinkat(target, dfd, a->name);
	else if (S_ISDIR(a->mode))
		ret = mkdirat(dfd, a->name, a->mode & 07777);
	else
		ret = mknodat(dfd, a->name, a->mode, rdev);
	ret = ret ? -errno : finish_create(dfd, a->name, a->mode, a->gid, &st);
	close(dfd);
	if (!ret) {
		p9_qid_from_stat(&st, &q);
		p9w_qid(w, &q);
	}
	return ret;
}

/* Tmkdir dfid[4] name[s] mode[4] gid[4] -> Rmkdir qid */
int p9_op_mkdir(struct p9_server *s, struct p9r *r, struct p9w *w)
{
	struct create_args a;

	a.dfid = p9r_u32(r);
	p9r_str(r, a.name, sizeof(a.name));
	a.mode = (p9r_u32(r) & 07777) | S_IFDIR;
	a.gid = p9r_u32(r);
	return r->bad ? -EPROTO : create_node(s, &a, NULL, 0, w);
}

/* Tmknod dfid[4] name[s] mode[4] major[4] minor[4] gid[4] -> Rmknod qid.
 * FIFOs, sockets and plain files only: a device node made by the guest
 * would be a host device in a host directory. */
int p9_op_mknod(struct p9_server *s, struct p9r *r, struct p9w *w)
{
	struct create_args a;

	a.dfid = p9r_u32(r);
	p9r_str(r, a.name, sizeof(a.name));
	a.mode = p9r_u32(r);
	(void)p9r_u32(r);
	(void)p9r_u32(r);
	a.gid = p9r_u32(r);
	if (r->bad)
		return -EPROTO;
	if (!S_ISFIFO(a.mode) && !S_ISSOCK(a.mode) && !S_ISREG(a.mode))
		return s->readonly ? -EROFS : -EPERM;
	return create_node(s, &a, NULL, 0, w);
}

/* Tsymlink fid[4] name[s] symtgt[s] gid[4] -> Rsymlink qid. The target is
 * only stored: the host never follows it. */
int p9_op_symlink(struct p9_server *s, struct p9r *r, struct p9w *w)
{
	struct create_args a;
	char target[P9_MAX_STR];

	a.dfid = p9r_u32(r);
	p9r_str(r, a.name, sizeof(a.name));
	p9r_str(r, target, sizeof(target));
	a.gid = p9r_u32(r);
	a.mode = S_IFLNK | 0777;
	if (r->bad)
		return -EPROTO;
	if (!target[0])
		return -ENOENT;
	return create_node(s, &a, target, 0, w);
}
