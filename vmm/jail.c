/* SPDX-License-Identifier: MIT */
/*
 * The supervising parent of --jail and the cgroup limits (see jail.h), and
 * --cpu-affinity.
 *
 * Why a parent at all: a process cannot report its own death. When the
 * cgroup's OOM killer ends the VM, or the VM is PID 1 of its namespace,
 * only a process outside can say why, pass the status on and remove the
 * cgroup (which must be empty first). The parent stays in the cgroup it
 * was started in; only the child is charged to the VM's cgroup.
 */
#include "vmm/jail.h"

#include "base/clock.h"
#include "base/err.h"
#include "base/log.h"
#include "vmm/cgroup.h"
#include "vmm/vcpu_dump.h"
#include "vmm/vm.h"

#include <errno.h>
#include <fcntl.h>
#include <sched.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <unistd.h>

bool jail_wanted(const struct vmm_config *cfg)
{
	return cfg->jail.jail || jail_config_has_limits(&cfg->jail);
}

static int write_file(const char *path, const char *text)
{
	int fd = open(path, O_WRONLY | O_CLOEXEC), ret = 0;

	if (fd < 0 || write(fd, text, strlen(text)) < 0)
		ret = -errno;
	if (fd >= 0)
		close(fd);
	return ret;
}

/* A normal user gets the namespaces through a user namespace in which it
 * is root (uid and gid mapped to its own, nothing else), as bwrap does. */
static int enter_user_ns(char *err, size_t errlen)
{
	char map[64];
	uid_t uid = geteuid();
	gid_t gid = getegid();
	int ret;

	if (unshare(CLONE_NEWUSER) < 0)
		return err_set(err, errlen, -errno,
			       "--jail as a normal user needs a user namespace and this host "
			       "refuses one (%s): run vmm as root, or allow user namespaces "
			       "(sysctl user.max_user_namespaces)",
			       strerror(errno));
	/* setgroups must be denied before an unprivileged gid_map write */
	ret = write_file("/proc/self/setgroups", "deny");
	snprintf(map, sizeof(map), "0 %u 1", (unsigned int)uid);
	if (!ret)
		ret = write_file("/proc/self/uid_map", map);
	snprintf(map, sizeof(map), "0 %u 1", (unsigned int)gid);
	if (!ret)
		ret = write_file("/proc/self/gid_map", map);
	if (ret)
		return err_set(err, errlen, ret, "--jail: cannot map the user namespace: %s",
			       strerror(-ret));
	return 0;
}

/*
 * The namespaces the parent must make: the user namespace (that every other
 * one then belongs to) and the PID namespace, whose first child is PID 1.
 * *own_pid_ns: the parent's own PID namespace, to return to once the child
 * is forked (-1 if none): once that child exits, nothing more could be
 * forked into its namespace, not even LeakSanitizer's tracer at exit.
 */
static int prepare_namespaces(const struct vmm_config *cfg, int *own_pid_ns, char *err,
			      size_t errlen)
{
	int ret;

	*own_pid_ns = -1;
	if (!cfg->jail.jail)
		return 0;
	*own_pid_ns = open("/proc/self/ns/pid", O_RDONLY | O_CLOEXEC);
	if (geteuid() != 0) {
		if (cfg->jail.user_set)
			return err_set(err, errlen, -EPERM,
				       "--jail-user needs root (as a normal user the jail already "
				       "runs as you): drop --jail-user");
		ret = enter_user_ns(err, errlen);
		if (ret)
			return ret;
	}
	if (unshare(CLONE_NEWPID) < 0)
		return err_set(err, errlen, -errno,
			       "--jail: cannot create a PID namespace: %s (run as root)",
			       strerror(errno));
	return 0;
}

static void child_main(struct vmm_config *cfg, struct cgroup *cg,
		       int (*run)(struct vmm_config *cfg, int go_fd), int go_fd)
{
	sigset_t chld;
	char err[512];

	/* the VM never outlives its supervisor (kill -9 of the parent included) */
	prctl(PR_SET_PDEATHSIG, SIGKILL);
	sigemptyset(&chld);
	sigaddset(&chld, SIGCHLD);
	pthread_sigmask(SIG_UNBLOCK, &chld, NULL);
	/* Memory a v1 cgroup did not see being allocated stays charged where
	 * it was (moving charges is gone from the kernel): into the memory
	 * cgroup first. The parent moves us into the others meanwhile. */
	if (cgroup_enter_memory(cg, err, sizeof(err)) < 0) {
		log_err("%s", err);
		_exit(VM_EXIT_ERROR);
	}
	cgroup_free(cg); /* the parent's to remove */
	if (cfg->jail.jail && jail_enter(cfg, err, sizeof(err)) < 0) {
		log_err("--jail: %s", err);
		_exit(VM_EXIT_ERROR);
	}
	exit(run(cfg, go_fd));
}

int jail_wait_go(int go_fd)
{
	char c = 0;

	/* EOF: the parent could not put us in the cgroup (and said why) */
	if (read(go_fd, &c, 1) != 1 || c != 'g')
		return -EPERM;
	close(go_fd);
	return 0;
}

/* Forward the stop and dump signals to the child until it exits; its status. */
static int wait_child(pid_t pid)
{
	sigset_t set;
	int ws, sig;

	sigemptyset(&set);
	sigaddset(&set, SIGINT);
	sigaddset(&set, SIGTERM);
	sigaddset(&set, SIGHUP);
	sigaddset(&set, VCPU_DUMP_SIGNAL); /* where is each vCPU (blocked since main) */
	sigaddset(&set, SIGCHLD);
	for (;;) {
		sig = sigwaitinfo(&set, NULL);
		if (sig == SIGCHLD) {
			pid_t r = waitpid(pid, &ws, WNOHANG);

			if (r == pid)
				return ws;
			if (r < 0 && errno != EINTR)
				return -1;
		} else if (sig > 0) {
			kill(pid, sig); /* vmm reads it from its signalfd, PID 1 or not */
		}
	}
}

static int exit_status(const struct vmm_config *cfg, const struct cgroup *cg, int ws)
{
	uint64_t lim = cfg->jail.mem_limit;

	if (ws < 0) {
		log_err("lost the VM process: %s", strerror(errno));
		return VM_EXIT_ERROR;
	}
	if (WIFEXITED(ws))
		return WEXITSTATUS(ws);
	if (WTERMSIG(ws) == SIGKILL && cgroup_oom_killed(cg)) {
		if (lim % (1 << 20) == 0)
			log_err("the VM exceeded --mem-limit %lluM (killed by the cgroup's OOM "
				"killer)",
				(unsigned long long)(lim >> 20));
		else
			log_err("the VM exceeded --mem-limit %llu bytes (killed by the cgroup's "
				"OOM killer)",
				(unsigned long long)lim);
		return JAIL_EXIT_OOM;
	}
	log_err("the VM process was killed by signal %d (%s)", WTERMSIG(ws),
		strsignal(WTERMSIG(ws)));
	return VM_EXIT_SIGNAL_BASE + WTERMSIG(ws);
}

int jail_supervise(struct vmm_config *cfg, int (*run)(struct vmm_config *cfg, int go_fd))
{
	struct cgroup cg = { 0 };
	int go[2] = { -1, -1 }, own_pid_ns = -1, status = VM_EXIT_ERROR;
	sigset_t chld;
	uint64_t t = clock_monotonic_ns();
	char err[512];
	pid_t pid;

	if (jail_config_has_limits(&cfg->jail) && cgroup_create(&cg, cfg, err, sizeof(err)) < 0) {
		log_err("%s", err);
		return VM_EXIT_ERROR;
	}
	if (prepare_namespaces(cfg, &own_pid_ns, err, sizeof(err)) < 0) {
		log_err("%s", err);
		goto out;
	}
	/* SIGCHLD blocked before the fork, so wait_child cannot miss it */
	sigemptyset(&chld);
	sigaddset(&chld, SIGCHLD);
	pthread_sigmask(SIG_BLOCK, &chld, NULL);
	if (pipe2(go, O_CLOEXEC) < 0) {
		log_err("pipe: %s", strerror(errno));
		goto out;
	}
	pid = fork();
	if (pid < 0) {
		log_err("cannot fork the VM process: %s", strerror(errno));
		goto out;
	}
	if (pid == 0) {
		close(go[1]);
		if (own_pid_ns >= 0)
			close(own_pid_ns);
		child_main(cfg, &cg, run, go[0]);
	}
	/* best effort: in a user namespace of our own it is refused */
	if (own_pid_ns >= 0 && setns(own_pid_ns, CLONE_NEWPID) < 0)
		log_debug("jail: staying in the child's PID namespace: %s", strerror(errno));
	close(go[0]);
	go[0] = -1;
	/* Into the cgroup while the child builds the VM: a move into a v1
	 * cgroup waits for an RCU grace period (5-50 ms on a busy host), which
	 * would otherwise be all of the jail's start-up cost. The child waits
	 * for "go" before the guest runs (jail_wait_go). */
	if (cg.ndirs && cgroup_add_pid(&cg, pid, err, sizeof(err)) < 0) {
		log_err("%s", err);
		close(go[1]); /* the child exits */
		go[1] = -1;
		waitpid(pid, NULL, 0);
		goto out;
	}
	log_debug("jail: cgroup made, child forked and moved in: %.3f ms",
		  (double)(clock_monotonic_ns() - t) / 1e6);
	if (write(go[1], "g", 1) != 1) {
		/* the child has exited already: its status says why */
	}
	status = exit_status(cfg, &cg, wait_child(pid));
out:
	if (own_pid_ns >= 0)
		close(own_pid_ns);
	if (go[0] >= 0)
		close(go[0]);
	if (go[1] >= 0)
		close(go[1]);
	cgroup_destroy(&cg);
	return status;
}

int jail_pin_vcpu(const struct jail_config *j, unsigned int index, pthread_t thread, char *err,
		  size_t errlen)
{
	const cpu_set_t *set = NULL;
	unsigned int i;
	int ret;

	for (i = 0; i < j->naffinity; i++)
		if (j->affinity[i].vcpu < 0 || (unsigned int)j->affinity[i].vcpu == index)
			set = &j->affinity[i].cpus;
	if (!set)
		return 0;
	ret = pthread_setaffinity_np(thread, sizeof(*set), set);
	if (ret)
		return err_set(err, errlen, -ret,
			       "--cpu-affinity: cannot pin vCPU %u: %s (is the CPU online and in "
			       "vmm's allowed set? see taskset -p)",
			       index, strerror(ret));
	return 0;
}
