/* SPDX-License-Identifier: MIT */
/*
 * The I/O engine, each kind (aio, threads, sync): reads and writes, more
 * requests than the depth, fdatasync, punch hole, zero range, end-of-file
 * zero fill, O_DIRECT bounce buffers, errors, and the rule that callbacks
 * run only from ioe_process, never inside ioe_submit.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <stdio.h>
#include <sys/stat.h>
#include <unistd.h>

#include "devices/disk/io_engine.h"

struct fx {
	enum disk_engine_kind kind;
	char dir[256];
	char path[300];
	int fd;
	struct io_engine *e;
	int ncalls; /* callbacks run */
	int nerr;   /* callbacks with res != 0 */
	int last_res;
};

struct tio {
	struct ioe_req r;
	struct fx *f;
};

static void tio_done(struct ioe_req *r, int res)
{
	struct fx *f = r->opaque;

	f->ncalls++;
	f->last_res = res;
	if (res)
		f->nerr++;
}

static int setup_kind(void **state, enum disk_engine_kind kind, unsigned int depth)
{
	struct fx *f = calloc(1, sizeof(*f));
	const char *tmp = getenv("TMPDIR");

	if (!f)
		return -1;
	f->kind = kind;
	snprintf(f->dir, sizeof(f->dir), "%s/ioe-XXXXXX", tmp ? tmp : "/tmp");
	if (!mkdtemp(f->dir))
		return -1;
	snprintf(f->path, sizeof(f->path), "%s/img", f->dir);
	f->fd = open(f->path, O_RDWR | O_CREAT | O_TRUNC, 0600);
	if (f->fd < 0)
		return -1;
	if (ioe_create(kind, depth, &f->e))
		return -1;
	*state = f;
	return 0;
}

static int setup_aio(void **state)
{
	return setup_kind(state, DISK_ENGINE_AIO, 8);
}
static int setup_threads(void **state)
{
	return setup_kind(state, DISK_ENGINE_THREADS, 8);
}
static int setup_sync(void **state)
{
	return setup_kind(state, DISK_ENGINE_SYNC, 8);
}

static int teardown(void **state)
{
	struct fx *f = *state;

	ioe_destroy(f->e);
	close(f->fd);
	unlink(f->path);
	rmdir(f->dir);
	free(f);
	return 0;
}

static void submit_ok(struct fx *f, struct ioe_req *r)
{
	int before = f->ncalls;

	r->done = tio_done;
	r->opaque = f;
	assert_int_equal(ioe_submit(f->e, r), 0);
	/* The contract: never a callback inside submit. */
	assert_int_equal(f->ncalls, before);
}

static void fill(void *buf, size_t len, unsigned int seed)
{
	unsigned char *b = buf;

	for (size_t i = 0; i < len; i++)
		b[i] = (unsigned char)(seed * 131 + i * 7 + (i >> 9));
}

static void test_kind(void **state)
{
	struct fx *f = *state;

	assert_int_equal(ioe_kind(f->e), f->kind);
	assert_true(ioe_event_fd(f->e) >= 0);
}

static void test_rw_iovecs(void **state)
{
	struct fx *f = *state;
	char a[1000], b[3096], ra[2048], rb[2048], check[4096];
	struct iovec wv[2] = { { a, sizeof(a) }, { b, sizeof(b) } };
	struct iovec rv[2] = { { ra, sizeof(ra) }, { rb, sizeof(rb) } };
	struct ioe_req w = { .op = IOE_WRITE, .fd = f->fd, .off = 8192, .iov = wv, .iovcnt = 2 };
	struct ioe_req r = { .op = IOE_READ, .fd = f->fd, .off = 8192, .iov = rv, .iovcnt = 2 };

	fill(a, sizeof(a), 1);
	fill(b, sizeof(b), 2);
	submit_ok(f, &w);
	assert_int_equal(ioe_inflight(f->e), 1);
	ioe_drain(f->e);
	assert_int_equal(f->ncalls, 1);
	assert_int_equal(f->last_res, 0);
	assert_int_equal(ioe_inflight(f->e), 0);

	/* What the file holds, read behind the engine's back. */
	assert_int_equal(pread(f->fd, check, sizeof(check), 8192), 4096);
	assert_memory_equal(check, a, sizeof(a));
	assert_memory_equal(check + sizeof(a), b, sizeof(b));

	submit_ok(f, &r);
	ioe_drain(f->e);
	assert_int_equal(f->ncalls, 2);
	assert_int_equal(f->last_res, 0);
	assert_memory_equal(ra, check, sizeof(ra));
	assert_memory_equal(rb, check + sizeof(ra), sizeof(rb));
}

#define MANY 100
#define BS   4096

static void test_many_inflight(void **state)
{
	struct fx *f = *state;
	struct ioe_req *rq = calloc(MANY, sizeof(*rq));
	struct iovec *iov = calloc(MANY, sizeof(*iov));
	char *bufs = malloc((size_t)MANY * BS), *check = malloc(BS);

	assert_non_null(rq);
	assert_non_null(iov);
	assert_non_null(bufs);
	assert_non_null(check);
	for (int i = 0; i < MANY; i++) {
		fill(bufs + (size_t)i * BS, BS, (unsigned int)i + 10);
		iov[i] = (struct iovec){ bufs + (size_t)i * BS, BS };
		/* reverse order: offsets need not be submitted sequentially */
		rq[i] = (struct ioe_req){ .op = IOE_WRITE,
					  .fd = f->fd,
					  .off = (uint64_t)(MANY - 1 - i) * BS,
					  .iov = &iov[i],
					  .iovcnt = 1 };
		submit_ok(f, &rq[i]);
	}
	/* depth is 8: the excess waits in the engine */
	assert_int_equal(ioe_inflight(f->e), MANY);
	ioe_drain(f->e);
	assert_int_equal(f->ncalls, MANY);
	assert_int_equal(f->nerr, 0);
	for (int i = 0; i < MANY; i++) {
		assert_int_equal(pread(f->fd, check, BS, (off_t)(MANY - 1 - i) * BS), BS);
		assert_memory_equal(check, bufs + (size_t)i * BS, BS);
	}

	/* and read them all back at once */
	memset(bufs, 0, (size_t)MANY * BS);
	for (int i = 0; i < MANY; i++) {
		rq[i].op = IOE_READ;
		rq[i].off = (uint64_t)i * BS;
		submit_ok(f, &rq[i]);
	}
	ioe_drain(f->e);
	assert_int_equal(f->ncalls, 2 * MANY);
	assert_int_equal(f->nerr, 0);
	for (int i = 0; i < MANY; i++) {
		assert_int_equal(pread(f->fd, check, BS, (off_t)i * BS), BS);
		assert_memory_equal(check, bufs + (size_t)i * BS, BS);
	}
	free(check);
	free(bufs);
	free(iov);
	free(rq);
}

static void test_eventfd_readable(void **state)
{
	struct fx *f = *state;
	char buf[512];
	struct iovec v = { buf, sizeof(buf) };
	struct ioe_req r = { .op = IOE_WRITE, .fd = f->fd, .off = 0, .iov = &v, .iovcnt = 1 };
	struct pollfd p = { .fd = ioe_event_fd(f->e), .events = POLLIN };
	int n = 0;

	memset(buf, 0x5a, sizeof(buf));
	submit_ok(f, &r);
	for (int tries = 0; tries < 100 && n == 0; tries++) {
		assert_int_equal(poll(&p, 1, 5000), 1);
		assert_true(p.revents & POLLIN);
		n += ioe_process(f->e);
	}
	assert_int_equal(n, 1);
	assert_int_equal(f->ncalls, 1);
	assert_int_equal(f->last_res, 0);
	/* processed: nothing pending, the eventfd is quiet again */
	assert_int_equal(ioe_process(f->e), 0);
	assert_int_equal(poll(&p, 1, 0), 0);
}

static void test_eof_zero_fill(void **state)
{
	struct fx *f = *state;
	char data[1000], buf[8192];
	struct iovec v = { buf, sizeof(buf) };
	struct ioe_req r = { .op = IOE_READ, .fd = f->fd, .off = 0, .iov = &v, .iovcnt = 1 };
	struct ioe_req past = {
		.op = IOE_READ, .fd = f->fd, .off = 1 << 20, .iov = &v, .iovcnt = 1
	};

	fill(data, sizeof(data), 3);
	assert_int_equal(pwrite(f->fd, data, sizeof(data), 0), (ssize_t)sizeof(data));
	memset(buf, 0xaa, sizeof(buf));
	submit_ok(f, &r);
	ioe_drain(f->e);
	assert_int_equal(f->last_res, 0);
	assert_memory_equal(buf, data, sizeof(data));
	for (size_t i = sizeof(data); i < sizeof(buf); i++)
		assert_int_equal(buf[i], 0);

	/* entirely past the end of the file: all zeros */
	memset(buf, 0xaa, sizeof(buf));
	submit_ok(f, &past);
	ioe_drain(f->e);
	assert_int_equal(f->last_res, 0);
	for (size_t i = 0; i < sizeof(buf); i++)
		assert_int_equal(buf[i], 0);
}

static uint64_t blocks(int fd)
{
	struct stat st;

	assert_int_equal(fstat(fd, &st), 0);
	return (uint64_t)st.st_blocks;
}

static void test_sync_punch_zero(void **state)
{
	struct fx *f = *state;
	size_t len = 1 << 20;
	char *buf = malloc(len), *back = malloc(len), *zero = calloc(1, len);
	struct ioe_req sync = { .op = IOE_FDATASYNC, .fd = f->fd };
	struct ioe_req punch = { .op = IOE_PUNCH_HOLE, .fd = f->fd, .off = 0, .len = len / 2 };
	struct ioe_req zr = { .op = IOE_ZERO_RANGE, .fd = f->fd, .off = len / 2, .len = 65536 };
	uint64_t before;

	assert_non_null(buf);
	assert_non_null(back);
	assert_non_null(zero);
	fill(buf, len, 4);
	assert_int_equal(pwrite(f->fd, buf, len, 0), (ssize_t)len);
	submit_ok(f, &sync);
	ioe_drain(f->e);
	assert_int_equal(f->last_res, 0);
	before = blocks(f->fd);
	assert_true(before >= len / 512);

	submit_ok(f, &punch);
	ioe_drain(f->e);
	assert_int_equal(f->last_res, 0);
	assert_true(blocks(f->fd) <= before - (len / 2) / 512);

	submit_ok(f, &zr);
	ioe_drain(f->e);
	assert_int_equal(f->last_res, 0);
	assert_int_equal(pread(f->fd, back, len, 0), (ssize_t)len);
	assert_memory_equal(back, zero, len / 2 + 65536);
	assert_memory_equal(back + len / 2 + 65536, buf + len / 2 + 65536, len / 2 - 65536);

	/* the file keeps its size (KEEP_SIZE; zero range inside the file) */
	{
		struct stat st;

		assert_int_equal(fstat(f->fd, &st), 0);
		assert_int_equal(st.st_size, (off_t)len);
	}
	free(zero);
	free(back);
	free(buf);
}

static void test_nop_and_empty(void **state)
{
	struct fx *f = *state;
	struct ioe_req nop = { .op = IOE_NOP };
	struct ioe_req empty = { .op = IOE_READ, .fd = f->fd, .iovcnt = 0 };

	submit_ok(f, &nop);
	submit_ok(f, &empty);
	assert_int_equal(f->ncalls, 0);
	ioe_drain(f->e);
	assert_int_equal(f->ncalls, 2);
	assert_int_equal(f->nerr, 0);
}

static void test_errors(void **state)
{
	struct fx *f = *state;
	char buf[512];
	struct iovec v = { buf, sizeof(buf) };
	struct ioe_req badfd = { .op = IOE_READ, .fd = 1000, .iov = &v, .iovcnt = 1 };
	struct ioe_req rq = {
		.op = IOE_READ, .fd = f->fd, .iov = &v, .iovcnt = -1, .done = tio_done, .opaque = f
	};
	int rofd = open(f->path, O_RDONLY);
	struct ioe_req rowrite = { .op = IOE_WRITE, .fd = rofd, .iov = &v, .iovcnt = 1 };

	/* rejected outright: no callback */
	assert_int_equal(ioe_submit(f->e, &rq), -EINVAL);
	rq.iovcnt = IOE_MAX_IOV + 1;
	assert_int_equal(ioe_submit(f->e, &rq), -EINVAL);
	rq.op = (enum ioe_op)99;
	rq.iovcnt = 1;
	assert_int_equal(ioe_submit(f->e, &rq), -EINVAL);
	assert_int_equal(ioe_inflight(f->e), 0);

	/* failed I/O: reported through the callback */
	submit_ok(f, &badfd);
	ioe_drain(f->e);
	assert_int_equal(f->last_res, -EBADF);
	assert_true(rofd >= 0);
	submit_ok(f, &rowrite);
	ioe_drain(f->e);
	assert_int_equal(f->last_res, -EBADF);
	assert_int_equal(f->ncalls, 2);
	close(rofd);
}

/* O_DIRECT: unaligned memory goes through a bounce buffer; an unaligned
 * offset is refused. */
static void test_direct_bounce(void **state)
{
	struct fx *f = *state;
	int dfd = open(f->path, O_RDWR | O_DIRECT);
	char *raw = malloc(8192 + 1), *buf = raw + 1, *back = malloc(4096 + 3);
	char check[4096];
	struct iovec wv = { buf, 4096 }, rv[2] = { { back + 3, 1536 }, { back + 3 + 1536, 2560 } };
	struct ioe_req w = {
		.op = IOE_WRITE, .fd = dfd, .off = 4096, .iov = &wv, .iovcnt = 1, .align = 512
	};
	struct ioe_req r = {
		.op = IOE_READ, .fd = dfd, .off = 4096, .iov = rv, .iovcnt = 2, .align = 512
	};
	struct ioe_req bad = { .op = IOE_READ,
			       .fd = dfd,
			       .off = 100,
			       .iov = rv,
			       .iovcnt = 1,
			       .align = 512,
			       .done = tio_done,
			       .opaque = f };

	if (dfd < 0) {
		/* tmpfs before Linux 6.6 has no O_DIRECT */
		free(raw);
		free(back);
		skip();
	}
	assert_non_null(raw);
	assert_non_null(back);
	fill(buf, 4096, 5);
	submit_ok(f, &w);
	ioe_drain(f->e);
	assert_int_equal(f->last_res, 0);
	assert_int_equal(pread(f->fd, check, 4096, 4096), 4096);
	assert_memory_equal(check, buf, 4096);

	submit_ok(f, &r);
	ioe_drain(f->e);
	assert_int_equal(f->last_res, 0);
	assert_memory_equal(back + 3, buf, 4096);

	assert_int_equal(ioe_submit(f->e, &bad), -EINVAL);
	close(dfd);
	free(back);
	free(raw);
}

#define KIND_TESTS(setup)                                                                \
	cmocka_unit_test_setup_teardown(test_kind, setup, teardown),                     \
		cmocka_unit_test_setup_teardown(test_rw_iovecs, setup, teardown),        \
		cmocka_unit_test_setup_teardown(test_many_inflight, setup, teardown),    \
		cmocka_unit_test_setup_teardown(test_eventfd_readable, setup, teardown), \
		cmocka_unit_test_setup_teardown(test_eof_zero_fill, setup, teardown),    \
		cmocka_unit_test_setup_teardown(test_sync_punch_zero, setup, teardown),  \
		cmocka_unit_test_setup_teardown(test_nop_and_empty, setup, teardown),    \
		cmocka_unit_test_setup_teardown(test_errors, setup, teardown),           \
		cmocka_unit_test_setup_teardown(test_direct_bounce, setup, teardown)

int main(void)
{
	const struct CMUnitTest aio[] = { KIND_TESTS(setup_aio) };
	const struct CMUnitTest threads[] = { KIND_TESTS(setup_threads) };
	const struct CMUnitTest sync[] = { KIND_TESTS(setup_sync) };
	int fails = 0;

	fails += cmocka_run_group_tests_name("io_engine aio", aio, NULL, NULL);
	fails += cmocka_run_group_tests_name("io_engine threads", threads, NULL, NULL);
	fails += cmocka_run_group_tests_name("io_engine sync", sync, NULL, NULL);
	return fails;
}
