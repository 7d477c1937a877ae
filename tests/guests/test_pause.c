/* SPDX-License-Identifier: MIT */
/*
 * vm_pause()/vm_resume() (vmm/vm_pause.c) on a real VM running the count
 * guest (count.c), whose count the test reads from guest RAM: paused, the
 * count stands still; resumed, it goes on. Also a pause taken before the
 * vCPU threads start (the guest must not run at all), with 2 vCPUs (the AP
 * never woken, so on PVM it spins on EAGAIN), and pauses racing a guest that
 * ends the VM. Skipped without /dev/kvm. argv[1]: count.elf.
 */
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <cmocka.h>

#include "base/clock.h"
#include "base/log.h"
#include "vmm/vcpu.h"
#include "vmm/vcpu_dump.h"
#include "vmm/vm.h"

#define COUNT_ADDR 0x200000ULL /* count.c */

static const char *guest_path;

struct run {
	struct vmm_config cfg;
	struct vm vm;
	pthread_t thread;
	int status;
};

static void *run_thread(void *arg)
{
	struct run *r = arg;

	r->status = vm_run(&r->vm);
	return NULL;
}

static uint64_t count_now(struct run *r)
{
	volatile uint64_t *p = gm_slice(&r->vm.mem, COUNT_ADDR, sizeof(uint64_t));

	assert_non_null(p);
	return __atomic_load_n(p, __ATOMIC_RELAXED);
}

static void sleep_ms(unsigned int ms)
{
	struct timespec ts = { .tv_sec = ms / 1000, .tv_nsec = (long)(ms % 1000) * 1000000L };

	nanosleep(&ts, NULL);
}

/* Wait up to 20 s (the guest is interpreted on PVM) for the count to pass
 * `above`. */
static uint64_t count_wait_above(struct run *r, uint64_t above)
{
	uint64_t deadline = clock_monotonic_ns() + 20 * CLOCK_NS_PER_SEC, c;

	while ((c = count_now(r)) <= above) {
		if (clock_monotonic_ns() > deadline)
			fail_msg("the count stayed at %llu", (unsigned long long)c);
		sleep_ms(5);
	}
	return c;
}

static void run_create(struct run *r, unsigned int cpus, const char *cmdline)
{
	memset(r, 0, sizeof(*r));
	r->cfg.kernel = guest_path;
	r->cfg.cmdline = cmdline;
	r->cfg.mem_size = 32ULL << 20;
	r->cfg.cpus = cpus;
	r->cfg.pvm = CLI_PVM_AUTO;
	assert_int_equal(vm_create(&r->vm, &r->cfg, 0), 0);
}

static void run_start(struct run *r)
{
	assert_int_equal(pthread_create(&r->thread, NULL, run_thread, r), 0);
}

static void run_finish(struct run *r, int want_status)
{
	vm_request_stop(&r->vm, VM_STOP_USER_QUIT, 0);
	pthread_join(r->thread, NULL);
	assert_int_equal(r->status, want_status);
	vm_destroy(&r->vm);
}

/* Paused for 300 ms the count does not move; resumed, it does. */
static void check_freeze_thaw(struct run *r)
{
	uint64_t c1, c2;

	assert_int_equal(vm_pause(&r->vm), 0);
	assert_true(vm_paused(&r->vm));
	c1 = count_now(r);
	sleep_ms(300);
	c2 = count_now(r);
	assert_int_equal(c1, c2);
	assert_int_equal(vm_resume(&r->vm), 0);
	assert_false(vm_paused(&r->vm));
	count_wait_above(r, c2);
}

static void test_pause_resume(void **state)
{
	struct run r;
	int i;

	(void)state;
	run_create(&r, 1, "");
	run_start(&r);
	count_wait_above(&r, 0);
	for (i = 0; i < 3; i++)
		check_freeze_thaw(&r);
	/* a second pause is no error, and one resume undoes both */
	assert_int_equal(vm_pause(&r.vm), 0);
	assert_int_equal(vm_pause(&r.vm), 0);
	assert_int_equal(vm_resume(&r.vm), 0);
	count_wait_above(&r, count_now(&r));
	run_finish(&r, 0);
}

/* Paused before vm_run() starts a thread: the guest never counts. */
static void test_pause_before_start(void **state)
{
	struct run r;

	(void)state;
	run_create(&r, 2, "");
	assert_int_equal(vm_pause(&r.vm), 0);
	run_start(&r);
	sleep_ms(300);
	assert_int_equal(count_now(&r), 0);
	assert_int_equal(vm_resume(&r.vm), 0);
	count_wait_above(&r, 0);
	check_freeze_thaw(&r);
	run_finish(&r, 0);
}

/* The guest ends the VM (debug-exit 0 after n counts) while pauses come and
 * go: every pause returns (0 or -ESHUTDOWN) and vm_run() ends. */
static void test_pause_racing_stop(void **state)
{
	struct run r;
	int ret, rounds = 0;

	(void)state;
	run_create(&r, 2, "n=3000");
	run_start(&r);
	while (!vm_stopping(&r.vm)) {
		ret = vm_pause(&r.vm);
		assert_true(ret == 0 || ret == -ESHUTDOWN);
		ret = vm_resume(&r.vm);
		assert_true(ret == 0 || ret == -ESHUTDOWN);
		rounds++;
	}
	pthread_join(r.thread, NULL);
	assert_int_equal(r.status, 0);
	assert_int_equal(r.vm.stop_reason, VM_STOP_DEBUG_EXIT);
	assert_int_equal(vm_pause(&r.vm), -ESHUTDOWN);
	print_message("%d pause/resume rounds before the guest ended\n", rounds);
	vm_destroy(&r.vm);
}

int main(int argc, char **argv)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_pause_resume),
		cmocka_unit_test(test_pause_before_start),
		cmocka_unit_test(test_pause_racing_stop),
	};
	int fd;

	if (argc < 2) {
		fprintf(stderr, "usage: %s count.elf\n", argv[0]);
		return 2;
	}
	guest_path = argv[1];
	fd = open("/dev/kvm", O_RDWR | O_CLOEXEC);
	if (fd < 0) {
		printf("SKIP: cannot open /dev/kvm: %s\n", strerror(errno));
		return 77;
	}
	close(fd);
	log_set_level(LOG_WARN);
	/* as main.c does before any thread starts */
	vcpu_block_process_signals();
	return cmocka_run_group_tests(tests, NULL, NULL);
}
