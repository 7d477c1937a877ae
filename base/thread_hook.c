/* SPDX-License-Identifier: MIT */
#include "base/thread_hook.h"

#include <stddef.h>

/* Written once by main() before any thread exists, read by every thread
 * after; the atomics only make that ordering explicit. */
static void (*thread_hook)(enum thread_kind kind);

void thread_hook_set(void (*hook)(enum thread_kind kind))
{
	__atomic_store_n(&thread_hook, hook, __ATOMIC_RELEASE);
}

void thread_hook_run(enum thread_kind kind)
{
	void (*hook)(enum thread_kind) = __atomic_load_n(&thread_hook, __ATOMIC_ACQUIRE);

	if (hook)
		hook(kind);
}

const char *thread_kind_name(enum thread_kind kind)
{
	switch (kind) {
	case THREAD_KIND_MAIN:
		return "main";
	case THREAD_KIND_VCPU:
		return "vcpu";
	case THREAD_KIND_DISK_IO:
		return "disk I/O";
	case THREAD_KIND_FS_IO:
		return "9p I/O";
	case THREAD_KIND_COUNT:
		break;
	}
	return "unknown";
}
