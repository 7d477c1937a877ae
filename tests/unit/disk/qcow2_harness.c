/* SPDX-License-Identifier: MIT */
/*
 * The qcow2 driver tests' harness: see qcow2_harness.h.
 */
#include <setjmp.h>
#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cmocka.h>

#include "tests/unit/disk/qcow2_harness.h"

int qh_setup(void **state)
{
	struct fx *f = calloc(1, sizeof(*f));
	const char *tmp = getenv("TMPDIR");

	if (!f)
		return -1;
	snprintf(f->dir, sizeof(f->dir), "%s/qcow2-XXXXXX", tmp ? tmp : "/tmp");
	if (!mkdtemp(f->dir))
		return -1;
	*state = f;
	return 0;
}

int qh_teardown(void **state)
{
	struct fx *f = *state;
	char cmd[300];

	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", f->dir);
	if (system(cmd) != 0)
		return -1;
	free(f);
	return 0;
}

char *qh_path(struct fx *f, const char *name)
{
	static __thread char p[8][400];
	static __thread int i;
	char *s = p[i++ % 8];

	snprintf(s, 400, "%s/%s", f->dir, name);
	return s;
}

uint64_t qh_fsize(const char *p)
{
	struct stat st;

	assert_int_equal(stat(p, &st), 0);
	return (uint64_t)st.st_size;
}

void qh_create(struct fx *f, const char *name, uint64_t size, unsigned int cbits,
	       const char *backing, const char *bfmt)
{
	struct qcow2_create_opts o = {
		.size = size, .cluster_bits = cbits, .backing_file = backing, .backing_format = bfmt
	};
	int ret = qcow2_create(qh_path(f, name), &o, f->err, sizeof(f->err));

	if (ret)
		print_error("create: %s\n", f->err);
	assert_int_equal(ret, 0);
}

struct disk *qh_open(struct fx *f, const char *name, bool ro)
{
	struct disk_open_opts o = { .readonly = ro, .engine = DISK_ENGINE_AUTO };
	struct disk *d = NULL;
	int ret = disk_open(qh_path(f, name), &o, &d, f->err, sizeof(f->err));

	if (ret)
		print_error("open: %s\n", f->err);
	assert_int_equal(ret, 0);
	return d;
}

void qh_fill(uint8_t *b, size_t n, unsigned int seed)
{
	for (size_t i = 0; i < n; i++)
		b[i] = (uint8_t)(seed * 31 + i * 7 + (i >> 9));
}

bool qh_all_bytes(const uint8_t *b, size_t n, uint8_t v)
{
	for (size_t i = 0; i < n; i++)
		if (b[i] != v)
			return false;
	return true;
}

bool qh_have_qemu_img(void)
{
	return system("qemu-img --version >/dev/null 2>&1") == 0;
}

int qh_sh(const char *fmt, ...)
{
	char cmd[2048];
	va_list ap;
	int st;

	va_start(ap, fmt);
	vsnprintf(cmd, sizeof(cmd), fmt, ap);
	va_end(ap);
	st = system(cmd);
	return WIFEXITED(st) ? WEXITSTATUS(st) : -1;
}

void qh_req_done(struct disk_req *req, int ret)
{
	struct inflight *c = req->opaque;

	c->done++;
	if (ret)
		c->err = ret;
}

int qh_zreq(struct disk *d, enum disk_op opc, uint64_t off, uint64_t len, bool unmap)
{
	struct inflight c = { 0 };
	struct disk_req req = { .op = opc,
				.offset = off,
				.len = len,
				.unmap = unmap,
				.done = qh_req_done,
				.opaque = &c };
	int ret = disk_submit(d, &req);

	if (ret)
		return ret;
	disk_drain(d);
	assert_int_equal(c.done, 1);
	return c.err;
}

void qh_probed_raw_refuses(struct fx *f, const uint8_t *hdr)
{
	struct disk *d;
	int fd = open(qh_path(f, "plain.raw"), O_RDWR | O_CREAT, 0644);

	assert_int_equal(ftruncate(fd, 4 * 1024 * 1024), 0);
	close(fd);
	assert_int_equal(disk_open(qh_path(f, "plain.raw"), NULL, &d, f->err, sizeof(f->err)), 0);
	assert_true(d->probed_raw);
	assert_int_equal(disk_pwrite(d, hdr, 512, 0), -EPERM);
	assert_int_equal(disk_pwrite(d, hdr, 512, 512), 0); /* elsewhere: only data */
	disk_close(d);
}
