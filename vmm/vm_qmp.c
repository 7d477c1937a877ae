/* SPDX-License-Identifier: MIT */
/*
 * QMP on the real VM: the qmp_vm_ops that qmp.c dispatches to, the events
 * a change of state sends, and the SHUTDOWN/RESET event when the VM stops.
 * Runs on the event-loop thread (QMP commands are served there).
 *
 * SHUTDOWN's "reason" is QEMU's ShutdownCause name (qapi/run-state.json):
 * guest-shutdown (ACPI or debug-exit), guest-reset (without --reboot),
 * guest-panic, host-signal, host-ui (Ctrl-A x), host-qmp-quit,
 * host-qmp-system-reset, host-error (a vmm error or --timeout).
 */
#include <errno.h>
#include <string.h>
#include <sys/stat.h>

#include "base/err.h"
#include "base/log.h"
#include "base/clock.h"
#include "vmm/qmp_server.h"
#include "vmm/snapshot.h"
#include "vmm/vm.h"

static int qmp_stop(void *opaque, char *err, size_t errlen)
{
	struct vm *vm = opaque;
	bool was_paused = vm_paused(vm);

	if (vm_pause(vm) < 0)
		return err_set(err, errlen, -ESHUTDOWN, "the VM is shutting down");
	if (!was_paused)
		qmp_server_event(vm->qmp, "STOP", NULL);
	return 0;
}

static int qmp_cont(void *opaque, char *err, size_t errlen)
{
	struct vm *vm = opaque;
	bool was_paused = vm_paused(vm);

	if (vm_resume(vm) < 0)
		return err_set(err, errlen, -ESHUTDOWN, "the VM is shutting down");
	if (was_paused)
		qmp_server_event(vm->qmp, "RESUME", NULL);
	return 0;
}

static bool qmp_paused(void *opaque)
{
	return vm_paused(opaque);
}

static int qmp_powerdown(void *opaque, char *err, size_t errlen)
{
	struct vm *vm = opaque;

	ged_press_power_button(&vm->ged);
	qmp_server_event(vm->qmp, "POWERDOWN", NULL);
	return 0;
}

/* As if the guest had reset: with --reboot a new VM starts (clients stay
 * connected), without it vmm exits with status 3. */
static int qmp_reset(void *opaque, char *err, size_t errlen)
{
	struct vm *vm = opaque;

	if (vm_request_stop(vm, VM_STOP_RESET, VM_EXIT_RESET))
		vm->qmp_reset = true;
	return 0;
}

static int qmp_quit(void *opaque, char *err, size_t errlen)
{
	vm_request_stop(opaque, VM_STOP_QMP_QUIT, VM_EXIT_POWEROFF);
	return 0;
}

static unsigned int qmp_cpus(void *opaque, struct qmp_cpu *cpus, unsigned int max)
{
	struct vm *vm = opaque;
	unsigned int i;

	/* tid is written under the pause lock when the thread starts */
	pthread_mutex_lock(&vm->pause.lock);
	for (i = 0; i < vm->ncpus && i < max; i++)
		cpus[i] = (struct qmp_cpu){ .index = i, .thread_id = vm->vcpus[i].tid };
	pthread_mutex_unlock(&vm->pause.lock);
	return vm->ncpus;
}

/* migrate "file:PATH": pause (STOP/RESUME events only if the guest was
 * running... QEMU sends none for a migration, nor do we), save, resume. */
static int qmp_migrate(void *opaque, const char *uri, char *err, size_t errlen)
{
	struct vm *vm = opaque;
	bool was_paused = vm_paused(vm);
	uint64_t t0 = clock_monotonic_ns();
	struct stat st;
	int ret;

	if (strncmp(uri, "file:", 5) || !uri[5])
		return err_set(err, errlen, -EINVAL,
			       "Invalid migration URI '%s': vmm saves to file:PATH", uri);
	if (vm_pause(vm) < 0)
		return err_set(err, errlen, -ESHUTDOWN, "the VM is shutting down");
	ret = vm_snapshot_save(vm, uri + 5, vm->migrate.error_desc, sizeof(vm->migrate.error_desc));
	if (!was_paused && vm_resume(vm) < 0)
		log_warn("migrate: the VM is shutting down; not resumed");
	vm->migrate.total_time_ms = (clock_monotonic_ns() - t0) / 1000000;
	vm->migrate.status = ret ? "failed" : "completed";
	vm->migrate.bytes = ret || stat(uri + 5, &st) ? 0 : (uint64_t)st.st_size;
	if (ret)
		return err_set(err, errlen, ret, "%s", vm->migrate.error_desc);
	log_info("migrate: saved to %s in %llu ms", uri + 5,
		 (unsigned long long)vm->migrate.total_time_ms);
	return 0;
}

static void qmp_migrate_info(void *opaque, struct qmp_migrate_info *info)
{
	*info = ((struct vm *)opaque)->migrate;
}

static const struct qmp_vm_ops vm_qmp_ops = {
	.migrate = qmp_migrate,
	.migrate_info = qmp_migrate_info,
	.stop = qmp_stop,
	.cont = qmp_cont,
	.paused = qmp_paused,
	.powerdown = qmp_powerdown,
	.reset = qmp_reset,
	.quit = qmp_quit,
	.cpus = qmp_cpus,
};

int vm_qmp_attach(struct vm *vm, struct qmp_server *srv)
{
	char err[256];
	int ret;

	ret = qmp_server_attach(srv, &vm->loop, &vm_qmp_ops, vm, err, sizeof(err));
	if (ret) {
		log_err("%s", err);
		return ret;
	}
	vm->qmp = srv;
	return 0;
}

void vm_qmp_detach(struct vm *vm)
{
	if (vm->qmp)
		qmp_server_detach(vm->qmp);
	vm->qmp = NULL;
}

static const char *shutdown_reason(struct vm *vm, bool *guest)
{
	*guest = true;
	switch (vm->stop_reason) {
	case VM_STOP_POWEROFF:
	case VM_STOP_DEBUG_EXIT:
		return "guest-shutdown";
	case VM_STOP_RESET:
		if (!vm->qmp_reset)
			return "guest-reset";
		*guest = false;
		return "host-qmp-system-reset";
	case VM_STOP_PANIC:
		return "guest-panic";
	case VM_STOP_SIGNAL:
		*guest = false;
		return "host-signal";
	case VM_STOP_USER_QUIT:
		*guest = false;
		return "host-ui";
	case VM_STOP_QMP_QUIT:
		*guest = false;
		return "host-qmp-quit";
	case VM_STOP_NONE:
	case VM_STOP_TIMEOUT:
	case VM_STOP_ERROR:
		break;
	}
	*guest = false;
	return "host-error";
}

/* vm_run(), once every vCPU is joined: a reset that --reboot turns into a
 * new VM is QEMU's RESET event; anything else ends vmm: SHUTDOWN, sent
 * before the process exits. */
void vm_qmp_stopped(struct vm *vm)
{
	const char *reason;
	bool guest;

	if (!vm->qmp)
		return;
	reason = shutdown_reason(vm, &guest);
	qmp_server_event(vm->qmp,
			 vm->cfg->reboot && vm->stop_reason == VM_STOP_RESET ? "RESET" : "SHUTDOWN",
			 json_pack("{s:b,s:s}", "guest", guest, "reason", reason));
	qmp_server_flush(vm->qmp, 200);
}
