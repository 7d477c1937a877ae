/* SPDX-License-Identifier: MIT */
/* The sandbox's allowlists (sandbox_rules.c), read by sandbox.c. */
#ifndef VMM_SANDBOX_PRIV_H
#define VMM_SANDBOX_PRIV_H

#include <stddef.h>

#include "base/thread_hook.h"

struct sandbox_calls {
	const int *nr; /* SCMP_SYS() numbers */
	size_t n;
};

struct sandbox_ioctls {
	const unsigned long *req;
	size_t n;
};

struct sandbox_list {
	struct sandbox_calls calls;
	struct sandbox_ioctls ioctls[3];
};

extern const struct sandbox_list sandbox_lists[THREAD_KIND_COUNT];
/* allowed on every thread */
extern const struct sandbox_calls sandbox_common_calls;
/* the main thread's extra calls with --reboot */
extern const struct sandbox_calls sandbox_create_calls;
/* every thread's extra calls in an ASan/UBSan build */
extern const struct sandbox_calls sandbox_sanitizer_calls;

#endif /* VMM_SANDBOX_PRIV_H */
