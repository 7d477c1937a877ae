/* SPDX-License-Identifier: MIT */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "base/iov.h"

/* 16 bytes 0..15 in segments of 3, 0 (empty, NULL base), 5, 8 bytes. */
struct fixture {
	uint8_t a[3], c[5], d[8];
	struct iovec iov[4];
};

static void fixture_init(struct fixture *f)
{
	uint8_t *parts[] = { f->a, f->c, f->d };
	size_t lens[] = { 3, 5, 8 };
	unsigned int k = 0;

	for (unsigned int p = 0; p < 3; p++)
		for (size_t i = 0; i < lens[p]; i++)
			parts[p][i] = (uint8_t)k++;
	f->iov[0] = (struct iovec){ f->a, 3 };
	f->iov[1] = (struct iovec){ NULL, 0 };
	f->iov[2] = (struct iovec){ f->c, 5 };
	f->iov[3] = (struct iovec){ f->d, 8 };
}

static void test_size(void **state)
{
	struct fixture f;
	struct iovec huge[2] = { { NULL, SIZE_MAX }, { NULL, 2 } };

	fixture_init(&f);
	assert_int_equal(iov_size(f.iov, 4), 16);
	assert_int_equal(iov_size(f.iov, 0), 0);
	/* A total that does not fit saturates instead of wrapping. */
	assert_true(iov_size(huge, 2) == SIZE_MAX);
}

static void test_to_buf(void **state)
{
	struct fixture f;
	uint8_t buf[32];

	fixture_init(&f);
	/* Every start and length, across segment boundaries and the end. */
	for (size_t off = 0; off <= 17; off++) {
		for (size_t len = 0; len <= 17; len++) {
			size_t want = off >= 16 ? 0 : (16 - off < len ? 16 - off : len);

			memset(buf, 0xee, sizeof(buf));
			assert_int_equal(iov_to_buf(f.iov, 4, off, buf, len), want);
			for (size_t i = 0; i < want; i++)
				assert_int_equal(buf[i], off + i);
			assert_int_equal(buf[want], 0xee);
		}
	}
}

static void test_from_buf_and_zero(void **state)
{
	struct fixture f;
	uint8_t src[4] = { 0xa0, 0xa1, 0xa2, 0xa3 }, all[16];

	fixture_init(&f);
	/* Bytes 2..5 span the first segment, the empty one and the third. */
	assert_int_equal(iov_from_buf(f.iov, 4, 2, src, 4), 4);
	assert_int_equal(iov_to_buf(f.iov, 4, 0, all, 16), 16);
	assert_int_equal(all[1], 1);
	assert_int_equal(all[2], 0xa0);
	assert_int_equal(all[5], 0xa3);
	assert_int_equal(all[6], 6);
	/* Past the end: cut short. */
	assert_int_equal(iov_from_buf(f.iov, 4, 14, src, 4), 2);
	assert_int_equal(f.d[7], 0xa1);

	fixture_init(&f);
	assert_int_equal(iov_zero(f.iov, 4, 7, SIZE_MAX), 9);
	assert_int_equal(iov_to_buf(f.iov, 4, 0, all, 16), 16);
	for (unsigned int i = 0; i < 16; i++)
		assert_int_equal(all[i], i < 7 ? i : 0);
	assert_int_equal(iov_zero(f.iov, 4, 16, 1), 0);
	assert_int_equal(iov_zero(f.iov, 4, 0, 0), 0);
	assert_int_equal(f.a[0], 0);
	assert_int_equal(f.a[1], 1);
}

static void test_window(void **state)
{
	struct fixture f;
	struct iovec w[4], w2[4];
	unsigned int n, n2;

	fixture_init(&f);
	/* A header of 3 bytes skipped exactly at a boundary: the empty
	 * segment is dropped, the window starts in the third. */
	n = iov_window(f.iov, 4, 3, SIZE_MAX, w);
	assert_int_equal(n, 2);
	assert_ptr_equal(w[0].iov_base, f.c);
	assert_int_equal(w[0].iov_len, 5);
	assert_ptr_equal(w[1].iov_base, f.d);
	assert_int_equal(w[1].iov_len, 8);

	/* Starting and ending inside segments. */
	n = iov_window(f.iov, 4, 1, 9, w);
	assert_int_equal(n, 3);
	assert_ptr_equal(w[0].iov_base, f.a + 1);
	assert_int_equal(w[0].iov_len, 2);
	assert_ptr_equal(w[1].iov_base, f.c);
	assert_int_equal(w[1].iov_len, 5);
	assert_ptr_equal(w[2].iov_base, f.d);
	assert_int_equal(w[2].iov_len, 2);

	/* Empty ranges: at or past the end, or of length 0. */
	assert_int_equal(iov_window(f.iov, 4, 16, SIZE_MAX, w), 0);
	assert_int_equal(iov_window(f.iov, 4, 100, 5, w), 0);
	assert_int_equal(iov_window(f.iov, 4, 0, 0, w), 0);
	/* A window of a window: bytes 4..8 of the list. */
	n = iov_window(f.iov, 4, 2, 12, w);
	n2 = iov_window(w, n, 2, 5, w2);
	assert_int_equal(n2, 2);
	assert_ptr_equal(w2[0].iov_base, f.c + 1);
	assert_int_equal(w2[0].iov_len, 4);
	assert_ptr_equal(w2[1].iov_base, f.d);
	assert_int_equal(w2[1].iov_len, 1);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_size),
		cmocka_unit_test(test_to_buf),
		cmocka_unit_test(test_from_buf_and_zero),
		cmocka_unit_test(test_window),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
