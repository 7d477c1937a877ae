/* SPDX-License-Identifier: MIT */
/*
 * disk_open and the format-independent checks of disk_submit: open errors
 * (each a one-line message naming the file), format probing, the advisory
 * lock, read-only, range checks, O_DIRECT where the file system refuses it.
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
#include <stdio.h>
#include <sys/stat.h>
#include <unistd.h>

#include "devices/disk/disk.h"
#include "devices/disk/disk_priv.h"
#include "devices/disk/format.h"
#include "devices/disk/io_engine.h"

struct fx {
	char dir[256];
	char img[300];
	char err[256];
};

static int setup(void **state)
{
	struct fx *f = calloc(1, sizeof(*f));
	const char *tmp = getenv("TMPDIR");
	int fd;

	if (!f)
		return -1;
	snprintf(f->dir, sizeof(f->dir), "%s/disk-XXXXXX", tmp ? tmp : "/tmp");
	if (!mkdtemp(f->dir))
		return -1;
	snprintf(f->img, sizeof(f->img), "%s/disk.img", f->dir);
	fd = open(f->img, O_RDWR | O_CREAT | O_TRUNC, 0600);
	if (fd < 0 || ftruncate(fd, 1 << 20) < 0)
		return -1;
	close(fd);
	*state = f;
	return 0;
}

static int teardown(void **state)
{
	struct fx *f = *state;
	char cmd[400];

	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", f->dir);
	if (system(cmd) != 0)
		return -1;
	free(f);
	return 0;
}

static void make_file(const char *path, const void *data, size_t len, off_t size)
{
	int fd = open(path, O_RDWR | O_CREAT | O_TRUNC, 0600);

	assert_true(fd >= 0);
	if (len)
		assert_int_equal(pwrite(fd, data, len, 0), (ssize_t)len);
	assert_int_equal(ftruncate(fd, size), 0);
	close(fd);
}

static void test_open_raw(void **state)
{
	struct fx *f = *state;
	struct disk *d = NULL;

	assert_int_equal(disk_open(f->img, NULL, &d, f->err, sizeof(f->err)), 0);
	assert_string_equal(d->format, "raw");
	assert_int_equal(d->size, 1 << 20);
	assert_false(d->readonly);
	assert_int_equal(d->alignment, 512);
	assert_true(disk_event_fd(d) >= 0);
	disk_close(d);
}

static void test_open_missing(void **state)
{
	struct fx *f = *state;
	struct disk *d = NULL;
	char path[320];

	snprintf(path, sizeof(path), "%s/nope.img", f->dir);
	assert_int_equal(disk_open(path, NULL, &d, f->err, sizeof(f->err)), -ENOENT);
	assert_non_null(strstr(f->err, "nope.img"));
	assert_non_null(strstr(f->err, "No such file"));
	assert_null(strchr(f->err, '\n'));
}

static void test_open_directory(void **state)
{
	struct fx *f = *state;
	struct disk *d = NULL;
	struct disk_open_opts ro = { .readonly = true };

	/* O_RDWR on a directory fails in open() with EISDIR; read-only opens
	 * it and the file-type check must refuse it. */
	assert_int_equal(disk_open(f->dir, NULL, &d, f->err, sizeof(f->err)), -EISDIR);
	assert_non_null(strstr(f->err, f->dir));
	assert_int_equal(disk_open(f->dir, &ro, &d, f->err, sizeof(f->err)), -EINVAL);
	assert_non_null(strstr(f->err, "not a regular file or block device"));
}

static void test_open_char_device(void **state)
{
	struct fx *f = *state;
	struct disk *d = NULL;

	assert_int_equal(disk_open("/dev/null", NULL, &d, f->err, sizeof(f->err)), -EINVAL);
	assert_string_equal(f->err, "/dev/null: not a regular file or block device");
}

static void test_open_empty_and_odd_size(void **state)
{
	struct fx *f = *state;
	struct disk *d = NULL;
	char path[320];

	snprintf(path, sizeof(path), "%s/empty.img", f->dir);
	make_file(path, NULL, 0, 0);
	assert_int_equal(disk_open(path, NULL, &d, f->err, sizeof(f->err)), -EINVAL);
	assert_non_null(strstr(f->err, "empty.img: empty image"));

	/* under one sector: rounds down to nothing */
	make_file(path, NULL, 0, 100);
	assert_int_equal(disk_open(path, NULL, &d, f->err, sizeof(f->err)), -EINVAL);

	/* not a multiple of 512: rounded down (with a warning) */
	make_file(path, NULL, 0, 4096 + 100);
	assert_int_equal(disk_open(path, NULL, &d, f->err, sizeof(f->err)), 0);
	assert_int_equal(d->size, 4096);
	disk_close(d);
}

static void test_probe_format(void **state)
{
	struct fx *f = *state;
	static const unsigned char magic[4] = { 'Q', 'F', 'I', 0xfb };
	struct disk *d = NULL;
	struct disk_open_opts raw = { .format = "raw" };
	struct disk_open_opts qcow = { .format = "qcow2" };
	struct disk_open_opts bogus = { .format = "vmdk2" };
	char path[320];
	int fd;

	snprintf(path, sizeof(path), "%s/q.img", f->dir);
	make_file(path, magic, sizeof(magic), 65536);
	fd = open(path, O_RDONLY);
	assert_true(fd >= 0);
	assert_string_equal(disk_probe_format(fd), "qcow2");
	close(fd);
	fd = open(f->img, O_RDONLY);
	assert_true(fd >= 0);
	assert_string_equal(disk_probe_format(fd), "raw");
	close(fd);
	/* a read error */
	assert_null(disk_probe_format(-1));
	assert_int_equal(errno, EBADF);

	/* a qcow2 file explicitly opened as raw: allowed, shows the bytes */
	assert_int_equal(disk_open(path, &raw, &d, f->err, sizeof(f->err)), 0);
	assert_string_equal(d->format, "raw");
	{
		unsigned char buf[512];

		assert_int_equal(disk_pread(d, buf, sizeof(buf), 0), 0);
		assert_memory_equal(buf, magic, sizeof(magic));
	}
	disk_close(d);

	/* a raw file opened as qcow2 */
	assert_int_equal(disk_open(f->img, &qcow, &d, f->err, sizeof(f->err)), -EINVAL);
	assert_non_null(strstr(f->err, "not a qcow2 image"));
	assert_int_equal(disk_open(f->img, &bogus, &d, f->err, sizeof(f->err)), -EINVAL);
	assert_non_null(strstr(f->err, "unknown image format 'vmdk2'"));
}

/* vmm-img check's probe: disk_open's rule, without opening the image. */
static void test_probe_file(void **state)
{
	struct fx *f = *state;
	static const unsigned char magic[4] = { 'Q', 'F', 'I', 0xfb };
	const struct disk_format *fmt = NULL;
	struct disk *d = NULL;
	char path[320];

	snprintf(path, sizeof(path), "%s/q.img", f->dir);
	make_file(path, magic, sizeof(magic), 65536);
	assert_int_equal(disk_probe_file(path, NULL, &fmt, f->err, sizeof(f->err)), 0);
	assert_string_equal(fmt->name, "qcow2");
	assert_int_equal(disk_probe_file(f->img, NULL, &fmt, f->err, sizeof(f->err)), 0);
	assert_string_equal(fmt->name, "raw");
	/* asked for: raw over any bytes; a format over raw bytes (the driver
	 * decides: a fixed VHD's footer is at the end) */
	assert_int_equal(disk_probe_file(path, "raw", &fmt, f->err, sizeof(f->err)), 0);
	assert_string_equal(fmt->name, "raw");
	assert_int_equal(disk_probe_file(f->img, "vhd", &fmt, f->err, sizeof(f->err)), 0);
	assert_string_equal(fmt->name, "vpc");
	/* but not one format's bytes as another's */
	assert_int_equal(disk_probe_file(path, "vpc", &fmt, f->err, sizeof(f->err)), -EINVAL);
	assert_non_null(strstr(f->err, "q.img: not a vpc image (it looks like qcow2)"));
	assert_int_equal(disk_probe_file(path, "vmdk2", &fmt, f->err, sizeof(f->err)), -EINVAL);
	assert_non_null(strstr(f->err, "unknown image format 'vmdk2'"));
	assert_int_equal(disk_probe_file(f->dir, NULL, &fmt, f->err, sizeof(f->err)), -EINVAL);
	assert_non_null(strstr(f->err, "not a regular file or block device"));
	snprintf(path, sizeof(path), "%s/nope.img", f->dir);
	assert_int_equal(disk_probe_file(path, NULL, &fmt, f->err, sizeof(f->err)), -ENOENT);
	/* no lock taken: an image another user holds for writing still probes */
	assert_int_equal(disk_open(f->img, NULL, &d, f->err, sizeof(f->err)), 0);
	assert_int_equal(disk_probe_file(f->img, NULL, &fmt, f->err, sizeof(f->err)), 0);
	disk_close(d);
}

static void test_lock(void **state)
{
	struct fx *f = *state;
	struct disk *a = NULL, *b = NULL, *c = NULL;
	struct disk_open_opts ro = { .readonly = true };

	assert_int_equal(disk_open(f->img, NULL, &a, f->err, sizeof(f->err)), 0);
	/* a second writer, and a reader next to a writer: refused */
	assert_int_equal(disk_open(f->img, NULL, &b, f->err, sizeof(f->err)), -EBUSY);
	assert_non_null(strstr(f->err, "disk.img: image is in use by another process"));
	assert_int_equal(disk_open(f->img, &ro, &b, f->err, sizeof(f->err)), -EBUSY);
	disk_close(a);

	/* readers share */
	assert_int_equal(disk_open(f->img, &ro, &b, f->err, sizeof(f->err)), 0);
	assert_int_equal(disk_open(f->img, &ro, &c, f->err, sizeof(f->err)), 0);
	assert_int_equal(disk_open(f->img, NULL, &a, f->err, sizeof(f->err)), -EBUSY);
	disk_close(b);
	disk_close(c);
	/* closing released the locks */
	assert_int_equal(disk_open(f->img, NULL, &a, f->err, sizeof(f->err)), 0);
	disk_close(a);
}

static void test_readonly(void **state)
{
	struct fx *f = *state;
	struct disk *d = NULL;
	struct disk_open_opts ro = { .readonly = true };
	char buf[512] = { 0 };
	struct disk_req dz = { .op = DISK_DISCARD, .offset = 0, .len = 512 };
	struct disk_req wz = { .op = DISK_WRITE_ZEROES, .offset = 0, .len = 512 };

	assert_int_equal(disk_open(f->img, &ro, &d, f->err, sizeof(f->err)), 0);
	assert_true(d->readonly);
	assert_int_equal(disk_pwrite(d, buf, sizeof(buf), 0), -EROFS);
	assert_int_equal(disk_submit(d, &wz), -EROFS);
	assert_int_equal(disk_submit(d, &dz), -EOPNOTSUPP);
	assert_int_equal(disk_pread(d, buf, sizeof(buf), 0), 0);
	assert_int_equal(disk_flush(d), 0);
	disk_close(d);

	/* No write permission: only testable when not root (root bypasses
	 * the mode bits). */
	if (geteuid() != 0) {
		assert_int_equal(chmod(f->img, 0400), 0);
		assert_int_equal(disk_open(f->img, NULL, &d, f->err, sizeof(f->err)), -EACCES);
		assert_non_null(strstr(f->err, "Permission denied"));
	}
}

static void test_range(void **state)
{
	struct fx *f = *state;
	struct disk *d = NULL;
	char buf[1024] = { 0 };
	struct iovec v = { buf, 512 };
	struct disk_req r = { .op = DISK_READ, .iov = &v, .iovcnt = 1, .len = 512 };

	assert_int_equal(disk_open(f->img, NULL, &d, f->err, sizeof(f->err)), 0);
	/* the last sector is fine, one past it is not */
	assert_int_equal(disk_pread(d, buf, 512, d->size - 512), 0);
	assert_int_equal(disk_pread(d, buf, 512, d->size), -EINVAL);
	assert_int_equal(disk_pread(d, buf, 1024, d->size - 512), -EINVAL);
	/* offset + len wraps around */
	r.offset = UINT64_MAX - 511;
	assert_int_equal(disk_submit(d, &r), -EINVAL);
	r.offset = 0;
	r.op = DISK_DISCARD;
	r.len = UINT64_MAX - 511;
	r.offset = 1024;
	assert_int_equal(disk_submit(d, &r), -EINVAL);
	/* not sector aligned */
	assert_int_equal(disk_pread(d, buf, 512, 100), -EINVAL);
	assert_int_equal(disk_pread(d, buf, 100, 0), -EINVAL);
	/* len disagrees with the iovecs */
	r = (struct disk_req){ .op = DISK_READ, .iov = &v, .iovcnt = 1, .len = 1024 };
	assert_int_equal(disk_submit(d, &r), -EINVAL);
	r.len = 512;
	r.iovcnt = IOE_MAX_IOV + 1;
	assert_int_equal(disk_submit(d, &r), -EINVAL);
	r.iovcnt = -1;
	assert_int_equal(disk_submit(d, &r), -EINVAL);
	r.iovcnt = 1;
	r.op = (enum disk_op)42;
	assert_int_equal(disk_submit(d, &r), -EINVAL);
	/* disk_check_range itself */
	assert_int_equal(disk_check_range(d, 0, d->size), 0);
	assert_int_equal(disk_check_range(d, 512, d->size), -EINVAL);
	assert_int_equal(disk_check_range(d, d->size, 0), 0);
	disk_close(d);
}

static void test_direct(void **state)
{
	struct fx *f = *state;
	struct disk *d = NULL;
	struct disk_open_opts o = { .direct = true };
	const char *shm = "/dev/shm";
	char path[320], *buf = malloc(4096 + 1);
	struct stat st;
	int ret;

	assert_non_null(buf);
	/* on the test directory's file system (ext4 on the CI hosts) */
	ret = disk_open(f->img, &o, &d, f->err, sizeof(f->err));
	if (ret == 0) {
		assert_true(d->alignment >= 512 && d->alignment <= 4096);
		memset(buf + 1, 0x77, 4096);
		/* an unaligned buffer is bounced */
		assert_int_equal(disk_pwrite(d, buf + 1, 4096, 0), 0);
		memset(buf + 1, 0, 4096);
		assert_int_equal(disk_pread(d, buf + 1, 4096, 0), 0);
		assert_int_equal((unsigned char)buf[1], 0x77);
		assert_int_equal((unsigned char)buf[4096], 0x77);
		disk_close(d);
	} else {
		assert_non_null(strstr(f->err, "O_DIRECT not supported on this file system"));
	}

	/* tmpfs: refused with a clear message (or accepted on Linux >= 6.6) */
	if (stat(shm, &st) == 0 && S_ISDIR(st.st_mode)) {
		snprintf(path, sizeof(path), "%s/vmm-test-direct-%d.img", shm, (int)getpid());
		make_file(path, NULL, 0, 65536);
		ret = disk_open(path, &o, &d, f->err, sizeof(f->err));
		if (ret == 0) {
			disk_close(d);
		} else {
			assert_int_equal(ret, -EINVAL);
			assert_non_null(
				strstr(f->err, "O_DIRECT not supported on this file system"));
			assert_non_null(strstr(f->err, path));
		}
		unlink(path);
	}
	free(buf);
}

static void test_engine_kinds(void **state)
{
	struct fx *f = *state;
	enum disk_engine_kind kinds[] = { DISK_ENGINE_AUTO, DISK_ENGINE_AIO, DISK_ENGINE_THREADS,
					  DISK_ENGINE_SYNC };

	for (size_t i = 0; i < sizeof(kinds) / sizeof(kinds[0]); i++) {
		struct disk_open_opts o = { .engine = kinds[i], .queue_depth = 4 };
		struct disk *d = NULL;
		char w[2048], r[2048];

		assert_int_equal(disk_open(f->img, &o, &d, f->err, sizeof(f->err)), 0);
		if (kinds[i] == DISK_ENGINE_AUTO)
			assert_int_equal(ioe_kind(d->engine), DISK_ENGINE_AIO);
		else
			assert_int_equal(ioe_kind(d->engine), kinds[i]);
		memset(w, (int)i + 1, sizeof(w));
		assert_int_equal(disk_pwrite(d, w, sizeof(w), 8192), 0);
		assert_int_equal(disk_flush(d), 0);
		assert_int_equal(disk_pread(d, r, sizeof(r), 8192), 0);
		assert_memory_equal(r, w, sizeof(w));
		disk_close(d);
	}
}

static void test_backing_open(void **state)
{
	struct fx *f = *state;
	struct disk *top = NULL, *b = NULL;
	char buf[512];

	assert_int_equal(disk_open(f->img, NULL, &top, f->err, sizeof(f->err)), 0);
	/* the top image holds the write lock: a backing open of it fails */
	assert_int_equal(
		disk_open_backing(f->img, "raw", top->engine, 1, &b, f->err, sizeof(f->err)),
		-EBUSY);
	disk_close(top);

	assert_int_equal(disk_open(f->img, &(struct disk_open_opts){ .readonly = true }, &top,
				   f->err, sizeof(f->err)),
			 0);
	assert_int_equal(
		disk_open_backing(f->img, NULL, top->engine, 1, &b, f->err, sizeof(f->err)), 0);
	assert_true(b->readonly);
	assert_false(b->owns_engine);
	assert_ptr_equal(b->engine, top->engine);
	assert_int_equal(disk_pread(b, buf, sizeof(buf), 0), 0);
	disk_close(b);
	/* the engine is still usable by its owner */
	assert_int_equal(disk_pread(top, buf, sizeof(buf), 0), 0);
	/* too deep a chain */
	assert_int_equal(disk_open_backing(f->img, NULL, top->engine, DISK_MAX_CHAIN, &b, f->err,
					   sizeof(f->err)),
			 -ELOOP);
	disk_close(top);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_open_raw, setup, teardown),
		cmocka_unit_test_setup_teardown(test_open_missing, setup, teardown),
		cmocka_unit_test_setup_teardown(test_open_directory, setup, teardown),
		cmocka_unit_test_setup_teardown(test_open_char_device, setup, teardown),
		cmocka_unit_test_setup_teardown(test_open_empty_and_odd_size, setup, teardown),
		cmocka_unit_test_setup_teardown(test_probe_format, setup, teardown),
		cmocka_unit_test_setup_teardown(test_probe_file, setup, teardown),
		cmocka_unit_test_setup_teardown(test_lock, setup, teardown),
		cmocka_unit_test_setup_teardown(test_readonly, setup, teardown),
		cmocka_unit_test_setup_teardown(test_range, setup, teardown),
		cmocka_unit_test_setup_teardown(test_direct, setup, teardown),
		cmocka_unit_test_setup_teardown(test_engine_kinds, setup, teardown),
		cmocka_unit_test_setup_teardown(test_backing_open, setup, teardown),
	};

	return cmocka_run_group_tests_name("disk", tests, NULL, NULL);
}
