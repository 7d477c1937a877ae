/* SPDX-License-Identifier: MIT */
/*
 * Logging. Every message goes to stderr as one line prefixed "vmm: ".
 *
 * A guest's mistake is logged with log_warn_ratelimited(): a hostile guest
 * must not be able to flood the host's terminal or disk.
 */
#ifndef BASE_LOG_H
#define BASE_LOG_H

#include <stdint.h>

enum log_level { LOG_ERROR = 0, LOG_WARN = 1, LOG_INFO = 2, LOG_DEBUG = 3 };

/* The one process-wide setting (chosen once by main before any thread
 * starts, read-only afterwards). */
void log_set_level(enum log_level level);

void log_msg(enum log_level level, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/* Hand each line (no prefix, no newline) to fn instead of writing it to
 * stderr; NULL restores stderr. For a tool that folds a driver's warning
 * into its own one-line error (vmm-img convert). Single-threaded callers
 * only: set and cleared around the work, not while other threads log. */
void log_set_sink(void (*fn)(enum log_level level, const char *line));

#define log_err(...)   log_msg(LOG_ERROR, __VA_ARGS__)
#define log_warn(...)  log_msg(LOG_WARN, __VA_ARGS__)
#define log_info(...)  log_msg(LOG_INFO, __VA_ARGS__)
#define log_debug(...) log_msg(LOG_DEBUG, __VA_ARGS__)

/* At most `burst` messages per second through one ratelimit. */
struct ratelimit {
	uint64_t window_start_ns;
	unsigned int count;
	unsigned int suppressed;
};
#define RATELIMIT_BURST 10

void log_warn_ratelimited(struct ratelimit *rl, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));

#endif /* BASE_LOG_H */
