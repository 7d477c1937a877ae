/* SPDX-License-Identifier: MIT */
/*
 * Saying in one line why setup failed.
 *
 * The convention (DESIGN.md, "Errors"; QEMU's `Error **errp` model):
 *
 *  - A function that can fail during setup (opening an image, loading a
 *    kernel, creating a device) takes `char *err, size_t errlen`, and on
 *    failure writes one line into it -- what failed and why, with the file
 *    or device it concerns -- and returns a negative errno:
 *
 *	if (size == 0)
 *		return err_set(err, errlen, -EINVAL, "%s: empty image", path);
 *
 *  - It does not log the failure itself. Only the composition root (vmm/)
 *    and the tools' main() log, adding what the user typed (the flag name,
 *    the device name), so that each failure is one line on stderr, said
 *    once, and a unit test can check the reason without capturing stderr.
 *    A caller with nothing to add passes its own buffer up unchanged.
 *
 *  - An empty buffer after a failure means the errno is all there is to
 *    say: the caller prints strerror(-ret) instead. Callers therefore set
 *    err[0] = '\0' before the call. err == NULL or errlen == 0 is allowed
 *    (nothing is written).
 *
 *  - This is for setup, which happens once. A guest's mistake while it runs
 *    is not an error of ours: it is a rate-limited warning
 *    (log_warn_ratelimited) and the guest gets a status, never a failed
 *    process.
 */
#ifndef BASE_ERR_H
#define BASE_ERR_H

#include <stdarg.h>
#include <stddef.h>

/*
 * Format the message into err (cut to errlen, always NUL-terminated; nothing
 * is written if err is NULL or errlen is 0) and return `ret`, so that
 * `return err_set(err, errlen, -EINVAL, "...")` reads as one statement.
 * errno is left as it was: arguments such as strerror(errno) are evaluated
 * before the call, and a caller may still look at errno after it.
 */
int err_set(char *err, size_t errlen, int ret, const char *fmt, ...)
	__attribute__((format(printf, 4, 5)));
/* The same with a va_list, for wrappers that add a prefix of their own. */
int err_vset(char *err, size_t errlen, int ret, const char *fmt, va_list ap)
	__attribute__((format(printf, 4, 0)));

#endif /* BASE_ERR_H */
