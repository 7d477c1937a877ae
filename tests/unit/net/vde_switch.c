/* SPDX-License-Identifier: MIT */
#include "tests/unit/net/vde_switch.h"

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <sys/wait.h>
#include <unistd.h>

int vde_switch_spawn(const char *dir, struct vde_switch_proc *p)
{
	char ctl[256];
	int pipefd[2], i;

	snprintf(ctl, sizeof(ctl), "%s/ctl", dir);
	if (pipe2(pipefd, O_CLOEXEC) < 0)
		return -errno;
	p->pid = fork();
	if (p->pid < 0) {
		int ret = -errno;

		p->pid = 0;
		close(pipefd[0]);
		close(pipefd[1]);
		return ret;
	}
	if (p->pid == 0) {
		int null = open("/dev/null", O_WRONLY);

		dup2(pipefd[0], 0);
		if (null >= 0) {
			dup2(null, 1);
			dup2(null, 2);
		}
		execlp("vde_switch", "vde_switch", "-s", dir, (char *)NULL);
		_exit(127);
	}
	close(pipefd[0]);
	p->stdin_fd = pipefd[1];
	for (i = 0; i < 300 && access(ctl, F_OK) != 0; i++)
		usleep(10000);
	if (access(ctl, F_OK) != 0) {
		vde_switch_stop(p, SIGKILL);
		return -ENOENT;
	}
	return 0;
}

void vde_switch_stop(struct vde_switch_proc *p, int sig)
{
	if (!p->pid)
		return;
	kill(p->pid, sig);
	waitpid(p->pid, NULL, 0);
	close(p->stdin_fd);
	p->pid = 0;
}
