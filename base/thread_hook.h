/* SPDX-License-Identifier: MIT */
/*
 * The thread-start hook: every thread vmm runs calls thread_hook_run() with
 * its kind once its own setup is done. vmm/ sets the hook (vmm/sandbox.c:
 * each thread then installs its seccomp filter and drops its capabilities,
 * both per-thread in Linux); without a hook it does nothing, as in vmm-img
 * and the unit tests.
 *
 * This is the one piece of process-wide mutable state in base/, on purpose:
 * a thread started deep inside a layer (the disk I/O pool in
 * devices/disk/io_engine.c) must reach the sandbox without that layer
 * knowing vmm/ exists (the layer rule) and without threading a callback
 * through every config struct on the way.
 */
#ifndef BASE_THREAD_HOOK_H
#define BASE_THREAD_HOOK_H

/* One per allowlist in vmm/sandbox_rules.c. A new kind of thread gets a
 * new kind here and a table there. */
enum thread_kind {
	THREAD_KIND_MAIN,    /* the event loop (vm_run), also slirp, net backends, console */
	THREAD_KIND_VCPU,    /* KVM_RUN and the device models' register accesses */
	THREAD_KIND_DISK_IO, /* the I/O engine's pool threads */
	THREAD_KIND_FS_IO,   /* virtio-9p's workers: file-system calls beneath a share */
	THREAD_KIND_COUNT,
};

/* Set once, before any thread is started (NULL: none). */
void thread_hook_set(void (*hook)(enum thread_kind kind));

/* Called by each thread after its setup, before it serves anything. */
void thread_hook_run(enum thread_kind kind);

/* "vcpu", "main", "disk I/O": for messages. */
const char *thread_kind_name(enum thread_kind kind);

#endif /* BASE_THREAD_HOOK_H */
