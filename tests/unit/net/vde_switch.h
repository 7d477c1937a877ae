/* SPDX-License-Identifier: MIT */
/*
 * A `vde_switch -s DIR` of a test's or a bench's own, run as a child in the
 * foreground (no -d: no daemon to lose, no pid file to race for). Its stdin
 * is a pipe we hold: vde_switch reads commands there and exits at its end.
 */
#ifndef VMM_TESTS_NET_VDE_SWITCH_H
#define VMM_TESTS_NET_VDE_SWITCH_H

#include <sys/types.h>

struct vde_switch_proc {
	pid_t pid;    /* 0 when not running */
	int stdin_fd; /* the write end of its stdin */
};

/* Start it on dir and wait (up to 3 s) for its control socket. 0 or
 * -errno (-ENOENT: no control socket appeared; is vde_switch installed?). */
int vde_switch_spawn(const char *dir, struct vde_switch_proc *p)
	__attribute__((warn_unused_result));

/* Send sig (SIGTERM: it removes dir; SIGKILL: dir stays, stale) and reap
 * it. Nothing when it is not running. */
void vde_switch_stop(struct vde_switch_proc *p, int sig);

#endif
