/* SPDX-License-Identifier: MIT */
/* x86 VM setup (arch/x86/vm.c): irqchip and PIT on a fresh VM, and one line
 * in the error buffer naming the step that failed. */
#include <errno.h>
#include <fcntl.h>
#include <linux/kvm.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include <sys/ioctl.h>
#include <unistd.h>

#include <cmocka.h>

#include "arch/x86/vm.h"

static void test_bad_fd_names_the_step(void **state)
{
	char err[128] = "";

	(void)state;
	assert_int_equal(x86_vm_setup(-1, -1, err, sizeof(err)), -EBADF);
	assert_non_null(strstr(err, "KVM_CREATE_IRQCHIP failed: "));
}

static void test_short_error_buffer(void **state)
{
	char err[8];

	(void)state;
	memset(err, 'x', sizeof(err));
	assert_int_equal(x86_vm_setup(-1, -1, err, sizeof(err)), -EBADF);
	assert_int_equal(err[sizeof(err) - 1], '\0'); /* truncated, terminated */
}

static void test_fresh_vm(void **state)
{
	char err[128] = "";
	int kvm_fd, vm_fd;

	(void)state;
	kvm_fd = open("/dev/kvm", O_RDWR | O_CLOEXEC);
	if (kvm_fd < 0)
		skip();
	vm_fd = ioctl(kvm_fd, KVM_CREATE_VM, 0);
	assert_true(vm_fd >= 0);
	assert_int_equal(x86_vm_setup(kvm_fd, vm_fd, err, sizeof(err)), 0);
	assert_string_equal(err, "");
	/* a second irqchip is refused: the error says which call failed */
	assert_int_equal(x86_vm_setup(kvm_fd, vm_fd, err, sizeof(err)), -EEXIST);
	assert_non_null(strstr(err, "KVM_CREATE_IRQCHIP failed: "));
	close(vm_fd);
	close(kvm_fd);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_bad_fd_names_the_step),
		cmocka_unit_test(test_short_error_buffer),
		cmocka_unit_test(test_fresh_vm),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
