/* SPDX-License-Identifier: MIT */
/*
 * seccomp filters per thread kind, capabilities, rlimits and stray fds
 * (sandbox.h). Landlock is in sandbox_landlock.c, the allowlists in
 * sandbox_rules.c.
 *
 * State: the SIGSYS handler and the thread-start hook run with nothing but
 * their signal or their kind in hand, so what they need (the mode, the
 * syscall names) is file-scope, written once by sandbox_prepare() before
 * any thread exists and only read after.
 */
#include "vmm/sandbox.h"

#include <errno.h>
#include <fcntl.h>
#include <linux/capability.h>
#include <seccomp.h>
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

#include "base/err.h"
#include "base/log.h"
#include "base/thread_hook.h"
#include "vmm/sandbox_landlock.h"
#include "vmm/sandbox_priv.h"
#include "vmm/vm.h"

#if defined(__SANITIZE_ADDRESS__) || defined(__SANITIZE_UNDEFINED__)
#define SANDBOX_SANITIZED 1
#elif defined(__has_feature)
#if __has_feature(address_sanitizer) || __has_feature(undefined_behavior_sanitizer)
#define SANDBOX_SANITIZED 1
#endif
#endif
#ifndef SANDBOX_SANITIZED
#define SANDBOX_SANITIZED 0
#endif

/* Syscall numbers we keep a name for: x86-64 has ~460. */
#define SANDBOX_MAX_NR 512

static struct {
	enum cli_sandbox_mode mode;
	bool reboot;	     /* --reboot: the main thread also builds VMs */
	bool main_installed; /* the main thread's filter is in (once, even with --reboot) */
	const char *names[SANDBOX_MAX_NR];
} sandbox;

/* Which kind of thread this is, for the SIGSYS message. */
static __thread int sandbox_thread_kind = -1;

/* This thread's CPU time: what the sandbox costs at start, whatever the
 * host's load (bench/sandbox.py; -vv prints it). */
static uint64_t thread_cpu_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ULL + (uint64_t)ts.tv_nsec;
}

/* ------------------------------------------------------ the SIGSYS line */

static size_t put_str(char *buf, size_t pos, size_t cap, const char *s)
{
	while (*s && pos < cap)
		buf[pos++] = *s++;
	return pos;
}

static size_t put_uint(char *buf, size_t pos, size_t cap, unsigned int v)
{
	char digits[12];
	size_t n = 0;

	do {
		digits[n++] = (char)('0' + v % 10);
		v /= 10;
	} while (v);
	while (n && pos < cap)
		buf[pos++] = digits[--n];
	return pos;
}

/* SECCOMP_RET_TRAP: only async-signal-safe calls (write, _exit), which
 * every allowlist has. */
static void sandbox_sigsys(int sig, siginfo_t *si, void *uctx)
{
	int kind = sandbox_thread_kind;
	unsigned int nr = (unsigned int)si->si_syscall;
	const char *name = nr < SANDBOX_MAX_NR && sandbox.names[nr] ? sandbox.names[nr] : "?";
	char line[256];
	size_t n = 0;

	n = put_str(line, n, sizeof(line), "\r\nvmm: sandbox: ");
	n = put_str(line, n, sizeof(line),
		    kind >= 0 ? thread_kind_name((enum thread_kind)kind) : "unknown");
	n = put_str(line, n, sizeof(line), " thread made a forbidden system call: ");
	n = put_str(line, n, sizeof(line), name);
	n = put_str(line, n, sizeof(line), " (");
	n = put_uint(line, n, sizeof(line), nr);
	n = put_str(line, n, sizeof(line), ")\n");
	if (write(STDERR_FILENO, line, n) < 0) {
		/* nothing left to tell it to */
	}
	_exit(VM_EXIT_SANDBOX);
}

/* ------------------------------------------------------ the filters */

static int add_calls(scmp_filter_ctx ctx, const struct sandbox_calls *t)
{
	for (size_t i = 0; i < t->n; i++) {
		int ret = seccomp_rule_add(ctx, SCMP_ACT_ALLOW, t->nr[i], 0);

		if (ret && ret != -EEXIST)
			return ret;
	}
	return 0;
}

static int add_ioctls(scmp_filter_ctx ctx, const struct sandbox_ioctls *t)
{
	for (size_t i = 0; i < t->n; i++) {
		/* the request is an int to most callers: compare 32 bits */
		int ret = seccomp_rule_add(ctx, SCMP_ACT_ALLOW, SCMP_SYS(ioctl), 1,
					   SCMP_A1(SCMP_CMP_MASKED_EQ, 0xffffffffUL, t->req[i]));

		if (ret && ret != -EEXIST)
			return ret;
	}
	return 0;
}

static int build_filter(scmp_filter_ctx ctx, enum thread_kind kind)
{
	const struct sandbox_list *l = &sandbox_lists[kind];
	bool any_ioctl = kind == THREAD_KIND_MAIN && sandbox.reboot;
	int ret;

	ret = add_calls(ctx, &sandbox_common_calls);
	if (!ret)
		ret = add_calls(ctx, &l->calls);
	if (!ret && SANDBOX_SANITIZED)
		ret = add_calls(ctx, &sandbox_sanitizer_calls);
	if (!ret && any_ioctl) {
		/* the union of every list: threads started from here inherit */
		for (int k = 0; k < THREAD_KIND_COUNT && !ret; k++)
			ret = add_calls(ctx, &sandbox_lists[k].calls);
		if (!ret)
			ret = add_calls(ctx, &sandbox_create_calls);
		if (!ret)
			ret = seccomp_rule_add(ctx, SCMP_ACT_ALLOW, SCMP_SYS(ioctl), 0);
		return ret;
	}
	for (size_t i = 0; i < sizeof(l->ioctls) / sizeof(l->ioctls[0]) && !ret; i++)
		ret = add_ioctls(ctx, &l->ioctls[i]);
	return ret;
}

static int install_filter(enum thread_kind kind)
{
	scmp_filter_ctx ctx;
	int ret;

	ctx = seccomp_init(sandbox.mode == CLI_SANDBOX_LOG ? SCMP_ACT_LOG : SCMP_ACT_TRAP);
	if (!ctx)
		return -ENOMEM;
	/* a binary tree over the syscall numbers, ioctl (KVM_RUN, the hot
	 * path of a vCPU) tested first; both are hints, failures harmless */
	(void)seccomp_attr_set(ctx, SCMP_FLTATR_CTL_OPTIMIZE, 2);
	(void)seccomp_syscall_priority(ctx, SCMP_SYS(ioctl), 255);
	ret = build_filter(ctx, kind);
	if (!ret)
		ret = seccomp_load(ctx);
	seccomp_release(ctx);
	return ret;
}

/* ------------------------------------------------------ capabilities */

/* Capabilities are per thread in Linux: each thread drops its own. */
static int drop_capabilities(void)
{
	struct __user_cap_header_struct hdr = { .version = _LINUX_CAPABILITY_VERSION_3 };
	struct __user_cap_data_struct data[2];
	bool setpcap;

	memset(data, 0, sizeof(data));
	if (syscall(SYS_capget, &hdr, data) < 0)
		return -errno;
	setpcap = data[0].effective & (1u << CAP_SETPCAP);
	/* the bounding set (needs CAP_SETPCAP; without it there is nothing
	 * it could give back: no_new_privs stops file capabilities) */
	for (int cap = 0; setpcap && cap <= CAP_LAST_CAP; cap++)
		if (prctl(PR_CAPBSET_DROP, cap, 0, 0, 0) < 0 && errno != EINVAL)
			return -errno;
	if (prctl(PR_CAP_AMBIENT, PR_CAP_AMBIENT_CLEAR_ALL, 0, 0, 0) < 0 && errno != EINVAL)
		return -errno;
	memset(data, 0, sizeof(data));
	if (syscall(SYS_capset, &hdr, data) < 0)
		return -errno;
	return 0;
}

#ifdef VMM_TEST_HOOKS
/* The test build only (meson: the vmm-test executable): a forbidden call on
 * the thread kind named by VMM_TEST_SANDBOX_TRIGGER, and an open() of
 * VMM_TEST_LANDLOCK_OPEN on the main thread, whose result is printed. */
static void sandbox_test_trigger(enum thread_kind kind)
{
	const char *want = getenv("VMM_TEST_SANDBOX_TRIGGER");
	const char *path = getenv("VMM_TEST_LANDLOCK_OPEN");

	if (kind == THREAD_KIND_MAIN && path) {
		int fd = open(path, O_RDONLY | O_CLOEXEC);

		fprintf(stderr, "vmm: test: open %s: %s\n", path, fd < 0 ? strerror(errno) : "ok");
		if (fd >= 0)
			close(fd);
	}
	if (want && !strcmp(want, thread_kind_name(kind)))
		syscall(SYS_personality, 0xffffffffUL); /* a query; in no list */
}
#else
static void sandbox_test_trigger(enum thread_kind kind)
{
}
#endif

/* The base/thread_hook.h hook: every thread, after its setup. */
static void sandbox_thread_start(enum thread_kind kind)
{
	uint64_t t0 = thread_cpu_ns();
	int ret;

	if (kind == THREAD_KIND_MAIN) {
		if (sandbox.main_installed)
			return;
		sandbox.main_installed = true;
	}
	sandbox_thread_kind = (int)kind;
	ret = drop_capabilities();
	if (ret) {
		log_err("sandbox: %s thread: cannot drop its capabilities: %s",
			thread_kind_name(kind), strerror(-ret));
		_exit(VM_EXIT_SANDBOX);
	}
	ret = install_filter(kind);
	if (ret) {
		/* never run unconfined: the thread cannot go on */
		log_err("sandbox: %s thread: cannot install its seccomp filter: %s",
			thread_kind_name(kind), strerror(-ret));
		_exit(VM_EXIT_SANDBOX);
	}
	log_debug("sandbox: %s thread: capabilities dropped, filter in: %.3f ms of CPU",
		  thread_kind_name(kind), (double)(thread_cpu_ns() - t0) / 1e6);
	sandbox_test_trigger(kind);
}

/* ------------------------------------------------------ before threads */

/*
 * RLIMIT_CORE 0: a core would hold what the guest put in vmm's buffers
 * (guest RAM itself is MADV_DONTDUMP, base/guest_mem.c). RLIMIT_NOFILE:
 * what the VM needs with room for slirp's host sockets (one per guest
 * connection), hard limit too, so a guest cannot make vmm eat the host's
 * fds. RLIMIT_NPROC is left alone: it counts every process of the user, not
 * ours, and the filters forbid clone anyway; RLIMIT_FSIZE too: a qcow2
 * image grows as the guest writes, and its size is the image's business.
 */
static int set_rlimits(const struct vmm_config *cfg, char *err, size_t errlen)
{
	struct rlimit core = { 0, 0 }, nofile;
	rlim_t want = 256 + 32 * (rlim_t)cfg->ndisks + 1024 * (rlim_t)cfg->nnets;

	if (setrlimit(RLIMIT_CORE, &core) < 0)
		return err_set(err, errlen, -errno, "sandbox: setrlimit(RLIMIT_CORE): %s",
			       strerror(errno));
	if (getrlimit(RLIMIT_NOFILE, &nofile) < 0)
		return err_set(err, errlen, -errno, "sandbox: getrlimit(RLIMIT_NOFILE): %s",
			       strerror(errno));
	if (nofile.rlim_max != RLIM_INFINITY && nofile.rlim_max < want)
		want = nofile.rlim_max;
	nofile.rlim_cur = nofile.rlim_max = want;
	if (setrlimit(RLIMIT_NOFILE, &nofile) < 0)
		return err_set(err, errlen, -errno, "sandbox: setrlimit(RLIMIT_NOFILE): %s",
			       strerror(errno));
	return 0;
}

/* Close every fd from 3 up but those in keep[] (-1 entries are ignored). */
static void close_stray_fds(const int *keep, unsigned int nkeep)
{
	unsigned int from = 3;

	for (;;) {
		unsigned int next = ~0U;

		for (unsigned int i = 0; i < nkeep; i++)
			if (keep[i] >= (int)from && (unsigned int)keep[i] < next)
				next = (unsigned int)keep[i];
		if (next > from && syscall(SYS_close_range, from, next - 1, 0) < 0)
			log_debug("sandbox: close_range: %s", strerror(errno));
		if (next == ~0U)
			return;
		from = next + 1;
	}
}

int sandbox_prepare(const struct vmm_config *cfg, const int *keep, unsigned int nkeep, char *err,
		    size_t errlen)
{
	uint64_t t0 = thread_cpu_ns();
	struct sigaction sa;
	int ret;

	sandbox.mode = cfg->sandbox;
	sandbox.reboot = cfg->reboot;
	if (cfg->sandbox == CLI_SANDBOX_OFF) {
		log_debug("sandbox: off (--sandbox=off)");
		return 0;
	}
	/* No fd is passed to vmm by number (no fd= option): whatever is open
	 * past stderr, but for vmm's own (keep), was leaked by the parent. */
	close_stray_fds(keep, nkeep);
	ret = set_rlimits(cfg, err, errlen);
	if (ret)
		return ret;
	if (prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) < 0)
		return err_set(err, errlen, -errno, "sandbox: no_new_privs: %s", strerror(errno));
	/* the SIGSYS line names the call: resolve the names now (malloc) */
	for (unsigned int nr = 0; nr < SANDBOX_MAX_NR; nr++)
		sandbox.names[nr] = seccomp_syscall_resolve_num_arch(SCMP_ARCH_NATIVE, (int)nr);
	memset(&sa, 0, sizeof(sa));
	sa.sa_sigaction = sandbox_sigsys;
	sa.sa_flags = SA_SIGINFO;
	sigemptyset(&sa.sa_mask);
	if (sigaction(SIGSYS, &sa, NULL) < 0)
		return err_set(err, errlen, -errno, "sandbox: sigaction(SIGSYS): %s",
			       strerror(errno));
	/* Landlock covers every thread only if it is in before the first one
	 * starts; in log mode it stays out of the way, as seccomp does. */
	if (cfg->sandbox == CLI_SANDBOX_ON) {
		ret = sandbox_landlock_apply(cfg, err, errlen);
		if (ret)
			return ret;
	}
	thread_hook_set(sandbox_thread_start);
	log_debug("sandbox: fds, rlimits, no_new_privs, Landlock: %.3f ms of CPU",
		  (double)(thread_cpu_ns() - t0) / 1e6);
	return 0;
}
