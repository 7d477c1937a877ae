/* SPDX-License-Identifier: MIT */
/*
 * Pause and resume (vm.h): the machine control that QMP's stop/cont and a
 * snapshot need. A paused VM keeps its devices and event loop; only the
 * vCPU threads stand still, parked in the checkpoint vcpu.c calls after a
 * kicked KVM_RUN, so KVM has completed any I/O the last exit left pending
 * (api.rst: re-entering with immediate_exit completes it) and the vCPU
 * state read now is the state the guest goes on from.
 *
 * Who counts: each vCPU thread registers itself under pause.lock before
 * its first KVM_RUN (VCPU_CP_START) and leaves at VCPU_CP_EXIT, so a pause
 * taken while vm_run() is still starting threads cannot miss one: a thread
 * registered before the request is kicked, one registered after it sees the
 * request and parks without running.
 */
#include <errno.h>
#include <time.h>
#include <unistd.h>

#include "vmm/vcpu_dump.h"
#include "vmm/vm.h"

#define PARK_POLL_NS 20000000L /* 20 ms */

void vm_pause_init(struct vm *vm)
{
	pthread_mutex_init(&vm->pause.lock, NULL);
	pthread_cond_init(&vm->pause.cond, NULL);
}

void vm_pause_destroy(struct vm *vm)
{
	pthread_cond_destroy(&vm->pause.cond);
	pthread_mutex_destroy(&vm->pause.lock);
}

static bool pause_requested(struct vm *vm)
{
	return __atomic_load_n(&vm->pause.requested, __ATOMIC_ACQUIRE);
}

/* Runs on the vCPU thread (vcpu_env.checkpoint). */
void vm_pause_checkpoint(void *opaque, struct vcpu *vcpu, enum vcpu_checkpoint where)
{
	struct vm *vm = opaque;
	struct vm_pause *p = &vm->pause;

	/* The common case, a kick for something else (a dump, an AP's
	 * EAGAIN on PVM), costs one load. A request made after this load
	 * also set immediate_exit, so the next KVM_RUN comes straight back
	 * here. */
	if (where == VCPU_CP_KICKED && !pause_requested(vm))
		return;
	pthread_mutex_lock(&p->lock);
	switch (where) {
	case VCPU_CP_START:
		vcpu->tid = (int)gettid();
		vcpu->self = pthread_self();
		vcpu->running = true;
		p->nrunning++;
		break;
	case VCPU_CP_EXIT:
		vcpu->running = false;
		p->nrunning--;
		pthread_cond_broadcast(&p->cond);
		pthread_mutex_unlock(&p->lock);
		return;
	case VCPU_CP_KICKED:
		break;
	}
	if (p->requested && !vm_stopping(vm)) {
		p->nparked++;
		pthread_cond_broadcast(&p->cond);
		while (p->requested && !vm_stopping(vm)) {
			struct timespec ts;

			/* wake now and then: a parked vCPU still answers the
			 * state dump (SIGUSR2, --timeout), which only its own
			 * thread may take (vcpu_dump.h) */
			clock_gettime(CLOCK_REALTIME, &ts);
			ts.tv_nsec += PARK_POLL_NS;
			if (ts.tv_nsec >= 1000000000L) {
				ts.tv_sec++;
				ts.tv_nsec -= 1000000000L;
			}
			pthread_cond_timedwait(&p->cond, &p->lock, &ts);
			vcpu_dump_answer(vcpu);
		}
		p->nparked--;
	}
	pthread_mutex_unlock(&p->lock);
}

int vm_pause(struct vm *vm)
{
	struct vm_pause *p = &vm->pause;
	unsigned int i;

	pthread_mutex_lock(&p->lock);
	if (vm_stopping(vm)) {
		pthread_mutex_unlock(&p->lock);
		return -ESHUTDOWN;
	}
	__atomic_store_n(&p->requested, true, __ATOMIC_SEQ_CST);
	for (i = 0; i < vm->ncpus && vm->vcpus; i++)
		if (vm->vcpus[i].running)
			vcpu_kick_thread(&vm->vcpus[i], vm->vcpus[i].self);
	/* A thread that stops the VM meanwhile leaves (VCPU_CP_EXIT) rather
	 * than parks: either way the count settles. */
	while (p->nparked < p->nrunning)
		pthread_cond_wait(&p->cond, &p->lock);
	pthread_mutex_unlock(&p->lock);
	return 0;
}

int vm_resume(struct vm *vm)
{
	struct vm_pause *p = &vm->pause;

	pthread_mutex_lock(&p->lock);
	if (vm_stopping(vm)) {
		pthread_mutex_unlock(&p->lock);
		return -ESHUTDOWN;
	}
	__atomic_store_n(&p->requested, false, __ATOMIC_SEQ_CST);
	pthread_cond_broadcast(&p->cond);
	pthread_mutex_unlock(&p->lock);
	return 0;
}

bool vm_paused(struct vm *vm)
{
	return pause_requested(vm);
}

/* vm_run(), after vm_stopping() became true: parked threads see it and
 * leave. */
void vm_pause_release(struct vm *vm)
{
	pthread_mutex_lock(&vm->pause.lock);
	pthread_cond_broadcast(&vm->pause.cond);
	pthread_mutex_unlock(&vm->pause.lock);
}
