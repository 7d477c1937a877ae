/* SPDX-License-Identifier: MIT */
/*
 * The raw driver through the public API: asynchronous requests (callbacks
 * only from disk_process), scatter-gather, sparse files, DISCARD punching
 * holes, WRITE_ZEROES with and without unmap, FLUSH, on every engine kind.
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

#include "devices/disk/disk.h"
#include "devices/disk/io_engine.h"

#define IMG_SIZE (4u << 20)

struct fx {
	enum disk_engine_kind kind;
	char dir[256];
	char img[300];
	char err[256];
	struct disk *d;
	int ncalls, nerr, last_ret;
};

static void req_done(struct disk_req *req, int ret)
{
	struct fx *f = req->opaque;

	f->ncalls++;
	f->last_ret = ret;
	if (ret)
		f->nerr++;
}

static int setup_kind(void **state, enum disk_engine_kind kind)
{
	struct fx *f = calloc(1, sizeof(*f));
	const char *tmp = getenv("TMPDIR");
	struct disk_open_opts o = { .engine = kind, .queue_depth = 16 };
	int fd;

	if (!f)
		return -1;
	f->kind = kind;
	snprintf(f->dir, sizeof(f->dir), "%s/raw-XXXXXX", tmp ? tmp : "/tmp");
	if (!mkdtemp(f->dir))
		return -1;
	snprintf(f->img, sizeof(f->img), "%s/raw.img", f->dir);
	/* sparse: no blocks allocated yet */
	fd = open(f->img, O_RDWR | O_CREAT | O_TRUNC, 0600);
	if (fd < 0 || ftruncate(fd, IMG_SIZE) < 0)
		return -1;
	close(fd);
	if (disk_open(f->img, &o, &f->d, f->err, sizeof(f->err)))
		return -1;
	*state = f;
	return 0;
}

static int setup_aio(void **state)
{
	return setup_kind(state, DISK_ENGINE_AIO);
}
static int setup_threads(void **state)
{
	return setup_kind(state, DISK_ENGINE_THREADS);
}
static int setup_sync(void **state)
{
	return setup_kind(state, DISK_ENGINE_SYNC);
}

static int teardown(void **state)
{
	struct fx *f = *state;

	disk_close(f->d);
	unlink(f->img);
	rmdir(f->dir);
	free(f);
	return 0;
}

static void submit_ok(struct fx *f, struct disk_req *r)
{
	int before = f->ncalls;

	r->done = req_done;
	r->opaque = f;
	assert_int_equal(disk_submit(f->d, r), 0);
	assert_int_equal(f->ncalls, before); /* never inside submit */
}

/* Wait the way the event loop does: poll the eventfd, then process. */
static void wait_for(struct fx *f, int ncalls)
{
	struct pollfd p = { .fd = disk_event_fd(f->d), .events = POLLIN };

	while (f->ncalls < ncalls) {
		assert_int_equal(poll(&p, 1, 10000), 1);
		disk_process(f->d);
	}
	assert_int_equal(f->ncalls, ncalls);
}

static uint64_t file_blocks(const char *path)
{
	struct stat st;

	assert_int_equal(stat(path, &st), 0);
	return (uint64_t)st.st_blocks;
}

static void fill(void *buf, size_t len, unsigned int seed)
{
	unsigned char *b = buf;

	for (size_t i = 0; i < len; i++)
		b[i] = (unsigned char)(seed + i * 13 + (i >> 12));
}

static void test_sparse_reads_zero(void **state)
{
	struct fx *f = *state;
	char *buf = malloc(65536), zero[65536] = { 0 };

	assert_non_null(buf);
	assert_string_equal(f->d->format, "raw");
	assert_int_equal(f->d->size, IMG_SIZE);
	assert_true(f->d->can_discard);
	memset(buf, 0xee, 65536);
	assert_int_equal(disk_pread(f->d, buf, 65536, IMG_SIZE - 65536), 0);
	assert_memory_equal(buf, zero, sizeof(zero));
	free(buf);
}

static void test_scatter_gather(void **state)
{
	struct fx *f = *state;
	char a[512], b[1536], c[2048], back[4096];
	struct iovec wv[3] = { { a, sizeof(a) }, { b, sizeof(b) }, { c, sizeof(c) } };
	struct disk_req w = {
		.op = DISK_WRITE, .offset = 1 << 20, .len = 4096, .iov = wv, .iovcnt = 3
	};
	struct iovec rv[3] = { { back + 3072, 1024 }, { back, 2048 }, { back + 2048, 1024 } };
	struct disk_req r = {
		.op = DISK_READ, .offset = 1 << 20, .len = 4096, .iov = rv, .iovcnt = 3
	};

	fill(a, sizeof(a), 1);
	fill(b, sizeof(b), 2);
	fill(c, sizeof(c), 3);
	submit_ok(f, &w);
	wait_for(f, 1);
	assert_int_equal(f->last_ret, 0);
	submit_ok(f, &r);
	wait_for(f, 2);
	assert_int_equal(f->last_ret, 0);
	/* the read's iovecs are in a different order than the write's */
	assert_memory_equal(back + 3072, a, 512);
	assert_memory_equal(back + 3072 + 512, b, 512);
	assert_memory_equal(back, b + 512, 1024);
	assert_memory_equal(back + 1024, c, 1024);
	assert_memory_equal(back + 2048, c + 1024, 1024);
}

#define NREQ 64

static void test_many_requests(void **state)
{
	struct fx *f = *state;
	struct disk_req *rq = calloc(NREQ, sizeof(*rq));
	struct iovec *iov = calloc(NREQ, sizeof(*iov));
	char *data = malloc((size_t)NREQ * 8192), *back = malloc(8192);

	assert_non_null(rq);
	assert_non_null(iov);
	assert_non_null(data);
	assert_non_null(back);
	/* more than the queue depth (16) in flight, then one flush */
	for (int i = 0; i < NREQ; i++) {
		fill(data + (size_t)i * 8192, 8192, (unsigned int)i);
		iov[i] = (struct iovec){ data + (size_t)i * 8192, 8192 };
		rq[i] = (struct disk_req){ .op = DISK_WRITE,
					   .offset = (uint64_t)i * 8192 * 3,
					   .len = 8192,
					   .iov = &iov[i],
					   .iovcnt = 1 };
		submit_ok(f, &rq[i]);
	}
	wait_for(f, NREQ);
	assert_int_equal(f->nerr, 0);
	assert_int_equal(disk_flush(f->d), 0);
	for (int i = 0; i < NREQ; i++) {
		assert_int_equal(disk_pread(f->d, back, 8192, (uint64_t)i * 8192 * 3), 0);
		assert_memory_equal(back, data + (size_t)i * 8192, 8192);
	}
	free(back);
	free(data);
	free(iov);
	free(rq);
}

static void test_discard(void **state)
{
	struct fx *f = *state;
	size_t len = 1 << 20;
	char *buf = malloc(len), *zero = calloc(1, len);
	struct disk_req dc = { .op = DISK_DISCARD, .offset = 0, .len = len };
	uint64_t before, after;

	assert_non_null(buf);
	assert_non_null(zero);
	fill(buf, len, 9);
	assert_int_equal(disk_pwrite(f->d, buf, len, 0), 0);
	assert_int_equal(disk_flush(f->d), 0);
	before = file_blocks(f->img);
	assert_true(before >= len / 512);

	submit_ok(f, &dc);
	wait_for(f, 1);
	assert_int_equal(f->last_ret, 0);
	after = file_blocks(f->img);
	/* the whole megabyte went back to the file system */
	assert_true(after + len / 512 <= before);
	assert_int_equal(disk_pread(f->d, buf, len, 0), 0);
	assert_memory_equal(buf, zero, len);
	free(zero);
	free(buf);
}

static void test_write_zeroes(void **state)
{
	struct fx *f = *state;
	size_t len = 256 << 10;
	char *buf = malloc(len), *zero = calloc(1, len);
	struct disk_req keep = { .op = DISK_WRITE_ZEROES, .offset = 0, .len = len };
	struct disk_req unmap = {
		.op = DISK_WRITE_ZEROES, .offset = len, .len = len, .unmap = true
	};
	uint64_t before, mid;

	assert_non_null(buf);
	assert_non_null(zero);
	fill(buf, len, 5);
	assert_int_equal(disk_pwrite(f->d, buf, len, 0), 0);
	assert_int_equal(disk_pwrite(f->d, buf, len, len), 0);
	assert_int_equal(disk_pwrite(f->d, buf, len, 2 * len), 0);
	assert_int_equal(disk_flush(f->d), 0);
	before = file_blocks(f->img);

	/* without unmap: zeros, blocks stay allocated (ZERO_RANGE keeps
	 * unwritten extents on ext4/xfs) */
	submit_ok(f, &keep);
	wait_for(f, 1);
	assert_int_equal(f->last_ret, 0);
	mid = file_blocks(f->img);
	assert_int_equal(mid, before);

	/* with unmap: zeros and the space is freed */
	submit_ok(f, &unmap);
	wait_for(f, 2);
	assert_int_equal(f->last_ret, 0);
	assert_true(file_blocks(f->img) + len / 512 <= mid);

	assert_int_equal(disk_pread(f->d, buf, len, 0), 0);
	assert_memory_equal(buf, zero, len);
	assert_int_equal(disk_pread(f->d, buf, len, len), 0);
	assert_memory_equal(buf, zero, len);
	/* the neighbour is untouched */
	assert_int_equal(disk_pread(f->d, buf, len, 2 * len), 0);
	{
		char *want = malloc(len);

		assert_non_null(want);
		fill(want, len, 5);
		assert_memory_equal(buf, want, len);
		free(want);
	}
	free(zero);
	free(buf);
}

static void test_zero_length(void **state)
{
	struct fx *f = *state;
	struct disk_req dc = { .op = DISK_DISCARD, .offset = 4096, .len = 0 };
	struct disk_req wz = { .op = DISK_WRITE_ZEROES, .offset = IMG_SIZE, .len = 0 };
	struct disk_req rd = { .op = DISK_READ, .offset = 0, .len = 0, .iovcnt = 0 };

	submit_ok(f, &dc);
	submit_ok(f, &wz);
	submit_ok(f, &rd);
	wait_for(f, 3);
	assert_int_equal(f->nerr, 0);
}

/* Closing with requests in flight completes them first. */
static void test_close_in_flight(void **state)
{
	struct fx *f = *state;
	char buf[4096];
	struct iovec v = { buf, sizeof(buf) };
	struct disk_req w[4];

	memset(buf, 1, sizeof(buf));
	for (int i = 0; i < 4; i++) {
		w[i] = (struct disk_req){ .op = DISK_WRITE,
					  .offset = (uint64_t)i * 4096,
					  .len = 4096,
					  .iov = &v,
					  .iovcnt = 1 };
		submit_ok(f, &w[i]);
	}
	disk_close(f->d);
	f->d = NULL;
	assert_int_equal(f->ncalls, 4);
	assert_int_equal(f->nerr, 0);
	/* reopen for teardown */
	assert_int_equal(disk_open(f->img, NULL, &f->d, f->err, sizeof(f->err)), 0);
	assert_int_equal(disk_pread(f->d, buf, 4096, 3 * 4096), 0);
	assert_int_equal(buf[4095], 1);
}

/*
 * A raw image opened without format= stays raw: a guest write that puts a
 * qcow2 header in sector 0 is refused (it would otherwise hand the guest
 * any host file as its backing file on the next start). A write elsewhere,
 * or of other bytes, goes through; and what is written is the copy that
 * was checked, whatever the buffer holds by the time the I/O runs.
 */
static void test_probed_raw_stays_raw(void **state)
{
	static const uint8_t magic[4] = { 'Q', 'F', 'I', 0xfb };
	struct fx *f = *state;
	uint8_t a[512], a0[512], b[3584], back[4096];
	struct iovec wv[2] = { { a, sizeof(a) }, { b, sizeof(b) } };
	struct disk_req w = { .op = DISK_WRITE, .offset = 0, .len = 4096, .iov = wv, .iovcnt = 2 };
	struct disk_open_opts o = { .engine = f->kind, .format = "raw" };

	assert_true(f->d->probed_raw);
	fill(a, sizeof(a), 7);
	fill(b, sizeof(b), 8);
	memcpy(a, magic, sizeof(magic));
	w.done = req_done;
	w.opaque = f;
	assert_int_equal(disk_submit(f->d, &w), -EPERM);
	assert_int_equal(f->ncalls, 0);
	assert_int_equal(disk_pread(f->d, back, 4096, 0), 0);
	assert_int_equal(back[0], 0);

	/* the same header one sector further on is only data */
	w.offset = 4096;
	submit_ok(f, &w);
	wait_for(f, 1);
	assert_int_equal(f->last_ret, 0);

	/* other bytes at sector 0: written, and from the checked copy, even if
	 * the guest turns them into a header right after the check */
	a[0] = 'X';
	memcpy(a0, a, sizeof(a));
	w.offset = 0;
	submit_ok(f, &w);
	memcpy(a, magic, sizeof(magic));
	wait_for(f, 2);
	assert_int_equal(f->last_ret, 0);
	assert_ptr_equal(w.iov, wv); /* the request is the caller's again */
	assert_int_equal(w.iovcnt, 2);
	assert_int_equal(disk_pread(f->d, back, 4096, 0), 0);
	assert_memory_equal(back, a0, sizeof(a0));
	assert_memory_equal(back + 512, b, sizeof(b));

	/* asked for as raw: the guest may write what it likes */
	disk_close(f->d);
	f->d = NULL;
	assert_int_equal(disk_open(f->img, &o, &f->d, f->err, sizeof(f->err)), 0);
	assert_false(f->d->probed_raw);
	submit_ok(f, &w);
	wait_for(f, 3);
	assert_int_equal(f->last_ret, 0);
	assert_int_equal(disk_pread(f->d, back, 4096, 0), 0);
	assert_memory_equal(back, magic, sizeof(magic));
}

#define KIND_TESTS(s)                                                               \
	cmocka_unit_test_setup_teardown(test_sparse_reads_zero, s, teardown),       \
		cmocka_unit_test_setup_teardown(test_scatter_gather, s, teardown),  \
		cmocka_unit_test_setup_teardown(test_many_requests, s, teardown),   \
		cmocka_unit_test_setup_teardown(test_discard, s, teardown),         \
		cmocka_unit_test_setup_teardown(test_write_zeroes, s, teardown),    \
		cmocka_unit_test_setup_teardown(test_zero_length, s, teardown),     \
		cmocka_unit_test_setup_teardown(test_close_in_flight, s, teardown), \
		cmocka_unit_test_setup_teardown(test_probed_raw_stays_raw, s, teardown)

int main(void)
{
	const struct CMUnitTest aio[] = { KIND_TESTS(setup_aio) };
	const struct CMUnitTest threads[] = { KIND_TESTS(setup_threads) };
	const struct CMUnitTest sync[] = { KIND_TESTS(setup_sync) };
	int fails = 0;

	fails += cmocka_run_group_tests_name("raw aio", aio, NULL, NULL);
	fails += cmocka_run_group_tests_name("raw threads", threads, NULL, NULL);
	fails += cmocka_run_group_tests_name("raw sync", sync, NULL, NULL);
	return fails;
}
