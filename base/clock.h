/* SPDX-License-Identifier: MIT */
/* Time as the host's monotonic clock counts it, for intervals and rates. */
#ifndef BASE_CLOCK_H
#define BASE_CLOCK_H

#include <stdint.h>
#include <time.h>

#define CLOCK_NS_PER_SEC 1000000000ULL

/*
 * Nanoseconds of CLOCK_MONOTONIC: never jumps with the wall clock, so
 * timeouts, rate limits and progress rates stay right when the host's time
 * is set. clock_gettime() cannot fail for CLOCK_MONOTONIC with a valid
 * pointer (it only reports EINVAL/EFAULT), so the result is not checked.
 * Inline: the rate limiter and the exit tracer read it on hot paths.
 */
static inline uint64_t clock_monotonic_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * CLOCK_NS_PER_SEC + (uint64_t)ts.tv_nsec;
}

#endif /* BASE_CLOCK_H */
