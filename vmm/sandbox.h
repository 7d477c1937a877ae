/* SPDX-License-Identifier: MIT */
/*
 * The in-process sandbox (--sandbox=on|off|log, --landlock-rules): what a
 * bug in a device model or in libslirp can still do once vmm runs.
 *
 *  - before any thread starts (sandbox_prepare, from main): stray fds
 *    closed, rlimits, no_new_privs, the SIGSYS handler, and Landlock on the
 *    main thread, which every later thread inherits;
 *  - in each thread once its setup is done (the base/thread_hook.h hook):
 *    all capabilities dropped and the thread kind's seccomp allowlist
 *    (sandbox_rules.c) installed. The main thread does this in vm_run(),
 *    after the vCPU threads started.
 *
 * A forbidden system call ends vmm with one line naming it and the thread
 * kind, and exit status VM_EXIT_SANDBOX.
 */
#ifndef VMM_SANDBOX_H
#define VMM_SANDBOX_H

#include <stddef.h>

#include "vmm/cli.h"

/* Everything before the first thread. Fills err and returns -errno when an
 * asked-for layer cannot be had (never runs unconfined silently). */
int sandbox_prepare(const struct vmm_config *cfg, const int *keep, unsigned int nkeep, char *err,
		    size_t errlen) __attribute__((warn_unused_result));

#endif /* VMM_SANDBOX_H */
