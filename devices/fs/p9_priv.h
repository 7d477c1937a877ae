/* SPDX-License-Identifier: MIT */
/*
 * The 9p server's insides, shared by p9_server.c (the session, the fid
 * table, walk/attach/clunk) and p9_ops.c (the file-system operations).
 */
#ifndef VMM_DEVICES_FS_P9_PRIV_H
#define VMM_DEVICES_FS_P9_PRIV_H

#include <pthread.h>
#include <sys/stat.h>

#include "devices/fs/p9_proto.h"
#include "devices/fs/p9_server.h"

#define P9_FID_BUCKETS 1024

struct p9_fid {
	uint32_t id;
	struct p9_fid *next;  /* hash chain, under p9_server.lock */
	unsigned int refs;    /* under p9_server.lock: the table's + users' */
	pthread_mutex_t lock; /* path, fd */
	char *path;	      /* relative to the share root, "." for the root */
	int fd;		      /* -1 unless Tlopen/Tlcreate opened it */
	int oflags;	      /* the open(2) flags fd was opened with */
};

struct p9_server {
	int root_fd;
	bool readonly;
	bool have_openat2;
	uint32_t max_msize;
	unsigned int max_fids;

	pthread_mutex_t lock; /* the fid table, msize, stats */
	uint32_t msize;
	unsigned int nfids;
	struct p9_fid *fids[P9_FID_BUCKETS];
	struct p9_stats stats;
};

/* A fid from the table with a reference (and its lock NOT taken), or NULL. */
struct p9_fid *p9_fid_get(struct p9_server *s, uint32_t id);
void p9_fid_put(struct p9_server *s, struct p9_fid *f);
/* A copy of the fid's path (malloc'd), or NULL. */
char *p9_fid_path(struct p9_fid *f);

/* What every changing operation checks first, in this order: a malformed
 * message (r may be NULL) -EPROTO, a readonly share -EROFS, a new name
 * (may be NULL) that is not one plain name -EINVAL. */
int p9_check_change(struct p9_server *s, struct p9r *r, const char *name)
	__attribute__((warn_unused_result));
/* A copy of the path of fid `id` (malloc'd), or -EBADF. */
int p9_fid_path_of(struct p9_server *s, uint32_t id, char **path)
	__attribute__((warn_unused_result));
/* Open fid `id`'s file beneath the root with `flags`, or -errno. */
int p9_fid_open(struct p9_server *s, uint32_t id, int flags) __attribute__((warn_unused_result));
/* The directory fd (O_PATH) of fid `id`, for the *at calls, or -errno. */
int p9_fid_dir_fd(struct p9_server *s, uint32_t id) __attribute__((warn_unused_result));
/* The directory (O_PATH fd) holding `path`, its last name in *base; -EBUSY
 * for the root, which has no name to act on. */
int p9_parent_fd(struct p9_server *s, const char *path, const char **base)
	__attribute__((warn_unused_result));

/* p9_open_beneath() on the share: a path from p9_path_join, never a guest string. */
int p9_open(struct p9_server *s, const char *path, int flags, mode_t mode)
	__attribute__((warn_unused_result));
/* stat() of a path beneath the root, not following a last symlink. */
int p9_stat_path(struct p9_server *s, const char *path, struct stat *st)
	__attribute__((warn_unused_result));
void p9_qid_from_stat(const struct stat *st, struct p9_qid *q);

/* A request handler: reads its fields from r (the reader is past the
 * header), writes the reply's body into w (the header is written), returns
 * 0 or a negative errno for Rlerror. If r->bad after it returns, the reply
 * is Rlerror(EPROTO) whatever it did, so handlers check r->bad before acting. */
typedef int p9_handler_fn(struct p9_server *s, struct p9r *r, struct p9w *w);

p9_handler_fn p9_op_getattr, p9_op_setattr, p9_op_lopen, p9_op_lcreate, p9_op_read, p9_op_write,
	p9_op_readdir, p9_op_mkdir, p9_op_mknod, p9_op_symlink, p9_op_link, p9_op_rename,
	p9_op_renameat, p9_op_unlinkat, p9_op_readlink, p9_op_fsync, p9_op_statfs, p9_op_lock,
	p9_op_getlock, p9_op_xattrwalk, p9_op_xattrcreate;

#endif /* VMM_DEVICES_FS_P9_PRIV_H */
