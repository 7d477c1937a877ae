/* SPDX-License-Identifier: MIT */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <time.h>

#include <cmocka.h>

#include "base/clock.h"

static void test_monotonic_ns(void **state)
{
	struct timespec nap = { 0, 2000000 }, mono;
	uint64_t a, b, ref;

	a = clock_monotonic_ns();
	nanosleep(&nap, NULL);
	b = clock_monotonic_ns();
	/* Nanoseconds: a 2 ms nap shows as at least 2,000,000. */
	assert_true(b >= a + 2000000);
	assert_true(b - a < 10 * CLOCK_NS_PER_SEC);
	/* The same clock as CLOCK_MONOTONIC, not another epoch. */
	clock_gettime(CLOCK_MONOTONIC, &mono);
	ref = (uint64_t)mono.tv_sec * CLOCK_NS_PER_SEC + (uint64_t)mono.tv_nsec;
	assert_true(ref >= b && ref - b < CLOCK_NS_PER_SEC);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_monotonic_ns),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
