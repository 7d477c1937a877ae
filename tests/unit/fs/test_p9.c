/* SPDX-License-Identifier: MIT */
/*
 * The 9P2000.L server on a temporary directory, driven message by message
 * (p9_client.c): the operations Linux's v9fs uses, confinement (no "..",
 * symlink, name or rename leaves the share), readonly, and malformed
 * messages (each answered with Rlerror and counted, never a crash).
 */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <sys/stat.h>
#include <sys/sysmacros.h>

#include <cmocka.h>

#include "p9_client.h"

struct fx {
	char dir[96];	  /* the share */
	char outside[64]; /* a sibling directory the guest must never reach */
	struct p9_server *s;
	struct p9c c;
};

static void write_file(const char *path, const char *text)
{
	FILE *f = fopen(path, "w");

	assert_non_null(f);
	fputs(text, f);
	fclose(f);
}

static char *slurp(const char *path)
{
	static char buf[4096];
	FILE *f = fopen(path, "r");
	size_t n;

	if (!f)
		return NULL;
	n = fread(buf, 1, sizeof(buf) - 1, f);
	buf[n] = '\0';
	fclose(f);
	return buf;
}

static int fx_open(struct fx *x, bool readonly, unsigned int max_fids)
{
	char path[PATH_MAX];
	char err[256] = "";

	strcpy(x->outside, "/tmp/p9-test-XXXXXX");
	assert_non_null(mkdtemp(x->outside));
	snprintf(x->dir, sizeof(x->dir), "%s/share", x->outside);
	assert_int_equal(mkdir(x->dir, 0755), 0);
	snprintf(path, sizeof(path), "%s/secret", x->outside);
	write_file(path, "outside");
	snprintf(path, sizeof(path), "%s/hello.txt", x->dir);
	write_file(path, "hello, guest\n");
	snprintf(path, sizeof(path), "%s/sub", x->dir);
	assert_int_equal(mkdir(path, 0755), 0);
	/* Planted by the host: absolute and relative ways out. */
	snprintf(path, sizeof(path), "%s/abs", x->dir);
	assert_int_equal(symlink(x->outside, path), 0);
	snprintf(path, sizeof(path), "%s/rel", x->dir);
	assert_int_equal(symlink("..", path), 0);
	snprintf(path, sizeof(path), "%s/secretlink", x->dir);
	assert_int_equal(symlink("../secret", path), 0);
	assert_int_equal(p9_server_create(&(struct p9_server_params){ .dir = x->dir,
								      .readonly = readonly,
								      .max_fids = max_fids },
					  &x->s, err, sizeof(err)),
			 0);
	p9c_init(&x->c, x->s, 1 << 17);
	assert_int_equal(p9c_version(&x->c, 1 << 17, NULL), 0);
	assert_int_equal(p9c_attach(&x->c, 0), 0);
	return 0;
}

static int setup(void **state)
{
	struct fx *x = calloc(1, sizeof(*x));

	*state = x;
	return fx_open(x, false, 0);
}

static int setup_ro(void **state)
{
	struct fx *x = calloc(1, sizeof(*x));

	*state = x;
	return fx_open(x, true, 0);
}

static int teardown(void **state)
{
	struct fx *x = *state;
	char cmd[128];

	p9c_destroy(&x->c);
	p9_server_destroy(x->s);
	snprintf(cmd, sizeof(cmd), "rm -rf %s", x->outside);
	assert_int_equal(system(cmd), 0);
	free(x);
	return 0;
}

static void test_version(void **state)
{
	struct fx *x = *state;
	uint32_t got = 0;
	struct p9w *w;
	char v[32];

	assert_int_equal(p9c_version(&x->c, 8192, &got), 0);
	assert_int_equal(got, 8192);
	assert_int_equal(p9_server_msize(x->s), 8192);
	assert_int_equal(p9c_version(&x->c, 64U << 20, &got), 0);
	assert_int_equal(got, P9_MAX_MSIZE);
	assert_int_equal(p9c_version(&x->c, 100, &got), EINVAL);
	/* Only 9P2000.L is spoken. */
	w = p9c_begin(&x->c, P9_TVERSION);
	p9w_u32(w, 8192);
	p9w_str(w, "9P2000.u");
	assert_int_equal(p9c_call(&x->c), 0);
	(void)p9r_u32(&x->c.r);
	p9r_str(&x->c.r, v, sizeof(v));
	assert_string_equal(v, "unknown");
	/* A new session clunked the old fids. */
	assert_int_equal(p9c_clunk(&x->c, 0), EBADF);
}

static void test_read_write_create(void **state)
{
	struct fx *x = *state;
	const uint8_t *data;
	char path[PATH_MAX];
	uint32_t got, mode;
	uint64_t size;
	struct p9w *w;

	assert_int_equal(p9c_walk1(&x->c, 0, 1, "hello.txt"), 0);
	assert_int_equal(p9c_getattr(&x->c, 1, &mode, &size), 0);
	assert_true(S_ISREG(mode));
	assert_int_equal(size, 13);
	assert_int_equal(p9c_read(&x->c, 1, 0, 100, &data, &got), EBADF); /* not open */
	assert_int_equal(p9c_lopen(&x->c, 1, O_RDONLY), 0);
	assert_int_equal(p9c_read(&x->c, 1, 7, 100, &data, &got), 0);
	assert_int_equal(got, 6);
	assert_memory_equal(data, "guest\n", 6);

	/* Tlcreate in sub/: the fid becomes the new open file. */
	assert_int_equal(p9c_walk1(&x->c, 0, 2, "sub"), 0);
	assert_int_equal(p9c_lcreate(&x->c, 2, "new.txt", O_RDWR, 0640), 0);
	assert_int_equal(p9c_write(&x->c, 2, 0, "written by the guest", 20), 0);
	assert_int_equal(p9r_u32(&x->c.r), 20);
	snprintf(path, sizeof(path), "%s/sub/new.txt", x->dir);
	assert_string_equal(slurp(path), "written by the guest");
	assert_int_equal(p9c_walk(&x->c, 0, 9, 0, NULL), 0);
	assert_int_equal(p9c_lcreate(&x->c, 9, "sub", O_RDWR | O_EXCL, 0640), EEXIST);

	/* Tmkdir, Trenameat, Tunlinkat. */
	w = p9c_begin(&x->c, P9_TMKDIR);
	p9w_u32(w, 0);
	p9w_str(w, "made");
	p9w_u32(w, 0750);
	p9w_u32(w, 0);
	assert_int_equal(p9c_call(&x->c), 0);
	snprintf(path, sizeof(path), "%s/made", x->dir);
	assert_true(access(path, F_OK) == 0);
	assert_int_equal(p9c_walk1(&x->c, 0, 3, "made"), 0);
	assert_int_equal(p9c_walk1(&x->c, 0, 8, "sub"), 0);
	w = p9c_begin(&x->c, P9_TRENAMEAT);
	p9w_u32(w, 8);
	p9w_str(w, "new.txt");
	p9w_u32(w, 3);
	p9w_str(w, "moved.txt");
	assert_int_equal(p9c_call(&x->c), 0);
	snprintf(path, sizeof(path), "%s/made/moved.txt", x->dir);
	assert_string_equal(slurp(path), "written by the guest");
	w = p9c_begin(&x->c, P9_TUNLINKAT);
	p9w_u32(w, 3);
	p9w_str(w, "moved.txt");
	p9w_u32(w, 0);
	assert_int_equal(p9c_call(&x->c), 0);
	assert_true(access(path, F_OK) < 0);
	w = p9c_begin(&x->c, P9_TUNLINKAT);
	p9w_u32(w, 0);
	p9w_str(w, "made");
	p9w_u32(w, 0x200); /* AT_REMOVEDIR */
	assert_int_equal(p9c_call(&x->c), 0);
	snprintf(path, sizeof(path), "%s/made", x->dir);
	assert_true(access(path, F_OK) < 0);

	/* Tremove: the file goes and so does the fid. */
	assert_int_equal(p9c_walk1(&x->c, 0, 4, "hello.txt"), 0);
	w = p9c_begin(&x->c, P9_TREMOVE);
	p9w_u32(w, 4);
	assert_int_equal(p9c_call(&x->c), 0);
	snprintf(path, sizeof(path), "%s/hello.txt", x->dir);
	assert_true(access(path, F_OK) < 0);
	assert_int_equal(p9c_clunk(&x->c, 4), EBADF);
}

static void test_readdir_symlink(void **state)
{
	struct fx *x = *state;
	char name[256], target[256];
	bool seen = false;
	struct p9w *w;
	uint32_t n;

	assert_int_equal(p9c_walk(&x->c, 0, 1, 0, NULL), 0); /* clone the root */
	assert_int_equal(p9c_lopen(&x->c, 1, O_RDONLY | O_DIRECTORY), 0);
	w = p9c_begin(&x->c, P9_TREADDIR);
	p9w_u32(w, 1);
	p9w_u64(w, 0);
	p9w_u32(w, 8192);
	assert_int_equal(p9c_call(&x->c), 0);
	n = p9r_u32(&x->c.r);
	assert_true(n > 0);
	while (x->c.r.pos < x->c.r.len && !x->c.r.bad) {
		(void)p9r_bytes(&x->c.r, 13 + 8 + 1);
		p9r_str(&x->c.r, name, sizeof(name));
		seen |= !strcmp(name, "hello.txt");
	}
	assert_false(x->c.r.bad);
	assert_true(seen);

	/* The guest makes a symlink to an absolute host path: stored, read
	 * back, never followed by the host. */
	w = p9c_begin(&x->c, P9_TSYMLINK);
	p9w_u32(w, 0);
	p9w_str(w, "mine");
	p9w_str(w, "/etc/passwd");
	p9w_u32(w, 0);
	assert_int_equal(p9c_call(&x->c), 0);
	assert_int_equal(p9c_walk1(&x->c, 0, 2, "mine"), 0);
	w = p9c_begin(&x->c, P9_TREADLINK);
	p9w_u32(w, 2);
	assert_int_equal(p9c_call(&x->c), 0);
	p9r_str(&x->c.r, target, sizeof(target));
	assert_string_equal(target, "/etc/passwd");
	assert_int_equal(p9c_lopen(&x->c, 2, O_RDONLY), ELOOP);
}

static void test_escapes(void **state)
{
	struct fx *x = *state;
	const char *two[] = { "abs", "secret" };
	const char *up[] = { "..", "..", ".." };
	uint32_t mode, got;
	const uint8_t *data;
	uint64_t size;
	struct stat st;
	struct p9w *w;
	char path[PATH_MAX];

	/* ".." at the root stays at the root: hello.txt is still below it. */
	assert_int_equal(p9c_walk(&x->c, 0, 1, 3, up), 0);
	assert_int_equal(p9r_u16(&x->c.r), 3);
	assert_int_equal(p9c_walk1(&x->c, 1, 2, "hello.txt"), 0);
	assert_int_equal(p9c_walk1(&x->c, 1, 3, "secret"), ENOENT);
	/* Names with '/' and "." are refused. */
	assert_int_equal(p9c_walk1(&x->c, 0, 3, "../secret"), EINVAL);
	assert_int_equal(p9c_walk1(&x->c, 0, 3, "sub/../../secret"), EINVAL);
	assert_int_equal(p9c_walk1(&x->c, 0, 3, "."), EINVAL);
	/* A symlink the host planted to a directory outside: walking it
	 * gives the link itself; walking through it stops there (partial
	 * walk: one qid, no new fid), and opening it fails. */
	assert_int_equal(p9c_walk(&x->c, 0, 4, 2, two), 0);
	assert_int_equal(p9r_u16(&x->c.r), 1);
	assert_int_equal(p9c_clunk(&x->c, 4), EBADF);
	assert_int_equal(p9c_walk1(&x->c, 0, 4, "abs"), 0);
	assert_int_equal(p9c_getattr(&x->c, 4, &mode, &size), 0);
	assert_true(S_ISLNK(mode));
	assert_int_equal(p9c_lopen(&x->c, 4, O_RDONLY), ELOOP);
	assert_int_equal(p9c_walk1(&x->c, 0, 5, "secretlink"), 0);
	assert_int_equal(p9c_lopen(&x->c, 5, O_RDONLY), ELOOP);
	assert_int_equal(p9c_read(&x->c, 5, 0, 10, &data, &got), EBADF);
	assert_int_equal(p9c_walk1(&x->c, 0, 6, "rel"), 0);
	assert_int_equal(p9c_lopen(&x->c, 6, O_RDONLY | O_DIRECTORY), ENOTDIR);
	/* Creating through or renaming across the boundary. */
	assert_int_equal(p9c_lcreate(&x->c, 0, "../evil", O_RDWR, 0644), EINVAL);
	assert_int_equal(p9c_walk1(&x->c, 0, 7, "sub"), 0);
	w = p9c_begin(&x->c, P9_TRENAMEAT);
	p9w_u32(w, 0);
	p9w_str(w, "hello.txt");
	p9w_u32(w, 7);
	p9w_str(w, "../../stolen");
	assert_int_equal(p9c_call(&x->c), EINVAL);
	w = p9c_begin(&x->c, P9_TRENAMEAT);
	p9w_u32(w, 0);
	p9w_str(w, "hello.txt");
	p9w_u32(w, 0);
	p9w_str(w, "..");
	assert_int_equal(p9c_call(&x->c), EINVAL);
	/* A rename into the planted symlink "directory" cannot follow it. */
	w = p9c_begin(&x->c, P9_TRENAMEAT);
	p9w_u32(w, 0);
	p9w_str(w, "hello.txt");
	p9w_u32(w, 4);
	p9w_str(w, "stolen");
	assert_int_not_equal(p9c_call(&x->c), 0);
	snprintf(path, sizeof(path), "%s/stolen", x->outside);
	assert_true(lstat(path, &st) < 0);
	/* Setattr on the planted link never changes its target. */
	snprintf(path, sizeof(path), "%s/secret", x->outside);
	assert_int_equal(stat(path, &st), 0);
	w = p9c_begin(&x->c, P9_TSETATTR);
	p9w_u32(w, 5);
	p9w_u32(w, 0x1 | 0x8); /* mode, size */
	p9w_u32(w, 0777);
	p9w_u32(w, 0);
	p9w_u32(w, 0);
	p9w_u64(w, 0);
	for (int i = 0; i < 4; i++)
		p9w_u64(w, 0);
	(void)p9c_call(&x->c);
	assert_string_equal(slurp(path), "outside");
	{
		struct stat st2;

		assert_int_equal(stat(path, &st2), 0);
		assert_int_equal(st2.st_mode, st.st_mode);
	}
	/* A device node the host has in the share is never opened. */
	snprintf(path, sizeof(path), "%s/null", x->dir);
	if (mknod(path, S_IFCHR | 0666, makedev(1, 3)) == 0) {
		assert_int_equal(p9c_walk1(&x->c, 0, 8, "null"), 0);
		assert_int_equal(p9c_lopen(&x->c, 8, O_RDONLY), EPERM);
		assert_int_equal(p9c_lopen(&x->c, 8, O_WRONLY), EPERM);
	} else {
		print_message("not root: no device node to test opening (%s)\n", strerror(errno));
	}
	/* Device nodes are refused. */
	w = p9c_begin(&x->c, P9_TMKNOD);
	p9w_u32(w, 0);
	p9w_str(w, "disk");
	p9w_u32(w, S_IFBLK | 0600);
	p9w_u32(w, 8);
	p9w_u32(w, 0);
	p9w_u32(w, 0);
	assert_int_equal(p9c_call(&x->c), EPERM);
}

static void setattr(struct fx *x, uint32_t fid, uint32_t valid, uint32_t mode, uint64_t size,
		    uint64_t mtime)
{
	struct p9w *w = p9c_begin(&x->c, P9_TSETATTR);

	p9w_u32(w, fid);
	p9w_u32(w, valid);
	p9w_u32(w, mode);
	p9w_u32(w, 0);
	p9w_u32(w, 0);
	p9w_u64(w, size);
	p9w_u64(w, 0); /* atime */
	p9w_u64(w, 0);
	p9w_u64(w, mtime);
	p9w_u64(w, 0);
}

/* Tsetattr, Trename, Tlink, Tfsync, Tstatfs, Tlock/Tgetlock, xattrs. */
static void test_misc_ops(void **state)
{
	struct fx *x = *state;
	char path[PATH_MAX], path2[PATH_MAX];
	struct stat st;
	struct p9w *w;

	snprintf(path, sizeof(path), "%s/hello.txt", x->dir);
	assert_int_equal(p9c_walk1(&x->c, 0, 1, "hello.txt"), 0);
	/* mode 0600, size 5, mtime 1000000000 (MTIME | MTIME_SET) */
	setattr(x, 1, 0x1 | 0x8 | 0x20 | 0x100, 0600, 5, 1000000000);
	assert_int_equal(p9c_call(&x->c), 0);
	assert_int_equal(stat(path, &st), 0);
	assert_int_equal(st.st_mode & 07777, 0600);
	assert_int_equal(st.st_size, 5);
	assert_int_equal(st.st_mtime, 1000000000);
	/* Tlink sub/hard.txt -> hello.txt, Trename hello.txt to sub/moved.txt:
	 * the fid follows the file. */
	assert_int_equal(p9c_walk1(&x->c, 0, 2, "sub"), 0);
	w = p9c_begin(&x->c, P9_TLINK);
	p9w_u32(w, 2);
	p9w_u32(w, 1);
	p9w_str(w, "hard.txt");
	assert_int_equal(p9c_call(&x->c), 0);
	snprintf(path2, sizeof(path2), "%s/sub/hard.txt", x->dir);
	assert_int_equal(stat(path2, &st), 0);
	assert_int_equal(st.st_nlink, 2);
	w = p9c_begin(&x->c, P9_TRENAME);
	p9w_u32(w, 1);
	p9w_u32(w, 2);
	p9w_str(w, "moved.txt");
	assert_int_equal(p9c_call(&x->c), 0);
	assert_true(access(path, F_OK) < 0);
	assert_int_equal(p9c_lopen(&x->c, 1, O_RDONLY), 0);
	w = p9c_begin(&x->c, P9_TFSYNC);
	p9w_u32(w, 1);
	p9w_u32(w, 1);
	assert_int_equal(p9c_call(&x->c), 0);
	w = p9c_begin(&x->c, P9_TSTATFS);
	p9w_u32(w, 0);
	assert_int_equal(p9c_call(&x->c), 0);
	(void)p9r_u32(&x->c.r);
	assert_true(p9r_u32(&x->c.r) > 0); /* bsize */
	w = p9c_begin(&x->c, P9_TLOCK);
	p9w_u32(w, 1);
	p9w_u8(w, 1);
	p9w_u32(w, 0);
	p9w_u64(w, 0);
	p9w_u64(w, 0);
	p9w_u32(w, 42);
	p9w_str(w, "guest");
	assert_int_equal(p9c_call(&x->c), 0);
	assert_int_equal(p9r_u8(&x->c.r), 0);
	w = p9c_begin(&x->c, P9_TGETLOCK);
	p9w_u32(w, 1);
	p9w_u8(w, 1);
	p9w_u64(w, 0);
	p9w_u64(w, 10);
	p9w_u32(w, 42);
	p9w_str(w, "guest");
	assert_int_equal(p9c_call(&x->c), 0);
	assert_int_equal(p9r_u8(&x->c.r), 2); /* F_UNLCK: free */
	w = p9c_begin(&x->c, P9_TXATTRWALK);
	p9w_u32(w, 1);
	p9w_u32(w, 5);
	p9w_str(w, "user.x");
	assert_int_equal(p9c_call(&x->c), EOPNOTSUPP);
	/* An unopened fid reads nothing; a clunked one is gone. */
	assert_int_equal(p9c_clunk(&x->c, 1), 0);
	assert_int_equal(p9c_getattr(&x->c, 1, &(uint32_t){ 0 }, &(uint64_t){ 0 }), EBADF);
}

static void test_readonly(void **state)
{
	struct fx *x = *state;
	const uint8_t *data;
	struct p9w *w;
	uint32_t got;

	assert_int_equal(p9c_lcreate(&x->c, 0, "new", O_RDWR, 0644), EROFS);
	assert_int_equal(p9c_walk1(&x->c, 0, 1, "hello.txt"), 0);
	assert_int_equal(p9c_lopen(&x->c, 1, O_RDWR), EROFS);
	assert_int_equal(p9c_lopen(&x->c, 1, O_RDONLY | O_TRUNC), EROFS);
	assert_int_equal(p9c_lopen(&x->c, 1, O_RDONLY), 0);
	assert_int_equal(p9c_read(&x->c, 1, 0, 5, &data, &got), 0);
	assert_int_equal(got, 5);
	assert_int_equal(p9c_write(&x->c, 1, 0, "x", 1), EROFS);
	w = p9c_begin(&x->c, P9_TMKDIR);
	p9w_u32(w, 0);
	p9w_str(w, "d");
	p9w_u32(w, 0755);
	p9w_u32(w, 0);
	assert_int_equal(p9c_call(&x->c), EROFS);
	w = p9c_begin(&x->c, P9_TUNLINKAT);
	p9w_u32(w, 0);
	p9w_str(w, "hello.txt");
	p9w_u32(w, 0);
	assert_int_equal(p9c_call(&x->c), EROFS);
	w = p9c_begin(&x->c, P9_TREMOVE);
	p9w_u32(w, 1);
	assert_int_equal(p9c_call(&x->c), EROFS);
	w = p9c_begin(&x->c, P9_TSETATTR);
	p9w_u32(w, 0);
	p9w_u32(w, 1);
	for (int i = 0; i < 3; i++)
		p9w_u32(w, 0);
	for (int i = 0; i < 5; i++)
		p9w_u64(w, 0);
	assert_int_equal(p9c_call(&x->c), EROFS);
	{
		char path[PATH_MAX];

		snprintf(path, sizeof(path), "%s/hello.txt", x->dir);
		assert_string_equal(slurp(path), "hello, guest\n");
	}
}

/* Raw bytes in, the Rlerror errno out. */
static uint32_t raw(struct fx *x, const uint8_t *msg, size_t len)
{
	uint8_t resp[64];
	size_t n = p9_server_handle(x->s, msg, len, resp, sizeof(resp));
	uint8_t type;
	uint16_t tag;

	assert_int_equal(p9_parse_header(resp, n, &type, &tag), 0);
	if (type != P9_RLERROR)
		return 0;
	return (uint32_t)(resp[7] | resp[8] << 8 | resp[9] << 16 | (uint32_t)resp[10] << 24);
}

static void test_malformed(void **state)
{
	struct fx *x = *state;
	/* size says 9, 7 bytes given */
	const uint8_t short_size[] = { 9, 0, 0, 0, P9_TCLUNK, 1, 0 };
	/* Tclunk without its fid */
	const uint8_t no_fid[] = { 7, 0, 0, 0, P9_TCLUNK, 1, 0 };
	/* Twalk of 1 name whose string length runs past the end */
	const uint8_t long_str[] = { 19, 0, 0, 0, P9_TWALK, 1, 0, 0,	0,   0,
				     0,	 1, 0, 0, 0,	    1, 0, 0xff, 0x7f };
	/* Twalk of 17 names */
	const uint8_t many[] = { 17, 0, 0, 0, P9_TWALK, 1, 0, 0, 0, 0, 0, 1, 0, 0, 0, 17, 0 };
	const uint8_t unknown[] = { 7, 0, 0, 0, 99, 1, 0 };
	const uint8_t tiny[] = { 3, 0, 0 };
	/* a name with a NUL inside: "a\0b" */
	const uint8_t nul_name[] = { 20, 0, 0, 0, P9_TWALK, 1, 0, 0, 0, 0,
				     0,	 1, 0, 0, 0,	    1, 0, 3, 0, 'a' };
	struct p9_stats st0, st1;
	uint8_t out[8];

	p9_server_stats(x->s, &st0);
	assert_int_equal(raw(x, short_size, sizeof(short_size)), EPROTO);
	assert_int_equal(raw(x, no_fid, sizeof(no_fid)), EPROTO);
	assert_int_equal(raw(x, long_str, sizeof(long_str)), EPROTO);
	assert_int_equal(raw(x, many, sizeof(many)), EPROTO);
	assert_int_equal(raw(x, unknown, sizeof(unknown)), EOPNOTSUPP);
	assert_int_equal(raw(x, tiny, sizeof(tiny)), EPROTO);
	assert_int_equal(raw(x, nul_name, sizeof(nul_name)), EPROTO);
	p9_server_stats(x->s, &st1);
	assert_int_equal(st1.malformed - st0.malformed, 7);
	/* A reply buffer too small for anything: nothing written, counted. */
	assert_int_equal(p9_server_handle(x->s, unknown, sizeof(unknown), out, sizeof(out)), 0);
	p9_server_stats(x->s, &st0);
	assert_int_equal(st0.malformed - st1.malformed, 1);
}

static void test_fid_bound(void **state)
{
	struct fx *x = *state;
	uint32_t i;

	/* setup attached fid 0; max_fids is 4 */
	for (i = 1; i < 4; i++)
		assert_int_equal(p9c_walk(&x->c, 0, i, 0, NULL), 0);
	assert_int_equal(p9c_walk(&x->c, 0, 4, 0, NULL), ENFILE);
	assert_int_equal(p9c_walk(&x->c, 0, 1, 0, NULL), EEXIST);
	assert_int_equal(p9c_clunk(&x->c, 3), 0);
	assert_int_equal(p9c_walk(&x->c, 0, 4, 0, NULL), 0);
}

static int setup_fids(void **state)
{
	struct fx *x = calloc(1, sizeof(*x));

	*state = x;
	return fx_open(x, false, 4);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_version, setup, teardown),
		cmocka_unit_test_setup_teardown(test_read_write_create, setup, teardown),
		cmocka_unit_test_setup_teardown(test_readdir_symlink, setup, teardown),
		cmocka_unit_test_setup_teardown(test_escapes, setup, teardown),
		cmocka_unit_test_setup_teardown(test_misc_ops, setup, teardown),
		cmocka_unit_test_setup_teardown(test_readonly, setup_ro, teardown),
		cmocka_unit_test_setup_teardown(test_malformed, setup, teardown),
		cmocka_unit_test_setup_teardown(test_fid_bound, setup_fids, teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
