/* SPDX-License-Identifier: MIT */
#include "base/err.h"

#include <errno.h>
#include <stdio.h>

int err_vset(char *err, size_t errlen, int ret, const char *fmt, va_list ap)
{
	int saved = errno;

	if (err && errlen)
		vsnprintf(err, errlen, fmt, ap);
	errno = saved;
	return ret;
}

int err_set(char *err, size_t errlen, int ret, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	err_vset(err, errlen, ret, fmt, ap);
	va_end(ap);
	return ret;
}
