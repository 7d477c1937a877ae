/* SPDX-License-Identifier: MIT */
/*
 * vmm: boot a Linux kernel in a KVM virtual machine.
 *
 * main() parses the command line, prepares the process (standard fds,
 * signals), and runs VMs: one, or a new one after each guest reset when
 * --reboot is given. Everything about the machine itself is in vm.c.
 */
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "vmm/cli.h"
#include "vmm/qmp_server.h"
#include "vmm/sandbox.h"
#include "vmm/snapshot.h"
#include "base/clock.h"
#include "base/log.h"
#include "arch/x86/pvm.h"
#include "vmm/jail.h"
#include "vmm/vcpu.h"
#include "vmm/vcpu_dump.h"
#include "vmm/vm.h"

/* If fd 0, 1 or 2 is closed, the next open() would take its place and we
 * would write the console into /dev/kvm or similar: fill them first. */
static void ensure_std_fds(void)
{
	int fd;

	for (fd = 0; fd < 3; fd++)
		if (fcntl(fd, F_GETFD) < 0 && errno == EBADF)
			if (open("/dev/null", fd == 0 ? O_RDONLY : O_WRONLY) < 0)
				_exit(VM_EXIT_ERROR);
}

/* --incoming: the snapshot, opened in main() (before a jail, whose root
 * must hold the files the snapshot's configuration names), restored by
 * run_vms(). */
static struct snapshot_in incoming = { .fd = -1 };

/* --incoming file:PATH: open the snapshot and take the machine's
 * configuration from it, the host-side options from the command line. */
static int open_incoming(struct vmm_config *cfg, struct snapshot_in *in)
{
	/* `given` takes over what was parsed (a --disk's strings); *cfg is
	 * then the snapshot's own configuration */
	struct vmm_config given = *cfg;
	char err[512] = "";
	int ret;

	memset(cfg, 0, sizeof(*cfg));
	ret = snapshot_open(given.incoming, in, err, sizeof(err));
	ret = ret ?: snapshot_config(&given, in, cfg, err, sizeof(err));
	cli_free(&given); /* what snapshot_config did not take */
	if (ret)
		fprintf(stderr, "vmm: error: --incoming: %s\n", err);
	return ret;
}

/* One VM, or a new one after each guest reset with --reboot; the status.
 * go_fd: see jail_supervise() (-1: none). */
static int run_vms(struct vmm_config *cfg, int go_fd)
{
	struct qmp_server qmp;
	uint64_t deadline = 0;
	char err[512];
	int keep[3];
	int status = VM_EXIT_ERROR;

	if (cfg->timeout_sec > 0)
		deadline = clock_monotonic_ns() + (uint64_t)(cfg->timeout_sec * 1e9);
	/* --api-sock: one server for the whole process, so its clients stay
	 * connected when --reboot starts a new VM */
	qmp_server_init(&qmp);
	if (cfg->api_sock && qmp_server_open(&qmp, cfg->api_sock, err, sizeof(err)) < 0) {
		fprintf(stderr, "vmm: error: %s\n", err);
		cli_free(cfg);
		return VM_EXIT_ERROR;
	}
	/* Before the first thread, inside the jail if there is one (Landlock
	 * forbids the jail's mounts): Landlock, rlimits, no_new_privs, stray
	 * fds closed but for the jail's go pipe and the QMP socket. */
	keep[0] = go_fd;
	keep[1] = qmp.listen_fd;
	keep[2] = incoming.fd;
	if (sandbox_prepare(cfg, keep, 3, err, sizeof(err)) < 0) {
		fprintf(stderr, "vmm: error: %s\n", err);
		qmp_server_close(&qmp);
		cli_free(cfg);
		return VM_EXIT_ERROR;
	}
	for (;;) {
		struct vm vm;

		/* a restored VM that resets with --reboot boots afresh */
		if ((cfg->incoming && incoming.fd >= 0
			     ? vm_create_incoming(&vm, cfg, deadline, &incoming)
			     : vm_create(&vm, cfg, deadline)) < 0 ||
		    (cfg->api_sock && vm_qmp_attach(&vm, &qmp) < 0) ||
		    (go_fd >= 0 && jail_wait_go(go_fd) < 0)) {
			vm_destroy(&vm);
			status = VM_EXIT_ERROR;
			break;
		}
		if (cfg->paused && vm_pause(&vm) < 0)
			log_warn("--paused: the VM is already stopping");
		cfg->paused = false; /* not again after a --reboot */
		go_fd = -1;	     /* the guest runs in the cgroup from now on */
		snapshot_close(&incoming);
		status = vm_run(&vm); /* the terminal is raw only inside vm_run() */
		if (!(cfg->reboot && vm.stop_reason == VM_STOP_RESET)) {
			vm_destroy(&vm);
			break;
		}
		vm_destroy(&vm);
		log_info("guest reset: restarting the VM (--reboot)");
	}
	qmp_server_close(&qmp);
	cli_free(cfg);
	return status;
}

int main(int argc, char **argv)
{
	struct snapshot_in in = { .fd = -1 };
	struct vmm_config cfg;
	char err[512];
	int status;

	ensure_std_fds();
	switch (cli_parse(argc, argv, &cfg, err, sizeof(err))) {
	case CLI_EXIT_OK:
		cli_free(&cfg);
		return 0;
	case CLI_ERROR:
		fprintf(stderr, "vmm: error: %s\n", err);
		cli_free(&cfg);
		return VM_EXIT_USAGE;
	case CLI_RUN:
		break;
	}
	log_set_level(cfg.verbosity < 0	   ? LOG_ERROR
		      : cfg.verbosity == 0 ? LOG_WARN
		      : cfg.verbosity == 1 ? LOG_INFO
					   : LOG_DEBUG);
	if (cfg.incoming && open_incoming(&cfg, &incoming) < 0) {
		cli_free(&cfg);
		snapshot_close(&incoming);
		return VM_EXIT_ERROR;
	}
	vcpu_block_process_signals();
	if (!jail_wanted(&cfg))
		return run_vms(&cfg, -1);
	/* the jail shows no /sys: decide about PVM while it can be seen */
	if (cfg.pvm == CLI_PVM_AUTO)
		cfg.pvm = pvm_detect() ? CLI_PVM_ON : CLI_PVM_OFF;
	status = jail_supervise(&cfg, run_vms);
	cli_free(&cfg);
	snapshot_close(&in);
	return status;
}
