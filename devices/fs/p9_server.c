/* SPDX-License-Identifier: MIT */
/*
 * The 9P2000.L server: the session (Tversion), the fid table (Tattach,
 * Twalk, Tclunk, Tremove) and the dispatch of every other message to
 * p9_ops.c. See p9_server.h for the threading and ownership rules and
 * p9_path.h for how a path stays inside the share.
 */
#include "devices/fs/p9_priv.h"

#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "devices/fs/p9_path.h"
#include "base/err.h"

static unsigned int fid_bucket(uint32_t id)
{
	return (id * 2654435761U) % P9_FID_BUCKETS;
}

static void fid_free(struct p9_fid *f)
{
	if (f->fd >= 0)
		close(f->fd);
	pthread_mutex_destroy(&f->lock);
	free(f->path);
	free(f);
}

struct p9_fid *p9_fid_get(struct p9_server *s, uint32_t id)
{
	struct p9_fid *f;

	pthread_mutex_lock(&s->lock);
	for (f = s->fids[fid_bucket(id)]; f; f = f->next)
		if (f->id == id) {
			f->refs++;
			break;
		}
	pthread_mutex_unlock(&s->lock);
	return f;
}

void p9_fid_put(struct p9_server *s, struct p9_fid *f)
{
	bool last;

	pthread_mutex_lock(&s->lock);
	last = --f->refs == 0;
	pthread_mutex_unlock(&s->lock);
	if (last)
		fid_free(f);
}

char *p9_fid_path(struct p9_fid *f)
{
	char *p;

	pthread_mutex_lock(&f->lock);
	p = strdup(f->path);
	pthread_mutex_unlock(&f->lock);
	return p;
}

int p9_fid_path_of(struct p9_server *s, uint32_t id, char **path)
{
	struct p9_fid *f = p9_fid_get(s, id);

	*path = NULL;
	if (!f)
		return -EBADF;
	*path = p9_fid_path(f);
	p9_fid_put(s, f);
	return *path ? 0 : -ENOMEM;
}

/* Insert a new fid (taking `path`); -EEXIST if the id is in use, -ENFILE
 * past the table's bound. */
static int fid_add(struct p9_server *s, uint32_t id, char *path)
{
	struct p9_fid *f, **head;
	int ret = 0;

	if (id == P9_NOFID) {
		free(path);
		return -EINVAL;
	}
	f = calloc(1, sizeof(*f));
	if (!f) {
		free(path);
		return -ENOMEM;
	}
	f->id = id;
	f->path = path;
	f->fd = -1;
	f->refs = 1;
	pthread_mutex_init(&f->lock, NULL);
	pthread_mutex_lock(&s->lock);
	head = &s->fids[fid_bucket(id)];
	for (struct p9_fid *g = *head; g; g = g->next)
		if (g->id == id)
			ret = -EEXIST;
	if (!ret && s->nfids >= s->max_fids)
		ret = -ENFILE;
	if (!ret) {
		f->next = *head;
		*head = f;
		s->nfids++;
	}
	pthread_mutex_unlock(&s->lock);
	if (ret)
		fid_free(f);
	return ret;
}

/* Take a fid out of the table (its table reference goes with it). */
static int fid_remove(struct p9_server *s, uint32_t id)
{
	struct p9_fid **pp, *f = NULL;

	pthread_mutex_lock(&s->lock);
	for (pp = &s->fids[fid_bucket(id)]; *pp; pp = &(*pp)->next)
		if ((*pp)->id == id) {
			f = *pp;
			*pp = f->next;
			s->nfids--;
			break;
		}
	pthread_mutex_unlock(&s->lock);
	if (!f)
		return -EBADF;
	p9_fid_put(s, f);
	return 0;
}

static void fid_clear_all(struct p9_server *s)
{
	unsigned int i;

	for (i = 0; i < P9_FID_BUCKETS; i++) {
		struct p9_fid *f;

		for (;;) {
			pthread_mutex_lock(&s->lock);
			f = s->fids[i];
			if (f) {
				s->fids[i] = f->next;
				s->nfids--;
			}
			pthread_mutex_unlock(&s->lock);
			if (!f)
				break;
			p9_fid_put(s, f);
		}
	}
}

int p9_check_change(struct p9_server *s, struct p9r *r, const char *name)
{
	if (r && r->bad)
		return -EPROTO;
	if (s->readonly)
		return -EROFS;
	return !name || p9_name_ok(name) ? 0 : -EINVAL;
}

int p9_open(struct p9_server *s, const char *path, int flags, mode_t mode)
{
	return p9_open_beneath(s->root_fd, s->have_openat2, path, flags, mode);
}

void p9_qid_from_stat(const struct stat *st, struct p9_qid *q)
{
	q->type = S_ISDIR(st->st_mode) ? P9_QTDIR : S_ISLNK(st->st_mode) ? P9_QTSYMLINK : P9_QTFILE;
	/* As QEMU: changes when the file does, so a client can tell. */
	q->version = (uint32_t)(st->st_mtime ^ (st->st_size << 8));
	q->path = st->st_ino;
}

int p9_stat_path(struct p9_server *s, const char *path, struct stat *st)
{
	int fd = p9_open(s, path, O_PATH, 0), ret = 0;

	if (fd < 0)
		return fd;
	if (fstat(fd, st))
		ret = -errno;
	close(fd);
	return ret;
}

/* Tversion msize[4] version[s] -> Rversion msize[4] version[s]. A new
 * session: every fid of the old one is clunked (9P: "version ... aborts
 * all outstanding I/O and clunks all fids"). */
static int op_version(struct p9_server *s, struct p9r *r, struct p9w *w)
{
	uint32_t msize = p9r_u32(r);
	char version[64];

	p9r_str(r, version, sizeof(version));
	if (r->bad)
		return -EPROTO;
	if (msize < P9_MIN_MSIZE)
		return -EINVAL;
	if (msize > s->max_msize)
		msize = s->max_msize;
	fid_clear_all(s);
	pthread_mutex_lock(&s->lock);
	s->msize = msize;
	pthread_mutex_unlock(&s->lock);
	p9w_u32(w, msize);
	/* Only 9P2000.L: anything else gets "unknown", as the spec says. */
	p9w_str(w, strncmp(version, "9P2000.L", 8) ? "unknown" : "9P2000.L");
	return 0;
}

/* Tattach fid[4] afid[4] uname[s] aname[s] n_uname[4] -> Rattach qid. */
static int op_attach(struct p9_server *s, struct p9r *r, struct p9w *w)
{
	char uname[256], aname[P9_MAX_STR];
	uint32_t fid = p9r_u32(r);
	struct p9_qid q;
	struct stat st;
	char *root;
	int ret;

	(void)p9r_u32(r); /* afid: no authentication */
	p9r_str(r, uname, sizeof(uname));
	p9r_str(r, aname, sizeof(aname));
	(void)p9r_u32(r);
	if (r->bad)
		return -EPROTO;
	ret = p9_stat_path(s, ".", &st);
	if (ret)
		return ret;
	root = strdup(".");
	if (!root)
		return -ENOMEM;
	ret = fid_add(s, fid, root);
	if (ret)
		return ret;
	p9_qid_from_stat(&st, &q);
	p9w_qid(w, &q);
	return 0;
}

/* The path one walk step leads to: ".." lexically (stopping at the root),
 * anything else must be one plain name. */
static int walk_step(const char *from, const char *name, char **to)
{
	if (!strcmp(name, ".."))
		return p9_path_parent(from, to);
	if (!p9_name_ok(name))
		return -EINVAL;
	return p9_path_join(from, name, to);
}

/* Twalk fid[4] newfid[4] nwname[2] nwname*(wname[s]) -> Rwalk nwqid[2]
 * nwqid*(qid). A walk that fails at the first name is an error; one that
 * fails later returns the qids so far and newfid is not made (9P). */
static int op_walk(struct p9_server *s, struct p9r *r, struct p9w *w)
{
	uint32_t fid = p9r_u32(r), newfid = p9r_u32(r);
	uint16_t n = p9r_u16(r), i;
	char name[P9_MAX_STR];
	char *path = NULL, *next;
	uint8_t *count;
	struct p9_fid *f;
	struct stat st;
	int ret = 0;

	if (r->bad)
		return -EPROTO;
	if (n > P9_MAXWELEM) {
		r->bad = true;
		return -EPROTO;
	}
	ret = p9_fid_path_of(s, fid, &path);
	if (ret)
		return ret;
	count = p9w_reserve(w, 2);
	for (i = 0; i < n; i++) {
		struct p9_qid q;

		p9r_str(r, name, sizeof(name));
		if (r->bad) {
			ret = -EPROTO;
			goto out;
		}
		ret = walk_step(path, name, &next);
		if (!ret) {
			/* A non-directory or symlink on the way fails here
			 * (openat2: ENOTDIR, ELOOP), at the name after it. */
			ret = p9_stat_path(s, next, &st);
			if (ret)
				free(next);
		}
		if (ret) {
			if (i == 0)
				goto out;
			ret = 0;
			break; /* a partial walk: the qids so far, no newfid */
		}
		free(path);
		path = next;
		p9_qid_from_stat(&st, &q);
		p9w_qid(w, &q);
	}
	if (count) {
		count[0] = (uint8_t)i;
		count[1] = 0;
	}
	if (i < n)
		goto out;
	if (newfid == fid) {
		f = p9_fid_get(s, fid);
		if (!f) {
			ret = -EBADF;
			goto out;
		}
		pthread_mutex_lock(&f->lock);
		free(f->path);
		f->path = path;
		path = NULL;
		pthread_mutex_unlock(&f->lock);
		p9_fid_put(s, f);
	} else {
		ret = fid_add(s, newfid, path);
		path = NULL;
	}
out:
	free(path);
	return ret;
}

/* Tclunk fid[4] -> Rclunk. */
static int op_clunk(struct p9_server *s, struct p9r *r, struct p9w *w)
{
	uint32_t fid = p9r_u32(r);

	if (r->bad)
		return -EPROTO;
	return fid_remove(s, fid);
}

/* Tremove fid[4] -> Rremove: unlink the file, and clunk the fid even when
 * that fails (9P). */
static int op_remove(struct p9_server *s, struct p9r *r, struct p9w *w)
{
	uint32_t fid = p9r_u32(r);
	char *path, *parent = NULL;
	struct stat st;
	int ret, dfd;

	if (r->bad)
		return -EPROTO;
	ret = p9_fid_path_of(s, fid, &path);
	if (ret)
		goto out;
	if (p9_path_parent(path, &parent)) {
		ret = -ENOMEM;
		goto out;
	}
	if (s->readonly) {
		ret = -EROFS;
		goto out;
	}
	if (!strcmp(path, ".")) {
		ret = -EBUSY; /* the share's root itself */
		goto out;
	}
	dfd = p9_open(s, parent, O_PATH | O_DIRECTORY, 0);
	if (dfd < 0) {
		ret = dfd;
		goto out;
	}
	ret = 0;
	if (fstatat(dfd, p9_path_base(path), &st, AT_SYMLINK_NOFOLLOW) ||
	    unlinkat(dfd, p9_path_base(path), S_ISDIR(st.st_mode) ? AT_REMOVEDIR : 0))
		ret = -errno;
	close(dfd);
out:
	free(parent);
	free(path);
	(void)fid_remove(s, fid);
	return ret;
}

/* Tflush oldtag[2] -> Rflush. The transport holds Rflush back until the
 * old request's reply is out (devices/virtio/9p.c); here there is nothing
 * to cancel: a request runs to its end once started. */
static int op_flush(struct p9_server *s, struct p9r *r, struct p9w *w)
{
	(void)p9r_u16(r);
	return r->bad ? -EPROTO : 0;
}

/* Tauth: no authentication (9P: Rlerror means "none needed"). */
static int op_auth(struct p9_server *s, struct p9r *r, struct p9w *w)
{
	return -EOPNOTSUPP;
}

static p9_handler_fn *handler_for(uint8_t type)
{
	switch (type) {
	case P9_TVERSION:
		return op_version;
	case P9_TAUTH:
		return op_auth;
	case P9_TATTACH:
		return op_attach;
	case P9_TFLUSH:
		return op_flush;
	case P9_TWALK:
		return op_walk;
	case P9_TCLUNK:
		return op_clunk;
	case P9_TREMOVE:
		return op_remove;
	case P9_TSTATFS:
		return p9_op_statfs;
	case P9_TLOPEN:
		return p9_op_lopen;
	case P9_TLCREATE:
		return p9_op_lcreate;
	case P9_TSYMLINK:
		return p9_op_symlink;
	case P9_TMKNOD:
		return p9_op_mknod;
	case P9_TRENAME:
		return p9_op_rename;
	case P9_TREADLINK:
		return p9_op_readlink;
	case P9_TGETATTR:
		return p9_op_getattr;
	case P9_TSETATTR:
		return p9_op_setattr;
	case P9_TXATTRWALK:
		return p9_op_xattrwalk;
	case P9_TXATTRCREATE:
		return p9_op_xattrcreate;
	case P9_TREADDIR:
		return p9_op_readdir;
	case P9_TFSYNC:
		return p9_op_fsync;
	case P9_TLOCK:
		return p9_op_lock;
	case P9_TGETLOCK:
		return p9_op_getlock;
	case P9_TLINK:
		return p9_op_link;
	case P9_TMKDIR:
		return p9_op_mkdir;
	case P9_TRENAMEAT:
		return p9_op_renameat;
	case P9_TUNLINKAT:
		return p9_op_unlinkat;
	case P9_TREAD:
		return p9_op_read;
	case P9_TWRITE:
		return p9_op_write;
	default:
		return NULL;
	}
}

size_t p9_server_handle(struct p9_server *s, const uint8_t *req, size_t len, uint8_t *resp,
			size_t cap)
{
	p9_handler_fn *fn;
	struct p9r r;
	struct p9w w;
	uint16_t tag = P9_NOTAG;
	uint8_t type = 0;
	bool malformed = false;
	size_t out = 0;
	int ret;

	if (p9_parse_header(req, len, &type, &tag)) {
		/* The tag may be all there is to trust, if that. */
		tag = len >= P9_HDR_SIZE ? (uint16_t)(req[5] | req[6] << 8) : P9_NOTAG;
		ret = -EPROTO;
		malformed = true;
		goto reply;
	}
	fn = handler_for(type);
	if (!fn) {
		ret = -EOPNOTSUPP;
		malformed = true;
		goto reply;
	}
	p9r_init(&r, req + P9_HDR_SIZE, len - P9_HDR_SIZE);
	p9w_init(&w, resp, cap);
	p9w_begin(&w, (uint8_t)(type + 1), tag);
	ret = fn(s, &r, &w);
	if (r.bad) {
		ret = -EPROTO;
		malformed = true;
	}
	if (!ret) {
		out = p9w_finish(&w);
		if (!out)
			ret = -EMSGSIZE; /* the guest's reply buffer is too small */
	}
reply:
	if (ret)
		out = p9_encode_lerror(resp, cap, tag, (uint32_t)-ret);
	pthread_mutex_lock(&s->lock);
	s->stats.requests++;
	s->stats.errors += ret != 0;
	s->stats.malformed += malformed || !out;
	pthread_mutex_unlock(&s->lock);
	return out;
}

int p9_server_create(const struct p9_server_params *p, struct p9_server **out, char *err,
		     size_t errlen)
{
	struct p9_server *s;
	struct stat st;
	int ret;

	s = calloc(1, sizeof(*s));
	if (!s)
		return -ENOMEM;
	s->root_fd = open(p->dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (s->root_fd < 0) {
		ret = -errno;
		err_set(err, errlen, ret, "cannot open directory %s: %s", p->dir, strerror(-ret));
		goto err_free;
	}
	/* O_RDONLY|O_DIRECTORY needs only search... check we can list it. */
	if (fstat(s->root_fd, &st) || faccessat(s->root_fd, ".", R_OK | X_OK, AT_EACCESS)) {
		ret = -errno;
		err_set(err, errlen, ret, "cannot read directory %s: %s", p->dir, strerror(-ret));
		goto err_close;
	}
	s->readonly = p->readonly;
	s->have_openat2 = p9_have_openat2(s->root_fd);
	s->max_msize = p->max_msize ? p->max_msize : P9_MAX_MSIZE;
	if (s->max_msize < P9_MIN_MSIZE)
		s->max_msize = P9_MIN_MSIZE;
	s->msize = s->max_msize;
	s->max_fids = p->max_fids ? p->max_fids : P9_DEFAULT_FIDS;
	pthread_mutex_init(&s->lock, NULL);
	*out = s;
	return 0;

err_close:
	close(s->root_fd);
err_free:
	free(s);
	return ret;
}

void p9_server_destroy(struct p9_server *s)
{
	if (!s)
		return;
	fid_clear_all(s);
	pthread_mutex_destroy(&s->lock);
	close(s->root_fd);
	free(s);
}

uint32_t p9_server_msize(struct p9_server *s)
{
	uint32_t m;

	pthread_mutex_lock(&s->lock);
	m = s->msize;
	pthread_mutex_unlock(&s->lock);
	return m;
}

void p9_server_count_malformed(struct p9_server *s)
{
	pthread_mutex_lock(&s->lock);
	s->stats.requests++;
	s->stats.malformed++;
	pthread_mutex_unlock(&s->lock);
}

void p9_server_stats(struct p9_server *s, struct p9_stats *out)
{
	pthread_mutex_lock(&s->lock);
	*out = s->stats;
	pthread_mutex_unlock(&s->lock);
}
