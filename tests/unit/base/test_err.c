/* SPDX-License-Identifier: MIT */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "base/err.h"

/* A wrapper that adds a prefix, as the kernel loader's boot_fail does. */
static int prefixed(char *err, size_t errlen, int ret, const char *fmt, ...)
	__attribute__((format(printf, 4, 5)));

static int prefixed(char *err, size_t errlen, int ret, const char *fmt, ...)
{
	va_list ap;
	size_t n = strlen("pfx: ");

	memcpy(err, "pfx: ", n + 1);
	va_start(ap, fmt);
	ret = err_vset(err + n, errlen - n, ret, fmt, ap);
	va_end(ap);
	return ret;
}

static void test_set_returns_ret(void **state)
{
	char err[64] = "";

	assert_int_equal(err_set(err, sizeof(err), -EINVAL, "%s: bad %d", "disk.img", 7), -EINVAL);
	assert_string_equal(err, "disk.img: bad 7");
	/* Any value is handed back, 0 included. */
	assert_int_equal(err_set(err, sizeof(err), 0, "fine"), 0);
	assert_string_equal(err, "fine");
}

static void test_cut_to_fit(void **state)
{
	char err[8];

	memset(err, 'x', sizeof(err));
	assert_int_equal(err_set(err, 6, -ENOMEM, "%s", "a long message"), -ENOMEM);
	assert_string_equal(err, "a lon"); /* cut, NUL-terminated, within errlen */
	assert_int_equal(err[6], 'x');
}

static void test_no_buffer(void **state)
{
	char err[4] = "abc";

	/* Callers may pass no buffer: nothing is written, ret comes back. */
	assert_int_equal(err_set(NULL, 16, -EIO, "x"), -EIO);
	assert_int_equal(err_set(err, 0, -EIO, "x"), -EIO);
	assert_string_equal(err, "abc");
}

static void test_errno_kept(void **state)
{
	char err[32];

	errno = EBUSY;
	assert_int_equal(err_set(err, sizeof(err), -errno, "%s", strerror(errno)), -EBUSY);
	assert_int_equal(errno, EBUSY);
	assert_string_equal(err, strerror(EBUSY));
}

static void test_vset(void **state)
{
	char err[16];

	assert_int_equal(prefixed(err, sizeof(err), -ENOEXEC, "not %s", "an ELF file"), -ENOEXEC);
	assert_string_equal(err, "pfx: not an ELF");
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_set_returns_ret),
		cmocka_unit_test(test_cut_to_fit),
		cmocka_unit_test(test_no_buffer),
		cmocka_unit_test(test_errno_kept),
		cmocka_unit_test(test_vset),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
