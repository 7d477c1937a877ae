/* SPDX-License-Identifier: MIT */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/eventfd.h>
#include <unistd.h>

#include <cmocka.h>

#include "base/eventfd.h"

static void test_signal_and_drain(void **state)
{
	int fd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);

	assert_true(fd >= 0);
	assert_int_equal(eventfd_drain(fd), -EAGAIN); /* nothing pending */
	assert_int_equal(eventfd_signal(fd), 0);
	assert_int_equal(eventfd_signal(fd), 0);
	/* Two signals, one wake-up: a single drain takes both. */
	assert_int_equal(eventfd_drain(fd), 0);
	assert_int_equal(eventfd_drain(fd), -EAGAIN);
	close(fd);
}

static void test_saturated_counter_is_a_wakeup(void **state)
{
	uint64_t max = UINT64_MAX - 1; /* the largest value an eventfd holds */
	int fd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);

	assert_true(fd >= 0);
	assert_int_equal(write(fd, &max, sizeof(max)), sizeof(max));
	/* The write fails with EAGAIN: still success, the reader wakes. */
	errno = 0;
	assert_int_equal(eventfd_signal(fd), 0);
	assert_int_equal(errno, 0); /* safe in a signal handler */
	assert_int_equal(eventfd_drain(fd), 0);
	close(fd);
}

static void test_bad_fd(void **state)
{
	errno = 0;
	assert_int_equal(eventfd_signal(-1), -EBADF);
	assert_int_equal(errno, 0);
	assert_int_equal(eventfd_drain(-1), -EBADF);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_signal_and_drain),
		cmocka_unit_test(test_saturated_counter_is_a_wakeup),
		cmocka_unit_test(test_bad_fd),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
