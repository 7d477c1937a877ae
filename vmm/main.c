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
#include "vmm/snapshot.h"
#include "base/clock.h"
#include "base/log.h"
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

int main(int argc, char **argv)
{
	struct snapshot_in in = { .fd = -1 };
	struct vmm_config cfg;
	char err[512];
	uint64_t deadline = 0;
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
	if (cfg.incoming && open_incoming(&cfg, &in) < 0) {
		cli_free(&cfg);
		snapshot_close(&in);
		return VM_EXIT_ERROR;
	}
	vcpu_block_process_signals();
	if (cfg.timeout_sec > 0)
		deadline = clock_monotonic_ns() + (uint64_t)(cfg.timeout_sec * 1e9);

	for (;;) {
		struct vm vm;

		if ((cfg.incoming ? vm_create_incoming(&vm, &cfg, deadline, &in)
				  : vm_create(&vm, &cfg, deadline)) < 0) {
			vm_destroy(&vm);
			cli_free(&cfg);
			snapshot_close(&in);
			return VM_EXIT_ERROR;
		}
		status = vm_run(&vm); /* the terminal is raw only inside vm_run() */
		if (!(cfg.reboot && vm.stop_reason == VM_STOP_RESET)) {
			vm_destroy(&vm);
			break;
		}
		vm_destroy(&vm);
		log_info("guest reset: restarting the VM (--reboot)");
	}
	cli_free(&cfg);
	snapshot_close(&in);
	return status;
}
