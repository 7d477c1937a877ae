// SPDX-License-Identifier: MIT
/*
 * snapshot-save: the test and benchmark driver of vm_snapshot_save()
 * (vmm/snapshot.h) until the control socket's `migrate` command calls it.
 *
 *     snapshot-save [--kill] OUT PATTERN vmm --kernel tally.elf --console-log LOG ...
 *
 * builds and runs the VM described by the vmm arguments in this process,
 * waits until PATTERN appears in the --console-log file, then on the event
 * loop's thread (where QMP's migrate will run: the devices' and slirp's
 * thread) pauses the VM (vm_pause), saves it into OUT and prints "saved: BYTES bytes (ALLOCATED
 * allocated) in MS ms" (for bench/snapshot.py), or the error. Then, with
 * --kill, it kills itself with SIGKILL (as a user would kill the vmm after
 * the save); otherwise it resumes the VM, as QMP's migrate does, and exits
 * with the VM's status when it ends: also after a failed save, which must
 * leave the VM running. Status 1 if the VM ended before PATTERN.
 */
#include <errno.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "base/clock.h"
#include "base/log.h"
#include "vmm/cli.h"
#include "vmm/snapshot.h"
#include "vmm/vcpu.h"
#include "vmm/vcpu_dump.h"
#include "vmm/vm.h"

/* The save, run on the event-loop thread through an eventfd source. */
struct save_req {
	struct el_source src;
	struct vm *vm;
	const char *path;
	bool kill_after;
	pthread_mutex_t lock;
	pthread_cond_t cond;
	bool done;
	int ret;
	char err[512];
};

static void save_handler(struct el_source *src, uint32_t events)
{
	struct save_req *r = src->opaque;
	uint64_t v, t0;
	struct stat st;

	if (read(src->fd, &v, sizeof(v)) != sizeof(v))
		return;
	el_remove(&r->vm->loop, src);
	r->ret = vm_pause(r->vm);
	if (r->ret) {
		snprintf(r->err, sizeof(r->err), "the VM ended before the pattern appeared");
	} else {
		t0 = clock_monotonic_ns();
		r->ret = vm_snapshot_save(r->vm, r->path, r->err, sizeof(r->err));
		if (!r->ret && stat(r->path, &st) == 0)
			printf("saved: %lld bytes (%lld allocated) in %.3f ms\n",
			       (long long)st.st_size, (long long)st.st_blocks * 512,
			       (double)(clock_monotonic_ns() - t0) / 1e6);
		fflush(stdout);
		if (r->kill_after && !r->ret)
			kill(getpid(), SIGKILL);
		vm_resume(r->vm); /* a failed save leaves the VM running */
	}
	pthread_mutex_lock(&r->lock);
	r->done = true;
	pthread_cond_signal(&r->cond);
	pthread_mutex_unlock(&r->lock);
}

static void *run_vm(void *arg)
{
	struct vm *vm = arg;

	vm_run(vm);
	return NULL;
}

static bool log_has(const char *path, const char *pattern)
{
	static char buf[1 << 20];
	FILE *f = fopen(path, "re");
	size_t n;

	if (!f)
		return false;
	n = fread(buf, 1, sizeof(buf) - 1, f);
	fclose(f);
	buf[n] = '\0';
	return strstr(buf, pattern) != NULL;
}

int main(int argc, char **argv)
{
	struct vmm_config cfg;
	bool kill_after = argc > 1 && !strcmp(argv[1], "--kill");
	char **args = argv + kill_after;
	struct save_req req = { .path = argv[1 + kill_after], .kill_after = kill_after };
	pthread_t thread;
	char err[512] = "";
	struct vm vm;
	int ret;

	if (argc - kill_after < 4) {
		fprintf(stderr, "usage: snapshot-save [--kill] OUT PATTERN vmm ARGS...\n");
		return 2;
	}
	if (cli_parse(argc - kill_after - 3, args + 3, &cfg, err, sizeof(err)) != CLI_RUN ||
	    !cfg.console_log) {
		fprintf(stderr, "snapshot-save: %s\n", err[0] ? err : "--console-log is needed");
		return 2;
	}
	vcpu_block_process_signals(); /* as vmm's main() */

	if (vm_create(&vm, &cfg, 0) < 0)
		return 1;
	req.vm = &vm;
	pthread_mutex_init(&req.lock, NULL);
	pthread_cond_init(&req.cond, NULL);
	if (pthread_create(&thread, NULL, run_vm, &vm)) {
		vm_destroy(&vm);
		return 1;
	}
	while (!log_has(cfg.console_log, args[2]) && !vm_stopping(&vm))
		usleep(1000);
	req.src = (struct el_source){ .fd = eventfd(1, EFD_CLOEXEC),
				      .handler = save_handler,
				      .opaque = &req };
	if (req.src.fd < 0 || el_add(&vm.loop, &req.src, EPOLLIN) < 0) {
		fprintf(stderr, "snapshot-save: cannot reach the event loop\n");
		vm_request_stop(&vm, VM_STOP_ERROR, 1);
	} else {
		pthread_mutex_lock(&req.lock);
		while (!req.done && !vm_stopping(&vm)) {
			struct timespec until;

			clock_gettime(CLOCK_REALTIME, &until);
			until.tv_nsec += 10 * 1000 * 1000;
			if (until.tv_nsec >= 1000000000L) {
				until.tv_sec++;
				until.tv_nsec -= 1000000000L;
			}
			pthread_cond_timedwait(&req.cond, &req.lock, &until);
		}
		pthread_mutex_unlock(&req.lock);
		if (req.done && req.ret)
			fprintf(stderr, "snapshot-save: %s\n", req.err);
	}
	pthread_join(thread, NULL);
	if (req.src.fd >= 0)
		close(req.src.fd);
	ret = vm.exit_status;
	if (!req.done) {
		fprintf(stderr, "snapshot-save: the VM ended before '%s' appeared\n", args[2]);
		ret = 1;
	}
	vm_destroy(&vm);
	cli_free(&cfg);
	return ret;
}
