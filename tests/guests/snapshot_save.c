// SPDX-License-Identifier: MIT
/*
 * snapshot-save: the test and benchmark driver of vm_snapshot_save()
 * (vmm/snapshot.h) until the control socket's `migrate` command calls it.
 *
 *     snapshot-save OUT PATTERN vmm --kernel count.elf --console-log LOG ...
 *
 * builds and runs the VM described by the vmm arguments in this process,
 * waits until PATTERN appears in the --console-log file, stops the vCPUs
 * (as a pause would: each out of KVM_RUN), saves the VM into OUT and exits
 * 0. It prints "saved: BYTES bytes (ALLOCATED allocated) in MS ms" for
 * bench/snapshot.py. Status 1 if the VM ended before PATTERN or the save
 * failed (the error on stderr).
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
	struct stat st;
	pthread_t thread;
	char err[512] = "";
	sigset_t set;
	struct vm vm;
	uint64_t t0;
	int ret;

	if (argc < 4) {
		fprintf(stderr, "usage: snapshot-save OUT PATTERN vmm ARGS...\n");
		return 2;
	}
	if (cli_parse(argc - 3, argv + 3, &cfg, err, sizeof(err)) != CLI_RUN || !cfg.console_log) {
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
	while (!log_has(cfg.console_log, argv[2]) && !vm_stopping(&vm))
		usleep(1000);
	/* Stop: vm_run() kicks and joins every vCPU, so none is in KVM_RUN */
	vm_request_stop(&vm, VM_STOP_USER_QUIT, 0);
	pthread_join(thread, NULL);
	if (vm.stop_reason != VM_STOP_USER_QUIT) {
		fprintf(stderr, "snapshot-save: the VM ended before '%s' appeared\n", argv[2]);
		vm_destroy(&vm);
		return 1;
	}
	t0 = clock_monotonic_ns();
	ret = vm_snapshot_save(&vm, argv[1], err, sizeof(err));
	if (ret) {
		fprintf(stderr, "snapshot-save: %s\n", err);
	} else if (stat(argv[1], &st) == 0) {
		printf("saved: %lld bytes (%lld allocated) in %.3f ms\n", (long long)st.st_size,
		       (long long)st.st_blocks * 512, (double)(clock_monotonic_ns() - t0) / 1e6);
	}
	vm_destroy(&vm);
	cli_free(&cfg);
	return ret ? 1 : 0;
}
