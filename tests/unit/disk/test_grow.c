/* SPDX-License-Identifier: MIT */
/*
 * disk_grow (devices/disk/grow.h): the file is at least as long as asked,
 * grown in aligned steps with a reserve that doubles up to its maximum and
 * never past the limit; trim gives the reserve back but never cuts below
 * the length the file had; a failed growth changes nothing.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>

#include <cmocka.h>

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <sys/stat.h>
#include <unistd.h>

#include "devices/disk/disk.h"
#include "devices/disk/grow.h"

/* A disk that is not unsafe: every growth step is synced. */
static const struct disk safe_disk;

struct fx {
	char path[256];
	int fd;
};

static int setup(void **state)
{
	struct fx *f = calloc(1, sizeof(*f));
	const char *tmp = getenv("TMPDIR");

	if (!f)
		return -1;
	snprintf(f->path, sizeof(f->path), "%s/grow-XXXXXX", tmp ? tmp : "/tmp");
	f->fd = mkstemp(f->path);
	if (f->fd < 0)
		return -1;
	*state = f;
	return 0;
}

static int teardown(void **state)
{
	struct fx *f = *state;

	close(f->fd);
	unlink(f->path);
	free(f);
	return 0;
}

static uint64_t file_size(int fd)
{
	struct stat st;

	assert_int_equal(fstat(fd, &st), 0);
	return (uint64_t)st.st_size;
}

/* Fixed steps (VMDK): up to the next multiple of align, no reserve. */
static void test_aligned(void **state)
{
	struct fx *f = *state;
	struct disk_grow g;

	assert_int_equal(ftruncate(f->fd, 1000), 0);
	disk_grow_init(&g, &safe_disk, f->fd, 1000, 4096, 0, 0, 0);
	assert_int_equal(disk_grow_ensure(&g, 1000), 0);
	assert_int_equal(file_size(f->fd), 1000); /* already there: untouched */
	assert_int_equal(disk_grow_ensure(&g, 1001), 0);
	assert_int_equal(file_size(f->fd), 4096);
	assert_int_equal(disk_grow_ensure(&g, 4096), 0);
	assert_int_equal(disk_grow_ensure(&g, 4097), 0);
	assert_int_equal(file_size(f->fd), 8192);
	assert_int_equal(g.end, 8192);
	/* close: back to what was used */
	assert_int_equal(disk_grow_trim(&g, 5000), 0);
	assert_int_equal(file_size(f->fd), 5000);
	/* nothing to give back: no change */
	assert_int_equal(disk_grow_trim(&g, 6000), 0);
	assert_int_equal(file_size(f->fd), 5000);
}

/* A doubling reserve (VDI): unit, 2 unit ... max_ahead, capped by limit. */
static void test_ahead(void **state)
{
	struct fx *f = *state;
	struct disk_grow g;
	static const uint64_t need[] = { 10, 11, 112, 313, 714, 1115, 1300 };
	static const uint64_t want[] = { 10, 111, 312, 713, 1114, 1200, 1300 };

	disk_grow_init(&g, &safe_disk, f->fd, 0, 0, 100, 400, 1200);
	for (size_t i = 0; i < sizeof(need) / sizeof(need[0]); i++) {
		assert_int_equal(disk_grow_ensure(&g, need[i]), 0);
		if (file_size(f->fd) != want[i])
			fail_msg("step %zu: need %llu, got %llu, want %llu", i,
				 (unsigned long long)need[i], (unsigned long long)file_size(f->fd),
				 (unsigned long long)want[i]);
	}
}

/* Trim never cuts below the length at init (a file that was longer). */
static void test_trim_floor(void **state)
{
	struct fx *f = *state;
	struct disk_grow g;

	assert_int_equal(ftruncate(f->fd, 2000), 0);
	disk_grow_init(&g, &safe_disk, f->fd, 2000, 1024, 0, 0, 0);
	assert_int_equal(disk_grow_ensure(&g, 2500), 0);
	assert_int_equal(file_size(f->fd), 3072);
	assert_int_equal(disk_grow_trim(&g, 100), 0);
	assert_int_equal(file_size(f->fd), 2000);
}

/* A descriptor that cannot grow the file: -errno, nothing recorded. */
static void test_error(void **state)
{
	struct fx *f = *state;
	struct disk_grow g;
	int ro = open(f->path, O_RDONLY | O_CLOEXEC);

	assert_true(ro >= 0);
	disk_grow_init(&g, &safe_disk, ro, 0, 4096, 0, 0, 0);
	assert_true(disk_grow_ensure(&g, 1) < 0);
	assert_int_equal(g.end, 0);
	assert_int_equal(file_size(f->fd), 0);
	close(ro);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_aligned, setup, teardown),
		cmocka_unit_test_setup_teardown(test_ahead, setup, teardown),
		cmocka_unit_test_setup_teardown(test_trim_floor, setup, teardown),
		cmocka_unit_test_setup_teardown(test_error, setup, teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
