// SPDX-License-Identifier: MIT
/*
 * snapshot-save: the test and benchmark driver of vm_snapshot_save()
 * (vmm/snapshot.h) until the control socket's `migrate` command calls it.
 *
 *     snapshot-save [--kill] OUT PATTERN vmm --kernel tally.elf --console-log LOG ...
 *
 * builds and runs the VM described by the vmm arguments in this process,
 * waits until PATTERN appears in the --console-log file, pauses the VM
 * (vm_pause), saves it into OUT and prints "saved: BYTES bytes (ALLOCATED
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
	struct stat st;
	pthread_t thread;
	char err[512] = "";
	sigset_t set;
	struct vm vm;
	uint64_t t0;
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
	/* as vmm's main(): the event loop reads these signals; vCPUs get kicks */
	vcpu_install_kick_handler();
	sigemptyset(&set);
	sigaddset(&set, SIGINT);
	sigaddset(&set, SIGTERM);
	sigaddset(&set, SIGHUP);
	sigaddset(&set, VCPU_KICK_SIGNAL);
	sigaddset(&set, VCPU_DUMP_SIGNAL);
	pthread_sigmask(SIG_BLOCK, &set, NULL);
	signal(SIGPIPE, SIG_IGN);

	if (vm_create(&vm, &cfg, 0) < 0)
		return 1;
	if (pthread_create(&thread, NULL, run_vm, &vm)) {
		vm_destroy(&vm);
		return 1;
	}
	while (!log_has(cfg.console_log, args[2]) && !vm_stopping(&vm))
		usleep(1000);
	if (vm_pause(&vm) < 0) {
		fprintf(stderr, "snapshot-save: the VM ended before '%s' appeared\n", args[2]);
		pthread_join(thread, NULL);
		vm_destroy(&vm);
		return 1;
	}
	t0 = clock_monotonic_ns();
	ret = vm_snapshot_save(&vm, args[1], err, sizeof(err));
	if (ret)
		fprintf(stderr, "snapshot-save: %s\n", err);
	else if (stat(args[1], &st) == 0)
		printf("saved: %lld bytes (%lld allocated) in %.3f ms\n", (long long)st.st_size,
		       (long long)st.st_blocks * 512, (double)(clock_monotonic_ns() - t0) / 1e6);
	fflush(stdout);
	if (kill_after && !ret)
		kill(getpid(), SIGKILL);
	vm_resume(&vm);
	pthread_join(thread, NULL);
	ret = vm.exit_status;
	vm_destroy(&vm);
	cli_free(&cfg);
	return ret;
}
