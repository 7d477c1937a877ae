/* SPDX-License-Identifier: MIT */
#include "base/log.h"

#include <stdarg.h>
#include <stdio.h>

#include "base/clock.h"

/* The single piece of mutable process-wide state outside main(): the log
 * level, set once at start-up. */
static enum log_level current_level = LOG_WARN;
static void (*current_sink)(enum log_level level, const char *line);

void log_set_level(enum log_level level)
{
	current_level = level;
}

void log_set_sink(void (*fn)(enum log_level level, const char *line))
{
	current_sink = fn;
}

static void log_vmsg(enum log_level level, const char *fmt, va_list ap)
	__attribute__((format(printf, 2, 0)));

static void log_vmsg(enum log_level level, const char *fmt, va_list ap)
{
	static const char *const prefix[] = { "error: ", "warning: ", "", "debug: " };
	char line[1024];

	if (level > current_level)
		return;
	vsnprintf(line, sizeof(line), fmt, ap);
	if (current_sink) {
		current_sink(level, line);
		return;
	}
	/* One fprintf call so concurrent threads do not interleave a line.
	 * "\r\n" keeps lines tidy while the terminal is in raw mode. */
	fprintf(stderr, "vmm: %s%s\r\n", prefix[level], line);
}

void log_msg(enum log_level level, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	log_vmsg(level, fmt, ap);
	va_end(ap);
}

void log_warn_ratelimited(struct ratelimit *rl, const char *fmt, ...)
{
	uint64_t now = clock_monotonic_ns();
	va_list ap;

	if (now - rl->window_start_ns >= CLOCK_NS_PER_SEC) {
		if (rl->suppressed)
			log_warn("%u similar warnings suppressed", rl->suppressed);
		rl->window_start_ns = now;
		rl->count = 0;
		rl->suppressed = 0;
	}
	if (rl->count >= RATELIMIT_BURST) {
		rl->suppressed++;
		return;
	}
	rl->count++;
	va_start(ap, fmt);
	log_vmsg(LOG_WARN, fmt, ap);
	va_end(ap);
}
